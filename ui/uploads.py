"""Uploaded files onto disk: a scene's .mat files and a checkpoint's two files, checked on the way.

Plain functions of names and bytes (no Streamlit), so the tests call them directly: AppTest
cannot upload files.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from ssan.checkpoints import SIDECAR, WEIGHTS, CheckpointError, load_checkpoint
from ssan.fitted import FittedModel
from ssan.scene import SceneError

UPLOAD_DIR = Path(tempfile.gettempdir()) / "ssan-uploads"


def store_scene_upload(name: str, data: bytes, folder: Path = UPLOAD_DIR) -> Path:
    """Write an uploaded .mat file under `folder` (one sub-folder per content hash); returns its path."""
    if Path(name).suffix.lower() != ".mat":
        raise SceneError(f"{name}: expected a MATLAB .mat file (a cube, or a ground-truth map); "
                         f"got a '{Path(name).suffix or 'no'}' extension. "
                         "Save it with scipy.io.savemat or MATLAB's save.")
    if not data:
        raise SceneError(f"{name}: the uploaded file is empty (0 bytes). Upload it again.")
    target = folder / hashlib.sha256(data).hexdigest()[:16] / Path(name).name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


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
    folder = root / "uploaded" / f"{Path(weights[0]).stem}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WEIGHTS).write_bytes(files[weights[0]])
    (folder / SIDECAR).write_bytes(files[sidecars[0]])
    try:
        return folder, load_checkpoint(folder)
    except CheckpointError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
