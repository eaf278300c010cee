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
