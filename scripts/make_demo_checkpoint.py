"""Build the demo checkpoint the app ships in assets/demo-ssan: quick SSAN trained on the demo scene.

    python scripts/make_demo_checkpoint.py            # writes assets/demo-ssan/ (about a minute on a CPU)

The model is the `quick` preset exactly as users train it (Train page, `python -m ssan train
--preset quick`), on the app's default split (`paper`, seed 0) with training seed 0: it was
not picked for how its attention looks.

Reproducible: the demo scene and the split are seeded; training runs on the CPU with one
thread and `torch.use_deterministic_algorithms(True)`; and, run as a script, the CPU kernels
are pinned to AVX2 (ATen, oneDNN and MKL's conditional numerical reproducibility) so CPUs
with wider vector units (AVX-512, AMX) pick the same kernels. The CPU it was built on is
written beside the checkpoint (assets/demo-ssan.build.json); tests/test_demo_checkpoint.py
rebuilds the model and demands an exact match on that CPU model, a close one elsewhere.
"""

from __future__ import annotations

import os

# Before torch is imported: the same kernels on every x86 CPU with AVX2 (ignored where absent).
PINNED_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}
if __name__ == "__main__":
    for _key, _value in PINNED_KERNELS.items():
        os.environ.setdefault(_key, _value)

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `ssan` importable
    sys.path.insert(0, str(ROOT))

from ssan.data.demo import make_demo_scene  # noqa: E402
from ssan.data.scene import Scene  # noqa: E402
from ssan.data.splits import Split, make_split  # noqa: E402
from ssan.evaluation.metrics import evaluate  # noqa: E402
from ssan.hardware import cpu_name  # noqa: E402
from ssan.models.checkpoints import save_checkpoint  # noqa: E402
from ssan.models.fitted import FittedModel  # noqa: E402
from ssan.training.trainer import train  # noqa: E402

OUT = ROOT / "assets" / "demo-ssan"
SCENE_SEED = 0
SPLIT = "paper"
SPLIT_SEED = 0  # the app's default split, so the Compare page lines the demo model up with new ones
SEED = 0  # training seed
MODEL = "ssan"
PRESET = "quick"


def build_record() -> dict:
    """Where and how the checkpoint was built: CPU, kernel pinning, library versions."""
    return {
        "cpu": cpu_name(),
        "kernels": {k: os.environ.get(k) for k in PINNED_KERNELS},
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def build_demo_checkpoint() -> tuple[FittedModel, Scene, Split]:
    """Train the demo SSAN deterministically on one CPU thread; returns (model with metrics, scene, split)."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        scene = make_demo_scene(seed=SCENE_SEED)
        split = make_split(scene, SPLIT, seed=SPLIT_SEED)
        fitted = train(scene, split, MODEL, PRESET, seed=SEED, device="cpu")
        fitted.metrics = evaluate(fitted, scene, split).to_dict()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    return fitted, scene, split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=OUT, help=f"checkpoint folder to write (default: {OUT})"
    )
    args = parser.parse_args(argv)
    fitted, _, _ = build_demo_checkpoint()
    folder = save_checkpoint(fitted, args.out)
    record = folder.with_name(folder.name + ".build.json")
    record.write_text(json.dumps(build_record(), indent=2) + "\n")
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(
        f"{fitted.summary()}\ntrained in {fitted.train_seconds:.1f} s; wrote {folder} ({size / 1e3:.0f} kB) "
        f"and {record.name}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
