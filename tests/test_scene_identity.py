"""A scene's identity is its data (issue 22, item 4): an ENVI scene's sha256 covers the header and the
data file, so a replaced data file or a header switched from bsq to bip is another scene (a stale cached
map keyed by it was served before). One file-hash helper serves readers, downloads, uploads, checkpoints."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import spectral.io.envi as envi
from PIL import Image

from ssan.data.catalog import load_scene
from ssan.data.hashing import file_sha256, files_sha256

H, W, B = 12, 10, 6


def envi_scene(tmp_path):
    cube = np.random.default_rng(0).random((H, W, B)).astype(np.float32)
    envi.save_image(str(tmp_path / "cube.hdr"), cube, interleave="bsq")
    gt = (np.arange(W)[None, :] * 3 // W + 1).repeat(H, axis=0).astype(np.uint8)
    Image.fromarray(gt).save(tmp_path / "mask.png")
    return tmp_path / "cube.hdr", tmp_path / "cube.img", tmp_path / "mask.png"


def test_a_replaced_data_file_changes_the_identity(tmp_path):
    header, data, mask = envi_scene(tmp_path)
    by_header, by_data = load_scene(header, mask).sha256, load_scene(data, mask).sha256
    assert by_header == by_data
    stat = data.stat()
    other = np.random.default_rng(1).random((H, W, B)).astype(np.float32)
    data.write_bytes(np.moveaxis(other, -1, 0).tobytes())  # same size, other pixels
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old modification time
    assert load_scene(header, mask).sha256 != by_header
    assert load_scene(data, mask).sha256 != by_data


def test_a_header_switched_from_bsq_to_bip_changes_the_identity(tmp_path):
    header, data, mask = envi_scene(tmp_path)
    before = load_scene(data, mask)
    header.write_text(header.read_text().replace("interleave = bsq", "interleave = bip"))
    after = load_scene(data, mask)
    assert not np.array_equal(before.cube, after.cube)
    assert after.sha256 != before.sha256


def test_one_hash_helper_matches_hashlib(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"ssan" * 1000)
    assert file_sha256(path) == hashlib.sha256(b"ssan" * 1000).hexdigest()
    assert files_sha256([path]) != file_sha256(path)
