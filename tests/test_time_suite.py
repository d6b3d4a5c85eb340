"""scripts/time_suite.py runs pytest, passes its exit status on and says how busy the cores were."""

from __future__ import annotations

import re
import sys

import pytest

from tests.helpers import ROOT


@pytest.fixture
def time_suite(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import time_suite

    return time_suite


def test_a_run_reports_wall_time_cpu_share_and_pytests_exit_status(time_suite, tmp_path, capfd):
    tests = tmp_path / "test_tiny.py"
    tests.write_text(
        "def test_busy():\n    assert sum(i * i for i in range(2_000_000)) > 0\n\n"
        "def test_fails():\n    assert False\n"
    )
    status = time_suite.main(
        ["--window", "0.2", str(tests), "-n", "0", "-q", "-p", "no:cacheprovider"]
    )
    out = capfd.readouterr().out
    assert status == 1, out  # pytest's "some tests failed"
    assert "1 failed, 1 passed" in out
    assert re.search(r"pytest exit status 1; wall time [\d.,]+ s on \d+ cores", out), out
    share = re.search(r"the suite's own CPU time: [\d,]+ s, ([\d.]+)% of \d+ cores", out)
    assert share and 0 < float(share.group(1)) <= 100, out
    if sys.platform == "linux":
        assert re.search(
            r"the machine, all processes: busy [\d.]+%\n  by 0.2 s window: (\d+% )*\d+%", out
        ), out


def test_a_window_must_be_positive(time_suite, capsys):
    with pytest.raises(SystemExit) as exit_:
        time_suite.main(["--window", "0"])
    assert exit_.value.code == 2
    assert "--window must be a positive number of seconds; got 0." in capsys.readouterr().err


def test_machine_busy_share_is_the_working_part_of_the_ticks(time_suite):
    assert time_suite.busy_share((100, 400), (250, 600)) == 0.75
    assert time_suite.busy_share((5, 5), (5, 5)) == 0.0
