"""Arithmetic of whole-scene inference: float32, or bfloat16 autocast where the hardware computes it natively.

bfloat16 halves memory traffic and runs the convolutions and GEMMs on a CPU's AVX-512 BF16 (or
AMX) units several times faster, at the cost of 8 bits of mantissa: a few pixels near a decision
boundary may change class. So "auto" takes bfloat16 only where it pays and is checked: a device
that computes it natively, a scene large enough for the check to be a small part of the work,
and the model's classes on an evenly spread sample of the scene agreeing with float32 on at
least `REQUIRED_AGREEMENT` of its pixels; otherwise float32. Training and every reported metric
(OA, AA, kappa on the test pixels) stay float32.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "float32", "bfloat16")
REQUIRED_AGREEMENT = 0.999
# The most a pixel's spectral attention α may move under bfloat16, as total variation (half the summed absolute
# difference of the two α, which each sum to 1): 5.7% measured on the demo (docs/performance.md).
ALPHA_TOLERANCE = 0.08
CHECK_PIXELS = 4096
# Below this many pixels the check would cost as much as bfloat16 saves: "auto" keeps float32.
AUTO_MIN_PIXELS = 100_000


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a map is computed in, and why (with the measured agreement when checked)."""

    precision: str
    reason: str
    agreement: float | None = None
    checked_pixels: int = 0

    def describe(self) -> str:
        """'bfloat16 (why)' for a log line."""
        return f"{self.precision} ({self.reason})"


def check_precision(requested: str) -> str:
    """`requested` if it is a known precision, else a ValueError naming the choices."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; choose one of {', '.join(PRECISIONS)}")
    return requested


def native_bfloat16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively (CPU: AVX-512 BF16 or AMX through oneDNN; CUDA: Ampere on)."""
    if device.type == "cpu":
        probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        return bool(probe is not None and torch.backends.mkldnn.is_available() and probe())
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return False


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context a forward pass runs in: bfloat16 autocast, or nothing for float32."""
    if check_precision(precision) == "auto":
        raise ValueError(
            "resolve 'auto' to float32 or bfloat16 (ssan.evaluation.metrics.choose_precision) before running"
        )
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
