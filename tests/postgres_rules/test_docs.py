"""Every rule beyond indexes (PG007–PG015) has docs/rules/CODE.md with the five sections and its kebab name,
and every threshold a rule reads is documented on the page of a rule that reads it."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import analyzers.pgrequests as pgrequests
from analyzers import postgres
from analyzers.postgres import buffers, health, misestimates, nplus1, scans, settings_rules, spills

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
SECTIONS = ("What it finds", "Why it matters", "Evidence used", "How to fix", "Thresholds and their source")
MODULES = (nplus1, spills, misestimates, scans, buffers, health, settings_rules, pgrequests)
#: Thresholds read while collecting (collect.py → explain_analyze.py), and the pages that document them.
COLLECT_THRESHOLDS = {"explain_analyze_max_statements": "PG009", "explain_analyze_budget_s": "PG009",
                      "probe_work_mem_max_mb": "PG008"}


def rules_of(module) -> list[tuple[str, str]]:
    return re.findall(r'rule="(PG\d{3})", name="([a-z0-9-]+)"', inspect.getsource(module))


def test_pages_have_the_sections_and_the_rule_names():
    seen = set()
    for module in MODULES:
        for code, name in rules_of(module):
            text = (DOCS / f"{code}.md").read_text()
            assert text.startswith(f"# {code} {name}\n"), code
            for section in SECTIONS:
                assert f"## {section}" in text, f"{code}.md: no '## {section}'"
            seen.add(code)
    assert seen == {f"PG{n:03d}" for n in range(7, 16)}


def test_thresholds_are_documented_where_they_are_read():
    documented = set()
    for module in MODULES:
        pages = " ".join((DOCS / f"{code}.md").read_text() for code, _ in rules_of(module))
        for name in set(re.findall(r'th\["(\w+)"\]', inspect.getsource(module))):
            assert f"`{name}`" in pages, f"{module.__name__}: threshold {name} is not on its page"
            documented.add(name)
    # analyzers.postgres.collect is the package's collect() function; the module is read from sys.modules
    src = inspect.getsource(importlib.import_module("analyzers.postgres.collect"))
    for name, code in COLLECT_THRESHOLDS.items():
        assert f'"{name}"' in src and f"`{name}`" in (DOCS / f"{code}.md").read_text()
        documented.add(name)
    index_rules = {"time_budget_s", "workload_share", "max_statements", "min_cost_savings_pct", "max_new_indexes",
                   "max_index_columns", "storage_budget_mb"}
    assert documented == {n for n, _, _ in postgres.THRESHOLDS} - index_rules | {
        n for n, _, _ in pgrequests.THRESHOLDS}
