"""A lecture hall on one server: N simulated students open a page of the app and click pixels on its scene image.

    python scripts/load_driver.py --students 1,5,10,20,30 --clicks 6 --max-seconds 900

For each number of students the driver starts its own `streamlit run app.py` on 127.0.0.1 at a free port
(headless; the file watcher and the other options as `.streamlit/config.toml` sets them, overridable with
`--server-arg=--runner.postScriptGC=true`), opens the page once to warm the caches (reported, not counted),
then lets N students open the page at once, each over its own websocket session, exactly as a browser
speaks to Streamlit (BackMsg `rerun_script` with the widget states; ForwardMsg deltas back, with the
browser's cache of large messages). Each student then clicks K pixels of the scene image 2–4 s apart
(seeded; no two students share a pixel), the way Plotly's `on_select` reports a click.

With `--until maps` (the Compare page) or `--until verdict` (the explain page) each student also waits, as a
browser does, for the page's background work to be shown: it turns on the maps' toggle, reruns the page's
progress fragments every second as the browser's timer does, and records the seconds from connecting until
every map (or the verdict) is on its page. `--runs DIR` serves the checkpoints of DIR; each level gets an
empty map cache, so every level computes its maps.

Measured per level: page open (connect → script finished), click (selection sent → script finished),
bytes received per click, errors (exception or error elements, timeouts), cross-talk (a student's page
naming any pixel but the one it clicked), the server's CPU (cores, over the students' run) and peak memory
(resident set, sampled). One student always runs first as the baseline of the same run. The whole run stops
after --max-seconds; the server of each level is always stopped. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
SPECTRAL_PAGE = "pages/2_Spectral_attention.py"
SCENE_KEYS = ("-spectral_image", "-spatial_image")  # the clickable scene's widget keys (ui.viewer)
HEADING = re.compile(r"Pixel \(row (\d+), col (\d+)\)")
SIDEBAR = re.compile(r"\*\*Pixel\*\* · row (\d+), col (\d+)")
TRACE = re.compile(r"pixel \((\d+), (\d+)\)")
FINISHED = ForwardMsg.ScriptFinishedStatus
RUN_TIMEOUT_S = 120.0  # a script run that takes longer counts as an error
MAPS_TOGGLE = "Show the maps"  # the Compare page's toggle (ui.compare_page.class_maps)
MAP_PROGRESS = "Classifying every pixel"
VERDICT = "**Verdict.**"


@dataclass
class Run:
    """What one script run sent back: when it finished, its size, the pixels it names, its errors."""

    seconds: float = 0.0
    bytes: int = 0
    pixels: set[tuple[int, int]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    scene_id: str | None = None
    scene_shape: tuple[int, int] | None = None
    maps_toggle: str | None = None  # the widget id of the Compare page's maps toggle
    maps: int = 0  # class maps shown (the ground truth not counted)
    maps_waiting: int = 0  # maps still being computed
    verdict: bool = False


@dataclass
class Student:
    """One simulated browser session and what it measured."""

    index: int
    opens: list[float] = field(default_factory=list)
    until: float | None = (
        None  # seconds from connecting until the background work was shown (--until)
    )
    clicks: list[float] = field(default_factory=list)
    click_bytes: list[int] = field(default_factory=list)
    open_bytes: int = 0
    errors: list[str] = field(default_factory=list)
    crosstalk: list[str] = field(default_factory=list)


class Session:
    """A websocket session speaking Streamlit's protocol, with the browser's cache of large messages."""

    def __init__(self, ws, page_name: str) -> None:
        self.ws = ws
        self.page_name = page_name
        self.cache: set[str] = set()
        self.widgets: dict[
            str, str | bool
        ] = {}  # the values this browser has set, sent with every run
        self.fragments: dict[str, float] = {}  # fragment id → seconds between its automatic reruns
        self.page_hash = (
            ""  # the page's script hash, as the server named it: a browser sends it back
        )

    async def rerun(
        self, widgets: dict[str, str | bool] | None = None, fragment: str | None = None
    ) -> Run:
        """Ask for a script run (of `fragment` only, as the browser's timer does, when given) with `widgets`
        (widget id → string or bool value) set, and read until it has finished."""
        self.widgets.update(widgets or {})
        msg = BackMsg()
        state = msg.rerun_script
        state.page_name = self.page_name
        state.page_script_hash = self.page_hash
        state.query_string = ""
        state.cached_message_hashes.extend(sorted(self.cache))
        if fragment is not None:
            state.fragment_id, state.is_auto_rerun = fragment, True
        else:
            self.fragments.clear()  # a full run registers the page's fragments anew
        for wid, value in self.widgets.items():
            widget = state.widget_states.widgets.add()
            widget.id = wid
            if isinstance(value, bool):
                widget.bool_value = value
            else:
                widget.string_value = value
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        run = Run()
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), RUN_TIMEOUT_S)
            run.bytes += len(raw)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if fwd.metadata.cacheable and fwd.hash:
                self.cache.add(fwd.hash)
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                read_element(fwd.delta.new_element, run)
            elif kind == "navigation" and fwd.navigation.page_script_hash:
                self.page_hash = fwd.navigation.page_script_hash
            elif kind == "auto_rerun":
                self.fragments[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
            elif kind == "script_finished":
                if fwd.script_finished == FINISHED.FINISHED_EARLY_FOR_RERUN:
                    self.fragments.clear()  # the whole page runs again and registers its fragments anew
                    continue  # the page asked for one more run (st.rerun): the click is not shown yet
                if fwd.script_finished not in (
                    FINISHED.FINISHED_SUCCESSFULLY,
                    FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
                ):
                    run.errors.append(f"script finished with status {fwd.script_finished}")
                run.seconds = time.perf_counter() - start
                return run


def read_element(element, run: Run) -> None:
    """Note the pixels an element names, the scene chart's widget id and shape, and any error it shows."""
    kind = element.WhichOneof("type")
    if kind == "exception":
        run.errors.append(f"{element.exception.type}: {element.exception.message[:200]}")
    elif kind == "alert" and element.alert.format == element.alert.ERROR:
        run.errors.append(f"error shown: {element.alert.body[:200]}")
    elif kind == "heading":
        run.pixels.update(_pixels(HEADING, element.heading.body))
    elif kind == "markdown":
        run.pixels.update(_pixels(SIDEBAR, element.markdown.body))
        run.verdict |= element.markdown.body.startswith(VERDICT)
    elif kind == "checkbox" and element.checkbox.label.startswith(MAPS_TOGGLE):
        run.maps_toggle = element.checkbox.id
    elif kind == "progress" and element.progress.text.startswith(MAP_PROGRESS):
        run.maps_waiting += 1
    elif kind == "plotly_chart":
        chart = element.plotly_chart
        if chart.id.endswith(SCENE_KEYS):
            run.scene_id = chart.id
            layout = json.loads(chart.spec).get("layout", {}) if chart.spec else {}
            x_range, y_range = (
                layout.get("xaxis", {}).get("range"),
                layout.get("yaxis", {}).get("range"),
            )
            if x_range and y_range:
                run.scene_shape = (round(y_range[0] + 0.5), round(x_range[1] + 0.5))
        else:
            run.pixels.update(_pixels(TRACE, chart.spec))
            run.maps += "-map_" in chart.id and not chart.id.endswith("-map_Ground truth")


def _pixels(pattern: re.Pattern, text: str) -> set[tuple[int, int]]:
    return {(int(r), int(c)) for r, c in pattern.findall(text)}


def selection(row: int, col: int, shape: tuple[int, int]) -> str:
    """The widget value Plotly's `on_select` sends for a click on (row, col) of the scene's click grid."""
    index = row * shape[1] + col
    point = {"curve_number": 1, "point_number": index, "point_index": index, "x": col, "y": row}
    return json.dumps(
        {"selection": {"points": [point], "point_indices": [index], "box": [], "lasso": []}}
    )


async def student(
    port: int,
    page_name: str,
    index: int,
    clicks: int,
    gap: tuple[float, float],
    seed: int,
    deadline: float,
    taken: set,
    until: str | None = None,
) -> Student:
    """Open the page, wait for its background work to be shown (`until`: "maps" or "verdict"), then click
    `clicks` pixels `gap` seconds apart (until the deadline)."""
    result = Student(index)
    rng = random.Random(f"{seed}:{index}")
    url = f"ws://127.0.0.1:{port}/_stcore/stream"
    try:
        start = time.perf_counter()
        # No protocol-level pings: a browser sends none, and a busy server answering them late would close the session.
        async with connect(
            url,
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=RUN_TIMEOUT_S,
            ping_interval=None,
        ) as ws:
            session = Session(ws, page_name)
            run = await session.rerun()
            result.opens.append(time.perf_counter() - start)
            result.open_bytes = run.bytes
            result.errors += run.errors
            if until is not None:
                shown = await wait_until(session, run, until, deadline)
                if shown:
                    result.until = time.perf_counter() - start
                else:
                    result.errors.append(f"the {until} were not shown before the deadline")
                return result
            scene_id, shape = run.scene_id, run.scene_shape
            if scene_id is None or shape is None:
                result.errors.append("the page showed no clickable scene image")
                return result
            for _ in range(clicks):
                await asyncio.sleep(rng.uniform(*gap))
                if time.monotonic() > deadline:
                    break
                pixel = _fresh_pixel(rng, shape, taken)
                run = await session.rerun({scene_id: selection(*pixel, shape)})
                result.clicks.append(run.seconds)
                result.click_bytes.append(run.bytes)
                result.errors += run.errors
                if pixel not in run.pixels:
                    result.errors.append(f"clicked {pixel}, the page did not name it")
                result.crosstalk += [f"clicked {pixel}, saw {p}" for p in run.pixels - {pixel}]
                scene_id = run.scene_id or scene_id
    except TimeoutError:
        result.errors.append(f"no finished script run within {RUN_TIMEOUT_S:.0f} s")
    except (OSError, ConnectionClosed) as exc:
        result.errors.append(f"connection lost: {exc}")
    return result


async def wait_until(session: Session, run: Run, until: str, deadline: float) -> bool:
    """Rerun the page's progress fragments as the browser's timer does until every map (`until` = "maps",
    after turning on the maps' toggle) or the verdict ("verdict") is on the page; False at the deadline."""
    if until == "maps":
        if run.maps_toggle is None:
            run.errors.append("the page showed no maps toggle")
            return False
        run = await session.rerun({run.maps_toggle: True})

    def shown(r: Run) -> bool:
        return r.verdict if until == "verdict" else r.maps > 0 and r.maps_waiting == 0

    while not shown(run):
        if run.errors or time.monotonic() > deadline or not session.fragments:
            return False  # an error, out of time, or nothing left to poll: the page stays as it is
        await asyncio.sleep(min(session.fragments.values()))
        for fragment in list(session.fragments):
            if fragment in session.fragments:  # not dropped by a whole-page run meanwhile
                run = await session.rerun(fragment=fragment)
                if shown(run) or run.errors:
                    break
    return True


def _fresh_pixel(rng: random.Random, shape: tuple[int, int], taken: set) -> tuple[int, int]:
    """A pixel no student has clicked yet in this level (so any pixel seen elsewhere is cross-talk)."""
    while True:
        pixel = (rng.randrange(shape[0]), rng.randrange(shape[1]))
        if pixel not in taken:
            taken.add(pixel)
            return pixel


class Server:
    """`streamlit run app.py` on 127.0.0.1 at a free port, in its own process group, always stopped;
    with `profile`, its busy threads' stacks are sampled into that file (see `serve_sampled`)."""

    def __init__(
        self, extra: list[str], profile: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.port = _free_port()
        launcher = [__file__, SAMPLED, str(profile)] if profile else ["-m", "streamlit"]
        args = [sys.executable, *launcher, "run", "app.py", "--server.headless=true"]
        args += [
            "--server.address=127.0.0.1",
            f"--server.port={self.port}",
            "--browser.gatherUsageStats=false",
        ]
        self.log = open(os.devnull, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args + extra,
            cwd=ROOT,
            env=os.environ | (env or {}),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with code {self.proc.returncode} before it was ready"
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/_stcore/health", timeout=2
                ) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sampler(threading.Thread):
    """The servers' CPU time and resident memory (summed over the processes) from /proc, sampled every 0.2 s."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak_rss, self.stopped = pids, 0, threading.Event()
        self.trace: list[
            tuple[float, int]
        ] = []  # (seconds since the start, resident bytes) each 5 s
        self.start_cpu, self.start_wall = self.cpu_seconds(), time.perf_counter()

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def rss(self) -> int:
        total = 0
        for pid in self.pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            try:
                rss = self.rss()
            except OSError:
                return
            self.peak_rss = max(self.peak_rss, rss)
            elapsed = time.perf_counter() - self.start_wall
            if not self.trace or elapsed - self.trace[-1][0] >= 5:
                self.trace.append((round(elapsed, 1), rss))

    def finish(self) -> tuple[float, int]:
        """(cores used on average since the start, peak resident bytes)."""
        self.stopped.set()
        cores = (self.cpu_seconds() - self.start_cpu) / (time.perf_counter() - self.start_wall)
        return cores, max(self.peak_rss, self.rss())


SAMPLED = "_serve_sampled"


def serve_sampled(out: Path, streamlit_args: list[str]) -> None:
    """Run Streamlit with a thread that samples every Python thread's stack each 10 ms and charges it the
    CPU time the thread used since the last sample (/proc/self/task/*/schedstat), so a thread blocked in
    C counts nothing (a py-spy stand-in); rewrites `out` every 2 s with the functions that used the most
    CPU, as shares of the process's sampled CPU time. Self entries name the line (e.g. gc.collect's)."""
    cumulative: dict[str, float] = {}
    own: dict[str, float] = {}
    last: dict[int, int] = {}

    def label(code, line: int | None = None) -> str:
        where = f"{Path(code.co_filename).parent.name}/{Path(code.co_filename).name}:{code.co_name}"
        return where if line is None else f"{where}:{line}"

    def cpu_ns(native_id: int) -> int:
        return int(Path(f"/proc/self/task/{native_id}/schedstat").read_text().split()[0])

    def sample() -> None:
        total, written, me = 0.0, time.monotonic(), threading.get_ident()
        while True:
            time.sleep(0.01)
            natives = {t.ident: t.native_id for t in threading.enumerate()}
            for tid, frame in sys._current_frames().items():
                if tid == me or natives.get(tid) is None:
                    continue
                try:
                    used = cpu_ns(natives[tid])
                except OSError:
                    continue
                spent, last[tid] = used - last.get(tid, used), used
                if spent <= 0:
                    continue
                total += spent
                name = label(frame.f_code, frame.f_lineno)
                own[name] = own.get(name, 0) + spent
                seen = set()
                while frame is not None:
                    seen.add(label(frame.f_code))
                    frame = frame.f_back
                for name in seen:
                    cumulative[name] = cumulative.get(name, 0) + spent
            if time.monotonic() - written > 2 and total:
                lines = [f"{total / 1e9:.1f} s of sampled CPU time"]
                for title, counts in (("cumulative", cumulative), ("self", own)):
                    lines.append(f"-- {title}")
                    top = sorted(counts.items(), key=lambda kv: -kv[1])[:80]
                    lines += [f"{100 * c / total:5.1f} %  {name}" for name, c in top]
                out.write_text("\n".join(lines) + "\n")
                written = time.monotonic()

    threading.Thread(target=sample, name="stack-sampler", daemon=True).start()
    sys.argv = ["streamlit", *streamlit_args]
    from streamlit.web.cli import main as streamlit_main

    streamlit_main()


def page_name_of(page: str) -> str:
    """Streamlit's URL name of a page file: pages/2_Spectral_attention.py -> Spectral_attention."""
    return re.sub(r"^\d+_", "", Path(page).stem) if Path(page).parent.name == "pages" else ""


async def level(n: int, args: argparse.Namespace, deadline: float) -> dict:
    """The servers, one warm-up open on each, then `n` students at once (student i on server i mod the
    number of processes, as a sticky proxy would place them); the level's figures."""
    profile = args.profile.with_suffix(f".{n}.txt") if args.profile else None
    # Several processes share the cores: one torch thread each, as scripts/serve_hall.py starts them.
    env = {"SSAN_TORCH_THREADS": "1"} if args.processes > 1 else {}
    if args.runs is not None:
        env["SSAN_RUNS_DIR"] = str(args.runs.resolve())
    scratch = tempfile.TemporaryDirectory(prefix="ssan-hall-")  # this level's empty map cache
    if args.until == "maps":
        env["SSAN_DATA_DIR"] = scratch.name
    servers = [Server(args.server_arg, profile, env) for _ in range(args.processes)]
    page = page_name_of(args.page)
    # Waiting for background work, warm up on the Spectral page: the model and scene load, nothing starts.
    warm_page = page_name_of(SPECTRAL_PAGE) if args.until else page
    try:
        for server in servers:
            server.wait_ready()
        warm = [
            await student(s.port, warm_page, -1, 0, (0, 0), args.seed, deadline, set())
            for s in servers
        ]
        sampler = Sampler([s.proc.pid for s in servers])
        sampler.start()
        own_cpu, own_wall = time.process_time(), time.perf_counter()
        taken: set = set()
        students = await asyncio.gather(
            *(
                student(
                    servers[i % len(servers)].port,
                    page,
                    i,
                    args.clicks,
                    args.gap,
                    args.seed,
                    deadline,
                    taken,
                    args.until,
                )
                for i in range(n)
            )
        )
        cores, peak = sampler.finish()
        # The driver's own share of the machine: when it nears a core, its latencies include its own queue.
        driver = (time.process_time() - own_cpu) / (time.perf_counter() - own_wall)
    finally:
        for server in servers:
            server.stop()
        scratch.cleanup()
    memory = [(t, round(rss / 2**20)) for t, rss in sampler.trace]
    return summarise(n, students, warm[0], cores, peak) | {
        "driver_cores": driver,
        "rss_mib": memory,
    }


def summarise(n: int, students: list[Student], warm: Student, cores: float, peak: int) -> dict:
    opens = [t for s in students for t in s.opens]
    clicks = [t for s in students for t in s.clicks]
    click_bytes = [b for s in students for b in s.click_bytes]
    errors = [e for s in students for e in s.errors]
    return {
        "students": n,
        "warm_up_open_s": warm.opens[0] if warm.opens else None,
        "open": percentiles(opens),
        "click": percentiles(clicks),
        "until": percentiles([s.until for s in students if s.until is not None]),
        "clicks": len(clicks),
        "open_kb": statistics.mean(s.open_bytes for s in students) / 1024,
        "click_kb": statistics.mean(click_bytes) / 1024 if click_bytes else None,
        "errors": len(errors),
        "first_errors": sorted(set(errors))[:3],
        "crosstalk": sum(len(s.crosstalk) for s in students),
        "cpu_cores": cores,
        "peak_rss_mib": peak / 2**20,
    }


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50": pick(0.5), "p95": pick(0.95), "max": ordered[-1]}


def table(rows: list[dict], until: str | None = None) -> str:
    def s(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    shown = f" {until} shown p50 / max (s) |" if until else ""
    lines = [
        f"| students | page open p50 / p95 (s) |{shown} click p50 / p95 / max (s) | clicks | KB per click | errors | "
        "cross-talk | server CPU (cores) | peak RSS (MiB) | driver CPU |",
        "|---|---|" + ("---|" if until else "") + "---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        o, c, u = r["open"], r["click"], r["until"]
        waited = f" {s(u['p50'])} / {s(u['max'])} |" if until else ""
        lines.append(
            f"| {r['students']} | {s(o['p50'])} / {s(o['p95'])} |{waited} {s(c['p50'])} / {s(c['p95'])} / {s(c['max'])} | "
            f"{r['clicks']} | {s(r['click_kb'])} | {r['errors']} | {r['crosstalk']} | {r['cpu_cores']:.2f} | "
            f"{r['peak_rss_mib']:.0f} | {r['driver_cores']:.2f} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--students", default="1,5", help="comma-separated student counts (1 is always run first)"
    )
    p.add_argument("--clicks", type=int, default=6, help="pixels each student clicks")
    p.add_argument("--gap", default="2,4", help="seconds between a student's clicks, as MIN,MAX")
    p.add_argument("--page", default=SPECTRAL_PAGE, help="the page the students open")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--max-seconds", type=float, default=600.0, help="stop clicking and skip levels after this"
    )
    p.add_argument(
        "--server-arg", action="append", default=[], help="extra `streamlit run` option, repeatable"
    )
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument(
        "--until",
        choices=("maps", "verdict"),
        help="wait for the page's background work: every class map (--page pages/4_Compare.py) or the "
        "explanation's verdict (--page pages/5_Does_attention_explain.py); use with --clicks 0",
    )
    p.add_argument(
        "--runs",
        type=Path,
        help="the runs folder the server reads checkpoints from (SSAN_RUNS_DIR)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="Streamlit processes sharing the students (as scripts/serve_hall.py serves a hall)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        help="sample the server's busy stacks into PROFILE.<students>.txt (slows the server a little)",
    )
    args = p.parse_args(argv)
    try:
        counts = sorted({int(x) for x in args.students.split(",") if x.strip()} | {1})
        args.gap = tuple(float(x) for x in args.gap.split(","))
    except ValueError:
        p.error("--students takes whole numbers like 1,5,10 and --gap two numbers like 2,4")
    if min(counts) < 1 or len(args.gap) != 2 or args.clicks < 0 or args.processes < 1:
        p.error(
            "--students and --processes must be at least 1, --gap two numbers MIN,MAX, --clicks not negative"
        )
    if args.runs is not None and not args.runs.is_dir():
        p.error(f"--runs {args.runs}: no such folder; give a runs folder with checkpoints in it")
    if not (ROOT / args.page).is_file():
        p.error(
            f"--page {args.page}: no such page file; give one under pages/, e.g. pages/2_Spectral_attention.py"
        )
    args.counts = counts
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.monotonic()
    deadline = start + args.max_seconds
    print(
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs",
        flush=True,
    )
    rows = []
    for n in args.counts:
        if rows and time.monotonic() > deadline - 30:
            print(f"skipped {n} students and more: --max-seconds reached", flush=True)
            break
        row = asyncio.run(level(n, args, deadline))
        rows.append(row)
        print(
            f"{n} students: open p50 {row['open']['p50']}, click p95 {row['click']['p95']}, "
            f"errors {row['errors']} {row['first_errors']}, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    print(
        f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {time.monotonic() - start:.0f} s in all"
    )
    print(table(rows, args.until))
    if args.json:
        args.json.write_text(
            json.dumps({"load_average_end": os.getloadavg(), "levels": rows}, indent=1)
        )
    return 0 if all(r["errors"] == 0 and r["crosstalk"] == 0 for r in rows) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == [SAMPLED]:
        serve_sampled(Path(sys.argv[2]), sys.argv[3:])
    else:
        sys.exit(main())
