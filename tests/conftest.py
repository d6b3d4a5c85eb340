"""Shared fixtures: one torch thread for every test, and the workplace's real data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def shared_real() -> Path:
    """../shared/data/real relative to the repo root; tests using it skip outside the workplace."""
    if not SHARED_REAL.is_dir():
        pytest.skip(f"real data folder {SHARED_REAL} is absent (a clone outside the workplace)")
    return SHARED_REAL


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One intra-op thread: reproducible numerics on any machine, and the small GRUs gain little
    from two threads on a quiet 2-core machine but crawl with them on a busy one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
