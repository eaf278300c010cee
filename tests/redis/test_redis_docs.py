"""Every CACHE rule of the Redis analyzer has docs/rules/CODE.md with the five sections and its kebab name, and
every threshold a rule reads is documented on its page."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from analyzers.redis import rules

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
SECTIONS = ("What it finds", "Why it matters", "Evidence used", "How to fix", "Thresholds and their source")
RULES = (rules.cache004_no_maxmemory, rules.cache005_eviction_policy, rules.cache006_keys_without_ttl,
         rules.cache007_big_keys, rules.cache008_evictions, rules.cache009_memory_near_maxmemory)


def _source_with_helpers(fn) -> str:
    """The rule's source plus the helpers it calls that read thresholds."""
    src = inspect.getsource(fn)
    if "recommend_maxmemory_mb" in src:
        src += inspect.getsource(rules.recommend_maxmemory_mb)
    return src


def test_pages_have_the_sections_and_the_rule_names():
    for fn in RULES:
        src = inspect.getsource(fn)
        code = re.search(r'rule="(CACHE\d{3})"', src).group(1)
        name = re.search(r'name="([a-z0-9-]+)"', src).group(1)
        assert code == fn.__name__[:8].upper()
        text = (DOCS / f"{code}.md").read_text()
        assert text.startswith(f"# {code} {name}\n"), code
        for section in SECTIONS:
            assert f"## {section}" in text, f"{code}.md: no '## {section}'"


def test_thresholds_are_documented_where_they_are_read():
    documented = set()
    for fn in RULES:
        code = fn.__name__[:8].upper()
        text = (DOCS / f"{code}.md").read_text()
        for name in re.findall(r'_t\(settings, "(\w+)"\)', _source_with_helpers(fn)):
            assert f"`{name}`" in text, f"{code}.md does not document threshold {name}"
            documented.add(name)
    assert documented == {name for name, _, _ in rules.THRESHOLDS}
