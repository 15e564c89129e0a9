"""The documentation site's sources: the getting-started page is the README's two commands, and every
page is in the site's navigation (mkdocs build --strict, run by scripts/docs, checks the rest)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shell_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)]


def test_getting_started_is_the_readmes_two_commands() -> None:
    readme = shell_blocks((ROOT / "README.md").read_text())
    page = shell_blocks((ROOT / "docs" / "getting-started.md").read_text())
    two = ["pip install -e . && python -m cfut demo", "pip install -e '.[test]' && scripts/test"]
    assert readme[:2] == two, "the README's set-up commands"
    assert page[:2] == two, "the getting-started page opens with them, word for word"


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    listed = set(re.findall(r":\s*([\w.-]+\.md)\s*$", nav, re.M))
    assert pages == listed, f"pages not in mkdocs.yml's nav: {pages - listed}; missing pages: {listed - pages}"
