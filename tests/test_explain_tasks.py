"""The "Does attention explain?" page's work runs in shared background tasks: two sessions asking for the same
explanation at once start one computation of each part (the pixel's attributions, the branch map, the
held-out test), and a different pixel starts its own."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import ENTRY, ROOT, TIMEOUT, click
from ui import explain_jobs, tasks

PAGE = "pages/5_Does_attention_explain.py"


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSAN_RUNS_DIR", str(tmp_path / "runs"))


def session() -> AppTest:
    """A browser session on the page with the demo checkpoint and a small held-out sample."""
    at = AppTest.from_file(str(ROOT / ENTRY), default_timeout=TIMEOUT).run()
    at.session_state["explain_pixels"] = 20
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def finished(at: AppTest, pixel: str, seconds: float = 180) -> AppTest:
    """Rerun until the verdict, the branch map and the attributions of `pixel` are on the page."""
    deadline = time.monotonic() + seconds
    while True:
        ids = [e.proto.id for e in at.get("plotly_chart")]
        bands = [
            e.proto.spec for e in at.get("plotly_chart") if e.proto.id.endswith("explain_bands")
        ]
        if (
            any(m.value.startswith("**Verdict.**") for m in at.markdown)
            and any(i.endswith("branch_map") for i in ids)
            and bands
            and pixel in bands[0]
        ):
            return at
        assert time.monotonic() < deadline, "the background work did not finish"
        time.sleep(0.5)
        at.run()
        assert not at.exception, [e.message for e in at.exception]


def test_two_sessions_asking_the_same_explanation_start_one_computation(monkeypatch):
    monkeypatch.setattr(tasks, "REGISTRY", tasks.Registry())  # no task left over from other tests
    calls: Counter[str] = Counter()
    release = threading.Event()

    def counted(name: str, work):
        def run(*args, **kwargs):
            calls[name] += 1
            release.wait(120)  # still running when the second session asks
            return work(*args, **kwargs)

        return run

    for name in ("explain_pixels", "branch_decision", "explain_model"):
        monkeypatch.setattr(explain_jobs, name, counted(name, getattr(explain_jobs, name)))
    first, second = session(), session()
    pixel = first.subheader[
        0
    ].value  # both open on the same default pixel, e.g. "Pixel (row 75, col 40)"
    assert second.subheader[0].value == pixel
    release.set()
    words = pixel.replace("Pixel (", "pixel (")
    finished(first, words), finished(second, words)
    assert calls == {"explain_pixels": 1, "branch_decision": 1, "explain_model": 1}
    finished(click(second, "explain_image", 12, 34), "pixel (row 12, col 34)")
    assert calls["explain_pixels"] == 2, "another pixel is another computation"


def test_seed_stability_is_one_background_task_per_checkpoints_and_pixels(monkeypatch, tmp_path):
    from ssan.models.checkpoints import load_checkpoint, save_checkpoint
    from ui import loaders

    monkeypatch.setattr(tasks, "REGISTRY", tasks.Registry())
    other = load_checkpoint(loaders.DEMO_CHECKPOINT)
    other.seed += 1
    save_checkpoint(other, tmp_path / "second-seed")
    paths, spec = (str(loaders.DEMO_CHECKPOINT), str(tmp_path / "second-seed")), ("demo",)
    task = explain_jobs.stability_task(paths, spec, (0, 1, 2))
    assert explain_jobs.stability_task(paths, spec, (0, 1, 2)) is task, "asked twice, computed once"
    assert explain_jobs.stability_task(paths, spec, (0, 1, 3)) is not task
    deadline = time.monotonic() + 120
    while not task.snapshot().finished:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    (pair,) = task.snapshot().result
    assert pair.seeds == (other.seed - 1, other.seed)
