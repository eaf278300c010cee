"""End to end on a real PostgreSQL: the pgshop workload, analysed through the CLI.

Each planted problem of sample_workloads/pgshop is asserted the way a user reads the report.
"""

from __future__ import annotations

import psycopg


def findings(report, rule=None):
    return [f for f in report["findings"] if rule is None or f["rule"] == rule]


def by_id(report, fid):
    found = [f for f in report["findings"] if f["id"] == fid]
    assert found, f"{fid} not in {[f['id'] for f in report['findings']]}"
    return found[0]


def test_missing_two_column_index_equality_then_range(analyzed):
    report, _, _, output = analyzed
    f = by_id(report, "PG001:public.orders(customer_id,created_at)")
    assert f["confidence"] == "verified" and f["severity"] in ("critical", "high")
    assert f["index"]["columns"] == ["customer_id", "created_at"]
    assert f["action"]["sql"] == "CREATE INDEX CONCURRENTLY ON public.orders (customer_id, created_at);"
    stmts = f["evidence"]["statements"]
    # one index serves several statements, including the one pg_stat_statements wrote as `interval $2`
    assert len(stmts) >= 2
    assert any("interval $" in s["query"] for s in stmts)
    for s in stmts:
        assert s["cost_after"] < s["cost_before"] / 2 and s["calls"] > 0 and s["mean_exec_time_ms"] > 0
    assert f["evidence"]["estimated_size_bytes"] > 0
    assert f["impact"]["metric"] == "exec_time_ms_per_hour" and f["impact"]["estimated"] is True
    assert f["impact"]["after"] < f["impact"]["before"]
    assert "orders(customer_id, created_at)" in output  # the printed summary shows the top finding


def test_order_by_limit_gets_equality_then_sort_index(analyzed):
    f = by_id(analyzed[0], "PG001:public.products(category_id,created_at)")
    assert "LIMIT" in f["evidence"]["statements"][0]["query"]


def test_join_through_unindexed_foreign_key(analyzed):
    report = analyzed[0]
    f = by_id(report, "PG001:public.order_items(order_id)")
    assert "JOIN order_items" in f["evidence"]["statements"][0]["query"]
    fk = by_id(report, "PG002:public.order_items.order_items_order_fk")
    assert fk["severity"] == "info" and "PG001:public.order_items(order_id)" in fk["detail"]
    # an unindexed foreign key that no statement joins on is still reported
    other = by_id(report, "PG002:public.order_items.order_items_product_fk")
    assert other["action"]["sql"].startswith("CREATE INDEX CONCURRENTLY ON public.order_items (product_id)")


def test_expression_index(analyzed):
    f = by_id(analyzed[0], "PG001:public.customers(lower(email))")
    assert "(lower(email))" in f["action"]["sql"]


def test_substring_search_gets_trigram_advice(analyzed):
    f = by_id(analyzed[0], "PG006:public.products.name")
    assert f["confidence"] == "heuristic" and "gin_trgm_ops" in f["action"]["sql"]
    assert "ILIKE" in f["evidence"]["statements"][0]["query"]
    # the generic plan's fixed LIKE selectivity is checked against a search term that occurs in the column
    stmt = next(s for s in analyzed[1]["postgres"]["statements"] if "ILIKE" in s["query"])
    pattern, limit = stmt["representative"]["values"]
    assert pattern.startswith("%") and pattern.endswith("%") and len(pattern) > 2 and limit == "20"
    assert stmt["representative"]["plan"]["total_cost"] > 0


def test_low_selectivity_column_gets_no_index(analyzed):
    report, snapshot, _, _ = analyzed
    assert not any("channel" in c for f in findings(report, "PG001") for c in f["index"]["columns"])
    # it was considered and costed, not skipped
    assert "public.orders(channel)" in snapshot["postgres"]["candidates"]


def test_statement_served_by_existing_index_gets_nothing(analyzed):
    report, snapshot, _, _ = analyzed
    assert not any(f["index"]["table"] == "products" and f["index"]["columns"] == ["sku"]
                   for f in findings(report) if f.get("index") and f["rule"] == "PG001")
    assert snapshot["postgres"]["already_indexed"].get("public.products(sku)") == "products_sku_key"


def test_duplicate_superseded_and_unused_indexes(analyzed):
    report = analyzed[0]
    dup = by_id(report, "PG003:public.customers_country_idx2")
    assert dup["action"] == {"kind": "drop_index", "sql": "DROP INDEX CONCURRENTLY public.customers_country_idx2;"}
    assert dup["index"]["name"] == "customers_country_idx2"
    sup = by_id(report, "PG004:public.orders_status_idx")
    assert sup["evidence"]["superseded_by"] == "orders_status_created_idx"
    unused = by_id(report, "PG005:public.products_price_idx")
    # the statistics are minutes old: worth mentioning, not acting on
    assert unused["severity"] == "info" and unused["confidence"] == "heuristic"
    assert "wait for at least 7.0 days" in unused["detail"]
    # the indexes PG003/PG004 tell the user to keep are not proposed for dropping themselves
    dropped = {f["index"]["name"] for f in findings(report) if f["action"]["kind"] == "drop_index"}
    assert not dropped & {"orders_status_created_idx", "customers_country_idx"}


def test_unused_index_is_verified_after_a_week_of_statistics(analyzed, tmp_path):
    import json
    snap = json.loads((analyzed[2] / "snapshot.json").read_text())
    snap["postgres"]["collected_at"] = "2099-01-01T00:00:00Z"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(snap))
    from advisor import run
    from advisor.config import Settings
    report = run.analyze_command(Settings(), tmp_path / "out", str(path), echo=lambda s: None).report
    unused = by_id(report, "PG005:public.products_price_idx")
    assert unused["confidence"] == "verified" and unused["severity"] == "low"
    assert unused["action"]["sql"] == "DROP INDEX CONCURRENTLY public.products_price_idx;"


def test_never_drops_constraint_backed_or_used_indexes(analyzed):
    report, snapshot, _, _ = analyzed
    dropped = {f["index"]["name"] for f in findings(report) if f["action"]["kind"] == "drop_index"}
    pg = snapshot["postgres"]
    audit_pk = next(i for i in pg["indexes"] if i["name"] == "audit_log_pkey")
    assert audit_pk["idx_scan"] == 0  # unused, yet it backs a primary key
    protected = {i["name"] for i in pg["indexes"] if i["constraint_type"] in ("p", "u", "x") or i["is_unique"]}
    used = {n for s in pg["statements"] for n in (s.get("plan") or {}).get("indexes_used", [])}
    assert "products_sku_key" in used
    assert not dropped & (protected | used)


def test_statement_that_cannot_be_explained_is_reported_with_its_share(analyzed):
    report, snapshot, out, _ = analyzed
    cov = report["coverage"]["postgres"]
    temp = [u for u in cov["unanalysed"] if "cart_tmp" in u["query"]]
    if not temp:  # the temp-table statement may fall below the 95% cut; then it must be counted there
        assert cov["below_cut_share"] > 0
    else:
        assert 'relation "cart_tmp" does not exist' in temp[0]["reason"] and temp[0]["share"] > 0
    assert 0 < cov["analysed_share"] < 1
    html = (out / "report.html").read_text()
    assert "What was analysed" in html and f"{100 * cov['analysed_share']:.1f}%" in html
    # arithmetic on two placeholders (`$2 + $3`) is typed from the column it is compared with
    arith = [s for s in snapshot["postgres"]["statements"] if "+ $" in s["query"]]
    assert arith and all(s["status"] == "analysed" for s in arith)


def test_reports_written_and_consistent(analyzed):
    report, _, out, _ = analyzed
    md = (out / "report.md").read_text()
    assert len(md) < 60_000 and "<details>" in md and "CREATE INDEX CONCURRENTLY" in md
    html = (out / "report.html").read_text()
    assert "<svg" in html and "<script" not in html
    assert html.count('class="finding"') == len(report["findings"])


def test_target_left_unchanged(pgshop_dsn, tmp_path):
    from click.testing import CliRunner

    from advisor.cli import cli
    q = "SELECT indexrelid::regclass::text, indisvalid FROM pg_index ORDER BY 1"
    with psycopg.connect(pgshop_dsn) as conn:
        before = conn.execute(q).fetchall()
        calls_before = conn.execute("SELECT sum(calls) FROM pg_stat_statements "
                                    "WHERE query NOT LIKE '%%perfadvisor%%'").fetchone()[0]
    res = CliRunner().invoke(cli, ["analyze", "--pg", pgshop_dsn, "--out", str(tmp_path), "-q"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with psycopg.connect(pgshop_dsn) as conn:
        assert conn.execute(q).fetchall() == before
        # statistics were not reset
        after = conn.execute("SELECT sum(calls) FROM pg_stat_statements "
                             "WHERE query NOT LIKE '%%perfadvisor%%'").fetchone()[0]
        assert after >= calls_before
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == 0


def test_statement_timeout_and_read_only_session(pgshop_dsn):
    from analyzers.postgres.collect import connect
    conn = connect(pgshop_dsn, 1234)
    try:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "1234ms"
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
        try:
            conn.execute("CREATE INDEX ON orders (channel)")
            raise AssertionError("a write succeeded in perfadvisor's session")
        except psycopg.errors.ReadOnlySqlTransaction:
            pass
    finally:
        conn.close()


def test_storage_budget_is_respected(pgshop_dsn, analyzed, tmp_path):
    from click.testing import CliRunner

    from advisor.cli import cli
    big = by_id(analyzed[0], "PG001:public.orders(customer_id,created_at)")["evidence"]["estimated_size_bytes"]
    budget_mb = 0.9 * big / 1048576  # too small for the most valuable index
    res = CliRunner().invoke(cli, ["analyze", "--pg", pgshop_dsn, "--out", str(tmp_path), "-q",
                                   "--storage-budget-mb", f"{budget_mb:.3f}"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    from tests.conftest import validate_report
    report = validate_report(tmp_path)
    chosen = [f for f in report["findings"] if f["rule"] == "PG001"]
    assert not any(f["id"] == "PG001:public.orders(customer_id,created_at)" for f in chosen)
    assert sum(f["evidence"]["estimated_size_bytes"] for f in chosen) <= budget_mb * 1048576
