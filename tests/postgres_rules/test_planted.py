"""The rules beyond indexes on a real PostgreSQL with planted cases (planted.py), read the way a user reads the
report; each fix is applied to the real database and checked to work."""

from __future__ import annotations

import json
import re

import psycopg
import pytest

from advisor import pipeline
from advisor.config import Settings
from analyzers.postgres.statements import first_keyword
from tests.postgres_rules.conftest import analyse, findings


def one(report, fid):
    found = [f for f in report["findings"] if f["id"] == fid]
    assert found, f"{fid} not in {[f['id'] for f in report['findings']]}"
    return found[0]


def explain_json(dsn: str, query: str, params: tuple, work_mem: str | None = None) -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        conn.execute("SET max_parallel_workers_per_gather = 0")  # one Sort node to read
        if work_mem:
            conn.execute(f"SET work_mem = '{work_mem}'")
        doc = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params).fetchone()[0]
    return doc[0]["Plan"]


def sort_node(plan: dict) -> dict:
    if plan["Node Type"] == "Sort":
        return plan
    return next(sort_node(p) for p in plan.get("Plans", []) if "Sort" in json.dumps(p))


def test_n_plus_one_names_both_statements_and_its_one_query_form_returns_the_same_rows(planted_report, planted_dsn):
    report, _, _, _, counts = planted_report
    (f,) = findings(report, "PG007")
    assert f["id"] == "PG007:public.orders->public.order_lines(order_id)"
    parent, child = f["evidence"]["statements"]
    assert parent["role"] == "parent" and "FROM orders WHERE customer_id = $1" in parent["query"]
    assert child["role"] == "child" and "FROM order_lines WHERE order_id = $1" in child["query"]
    assert (parent["calls"], parent["rows"], child["calls"]) == (
        counts["parent_calls"], counts["parent_rows"], counts["child_calls"])
    assert f["evidence"]["ratio_child_calls_to_parent_rows"] == pytest.approx(1.0)
    assert f["evidence"]["span"] == "cumulative" and "order_lines_order_id_fkey" in f["evidence"]["link"]
    assert f["confidence"] == "estimated" and f["action"]["kind"] == "code_change"
    assert "JOIN FETCH" in f["action"]["code"] and "IN (:ids)" in f["action"]["code"]
    assert f["impact"]["before"] == pytest.approx(10 * f["impact"]["after"], rel=0.01)
    # the look-alike (customers looked up by their own ids, 150 times) is not an N+1
    assert not any("FROM customers" in s["query"] for x in findings(report, "PG007")
                   for s in x["evidence"]["statements"])
    # the advised one-query form returns exactly the rows of the N queries
    one_query = next(line for line in f["action"]["code"].splitlines() if "= ANY($1)" in line)
    dsn = planted_dsn[0]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        ids = [r[0] for r in conn.execute("SELECT id FROM orders WHERE customer_id = 42").fetchall()]
        each = sorted(row for i in ids for row in conn.execute(
            "SELECT product, qty FROM order_lines WHERE order_id = %s ORDER BY id", (i,)).fetchall())
        once = sorted(conn.execute(one_query.replace("$1", "%s"), (ids,)).fetchall())
    assert len(ids) == 10 and once == each and len(once) == 30


def test_a_spilling_sort_gets_the_work_mem_that_keeps_it_in_memory(planted_report, planted_dsn):
    report = planted_report[0]
    (f,) = findings(report, "PG008")
    (stmt,) = f["evidence"]["statements"]
    assert "FROM events WHERE kind = $1 ORDER BY payload" in stmt["query"] and stmt["temp_bytes_per_call"] > 0
    assert f["confidence"] == "verified" and stmt["basis"].startswith("measured")
    value = f["evidence"]["recommended_work_mem"]
    assert re.fullmatch(r"\d+MB", value) and f"work_mem = '{value}'" in f["action"]["sql"]
    # this machine's memory is known (loopback): server-wide when the value fits pgtune's budget (24 GB here:
    # ~40 MB), else for the transaction (the workload's only role runs all of it)
    budget = f["evidence"]["server_budget_bytes"]
    fits = budget >= int(value.removesuffix("MB")) * 1024 ** 2
    assert budget > 0 and f["evidence"]["scope"] == ("server" if fits else "transaction")
    query = "SELECT id, payload FROM events WHERE kind = %s ORDER BY payload"
    dsn = planted_dsn[0]
    assert sort_node(explain_json(dsn, query, ("click",)))["Sort Space Type"] == "Disk"
    assert sort_node(explain_json(dsn, query, ("click",), work_mem=value))["Sort Space Type"] == "Memory"


def test_without_explain_analyze_the_work_mem_is_estimated_from_the_plan_and_still_enough(planted_dsn, tmp_path):
    report, snapshot = analyse(planted_dsn[0], tmp_path, explain_analyze=False)
    assert snapshot["postgres"]["explain_analyze"] == {"enabled": False}
    assert not findings(report, "PG009")
    assert any("--explain-analyze" in n for n in report["notes"])
    (f,) = findings(report, "PG008")
    assert f["confidence"] == "estimated" and "--explain-analyze" in f["detail"]
    plan = explain_json(planted_dsn[0], "SELECT id, payload FROM events WHERE kind = %s ORDER BY payload",
                        ("view",), work_mem=f["evidence"]["recommended_work_mem"])
    assert sort_node(plan)["Sort Space Type"] == "Memory"


def test_stale_statistics_dead_rows_and_the_misestimate_they_cause(planted_report):
    report = planted_report[0]
    stale = one(report, "PG013:public.tickets")
    assert stale["evidence"]["n_mod_since_analyze"] >= 150_000 and stale["evidence"]["read_by_analysed_statements"]
    assert "autovacuum_enabled = false" in stale["detail"]
    assert stale["action"]["sql"].endswith("ANALYZE public.tickets;") and "RESET (autovacuum_enabled)" in stale[
        "action"]["sql"]
    dead = one(report, "PG012:public.tickets")
    assert dead["evidence"]["n_dead_tup"] == 50_000 and "VACUUM (ANALYZE) public.tickets;" in dead["action"]["sql"]
    mis = one(report, "PG009:public.tickets(status):stale_statistics")
    (row,) = mis["evidence"]["statements"]
    assert row["parameter_values"] == ["old"] and row["actual_rows"] == 2000 and row["factor"] >= 10
    assert mis["action"]["sql"] == "ANALYZE public.tickets;"


def test_correlated_columns_misestimate_names_create_statistics(planted_report):
    f = one(planted_report[0], "PG009:public.people(city,zip):correlated_columns")
    (row,) = f["evidence"]["statements"]
    city, zip_code = (int(v) for v in row["parameter_values"])
    assert zip_code // 10 == city  # a combination that exists, not two unrelated pg_stats values
    assert row["actual_rows"] >= 20 * row["plan_rows"] and row["factor"] >= 20
    assert f["action"]["sql"].startswith("CREATE STATISTICS IF NOT EXISTS public.people_city_zip_stats "
                                         "(dependencies, ndistinct) ON city, zip FROM public.people;")


def test_applying_the_statistics_fixes_removes_the_misestimates(planted_report, planted_dsn, tmp_path):
    report = planted_report[0]
    dsn = planted_dsn[0]
    fixes = [f["action"]["sql"] for f in report["findings"] if f["rule"] in ("PG009", "PG013")
             and f["action"].get("sql")]
    assert len(fixes) >= 3
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        for sql in fixes:
            conn.execute(sql)
    again, _ = analyse(dsn, tmp_path)
    assert not findings(again, "PG009"), [f["title"] for f in findings(again, "PG009")]
    assert not findings(again, "PG013")
    assert findings(again, "PG012")  # ANALYZE does not remove dead rows: only VACUUM does


def test_a_table_scanned_by_sql_no_statement_shows_is_named(planted_report):
    report = planted_report[0]
    f = one(report, "PG010:public.audit_blob")
    assert f["evidence"]["seq_scan"] >= 60 and f["evidence"]["rows_per_scan"] == 20_000
    assert f["evidence"]["rows_read_per_hour"] >= 1_000_000 and "functions" in f["detail"]
    # audit_open is scanned as often, but an analysed statement's plan explains it (PG006 speaks for it)
    assert not any(x["id"] == "PG010:public.audit_open" for x in report["findings"])
    assert any(x["id"] == "PG006:public.audit_open.note" for x in report["findings"])


def test_jit_on_short_statements(planted_report):
    f = one(planted_report[0], "PG014:jit")
    assert any("FROM numbers" in s["query"] for s in f["evidence"]["statements"])
    assert f["impact"]["after"] < f["impact"]["before"] / 2 and "SET jit = off" in f["action"]["sql"]


def test_explain_analyze_runs_only_selects_and_changes_nothing(planted_report):
    report, snapshot, before, after, _ = planted_report
    assert before == after
    pg = snapshot["postgres"]
    ea = pg["explain_analyze"]
    queries = {s["queryid"]: s["query"] for s in pg["statements"]}
    ran = [queries[e["queryid"]] for e in ea["statements"]]
    assert ran and all(first_keyword(q) in ("select", "with") for q in ran)
    reasons = {queries[s["queryid"]]: s["reason"] for s in ea["skipped"]}
    assert [r for q, r in reasons.items() if q.startswith("UPDATE scratch")] == ["not a SELECT (UPDATE)"]
    assert reasons["DELETE FROM scratch WHERE id = $1"] == "not a SELECT (DELETE)"
    assert "DELETE in a WITH clause" in reasons[
        "WITH d AS (DELETE FROM scratch WHERE id = $1 RETURNING id) SELECT count(*) FROM d"]
    assert "FOR UPDATE" in reasons["SELECT v FROM scratch WHERE id = $1 FOR UPDATE"]
    errors = {queries[e["queryid"]]: e.get("error") for e in ea["statements"]}
    assert errors["SELECT log_visit(v) FROM scratch WHERE id = $1"] == \
        "cannot execute INSERT in a read-only transaction"
    assert errors["SELECT next_ticket() FROM scratch WHERE id = $1"] == \
        "cannot execute nextval() in a read-only transaction"
    cov = report["coverage"]["postgres"]["explain_analyze"]
    assert cov["ran"] >= 8 and cov["failed"] == 2 and cov["skipped"] >= 4


def test_snapshot_replays_and_thresholds_change_the_verdicts(planted_report):
    report, snapshot = planted_report[0], planted_report[1]
    replay = pipeline.analyze(json.loads(json.dumps(snapshot, default=str)), Settings())
    mine = re.compile(r"PG0(0[7-9]|1[0-4])")
    assert sorted(f["id"] for f in replay["findings"] if mine.match(f["rule"])) == \
        sorted(f["id"] for f in report["findings"] if mine.match(f["rule"]))
    strict = Settings(thresholds={"postgres": {"nplus1_min_calls": 1000, "misestimate_factor": 1000.0,
                                               "seq_scans_per_hour": 1e9}})
    pipeline.check_thresholds(strict)
    quiet = pipeline.analyze(snapshot, strict)
    assert not [f for f in quiet["findings"] if f["rule"] in ("PG007", "PG009", "PG010")]
