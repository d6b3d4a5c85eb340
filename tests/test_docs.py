"""The docs site builds strictly, and every public object its API reference documents has a docstring.

mkdocstrings leaves an undocumented object out silently (`show_if_no_docstring: false`), so the
second test is what makes a missing docstring fail.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API_PAGE = ROOT / "docs" / "api.md"


def documented_modules() -> list[str]:
    """The modules docs/api.md renders with mkdocstrings' `::: module` blocks."""
    return re.findall(r"^::: ([\w.]+)\s*$", API_PAGE.read_text(), flags=re.MULTILINE)


def public_objects(module_name: str) -> dict[str, object]:
    """The functions and classes a module makes public: its `__all__`, else those it defines."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module_name
        ]
    objects = {name: getattr(module, name) for name in names}
    return {
        name: obj
        for name, obj in objects.items()
        if inspect.isfunction(obj) or inspect.isclass(obj)
    }


def has_docstring(obj: object) -> bool:
    """Whether a function or class has a docstring of its own (not the one @dataclass writes)."""
    doc = (obj.__doc__ or "").strip()
    if dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
        return False
    return bool(doc)


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed")
def test_the_docs_site_builds_strictly(tmp_path: Path):
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr[-4000:]}"
    assert (tmp_path / "site" / "api" / "index.html").is_file()


def test_the_api_page_documents_the_public_api_and_its_modules():
    modules = documented_modules()
    assert "ssan" in modules
    assert len(modules) > 1


@pytest.mark.parametrize("module_name", documented_modules())
def test_every_documented_public_object_has_a_docstring(module_name: str):
    undocumented = [
        name for name, obj in public_objects(module_name).items() if not has_docstring(obj)
    ]
    assert not undocumented, f"{module_name}: public objects without a docstring: {undocumented}"
