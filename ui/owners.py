"""Who made each saved run, what a browser session may change, and pruning of uploads and caches.

A run trained or uploaded from the app belongs to the browser session that did it (`ui.state.owner_id`);
every run no session recorded (trained with the CLI, copied into the runs folder, the shipped checkpoint)
is the lecturer's. A session may rename or delete only its own runs; the lecturer's are read-only to students
unless the server runs with SSAN_STUDENTS_MAY_EDIT=1. The Compare page's default run and a scene's
default model come only from the session's own runs and the lecturer's, never from an upload.

Owners are kept in the runs folder's OWNERS_FILE, so every server process sharing that folder (see
scripts/serve_hall.py) knows them, and a run stays its session's after a restart (read-only then, its
session being gone). Where that file cannot be written, the owner is known to this process only, and the
other processes count the run as the lecturer's.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from ssan.data.download import data_dir
from ssan.data.uploads import FRESH_S, keep_limits, prune, upload_dir
from ssan.evaluation.runs import UPLOADED, runs_dir

LECTURER = "lecturer"
STUDENTS_MAY_EDIT_ENV = "SSAN_STUDENTS_MAY_EDIT"
# One line per change, "owner<TAB>absolute run folder"; a folder's last line wins, an empty owner: deleted.
OWNERS_FILE = ".owners.tsv"


class _Saving(Protocol):
    def snapshot(self) -> object: ...


_lock = threading.Lock()
_owners: dict[str, str] = {}  # absolute run folder -> owner id, as this process recorded it
_shared: dict[str, str] = {}  # the same, as OWNERS_FILE says (every process's records)
_shared_stamp: list[tuple] = []  # (file, mtime_ns, size) when _shared was read
_jobs: list[tuple[_Saving, str]] = []  # (training job, owner): its checkpoints are the owner's
_in_use: dict[str, tuple[Callable[[], bool], frozenset[Path]]] = {}  # owner -> (alive, paths)
_touched: dict[str, float] = {}  # owner -> when its upload folders' times were last set
_pruned_at_start = threading.Event()


def _key(path: str | Path) -> str:
    return str(Path(path).absolute())


def record(path: str | Path, owner: str, replace: bool = True) -> None:
    """Note that `owner` made the run at `path` (with `replace` False, only when no owner is known yet:
    the same upload twice stays the first uploader's)."""
    if not replace and owner_of(path) != LECTURER:
        return
    with _lock:
        _owners[_key(path)] = owner
    _append(owner, path)


def _append(owner: str, path: str | Path) -> None:
    """Add a line to OWNERS_FILE (one write: appends of whole lines do not interleave between processes)."""
    line = f"{owner}\t{_key(path)}\n"
    if line.count("\t") != 1 or line.count("\n") != 1:
        return  # a folder name no line can hold: this process's memory only
    try:
        fd = os.open(runs_dir() / OWNERS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass  # a read-only runs folder: this process's memory only


def _read_shared() -> dict[str, str]:
    """OWNERS_FILE as a table, re-read only when it changed (call under _lock)."""
    file = runs_dir() / OWNERS_FILE
    try:
        info = file.stat()
        stamp = (str(file.absolute()), info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = (str(file.absolute()), None, None)
    if _shared_stamp != [stamp]:
        _shared.clear()
        try:
            text = file.read_text(errors="replace") if stamp[1] is not None else ""
        except OSError:
            text = ""
        for line in text.splitlines():
            owner, _, path = line.partition("\t")
            if owner:
                _shared[path] = owner
            else:
                _shared.pop(path, None)
        _shared_stamp[:] = [stamp]
    return _shared


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
            with _lock:
                known = _owners.get(_key(path)) == owner
            if not known:
                record(path, owner)
        if getattr(snap, "finished", False):
            with _lock:
                if (job, owner) in _jobs:
                    _jobs.remove((job, owner))


def owner_of(path: str | Path) -> str:
    """The browser session that trained or uploaded the run at `path`, else LECTURER."""
    _settle()
    key = _key(path)
    with _lock:
        return _owners.get(key) or _read_shared().get(key, LECTURER)


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
    owner = owner_of(old)
    forget(old)
    if owner != LECTURER:
        record(new, owner)


def forget(path: str | Path) -> None:
    """The run at `path` was deleted."""
    key = _key(path)
    with _lock:
        known = _owners.pop(key, None) is not None or key in _read_shared()
    if known:
        _append("", path)


def note_in_use(owner: str, paths: Iterable[str | Path], alive: Callable[[], bool]) -> None:
    """The files and run folders session `owner` uses now (its scene files, its chosen models): pruning
    keeps them while `alive()` says the session is connected, and, as their upload folders' modification
    time is set to now (at most once a minute), so does pruning in every other process for a while."""
    used = frozenset(Path(p).absolute() for p in paths if p)
    now = time.time()
    with _lock:
        before = _in_use.get(owner)
        _in_use[owner] = (alive, used)
        touched = _touched.get(owner, 0.0)
        if before is not None and before[1] == used and now - touched < FRESH_S:
            return
        _touched[owner] = now
    for path in used:
        for folder in (upload_dir(), runs_dir() / UPLOADED):
            if folder.absolute() in path.parents:
                try:
                    os.utime(folder.absolute() / path.relative_to(folder.absolute()).parts[0])
                except OSError:
                    pass  # gone already, or not ours: nothing to keep


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
                _touched.pop(owner, None)
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
