"""Where whole-scene inference spends its time: PCA pass, cutting the inputs, the forward pass, the whole map.

    python scripts/inference_profile.py                     # best device, PaviaU-sized synthetic cube
    python scripts/inference_profile.py --device cpu --size 120x100 --presets quick

For each preset an SSAN is built and trained for two steps (the timing depends on the network's
size, not on how well it is trained), then on every pixel of a synthetic cube, in batches of the
device's inference size:
- the PCA pass (the sampler's padded component image);
- cutting each batch's inputs on the host (`PixelSampler.spectra` and `.patches`);
- `network_inputs` (what inference uses: on an accelerator the patches are cut on the device);
- the forward pass with every batch's inputs already on the device, the network's own time;
- `predict_map`, cold and warm, with the map's ratio to that forward pass.
docs/performance.md records what it showed on a GPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: make `ssan` importable
    sys.path.insert(0, str(ROOT))

from ssan.bench import PAVIAU_SHAPE, synthetic_scene  # noqa: E402
from ssan.data.splits import make_split  # noqa: E402
from ssan.evaluation.metrics import predict_map  # noqa: E402
from ssan.hardware import synchronize  # noqa: E402
from ssan.models.fitted import inference_batch_size, network_inputs  # noqa: E402
from ssan.training.trainer import describe_device, pick_device, train  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    parser.add_argument(
        "--presets", default="quick,paper", help="comma-separated (default quick,paper)"
    )
    parser.add_argument(
        "--size", default="x".join(map(str, PAVIAU_SHAPE)), help="HxW (default 610x340)"
    )
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    height, width = (int(v) for v in args.size.lower().split("x"))
    scene = synthetic_scene((height, width))
    split = make_split(scene, "per-class:20", seed=0)
    pixels = np.arange(height * width)
    size = inference_batch_size(device)
    batches = [pixels[s : s + size] for s in range(0, pixels.size, size)]
    print(
        f"{describe_device(device)}, torch {torch.__version__}; synthetic {height}x{width}x{scene.n_bands} cube, "
        f"{pixels.size:,} pixels in batches of {size}"
    )

    def clock(work: Callable[[], object]) -> float:
        synchronize(device)
        start = time.perf_counter()
        work()
        synchronize(device)
        return time.perf_counter() - start

    for preset in (p.strip() for p in args.presets.split(",") if p.strip()):
        fitted = train(
            scene,
            split,
            "ssan",
            preset,
            seed=0,
            device=device,
            overrides={"iterations": 2, "eval_every": 2},
        )
        sampler = fitted.sampler(scene)
        net = fitted.network.to(device).eval()
        pca = clock(lambda: sampler.windows)
        cold = clock(lambda: predict_map(fitted, scene, sampler))
        warm = clock(lambda: predict_map(fitted, scene, sampler))
        host = clock(lambda: [(sampler.spectra(b), sampler.patches(b)) for b in batches])
        inputs: list = []
        staged = clock(
            lambda: inputs.extend(network_inputs(net, sampler, b, device) for b in batches)
        )

        def forward() -> None:
            with torch.inference_mode():
                for x in inputs:
                    torch.softmax(net(*x).float(), 1).cpu()

        forward()  # warm-up: kernel selection for the batch shapes
        network = clock(forward)
        print(
            f"{preset}: PCA pass {pca:.2f} s; inputs cut on the host {host:.2f} s; network_inputs {staged:.2f} s; "
            f"forward pass on staged inputs {network:.2f} s; predict_map {cold:.2f} s cold, {warm:.2f} s warm "
            f"({warm / network:.1f}x the forward pass)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
