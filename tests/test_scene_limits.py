"""Decompression bombs and memory (issue 9, item 2): a small .mat file declaring a huge cube is refused
from its headers, before any data is read, in a child process that could not hold the data; running out
of memory while loading is one clear line; and a fuzzed .mat file only ever gives a SceneError."""

from __future__ import annotations

import io
import os
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssan.data.readers.geotiff import read_tiff
from ssan.data.readers.matfile import load_mat_scene, max_scene_bytes, read_mat
from ssan.data.scene import SceneError

ROOT = Path(__file__).resolve().parents[1]
CHILD_ADDRESS_SPACE = (
    2 * 2**30
)  # torch and the CLI fit in about 1.1 GiB; none of the bombs below does


def v73_file(path: Path, shape_matlab: tuple[int, ...]) -> Path:
    """A v7.3 file whose one double variable declares `shape_matlab` but holds no written chunk (a few KB)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset(
            "cube", shape=shape_matlab[::-1], dtype="f8", chunks=(1, 1000, 1000), compression="gzip"
        ).attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(
            b"MATLAB 7.3 MAT-file, written by the ssan tests".ljust(116) + bytes(8) + b"\x00\x02IM"
        )
    return path


def v5_bomb(path: Path, shape: tuple[int, int, int], chunk: int = 16_000_000) -> Path:
    """A real compressed v5 file: one double array of zeros of `shape` (GBs once unpacked, MBs on disk).

    Built from one compressed chunk of zeros repeated (each chunk ends in a full flush, so its
    compressed form does not depend on what came before), with the Adler-32 computed in closed form."""
    n_bytes = 8 * int(np.prod(shape))
    assert n_bytes % chunk == 0
    name = b"cube\x00\x00\x00\x00"
    head = (
        struct.pack("<II", 6, 8)
        + struct.pack("<II", 6, 0)  # array flags: mxDOUBLE_CLASS
        + struct.pack("<II", 5, 12)
        + struct.pack("<3i", *shape)
        + bytes(4)  # dimensions
        + struct.pack("<II", 1, 4)
        + name  # name
        + struct.pack("<II", 9, n_bytes)
    )  # real part: miDOUBLE
    element = struct.pack("<II", 14, len(head) + n_bytes) + head
    c = zlib.compressobj(9)
    stream = [c.compress(element), c.flush(zlib.Z_FULL_FLUSH)]
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    stream += [block] * (n_bytes // chunk)
    tail = c.flush()[:-4]
    a0 = zlib.adler32(element)
    a, b = a0 & 0xFFFF, (a0 >> 16) + n_bytes * (a0 & 0xFFFF)
    compressed = b"".join(stream) + tail + struct.pack(">I", ((b % 65521) << 16) | a)
    header = (
        b"MATLAB 5.0 MAT-file, written by the ssan tests".ljust(116)
        + bytes(8)
        + struct.pack("<H", 0x0100)
        + b"IM"
    )
    path.write_bytes(header + struct.pack("<II", 15, len(compressed)) + compressed)
    return path


def run_cli_in_small_memory(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, resource.RLIM_INFINITY))

    return subprocess.run(
        [sys.executable, "-m", "ssan", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(done: subprocess.CompletedProcess, *expected: str) -> None:
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and done.stderr.startswith("ssan: error: ")
    assert done.stderr.count("\n") == 1, done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr


def test_a_v73_bomb_is_refused_from_its_header(tmp_path):
    bomb = v73_file(tmp_path / "bomb.mat", (20000, 20000, 200))
    assert bomb.stat().st_size < 50_000
    done = run_cli_in_small_memory("data", "info", str(bomb))
    assert_one_line_error(
        done,
        "'cube' of 20000x20000x200 values at 8 byte(s) each",
        "takes about 968.6 GiB",
        "limit of 3.0 GiB",
        "SSAN_MAX_SCENE_BYTES",
    )


def test_a_compressed_v5_bomb_is_refused_before_it_is_unpacked(tmp_path):
    bomb = v5_bomb(tmp_path / "bomb.mat", (2000, 2000, 100))  # 3.2 GB of doubles in about 3 MB
    assert bomb.stat().st_size < 10_000_000
    assert scipy.io.whosmat(bomb) == [("cube", (2000, 2000, 100), "double")]
    done = run_cli_in_small_memory("data", "info", str(bomb), env={"SSAN_MAX_SCENE_BYTES": "1GiB"})
    assert_one_line_error(done, "takes about 4.8 GiB", "limit of 1.0 GiB")


def test_running_out_of_memory_while_loading_is_one_clear_line(tmp_path):
    """Under the limit as declared, but more than this process may allocate: a SceneError, not a traceback."""
    big = v73_file(tmp_path / "big.mat", (8000, 8000, 10))  # 5 GB of doubles
    done = run_cli_in_small_memory("data", "info", str(big), env={"SSAN_MAX_SCENE_BYTES": "64GiB"})
    assert_one_line_error(done, "not enough memory to load this file", "SSAN_MAX_SCENE_BYTES")


def test_the_limit_is_a_setting(tmp_path, monkeypatch):
    path = tmp_path / "small.mat"
    scipy.io.savemat(path, {"cube": np.zeros((10, 10, 5)), "gt": np.ones((10, 10))})
    assert max_scene_bytes() == 3 * 2**30
    monkeypatch.setenv("SSAN_MAX_SCENE_BYTES", "1KB")
    assert max_scene_bytes() == 1000
    with pytest.raises(SceneError, match=r"takes about 7.1 KiB .* limit of 1000 B"):
        read_mat(path)
    assert set(read_mat(path, max_bytes=10_000)) == {"cube", "gt"}
    monkeypatch.setenv("SSAN_MAX_SCENE_BYTES", "lots")
    with pytest.raises(SceneError, match="SSAN_MAX_SCENE_BYTES='lots' is not a size"):
        read_mat(path)


def _valid_mat() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    scipy.io.savemat(
        buf,
        {"cube": rng.random((6, 5, 4)), "gt": rng.integers(0, 3, (6, 5)).astype(np.uint8)},
        do_compression=True,
    )
    return buf.getvalue()


VALID = _valid_mat()


@settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6),
    cut=st.integers(1, len(VALID)),
)
def test_fuzzed_mat_files_load_or_give_a_scene_error(tmp_path, edits, cut):
    """Bytes of a valid compressed v5 file changed and the file cut anywhere: a scene or a SceneError."""
    data = bytearray(VALID)
    for where, value in edits:
        data[where] = value
    path = tmp_path / "fuzz.mat"
    path.write_bytes(bytes(data[:cut]))
    try:
        load_mat_scene(path)
    except SceneError as exc:
        assert "\n" not in str(exc)


def test_a_small_file_declaring_float64_is_bounded_by_its_real_peak(tmp_path):
    """Issue 22: a 4 KB v7.3 file and a 2.3 MB zlib TIFF declaring 1000x1000x268 float64 passed a check that
    counted float32 (1.0 GiB) and then peaked at 3.8 GB: the data as stored, a float32 copy and a mask."""
    mat = v73_file(tmp_path / "f64.mat", (1000, 1000, 268))
    assert mat.stat().st_size < 8_000
    with pytest.raises(SceneError, match=r"takes about 3.2 GiB .* limit of 3.0 GiB"):
        read_mat(mat)
    block = zlib.compress(bytes(8 * 1000 * 1000), 9)
    tif = tmp_path / "f64.tif"
    tifffile.imwrite(
        tif,
        (block for _ in range(268)),  # one compressed page of zeros, written 268 times
        shape=(268, 1000, 1000),
        dtype="f8",
        compression="zlib",
        photometric="minisblack",
        rowsperstrip=1000,
    )
    assert tif.stat().st_size < 3_000_000
    with pytest.raises(SceneError, match=r"takes about 3.2 GiB .* limit of 3.0 GiB"):
        read_tiff(tif)


def test_a_tiff_of_20000_pages_is_refused_from_its_page_count(tmp_path):
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tif:
        for _ in range(20_000):
            tif.write(np.zeros((2, 2), np.uint8), contiguous=False)
    start = time.perf_counter()
    with pytest.raises(SceneError, match=r"has 20,000 pages; a cube has at most 1,024"):
        read_tiff(path)
    assert time.perf_counter() - start < 5  # finding the series took over a minute
