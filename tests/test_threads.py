"""Issue 24, item 2: the CLI and the app give torch the same number of threads (one rule, ssan.hardware)."""

from __future__ import annotations

import os

import pytest
import torch

from ssan.cli import main
from ssan.hardware import THREADS_ENV
from ui import loaders


@pytest.fixture(autouse=True)
def restore_threads(tmp_path, monkeypatch):
    """Each test starts from one thread and gives it back; `data list` reads an empty data folder."""
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)


def cli_threads(*args: str) -> int:
    assert main([*args, "data", "list"]) == 0
    return torch.get_num_threads()


def app_threads() -> int:
    loaders.use_torch()
    return torch.get_num_threads()


def test_the_cli_and_the_app_follow_the_environment_variable(monkeypatch, capsys):
    monkeypatch.setenv(THREADS_ENV, "3")
    assert cli_threads() == 3
    torch.set_num_threads(1)
    assert app_threads() == 3
    assert cli_threads("--threads", "2") == 2, "--threads wins over the environment"


def test_without_the_variable_both_leave_one_core_free(monkeypatch, capsys):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    expected = max(1, cores - 1)
    assert cli_threads() == expected
    torch.set_num_threads(expected + 1)
    assert app_threads() == expected


def test_a_bad_value_is_one_line_from_the_cli(monkeypatch, capsys):
    monkeypatch.setenv(THREADS_ENV, "many")
    assert main(["data", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ssan: error:") and THREADS_ENV in err and "\n" not in err
