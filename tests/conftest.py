"""Session-wide fixtures: one torch thread per test process, the workplace's real data folder, the
demo scene and the shipped demo checkpoint built once (per xdist worker), and the splits on them
that several modules use. Shared scenes are read-only, so a test that writes into one fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from ssan.data.scene import Scene
from ssan.data.splits import Split, make_split
from ssan.hardware import THREADS_ENV
from ssan.models.checkpoints import load_checkpoint
from ssan.models.fitted import FittedModel
from tests.helpers import ASSET, ROOT, demo_scene, read_only

SHARED_REAL = ROOT.parent / "shared" / "data" / "real"
SMALL_DEMO = (60, 60)  # the smallest demo shape (every class keeps pixels), for map and tile tests


@pytest.fixture(scope="session")
def shared_real() -> Path:
    """../shared/data/real relative to the repo root; tests using it skip where its files are missing."""
    if not SHARED_REAL.is_dir():
        pytest.skip(
            "needs real Pavia files that the repository does not hold (PaviaU_gt.mat, Pavia_gt.mat, "
            "TRpavia_fixed.mat and TSpavia_fixed.mat from github.com/mhaut/HSI-datasets, Classification/; "
            "UPavia_Subset.mat from github.com/jorgebaccauis/Coded-Aperture-Design-for-Compressive-"
            f"Spectral-Subspace-Clustering, DataBases/): put them in {SHARED_REAL} to run these tests"
        )
    return SHARED_REAL


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One intra-op thread per test process: reproducible numerics on any machine, and with one
    xdist worker per core the processes do not fight over the cores. Through $SSAN_TORCH_THREADS too,
    which the CLI and the app read (and the CLI's child processes inherit)."""
    threads, env = torch.get_num_threads(), os.environ.get(THREADS_ENV)
    torch.set_num_threads(1)
    os.environ[THREADS_ENV] = "1"
    yield
    torch.set_num_threads(threads)
    if env is None:
        os.environ.pop(THREADS_ENV, None)
    else:
        os.environ[THREADS_ENV] = env


@pytest.fixture(scope="session")
def demo() -> Scene:
    """The demo scene, seed 0, 150x150 (what `load_scene("demo")` gives), read-only."""
    return demo_scene()


@pytest.fixture(scope="session")
def small_demo() -> Scene:
    """The demo scene, seed 0, at its smallest shape (60x60), read-only."""
    return demo_scene(shape=SMALL_DEMO)


@pytest.fixture(scope="session")
def paper_split(demo) -> Split:
    """The app's default split of the demo scene (`paper`, seed 0): the shipped model's split."""
    return read_only(make_split(demo, "paper", seed=0))


@pytest.fixture(scope="session")
def shipped() -> FittedModel:
    """The demo checkpoint in assets/demo-ssan, loaded once; tests only read it."""
    return load_checkpoint(ASSET)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """xdist groups (`--dist loadgroup` runs a group on one worker, one test after another): the Ray
    tests share one two-node cluster on 127.0.0.1, the browser tests one Streamlit server, and tests
    that use the same module-scoped fixtures (a trained model, a comparison) get them built once
    instead of once per worker; every other test goes to whichever worker is free. In a worker the
    longest work is queued first (slow tests, then the browser and Ray groups), so that no worker is
    left with a long test at the end while the other idles."""
    for item in items:
        if item.get_closest_marker("ray"):
            item.add_marker(pytest.mark.xdist_group("ray"))
        elif item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif shared := _module_fixtures(item):
            item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}:{'+'.join(shared)}"))
    if hasattr(config, "workerinput"):
        items.sort(key=_queue_position)


def _module_fixtures(item: pytest.Item) -> list[str]:
    """The module- and class-scoped fixtures `item` uses, directly or through other fixtures."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    return sorted(
        name
        for name, defs in info.name2fixturedefs.items()
        if defs[-1].scope in ("module", "class")
    )


def _queue_position(item: pytest.Item) -> int:
    if item.get_closest_marker("slow"):
        return 0
    return 1 if item.get_closest_marker("e2e") or item.get_closest_marker("ray") else 2
