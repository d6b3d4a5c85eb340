"""scripts/gpu_check.py on a machine without a CUDA GPU: a clear message and exit status 1; its bfloat16
check runs on a CPU that computes bfloat16 natively, the seam the GPU run goes through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ssan.evaluation.metrics import Bfloat16Drift
from ssan.inference.precision import ALPHA_TOLERANCE, native_bfloat16

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_says_clearly_that_there_is_no_gpu():
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
    }  # hides any GPU, so the test means the same everywhere
    result = subprocess.run(
        [sys.executable, "scripts/gpu_check.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "no CUDA GPU is visible to torch here, so nothing was checked" in result.stderr
    assert result.stdout == ""


@pytest.mark.skipif(
    not native_bfloat16(torch.device("cpu")), reason="this CPU has no native bfloat16"
)
def test_the_bfloat16_check_passes_on_this_cpu(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import gpu_check

    assert gpu_check.check_bfloat16(torch.device("cpu")) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "bfloat16 vs float32 on cpu, demo checkpoint, all 22,500 demo pixels: the same class for 99."
    )
    # The failing branch, without classifying the demo twice more: a drift just past the allowed α movement.
    strays = Bfloat16Drift(agreement=1.0, alpha_strays=ALPHA_TOLERANCE + 0.01, mask_strays=0.0)
    monkeypatch.setattr(gpu_check, "bfloat16_drift", lambda *args, **kwargs: strays)
    assert gpu_check.check_bfloat16(torch.device("cpu")) == gpu_check.BF16_STRAYS
    assert "keep --precision float32" in capsys.readouterr().err
