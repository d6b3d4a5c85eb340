"""Uploaded files onto disk: a scene's cube and label files and a checkpoint's two files, checked on the way;
and pruning, so uploads and caches never fill the disk.

Plain functions of names and bytes (no Streamlit), so the tests call them directly as well as
through AppTest's uploader.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ssan.data.hashing import file_sha256
from ssan.data.readers.envi import DATA_SUFFIXES
from ssan.data.scene import SceneError
from ssan.evaluation.runs import UPLOADED

# The checkpoint code imports torch (seconds): loaded by `store_checkpoint_upload` only, so the app can
# prune uploads on its first screen.
if TYPE_CHECKING:
    from ssan.models.fitted import FittedModel

NAME_BYTES = 120  # an uploaded file's name is cut to this many UTF-8 bytes (file systems allow 255)
CUBE_UPLOADS = (
    "a .mat file, a GeoTIFF (.tif), or an ENVI image: its .hdr and its data file together"
)
LABEL_UPLOADS = (
    "a .mat file, a GeoTIFF (.tif), a PNG mask (.png), or an ENVI classification: its .hdr and its "
    "data file together"
)
KEEP_DAYS_ENV, KEEP_MB_ENV = "SSAN_KEEP_DAYS", "SSAN_KEEP_MB"
KEEP_DAYS, KEEP_MB = 7.0, 2048.0  # what pruning keeps by default: a week, 2 GB
FRESH_S = 60.0  # an entry changed this recently may be being written: pruning leaves it alone
_SINGLE = {"cube": (".mat", ".tif", ".tiff"), "labels": (".mat", ".tif", ".tiff", ".png")}


def upload_dir() -> Path:
    """This user's own upload folder under the system temp directory (mode 0700, never a symlink)."""
    return Path(tempfile.gettempdir()) / f"ssan-uploads-{os.getuid()}"


def store_scene_upload(
    files: Sequence[tuple[str, bytes]], role: str = "cube", folder: Path | None = None
) -> Path:
    """Write one uploaded scene file, or an ENVI image's header and data file, under `folder` (default:
    `upload_dir()`) in one sub-folder per content hash; returns the path to read (for ENVI, the data file,
    with its header beside it under the same stem). `role` is "cube" or "labels" (which also takes a PNG mask).
    Each write is atomic, and a file already there is reused only when its hash matches."""
    stored = _stored_names(files, role)
    digests = [hashlib.sha256(data).hexdigest() for _, data in stored]
    group = hashlib.sha256(
        "".join(digests).encode()
    ).hexdigest()  # the contents, in the order stored
    sub = _private_folder(_private_folder(folder or upload_dir()) / group[:16])
    for (name, data), digest in zip(stored, digests):
        _write_once(sub / name, data, digest)
    os.utime(sub)  # uploaded again: pruning counts its age from now
    return sub / stored[-1][0]


def shown_names(message: str) -> str:
    """`message` with the upload folders cut from its paths, so it names the files as the user uploaded them."""
    return re.sub(re.escape(str(upload_dir())) + r"/[0-9a-f]{16}/", "", message)


def _stored_names(files: Sequence[tuple[str, bytes]], role: str) -> list[tuple[str, bytes]]:
    """`files` under the names to store them as (an ENVI pair: the header, renamed to the data file's stem,
    then the data file), after checking that they make one readable upload of `role`."""
    what = CUBE_UPLOADS if role == "cube" else LABEL_UPLOADS
    if not files:
        raise SceneError(f"no file uploaded. Expected {what}.")
    given = [_file_name(name) for name, _ in files]
    listed = ", ".join(given)
    if len(set(given)) != len(given):
        raise SceneError(f"the same file name was uploaded twice ({listed}). Expected {what}.")
    for name, (_, data) in zip(given, files):
        if not data:
            raise SceneError(f"{name}: the uploaded file is empty (0 bytes). Upload it again.")
    headers = [n for n in given if Path(n).suffix.lower() == ".hdr"]
    if not headers:
        if len(given) > 1:
            raise SceneError(
                f"{len(given)} files uploaded ({listed}), but only an ENVI image comes in two files "
                f"(its .hdr and its data file). Expected {what}."
            )
        suffix = Path(given[0]).suffix.lower()
        if suffix in _SINGLE[role]:
            return [(given[0], files[0][1])]
        if suffix in DATA_SUFFIXES:
            raise SceneError(
                f"{given[0]}: an ENVI data file without its header. Upload it together with its .hdr "
                f"file (select both in the file dialog)."
            )
        raise SceneError(
            f"{given[0]}: a '{_short(suffix, 20) or 'no'}' extension cannot be read. Expected {what}."
        )
    header = headers[0]
    data_files = [n for n in given if n != header]
    if len(headers) > 1 or len(data_files) > 1:
        raise SceneError(
            f"{listed}: one ENVI image is one .hdr and one data file; upload one image at a time."
        )
    if not data_files:
        raise SceneError(
            f"{header}: an ENVI header without its data file. Upload both together: select {header} "
            f"and its binary data file ({Path(header).stem} with .img, .dat, .raw, .bsq, .bil, .bip, "
            ".bin or no extension) in the file dialog."
        )
    data = data_files[0]
    if Path(data).suffix.lower() in _SINGLE["labels"]:
        raise SceneError(
            f"{header} and {data}: a {Path(data).suffix} file is not an ENVI data file. Upload an ENVI "
            f"header with its binary data file, or the {Path(data).suffix} file alone."
        )
    content = dict(zip(given, (c for _, c in files)))
    # ssan.data.readers.envi looks for the header beside the data file: DATA.hdr, or DATA.EXT.hdr for an odd extension
    header_name = (Path(data).stem if Path(data).suffix.lower() in DATA_SUFFIXES else data) + ".hdr"
    return [(header_name, content[header]), (data, content[data])]


def _file_name(name: str) -> str:
    """An uploaded file's name made safe to store: no folders, the stem cut to NAME_BYTES, the extension in
    lower case; a hidden or empty name is refused."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    if not stem or stem.startswith("."):
        raise SceneError(
            f"{_short(name, NAME_BYTES)!r}: not a usable file name (empty, or hidden). Rename the file "
            "and upload it again."
        )
    return _short(stem, NAME_BYTES) + _short(suffix, 20)


def _write_once(target: Path, data: bytes, digest: str) -> None:
    """Write `data` to `target` atomically unless a regular file with the same hash is already there."""
    if target.is_symlink() or not target.is_file() or file_sha256(target) != digest:
        fd, tmp = tempfile.mkstemp(prefix=".part-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)  # replaces a symlink itself, never what it points to
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _private_folder(folder: Path) -> Path:
    """`folder`, created 0700 if missing; refused when it is a symlink, not a folder, or another user's."""
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SceneError(
            f"{folder}: the upload folder is a symlink, not a folder, or belongs to another user; "
            "it was not used. Remove it (or set TMPDIR to another folder) and upload again."
        )
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


def _short(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes without splitting a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def store_checkpoint_upload(files: dict[str, bytes], root: Path) -> tuple[Path, FittedModel]:
    """Save an uploaded checkpoint ({file name: bytes}: one .safetensors and one .json) under
    `root`/uploaded/ and load it; an unusable pair is removed again and raises CheckpointError."""
    from ssan.models.checkpoints import SIDECAR, WEIGHTS, CheckpointError, load_checkpoint

    weights = [n for n in files if n.lower().endswith(".safetensors")]
    sidecars = [n for n in files if n.lower().endswith(".json")]
    if len(weights) != 1 or len(sidecars) != 1 or len(files) != 2:
        raise CheckpointError(
            f"a checkpoint upload needs exactly two files, one .safetensors (the weights) and one .json (the "
            f"sidecar); got {sorted(files) or 'none'}. Both are in the checkpoint folder ({WEIGHTS}, {SIDECAR})."
        )
    digest = hashlib.sha256(files[weights[0]] + files[sidecars[0]]).hexdigest()[:12]
    uploaded = root / UPLOADED
    folder = uploaded / f"{_short(Path(weights[0]).stem, 100)}-{digest}"
    uploaded.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=".upload-", dir=uploaded)
    )  # hidden: checkpoint lists skip it
    try:
        (staging / WEIGHTS).write_bytes(files[weights[0]])
        (staging / SIDECAR).write_bytes(files[sidecars[0]])
        fitted = load_checkpoint(staging)  # anything wrong raises here, before the folder is listed
        os.chmod(staging, 0o755)
        try:
            os.rename(staging, folder)
        except OSError:  # the same upload is already there (same content hash)
            if not folder.is_dir():
                raise
            os.utime(folder)  # uploaded again: pruning counts its age from now
        return folder, fitted
    except Exception as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(
            f"the uploaded checkpoint could not be used ({type(exc).__name__}: {exc})."
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def keep_limits(env: Mapping[str, str] = os.environ) -> tuple[float, float]:
    """(days, MB) that pruning keeps: $SSAN_KEEP_DAYS (default 7) and $SSAN_KEEP_MB (default 2048);
    ValueError naming the variable when one is not a number ≥ 0."""
    limits = []
    for name, default, unit in ((KEEP_DAYS_ENV, KEEP_DAYS, "days"), (KEEP_MB_ENV, KEEP_MB, "MB")):
        text = env.get(name, "").strip()
        try:
            value = float(text) if text else default
        except ValueError:
            value = -1.0
        if not 0 <= value < float("inf"):
            raise ValueError(
                f"{name}={text!r} is not a number of {unit} ≥ 0; set it to one, or unset it for "
                f"{default:g} {unit}."
            )
        limits.append(value)
    return limits[0], limits[1]


def prune(
    folders: Sequence[Path],
    keep_days: float,
    keep_mb: float,
    in_use: Collection[Path] = (),
    now: float | None = None,
) -> list[Path]:
    """Delete the entries (files and sub-folders) of `folders` older than `keep_days`, then the oldest
    until all of them together take at most `keep_mb` MB; an entry holding a path of `in_use`, or changed
    in the last FRESH_S seconds, is kept; a folder that is a symlink or another user's is left alone.
    Returns what was deleted."""
    now = time.time() if now is None else now
    used = [Path(p).absolute() for p in in_use]
    entries = []
    for folder in folders:
        try:
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue  # a planted link or another user's folder: never pruned through
            children = list(Path(folder).iterdir())
        except OSError:
            continue  # not there yet, or unreadable: nothing of ours to prune
        for entry in children:
            try:
                entries.append((entry.lstat().st_mtime, _size(entry), entry))
            except OSError:
                continue  # removed meanwhile
    entries.sort(key=lambda e: e[0])  # oldest first
    total = sum(size for _, size, _ in entries)
    deleted = []
    for mtime, size, entry in entries:
        too_old = now - mtime > keep_days * 86400
        if not (too_old or total > keep_mb * 1e6) or now - mtime < FRESH_S:
            continue
        if any(p == entry.absolute() or entry.absolute() in p.parents for p in used):
            continue
        _remove(entry)
        total -= size
        deleted.append(entry)
    return deleted


def discard_upload(path: Path, in_use: Collection[Path] = ()) -> bool:
    """Delete the upload folder that holds `path` (a refused upload), unless a path of `in_use` lies in
    it; only folders directly under `upload_dir()` are touched. Returns whether it was deleted."""
    folder = Path(path).absolute().parent
    if folder.parent != upload_dir().absolute() or not folder.is_dir():
        return False
    if any(folder == Path(p).absolute() or folder in Path(p).absolute().parents for p in in_use):
        return False
    _remove(folder)
    return True


def _size(entry: Path) -> int:
    """Bytes taken by a file, or by the files under a folder (links not followed)."""
    if not entry.is_dir() or entry.is_symlink():
        return entry.lstat().st_size
    total = 0
    for root, _, files in os.walk(entry):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _remove(entry: Path) -> None:
    """Delete a file, a link (never what it points to) or a folder tree; gone already is fine."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)
