"""Fixtures: real reports of `perfadvisor analyze` on a pgshop database of our own in the session's cluster
(tests/conftest.py: pg_cluster), taken before and after real schema changes, so the diff is tested on what the
tool writes rather than on hand-made documents.

The shared `pgshop` database is never touched: the indexes added and dropped here are in DB.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.diff.cli import register
from sample_workloads.pgshop import workload
from tests.conftest import ROOT

DB = "perfadvisor_diff"
#: 0.1 → 40k orders: the planted missing indexes still dominate the workload's time, and a load takes seconds.
SCALE = 0.1
#: The planted equality + range index (sample_workloads/pgshop/README.md).
ORDERS_ID = "PG001:public.orders(customer_id,created_at)"


def perfadvisor_cli():
    """The `perfadvisor` click group with `diff` (advisor.diff.cli.register) added, as the lead will add it."""
    if "diff" not in cli.commands:
        register(cli)
    return cli


def invoke(args: list[str]):
    """Run `perfadvisor ARGS` in-process; (exit code, stdout+stderr)."""
    res = CliRunner().invoke(perfadvisor_cli(), args, catch_exceptions=False)
    return res.exit_code, res.output


def write_config(dsn: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    config = out / "perfadvisor.toml"
    config.write_text(f"[targets.postgres]\ndsn = \"{dsn}\"\n\n[thresholds.postgres]\nworkload_share = 1.0\n")
    return config


def analyze(dsn: str, out: Path) -> dict:
    """`perfadvisor analyze` on dsn into out; the report.json it wrote."""
    code, output = invoke(["analyze", "--config", str(write_config(dsn, out)), "--out", str(out), "-q"])
    assert code == 0, output
    return json.loads((out / "report.json").read_text())


def reset_statements(dsn: str) -> None:
    """This database's pg_stat_statements entries only (the shared pgshop's stay)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                     "WHERE datname = current_database()), 0)")


def execute(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def diff_dsn(pg_cluster):
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    dsn = pg_cluster.dsn(DB)
    workload.load(dsn, SCALE)
    execute(dsn, "ANALYZE")
    reset_statements(dsn)
    workload.run(dsn, SCALE, iterations=400)
    time.sleep(0.3)
    return dsn


@dataclass(frozen=True)
class Reports:
    """Directories of real reports, in the order they were taken."""

    base: Path       # the workload as planted
    rerun: Path      # analysed again, nothing changed
    indexed: Path    # after CREATE INDEX for ORDERS_ID
    dropped: Path    # that index dropped again: the missing index is back
    skewed: Path     # statistics reset, a workload dominated by one statement: shares (severities) move


@pytest.fixture(scope="session")
def reports(diff_dsn, tmp_path_factory):
    root = tmp_path_factory.mktemp("diff-reports")
    dirs = {name: root / name for name in Reports.__dataclass_fields__}
    base = analyze(diff_dsn, dirs["base"])
    analyze(diff_dsn, dirs["rerun"])
    orders = next(f for f in base["findings"] if f["id"] == ORDERS_ID)
    execute(diff_dsn, orders["action"]["sql"])
    analyze(diff_dsn, dirs["indexed"])
    with psycopg.connect(diff_dsn, autocommit=True) as conn:
        name = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders' "
                            "AND indexdef LIKE '%(customer_id, created_at)%'").fetchone()[0]
        conn.execute(f'DROP INDEX "{name}"')
    analyze(diff_dsn, dirs["dropped"])
    reset_statements(diff_dsn)
    skew(diff_dsn)
    time.sleep(0.3)
    analyze(diff_dsn, dirs["skewed"])
    return Reports(**dirs)


def skew(dsn: str) -> None:
    """A workload where one planted statement (products by category, missing products(category_id,
    created_at)) is most of the time and the orders statements a sliver."""
    by_name = {q.name: q for q in workload.QUERIES}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(300):
            conn.execute(by_name["products_by_category"].sql, (1 + i % 200,)).fetchall()
        for i in range(5):
            conn.execute(by_name["recent_orders_count"].sql, (1 + i,)).fetchall()


def load(path: Path) -> dict:
    return json.loads((path / "report.json").read_text())


def schema(name: str) -> dict:
    return json.loads((ROOT / "docs" / name).read_text())
