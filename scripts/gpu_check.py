"""Check SSAN on a CUDA GPU: training speed with mixed precision, whole-scene inference, CUDA = CPU.

    python scripts/gpu_check.py                    # a few minutes on a machine with an NVIDIA GPU
    python scripts/gpu_check.py --iterations 500

1. Trains `paper` SSAN (the authors' configuration) for a few hundred iterations on a synthetic
   cube shaped like Pavia University (610 x 340 x 103, 9 classes; `ssan.bench.synthetic_scene`)
   with mixed precision, as `train` always does on CUDA, and reports the median milliseconds per
   iteration (validation steps excluded) and the total.
2. Classifies every pixel of that cube with the trained model (`predict_map`, the code path of
   `python -m ssan predict`) and reports the time.
3. Classifies every pixel of the demo scene with the shipped demo checkpoint (assets/demo-ssan)
   on the CPU and on CUDA and compares: they must agree on every pixel except near-ties, where
   the CPU's two highest class probabilities are within MARGIN (floating point may break a tie
   either way, e.g. cuDNN's TF32 convolutions).
4. Classifies the demo scene on CUDA in bfloat16 and float32 (`--precision bfloat16`, which
   `auto` picks on large scenes where it agrees): the same class for at least 99.9% of the
   pixels, and alpha within 5% total variation, as the CPU test (tests/test_precision.py) asks.

Exit status: 0 all checks passed; 1 no CUDA GPU here (nothing was checked); 3 CUDA and CPU
disagree on a pixel that is not a near-tie; 4 bfloat16 strays further from float32 than allowed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `ssan` importable
    sys.path.insert(0, str(ROOT))

from ssan.bench import synthetic_scene  # noqa: E402
from ssan.data.catalog import load_scene  # noqa: E402
from ssan.data.splits import make_split  # noqa: E402
from ssan.evaluation.metrics import bfloat16_drift, predict_map  # noqa: E402
from ssan.inference.precision import ALPHA_TOLERANCE, REQUIRED_AGREEMENT  # noqa: E402
from ssan.models.checkpoints import load_checkpoint  # noqa: E402
from ssan.training.trainer import describe_device, format_duration, train  # noqa: E402

DEMO_CHECKPOINT = ROOT / "assets" / "demo-ssan"
MARGIN = 1e-3
NO_GPU = 1
MISMATCH = 3
BF16_STRAYS = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--iterations", type=int, default=300, help="paper-preset training iterations (default 300)"
    )
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU is visible to torch here, so nothing was checked. Run this on a machine with "
            "an NVIDIA GPU and the CUDA build of torch (torch.cuda.is_available() must be True); "
            f"this torch is {torch.__version__}.",
            file=sys.stderr,
        )
        return NO_GPU
    device = torch.device("cuda")
    print(
        f"device: {describe_device(device)}; torch {torch.__version__}, CUDA {torch.version.cuda}"
    )

    scene = synthetic_scene()
    split = make_split(scene, "paper", seed=0)
    steps: list[float] = []
    fitted = train(
        scene,
        split,
        "ssan",
        "paper",
        seed=0,
        device=device,
        overrides={"iterations": args.iterations, "eval_every": args.iterations},
        progress=lambda p: steps.append(p.elapsed),
    )
    per_step = np.diff([0.0, *steps])[
        1:-1
    ]  # without the first step (warm-up) and the last (validation)
    print(
        f"training: paper SSAN, batch {fitted.preset.batch_size}, {args.iterations} iterations with mixed "
        f"precision on a synthetic {scene.shape[0]}x{scene.shape[1]}x{scene.n_bands} cube: "
        f"{1000 * float(np.median(per_step)):.1f} ms per iteration (median), "
        f"{format_duration(fitted.train_seconds)} in all"
    )

    torch.cuda.synchronize()
    start = time.perf_counter()
    predict_map(fitted, scene)
    torch.cuda.synchronize()
    print(
        f"inference: all {scene.shape[0] * scene.shape[1]:,} pixels in {time.perf_counter() - start:.1f} s "
        "(predict_map, PCA pass included)"
    )
    return compare_devices(device)


def compare_devices(device: torch.device) -> int:
    """Demo checkpoint on every demo pixel, CPU against CUDA: equal except near-ties."""
    demo = load_checkpoint(DEMO_CHECKPOINT)
    scene = load_scene("demo")
    sampler = demo.sampler(scene)
    pixels = np.arange(scene.shape[0] * scene.shape[1])
    on_cpu = demo.scores_at(sampler, pixels, device="cpu")
    on_gpu = demo.scores_at(sampler, pixels, device=device)
    differ = np.flatnonzero(on_cpu.argmax(1) != on_gpu.argmax(1))
    top2 = np.sort(on_cpu, axis=1)[:, -2:]
    near_tie = (top2[:, 1] - top2[:, 0]) < MARGIN
    real = differ[~near_tie[differ]]
    print(
        f"CUDA vs CPU, demo checkpoint ({demo.summary()}), all {pixels.size:,} demo pixels: "
        f"{pixels.size - differ.size:,} identical predictions, {differ.size} different "
        f"({differ.size - real.size} of them near-ties, top-2 margin < {MARGIN:g}); "
        f"largest probability difference {np.abs(on_cpu - on_gpu).max():.2e}"
    )
    if real.size:
        print(
            f"gpu_check: FAILED: CUDA and CPU disagree on {real.size} pixels that are not near-ties "
            f"(first: {real[:5].tolist()})",
            file=sys.stderr,
        )
        return MISMATCH
    status = check_bfloat16(device)
    if status == 0:
        print("gpu_check: all checks passed")
    return status


def check_bfloat16(device: torch.device) -> int:
    """Demo checkpoint on every demo pixel on `device`, bfloat16 autocast against float32."""
    demo = load_checkpoint(DEMO_CHECKPOINT)
    scene = load_scene("demo")
    sampler = demo.sampler(scene)
    pixels = np.arange(scene.shape[0] * scene.shape[1])
    drift = bfloat16_drift(demo, sampler, pixels, device=device)
    print(
        f"bfloat16 vs float32 on {device.type}, demo checkpoint, all {pixels.size:,} demo pixels: the same class "
        f"for {100 * drift.agreement:.2f}% (at least {100 * REQUIRED_AGREEMENT:.1f}% wanted); alpha moves at most "
        f"{100 * drift.alpha_strays:.1f}% of its mass (at most {100 * ALPHA_TOLERANCE:.0f}% wanted)"
    )
    if drift.agreement < REQUIRED_AGREEMENT or drift.alpha_strays > ALPHA_TOLERANCE:
        print(
            "gpu_check: FAILED: bfloat16 strays further from float32 than allowed; keep --precision float32 "
            "on this device",
            file=sys.stderr,
        )
        return BF16_STRAYS
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
