"""The command line, called in-process: data, train -> evaluate -> predict, bench, and bad input.

Models are tiny (via --set) and the splits small, so each command runs in seconds on a CPU.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from ssan import cli
from ssan.cli import main, parse_overrides
from ssan.data.demo import CLASS_COLORS
from ssan.render.imaging import hex_to_rgb
from ssan.render.mapimage import scale_factor
from tests.helpers import ROOT, TINY, set_args

TINY_ARGS = set_args({**TINY, "iterations": 6, "eval_every": 3})  # the tiny network, 6 iterations
SPLIT = ["--split", "per-class:10"]


@pytest.fixture(autouse=True)
def empty_data_dir(tmp_path, monkeypatch):
    """No test may find (or download) real Pavia files."""
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SSAN_DATA_URL", "http://127.0.0.1:9/")


def run(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) with stdout and stderr captured (usable in module-scoped fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An SSAN checkpoint trained once on the demo scene; (folder, stdout, JSON summary)."""
    folder = tmp_path_factory.mktemp("run") / "demo-ssan"
    code, out, err = run(
        ["train", "--scene", "demo", *SPLIT, *TINY_ARGS, "--out", str(folder), "--json"]
    )
    assert code == 0, err
    return folder, out, json.loads(out.strip().splitlines()[-1])


def write_mat_scene(path: Path, shape=(40, 30), n_bands=10, n_classes=3, seed=0) -> None:
    """A small labelled cube in one .mat file (no wavelength vector), as a user would save it."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes + 1, shape).astype(np.uint8)
    cube = (
        rng.random((n_classes + 1, n_bands))[labels] + 0.05 * rng.random((*shape, n_bands))
    ) * 1000
    scipy.io.savemat(path, {"radiance": cube.astype(np.uint16), "truth": labels})


def test_help_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "ssan", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for command in ("data", "train", "evaluate", "predict", "compare", "bench"):
        assert command in result.stdout


def test_data_list_shows_scenes_and_cache_state(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "150x150" in out
    assert "paviau" in out and "610x340" in out and "not cached (download 34.8 MB)" in out
    assert "paviac" in out and "1096x715" in out
    assert "data folder:" in out


def test_data_fetch_offline_fails_cleanly(tmp_path, monkeypatch):
    monkeypatch.setenv("SSAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(
        "SSAN_DATA_URL", "http://127.0.0.1:9/"
    )  # nothing listens there: offline, on loopback only
    code, _, err = run(["data", "fetch", "paviau"])
    last = err.strip().splitlines()[-1]
    assert code == 2 and "Traceback" not in err
    assert (
        last.startswith("ssan: error: Could not download PaviaU_gt.mat") and "SSAN_DATA_DIR" in last
    )


def test_data_fetch_uses_files_placed_by_hand(shared_real, capsys):
    real_gt = shared_real / "PaviaU_gt.mat"
    folder = Path(os.environ["SSAN_DATA_DIR"])
    folder.mkdir()
    (folder / "PaviaU_gt.mat").write_bytes(real_gt.read_bytes())
    (folder / "PaviaU.mat").write_bytes(b"placed by hand")
    assert main(["data", "fetch", "paviau"]) == 0
    assert f"paviau: cube {folder / 'PaviaU.mat'}" in capsys.readouterr().out
    assert main(["data", "list"]) == 0
    assert any(
        line.startswith("paviau") and line.endswith("cached")
        for line in capsys.readouterr().out.splitlines()
    )


def test_data_info_demo_previews_the_split_with_leakage(demo, capsys):
    assert main(["data", "info", "demo", *SPLIT, "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "150 x 150" in out and "bands: 103, 430.0-860.0 nm" in out and "estimated" not in out
    assert "classes: 12" in out
    assert "leakage" in out and "27x27 neighbourhood" in out and "seed 3" in out
    assert "Meadow, drought-stressed" in out
    total = next(line for line in out.splitlines() if line.strip().startswith("total"))
    labelled = int(demo.class_counts().sum())
    assert total.split()[-3:] == ["120", "120", f"{labelled - 240:,}"]


def test_data_info_own_mat_file_says_wavelengths_are_estimated(tmp_path, capsys):
    path = tmp_path / "mine.mat"
    write_mat_scene(path)
    assert (
        main(
            [
                "data",
                "info",
                str(path),
                "--split",
                "per-class:2",
                "--cube-var",
                "radiance",
                "--gt-var",
                "truth",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "40 x 30 = 1,200" in out
    assert "bands: 10" in out and "estimated" in out
    assert "classes: 3" in out and "per-class: 2 train" in out


def test_train_prints_estimate_metrics_and_writes_checkpoint(trained):
    folder, out, summary = trained
    assert (folder / "model.safetensors").is_file() and (folder / "model.json").is_file()
    assert (
        out.index("split: per-class: 10 train")
        < out.index("estimated training time")
        < out.index("OA ")
    )
    assert "leakage" in out and "Plaza, coarse blotched paving" in out
    assert summary["model"] == "ssan" and summary["preset"] == "quick" and summary["seed"] == 0
    assert summary["overrides"]["conv_channels"] == [4, 8]
    assert summary["split"].startswith("per-class: 10 train") and summary["checkpoint"] == str(
        folder
    )
    assert 0.0 <= summary["metrics"]["oa"] <= 1.0 and len(summary["metrics"]["per_class"]) == 12
    assert summary["train_seconds"] > 0 and summary["device"].startswith("cpu")
    stored = json.loads((folder / "model.json").read_text())
    assert stored["metrics"]["oa"] == summary["metrics"]["oa"]


def test_evaluate_recreates_the_checkpoint_split(trained, capsys):
    folder, _, summary = trained
    assert main(["evaluate", "--checkpoint", str(folder), "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["split_protocol"] == "per-class:10" and result["seed"] == 0
    assert result["metrics"]["oa"] == pytest.approx(summary["metrics"]["oa"])
    assert "warning" not in out


def test_evaluate_on_another_split_warns_about_training_pixels(trained, capsys):
    folder, _, _ = trained
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(folder),
                "--scene",
                "demo",
                "--split",
                "per-class:10",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "seed 5" in out and "were training or validation pixels of this model" in out


def test_predict_writes_a_map_with_legend(trained, tmp_path, capsys):
    folder, _, _ = trained
    png = tmp_path / "maps" / "demo.png"
    assert main(["predict", "--checkpoint", str(folder), "--scene", "demo", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"map: {png}" in out
    assert "precision: float32 (22,500 pixels: too few for bfloat16 to pay)" in out, (
        "auto, on a small scene"
    )
    image = Image.open(png)
    side = 150 * scale_factor((150, 150))
    assert (
        image.format == "PNG" and image.height == side and image.width > side + 100
    )  # legend on the right
    palette = {hex_to_rgb(c) for c in CLASS_COLORS}
    assert image.convert("RGB").getpixel((0, 0)) in palette


def test_predict_in_bfloat16_only_where_asked_and_never_on_ray(trained, tmp_path, capsys):
    folder, _, _ = trained
    png = tmp_path / "bf16.png"
    assert (
        main(["predict", "--checkpoint", str(folder), "--out", str(png), "--precision", "bfloat16"])
        == 0
    )
    assert "precision: bfloat16 (as requested)" in capsys.readouterr().out and png.is_file()
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(folder),
                "--out",
                str(png),
                "--precision",
                "bfloat16",
                "--ray",
                "local",
            ]
        )
        == 2
    )
    assert "Ray tiles are classified in float32" in capsys.readouterr().err


def test_predict_labelled_only_leaves_unlabelled_pixels_black(trained, demo, tmp_path):
    folder, _, _ = trained
    png = tmp_path / "labelled.png"
    code, _, err = run(
        ["predict", "--checkpoint", str(folder), "--out", str(png), "--labelled-only"]
    )
    assert code == 0, err
    labels = demo.labels
    r, c = map(int, np.argwhere(labels == 0)[0])
    k = scale_factor(labels.shape)
    assert Image.open(png).convert("RGB").getpixel((c * k, r * k)) == (0, 0, 0)


def test_ctrl_c_stops_training_and_keeps_the_best_model(tmp_path, monkeypatch):
    update = cli._TrainingBar.update

    def interrupt_at_second_step(self, p):
        update(self, p)
        if p.iteration == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cli._TrainingBar, "update", interrupt_at_second_step)
    code, out, err = run(
        ["train", "--scene", "demo", *SPLIT, *TINY_ARGS, "--out", str(tmp_path / "ck"), "--json"]
    )
    assert code == 0, err
    assert "training stopped at iteration 2 of 6" in out
    assert json.loads(out.strip().splitlines()[-1])["cancelled"] is True
    assert json.loads((tmp_path / "ck" / "model.json").read_text())["cancelled"] is True
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_bench_reports_throughput_inference_and_memory(capsys):
    assert (
        main(
            [
                "bench",
                "--presets",
                "quick",
                "--iterations",
                "1",
                "--size",
                "40x40",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "synthetic 40x40x103 cube" in out and "cpu" in out
    assert re.search(
        r"GEMM rate measured in this run \(torch.mm, 2048x2048\): float32 [\d,]+ GFLOP/s", out
    )
    row = next(line for line in out.splitlines() if line.startswith("quick "))
    assert "MiB" in row and row.split()[1] == "float32" and row.count("%") == 2
    assert (
        "quick: forward MFLOP per pixel spectral 7.21, spatial 26.35, fusion 0.28 (total 33.84)"
        in out
    )
    assert "peak memory:" in out


def quick_forward_flops() -> dict[str, int]:
    """The quick preset's forward FLOPs per pixel, counted by hand (2 per multiply-add) from the architecture."""
    bands, classes, emb, hidden, att = 103, 9, 16, 64, 32
    gru = 2 * bands * 2 * 3 * hidden * (emb + hidden)  # both directions, input and hidden GEMMs
    attention = 2 * bands * (2 * hidden * att + att) + 2 * bands * 2 * hidden
    spectral = gru + attention + 2 * 2 * hidden * classes
    conv1, conv2 = 2 * 4 * 32 * 25 * 27 * 27, 2 * 32 * 64 * 25 * 14 * 14
    spatial = 2 * 4 * 27 * 27 + conv1 + conv2 + 2 * 64 * 7 * 7 * 256 + 2 * 256 * classes
    fusion = 2 * (2 * classes * 256) + 2 * 512 * 256 + 2 * 256 * classes
    return {"spectral": spectral, "spatial": spatial, "fusion": fusion}


def test_bench_json(capsys):
    assert (
        main(["bench", "--presets", "quick", "--iterations", "1", "--size", "32x32", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    (quick,) = result["results"]
    assert result["shape"] == [32, 32] and result["bands"] == 103 and result["classes"] == 9
    assert result["gemm_gflops"]["float32"] > 0 and result["cpu"]
    assert quick["preset"] == "quick" and quick["train_pixels_per_second"] > 0
    assert quick["flops_per_pixel"] == pytest.approx(quick_forward_flops(), rel=1e-9)
    expected_efficiency = (
        3
        * sum(quick["flops_per_pixel"].values())
        * quick["train_pixels_per_second"]
        / (result["gemm_gflops"]["float32"] * 1e9)
    )
    assert quick["train_efficiency"] == pytest.approx(expected_efficiency)
    float32 = quick["inference"][0]
    assert (
        quick["scene_pixels"] == 1024
        and float32["precision"] == "float32"
        and float32["seconds"] > 0
    )
    assert 0 < float32["efficiency"] and quick["peak_memory_bytes"] > 0
    assert [run["precision"] for run in quick["inference"]][1:] == (
        ["bfloat16"] if "bfloat16" in result["gemm_gflops"] else []
    )


def test_set_values_are_parsed():
    assert parse_overrides(
        [
            "iterations=5",
            "lr=1e-3",
            "grad_clip=None",
            "attention_bias=true",
            "conv_channels=4,8",
            "mask_mode=residual",
        ]
    ) == {
        "iterations": 5,
        "lr": 0.001,
        "grad_clip": None,
        "attention_bias": True,
        "conv_channels": (4, 8),
        "mask_mode": "residual",
    }


def mismatched_mat(tmp_path: Path) -> str:
    path = tmp_path / "other.mat"
    write_mat_scene(path)
    return str(path)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "info", "nowhere"], "unknown scene 'nowhere'"),
        (["data", "info", "demo", "--split", "per-class:x"], "unknown split 'per-class:x'"),
        (["data", "info", "demo", "--split", "fixed:only-one.mat"], "needs two label-map files"),
        (["train", "--scene", "demo", "--set", "iterations"], "--set expects key=value"),
        (["train", "--scene", "demo", "--set", "wings=2"], "Unknown preset setting(s) ['wings']"),
        (["evaluate", "--checkpoint", "{tmp}/missing"], "model.json is missing"),
        (["compare", "--scene", "demo", "--models", "knn,gpt"], "unknown model(s) ['gpt']"),
        (["compare", "--scene", "demo", "--seeds", "a,b"], "seeds 'a,b'"),
        (["data", "info", "{tmp}/broken.mat"], "not a readable MAT file"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path):
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    code, out, err = run([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2
    assert err.startswith("ssan: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_evaluate_refuses_a_scene_the_model_does_not_fit(trained, tmp_path):
    folder, _, _ = trained
    code, _, err = run(
        ["evaluate", "--checkpoint", str(folder), "--scene", mismatched_mat(tmp_path)]
    )
    assert code == 2
    assert err.startswith(
        "ssan: error: this model was trained on scene 'demo' and does not fit scene 'other'"
    )
    assert "it has 10 bands, the model expects 103" in err and err.count("\n") == 1


def test_argparse_errors_return_2_without_traceback():
    code, _, err = run(["train", "--scene", "demo", "--model", "transformer"])
    assert code == 2 and "invalid choice: 'transformer'" in err and "Traceback" not in err
