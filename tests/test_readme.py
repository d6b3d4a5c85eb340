"""The README is the front door: its set-up commands are the ones CI runs, and each section appears once."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_section_heading_appears_once():
    headings = re.findall(r"^#{1,3} .+$", README, flags=re.MULTILINE)
    repeated = [h for h, n in Counter(headings).items() if n > 1]
    assert not repeated, f"README sections written twice: {repeated}"


def test_the_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "python -m pytest"
    assert "python -m pytest" in README and "streamlit run app.py" in README
    for requirements in re.findall(r"requirements[\w-]*\.txt", "\n".join(ci)):
        assert (ROOT / requirements).is_file()
        assert requirements in README, (
            f"CI installs {requirements}; the README's set-up does not say so"
        )
