"""Uploaded files onto disk: a scene's .mat files and a checkpoint's two files, checked on the way.

Plain functions of names and bytes (no Streamlit), so the tests call them directly: AppTest
cannot upload files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from ssan.checkpoints import SIDECAR, WEIGHTS, CheckpointError, load_checkpoint
from ssan.fitted import FittedModel
from ssan.matfile import file_sha256
from ssan.scene import SceneError

NAME_BYTES = 120   # an uploaded file's name is cut to this many UTF-8 bytes (file systems allow 255)


def upload_dir() -> Path:
    """This user's own upload folder under the system temp directory (mode 0700, never a symlink)."""
    return Path(tempfile.gettempdir()) / f"ssan-uploads-{os.getuid()}"


def store_scene_upload(name: str, data: bytes, folder: Path | None = None) -> Path:
    """Write an uploaded .mat file under `folder` (default: `upload_dir()`), one sub-folder per content
    hash; the write is atomic, and a file already there is reused only when its hash matches."""
    if Path(name).suffix.lower() != ".mat":
        raise SceneError(f"{_short(name, NAME_BYTES)}: expected a MATLAB .mat file (a cube, or a ground-truth map); "
                         f"got a '{_short(Path(name).suffix, 20) or 'no'}' extension. "
                         "Save it with scipy.io.savemat or MATLAB's save.")
    if not data:
        raise SceneError(f"{_short(name, NAME_BYTES)}: the uploaded file is empty (0 bytes). Upload it again.")
    digest = hashlib.sha256(data).hexdigest()
    sub = _private_folder(_private_folder(folder or upload_dir()) / digest[:16])
    target = sub / (_short(Path(name).stem, NAME_BYTES) + ".mat")
    if target.is_symlink() or not target.is_file() or file_sha256(target) != digest:
        fd, tmp = tempfile.mkstemp(prefix=".part-", dir=sub)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)  # replaces a symlink itself, never what it points to
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


def _private_folder(folder: Path) -> Path:
    """`folder`, created 0700 if missing; refused when it is a symlink, not a folder, or another user's."""
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SceneError(f"{folder}: the upload folder is a symlink, not a folder, or belongs to another user; "
                         "it was not used. Remove it (or set TMPDIR to another folder) and upload again.")
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


def _short(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes without splitting a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def store_checkpoint_upload(files: dict[str, bytes], root: Path) -> tuple[Path, FittedModel]:
    """Save an uploaded checkpoint ({file name: bytes}: one .safetensors and one .json) under
    `root`/uploaded/ and load it; an unusable pair is removed again and raises CheckpointError."""
    weights = [n for n in files if n.lower().endswith(".safetensors")]
    sidecars = [n for n in files if n.lower().endswith(".json")]
    if len(weights) != 1 or len(sidecars) != 1 or len(files) != 2:
        raise CheckpointError(
            f"a checkpoint upload needs exactly two files, one .safetensors (the weights) and one .json (the "
            f"sidecar); got {sorted(files) or 'none'}. Both are in the checkpoint folder ({WEIGHTS}, {SIDECAR})."
        )
    digest = hashlib.sha256(files[weights[0]] + files[sidecars[0]]).hexdigest()[:12]
    uploaded = root / "uploaded"
    folder = uploaded / f"{_short(Path(weights[0]).stem, 100)}-{digest}"
    uploaded.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=uploaded))  # hidden: checkpoint lists skip it
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
        return folder, fitted
    except Exception as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"the uploaded checkpoint could not be used ({type(exc).__name__}: {exc}).") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
