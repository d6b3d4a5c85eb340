"""File identity by content: the one sha256 helper every reader, download, upload and checkpoint uses."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, remembered while the file keeps its inode, size and change times
    (a file replaced or rewritten in place gets a new change time, so it is hashed again)."""
    resolved = Path(path).resolve()
    st = os.stat(resolved)
    return _sha256_cached(str(resolved), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def files_sha256(paths: Iterable[str | Path]) -> str:
    """One sha256 for several files read as one thing (an ENVI header and its data file), in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(bytes.fromhex(file_sha256(path)))
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, inode: int, size: int, mtime_ns: int, ctime_ns: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
