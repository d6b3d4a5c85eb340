"""What several test modules build the same way: small scenes, one tiny preset, the demo scene and
checkpoint paths, a network whose explanation is known. Test modules import from here, never from
each other; the session-wide instances live in conftest.py."""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import scipy.io
import torch
from streamlit.testing.v1 import AppTest

from ssan.data.demo import make_demo_scene
from ssan.data.preprocess import fit_preprocessing
from ssan.data.scene import PlantedTruth, Scene, rosis_wavelengths
from ssan.data.splits import Split, SplitRecord, make_split
from ssan.models import build_network, get_preset
from ssan.models.fitted import FittedModel, SceneIdentity
from ssan.models.presets import apply_overrides

T = TypeVar("T", Scene, Split)

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "assets" / "demo-ssan"  # the demo checkpoint the app ships
BUILD_RECORD = ROOT / "assets" / "demo-ssan.build.json"  # the CPU and kernels it was built with

# The one tiny network of the suite, as preset overrides: trains in a blink and still learns the toy
# scenes. Tests that need another length or patch say so with `{**TINY, "iterations": 30}`; never
# mutate it (it is shared by every module).
TINY = {
    "rnn_hidden": 8,
    "attention_size": 8,
    "fc_hidden": 32,
    "fusion_dim": 16,
    "fusion_hidden": 32,
    "conv_channels": (4, 8),
    "patch_size": 9,
    "iterations": 4,
    "eval_every": 2,
    "batch_size": 32,
}
# The background-job tests' run: TINY on 7-px patches, 12 iterations, to go with `tiny_job_split`.
TINY_JOB = {**TINY, "patch_size": 7, "iterations": 12, "eval_every": 4, "batch_size": 16}


def set_args(overrides: dict) -> list[str]:
    """`overrides` as the CLI's `--set key=value` options (a tuple as `a,b`)."""
    return [
        arg
        for key, value in overrides.items()
        for arg in (
            "--set",
            f"{key}={','.join(map(str, value)) if isinstance(value, tuple) else value}",
        )
    ]


def read_only(shared: T) -> T:
    """`shared` (a Scene or Split) with every array frozen, so a test that writes into a scene or
    split other tests use fails loudly instead of changing theirs."""
    for field in dataclasses.fields(shared):
        value = getattr(shared, field.name)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return shared


@functools.lru_cache(maxsize=8)
def demo_scene(seed: int = 0, shape: tuple[int, int] = (150, 150)) -> Scene:
    """The demo scene for `seed` and `shape`, built once per process and read-only."""
    return read_only(make_demo_scene(seed=seed, shape=shape))


def toy_scene(shape=(60, 50), n_bands=12, n_classes=4, seed=0, unlabelled_share=0.2) -> Scene:
    """A random scene whose classes occupy vertical stripes, with some unlabelled pixels."""
    rng = np.random.default_rng(seed)
    H, W = shape
    labels = (np.arange(W)[None, :] * n_classes // W + 1).repeat(H, axis=0).astype(np.int32)
    labels[rng.random(shape) < unlabelled_share] = 0
    means = rng.random((n_classes + 1, n_bands))
    cube = (means[labels] + 0.05 * rng.standard_normal((H, W, n_bands))).astype(np.float32)
    names = tuple(f"class {c}" for c in range(1, n_classes + 1))
    return Scene("toy", cube, labels, names, rosis_wavelengths(n_bands), source="toy scene (tests)")


def tiny_job_scene() -> Scene:
    """A 30x28 scene of 8 bands and 3 classes, for training-job tests."""
    return toy_scene(shape=(30, 28), n_bands=8, n_classes=3)


def tiny_job_split(scene: Scene) -> Split:
    """10 + 10 pixels per class, patches of 7 px, to go with `TINY_JOB`."""
    return make_split(scene, "per-class:10", seed=0, patch_size=7)


def saved_copy(runs: Path, name: str, **sidecar) -> Path:
    """A copy of the shipped checkpoint saved as a run under `runs`/demo with some provenance changed (e.g.
    cancelled), as the CLI would save it (so the lecturer's)."""
    folder = runs / "demo" / name
    shutil.copytree(ASSET, folder)
    side = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps(side | sidecar))
    return folder


def tiny_mat(folder: Path) -> Path:
    """A 30×36×8 random cube with three 12-column classes, saved as `folder`/tiny.mat (cube and gt)."""
    cube = folder / "tiny.mat"
    labels = np.repeat(np.arange(1, 4), 12)[None, :].repeat(30, axis=0).astype(np.uint8)
    rng = np.random.default_rng(0)
    scipy.io.savemat(cube, {"cube": rng.random((30, 36, 8)).astype(np.float32), "gt": labels})
    return cube


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll `predicate` until it holds; fail the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for the job"
        time.sleep(0.01)


# A scene and networks whose explanation is known (tests/test_explain.py, tests/test_explain_cli.py).
N_BANDS, EVIDENCE = 12, (4, 7)  # class 2 differs from class 1 only in bands 4-6
EXPLAIN_PRESET = apply_overrides(
    get_preset("quick"),
    {
        "patch_size": 7,
        "rnn_hidden": 4,
        "fc_hidden": 8,
        "fusion_dim": 8,
        "fusion_hidden": 8,
        "conv_channels": (2, 4),
    },
)


def known_scene(shape=(40, 30), seed=0) -> Scene:
    """Two classes in vertical halves; the same noise everywhere except +1 in the evidence bands for class 2."""
    rng = np.random.default_rng(seed)
    labels = (
        np.where(np.arange(shape[1])[None, :] < shape[1] // 2, 1, 2)
        .repeat(shape[0], axis=0)
        .astype(np.int32)
    )
    cube = rng.random((*shape, N_BANDS)).astype(np.float32)
    cube[..., EVIDENCE[0] : EVIDENCE[1]] += (labels == 2)[..., None]
    planted = PlantedTruth(spectral_pairs=((1, 2, *EVIDENCE),), texture_pairs=())
    return Scene(
        "known",
        cube,
        labels,
        ("Class 1", "Class 2"),
        rosis_wavelengths(N_BANDS),
        source="test scene",
        planted=planted,
    )


def fitted_for(
    scene: Scene, network, name: str = "arnn", seed: int = 0, train_share: float = 0.3
) -> FittedModel:
    """`network` wrapped as a model fitted on a seeded 30% of `scene`'s labelled pixels."""
    rng = np.random.default_rng(0)
    labelled = scene.labelled_pixels()
    train = np.sort(rng.choice(labelled, int(train_share * labelled.size), replace=False))
    prep = fit_preprocessing(scene.cube, train, EXPLAIN_PRESET.n_components)
    return FittedModel(
        name,
        EXPLAIN_PRESET,
        prep,
        SceneIdentity.of(scene),
        SplitRecord(
            "fraction:0.3",
            0,
            train,
            np.zeros(0, np.int64),
            sizes={"train": train.size, "val": 0, "test": labelled.size - train.size},
        ),
        seed,
        network=network,
    )


def random_ssan(scene: Scene, seed: int = 0) -> FittedModel:
    """An untrained SSAN (weights drawn with `seed`) on the known scene's bands."""
    torch.manual_seed(seed)
    return fitted_for(scene, build_network("ssan", N_BANDS, 2, EXPLAIN_PRESET).eval(), "ssan", seed)


# The app through AppTest (tests/test_app.py, tests/test_explain_app.py, tests/test_inside_page.py).
ENTRY = "app.py"  # `streamlit run app.py`: the navigation; Scene is its first page
SCENE, TRAIN, SPECTRAL, SPATIAL, COMPARE, EXPLAIN, INSIDE = (
    "pages/0_Scene.py",
    "pages/1_Train.py",
    "pages/2_Spectral_attention.py",
    "pages/3_Spatial_attention.py",
    "pages/4_Compare.py",
    "pages/5_Does_attention_explain.py",
    "pages/6_Inside_SSAN.py",
)
TIMEOUT = 180


def app(page: str = SCENE) -> AppTest:
    """The app, run once on the landing page and then switched to `page`."""
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=TIMEOUT).run()
    if page != SCENE:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def long_training(validations: int) -> tuple[AppTest, object]:
    """The Train page with a job started that would run for long (100,000 iterations, validating every 2),
    returned with the job once it has done `validations` validations."""
    at = app(TRAIN)
    at.session_state["adv_iterations"] = 100_000
    at.session_state["adv_eval_every"] = 2
    at.run()
    at.button(key="start_training").click().run()
    _, job = at.session_state["train_job"]
    deadline = time.monotonic() + TIMEOUT
    while sum(h["val_accuracy"] is not None for h in job.snapshot().history) < validations:
        assert time.monotonic() < deadline, "the job did not validate in time"
        time.sleep(0.05)
    return at.run(), job


def open_file_scene(at: AppTest, cube: Path) -> AppTest:
    """The Scene page `at` with the scene file `cube` loaded by its path."""
    at.radio(key="w_scene_choice").set_value("file").run()
    at.text_input(key="w_scene_path").set_value(str(cube)).run()
    return at.button(key="load_path").click().run()


def finished_training(at: AppTest, model: str) -> tuple[AppTest, object]:
    """The Train page `at` after training `model` with the page's settings to the end, and the job."""
    at.session_state["train_model"] = model
    at.run()
    at.button(key="start_training").click().run()
    _, job = at.session_state["train_job"]
    assert job.join(timeout=TIMEOUT)
    return at.run(), job


def texts(at: AppTest) -> str:
    return "\n".join(
        e.value
        for kind in (
            "markdown",
            "caption",
            "subheader",
            "title",
            "info",
            "warning",
            "error",
            "success",
        )
        for e in getattr(at, kind)
    )


def chart(at: AppTest, key: str) -> dict:
    """The Plotly figure of the chart with `key`, as a dict."""
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if element.proto.id and key in element.proto.id:
            return spec
    raise AssertionError(f"no chart with key {key!r}")


def click(at: AppTest, key: str, row: int, col: int) -> AppTest:
    """Simulate a click on the clickable image `key` (AppTest cannot click Plotly): inject its selection."""
    at.session_state[key] = {
        "selection": {
            "points": [{"curve_number": 1, "x": col, "y": row}],
            "point_indices": [],
            "box": [],
            "lasso": [],
        }
    }
    return at.run()


def has(at: AppTest, key: str) -> bool:
    """Whether the page drew an element or container with `key`."""
    try:
        at.get_by_key(key)
    except KeyError:
        return False
    return True


def shown(at: AppTest, key: str) -> str:
    """The text inside the keyed container `key` (its markdown, captions and alerts), for checking the
    values it shows (a name, a number), never its sentences."""
    return "\n".join(
        str(node.value)
        for node in at.get_by_key(key)
        if node.type in ("markdown", "alert", "caption", "heading") and hasattr(node, "value")
    )


def marked(at: AppTest, key: str) -> tuple[int, int]:
    """The pixel (row, col) the clickable image `key` shows ringed: after a click on it, the point the browser
    selected (the figure is not sent again); otherwise the figure's own selected point (step-1 click grid)."""
    from ui.figures import GRID_TRACE

    clicked = at.session_state[f"_ring_{key}"][3]
    if clicked is not None:
        return tuple(clicked)
    (index,) = chart(at, key)["data"][GRID_TRACE]["selectedpoints"]
    return divmod(index, loaded_scene(at).shape[1])


def split_counts(at: AppTest) -> dict[str, int]:
    """Pixels per role of the split drawn on the Scene page, read from the split map's legend."""
    names = [t["name"] for t in chart(at, "split_map")["data"][1:]]
    return {
        role: int(count.rstrip(")").replace(",", ""))
        for role, count in (n.rsplit(" (", 1) for n in names)
    }


def loaded_scene(at: AppTest) -> Scene:
    """The scene the app has loaded (its `scene_spec`), from the app's own cache."""
    from ui import loaders

    return loaders.scene_for(at.session_state["scene_spec"])
