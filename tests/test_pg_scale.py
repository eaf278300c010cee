"""The index selection's work grows with the workload, not its square (issue 11).

On a real PostgreSQL: 300 independent tables, each read by one statement that lacks one index. With no cap
on new indexes every one is found, and the what-if work (EXPLAIN calls under HypoPG, hypothetical indexes
created) for 300 tables is about 3× that for 100 tables, not 9×. Asserted on counts, never on time.

On the pure selection: its result equals a plain greedy that re-costs every candidate after every choice
(today's algorithm before issue 11, kept here as the reference), on random workloads.
"""

from __future__ import annotations

import heapq

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.config import build_settings
from analyzers.postgres import select as sel
from analyzers.postgres.collect import collect

TABLES = 300
ROWS = 2000


def fresh_database(pg_cluster, name: str) -> str:
    """A new database `name` (dropped first) with pg_stat_statements and HypoPG; its DSN."""
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    dsn = pg_cluster.dsn(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg")
    return dsn


def _build(pg_cluster, n: int) -> str:
    """A database with n tables s0..s{n-1}, each read by two statements that one index on `a` serves."""
    name = f"scale{n}"
    dsn = fresh_database(pg_cluster, name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")  # the setup is not the workload
        for i in range(n):
            conn.execute(f"CREATE TABLE s{i} (id int PRIMARY KEY, a int, b int, pad text)")
            conn.execute(f"INSERT INTO s{i} SELECT g, g, g % 10, repeat('x', 40) FROM generate_series(1, {ROWS}) g")
        conn.execute("ANALYZE")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = %s), 0)",
                     (name,))
        for i in range(n):
            # two statements one index serves: choosing it makes the table's other candidates' bounds stale
            conn.execute(f"SELECT * FROM s{i} WHERE a = %s", (i + 7,)).fetchall()
            conn.execute(f"SELECT * FROM s{i} WHERE a = %s AND b = %s", (i + 7, 7)).fetchall()
    return dsn


@pytest.fixture(scope="module")
def scale_dsns(pg_cluster):
    return {n: _build(pg_cluster, n) for n in (TABLES // 3, TABLES)}


def _run(dsn: str) -> dict:
    settings_ = build_settings("/nonexistent/perfadvisor.toml", target_flags={"postgres": {"dsn": dsn}},
                               threshold_flags={"postgres": {"workload_share": 1.0, "max_statements": 100_000,
                                                             "max_new_indexes": 100_000}})
    return collect(settings_)


def test_every_independent_table_gets_its_index_with_linear_whatif_work(scale_dsns):
    small, big = _run(scale_dsns[TABLES // 3]), _run(scale_dsns[TABLES])
    for section, n in ((small, TABLES // 3), (big, TABLES)):
        mine = [s for s in section["statements"] if s["query"].startswith("SELECT * FROM s")]
        assert len(mine) == 2 * n and all(s["status"] == "analysed" for s in mine)
        tables = [f"s{i}" for i in range(n)]
        chosen = section["whatif"]["chosen"]
        # one index per table, entered by `a`
        assert sorted(c.split("(")[0] for c in chosen) == sorted(f"public.{t}" for t in tables), chosen[:5]
        assert all(c.split("(")[1].startswith("a") for c in chosen), chosen[:5]
    calls = small["whatif"]["explain_calls"], big["whatif"]["explain_calls"]
    created = small["whatif"]["hypo_indexes_created"], big["whatif"]["hypo_indexes_created"]
    lookups = small["whatif"]["cost_lookups"], big["whatif"]["cost_lookups"]
    for pair in (calls, created, lookups):
        assert 2.5 <= pair[1] / pair[0] <= 3.5, (calls, created, lookups)
    # a handful of what-if calls per statement, whatever the number of tables
    assert calls[1] <= 12 * TABLES, calls


# --- the pure selection against the reference greedy ---------------------------------------------------------

def _reference_choose(stmts, cands, cost, min_savings_pct, max_indexes):
    """The greedy before issue 11: any choice makes every bound stale, costs under the whole chosen set."""
    chosen: frozenset[str] = frozenset()
    current = {s.key: cost(s.key, chosen) for s in stmts}
    by_key = {c.key: c for c in cands}
    by_table: dict = {}
    for s in stmts:
        for t in sorted(s.tables):
            by_table.setdefault(t, []).append(s)

    def gain_of(c):
        per = {}
        for s in by_table.get(c.table, ()):
            if sel.relevant(c, s):
                per[s.key] = (current[s.key], cost(s.key, chosen | {c.key}))
        return sum(s.calls * max(0.0, per[s.key][0] - per[s.key][1]) for s in by_table.get(c.table, ())
                   if s.key in per), per

    heap = [(-g, c.key, 0) for c in sorted(cands, key=lambda c: c.key) if (g := gain_of(c)[0]) > 0]
    heapq.heapify(heap)
    version = 0
    while heap and len(chosen) < max_indexes:
        _, key, ver = heapq.heappop(heap)
        c = by_key[key]
        gain, per = gain_of(c)
        if ver != version:
            if gain > 0:
                heapq.heappush(heap, (-gain, key, version))
            continue
        if not sel._qualifies(per, min_savings_pct):
            continue
        chosen = chosen | {key}
        version += 1
        for k, (_, after) in per.items():
            current[k] = after
    changed = True
    while changed:
        changed = False
        for key in sorted(chosen):
            without = chosen - {key}
            per = {s.key: (cost(s.key, without), cost(s.key, chosen)) for s in by_table.get(by_key[key].table, ())
                   if sel.relevant(by_key[key], s)}
            if not sel._qualifies(per, min_savings_pct):
                chosen, changed = without, True
                break
    return sorted(chosen)


@st.composite
def workloads(draw):
    """Random tables, statements (some joining two tables), candidates and a cost model in which each
    candidate cuts each statement it serves by its own factor, with diminishing returns per table."""
    n_tables = draw(st.integers(1, 6))
    tables = [("public", f"t{i}") for i in range(n_tables)]
    stmts = []
    for i in range(draw(st.integers(1, 10))):
        ts = frozenset(draw(st.lists(st.sampled_from(tables), min_size=1, max_size=2)))
        stmts.append(sel.StatementRef(f"q{i}", draw(st.integers(1, 50)), ts))
    cands = [sel.CandidateRef(f"c{j}", draw(st.sampled_from(tables))) for j in range(draw(st.integers(1, 10)))]
    factor = {(s.key, c.key): draw(st.sampled_from([1.0, 0.9, 0.6, 0.4, 0.1, 0.02]))
              for s in stmts for c in cands}
    base = {s.key: float(draw(st.integers(10, 1000))) for s in stmts}
    return stmts, cands, factor, base


@given(workloads(), st.sampled_from([10.0, 50.0, 90.0]), st.integers(1, 12))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_selection_equals_the_reference_greedy(w, min_pct, cap):
    stmts, cands, factor, base = w
    table_of = {c.key: c.table for c in cands}
    tables_of = {s.key: s.tables for s in stmts}

    def cost(qid, config):
        # an index on a table the statement does not read cannot change its plan
        assert all(table_of[k] in tables_of[qid] for k in config), (qid, config)
        best = min((factor[(qid, k)] for k in config), default=1.0)
        return round(base[qid] * best * (1 + 0.01 * len(config)), 6)

    def ref_cost(qid, config):
        return cost(qid, frozenset(k for k in config if table_of[k] in tables_of[qid]))

    got = sel.choose(stmts, cands, cost, min_savings_pct=min_pct, max_indexes=cap)
    assert got.chosen == _reference_choose(stmts, cands, ref_cost, min_pct, cap)


def test_cost_lookups_grow_linearly_with_independent_tables():
    def run(n):
        stmts = [sel.StatementRef(f"q{i}", 1, frozenset({("public", f"t{i}")})) for i in range(n)]
        cands = [sel.CandidateRef(f"c{i}", ("public", f"t{i}")) for i in range(n)]
        r = sel.choose(stmts, cands, lambda q, cfg: 10.0 if cfg else 100.0, max_indexes=10 ** 6)
        assert len(r.chosen) == n
        return r.cost_lookups
    assert 2.9 <= run(300) / run(100) <= 3.1


# --- the time budget and the default statement cap -----------------------------------------------------------

def _independent(n):
    stmts = [sel.StatementRef(f"q{i}", 1 + i % 3, frozenset({("public", f"t{i}")})) for i in range(n)]
    cands = [sel.CandidateRef(f"c{i}{x}", ("public", f"t{i}")) for i in range(n) for x in "ab"]
    costs = {"a": 10.0, "b": 30.0}

    def cost(q, cfg):
        return min((costs[k[-1]] for k in cfg), default=100.0)
    return stmts, cands, cost


@pytest.mark.parametrize("phase, after", [("costing", 7), ("choosing", 3)])
def test_out_of_time_stops_cleanly_and_replays_to_the_same_choice(phase, after):
    stmts, cands, cost = _independent(10)
    calls = {"costing": 0, "choosing": 0}

    def out_of_time(p):  # a clock that runs out after a number of checks: deterministic, unlike time
        calls[p] += 1
        return p == phase and calls[p] > after
    live = sel.choose(stmts, cands, cost, max_indexes=100, out_of_time=out_of_time)
    if phase == "costing":
        assert len(live.uncosted) == len(cands) - after and live.stopped_after is None
        assert live.chosen and all(k not in live.uncosted for k in live.chosen)
    else:
        assert live.stopped_after == after and not live.uncosted and len(live.chosen) == after
    # what rules.replay_selection does with the snapshot's record of the stop
    replay = sel.choose(stmts, [c for c in cands if c.key not in live.uncosted], cost,
                        max_indexes=live.stopped_after if live.stopped_after is not None else 100)
    assert replay.chosen == live.chosen and replay.attributed == live.attributed


def test_statements_are_not_capped_by_default():
    from analyzers.postgres.collect import MAX_STATEMENTS, pick_statements
    rows = [{"queryid": str(i), "total_exec_time_ms": 1.0} for i in range(2000)]
    picked, _ = pick_statements(rows, 0.95, MAX_STATEMENTS)
    assert len(picked) == 1900
    assert len(pick_statements(rows, 0.95, 500)[0]) == 500


def test_time_budget_that_runs_out_says_how_far_it_got(scale_dsns):
    from analyzers.postgres.rules import missing_index_findings
    settings_ = build_settings("/nonexistent/perfadvisor.toml",
                               target_flags={"postgres": {"dsn": scale_dsns[TABLES // 3]}},
                               threshold_flags={"postgres": {"workload_share": 1.0, "time_budget_s": 0.001}})
    section = collect(settings_)
    mine = [s for s in section["statements"] if s["query"].startswith("SELECT * FROM s")]
    assert mine and all(s["status"] == "unanalysed" and "time budget (0.001 s) ran out" in s["reason"]
                        for s in mine)
    note = next(n for n in section["notes"] if n.startswith("the time budget"))
    cut = [s for s in section["statements"] if s.get("time_budget")]
    assert len(cut) >= len(mine) and f"{len(cut)} statement(s), 100.0% of database time" in note, note
    assert "were not analysed" in note and "--time-budget" in note
    assert missing_index_findings(section, settings_)[0] == []


# --- statements pg_stat_statements writes in a form PREPARE refuses ------------------------------------------

def test_extract_with_a_placeholder_field_is_costed(pg_cluster):
    """`extract(year from ts)` is written `EXTRACT($1 FROM ts)` by pg_stat_statements; it is analysed as
    date_part($1, ts) and its missing index is found."""
    dsn = fresh_database(pg_cluster, "shapes")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")  # the setup is not the workload
        conn.execute("CREATE TABLE ev (id int PRIMARY KEY, owner int, ts timestamptz)")
        conn.execute("INSERT INTO ev SELECT g, g % 5000, now() - g * interval '1 hour' FROM generate_series(1, 50000) g")
        conn.execute("ANALYZE ev")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(3):
            conn.execute("SELECT count(*) FROM ev WHERE owner = %s AND extract(year from ts) = 2025", (i,))
    settings_ = build_settings("/nonexistent/perfadvisor.toml", target_flags={"postgres": {"dsn": dsn}},
                               threshold_flags={"postgres": {"workload_share": 1.0}})
    section = collect(settings_)
    s = next(s for s in section["statements"] if "FROM ev" in s["query"])
    assert "extract($2 from ts)" in s["query"]  # the real text, as recorded
    assert s["status"] == "analysed", s.get("reason")
    assert "public.ev(owner)" in section["whatif"]["chosen"]


def test_progress_line_on_a_terminal_only():
    import io

    from advisor.sampling import terminal_progress
    from analyzers.postgres.budget import Progress

    assert terminal_progress(io.StringIO()) is None  # not a terminal: quiet
    lines = []
    p = Progress(lines.append, statements=40)
    p.explained = 40
    p.show(force=True)
    p.selection(12, 30, 0)  # within 0.2 s of the last line: not redrawn
    p._last = 0.0
    p.selection(30, 30, 5)
    p.done()
    assert lines == ["postgres: 40/40 statements explained",
                     "postgres: 40/40 statements explained · 30/30 candidates costed · 5 indexes chosen", ""]


# --- partitioned tables --------------------------------------------------------------------------------------

def test_partitioned_table_index_and_its_online_route_run(pg_cluster):
    """A statement on a partitioned table lacking an index gets PG001 on the partitioned table, with the
    per-partition CONCURRENTLY + ATTACH PARTITION route; that route runs and yields a valid index the plan uses."""
    from analyzers.postgres import analyze as pg_analyze
    dsn = fresh_database(pg_cluster, "parts")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")  # the setup is not the workload
        conn.execute("CREATE TABLE m (city int, ts date, v int) PARTITION BY RANGE (ts)")
        conn.execute("CREATE TABLE m_h1 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2024-07-01')")
        conn.execute("CREATE TABLE m_h2 PARTITION OF m FOR VALUES FROM ('2024-07-01') TO ('2025-01-01')")
        conn.execute("INSERT INTO m SELECT g % 500, date '2024-01-01' + (g % 360), g FROM generate_series(1, 100000) g")
        conn.execute("ANALYZE m")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(3):
            conn.execute("SELECT avg(v) FROM m WHERE city = %s AND ts >= %s", (i, "2024-08-01")).fetchall()
    settings_ = build_settings("/nonexistent/perfadvisor.toml", target_flags={"postgres": {"dsn": dsn}},
                               threshold_flags={"postgres": {"workload_share": 1.0}})
    section = collect(settings_)
    found = [f for f in pg_analyze(section, settings_).findings if f.rule == "PG001" and f.index.table == "m"]
    assert found, [f.id for f in pg_analyze(section, settings_).findings]
    f = found[0]
    assert "CONCURRENTLY" not in f.action["sql"] and "partitioned (2 partitions)" in f.detail
    route = f.evidence["partitioned"]
    assert route["partitions"] == 2 and len(route["online_sql"]) == 5
    with psycopg.connect(dsn, autocommit=True) as conn:  # CONCURRENTLY cannot run in a transaction block
        for stmt in route["online_sql"]:
            conn.execute(stmt)
        valid = conn.execute("SELECT bool_and(i.indisvalid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                             "WHERE c.relname IN ('m', 'm_h1', 'm_h2')").fetchone()[0]
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN SELECT avg(v) FROM m WHERE city = 3 AND ts >= '2024-08-01'"))
    assert valid and "m_h2_" in plan and "Index" in plan, plan


def test_progress_line_shows_on_a_terminal_and_not_with_quiet(pg_cluster, tmp_path):
    """`analyze` redraws its progress line on a terminal's stderr (a real pseudo-terminal here), and --quiet
    silences it."""
    import os
    import pty
    import subprocess
    import sys

    dsn = fresh_database(pg_cluster, "quietdb")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE q (id int PRIMARY KEY, a int)")
        conn.execute("INSERT INTO q SELECT g, g % 100 FROM generate_series(1, 5000) g")
        conn.execute("ANALYZE q")
        conn.execute("SELECT * FROM q WHERE a = %s", (3,)).fetchall()

    def stderr_on_a_terminal(*flags):
        main, sub = pty.openpty()
        proc = subprocess.run([sys.executable, "-m", "advisor.cli", "analyze", "--pg", dsn,
                               "--out", str(tmp_path / "-".join(flags or ("plain",))), *flags],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sub, timeout=120)
        os.close(sub)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(main)
        return proc.returncode, b"".join(chunks).decode("utf-8", "replace")

    code, shown = stderr_on_a_terminal()
    assert code in (0, 1) and "statements explained" in shown, shown
    code, shown = stderr_on_a_terminal("-q")
    assert code in (0, 1) and "statements explained" not in shown, shown


# --- utility statements: counted apart, by command -----------------------------------------------------------

def test_utility_type_names_the_command():
    from analyzers.postgres.statements import utility_type
    assert utility_type("begin") == "BEGIN"
    assert utility_type("/* app */ SET search_path = public") == "SET"
    assert utility_type("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)") == "CREATE INDEX"
    assert utility_type("create or replace function f() returns int as $$ select 1 $$ language sql") == \
        "CREATE FUNCTION"
    assert utility_type("ALTER TABLE t ADD COLUMN b int") == "ALTER TABLE"
    assert utility_type("COMMIT") == "COMMIT" and utility_type("COMMIT PREPARED 'x'") == "COMMIT PREPARED"
    assert utility_type("copy t from stdin") == "COPY" and utility_type("   ") == ""


def test_utility_statements_are_counted_apart_and_every_dml_is_costed_or_explained(pg_cluster):
    """A real workload with transactions, SET, DDL and DML: coverage lists each SELECT/INSERT/UPDATE/DELETE as
    analysed or with a reason, and counts the utility statements by command, never as unanalysed."""
    from analyzers.postgres.rules import coverage
    dsn = fresh_database(pg_cluster, "utildb")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")  # the setup is not the workload
        conn.execute("CREATE TABLE u (id int PRIMARY KEY, a int)")
        conn.execute("INSERT INTO u SELECT g, g % 50 FROM generate_series(1, 5000) g")
        conn.execute("ANALYZE u")
    with psycopg.connect(dsn) as conn:  # transactions: BEGIN / COMMIT as the driver sends them
        for i in range(3):
            conn.execute("SET statement_timeout = '5s'")
            conn.execute("SELECT * FROM u WHERE a = %s", (i,)).fetchall()
            conn.execute("UPDATE u SET a = a WHERE id = %s", (i + 1,))
            conn.commit()
        conn.execute("CREATE TEMP TABLE scratch (x int)")
        conn.commit()
    settings_ = build_settings("/nonexistent/perfadvisor.toml", target_flags={"postgres": {"dsn": dsn}},
                               threshold_flags={"postgres": {"workload_share": 1.0}})
    section = collect(settings_)
    cov = coverage(section)
    commands = {u["command"]: u for u in cov["utility"]}
    assert {"SET", "CREATE TABLE"} <= commands.keys(), commands
    assert commands["SET"]["calls"] >= 3
    assert all(u["reason"] and not u["reason"].startswith("utility") for u in cov["unanalysed"]), cov["unanalysed"]
    dml = [s for s in section["statements"] if s["query"].lstrip().split()[0].upper() in
           ("SELECT", "INSERT", "UPDATE", "DELETE") and " u " in s["query"] + " "]
    assert dml and all(s["status"] == "analysed" or s.get("reason") for s in dml), dml
    assert {s["queryid"] for s in section["statements"] if s.get("status") == "utility"} == \
        {s["queryid"] for s in section["statements"] if s["kind"] == "utility"}


# --- batched what-if work: a failure inside a batch ----------------------------------------------------------

@pytest.fixture(scope="module")
def batch_dsn(pg_cluster):
    dsn = fresh_database(pg_cluster, "batchdb")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE b1 (id int PRIMARY KEY, a int, t text)")
        conn.execute("INSERT INTO b1 SELECT g, g % 100, 'x' || g FROM generate_series(1, 5000) g")
        conn.execute("ANALYZE b1")
    return dsn


def test_a_statement_failing_inside_a_batch_gets_its_own_error_and_the_others_their_cost(batch_dsn):
    """EXPLAIN batches fall back to one statement at a time when one fails (here a value PostgreSQL cannot cast,
    a real error at EXECUTE), and leave no prepared statement behind."""
    from analyzers.postgres import plans
    with psycopg.connect(batch_dsn, autocommit=True) as conn:
        prep = plans.prepare(conn, "SELECT * FROM b1 WHERE a = $1", {})
        items = [(prep, None), (prep, ["not a number"]), (prep, ["7"])] * 30  # 90: more than one batch
        got = plans.explain_costs(conn, items)
        assert len(got) == 90
        for i, value in enumerate(got):
            if i % 3 == 1:
                assert isinstance(value, plans.ExplainError) and "invalid input syntax" in str(value), value
            else:
                assert isinstance(value, float) and value == got[i % 3], (i, value)
        one = plans.explain(conn, prep, ["7"])["Total Cost"]
        assert got[2] == one  # the batch's cost is the one EXPLAIN alone gives
        left = conn.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'perfadvisor%'").fetchone()
        assert left[0] == 0


def test_a_candidate_hypopg_refuses_in_a_batch_is_recorded_and_the_others_created(batch_dsn):
    """A candidate HypoPG refuses (GIN: HypoPG 1.3 does not simulate that access method); switching to a state
    with it and a B-tree records HypoPG's message, creates the B-tree, and the cost uses it."""
    from advisor.model import IndexSpec
    from analyzers.postgres import plans
    from analyzers.postgres.whatif import HypoSession
    specs = {"btree": IndexSpec("public", "b1", ("a",)),
             "gin": IndexSpec("public", "b1", ("t gin_trgm_ops",), method="gin")}
    with psycopg.connect(batch_dsn, autocommit=True) as conn:
        session = HypoSession(conn, specs)
        session.reset()
        prep = plans.prepare(conn, "SELECT * FROM b1 WHERE a = $1", {})
        [with_both] = session.costs(session.state_for({"btree", "gin"}, [("public", "b1")]), [(prep, None)])
        assert 'access method "gin" is not supported' in session.broken["gin"] and "btree" in session.names
        [without] = session.costs(session.state_for(set(), [("public", "b1")]), [(prep, None)])
        assert with_both < without
        assert session.names["btree"] not in str(session.plan(prep, frozenset()))
        assert conn.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone()[0] == 0
        session.reset()
