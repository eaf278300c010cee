"""The LOAD rule pages and docs/loadtest.md stay in step with advisor/load/rules.py; the compare schema is a valid
JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from advisor.load import rules

from .conftest import LENIENT

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("## What it finds", "## Why it matters", "## Evidence used", "## How to fix",
            "## Thresholds and their source")


def _codes() -> list[tuple[str, str]]:
    facts = rules.RunFacts(users_target=1, users_max=1, users_mean_steady=1.0, spawn_complete_s=1.0,
                           workers_expected=1, workers_at_start=1, workers_lost=(), steady_s=60.0, warmup_s=5.0,
                           steady_requests=100, steady_failures=0)
    return [(c["rule"], c["name"]) for c in rules.evaluate(facts)["checks"]]


def test_every_rule_has_its_page_with_the_house_sections():
    for code, name in _codes():
        text = (ROOT / "docs" / "rules" / f"{code}.md").read_text()
        assert text.startswith(f"# {code} {name}\n"), code
        positions = [text.index(s) for s in SECTIONS]
        assert positions == sorted(positions), code


def test_every_threshold_is_documented_with_its_toml_name():
    pages = "".join((ROOT / "docs" / "rules" / f"{code}.md").read_text() for code, _ in _codes())
    for name, default, _source in rules.THRESHOLDS:
        assert f"`{name}`" in pages, name
        row = re.search(rf"\| `{name}` \| ([^|]+) \|", pages)
        assert row and float(row.group(1)) == float(default), name
    for name in re.findall(r"^(\w+) = ", LENIENT, re.M):
        assert name in {n for n, _, _ in rules.THRESHOLDS}


def test_the_load_guide_lists_every_rule_and_the_run_directory():
    guide = (ROOT / "docs" / "loadtest.md").read_text()
    for code, name in _codes():
        assert f"| {code} | {name} |" in guide
    for name in ("run.json", "histograms.json", "windows.jsonl", "timeseries.csv", "generator.csv", "locust/"):
        assert name in guide


def test_compare_schema_is_a_valid_json_schema():
    schema = json.loads((ROOT / "docs" / "compare.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
