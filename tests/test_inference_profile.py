"""scripts/inference_profile.py runs on a CPU and prints each stage of whole-scene inference."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_profile_prints_every_stage_for_each_preset(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import inference_profile

    assert inference_profile.main(["--device", "cpu", "--size", "30x24", "--presets", "quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0].startswith("cpu (") and "30x24x103 cube, 720 pixels in batches of 256" in lines[0]
    )
    assert re.fullmatch(
        r"quick: PCA pass [\d.]+ s; inputs cut on the host [\d.]+ s; network_inputs [\d.]+ s; "
        r"forward pass on staged inputs [\d.]+ s; predict_map [\d.]+ s cold, [\d.]+ s warm "
        r"\([\d.]+x the forward pass\)",
        lines[1],
    ), lines[1]
