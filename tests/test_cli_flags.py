"""Flags that only pass a setting through: they reach the collectors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import cli

pytestmark = pytest.mark.slow


def test_explain_analyze_flag_runs_the_selects_read_only(pgshop_dsn, tmp_path):
    res = CliRunner().invoke(cli, ["analyze", "--pg", pgshop_dsn, "--explain-analyze", "--out", str(tmp_path), "-q"])
    assert res.exit_code == 0, res.output
    ea = json.loads((tmp_path / "snapshot.json").read_text())["postgres"]["explain_analyze"]
    assert ea["enabled"] is True and ea["statements"], ea.keys()


def test_explain_statement_prints_what_the_index_advisor_saw(analyzed, pgshop_dsn, tmp_path):
    report = analyzed[0]
    entry = next(s for s in report["coverage"]["postgres"]["statements"] if s.get("status") == "analysed")
    res = CliRunner().invoke(cli, ["analyze", "--pg", pgshop_dsn, "--out", str(tmp_path), "-q",
                                   "--explain-statement", str(entry["queryid"])])
    assert res.exit_code == 0, res.output
    assert f"statement {entry['queryid']}:" in res.output and "status: analysed" in res.output
    missing = CliRunner().invoke(cli, ["analyze", "--pg", pgshop_dsn, "--out", str(tmp_path / "b"), "-q",
                                       "--explain-statement", "12345"])
    assert missing.exit_code == 2 and "--explain-statement 12345: no statement with that queryid" in missing.output


def test_fail_on_new_needs_a_baseline(tmp_path):
    res = CliRunner().invoke(cli, ["analyze", "--fail-on-new", "high", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--fail-on-new needs --baseline-report" in res.output
