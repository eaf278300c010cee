"""Session fixtures: the planted database (planted.py) in the session's throwaway cluster, its workload run
through real client connections, and `analyze` with --explain-analyze (through perfadvisor.toml's
``explain_analyze = true``) on it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import psycopg
import pytest

from advisor import pipeline
from advisor.config import build_settings
from tests.conftest import ROOT
from tests.postgres_rules import planted

DB = "planted_rules"


def analyse(dsn: str, out: Path, explain_analyze: bool = True, extra: str = "") -> tuple[dict, dict]:
    """(report, snapshot) of the postgres analyzer on `dsn`, every statement analysed; the report is validated
    against docs/report.schema.json."""
    out.mkdir(parents=True, exist_ok=True)
    config = out / "perfadvisor.toml"
    config.write_text(f"[targets.postgres]\ndsn = \"{dsn}\"\nexplain_analyze = {str(explain_analyze).lower()}\n\n"
                      f"[thresholds.postgres]\nworkload_share = 1.0\n{extra}")
    settings = build_settings(config, config_required=True)
    snapshot, errors = pipeline.collect(settings)
    assert not errors, errors
    report = pipeline.analyze(snapshot, settings)
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "snapshot.json").write_text(json.dumps(snapshot, indent=1, default=str))
    return report, snapshot


@pytest.fixture(scope="session")
def planted_dsn(pg_cluster):
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    dsn = pg_cluster.dsn(DB)
    planted.load(dsn)
    planted.reset_statistics(dsn)
    counts = planted.run(dsn)
    time.sleep(0.5)  # the workload's backends flush their table counters when they exit
    return dsn, counts


@pytest.fixture(scope="session")
def planted_report(planted_dsn, tmp_path_factory):
    """(report, snapshot, fingerprint before, fingerprint after, workload counts)."""
    dsn, counts = planted_dsn
    before = planted.fingerprint(dsn)
    report, snapshot = analyse(dsn, tmp_path_factory.mktemp("planted"))
    after = planted.fingerprint(dsn)
    return report, snapshot, before, after, counts


def findings(report: dict, rule: str) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == rule]
