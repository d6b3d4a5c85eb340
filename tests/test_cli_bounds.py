"""Tracebacks and runaway sizes from the command line become one clear refusal (issue 22, item 4):
a PNG mask bomb, a network over the caps before the time estimate allocates it, and counts, seeds and
resources that no run can use."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ssan import models
from ssan.cli import build_parser
from ssan.data.catalog import load_scene
from ssan.data.scene import SceneError
from ssan.models import build_network, get_preset, tensor_shapes
from ssan.models.presets import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
H, W, B = 12, 10, 6


def png_bomb(path: Path, height: int, width: int) -> Path:
    """A greyscale PNG of height x width zeros, a few hundred KB on disk, built row by row."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    packer = zlib.compressobj(9)
    row = bytes(width + 1)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )
    return path


def cube_file(tmp_path: Path) -> Path:
    cube = np.random.default_rng(0).random((B, H, W)).astype(np.float32)
    tifffile.imwrite(tmp_path / "cube.tif", cube, photometric="minisblack", planarconfig="separate")
    return tmp_path / "cube.tif"


def test_a_png_mask_of_the_wrong_size_is_refused_from_its_header(tmp_path):
    bomb = png_bomb(tmp_path / "mask.png", 12000, 12000)
    assert bomb.stat().st_size < 300_000
    start = time.perf_counter()
    with pytest.raises(
        SceneError, match=r"the label map is 12000x12000 but the cube is 12x10 pixels"
    ):
        load_scene(cube_file(tmp_path), bomb)
    assert time.perf_counter() - start < 2.0  # decoding it takes seconds and 1.1 GB


def test_a_png_decompression_bomb_is_one_line(tmp_path):
    bomb = png_bomb(tmp_path / "mask.png", 20000, 20000)  # past Pillow's own bomb limit
    with pytest.raises(SceneError, match="declares more pixels than any scene") as err:
        load_scene(cube_file(tmp_path), bomb)
    assert "\n" not in str(err.value)


def test_a_tiff_mask_of_the_wrong_size_is_refused_before_decoding(tmp_path):
    tifffile.imwrite(tmp_path / "mask.tif", np.zeros((40, 30), np.uint8))
    with pytest.raises(SceneError, match=r"the label map is 40x30 but the cube is 12x10 pixels"):
        load_scene(cube_file(tmp_path), tmp_path / "mask.tif")


def test_a_network_over_the_caps_is_refused_before_anything_is_allocated():
    huge = apply_overrides(get_preset("quick"), {"conv_channels": (1024, 1024), "patch_size": 101})
    with pytest.raises(ValueError, match="parameters, more than the 200,000,000 allowed"):
        build_network("ssan", 103, 9, huge)
    big_batch = apply_overrides(
        get_preset("paper"), {"batch_size": 8192, "patch_size": 101, "conv_channels": (256, 256)}
    )
    with pytest.raises(ValueError, match=r"one training batch .* GiB of activations"):
        tensor_shapes("ssan", 103, 9, big_batch)
    assert models.MAX_TRAINING_BYTES >= 16 * 2**30
    for name in ("paper", "quick"):
        tensor_shapes("ssan", 103, 9, get_preset(name))


def test_cli_train_refuses_the_huge_network_before_the_time_estimate_allocates():
    """In a child that may not allocate 3 GiB: before the fix the estimate built the network first."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY))

    args = ["--threads", "1", "train", "--scene", "demo", "--model", "ssan", "--out", "unused"]
    args += ["--set", "conv_channels=1024,1024", "--set", "patch_size=101"]
    done = subprocess.run(
        [sys.executable, "-m", "ssan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "more than the 200,000,000 allowed" in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "info", "demo", "--seed", "18446744073709551616"], "up to 4,294,967,295"),
        (["train", "--scene", "demo", "--seed", str(2**32)], "up to 4,294,967,295"),
        (["compare", "--scene", "demo", "--seeds", "0-1000000000"], "more than 1,000 seeds"),
        (
            ["compare", "--scene", "demo", "--seeds", "0,1,99999999999"],
            "seeds go up to 4,294,967,295",
        ),
        (["explain", "--checkpoint", "x", "--pixels", "1000000000"], "at most 2,000"),
        (["explain", "--checkpoint", "x", "--seed", "-3"], "non-negative integer"),
        (["explain", "--checkpoint", "x", "--steps", "10000000"], "at most 1,000"),
        (["bench", "--size", "6000x6000"], "at most 2,000,000"),
        (
            ["predict", "--checkpoint", "x", "--out", "m.png", "--ray-cpus-per-tile", "nan"],
            "got 'nan'",
        ),
        (
            ["predict", "--checkpoint", "x", "--out", "m.png", "--ray-gpus-per-tile", "inf"],
            "got 'inf'",
        ),
        (["compare", "--scene", "demo", "--ray-cpus-per-run", "-1"], "from 0 to 1,024"),
    ],
)
def test_cli_refuses_values_no_run_can_use(capsys, argv, message):
    """Checked by the parser alone, so nothing runs (on the old code these ran out of memory or for ever)."""
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err, err
