"""Hostile or careless checkpoints (issue 9, items 1, 3 and 9): every bad sidecar is one CheckpointError
naming the field, weights are checked against the preset before a network is built, nothing bad is left
behind, and a checkpoint is replaced as a whole."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssan.data.splits import make_split
from ssan.data.uploads import store_checkpoint_upload
from ssan.models.checkpoints import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from ssan.training.trainer import train
from tests.helpers import ROOT, TINY, toy_scene

SETTINGS = {**TINY, "batch_size": 16}


@pytest.fixture(scope="module")
def scene():
    return toy_scene(shape=(30, 24), n_bands=10, n_classes=3)


@pytest.fixture(scope="module")
def fitted(scene):
    return train(
        scene,
        make_split(scene, "per-class:10", 0),
        "ssan",
        "quick",
        device="cpu",
        overrides=SETTINGS,
    )


@pytest.fixture
def checkpoint(fitted, tmp_path) -> Path:
    return save_checkpoint(fitted, tmp_path / "ck")


def edit_sidecar(folder: Path, change) -> None:
    side = json.loads((folder / "model.json").read_text())
    change(side)
    (folder / "model.json").write_text(json.dumps(side))


def one_line(text: str) -> bool:
    return "\n" not in text and "Traceback" not in text


BAD_SIDECARS = {
    "format_version": (
        lambda s: s.update(format_version="1"),
        "format_version: must be an integer, got str",
    ),
    "format_version null": (
        lambda s: s.update(format_version=None),
        "format_version: must be an integer, got NoneType",
    ),
    "split as text": (lambda s: s.update(split="paper"), "split: must be an object, got str"),
    "split.train as text": (
        lambda s: s["split"].update(train="abc"),
        "split.train: must be a list, got str",
    ),
    "split.train item": (
        lambda s: s["split"]["train"].__setitem__(3, "x"),
        "split.train[3]: must be an integer",
    ),
    "seed as text": (lambda s: s.update(seed="abc"), "seed: must be an integer, got str"),
    "negative seed": (lambda s: s.update(seed=-1), "seed: must be at least 0, got -1"),
    "pixel outside": (
        lambda s: s["split"]["train"].__setitem__(0, 10**9),
        "split.train: pixel index 1000000000 lies outside",
    ),
    "metrics.oa": (lambda s: s["metrics"].update(oa="high"), "metrics"),
    "scene.shape": (
        lambda s: s["scene"].update(shape=[3]),
        "scene.shape: must hold at least 2 items, holds 1",
    ),
    "class colours": (
        lambda s: s["scene"]["class_colors"].pop(),
        "scene.class_colors: holds 2 entries for 3 classes",
    ),
    "unknown model": (lambda s: s.update(model="gpt"), "model: must be one of"),
    "preset type": (
        lambda s: s["preset"].update(rnn_hidden="big"),
        "preset: Preset 'quick': rnn_hidden must be a positive integer",
    ),
    "preset bound": (
        lambda s: s["preset"].update(fc_hidden=300000),
        "preset: Preset 'quick': fc_hidden must be at most 16,384",
    ),
    "missing field": (lambda s: s.pop("scene"), "the sidecar: the field 'scene' is missing"),
    "pca rows": (
        lambda s: s["preprocessing"]["pca_components"][0].pop(),
        "preprocessing.pca_components: every row",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SIDECARS))
def test_a_bad_sidecar_is_one_checkpoint_error_naming_the_field(checkpoint, case):
    change, expected = BAD_SIDECARS[case]
    if case == "metrics.oa":
        edit_sidecar(checkpoint, lambda s: s.update(metrics={"oa": 0.5, "aa": 0.5, "kappa": 0.5}))
        expected = "metrics.oa: must be a number, got str"
    edit_sidecar(checkpoint, change)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(checkpoint)
    assert expected in str(info.value) and one_line(str(info.value))


def test_a_bad_upload_leaves_nothing_behind(checkpoint, tmp_path):
    edit_sidecar(checkpoint, lambda s: s.update(format_version="1"))
    files = {
        "model.safetensors": (checkpoint / "model.safetensors").read_bytes(),
        "model.json": (checkpoint / "model.json").read_bytes(),
    }
    root = tmp_path / "runs"
    with pytest.raises(CheckpointError, match="format_version: must be an integer"):
        store_checkpoint_upload(files, root)
    assert list((root / "uploaded").iterdir()) == [] and list_checkpoints(root) == []


def run_in_small_memory(body: str) -> subprocess.CompletedProcess:
    """Run `body` in a child Python whose address space is capped at what it has after the imports plus
    300 MiB, so an allocation the checks should have prevented fails fast instead of swapping the machine.
    Exit status 3 means the expected error was raised (its message on stdout)."""
    script = (
        textwrap.dedent("""
        import resource, sys
        from ssan.models.checkpoints import CheckpointError, load_checkpoint
        from ssan.data.splits import make_split
        from ssan.training.trainer import train
        from tests.helpers import toy_scene
        peak = int(open("/proc/self/status").read().split("VmPeak:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (peak + 300 * 2**20, resource.RLIM_INFINITY))
        try:
    """)
        + textwrap.indent(textwrap.dedent(body), "    ")
        + textwrap.dedent("""
        except ValueError as exc:
            print(exc)
            sys.exit(3)
    """)
    )
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_weights_that_do_not_fit_the_preset_are_refused_before_a_network_is_built(checkpoint):
    """A sidecar describing a 150-million-parameter network beside tiny weights: refused from the
    safetensors header, in a child process whose address space could not hold that network."""
    edit_sidecar(
        checkpoint,
        lambda s: s["preset"].update(fc_hidden=16384, patch_size=27, conv_channels=[32, 192]),
    )
    done = run_in_small_memory(f"load_checkpoint({str(checkpoint)!r})")
    assert done.returncode == 3, done.stderr[-2000:]
    assert "does not hold the tensors its sidecar's model and preset describe" in done.stdout
    assert "'spatial.conv1.bias' is (4,), the preset gives (32,)" in done.stdout


def test_a_network_over_the_parameter_limit_is_refused(checkpoint):
    edit_sidecar(
        checkpoint,
        lambda s: s["preset"].update(fc_hidden=16384, patch_size=101, conv_channels=[32, 1024]),
    )
    done = run_in_small_memory(f"load_checkpoint({str(checkpoint)!r})")
    assert done.returncode == 3, done.stderr[-2000:]
    assert re.search(
        r"preset: Preset 'quick' gives SSAN on 10 bands 11,342,2\d\d,\d\d\d parameters, more than the "
        r"200,000,000 allowed",
        done.stdout,
    ), done.stdout
    assert "more than the 200,000,000 allowed" in done.stdout


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"batch_size": 1_000_000}, "batch_size must be at most 8,192"),
        (
            {"fc_hidden": 16384, "patch_size": 101, "conv_channels": (32, 1024)},
            "more than the 200,000,000 allowed",
        ),
    ],
)
def test_training_refuses_settings_that_would_exhaust_memory(overrides, message):
    done = run_in_small_memory(f"""
        scene = toy_scene(shape=(30, 24), n_bands=10, n_classes=3)
        train(scene, make_split(scene, "per-class:10", 0), "ssan", "quick", device="cpu", overrides={overrides!r})
    """)
    assert done.returncode == 3, done.stderr[-2000:]
    assert message in done.stdout


def test_concurrent_writers_leave_one_whole_checkpoint_and_readers_never_see_a_mix(
    scene, fitted, tmp_path
):
    other = train(
        scene,
        make_split(scene, "per-class:10", 0),
        "ssan",
        "quick",
        seed=1,
        device="cpu",
        overrides=SETTINGS,
    )
    target = tmp_path / "ck"
    save_checkpoint(fitted, target)
    seen, errors = [], []
    stop = threading.Event()

    def write(model) -> None:
        try:
            for _ in range(15):
                save_checkpoint(model, target)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(load_checkpoint(target).seed)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    writers = [threading.Thread(target=write, args=(m,)) for m in (fitted, other)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert errors == [] and seen and set(seen) <= {0, 1}
    assert load_checkpoint(target).seed in (0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no staging folder left
    assert sorted(p.name for p in target.iterdir()) == ["model.json", "model.safetensors"]


def test_a_folder_holding_other_files_is_not_replaced(fitted, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="is not a checkpoint folder"):
        save_checkpoint(fitted, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=st.lists(
        st.sampled_from(
            [
                "scene",
                "split",
                "preset",
                "preprocessing",
                "metrics",
                "history",
                "train",
                "shape",
                "class_names",
                "n_bands",
                "seed",
                "model",
                0,
                1,
                2,
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    value=JSON,
)
def test_fuzzed_sidecars_load_or_give_a_checkpoint_error(checkpoint, path, value):
    """Any value put anywhere in the sidecar: the load succeeds (and the model can be summarised), or it
    raises CheckpointError; never another exception."""
    good = (checkpoint / "model.json").read_text()
    side = json.loads(good)
    node = side
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    if isinstance(node, dict) or (
        isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node)
    ):
        node[path[-1]] = value
    (checkpoint / "model.json").write_text(json.dumps(side))
    try:
        fitted = load_checkpoint(checkpoint)
        fitted.summary()
    except CheckpointError as exc:
        assert one_line(str(exc))
    finally:
        (checkpoint / "model.json").write_text(good)
