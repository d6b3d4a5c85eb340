"""Ray is optional: the app and the plain command line never import it, and `--ray` without it says
how to install it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ssan.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_the_plain_command_line_does_not_import_ray():
    code = (
        "import sys; from ssan.cli import main; assert main(['data', 'list']) == 0; "
        "import ssan.evaluation.compare, ssan.evaluation.metrics, ssan.bench, ssan.distributed.tiles, ssan.distributed.cluster; "
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_only_the_distributed_package_imports_ray():
    sources = [
        *REPO.glob("ssan/**/*.py"),
        REPO / "app.py",
        *REPO.glob("pages/*.py"),
        *REPO.glob("ui/**/*.py"),
    ]
    importers = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            if any(n == "ray" or n.startswith("ray.") for n in names):
                importers.add(path.relative_to(REPO).as_posix())
    assert importers and all(p.startswith("ssan/distributed/") for p in importers), importers
    assert "ssan/distributed/tiles.py" not in importers  # the tiling itself works without Ray


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--scene", "demo", "--models", "knn", "--ray"],
        [
            "predict",
            "--checkpoint",
            "assets/demo-ssan",
            "--out",
            "{tmp}/map.png",
            "--ray",
            "127.0.0.1:6379",
        ],
        ["bench", "--sweep"],
    ],
)
def test_ray_options_without_ray_say_how_to_install_it(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(
        sys.modules, "ray", None
    )  # `import ray` now fails as if it were not installed
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # restored after the test
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert (
        "needs Ray, which is not installed" in err and "pip install -r requirements-ray.txt" in err
    )


def test_ray_only_options_are_refused_without_ray(capsys):
    assert main(["compare", "--scene", "demo", "--ray-gpus-per-run", "1"]) == 2
    assert "--ray-gpus-per-run only applies with --ray" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", "x", "--out", "y.png", "--tile-rows", "8"]) == 2
    assert "--tile-rows only applies with --ray" in capsys.readouterr().err
