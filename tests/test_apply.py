"""`perfadvisor apply`: artifacts from real reports, migration.sql run twice on a real database, a failing
CREATE INDEX CONCURRENTLY cleaned up, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from advisor import apply as ap
from advisor.cli import cli
from advisor.errors import InputFileError
from analyzers.cache import rules as cache_rules

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_shop(pg_cluster, tmp_path_factory):
    """A fresh pgshop database at a small scale (this module creates indexes in it), analysed via the CLI."""
    from sample_workloads.pgshop import workload

    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS apply_test")
        conn.execute("CREATE DATABASE apply_test")
    dsn = pg_cluster.dsn("apply_test")
    workload.load(dsn, 0.1)
    workload.run(dsn, 0.1, iterations=150)
    out = tmp_path_factory.mktemp("apply-report")
    res = CliRunner().invoke(cli, ["analyze", "--pg", dsn, "--out", str(out), "-q"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return dsn, out


def _indexes(dsn: str) -> dict[str, bool]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
                                 "ON c.oid = i.indexrelid WHERE c.relname LIKE '%_pa_idx'").fetchall())


def test_migration_runs_twice_and_the_advice_is_then_gone(small_shop, tmp_path):
    dsn, report_dir = small_shop
    report = json.loads((report_dir / "report.json").read_text())
    creates = [f for f in report["findings"] if f["action"]["kind"] == "create_index" and f["severity"] != "info"]
    assert creates, "the sample's planted indexes give create_index findings"
    out = tmp_path / "apply"
    for _ in range(2):  # safe to run twice: IF NOT EXISTS
        res = CliRunner().invoke(cli, ["apply", str(report_dir), "--out", str(out), "--execute", "--pg", dsn])
        assert res.exit_code == 0, res.output
    sql = (out / "migration.sql").read_text()
    assert sql.count("CREATE INDEX CONCURRENTLY IF NOT EXISTS") >= len([f for f in creates if "PG006" not in f["rule"]])
    for f in creates:
        assert f"-- {f['id']}:" in sql
    made = _indexes(dsn)
    assert len(made) >= len(creates) and all(made.values()), made
    doc = json.loads((out / "apply.json").read_text())
    assert all(e["ok"] for e in doc["executed"]) and {ln["finding"] for ln in doc["lines"]} >= {f["id"] for f in creates}
    assert all(ln["expects"]["metric"] for ln in doc["lines"])
    again = tmp_path / "again"
    res = CliRunner().invoke(cli, ["analyze", "--pg", dsn, "--out", str(again), "-q"], catch_exceptions=False)
    after = json.loads((again / "report.json").read_text())
    still = {f["id"] for f in after["findings"] if f["rule"] == "PG001"} & {f["id"] for f in creates}
    assert not still, f"advice still given after applying it: {still}"


def test_a_failed_concurrent_build_leaves_no_invalid_index(small_shop, tmp_path):
    dsn, _ = small_shop
    f = {"id": "PG001:public.order_items(quantity,unit_price_cents)", "rule": "PG001", "severity": "high",
         "title": "t", "evidence": {}, "index": {"schema": "public", "table": "order_items",
                                                "columns": ["quantity", "unit_price_cents"], "name": None},
         "action": {"kind": "create_index",
                    "sql": "CREATE INDEX CONCURRENTLY ON public.order_items (quantity, unit_price_cents);"}}
    p = ap.plan({"findings": [f]})
    # A 1 ms statement_timeout cancels the build part-way: PostgreSQL leaves an INVALID index behind.
    (res,) = ap.execute(p, dsn, echo=lambda s: None, statement_timeout_ms=1)
    assert not res.ok and "INVALID index" in res.message and "dropped" in res.message
    assert ap.index_name(f) not in _indexes(dsn)


def test_properties_redis_lines_and_hints_from_findings():
    ttl, _ = cache_rules.cache001_ttl_too_short(
        cache_rules.CacheView("orders", 25, 975, 16.0, 60.0, False, 1.0, "test", "app.cache.ttl.orders"), None,
        {"target_hit_ratio": 0.8, "min_gets": 100, "min_window_ttls": 2, "max_ttl_s": 3600, "max_stale_share": 0.05})
    report = {"generated_at": "x", "findings": [
        ttl.to_dict(),
        {"id": "POOL001:db", "rule": "POOL001", "severity": "high", "title": "pool", "detail": "d", "evidence": {},
         "action": {"kind": "set_property", "property": "spring.datasource.hikari.maximum-pool-size", "value": 12}},
        {"id": "CACHE004:redis", "rule": "CACHE004", "severity": "high", "title": "no maxmemory", "detail": "d",
         "evidence": {}, "action": {"kind": "config", "redis_conf": ["maxmemory 256mb", "maxmemory-policy allkeys-lru"]}},
        {"id": "CDN001:x", "rule": "CDN001", "severity": "medium", "title": "gzip", "detail": "d", "evidence": {},
         "action": {"kind": "config", "file": "nginx.conf (server block)", "snippet": "gzip on;"}},
        {"id": "FE002:x", "rule": "FE002", "severity": "medium", "title": "lazy <Admin>", "detail": "d",
         "evidence": {}, "action": {"kind": "code_change", "file": "src/App.jsx", "snippet": "lazy(() => import('./Admin'))"}},
        {"id": "PG008:x", "rule": "PG008", "severity": "medium", "title": "spill", "detail": "d", "evidence": {},
         "action": {"kind": "config", "sql": "ALTER ROLE app SET work_mem = '64MB';"}},
        {"id": "PG005:x", "rule": "PG005", "severity": "info", "title": "unused", "detail": "d", "evidence": {},
         "action": {"kind": "drop_index", "sql": "DROP INDEX CONCURRENTLY public.x;"},
         "index": {"schema": "public", "table": "t", "name": "x", "columns": ["a"]}},
    ]}
    p = ap.plan(report)
    assert "PG005:x" not in p.used and any(s["id"] == "PG005:x" for s in p.skipped)
    out = Path(__import__("tempfile").mkdtemp())
    ap.write(p, report, out, "report.json")
    env = [ln for ln in (out / "spring.env").read_text().splitlines() if ln and not ln.startswith("#")]
    assert env == ["APP_CACHE_TTL_ORDERS=2m", "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=12"]
    assert all("=" in ln and " " not in ln.split("=")[0] for ln in env)  # KEY=VALUE, as env files take it
    props = (out / "application-perfadvisor.properties").read_text()
    assert "spring.datasource.hikari.maximum-pool-size=12" in props and "app.cache.ttl.orders=2m" in props
    assert "maxmemory 256mb\nmaxmemory-policy allkeys-lru" in (out / "redis.conf").read_text()
    assert "gzip on;" in (out / "nginx.conf").read_text() and "server {" in (out / "nginx.conf").read_text()
    hints = (out / "code-hints.md").read_text()
    assert "lazy <Admin>" in hints and "src/App.jsx" in hints
    assert "```sql\nALTER ROLE app SET work_mem = '64MB';\n```" in hints  # settings SQL is shown, never run
    p2 = ap.plan(report, only=("PG005",))
    assert p2.used == ["PG005:x"] and p2.statements()[0].text == "DROP INDEX CONCURRENTLY IF EXISTS public.x;"


def test_index_names_are_valid_and_stable():
    f = {"id": "PG001:public.a_very_long_table_name_for_orders(customer_id,created_at,lower(email))",
         "index": {"table": "A_very_long_table_name_for_orders", "columns": ["customer_id", "created_at DESC",
                                                                             "lower(email)"]}}
    name = ap.index_name(f)
    assert len(name) <= 63 and name == ap.index_name(f) and name.endswith("_pa_idx")
    assert all(ch.isalnum() or ch == "_" for ch in name)


def test_bad_input_is_one_line(tmp_path):
    runner = CliRunner()
    (tmp_path / "old.json").write_text(json.dumps({"schema_version": 0, "tool": {"name": "perfadvisor"},
                                                   "findings": []}))
    (tmp_path / "junk.json").write_text("{")
    for args, text in ([str(tmp_path / "old.json")], "schema_version 0 is not supported"), \
                      ([str(tmp_path / "junk.json")], "not a JSON report.json"), \
                      ([str(tmp_path / "none")], "cannot read it"):
        res = runner.invoke(cli, ["apply", *args, "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and text in res.output and "Traceback" not in res.output
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"schema_version": 1, "tool": {"name": "perfadvisor"}, "findings": []}))
    res = runner.invoke(cli, ["apply", str(good), "--only", "PG999", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "PG999" in res.output
    res = runner.invoke(cli, ["apply", str(good), "--execute", "--out", str(tmp_path / "o")],
                        env={"PERFADVISOR_PG_DSN": ""})
    assert res.exit_code == 2 and "--execute needs --pg" in res.output
    with pytest.raises(InputFileError):
        ap.load_report(tmp_path / "junk.json")
