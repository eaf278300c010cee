"""Session fixtures: a real throwaway PostgreSQL 15 cluster (pg_stat_statements + HypoPG) with the pgshop
sample loaded and its workload run through real client connections."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import jsonschema
import psycopg
import pytest

from advisor.pgcluster import TempCluster

PG_PORT = int(os.environ.get("PERFADVISOR_TEST_PG_PORT", "24501"))  # below the ephemeral port range (32768-60999), so no client socket holds it
#: 0.5 → 600k order items: big enough that the planted indexes matter, quick enough for CI.
TEST_SCALE = float(os.environ.get("PERFADVISOR_TEST_SCALE", "0.5"))
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_cluster():
    base = Path(tempfile.mkdtemp(prefix="perfadvisor-pg-"))
    os.chmod(base, 0o755)
    cluster = TempCluster(base / "data", PG_PORT)
    cluster.start()
    cluster.wait_ready()
    yield cluster
    cluster.stop(remove=True)


@pytest.fixture(scope="session")
def pgshop_dsn(pg_cluster):
    from sample_workloads.pgshop import workload
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE pgshop")
    dsn = pg_cluster.dsn("pgshop")
    workload.load(dsn, TEST_SCALE)
    workload.run(dsn, TEST_SCALE, iterations=400)
    return dsn


def validate_report(out_dir: Path) -> dict:
    """Load DIR/report.json and validate it against docs/report.schema.json."""
    report = json.loads((out_dir / "report.json").read_text())
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    return report


@pytest.fixture(scope="session")
def analyzed(pgshop_dsn, tmp_path_factory):
    """(report dict, snapshot dict, out dir) of `perfadvisor analyze` on the pgshop workload, via the CLI."""
    from click.testing import CliRunner

    from advisor.cli import cli
    out = tmp_path_factory.mktemp("report")
    # Every statement is analysed (not just the top 95% of time), so that cheap planted statements count.
    config = out / "perfadvisor.toml"
    config.write_text("[targets.postgres]\ndsn = \"${PGSHOP_TEST_DSN}\"\n\n"
                      "[thresholds.postgres]\nworkload_share = 1.0\n")
    os.environ["PGSHOP_TEST_DSN"] = pgshop_dsn
    res = CliRunner().invoke(cli, ["analyze", "--config", str(config), "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return validate_report(out), json.loads((out / "snapshot.json").read_text()), out, res.output
