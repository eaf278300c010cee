"""Pure parts of the rules beyond indexes: the SELECT-only guard and parameter values of --explain-analyze
(fuzzed: they read statement text from outside), plan facts, N+1 matching, autovacuum triggers, and the
decisions that depend on what the snapshot knows (the server's memory, roles, the hit ratio)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.postgres import (
    buffers,
    health,
    misestimates,
    nplus1,
    planfacts,
    ruleutil,
    settings_rules,
    spills,
)
from analyzers.postgres.candidates import Catalog
from analyzers.postgres.explain_analyze import parameter_values, select_only_reason
from analyzers.postgres.statements import first_keyword

TH = {"nplus1_min_calls": 50, "nplus1_ratio_tolerance": 0.2, "nplus1_min_fanout": 2.0,
      "spill_min_temp_mb_per_hour": 1.0, "misestimate_factor": 10.0, "misestimate_min_rows": 100,
      "seq_scan_min_rows": 10000, "seq_scans_per_hour": 1000.0, "min_cache_hit_ratio": 0.99,
      "min_blocks_read_per_hour": 10000.0, "autovacuum_lag_factor": 2.0, "dead_tuple_share": 0.2,
      "dead_tuples_min": 10000, "stale_min_modified_rows": 1000, "oltp_max_mean_ms": 100.0, "jit_min_share": 0.1}
GB = 1024 ** 3


# --- the SELECT-only guard -----------------------------------------------------------------------------

@pytest.mark.parametrize("query, ok", [
    ("SELECT a FROM t WHERE b = $1", True),
    ("WITH x AS (SELECT 1) SELECT * FROM x", True),
    ("(SELECT 1) UNION (SELECT 2)", True),
    ("WITH x AS (UPDATE t SET a = $1 RETURNING *) SELECT * FROM x", False),
    ("WITH x AS (INSERT INTO t VALUES ($1) RETURNING *) SELECT * FROM x", False),
    ("SELECT a FROM t FOR UPDATE", False),
    ("SELECT a FROM t FOR NO KEY UPDATE SKIP LOCKED", False),
    ("SELECT a FROM t FOR SHARE", False),
    ("SELECT * INTO copy FROM t", False),
    ("SELECT 1; DELETE FROM t", False),
    ("DELETE FROM t WHERE id = $1", False),
    ("UPDATE t SET a = 1", False),
    ("TABLE t", False),
    ("EXPLAIN ANALYZE DELETE FROM t", False),
])
def test_only_plain_reads_are_run(query, ok):
    assert (select_only_reason(query) is None) is ok


_WORDS = st.sampled_from(["SELECT", "WITH", "x", "AS", "(", ")", "DELETE", "FROM", "t", "UPDATE", "SET", "a", "=",
                          "$1", "INSERT", "INTO", "VALUES", "RETURNING", "*", ";", "FOR", "SHARE", "MERGE",
                          "UNION", "WHERE", "'DELETE'", "--", "/*", "*/", "\n", ","])


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=25).map(" ".join))
def test_the_guard_never_raises_and_never_passes_a_write(text):
    reason = select_only_reason(text)
    if reason is None:
        import sqlglot
        from sqlglot import exp

        from analyzers.postgres.statements import for_sqlglot
        assert first_keyword(text) in ("select", "with")
        tree = sqlglot.parse_one(for_sqlglot(text), read="postgres")
        assert tree.find(exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Into, exp.Lock) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_the_guard_takes_any_text(text):
    assert select_only_reason(text) is None or isinstance(select_only_reason(text), str)


# --- parameter values ----------------------------------------------------------------------------------

STATS = {("public", "t", "a"): {"histogram_bounds": ["1", "5", "9"], "most_common_vals": None},
         ("public", "t", "b"): {"histogram_bounds": None, "most_common_vals": ["x", "y"]},
         ("public", "t", "name"): {"histogram_bounds": ["alpha", "bravo", "charlie"], "most_common_vals": None}}


def use(params, table="t"):
    return [{"schema": "public", "table": table, "params": params, "eq": [p[0] for p in params if p[1] == "eq"]}]


def test_values_from_pg_stats_for_every_parameter():
    q = "SELECT * FROM t WHERE a = $1 AND name LIKE $2 LIMIT $3 OFFSET $4"
    values, why = parameter_values(q, use([("a", "eq", [1]), ("name", "like", [2])]), 4, STATS)
    assert why is None and values == ["5", "%brav%", "20", "0"]
    values, _ = parameter_values("SELECT * FROM t WHERE a BETWEEN $1 AND $2", use([("a", "between", [1, 2])]), 2,
                                 STATS)
    assert values == ["1", "5"]


def test_several_equalities_on_one_table_take_a_combination_that_exists():
    asked = []

    def lookup(schema, table, column, value, others):
        asked.append((table, column, value, others))
        return {"b": "y"}
    values, _ = parameter_values("SELECT * FROM t WHERE a = $1 AND b = $2",
                                 use([("a", "eq", [1]), ("b", "eq", [2])]), 2, STATS, lookup)
    assert values == ["5", "y"] and asked == [("t", "a", "5", ["b"])]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.integers(0, 4),
       st.lists(st.tuples(st.sampled_from(["a", "b", "name", "zz"]),
                          st.sampled_from(["eq", "gt", "like", "between", "escape", "expr"]),
                          st.lists(st.integers(1, 4), min_size=1, max_size=2)), max_size=4))
def test_values_or_a_reason_never_an_exception(query, nparams, params):
    values, why = parameter_values(query, use(params), nparams, STATS)
    assert (values is None) != (why is None)
    if values is not None:
        assert len(values) == nparams and all(isinstance(v, str) for v in values)


# --- plan facts ----------------------------------------------------------------------------------------

def test_sort_and_hash_memory_estimates():
    plan = {"Node Type": "Hash Join", "Plan Rows": 10, "Plan Width": 8, "Plans": [
        {"Node Type": "Sort", "Plan Rows": 200000, "Plan Width": 8, "Sort Key": ["a"], "Plans": []},
        {"Node Type": "Hash", "Plan Rows": 1000, "Plan Width": 49, "Plans": []}]}
    nodes = planfacts.memory_nodes(plan)
    # measured on PostgreSQL 15: a quicksort of 200,000 8-byte rows used 15,520 kB
    assert nodes[0]["kind"] == "sort" and abs(nodes[0]["estimated_bytes"] / 1024 - 15520) / 15520 < 0.1
    assert nodes[1]["kind"] == "hash" and nodes[1]["estimated_bytes"] == 1000 * (56 + 40)


def test_compact_nodes_keep_the_largest_worker_spill():
    plan = {"Node Type": "Gather Merge", "Plan Rows": 1, "Actual Rows": 1, "Actual Loops": 1, "Plans": [
        {"Node Type": "Sort", "Plan Rows": 5, "Actual Rows": 5, "Actual Loops": 2, "Sort Space Used": 100,
         "Sort Space Type": "Disk", "Workers": [{"Sort Space Used": 300, "Sort Space Type": "Disk"}],
         "Parent Relationship": "Outer"}]}
    top, sort = planfacts.compact(plan)
    assert (top["parent"], sort["parent"]) == (None, 0) and sort["sort_space_used_kb"] == 300
    assert planfacts.spilled(sort) and planfacts.disk_used_kb(sort) == 300 and not planfacts.spilled(top)
    assert planfacts.row_error({"plan_rows": 1, "actual_rows": 0, "actual_loops": 1}) == 1
    assert planfacts.row_error({"plan_rows": 4000, "actual_rows": 40, "actual_loops": 3}) == 100
    assert planfacts.row_error({"plan_rows": 4000, "actual_rows": 0, "actual_loops": 0}) is None


def node(i, parent, node_type, plan_rows, actual_rows, loops=1, **kw):
    return {"id": i, "parent": parent, "node_type": node_type, "plan_rows": plan_rows, "actual_rows": actual_rows,
            "actual_loops": loops, **kw}


def test_the_origin_is_the_lowest_misestimated_node_and_early_stops_are_not_misestimates():
    nodes = [node(0, None, "Hash Join", 5, 5000), node(1, 0, "Seq Scan", 5, 5000, relation="a"),
             node(2, 0, "Hash", 100, 100), node(3, 2, "Seq Scan", 100, 100, relation="b")]
    assert [n["id"] for n in misestimates.origins(nodes, 10, 100)] == [1]
    limited = [node(0, None, "Limit", 20, 20), node(1, 0, "Sort", 1000, 20, strategy=None),
               node(2, 1, "Aggregate", 1000, 1000, strategy="Hashed"), node(3, 2, "Seq Scan", 9000, 9000)]
    assert misestimates.origins(limited, 10, 100) == []
    ordered = [node(0, None, "Limit", 10, 10), node(1, 0, "Index Scan", 50000, 10, relation="t")]
    assert misestimates.origins(ordered, 10, 100) == []
    semi = [node(0, None, "Nested Loop", 100, 100, join_type="Semi"),
            node(1, 0, "Seq Scan", 100, 100, parent_relationship="Outer"),
            node(2, 0, "Index Scan", 500, 1, loops=100, parent_relationship="Inner")]
    assert misestimates.origins(semi, 10, 100) == []
    # a hashed aggregate reads all its input: a Limit above it does not excuse the scan below
    under_agg = [node(0, None, "Limit", 1, 1), node(1, 0, "Aggregate", 1, 1, strategy="Plain"),
                 node(2, 1, "Seq Scan", 1, 2000, relation="t")]
    assert [n["id"] for n in misestimates.origins(under_agg, 10, 100)] == [2]


def test_extended_statistics_kinds_follow_the_conditions():
    section = {"settings": [{"name": "default_statistics_target", "setting": "100"}],
               "tables": [{"schema": "public", "table": "p", "reltuples": 1e6}],
               "pg_stats": [{"schema": "public", "table": "p", "column": "city", "n_distinct": 50},
                            {"schema": "public", "table": "p", "column": "zip", "n_distinct": -0.001}]}
    eq = {"uses": [{"schema": "public", "table": "p", "eq": ["city", "zip"]}]}
    rng = {"uses": [{"schema": "public", "table": "p", "eq": ["city"], "range": ["zip"]}]}
    few = {**section, "pg_stats": [dict(s, n_distinct=40) for s in section["pg_stats"]]}
    assert misestimates.statistics_kinds(eq, section, "public", "p", ["city", "zip"]) == ["dependencies", "ndistinct"]
    assert misestimates.statistics_kinds(rng, section, "public", "p", ["city", "zip"])[-1] == "mcv"
    assert misestimates.statistics_kinds(eq, few, "public", "p", ["city", "zip"])[-1] == "mcv"


# --- N+1 -----------------------------------------------------------------------------------------------

CAT = Catalog(columns={("public", "orders"): {"id": "bigint", "customer_id": "bigint"},
                       ("public", "order_items"): {"id": "bigint", "order_id": "bigint", "sku": "text"},
                       ("public", "customers"): {"id": "bigint", "name": "text"}})


def test_outputs_and_key_filters():
    assert nplus1.outputs("SELECT o.id AS order_id, customer_id FROM orders o WHERE customer_id = $1", CAT) == {
        ("public", "orders", "id"), ("public", "orders", "customer_id")}
    assert nplus1.outputs("SELECT * FROM orders", CAT) == {("public", "orders", "*")}
    assert nplus1.outputs("SELECT oi.* FROM orders o JOIN order_items oi ON oi.order_id = o.id", CAT) == {
        ("public", "order_items", "*")}
    assert nplus1.outputs("UPDATE orders SET id = 1", CAT) == set()
    assert nplus1.key_filters("SELECT sku FROM order_items WHERE order_id = $1 AND sku = $2", CAT) == [
        ("public", "order_items", "order_id"), ("public", "order_items", "sku")]
    assert nplus1.key_filters("SELECT sku FROM order_items WHERE order_id > $1", CAT) == []


def test_links_without_a_foreign_key_come_from_column_names():
    (link,) = nplus1.links_for(("public", "order_items", "order_id"), {"foreign_keys": []}, CAT)
    assert link.parent == ("public", "orders", "id") and not link.foreign_key and link.direction == "one-to-many"
    (back,) = nplus1.links_for(("public", "customers", "id"), {"foreign_keys": []}, CAT)
    assert back.parent == ("public", "orders", "customer_id") and back.direction == "many-to-one"


def test_one_query_form_rewrites_only_the_key_predicate():
    c = nplus1.Counters("1", 'SELECT sku FROM order_items oi WHERE oi."order_id" = $1 AND sku <> $2', 1, 1, 1.0)
    assert nplus1.one_query_sql(c, "order_id") == \
        'SELECT sku FROM order_items oi WHERE oi."order_id" = ANY($1) AND sku <> $2'
    assert nplus1.one_query_sql(c, "missing") is None


def _span(*rows):
    return nplus1.Span("window", "test", 1.0, tuple(nplus1.Counters(str(i), q, c, r, 1.0)
                                                     for i, (q, c, r) in enumerate(rows)))


def test_pairs_need_the_ratio_the_fanout_and_no_write_loop():
    section = {"foreign_keys": [{"name": "fk", "schema": "public", "table": "order_items", "columns": ["order_id"],
                                 "ref_schema": "public", "ref_table": "orders", "ref_columns": ["id"]}],
               "columns": {"public.orders": CAT.columns[("public", "orders")],
                           "public.order_items": CAT.columns[("public", "order_items")]},
               "search_path": ["public"]}
    parent = ("SELECT id FROM orders WHERE customer_id = $1", 30, 300)
    child = ("SELECT sku FROM order_items WHERE order_id = $1", 290, 900)
    (pair,) = nplus1.find_pairs(section, TH, _span(parent, child))
    assert pair.ratio == pytest.approx(290 / 300) and pair.link.foreign_key
    assert nplus1.find_pairs(section, TH, _span(parent, (child[0], 200, 600))) == []  # 0.67: not tracking
    assert nplus1.find_pairs(section, TH, _span(("SELECT id FROM orders WHERE customer_id = $1", 290, 300),
                                                child)) == []  # ~1 row per call: 1+1, not N+1
    rejected = []
    writes = ("INSERT INTO order_items (order_id, sku) VALUES ($1, $2)", 291, 291)
    assert nplus1.find_pairs(section, TH, _span(parent, child, writes), rejected) == [] and rejected


# --- autovacuum ----------------------------------------------------------------------------------------

def test_autovacuum_triggers_use_per_table_settings():
    section = {"settings": [{"name": "autovacuum_analyze_scale_factor", "setting": "0.1"},
                            {"name": "autovacuum_analyze_threshold", "setting": "50"}]}
    t = {"schema": "public", "table": "t", "reltuples": 100000, "n_live_tup": 100000, "last_autoanalyze": "x",
         "reloptions": ["autovacuum_analyze_scale_factor=0.01"], "n_mod_since_analyze": 3000}
    assert health.analyze_trigger(t, section) == 50 + 1000
    assert health.stale(t, section, 2.0) and not health.stale({**t, "reloptions": []}, section, 2.0)
    assert health.vacuum_trigger({**t, "reloptions": []}, {}) == 50 + 0.2 * 100000
    assert "this table" in health.autovacuum_off({**t, "reloptions": ["autovacuum_enabled=false"]}, section)
    assert health.autovacuum_off(t, {"settings": [{"name": "autovacuum", "setting": "off"}]}).endswith("server")
    assert health.stale({"n_live_tup": 5, "n_mod_since_analyze": 0}, section, 2.0)  # never analysed


# --- decisions that depend on what is known ------------------------------------------------------------

def base_section(memory=None, **settings_values):
    values = {"work_mem": ("4096", "kB"), "shared_buffers": ("16384", "8kB"), "max_connections": ("100", None),
              "max_parallel_workers_per_gather": ("2", None), "hash_mem_multiplier": ("2", None),
              "block_size": ("8192", None), "effective_cache_size": ("524288", "8kB"),
              "random_page_cost": ("4", None), "jit": ("on", None), "track_io_timing": ("off", None)}
    values.update(settings_values)
    return {"settings": [{"name": k, "setting": v, "unit": u, "source": "default"} for k, (v, u) in values.items()],
            "host": {"local": memory is not None, "memory_bytes": memory, "source": "test"},
            "collected_at": "2026-01-01T01:00:00Z", "stats_reset": {"pg_stat_statements": "2026-01-01T00:00:00"},
            "database_stats": {"stats_reset": "2026-01-01T00:00:00", "blks_hit": 10_000_000, "blks_read": 1_000_000,
                               "database_bytes": 8 * GB},
            "workload": {"total_exec_time_ms": 1e6}, "database": "shop", "tables": [], "statements": []}


def spill_stmt(role, temp_blks=64_000, calls=10, ms=5e5):
    return {"queryid": role, "query": f"SELECT * FROM t{role} ORDER BY x", "calls": calls, "role": role,
            "total_exec_time_ms": ms, "temp_blks_written": temp_blks, "rows": calls}


def test_work_mem_goes_where_the_memory_numbers_say():
    known = base_section(memory=24 * GB)
    known["statements"] = [spill_stmt("app")]
    (f,) = spills.findings(known, TH)
    # 2 × 50 MB spilled per call = 100 MB → 128MB; pgtune's budget on 24 GB is ~41 MB: not server-wide
    assert f.evidence["recommended_work_mem"] == "128MB" and f.evidence["scope"] == "transaction"
    assert f.action["sql"].startswith("BEGIN;\nSET LOCAL work_mem = '128MB';") and f.confidence == "heuristic"
    known["statements"] = [spill_stmt("app", ms=9e5), spill_stmt("reporting", ms=1e5)]
    by_scope = {x.evidence["scope"]: x for x in spills.findings(known, TH)}
    assert by_scope["role"].action["sql"].startswith("ALTER ROLE reporting SET work_mem = '128MB'")
    small = base_section(memory=24 * GB)
    small["statements"] = [spill_stmt("app", temp_blks=1000)]
    (f,) = spills.findings(small, TH)
    # 2 × 0.8 MB per call is under today's 4 MB: at least above it, rounded to 8MB, which fits the budget
    assert f.evidence["scope"] == "server" and f.action["sql"].startswith("ALTER SYSTEM SET work_mem = '8MB';")
    unknown = base_section()
    unknown["statements"] = [spill_stmt("app", temp_blks=1000)]
    (f,) = spills.findings(unknown, TH)
    assert f.evidence["scope"] == "transaction" and "memory is unknown" in f.detail


def test_settings_speak_only_with_evidence():
    unknown = base_section()
    assert [f.key for f in settings_rules.findings(unknown, TH)] == ["shared_buffers"]
    assert settings_rules.effective_cache_size(unknown, TH) is None and settings_rules.work_mem(unknown, TH) is None
    # 8 GB of data against 128 MB of shared_buffers and a 91% hit ratio, memory unknown: no number is made up
    sb = settings_rules.shared_buffers(unknown, TH)
    assert sb and sb.action == {"kind": "none"} and "25%" in sb.detail
    known = base_section(memory=32 * GB)
    sb = settings_rules.shared_buffers(known, TH)
    assert sb.action["sql"].startswith("ALTER SYSTEM SET shared_buffers = '8GB'")  # 25% of 32 GB
    ecs = settings_rules.effective_cache_size(known, TH)
    assert ecs and "'16GB'" in ecs.action["sql"]
    assert settings_rules.random_page_cost(known, TH) is None  # a 91% hit ratio on an unknown disk: silent
    ssd = base_section(memory=32 * GB)
    ssd["host"]["data_directory_rotational"] = False
    assert "random_page_cost = 1.1" in settings_rules.random_page_cost(ssd, TH).action["sql"]
    wm = base_section(memory=8 * GB, work_mem=("262144", "kB"))
    assert "work_mem" in settings_rules.work_mem(wm, TH).title


def test_buffer_cache_findings_overall_then_per_table():
    s = base_section()
    (f,) = buffers.findings(s, TH)
    assert f.key == "database" and f.severity == "medium" and "track_io_timing is off" in f.detail
    s["settings"].append({"name": "track_io_timing", "setting": "on"})
    s["settings"] = [x for x in s["settings"] if not (x["name"] == "track_io_timing" and x["setting"] == "off")]
    s["database_stats"]["blk_read_time_ms"] = 10.0  # 0.01 ms a block: the OS page cache
    (f,) = buffers.findings(s, TH, shared_buffers_advice="PG014:shared_buffers")
    assert f.severity == "low" and f.confidence == "verified" and "PG014:shared_buffers" in f.detail
    fine = base_section()
    fine["database_stats"].update(blks_hit=10**9, blks_read=10**6)
    fine["tables"] = [{"schema": "public", "table": "hot", "heap_blks_read": 900_000, "heap_blks_hit": 100_000}]
    (f,) = buffers.findings(fine, TH)
    assert f.key == "public.hot" and re.search(r"10\.0%", f.title)


def test_mb_helpers():
    assert ruleutil.mb_text(4 * GB) == "4GB" and ruleutil.mb_text(100 * 1024 ** 2) == "100MB"
    assert ruleutil.nice_mb(12.2 * 1024 ** 2) == 16 * 1024 ** 2 and ruleutil.nice_mb(100 * 1024 ** 2) == 128 * 1024 ** 2


def test_inserts_an_analyze_in_the_same_transaction_saw_are_not_churn():
    loaded = {"n_live_tup": 80000, "reltuples": 80000.0, "n_mod_since_analyze": 80019, "n_tup_ins": 80000,
              "n_tup_upd": 19, "last_analyze": "2026-01-01 00:00:00+00", "last_autovacuum": None}
    assert health.changes_since_analyze(loaded) == 19
    grown = {**loaded, "reltuples": 2000.0, "n_live_tup": 52000, "n_mod_since_analyze": 150000}
    assert health.changes_since_analyze(grown) == 150000  # the ANALYZE saw 2,000 rows: the rest is new
    vacuumed = {**loaded, "last_autovacuum": "2026-01-01 00:05:00+00"}  # VACUUM set reltuples, not ANALYZE
    assert health.changes_since_analyze(vacuumed) == 80019


def test_a_function_of_one_column_takes_the_column_s_values():
    values, why = parameter_values("SELECT id FROM t WHERE lower(name) = lower($1)",
                                   use([("lower(name)", "eq", [1])]), 1, STATS)
    assert values == ["bravo"] and why is None
    assert parameter_values("SELECT id FROM t WHERE upper(zz) = $1", use([("upper(zz)", "eq", [1])]), 1,
                            STATS)[0] is None
