"""A v7.3 .mat file may only hold its own bytes (issue 22, item 1): HDF5 external storage, virtual
datasets and external links would let an upload read the server's files, so every HDF5 read refuses
them with one line before any data is read."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ssan.data.catalog import load_scene
from ssan.data.readers.matfile import read_mat
from ssan.data.scene import SceneError

MATLAB_HEADER = (
    b"MATLAB 7.3 MAT-file, written by the ssan tests".ljust(116) + bytes(8) + b"\x00\x02IM"
)


def finish_v73(path: Path) -> Path:
    with open(path, "r+b") as fh:
        fh.write(MATLAB_HEADER)
    return path


def secret_file(tmp_path: Path, n: int) -> Path:
    """A 'server file' whose bytes must never come back as pixels."""
    path = tmp_path / "server-secret.bin"
    path.write_bytes(np.arange(n, dtype=np.uint8).tobytes())
    return path


def with_gt(f: h5py.File, shape_matlab: tuple[int, int]) -> None:
    gt = np.tile(np.arange(3, dtype=np.float64), shape_matlab[0] * shape_matlab[1])[
        : shape_matlab[0] * shape_matlab[1]
    ].reshape(shape_matlab[::-1])
    f.create_dataset("gt", data=gt).attrs["MATLAB_class"] = np.bytes_("double")


def test_external_storage_is_refused(tmp_path):
    n = 4 * 5 * 3
    secret = secret_file(tmp_path, n)
    path = tmp_path / "upload.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("cube", shape=(3, 5, 4), dtype="u1", external=[(str(secret), 0, n)]).attrs[
            "MATLAB_class"
        ] = np.bytes_("uint8")
        with_gt(f, (4, 5))
    finish_v73(path)
    assert path.stat().st_size < 4096
    with pytest.raises(SceneError, match=r"'cube' keeps its data in another file") as err:
        load_scene(path)
    assert "\n" not in str(err.value) and "server-secret" not in str(err.value)


def test_a_virtual_dataset_is_refused(tmp_path):
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as f:
        f.create_dataset("data", data=np.ones((3, 5, 4)))
    path = tmp_path / "upload.mat"
    layout = h5py.VirtualLayout(shape=(3, 5, 4), dtype="f8")
    layout[...] = h5py.VirtualSource(str(source), "data", shape=(3, 5, 4))
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_virtual_dataset("cube", layout).attrs["MATLAB_class"] = np.bytes_("double")
    finish_v73(path)
    with pytest.raises(SceneError, match=r"'cube' is a virtual dataset"):
        read_mat(path)


@pytest.mark.parametrize("where", ["/cube", "/meta/inner"])
def test_external_links_are_refused_wherever_they_are(tmp_path, where):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("data", data=np.ones((3, 5, 4)))
    path = tmp_path / "upload.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_group("meta")
        f[where] = h5py.ExternalLink(str(other), "/data")
        f["alias"] = h5py.SoftLink(where)  # a soft link to it is refused with it
    finish_v73(path)
    with pytest.raises(SceneError, match=r"links to another file") as err:
        read_mat(path)
    assert "\n" not in str(err.value)


def test_a_soft_link_inside_the_file_is_still_read(tmp_path):
    path = tmp_path / "ok.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("x", data=np.arange(6.0).reshape(2, 3)).attrs["MATLAB_class"] = np.bytes_(
            "double"
        )
        f["y"] = h5py.SoftLink("/x")
    finish_v73(path)
    variables = read_mat(path)
    np.testing.assert_array_equal(variables["y"], variables["x"])
