"""The README is the front door: short, its set-up commands are the ones CI runs, and its links lead somewhere."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

APP_COMMAND = "pip install -r requirements.txt && streamlit run app.py"
TEST_COMMAND = (
    "pip install -r requirements.txt -r requirements-dev.txt -r requirements-ray.txt"
    " && python -m pytest"
)
MAX_LINES = 200


def bash_blocks(markdown: str) -> list[str]:
    """The bodies of the ```bash fenced blocks of a Markdown text."""
    return re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


def relative_links(markdown: str) -> list[str]:
    """Targets of the Markdown links and images that point inside the repository."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_every_section_heading_appears_once():
    headings = re.findall(r"^#{1,3} .+$", README, flags=re.MULTILINE)
    repeated = [h for h, n in Counter(headings).items() if n > 1]
    assert not repeated, f"README sections written twice: {repeated}"


def test_the_readme_is_a_front_door_not_a_notebook():
    lines = README.count("\n")
    assert lines <= MAX_LINES, (
        f"README has {lines} lines; move detail into docs/ (at most {MAX_LINES})"
    )


def test_the_two_setup_commands_are_given_verbatim_in_a_bash_block():
    commands = [
        line.split("#")[0].strip() for block in bash_blocks(README) for line in block.splitlines()
    ]
    assert APP_COMMAND in commands, f"the README's set-up must say: {APP_COMMAND}"
    assert TEST_COMMAND in commands, f"the README's set-up must say: {TEST_COMMAND}"


def test_the_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    pytest_lines = [
        line.strip() for line in ci.splitlines() if line.strip().startswith("python -m pytest")
    ]
    assert pytest_lines, "CI does not run python -m pytest, the README's test command"
    for requirements in set(re.findall(r"requirements[\w-]*\.txt", ci)):
        assert (ROOT / requirements).is_file()
        assert requirements in TEST_COMMAND, (
            f"CI installs {requirements}; the README's set-up does not say so"
        )


def test_every_relative_link_resolves_to_a_file():
    targets = relative_links(README)
    assert "docs/screenshots/spectral-attention.png" in targets
    missing = [t for t in targets if not (ROOT / unquote(t.split("#")[0])).is_file()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_no_internal_tracker_numbers():
    found = re.findall(r"\b[Ii]ssue \d+", README)
    assert not found, f"the README refers to internal tracker items: {found}"
