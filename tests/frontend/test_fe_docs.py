"""Every FE…/CDN… rule has its docs/rules/CODE.md with the five sections, and every threshold name a rule
reads is documented there."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from analyzers.frontend import cdn, rules

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
SECTIONS = ("What it finds", "Why it matters", "Evidence used", "How to fix", "Thresholds and their source")


def _codes() -> dict[str, str]:
    """rule code → source text of the code that emits it."""
    out: dict[str, str] = {}
    for fn in rules.FE_RULES:
        out[fn.__name__[:5].upper()] = inspect.getsource(fn)
    src = inspect.getsource(cdn.run)
    for code in re.findall(r'"(CDN\d{3})"', src):
        out[code] = src
    return out


def test_every_rule_has_a_page_with_the_five_sections():
    codes = _codes()
    assert {"FE001", "FE002", "FE003", "FE004", "FE005", "CDN001", "CDN003", "CDN005"} <= set(codes)
    for code in codes:
        page = DOCS / f"{code}.md"
        assert page.is_file(), f"missing {page}"
        text = page.read_text()
        for s in SECTIONS:
            assert f"## {s}" in text, f"{page}: no '## {s}'"


def _names(src: str) -> set[str]:
    return {a or b for a, b in re.findall(r'_t\(settings, "(\w+)"|threshold\(AREA, "(\w+)"', src)}


def test_threshold_names_are_documented():
    for fn in rules.FE_RULES:
        code = fn.__name__[:5].upper()
        text = (DOCS / f"{code}.md").read_text()
        for name in _names(inspect.getsource(fn)):
            assert f"`{name}`" in text, f"{code}.md does not document threshold {name}"
    # cdn.run reads all CDN thresholds; each must be on one of the CDN pages
    cdn_pages = "".join(p.read_text() for p in DOCS.glob("CDN*.md"))
    names = _names(inspect.getsource(cdn.run))
    assert len(names) == 3
    for name in names:
        assert f"`{name}`" in cdn_pages, f"no CDN page documents threshold {name}"
