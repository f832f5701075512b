"""The README is a front door and docs/ the manual: every relative link and image resolves
to a file, every page has its guide, and every page links to it under its title."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app_pages.common.guide import guide_markdown
from app_pages.registry import PAGES

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
# [text](target) and ![alt](target); the target ends at the first space (a title may follow) or ")"
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCREENSHOTS = ["playground.png", "vanishing.png", "autoencoders.png", "attention.png"]


def _relative_targets(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)  # code blocks hold no links
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_resolves(path):
    missing = [t for t in _relative_targets(path) if not (path.parent / t.split("#")[0]).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


def test_the_link_check_sees_links():
    targets = _relative_targets(ROOT / "README.md")
    assert any(t.startswith("docs/pages/") for t in targets)
    assert all(f"docs/images/{name}" in targets for name in SCREENSHOTS)


def test_readme_is_a_short_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 220, f"README.md has {len(lines)} lines; the manual belongs in docs/"
    head = "\n".join(lines[:60])
    assert "make run" in head and "make test" in head  # the two commands come first


def test_every_page_has_a_guide_and_the_readme_links_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in PAGES:
        guide = ROOT / "docs" / "pages" / f"{page.url_path}.md"
        assert guide.is_file(), f"no guide for the {page.title} page: {guide.relative_to(ROOT)}"
        assert guide.read_text(encoding="utf-8").startswith("# ")
        assert f"docs/pages/{page.url_path}.md" in readme, page.title


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.url_path)
def test_every_page_links_to_its_own_guide_under_its_title(page):
    tree = ast.parse((ROOT / page.path).read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "page_title"]
    assert len(calls) == 1, f"{page.path} draws its title with page_title(title, guide) once"
    assert ast.literal_eval(calls[0].args[1]) == page.url_path
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "title"
                and getattr(n.value, "id", "") == "st"], "the title is drawn by page_title, with its Guide link"


def test_the_guide_dialog_drops_images_and_links_into_the_repository():
    text = guide_markdown("playground")
    assert text.startswith("# ")
    assert "](../" not in text and "![" not in text
    assert "README" in text  # the link back to the README is kept as its text
