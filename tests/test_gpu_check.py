"""scripts/gpu_check.py on a machine without a CUDA GPU: a clear message and exit status 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_says_clearly_that_there_is_no_gpu():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}   # hides any GPU, so the test means the same everywhere
    result = subprocess.run([sys.executable, "scripts/gpu_check.py"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "no CUDA GPU is visible to torch here, so nothing was checked" in result.stderr
    assert result.stdout == ""
