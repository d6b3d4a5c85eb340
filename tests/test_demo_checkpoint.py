"""The demo checkpoint shipped in assets/: it loads into the current model code, is what
scripts/make_demo_checkpoint.py builds, and its attention finds a planted band range."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ssan.attention import class_mean_attention, planted_band_ratio
from ssan.checkpoints import load_checkpoint
from ssan.demo import make_demo_scene
from ssan.evaluate import evaluate
from ssan.splits import make_split

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "assets" / "demo-ssan"


def _script():
    spec = importlib.util.spec_from_file_location("make_demo_checkpoint", ROOT / "scripts" / "make_demo_checkpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(ASSET)


@pytest.fixture(scope="module")
def scene(script):
    return make_demo_scene(seed=script.SCENE_SEED)


@pytest.fixture(scope="module")
def split(script, scene):
    return make_split(scene, script.SPLIT, seed=script.SPLIT_SEED)


def test_asset_is_small_and_loads_into_the_current_code(script, shipped, scene):
    size = sum(p.stat().st_size for p in ASSET.iterdir())
    assert size < 500_000, f"the demo checkpoint grew to {size:,} bytes"
    assert shipped.model_name == script.MODEL and shipped.has_spectral_attention and shipped.has_spatial_attention
    assert shipped.scene.name == scene.name and shipped.scene.shape == scene.shape
    assert shipped.scene.class_names == scene.class_names
    expected = {k: (list(v) if isinstance(v, tuple) else v) for k, v in script.OVERRIDES.items()}
    recorded = shipped.preset.to_dict()
    assert {k: recorded[k] for k in expected} == expected, "the asset was built with other settings than the script's"
    assert shipped.preset.name == script.PRESET and shipped.seed == script.SEED


def test_stored_metrics_match_an_evaluation_now(shipped, scene, split):
    assert shipped.split["train"] == split.train.tolist(), \
        "the demo scene or the split changed since the asset was built: run scripts/make_demo_checkpoint.py"
    metrics = evaluate(shipped, scene, split)
    assert metrics.oa == pytest.approx(shipped.metrics["oa"], abs=1e-4)
    assert metrics.kappa == pytest.approx(shipped.metrics["kappa"], abs=1e-4)
    assert metrics.oa > 0.9


def test_attention_concentrates_on_planted_bands(shipped, scene, split):
    att = class_mean_attention(shipped, shipped.sampler(scene), split.test, split.targets(split.test),
                               max_per_class=200)
    ratios = [planted_band_ratio(att[[a - 1, b - 1]], scene.planted.bands_for_class(a, scene.n_bands))
              for a, b, _, _ in scene.planted.spectral_pairs]
    assert max(ratios) > 1.5, f"attention on planted bands / elsewhere, per pair: {ratios}"


def test_the_script_rebuilds_the_shipped_model(script, shipped, scene, split):
    rebuilt, _, rebuilt_split = script.build_demo_checkpoint()
    assert rebuilt.metrics["oa"] == pytest.approx(shipped.metrics["oa"], abs=0.005)
    assert rebuilt.best_iteration == shipped.best_iteration
    pixels = split.test[:: max(1, split.test.size // 3000)]
    agree = np.mean(rebuilt.predict(rebuilt.sampler(scene), pixels) == shipped.predict(shipped.sampler(scene), pixels))
    assert agree > 0.99
