"""Fuzzed files through every reader (issue 22): ENVI, GeoTIFF, PNG masks and .mat v5 / v7.3 built from odd
or damaged parts either load or are refused with one line (a SceneError), never another exception; and a
file declaring far more than it holds stays under a stated memory bound, measured in a child process.

The examples are derandomised and few (about 30 s in all): this is a regression net, run every time."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ssan.data.catalog import load_scene
from ssan.data.readers import read_labels
from ssan.data.scene import Scene, SceneError

ROOT = Path(__file__).resolve().parents[1]
H, W, B = 6, 5, 4
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A child that reads the hostile files below may take this much memory at most (resident, peak): the
# libraries alone take about 0.1 GB, and every file declares 1 GB or more.
CHILD_MEMORY_BOUND = 400 * 2**20


def labels() -> np.ndarray:
    gt = (np.arange(W)[None, :] % 3 + 1).repeat(H, axis=0).astype(np.uint8)
    gt[0, 0] = 0
    return gt


def mask_png(folder: Path) -> Path:
    Image.fromarray(labels()).save(folder / "mask.png")
    return folder / "mask.png"


def loads_or_one_line(load) -> None:
    """The property every reader keeps."""
    try:
        result = load()
    except SceneError as err:
        message = str(err)
        assert message and "\n" not in message, message
        return
    assert isinstance(result, (Scene, tuple))


def damaged(data: bytes, edits: list[tuple[int, int]], cut: float | None) -> bytes:
    """`data` with bytes overwritten (positions as fractions of its length) and cut at a fraction of it."""
    out = bytearray(data)
    for where, value in edits:
        out[min(int(where * len(out)), len(out) - 1)] = value
    return bytes(out if cut is None else out[: max(1, int(cut * len(out)))])


def byte_edits() -> st.SearchStrategy:
    return st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4)


CUTS = st.one_of(st.none(), st.floats(0, 1))


def usually(valid: str, odd: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the valid value, sometimes an odd one: so most headers get past the first check."""
    return st.one_of(st.just(valid), st.just(valid), st.just(valid), odd)


def _valid_bytes(kind: str) -> bytes:
    rng = np.random.default_rng(0)
    cube = rng.random((H, W, B)).astype(np.float32)
    buf = io.BytesIO()
    if kind == "tif":
        items = "".join(
            f'<Item name="wavelength" sample="{i}">{500 + 100 * i}</Item>' for i in range(B)
        )
        tifffile.imwrite(
            buf,
            np.moveaxis(cube, -1, 0),
            photometric="minisblack",
            compression="zlib",
            extratags=[(42112, "s", 0, f"<GDALMetadata>{items}</GDALMetadata>", True)],
        )
    elif kind == "png":
        Image.fromarray(labels()).save(buf, format="png")
    elif kind == "mat5":
        scipy.io.savemat(buf, {"cube": cube, "gt": labels(), "wavelength": [500, 600, 700, 800]})
    elif kind == "mat73":
        with h5py.File(buf, "w", userblock_size=512) as f:
            f.create_dataset("cube", data=cube.T).attrs["MATLAB_class"] = np.bytes_("single")
            f.create_dataset("gt", data=labels().T).attrs["MATLAB_class"] = np.bytes_("uint8")
        data = bytearray(buf.getvalue())
        data[:128] = b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM"
        return bytes(data)
    return buf.getvalue()


VALID = {kind: _valid_bytes(kind) for kind in ("tif", "png", "mat5", "mat73")}


@FUZZ
@given(kind=st.sampled_from(["tif", "mat5", "mat73"]), edits=byte_edits(), cut=CUTS)
def test_damaged_cube_files_load_or_are_refused_in_one_line(tmp_path, kind, edits, cut):
    suffix = {"tif": ".tif", "mat5": ".mat", "mat73": ".mat"}[kind]
    path = tmp_path / f"cube{suffix}"
    path.write_bytes(damaged(VALID[kind], edits, cut))
    gt = None if kind != "tif" else mask_png(tmp_path)
    loads_or_one_line(lambda: load_scene(path, gt))


@FUZZ
@given(kind=st.sampled_from(["png", "tif"]), edits=byte_edits(), cut=CUTS)
def test_damaged_label_masks_load_or_are_refused_in_one_line(tmp_path, kind, edits, cut):
    source = VALID["png"] if kind == "png" else _mask_tif()
    path = tmp_path / f"mask.{kind}"
    path.write_bytes(damaged(source, edits, cut))
    loads_or_one_line(lambda: read_labels(path, (H, W)))


def _mask_tif() -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, labels())
    return buf.getvalue()


NUMBERISH = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(["", "x", "1e9", "nan", "-0", "4.5", "99999999999"]),
)


@FUZZ
@given(
    samples=usually(str(W), NUMBERISH),
    lines=usually(str(H), NUMBERISH),
    bands=usually(str(B), NUMBERISH),
    data_type=st.sampled_from(
        ["1", "2", "3", "4", "5", "6", "9", "12", "13", "14", "15", "99", "x"]
    ),
    interleave=st.sampled_from(["bsq", "bil", "bip", "BIP", "xyz", ""]),
    byte_order=usually("0", st.sampled_from(["1", "2", "x"])),
    offset=usually("0", st.sampled_from(["3", "-4", "1e9", "x"])),
    wavelengths=st.one_of(
        st.none(),
        st.lists(
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["a", ""])),
            max_size=6,
        ),
    ),
    names=st.one_of(st.none(), st.lists(st.text(max_size=4), max_size=5)),
    data_size=st.one_of(st.just(H * W * B * 8), st.integers(0, 2000)),
)
def test_odd_envi_headers_load_or_are_refused_in_one_line(
    tmp_path,
    samples,
    lines,
    bands,
    data_type,
    interleave,
    byte_order,
    offset,
    wavelengths,
    names,
    data_size,
):
    header = [
        "ENVI",
        f"samples = {samples}",
        f"lines = {lines}",
        f"bands = {bands}",
        f"header offset = {offset}",
        f"data type = {data_type}",
        f"interleave = {interleave}",
        f"byte order = {byte_order}",
    ]
    if wavelengths is not None:
        header.append("wavelength = {" + ", ".join(map(str, wavelengths)) + "}")
    if names is not None:
        header.append("class names = {" + ", ".join(names) + "}")
    (tmp_path / "cube.hdr").write_text("\n".join(header) + "\n")
    (tmp_path / "cube.img").write_bytes(np.random.default_rng(data_size).bytes(data_size))
    loads_or_one_line(lambda: load_scene(tmp_path / "cube.hdr", mask_png(tmp_path)))
    loads_or_one_line(lambda: read_labels(tmp_path / "cube.hdr", (H, W)))


HOSTILE = """
import sys, zlib
from pathlib import Path
import h5py, numpy as np, tifffile
from PIL import Image
from ssan.data.catalog import load_scene
from ssan.data.scene import SceneError

folder = Path(sys.argv[1])
with h5py.File(folder / "big.mat", "w") as f:  # 20000 x 20000 x 200 doubles, no chunk written
    f.create_dataset("cube", shape=(200, 20000, 20000), dtype="f8", chunks=(1, 1000, 1000),
                     compression="gzip")
block = zlib.compress(bytes(8 * 1000 * 1000), 9)
tifffile.imwrite(folder / "big.tif", (block for _ in range(268)), shape=(268, 1000, 1000), dtype="f8",
                 compression="zlib", photometric="minisblack", rowsperstrip=1000)
(folder / "big.hdr").write_text("ENVI\\nsamples = 100000\\nlines = 100000\\nbands = 200\\n"
                                "header offset = 0\\ndata type = 4\\ninterleave = bsq\\n")
with open(folder / "big.img", "wb") as fh:  # the size the header asks for, sparse on disk
    fh.truncate(100000 * 100000 * 200 * 4)
Image.fromarray(np.zeros((6, 5), np.uint8)).save(folder / "mask.png")
packer = zlib.compressobj(9)
rows = b"".join(packer.compress(bytes(12001)) for _ in range(12000)) + packer.flush()
import struct
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
(folder / "bomb.png").write_bytes(b"\\x89PNG\\r\\n\\x1a\\n"
    + chunk(b"IHDR", struct.pack(">IIBBBBB", 12000, 12000, 8, 0, 0, 0, 0))
    + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
Image.fromarray(np.zeros((6, 5, 4), np.uint8)[..., 0]).save(folder / "small.png")
tifffile.imwrite(folder / "cube.tif", np.zeros((4, 6, 5), np.float32), photometric="minisblack",
                 planarconfig="separate")
refused = []
for cube, gt in (("big.mat", None), ("big.tif", "mask.png"), ("big.hdr", "mask.png"),
                 ("cube.tif", "bomb.png")):
    try:
        load_scene(folder / cube, None if gt is None else folder / gt)
    except SceneError as err:
        refused.append(str(err).count("\\n") == 0)
# VmHWM: this process's own peak. (ru_maxrss would also count the parent's pages at the fork.)
status = Path("/proc/self/status").read_text()
peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024
print(peak, sum(refused), len(refused))
"""


@pytest.mark.skipif(
    not Path("/proc/self/status").is_file(), reason="reads the peak from Linux's /proc"
)
def test_hostile_declared_sizes_stay_under_the_memory_bound(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HOSTILE), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    peak, refused, tried = (int(v) for v in done.stdout.split())
    assert refused == tried == 4, done.stdout
    assert peak < CHILD_MEMORY_BOUND, (
        f"peak {peak / 2**20:.0f} MiB"
    )  # 77 MiB here; 2,135 MiB before
