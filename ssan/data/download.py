"""Fetching the Pavia files with pooch: verified by sha256 and size, cached, never half-written.

Environment (read at each call): SSAN_DATA_DIR overrides the data folder (default: the OS cache,
e.g. ~/.cache/ssan); SSAN_DATA_URL names a mirror base, the file URL being base + file name.

Every download has an overall deadline (a minimum average rate over the expected size, plus a
minute to connect), not just a per-read timeout. A partial file never survives: pooch writes to a
temporary file removed on any error, SIGTERM/SIGHUP are turned into that error while downloading,
and temporaries left by a killed process are removed by the next download (under a folder lock).

The network is used only when a file is missing from the data folder. A file already there
(downloaded earlier or placed by hand) is used as it is: one whose hash differs from the
canonical file is neither deleted nor replaced, only reported (`local_file_note`), and the
loader's shape and class-count checks then catch a wrong file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pooch

from ssan.data import pavia
from ssan.data.hashing import file_sha256
from ssan.data.pavia import EHU_PAGE, PaviaScene, RemoteFile
from ssan.data.scene import SceneError

logger = logging.getLogger(__name__)

# One retry covers a dropped connection; pooch waits 1 s before it.
RETRIES = 1
CHUNK_BYTES = 1 << 18
TIMEOUT_S = 60
MIN_BYTES_PER_S = 50_000  # the slowest average rate a download may have before it is abandoned
POOCH_TEMPORARY = re.compile(
    r"tmp[a-z0-9_]{8}"
)  # tempfile.NamedTemporaryFile's names, as pooch uses them


class DownloadError(SceneError):
    """A file could not be fetched or failed verification; nothing was saved.

    A `SceneError` (hence a ValueError), so one `except SceneError` in the CLI or app covers
    every reason a scene cannot be had, while the type still tells downloads apart.
    """


def data_dir() -> Path:
    """The folder holding the downloaded (or hand-placed) files: $SSAN_DATA_DIR, else the OS cache."""
    override = os.environ.get("SSAN_DATA_DIR", "").strip()
    return Path(override).expanduser() if override else Path(pooch.os_cache("ssan")).expanduser()


def file_url(filename: str) -> str:
    """Where `filename` is downloaded from: $SSAN_DATA_URL + name when set, else the canonical URL."""
    remote, _ = _lookup(filename)
    base = os.environ.get("SSAN_DATA_URL", "").strip()
    if not base:
        return remote.url
    return base.rstrip("/") + "/" + remote.name


def is_cached(filename: str) -> bool:
    """Whether `filename` is in the data folder, so using it needs no network."""
    return (data_dir() / filename).is_file()


def local_file_note(filename: str) -> str | None:
    """A note when the file in the data folder is not the canonical one (size or sha256 differ), else None."""
    remote, _ = _lookup(filename)
    path = data_dir() / filename
    if not path.is_file():
        return None
    size = path.stat().st_size
    if size == remote.size and file_sha256(path) == remote.sha256:
        return None
    found = f"{size:,} bytes" if size != remote.size else f"sha256 {file_sha256(path)[:12]}…"
    expected = f"{remote.size:,} bytes" if size != remote.size else f"sha256 {remote.sha256[:12]}…"
    return (
        f"{path} differs from the canonical {filename} ({found}, expected {expected}); it was used as placed. "
        "Delete it to download the canonical copy."
    )


def fetch(filename: str, progressbar: Any = False) -> Path:
    """Path of `filename` in the data folder, downloading and verifying it (sha256 and size) if missing.

    `progressbar`: False, True (tqdm on stderr) or an object with pooch's protocol: `total` is set,
    then `update(n)` per chunk, `reset()`, `update(total)` and `close()`.
    """
    remote, scene = _lookup(filename)
    folder = data_dir()
    path = folder / filename
    if path.is_file():
        note = local_file_note(filename)
        if note:
            logger.warning(note)
        return path

    import requests  # pooch's own HTTP client; imported here to keep `import ssan` light

    url = file_url(filename)
    if not url.startswith(("http://", "https://")):
        raise DownloadError(
            _failure(
                scene, folder, remote, url, "SSAN_DATA_URL must start with http:// or https://"
            )
        )
    downloader = _SizeCheckedDownloader(remote.size, progressbar)
    _pooch_logs_to_current_stderr()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _folder_lock(folder), _signals_interrupt():
            if path.is_file():  # another process downloaded it while we waited for the lock
                return path
            remove_stale_temporaries(folder)
            registry = pooch.create(
                path=folder,
                base_url="",
                registry={filename: f"sha256:{remote.sha256}"},
                urls={filename: url},
                retry_if_failed=RETRIES,
            )
            registry.fetch(filename, downloader=downloader)
    except _WrongSize as err:
        reason = str(err)
    except requests.exceptions.RequestException as err:
        if downloader.expired:
            reason = (
                f"it did not arrive within {downloader.deadline_s:.0f} s ({remote.size:,} bytes at the slowest "
                f"allowed average of {MIN_BYTES_PER_S // 1000} kB/s, plus {TIMEOUT_S} s to connect): the server "
                "is too slow or stalled"
            )
        else:
            reason = _request_failure(err)
    except ValueError as err:  # pooch: hash mismatch
        reason = f"it is not the canonical file ({err})"
    except OSError as err:
        reason = f"could not write to {folder} ({err}); set SSAN_DATA_DIR to a writable folder"
    else:
        return path
    raise DownloadError(_failure(scene, folder, remote, url, reason))


def _pooch_logs_to_current_stderr() -> None:
    """Point pooch's log handler at today's sys.stderr: it keeps the stream it found at import, which a
    caller that redirected stderr then (a notebook cell, a test) may have closed since."""
    for handler in pooch.get_logger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            with handler.lock:  # not setStream: it flushes the old stream, which may be closed
                handler.stream = sys.stderr


def _request_failure(err: Exception) -> str:
    import requests

    if isinstance(err, requests.exceptions.HTTPError):
        return (
            f"the server answered {err.response.status_code if err.response is not None else err}"
        )
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return "the connection closed before the whole file arrived"
    if isinstance(err, requests.exceptions.ConnectionError):
        return f"could not connect (offline, or the server is down: {type(err).__name__})"
    if isinstance(err, requests.exceptions.Timeout):
        return f"no answer within {TIMEOUT_S} s"
    return f"{type(err).__name__}: {err}"


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the partial downloads a killed process left in `folder`; returns them.

    Call it only while holding `_folder_lock(folder)`: every live download holds that lock, so any
    temporary found then belongs to no one.
    """
    stale = [p for p in folder.iterdir() if POOCH_TEMPORARY.fullmatch(p.name) and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
        logger.info("removed %s, a partial download left by an interrupted run", p)
    return stale


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on the data folder (released by the system even if the process is killed)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): downloads are not serialised, stale temporaries stay
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class _Signalled(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While downloading, SIGTERM and SIGHUP unwind the stack (so pooch removes its temporary file), then
    the process ends by that signal as it would have; Ctrl-C (KeyboardInterrupt) unwinds as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread (e.g. not in the app's script thread)
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Signalled(signum)

    wanted = [
        s
        for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
        if s is not None and signal.getsignal(s) is signal.SIG_DFL
    ]  # leave handlers others set alone
    previous = {s: signal.signal(s, handler) for s in wanted}
    try:
        yield
    except _Signalled as sig:
        for s, h in previous.items():
            signal.signal(s, h)
        previous = {}
        signal.raise_signal(sig.signum)
        raise KeyboardInterrupt from None  # the signal was handled by someone else's handler
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def fetch_scene_files(key: str, progressbar: Any = False) -> tuple[Path, Path]:
    """(cube, ground truth) paths of a Pavia scene, downloading whatever is missing (small file first).

    A progress object is reused for each file downloaded: its `total` is set anew for each.
    """
    scene = _scene(key)
    gt = fetch(scene.gt.name, progressbar)
    return fetch(scene.cube.name, progressbar), gt


class _WrongSize(ValueError):
    pass


class _CappedFile:
    """The download's temporary file, refusing to grow past the expected size: a server that streams more
    is cut off there rather than filling the disk first."""

    def __init__(self, file: Any, limit: int) -> None:
        self.file, self.limit, self.written = file, limit, 0

    def write(self, chunk: bytes) -> int:
        if self.written + len(chunk) > self.limit:
            raise _WrongSize(
                f"the server sent more than the expected {self.limit:,} bytes (stopped there)"
            )
        self.written += len(chunk)
        return self.file.write(chunk)

    def flush(self) -> None:
        self.file.flush()


class _SizeCheckedDownloader:
    """pooch's HTTP downloader plus an overall deadline and a size check; raising inside pooch's download
    deletes the temp file.

    The per-read timeout cannot catch a server that trickles a byte at a time, so a timer shuts the
    connection's socket down when the deadline passes; the read then fails and `expired` says why.
    """

    def __init__(self, size: int, progressbar: Any) -> None:
        self.size = size
        self.deadline_s = TIMEOUT_S + size / MIN_BYTES_PER_S
        self.expired = False
        self._socket = None
        self.http = pooch.HTTPDownloader(
            progressbar=progressbar,
            chunk_size=CHUNK_BYTES,
            timeout=TIMEOUT_S,
            hooks={"response": self._remember_socket},
        )

    def _remember_socket(self, response: Any, *args: Any, **kwargs: Any) -> None:
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if (
            sock is None
        ):  # http.client let go of it (the server closes after this response); the body's reader has it
            reader = getattr(getattr(response.raw, "_fp", None), "fp", None)
            sock = getattr(getattr(reader, "raw", None), "_sock", None)
        self._socket = sock

    def _expire(self) -> None:
        self.expired = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(2)  # SHUT_RDWR: the blocked read returns at once

    def __call__(self, url: str, output_file: str, pooch_: Any, check_only: bool = False) -> None:
        timer = threading.Timer(self.deadline_s, self._expire)
        timer.daemon = True
        self.expired, self._socket = False, None
        timer.start()
        try:
            with open(output_file, "w+b") as fh:
                self.http(url, _CappedFile(fh, self.size), pooch_)
        finally:
            timer.cancel()
        got = os.path.getsize(output_file)
        if got != self.size:
            raise _WrongSize(f"received {got:,} bytes, expected {self.size:,}")


def _failure(scene: PaviaScene, folder: Path, remote: RemoteFile, url: str, reason: str) -> str:
    cube, gt = scene.cube, scene.gt
    return (
        f"Could not download {remote.name} from {url}: {reason}. No file was saved. "
        f"To use {scene.title} without this download, put {cube.name} and {gt.name} in {folder} "
        f"(from {cube.url} and {gt.url}, listed on {EHU_PAGE}); or set SSAN_DATA_URL to a mirror that "
        f"serves them (file URL = SSAN_DATA_URL + file name); or set SSAN_DATA_DIR to a folder that holds them. "
        "Then try again."
    )


def _scene(key: str) -> PaviaScene:
    if key not in pavia.PAVIA_SCENES:
        raise SceneError(
            f"unknown Pavia scene '{key}'; expected one of {', '.join(pavia.PAVIA_SCENES)}."
        )
    return pavia.PAVIA_SCENES[key]


def _lookup(filename: str) -> tuple[RemoteFile, PaviaScene]:
    for scene in pavia.PAVIA_SCENES.values():
        for remote in scene.files:
            if remote.name == filename:
                return remote, scene
    known = ", ".join(r.name for s in pavia.PAVIA_SCENES.values() for r in s.files)
    raise DownloadError(f"'{filename}' is not a file this project downloads; known files: {known}.")
