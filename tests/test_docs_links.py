"""The documentation holds together in a clone: every relative link and anchor of every Markdown file resolves, every
citation of the format reference (`ton-formats.md §3.5`) names a section of docs/ton-formats.md, and every chart id
a dashboard carries is in docs/chart-catalogue.md."""

import re
from collections import Counter
from pathlib import Path

import pytest

from dashboards.catalogue import DASHBOARDS

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", ".git", "node_modules", "bench", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
MARKDOWN = sorted(p for p in ROOT.rglob("*.md") if not SKIP_DIRS & set(p.relative_to(ROOT).parts))
SOURCES = sorted(
    p
    for suffix in ("*.py", "*.md", "*.txt", "*.yml")
    for p in ROOT.rglob(suffix)
    if not SKIP_DIRS & set(p.relative_to(ROOT).parts) and p.name != "ton-formats.md"
)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
CITATION = re.compile(r"ton-formats\.md((?:[\s,;]*(?:§|section\s+|and\s+)\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?)*)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but hyphens dropped, spaces as hyphens, -N for repeats."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    seen: Counter[str] = Counter()
    out = set()
    for _, title in HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        out.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return out


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    for target in links(page):
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        assert resolved.exists(), f"{page.relative_to(ROOT)}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), (
                f"{page.relative_to(ROOT)}: no heading for #{anchor} in {file or page.name}"
            )


def sections() -> set[str]:
    numbered = re.findall(r"^#{2,4}\s+(\d+(?:\.\d+)?)\.?\s", (ROOT / "docs" / "ton-formats.md").read_text(), re.M)
    return set(numbered)


def test_every_citation_of_the_format_reference_names_a_section_of_the_copy_in_docs() -> None:
    known = sections()
    assert {"0", "3.5", "5", "8.4", "10"} <= known
    cited = 0
    for path in SOURCES:
        for match in CITATION.finditer(path.read_text(errors="replace")):
            for number in re.findall(r"\d+(?:\.\d+)?", match.group(1)):
                cited += 1
                assert number in known, f"{path.relative_to(ROOT)} cites ton-formats.md §{number}: no such section"
    assert cited >= 20


def test_every_chart_id_of_the_dashboards_is_in_the_catalogue_copy() -> None:
    catalogue = set(re.findall(r"\b[A-Z]{3}-\d{2}\b", (ROOT / "docs" / "chart-catalogue.md").read_text()))
    ids = set()
    for dashboard in DASHBOARDS:
        for panel in dashboard.to_json()["panels"]:
            ids.update(re.findall(r"\b[A-Z]{3}-\d{2}\b", str(panel.get("description", "")) + str(panel.get("title"))))
            ids.update(re.findall(r"\b[A-Z]{3}-\d{2}\b", str(panel.get("catalogue_id", ""))))
    ids.update(re.findall(r"\b[A-Z]{3}-\d{2}\b", (ROOT / "dashboards" / "catalogue.py").read_text()))
    assert ids, "no chart ids found"
    assert ids <= catalogue, sorted(ids - catalogue)
