"""Who made each saved run, what a browser session may change, and pruning of uploads and caches.

A run trained or uploaded from the app belongs to the browser session that did it (`ui.state.owner_id`);
every other run (trained with the CLI, there before the server started, the shipped checkpoint) is the
lecturer's. A session may rename or delete only its own runs; the lecturer's are read-only to students
unless the server runs with SSAN_STUDENTS_MAY_EDIT=1. The Compare page's default run and a scene's
default model come only from the session's own runs and the lecturer's, never from an upload.

Owners live in this server process's memory: after a restart, or in another server process, every run
is the lecturer's (so read-only to students).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from ssan.data.download import data_dir
from ssan.data.uploads import keep_limits, prune, upload_dir
from ssan.evaluation.runs import UPLOADED, runs_dir

LECTURER = "lecturer"
STUDENTS_MAY_EDIT_ENV = "SSAN_STUDENTS_MAY_EDIT"


class _Saving(Protocol):
    def snapshot(self) -> object: ...


_lock = threading.Lock()
_owners: dict[str, str] = {}  # absolute run folder -> owner id
_jobs: list[tuple[_Saving, str]] = []  # (training job, owner): its checkpoints are the owner's
_in_use: dict[str, tuple[Callable[[], bool], frozenset[Path]]] = {}  # owner -> (alive, paths)
_pruned_at_start = threading.Event()


def _key(path: str | Path) -> str:
    return str(Path(path).absolute())


def record(path: str | Path, owner: str, replace: bool = True) -> None:
    """Note that `owner` made the run at `path` (with `replace` False, only when no owner is known yet:
    the same upload twice stays the first uploader's)."""
    with _lock:
        if replace:
            _owners[_key(path)] = owner
        else:
            _owners.setdefault(_key(path), owner)


def claim_job(job: _Saving, owner: str) -> None:
    """The checkpoints `job` saves (its snapshot's `checkpoints`) belong to `owner`, each from when it is listed."""
    with _lock:
        _jobs.append((job, owner))


def _settle() -> None:
    """Move the claimed jobs' saved checkpoints into the owner table; forget the jobs that have ended."""
    with _lock:
        jobs = list(_jobs)
    for job, owner in jobs:
        snap = job.snapshot()
        for path in getattr(snap, "checkpoints", ()):
            record(path, owner)
        if getattr(snap, "finished", False):
            with _lock:
                if (job, owner) in _jobs:
                    _jobs.remove((job, owner))


def owner_of(path: str | Path) -> str:
    """The browser session that trained or uploaded the run at `path`, else LECTURER."""
    _settle()
    with _lock:
        return _owners.get(_key(path), LECTURER)


def uploaded(path: str | Path) -> bool:
    """Whether the run at `path` is an uploaded checkpoint (under the runs folder's uploaded/)."""
    return (runs_dir() / UPLOADED).absolute() in Path(path).absolute().parents


def students_may_edit() -> bool:
    """Whether the server was started with SSAN_STUDENTS_MAY_EDIT=1 (the lecturer's runs then editable)."""
    return os.environ.get(STUDENTS_MAY_EDIT_ENV, "").strip() == "1"


def edit_refusal(path: str | Path, owner: str) -> str | None:
    """Why session `owner` may not rename or delete the run at `path`; None when it may."""
    made_by = owner_of(path)
    if made_by == owner or (made_by == LECTURER and students_may_edit()):
        return None
    if made_by == LECTURER:
        return (
            f"{Path(path).name} is one of the lecturer's runs: read-only here (the server must run with "
            f"{STUDENTS_MAY_EDIT_ENV}=1 for it to be changed from the app)."
        )
    return f"{Path(path).name} was trained or uploaded in another browser session: only that session may change it."


def check_edit(path: str | Path, owner: str) -> None:
    """ValueError (one line) unless session `owner` may rename or delete the run at `path`."""
    refusal = edit_refusal(path, owner)
    if refusal is not None:
        raise ValueError(refusal)


def may_edit(path: str | Path, owner: str) -> bool:
    """Whether session `owner` may rename or delete the run at `path`."""
    return edit_refusal(path, owner) is None


def default_candidate(path: str | Path, owner: str) -> bool:
    """Whether the run at `path` may be picked for session `owner` by default: one it trained itself, or a
    lecturer's run; never an uploaded checkpoint (one may still be chosen by hand)."""
    return not uploaded(path) and owner_of(path) in (owner, LECTURER)


def moved(old: str | Path, new: str | Path) -> None:
    """The run at `old` was renamed to `new`: its owner moves with it."""
    with _lock:
        owner = _owners.pop(_key(old), None)
        if owner is not None:
            _owners[_key(new)] = owner


def forget(path: str | Path) -> None:
    """The run at `path` was deleted."""
    with _lock:
        _owners.pop(_key(path), None)


def note_in_use(owner: str, paths: Iterable[str | Path], alive: Callable[[], bool]) -> None:
    """The files and run folders session `owner` uses now (its scene files, its chosen models): pruning
    keeps them while `alive()` says the session is connected."""
    with _lock:
        _in_use[owner] = (alive, frozenset(Path(p).absolute() for p in paths if p))


def in_use() -> set[Path]:
    """The paths the connected sessions use (a session that has gone is forgotten here)."""
    with _lock:
        sessions = list(_in_use.items())
    used = set()
    for owner, (alive, paths) in sessions:
        if alive():
            used |= paths
        else:
            with _lock:
                _in_use.pop(owner, None)
    return used


def prune_storage() -> list[Path]:
    """Prune the scene uploads, the cached maps and the uploaded checkpoints to $SSAN_KEEP_DAYS days and
    $SSAN_KEEP_MB MB together, oldest first, keeping what a connected session uses; returns what went
    (ValueError for a bad setting)."""
    days, megabytes = keep_limits()
    # data_dir()/maps is ui.classmaps.maps_dir(), named here without importing the model code (torch)
    folders = (upload_dir(), data_dir() / "maps", runs_dir() / UPLOADED)
    deleted = prune(folders, days, megabytes, in_use())
    for path in deleted:
        forget(path)
    return deleted


def prune_once_at_start() -> None:
    """`prune_storage` on this server's first page run (a bad setting is said in one line on stderr, where
    whoever started the server reads it)."""
    if _pruned_at_start.is_set():
        return
    _pruned_at_start.set()
    try:
        prune_storage()
    except ValueError as exc:
        print(f"ssan: nothing pruned: {exc}", file=sys.stderr)
