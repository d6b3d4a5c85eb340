"""The README's library snippet runs as printed, so it cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "## Use it from Python"


def readme_snippet(text: str) -> str | None:
    """The first fenced ```python block after the heading `HEADING` (before the next heading), or None."""
    start = text.find(f"\n{HEADING}\n")
    if start < 0:
        return None
    section = re.split(r"\n## ", text[start + len(HEADING) + 1 :], maxsplit=1)[0]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return match.group(1) if match else None


def test_the_snippet_is_found_after_its_heading():
    text = f"# x\n\n{HEADING}\n\nSome words.\n\n```python\nprint(1)\n```\n\n## Next\n```python\nx\n```\n"
    assert readme_snippet(text) == "print(1)\n"
    assert readme_snippet("# x\n\n## Other\n```python\nx\n```\n") is None


def test_the_readme_library_snippet_runs(tmp_path, monkeypatch, capsys):
    snippet = readme_snippet(README.read_text(encoding="utf-8"))
    if snippet is None:
        pytest.skip(f"README.md has no {HEADING!r} section with a ```python block yet")
    monkeypatch.chdir(tmp_path)  # the snippet writes runs/...; keep it out of the repository
    exec(compile(snippet, "README.md (Use it from Python)", "exec"), {"__name__": "__readme__"})
    assert "OA" in capsys.readouterr().out, "the snippet prints the test metrics"
