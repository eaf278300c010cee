"""`--explain-analyze` (opt-in): run the workload's SELECT statements once with EXPLAIN (ANALYZE, BUFFERS) to
compare each plan node's estimated rows with the rows it really produced (PG009), and measure the work_mem a
spilling statement needs (PG008).

Safety, in this order:

1. only statements that sqlglot parses as a plain query: SELECT (or WITH … SELECT, or a set operation of
   SELECTs) with no INSERT/UPDATE/DELETE/MERGE anywhere (a data-modifying CTE), no SELECT … INTO, no
   FOR UPDATE/SHARE — anything else is skipped with its reason;
2. each runs inside ``BEGIN … READ ONLY`` that is always rolled back, with ``SET LOCAL statement_timeout`` —
   a function a SELECT calls cannot write either (PostgreSQL refuses writes, nextval() included, in a
   read-only transaction);
3. the session itself is read-only (collect.connect) and perfadvisor's own statements are marked so they
   never count as workload.

Parameters are values from pg_stats (the histogram's median, else the most common value), the way the index
advisor costs range predicates (collect._representative_values), for every parameter; a statement whose
parameters are not all compared with a column that has statistics is skipped. When one table is filtered on
several columns by equality, the first column's value comes from pg_stats and the others from a row that has
it, so the combination exists (a misestimate on a combination no row has would be noise).

Snapshot: ``snapshot["postgres"]["explain_analyze"]``::

    {"enabled": true, "time_s": 1.2, "budget_s": 60, "work_mem_kb": 4096,
     "statements": [{"queryid": "…", "values": ["42", "20"], "execution_time_ms": 12.3,
                     "nodes": [planfacts.compact node, …],
                     "probe": {"work_mem_kb": 65536, "nodes": […], "execution_time_ms": 9.1} | null}],
     "skipped": [{"queryid": "…", "reason": "…", "share": 0.01}]}
    {"enabled": false}
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from typing import Any

import psycopg
import sqlglot
from psycopg import sql
from sqlglot import exp

from analyzers.postgres import planfacts, plans
from analyzers.postgres.statements import OWN_MARKER, first_keyword, for_sqlglot

#: Statements run at most (the most expensive first, spilling ones before the rest). Override:
#: thresholds.postgres.explain_analyze_max_statements.
MAX_STATEMENTS = 50
#: Wall-clock budget for all of them (s); the rest are skipped and listed. Override:
#: thresholds.postgres.explain_analyze_budget_s.
BUDGET_S = 60.0
#: The work_mem probe of a spilling statement: 5 × its temp-file use (an in-memory sort took 1.9–4.4× its
#: external sort's disk space on PostgreSQL 15 here, narrow rows the most), at most this many MB. Override:
#: thresholds.postgres.probe_work_mem_max_mb.
PROBE_FACTOR = 5.0
PROBE_WORK_MEM_MAX_MB = 256

#: Representative LIMIT (a page) and OFFSET (the first page), as collect uses for custom plans.
_PAGE = {"limit": "20", "offset": "0"}
_PAGE_PARAM = re.compile(r"\b(LIMIT|OFFSET)\s+\$(\d+)\b", re.IGNORECASE)
_names = itertools.count(1)
_ONE_COLUMN_FUNCTION = re.compile(r"\w+\(\s*\"?(\w+)\"?\s*\)")


def select_only_reason(query: str) -> str | None:
    """None when `query` is a plain read (see the module docstring), else why it is not run."""
    if first_keyword(query) not in ("select", "with"):
        return f"not a SELECT ({first_keyword(query).upper() or 'empty'})"
    try:
        tree = sqlglot.parse_one(for_sqlglot(query), read="postgres")
    except sqlglot.errors.SqlglotError as e:
        return f"sqlglot could not parse it, so it is not known to be read-only ({str(e).splitlines()[0][:120]})"
    if not isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except):
        return f"not a plain query ({type(tree).__name__})"
    bad = tree.find(exp.Insert, exp.Update, exp.Delete, exp.Merge)
    if bad is not None:
        return f"it modifies data ({type(bad).__name__.upper()} in a WITH clause)"
    if tree.find(exp.Into) is not None:
        return "SELECT … INTO creates a table"
    if tree.find(exp.Lock) is not None:
        return "SELECT … FOR UPDATE/SHARE takes row locks"
    return None


def parameter_values(query: str, uses: list[dict], nparams: int, stats_by_col: dict,
                     row_lookup: Callable[[str, str, str, str, list[str]], dict[str, str] | None] | None = None,
                     ) -> tuple[list[str] | None, str | None]:
    """(values, None) with one literal per parameter, or (None, why not).

    uses: the statement's TableUse dicts (candidates.table_uses); stats_by_col: {(schema, table, column):
    pg_stats row}; row_lookup(schema, table, column, value, other_columns) → {column: value} of one row with
    column = value (for several equality columns of one table), or None.
    """
    values: list[str | None] = [None] * nparams
    for word, n in _PAGE_PARAM.findall(query):
        if 1 <= int(n) <= nparams:
            values[int(n) - 1] = _PAGE[word.lower()]
    for u in uses:
        eq_cols = []
        for col, op, params in u["params"]:
            if not params or not all(1 <= n <= nparams for n in params):
                continue  # a placeholder the statement does not have: nothing to fill
            if op == "escape":
                for n in params:
                    values[n - 1] = "\\"
                continue
            st = stats_by_col.get((u["schema"], u["table"], col))
            inner = _ONE_COLUMN_FUNCTION.fullmatch(col)
            if st is None and inner and op == "eq":
                # lower(email) = lower($1): a value of the column itself, which the function maps alike
                st = stats_by_col.get((u["schema"], u["table"], inner.group(1)))
            if not st or op == "expr":
                continue
            hist = st.get("histogram_bounds") or []
            mcv = st.get("most_common_vals") or []
            if not hist and not mcv:
                continue
            if op == "between" and len(params) == 2 and len(hist) >= 2:
                i = len(hist) // 2
                values[params[0] - 1], values[params[1] - 1] = hist[i - 1], hist[i]
                continue
            mid = hist[len(hist) // 2] if hist else mcv[0]
            if op == "like":
                start = max(0, len(mid) // 2 - 2)
                mid = "%" + mid[start:start + 4].replace("%", "").replace("_", "").replace("\\", "") + "%"
            if len(params) == 1 and values[params[0] - 1] is None:
                values[params[0] - 1] = mid
                if op == "eq":
                    eq_cols.append((col, params[0]))
        if len(eq_cols) > 1 and row_lookup is not None:
            (first, n0), rest = eq_cols[0], eq_cols[1:]
            row = row_lookup(u["schema"], u["table"], first, values[n0 - 1], [c for c, _ in rest])
            for col, n in rest:
                if row and row.get(col) is not None:
                    values[n - 1] = row[col]
    missing = [f"${i + 1}" for i, v in enumerate(values) if v is None]
    if missing:
        return None, (f"parameter {', '.join(missing)} is not compared with a column that has statistics "
                      "(pg_stats), so no representative value is known")
    return values, None  # type: ignore[return-value]


def _one_row(conn: psycopg.Connection, column_types: dict[tuple[str, str], dict[str, str]]):
    """A row_lookup for parameter_values over `conn` (a read-only SELECT … LIMIT 1)."""
    def lookup(schema: str, table: str, column: str, value: str, others: list[str]) -> dict[str, str] | None:
        typ = column_types.get((schema, table), {}).get(column)
        if not typ or not others:
            return None
        q = sql.SQL(OWN_MARKER + " SELECT {} FROM {}.{} WHERE {} = {}::{} LIMIT 1").format(
            sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in others),
            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column), sql.Literal(value), sql.SQL(typ))
        try:
            found = conn.execute(q).fetchone()
        except psycopg.Error:
            return None
        return dict(zip(others, found, strict=True)) if found else None
    return lookup


def explain_analyze(conn: psycopg.Connection, prep: plans.Prepared, values: list[str], timeout_ms: int,
                    work_mem_kb: int | None = None) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of a prepared statement with custom-plan `values`, inside a
    read-only transaction that is rolled back. Returns the EXPLAIN document's first element (with "Plan" and
    "Execution Time"). Raises plans.ExplainError with PostgreSQL's message."""
    name = f"perfadvisor_ea_{next(_names)}"
    types = [t or "unknown" for t in prep.param_types] if any(prep.param_types) else []
    prepare = sql.SQL(OWN_MARKER + " PREPARE {}").format(sql.Identifier(name))
    if types:
        prepare = sql.SQL("{}({})").format(prepare, sql.SQL(", ").join(sql.SQL(t) for t in types))
    prepare = sql.SQL("{} AS {}\n").format(prepare, sql.SQL(prep.text))
    run = sql.SQL(OWN_MARKER + " EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {}").format(sql.Identifier(name))
    if values:
        run = sql.SQL("{}({})").format(run, sql.SQL(", ").join(sql.Literal(v) for v in values))
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(OWN_MARKER + " SET TRANSACTION READ ONLY")
            conn.execute(sql.SQL(OWN_MARKER + " SET LOCAL statement_timeout = {}").format(sql.Literal(int(timeout_ms))))
            conn.execute(OWN_MARKER + " SET LOCAL plan_cache_mode = force_custom_plan")
            if work_mem_kb:
                conn.execute(sql.SQL(OWN_MARKER + " SET LOCAL work_mem = {}").format(sql.Literal(f"{int(work_mem_kb)}kB")))
            conn.execute(prepare, prepare=False)
            doc = conn.execute(run, prepare=False).fetchone()[0]
    except psycopg.Error as e:
        raise plans.ExplainError((e.diag.message_primary or str(e)).strip()) from None
    finally:
        try:
            conn.execute(sql.SQL(OWN_MARKER + " DEALLOCATE {}").format(sql.Identifier(name)))
        except psycopg.Error:
            pass
    if isinstance(doc, str):
        doc = json.loads(doc)
    return doc[0]


def _order(stmts: list[dict]) -> list[dict]:
    """Spilling statements first (their work_mem is measured), then by exec time."""
    return sorted(stmts, key=lambda s: (-(1 if (s.get("temp_blks_written") or 0) > 0 else 0),
                                        -s["total_exec_time_ms"]))


def collect(conn: psycopg.Connection, stmts: list[dict], prepared: dict[str, tuple[plans.Prepared, Any]],
            stats_by_col: dict, column_types: dict, timeout_ms: int, work_mem_kb: int,
            max_statements: int = MAX_STATEMENTS, budget_s: float = BUDGET_S,
            probe_max_mb: float = PROBE_WORK_MEM_MAX_MB) -> dict[str, Any]:
    """The ``explain_analyze`` part of the postgres section (module docstring). `stmts` are the selected
    statements (with status/uses), `prepared` collect's {queryid: (Prepared, values)}."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"enabled": True, "budget_s": budget_s, "work_mem_kb": work_mem_kb,
                           "statements": [], "skipped": []}
    lookup = _one_row(conn, column_types)

    def skip(s: dict, reason: str) -> None:
        out["skipped"].append({"queryid": s["queryid"], "reason": reason, "share": s.get("share", 0.0)})

    ran = 0
    for s in _order([s for s in stmts if s.get("kind") == "explainable"]):
        reason = select_only_reason(s["query"])
        if reason:
            skip(s, reason)
            continue
        if s["queryid"] not in prepared or s.get("status") != "analysed":
            skip(s, s.get("reason") or "its plan could not be built")
            continue
        if ran >= max_statements:
            skip(s, f"beyond explain_analyze_max_statements ({max_statements})")
            continue
        if time.perf_counter() - t0 > budget_s:
            skip(s, f"beyond the {budget_s:g} s budget (explain_analyze_budget_s)")
            continue
        prep = prepared[s["queryid"]][0]
        values, why = parameter_values(s["query"], s["uses"], prep.nparams, stats_by_col, lookup)
        if values is None:
            skip(s, why or "no parameter values")
            continue
        ran += 1
        entry: dict[str, Any] = {"queryid": s["queryid"], "values": values}
        try:
            doc = explain_analyze(conn, prep, values, timeout_ms)
        except plans.ExplainError as e:
            entry["error"] = str(e)
            out["statements"].append(entry)
            continue
        entry["execution_time_ms"] = doc.get("Execution Time")
        entry["nodes"] = planfacts.compact(doc["Plan"])
        entry["probe"] = _probe(conn, prep, values, timeout_ms, work_mem_kb, entry["nodes"], probe_max_mb)
        out["statements"].append(entry)
    out["time_s"] = round(time.perf_counter() - t0, 3)
    return out


def _probe(conn, prep, values, timeout_ms: int, work_mem_kb: int, nodes: list[dict], max_mb: float):
    """Run a statement whose plan spilled again with a larger work_mem (see PROBE_FACTOR), so the memory it
    needs is measured rather than estimated. None when nothing spilled."""
    spills = [n for n in nodes if planfacts.spilled(n)]
    if not spills:
        return None
    disk_kb = max(planfacts.disk_used_kb(n) for n in spills)
    probe_kb = int(min(max_mb * 1024, max(PROBE_FACTOR * disk_kb, 2 * work_mem_kb)))
    if probe_kb <= work_mem_kb:
        return {"work_mem_kb": probe_kb, "error": "the probe would not exceed the current work_mem"}
    try:
        doc = explain_analyze(conn, prep, values, timeout_ms, work_mem_kb=probe_kb)
    except plans.ExplainError as e:
        return {"work_mem_kb": probe_kb, "error": str(e)}
    return {"work_mem_kb": probe_kb, "execution_time_ms": doc.get("Execution Time"),
            "nodes": planfacts.compact(doc["Plan"])}
