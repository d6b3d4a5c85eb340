"""Shared fixtures: the workplace's real data folder, skipped when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture
def shared_real() -> Path:
    """../shared/data/real relative to the repo root; tests using it skip outside the workplace."""
    if not SHARED_REAL.is_dir():
        pytest.skip(f"real data folder {SHARED_REAL} is absent (a clone outside the workplace)")
    return SHARED_REAL
