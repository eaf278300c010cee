"""Collect the PostgreSQL evidence for the snapshot: statements, catalog, statistics, plans, what-if costs.

Read-only: every session runs with default_transaction_read_only = on and a statement_timeout; HypoPG's
hypothetical indexes are backend-local and reset on every path out; statistics are never reset.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from advisor.config import Settings, redact_dsn
from advisor.errors import TargetError
from advisor.model import IndexSpec
from advisor.sampling import terminal_progress
from analyzers.postgres import candidates as cand_mod
from analyzers.postgres import catalog, host, planfacts, plans
from analyzers.postgres import explain_analyze as ea_mod
from analyzers.postgres import select as select_mod
from analyzers.postgres.budget import Budget, Progress
from analyzers.postgres.statements import (
    OWN_MARKER,
    is_own,
    kind,
    param_count,
    quote_ident,
    rewrite_typed_literals,
    split_direction,
)
from analyzers.postgres.whatif import HypoSession, hypopg_version

#: Statements are taken, most expensive first, until they account for this share of total_exec_time
#: (pghero and Dexter look at the top of pg_stat_statements the same way). Override:
#: thresholds.postgres.workload_share.
WORKLOAD_SHARE = 0.95
#: …but never more than this many statements; 0: no cap, the share decides (issue 11: a fixed 500 analysed a
#: quarter of the database time on a 5,000-statement workload). Override: thresholds.postgres.max_statements.
MAX_STATEMENTS = 0
#: Wall-clock seconds for the index analysis (EXPLAIN of the statements, then the what-if selection), so a
#: very large workload still ends: generous (Dexter takes ~30 s on issue 11's 5,000-statement benchmark).
#: perfadvisor's choice. Override: thresholds.postgres.time_budget_s (the CLI's --time-budget).
TIME_BUDGET_S = 600.0
#: Share of the time budget EXPLAINing statements may use; the rest is kept for the what-if selection.
#: perfadvisor's choice (on issue 11's benchmark EXPLAIN takes well under half of the time).
EXPLAIN_BUDGET_SHARE = 0.5
#: Range/LIKE statements are also costed with representative values from pg_stats, because a generic plan
#: uses fixed default selectivities for them (1/3 for `<`, 0.005 for a range pair and for LIKE;
#: PostgreSQL src/include/utils/selfuncs.h DEFAULT_INEQ_SEL, DEFAULT_RANGE_INEQ_SEL, DEFAULT_MATCH_SEL).
_RANGE_OPS = {"gt", "gte", "lt", "lte", "between", "like"}

INSTALL_HYPOPG = ("install HypoPG for verified what-if costs: apt-get install postgresql-15-hypopg, "
                  "then CREATE EXTENSION hypopg; in the database")


def connect(dsn: str, statement_timeout_ms: int) -> psycopg.Connection:
    """A read-only autocommit session with statement_timeout. Raises TargetError naming the DSN (password
    hidden) for a malformed DSN, an unreachable server or failed authentication."""
    shown = redact_dsn(dsn)
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10, prepare_threshold=None,
                               application_name="perfadvisor",
                               options=f"-c statement_timeout={int(statement_timeout_ms)} "
                                       "-c default_transaction_read_only=on -c lock_timeout=1000")
    except psycopg.ProgrammingError as e:
        raise TargetError(f"PostgreSQL DSN {shown!r} is malformed: {_first_line(e)}") from None
    except psycopg.OperationalError as e:
        msg = _first_line(e)
        if "connection option" in msg or msg.startswith("invalid "):
            raise TargetError(f"PostgreSQL DSN {shown!r} is malformed: {msg}") from None
        if "authentication failed" in msg or "password" in msg.lower():
            raise TargetError(f"PostgreSQL {shown}: authentication failed ({msg})") from None
        if "does not exist" in msg:
            raise TargetError(f"PostgreSQL {shown}: {msg}") from None
        raise TargetError(f"PostgreSQL {shown} is unreachable: {msg}") from None
    try:  # keep our own statements out of pg_stat_statements where we are allowed to (superuser only)
        conn.execute(OWN_MARKER + " SET pg_stat_statements.track = 'none'")
    except psycopg.Error:
        pass
    return conn


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("connection to server", "DETAIL", "HINT")):
            return line.removeprefix("FATAL:").strip()
    return text.splitlines()[0] if text else type(e).__name__


def check_pg_stat_statements(conn: psycopg.Connection, server: dict[str, Any], shown_dsn: str) -> None:
    """Raise TargetError with the exact fix when pg_stat_statements is not preloaded or not created."""
    libs = server.get("shared_preload_libraries")  # None: this role may not read the setting
    preloaded = None if libs is None else "pg_stat_statements" in libs
    created = catalog.one(conn, OWN_MARKER + " SELECT extversion FROM pg_extension "
                          "WHERE extname = 'pg_stat_statements'")
    if preloaded is False:
        raise TargetError(
            f"PostgreSQL {shown_dsn}: pg_stat_statements is not preloaded; add "
            "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf, restart PostgreSQL, then run "
            f"CREATE EXTENSION pg_stat_statements; in database {server['database']}")
    if not created:
        raise TargetError(
            f"PostgreSQL {shown_dsn}: pg_stat_statements is preloaded but not created in database "
            f"{server['database']}; run CREATE EXTENSION pg_stat_statements; there")


def pick_statements(all_rows: list[dict[str, Any]], share: float, cap: int) -> tuple[list[dict], float]:
    """The most expensive statements that together reach `share` of total_exec_time, at most `cap` (0: no cap).
    Returns (statements with a `share` field, total_exec_time_ms of the whole workload)."""
    total = sum(r["total_exec_time_ms"] for r in all_rows) or 0.0
    picked, acc = [], 0.0
    for r in all_rows:
        if (cap and len(picked) >= cap) or (total and acc / total >= share):
            break
        r["share"] = r["total_exec_time_ms"] / total if total else 0.0
        acc += r["total_exec_time_ms"]
        picked.append(r)
    return picked, total


def collect(settings: Settings) -> dict[str, Any]:
    """The "postgres" section of the snapshot (see docs/snapshot.md). Raises TargetError with a one-line
    message naming the DSN (password hidden)."""
    dsn = settings.target("postgres")["dsn"]
    shown = redact_dsn(dsn)
    conn = connect(dsn, settings.statement_timeout_ms)
    try:
        return _collect(conn, settings, shown)
    except psycopg.errors.QueryCanceled:
        raise TargetError(f"PostgreSQL {shown}: a catalog query ran past statement_timeout "
                          f"({settings.statement_timeout_ms} ms); raise --statement-timeout-ms") from None
    except psycopg.Error as e:  # e.g. a permission the role lacks
        raise TargetError(f"PostgreSQL {shown}: {_first_line(e)}") from None
    finally:
        conn.close()


def _collect(conn: psycopg.Connection, settings: Settings, shown: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    server = catalog.one(conn, catalog.SERVER_SQL)
    check_pg_stat_statements(conn, server, shown)
    try:
        info = catalog.one(conn, OWN_MARKER + " SELECT stats_reset::text AS stats_reset FROM pg_stat_statements_info")
        all_rows = catalog.rows(conn, catalog.statements_sql(server.get("server_version_num") or 0))
    except psycopg.Error as e:
        msg = _first_line(e)
        if "shared_preload_libraries" in msg:
            raise TargetError(f"PostgreSQL {shown}: pg_stat_statements is not preloaded; add "
                              "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf and restart "
                              "PostgreSQL") from None
        raise TargetError(f"PostgreSQL {shown}: cannot read pg_stat_statements: {msg}") from None
    hidden = [r for r in all_rows if r["query"] == "<insufficient privilege>"]
    if hidden:
        raise TargetError(
            f"PostgreSQL {shown}: role {server['role']} cannot read the text of {len(hidden)} statements of "
            f"other roles; run GRANT pg_read_all_stats TO {server['role']}; as a superuser")
    workload = [r for r in all_rows if not is_own(r["query"])]
    share = settings.threshold("postgres", "workload_share", WORKLOAD_SHARE)
    cap = settings.threshold("postgres", "max_statements", MAX_STATEMENTS)
    stmts, total_ms = pick_statements(workload, share, cap)
    # Every other statement keeps its counters: N+1 children and spilling statements are often cheap per
    # call and below the cut (PG007, PG008).
    picked_ids = {s["queryid"] for s in stmts}
    others = [r for r in workload if r["queryid"] not in picked_ids]

    tables = catalog.rows(conn, catalog.TABLES_SQL)
    columns = catalog.rows(conn, catalog.COLUMNS_SQL)
    indexes = catalog.rows(conn, catalog.INDEXES_SQL)
    fks = catalog.rows(conn, catalog.FOREIGN_KEYS_SQL)
    cat = cand_mod.Catalog(columns={}, search_path=list(server.get("schemas") or ["public"]))
    for c in columns:
        cat.columns.setdefault((c["schema"], c["table"]), {})[c["column"]] = c["type"]
    for r in catalog.rows(conn, catalog.OTHER_RELATIONS_SQL):
        if r["relkind"] == "v" and r["definition"]:
            cat.views[(r["schema"], r["name"])] = r["definition"]
        else:
            cat.others[(r["schema"], r["name"])] = "a foreign table"

    # What each statement reads, from its text.
    for s in stmts:
        s["kind"] = kind(s["query"])
        s["uses"] = []
        if s["kind"] != "explainable":
            s["status"], s["reason"] = "utility", "utility statement (not costed by EXPLAIN)"
            continue
        try:
            found = cand_mod.extract(s["query"], cat)
        except cand_mod.UnparsableStatement as e:
            s["parse_error"] = str(e)
            continue
        s["uses"] = [u.__dict__ for u in found.uses]
        if found.unresolved:
            s["not_tables"] = found.unresolved
        if found.skipped:
            s["skipped_conditions"] = found.skipped
    used_tables = sorted({(u["schema"], u["table"]) for s in stmts for u in s["uses"]}
                         | {(f["schema"], f["table"]) for f in fks})
    pg_stats = catalog.rows(conn, catalog.PG_STATS_SQL,
                            ([t[0] for t in used_tables], [t[1] for t in used_tables])) if used_tables else []
    reltuples = {(t["schema"], t["table"]): max(t["reltuples"] or 0, 0) for t in tables}
    for st in pg_stats:
        # pg_stats.n_distinct < 0 is minus a fraction of the rows (PostgreSQL docs, 54.27 pg_stats)
        nd = st["n_distinct"] or 0
        cat.n_distinct[(st["schema"], st["table"], st["column"])] = \
            nd if nd > 0 else -nd * reltuples.get((st["schema"], st["table"]), 0)

    stats_by_col = {(p["schema"], p["table"], p["column"]): p for p in pg_stats}
    budget = Budget(t0, settings.threshold("postgres", "time_budget_s", TIME_BUDGET_S), EXPLAIN_BUDGET_SHARE)
    progress = Progress(terminal_progress(sys.stderr) if settings.progress else None, len(stmts))
    baseline: dict[str, float] = {}
    prepared = _prepare_all(conn, stmts, cat, stats_by_col, budget, progress, baseline)
    notes = _permission_check(stmts, server["role"], shown)

    # Candidates, minus what an existing index already provides.
    cands: dict[str, IndexSpec] = {}
    already: dict[str, str] = {}
    for s in stmts:
        s["candidates"] = []
        if s.get("status") != "analysed":
            continue
        for u in s["uses"]:
            use = cand_mod.TableUse(**u)
            for spec in cand_mod.candidates_for(use, cat, settings.threshold(
                    "postgres", "max_index_columns", cand_mod.MAX_INDEX_COLUMNS)):
                existing = cand_mod.covered_by_existing(spec, indexes)
                if existing:
                    already[spec.label] = existing["name"]
                    s.setdefault("already_indexed", {})[spec.label] = existing["name"]
                    continue
                cands.setdefault(spec.label, spec)
                s["candidates"].append(spec.label)

    for s in stmts:
        if s.get("status") == "analysed" and not s["candidates"]:
            s["no_candidates_reason"] = no_candidates_reason(s)
    cand_stmts: dict[str, list[str]] = {k: [] for k in cands}
    for s in stmts:
        for k in dict.fromkeys(s.get("candidates", ())):
            cand_stmts[k].append(s["queryid"])
    section: dict[str, Any] = {
        "server_version": server["server_version"], "server_version_num": server["server_version_num"],
        "database": server["database"], "role": server["role"], "dsn": shown,
        "search_path": cat.search_path,
        "stats_reset": {"pg_stat_statements": info.get("stats_reset"),
                        "database": server.get("database_stats_reset"),
                        "postmaster_start_time": server.get("postmaster_start_time")},
        "collected_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": catalog.rows(conn, catalog.SETTINGS_SQL),
        "workload": {"total_exec_time_ms": total_ms, "statement_count": len(workload),
                     "selected_count": len(stmts), "selected_share": sum(s["share"] for s in stmts),
                     "share_threshold": share, "max_statements": cap},
        "statements": stmts, "tables": tables, "indexes": indexes, "foreign_keys": fks,
        "pg_stats": pg_stats, "columns": {f"{k[0]}.{k[1]}": v for k, v in cat.columns.items()},
        "candidates": {k: {**v.to_dict(), "statements": cand_stmts[k]} for k, v in sorted(cands.items())},
        "already_indexed": already,
        "notes": notes,
    }
    section["whatif"] = _whatif(conn, settings, stmts, cands, prepared, budget, progress, baseline)
    progress.done()
    section["workload"]["time_budget_s"] = budget.seconds
    section["notes"].extend(budget_notes(stmts, section["whatif"], budget))
    t_extra = time.perf_counter()
    section.update(_beyond_indexes(conn, server, others))
    section["workload"]["total_calls"] = sum(int(r["calls"] or 0) for r in workload)
    target = settings.target("postgres")
    if target.get("explain_analyze"):
        work_mem = next((int(r["setting"]) for r in section["settings"] if r["name"] == "work_mem"), 4096)
        section["explain_analyze"] = ea_mod.collect(
            conn, stmts, prepared, stats_by_col, cat.columns, settings.statement_timeout_ms, work_mem,
            max_statements=settings.threshold("postgres", "explain_analyze_max_statements", ea_mod.MAX_STATEMENTS),
            budget_s=settings.threshold("postgres", "explain_analyze_budget_s", ea_mod.BUDGET_S),
            probe_max_mb=settings.threshold("postgres", "probe_work_mem_max_mb", ea_mod.PROBE_WORK_MEM_MAX_MB))
    else:
        section["explain_analyze"] = {"enabled": False}
    # What the evidence beyond indexes cost (benchmarks/pg_analyze.py), --explain-analyze excluded.
    section["beyond_indexes_time_s"] = round(time.perf_counter() - t_extra -
                                             (section["explain_analyze"].get("time_s") or 0.0), 3)
    section["collect_time_s"] = round(time.perf_counter() - t0, 3)
    return section


def no_candidates_reason(s: dict[str, Any]) -> str:
    """Why an analysed statement has no candidate to cost (it is still analysed: none could apply)."""
    if s.get("already_indexed"):
        return ("every candidate is already served by an existing index: " +
                ", ".join(f"{k} by {v}" for k, v in sorted(s["already_indexed"].items())))
    if not s["uses"]:
        return "it filters, joins, sorts and groups on no table column, so no index can apply"
    if all(not any(u[b] for b in ("eq", "range", "join", "sort", "group")) for u in s["uses"]):
        return ("it searches only with LIKE/ILIKE patterns, which a B-tree serves only for left-anchored "
                "terms (see PG006 for a trigram index)")
    return "no candidate could be built from its columns"


def _beyond_indexes(conn, server: dict[str, Any], others: list[dict]) -> dict[str, Any]:
    """Evidence for PG007-PG014: every statement's counters, the database's counters, extended statistics and
    the server machine's facts (host.py)."""
    return {"other_statements": others,
            "database_stats": {**catalog.one(conn, catalog.DATABASE_SQL), **catalog.one(conn, catalog.OLDEST_XACT_SQL)},
            "extended_statistics": catalog.rows(conn, catalog.EXTENDED_STATS_SQL),
            "host": host.facts(conn.info.host, server.get("data_directory"))}


def _prepare_all(conn, stmts, cat, stats_by_col, budget: Budget | None = None,
                 progress: Progress | None = None,
                 baseline: dict[str, float] | None = None) -> dict[str, tuple[plans.Prepared, list | None]]:
    """PREPARE and EXPLAIN (generic plan, and representative values for ranges) every explainable
    statement; mark each "analysed" or "unanalysed" with PostgreSQL's reason, or with the time budget's
    when its EXPLAIN share ran out first (statements come most expensive first). `baseline` receives each
    statement's planner cost with no new index ({queryid: cost}), which the selection then need not ask."""
    out = {}
    for s in stmts:
        if s.get("status") == "utility":
            continue
        if budget is not None and budget.explain_spent():
            s["status"], s["reason"] = "unanalysed", budget.reason("before it was EXPLAINed")
            s["time_budget"] = True
            continue
        if progress is not None:
            progress.explained += 1
            progress.show()
        try:
            prep, plan = _prepare_and_explain(conn, s["query"], _type_hints(s["uses"], cat))
        except plans.ExplainError as e:
            s["status"], s["reason"] = "unanalysed", f"could not EXPLAIN: {e}"
            continue
        s["status"] = "analysed"
        s["param_types"] = prep.param_types
        s["plan"] = plans.summary(plan)  # kept even when unparsable: its indexes must not be dropped
        s["plan"]["memory_nodes"] = planfacts.memory_nodes(plan)
        if s.get("parse_error"):
            s["status"] = "unanalysed"
            s["reason"] = f"no index candidates: sqlglot could not parse it ({s['parse_error']})"
            continue
        if s.get("not_tables") and not s["uses"]:
            s["status"] = "unanalysed"
            s["reason"] = "no index candidates: it reads " + ", ".join(s["not_tables"])
            continue
        if s.get("skipped_conditions") and not s["uses"]:
            s["status"] = "unanalysed"
            s["reason"] = "no index candidates: " + "; ".join(s["skipped_conditions"])
            continue
        values = _representative_values(s["uses"], prep.nparams, stats_by_col, s["query"])
        if values is not None:
            try:
                rep_plan = plans.explain(conn, prep, values)
                s["representative"] = {"values": values, "plan": {**plans.summary(rep_plan),
                                                                  "memory_nodes": planfacts.memory_nodes(rep_plan)}}
            except plans.ExplainError as e:
                s["representative"] = {"values": values, "error": str(e)}
                values = None
        elif any(op in _RANGE_OPS for u in s["uses"] for _, op, _ in u["params"]):
            s["representative"] = {"error": "not every parameter maps to a column with pg_stats; generic plan only"}
        out[s["queryid"]] = (prep, values)
        if baseline is not None:  # the cost with no new index, as the selection would EXPLAIN it
            baseline[s["queryid"]] = float((rep_plan if values is not None else plan)["Total Cost"])
    return out


def _prepare_and_explain(conn, query: str, hints: dict[int, str]) -> tuple[plans.Prepared, dict[str, Any]]:
    """The statement's generic plan: EXPLAINed as written in one round trip, which works for most
    statements; otherwise plans.prepare finds the parameter types first. Raises plans.ExplainError."""
    prep = plans.Prepared(rewrite_typed_literals(query), param_count(query))
    prep.param_types = [""] * prep.nparams
    try:
        return prep, plans.explain(conn, prep)
    except plans.ExplainError:
        prep = plans.prepare(conn, query, hints)
        return prep, plans.explain(conn, prep)


def _permission_check(stmts: list[dict], role: str, shown: str) -> list[str]:
    """EXPLAIN needs the privileges the statement itself needs. Raise TargetError when statements holding
    most of the explainable exec time could not be EXPLAINed for lack of them (the advice would rest on too
    little); return a note when some could not."""
    explainable = [s for s in stmts if s.get("kind") == "explainable"]
    denied = [s for s in explainable if "permission denied" in (s.get("reason") or "")]
    if not denied:
        return []
    fix = (f"GRANT pg_read_all_data TO {role}; (PostgreSQL 14+) or GRANT SELECT on the tables, "
           f"and for UPDATE/DELETE statements the matching privileges")
    if sum(s["share"] for s in denied) >= 0.5 * sum(s["share"] for s in explainable):
        first = denied[0]["reason"].removeprefix("could not EXPLAIN: ")
        raise TargetError(f"PostgreSQL {shown}: role {role} cannot EXPLAIN the workload's statements "
                          f"({first}); {fix}")
    return [f"{len(denied)} statement(s) could not be EXPLAINed for lack of privileges; {fix}"]


def _type_hints(uses: list[dict], cat: cand_mod.Catalog) -> dict[int, str]:
    hints: dict[int, str] = {}
    for u in uses:
        cols = cat.columns.get((u["schema"], u["table"]), {})
        for col, _op, params in u["params"]:
            if col in cols:
                for n in params:
                    hints.setdefault(n, cols[col])
    return hints


#: Representative LIMIT (a page of results) and OFFSET (the first page) for custom plans.
_PAGE = {"limit": "20", "offset": "0"}
_PAGE_PARAM = re.compile(r"\b(LIMIT|OFFSET)\s+\$(\d+)\b", re.IGNORECASE)


def _representative_values(uses: list[dict], nparams: int, stats_by_col, query: str = "") -> list[str] | None:
    """Literal values for every parameter when the statement has a range or pattern predicate and every
    parameter is compared with a column that has pg_stats: the histogram median for equality and one-sided
    ranges, one histogram bucket (≈1/100 of the rows at default_statistics_target 100) for a two-sided range,
    and `%<4 characters of the median>%` for LIKE/ILIKE (a search term that does occur, which the planner
    can estimate from the histogram). None when not applicable."""
    if not any(op in _RANGE_OPS for u in uses for _, op, _ in u["params"]):
        return None
    values: list[str | None] = [None] * nparams
    for word, n in _PAGE_PARAM.findall(query):
        if 1 <= int(n) <= nparams:
            values[int(n) - 1] = _PAGE[word.lower()]
    for u in uses:
        for col, op, params in u["params"]:
            if op == "escape":
                for n in params:
                    values[n - 1] = "\\"
                continue
            st = stats_by_col.get((u["schema"], u["table"], col))
            if not st or op == "expr":
                continue
            hist = st.get("histogram_bounds") or []
            mcv = st.get("most_common_vals") or []
            if not hist and not mcv:
                continue
            mid = hist[len(hist) // 2] if hist else mcv[0]
            if op == "like":
                start = max(0, len(mid) // 2 - 2)
                mid = "%" + mid[start:start + 4].replace("%", "").replace("_", "").replace("\\", "") + "%"
            if op == "between" and len(params) == 2 and len(hist) >= 2:
                i = len(hist) // 2
                values[params[0] - 1] = hist[i - 1]
                values[params[1] - 1] = hist[i]
                continue
            for n in params:
                if 1 <= n <= nparams and values[n - 1] is None and len(params) == 1:
                    values[n - 1] = mid
    if any(v is None for v in values):
        return None
    return values


def budget_notes(stmts: list[dict], whatif: dict[str, Any], budget: Budget) -> list[str]:
    """What the time budget left out, for the report: the share of database time not EXPLAINed, the
    candidates not costed and where the selection stopped. Empty when the budget did not run out."""
    notes = []
    cut = [s for s in stmts if s.get("time_budget")]
    if cut:
        notes.append(f"the time budget ({budget.seconds:g} s) ran out while EXPLAINing: {len(cut)} statement(s), "
                     f"{sum(s['share'] for s in cut):.1%} of database time, were not analysed; raise it with "
                     f"--time-budget or thresholds.postgres.time_budget_s")
    stop = whatif.get("time_budget") or {}
    if stop.get("uncosted_candidates"):
        notes.append(f"the time budget ran out while costing index candidates: {len(stop['uncosted_candidates'])} "
                     f"of {stop['candidates']} were not costed")
    if stop.get("stopped_after_choices") is not None:
        notes.append(f"the time budget ran out during the selection: it stopped after "
                     f"{stop['stopped_after_choices']} index choice(s)")
    return notes


def _whatif(conn, settings: Settings, stmts, cands: dict[str, IndexSpec], prepared,
            budget: Budget | None = None, progress: Progress | None = None,
            baseline: dict[str, float] | None = None) -> dict[str, Any]:
    version = hypopg_version(conn)
    opts = selection_options(settings)
    result: dict[str, Any] = {"available": bool(version), "hypopg_version": version, "options": opts,
                              "evaluations": {}, "sizes_bytes": {}}
    if not version:
        result["reason"] = "HypoPG is not installed in this database; " + INSTALL_HYPOPG
        return result
    session = HypoSession(conn, cands)
    stmt_refs = statement_refs(stmts)
    cost = _LiveCosts(session, prepared, stmt_refs, ConfigKeys(cands), result["evaluations"], baseline or {})
    result["config_keys"] = CONFIG_KEYS
    try:
        session.reset()
        sel = select_mod.choose(list(stmt_refs.values()), candidate_refs(cands), cost,
                                session.size_bytes, opts["budget_bytes"], opts["min_cost_savings_pct"],
                                opts["max_new_indexes"], out_of_time=budget.spent if budget else None,
                                progress=progress.selection if progress else None)
        if sel.uncosted or sel.stopped_after is not None:
            result["time_budget"] = {"candidates": len(cands), "uncosted_candidates": sel.uncosted,
                                     "stopped_after_choices": sel.stopped_after}
        for key in sel.chosen:
            session.size_bytes(key)
        result["pattern_ways"] = _pattern_ways(session, stmts, cands, prepared)
        result["sizes_bytes"] = dict(sorted(session.sizes_bytes.items()))
        result["chosen"] = sel.chosen
    finally:
        try:
            session.reset()
        except psycopg.Error:
            pass
    result["explain_calls"] = session.stats.explain_calls
    result["explain_time_s"] = round(session.stats.explain_time_s, 3)
    result["hypo_indexes_created"] = session.stats.hypo_indexes_created
    result["hypo_time_s"] = round(session.stats.hypo_time_s, 3)
    result["cost_lookups"] = cost.lookups
    result["errors"] = cost.errors
    result["broken_candidates"] = session.broken
    return result


class _LiveCosts:
    """The selection's cost oracle during collection: each (statement, configuration) EXPLAINed once under
    HypoPG and kept in `evaluations` (by ConfigKeys), with `prefetch` batching what the selection is about to
    ask into round trips of statements that share one state of hypothetical indexes. `baseline` ({queryid:
    cost}) holds the costs with no new index that the statements' own EXPLAIN already gave."""

    def __init__(self, session: HypoSession, prepared, refs: dict[str, select_mod.StatementRef],
                 keys: ConfigKeys, evaluations: dict[str, float], baseline: dict[str, float]):
        self.session, self.prepared, self.refs, self.keys = session, prepared, refs, keys
        self.evaluations = evaluations
        self.errors: dict[str, str] = {}
        self.lookups = 0
        for qid, value in baseline.items():
            if qid in refs:
                evaluations[keys(qid, frozenset(), refs[qid])] = value

    def __call__(self, qid: str, config: frozenset[str]) -> float:
        self.lookups += 1
        key = self.keys(qid, config, self.refs[qid])
        if key not in self.evaluations:
            self._cost([(key, qid, config)])
        return self.evaluations[key]

    def prefetch(self, requests: list[tuple[str, frozenset[str]]]) -> None:
        todo, seen = [], set()
        for qid, config in requests:
            key = self.keys(qid, config, self.refs[qid])
            if key not in self.evaluations and key not in seen:
                seen.add(key)
                todo.append((key, qid, config))
        self._cost(todo)

    def _cost(self, todo: list[tuple[str, str, frozenset[str]]]) -> None:
        """EXPLAIN `todo` in as few round trips as the states of hypothetical indexes allow: each statement
        goes to the first batch whose state agrees with the one it needs on its tables (first fit)."""
        batches: list[tuple[dict[tuple[str, str], frozenset[str]], list[tuple[str, str]]]] = []
        for key, qid, config in todo:
            need = self.session.state_for(config, self.refs[qid].tables)
            for state, batch in batches:
                if len(batch) < plans.BATCH and all(state.get(t, ks) == ks for t, ks in need.items()):
                    break
            else:
                state, batch = {}, []
                batches.append((state, batch))
            state.update(need)
            batch.append((key, qid))
        for state, batch in batches:
            self._run(state, batch)

    def _run(self, state: dict[tuple[str, str], frozenset[str]], batch: list[tuple[str, str]]) -> None:
        if not batch:
            return
        results = self.session.costs(state, [self.prepared[qid] for _, qid in batch])
        for (key, qid), value in zip(batch, results, strict=True):
            if isinstance(value, plans.ExplainError):
                self.errors[qid] = str(value)
                value = self.evaluations.get(self.keys(qid, frozenset(), self.refs[qid]), float("inf"))
            self.evaluations[key] = value


def _pattern_ways(session: HypoSession, stmts, cands: dict[str, IndexSpec], prepared) -> dict[str, str]:
    """{"queryid|candidate": way} for statements searching with LIKE/ILIKE: how the plan with that one
    hypothetical B-tree uses it (patterns.pattern_way), so a finding claims it only in a way that holds for
    real search terms (issue 12)."""
    from analyzers.postgres import patterns

    out: dict[str, str] = {}
    for s in stmts:
        if s.get("status") != "analysed" or s["queryid"] not in prepared:
            continue
        searched = {(u["schema"], u["table"]): u["pattern"] for u in s["uses"] if u.get("pattern")}
        if not searched:
            continue
        prep, values = prepared[s["queryid"]]
        for key, spec in cands.items():
            cols = searched.get((spec.schema, spec.table))
            if not cols or key in session.broken:
                continue
            try:
                plan = session.plan(prep, frozenset({key}), values)
            except plans.ExplainError:
                continue
            way = patterns.pattern_way(plan, session.names.get(key, ""), cols)
            if way:
                out[f"{s['queryid']}|{key}"] = way
    return out


def selection_options(settings: Settings) -> dict[str, Any]:
    budget_mb = settings.threshold("postgres", "storage_budget_mb", 0.0)
    return {"min_cost_savings_pct": settings.threshold("postgres", "min_cost_savings_pct",
                                                       select_mod.MIN_COST_SAVINGS_PCT),
            "max_new_indexes": settings.threshold("postgres", "max_new_indexes", select_mod.MAX_NEW_INDEXES),
            "budget_bytes": int(budget_mb * 1024 * 1024) if budget_mb else None}


def statement_refs(stmts: list[dict]) -> dict[str, select_mod.StatementRef]:
    """Selection inputs for the analysed statements: calls, tables and the columns each one uses."""
    def columns(u):
        cols = [c[:-5] if c.endswith(" DESC") else c for c in (*u["eq"], *u["range"], *u["join"], *u["sort"],
                                                                 *u["group"])]
        # raw names (as in the catalog) and their SQL spelling (as in candidate index columns)
        return {(u["schema"], u["table"], form) for c in cols for form in (c, quote_ident(c))}
    return {s["queryid"]: select_mod.StatementRef(
        s["queryid"], int(s["calls"]), frozenset((u["schema"], u["table"]) for u in s["uses"]),
        frozenset(c for u in s["uses"] for c in columns(u)))
        for s in stmts if s.get("status") == "analysed"}


def _as_spec(v: IndexSpec | dict[str, Any]) -> IndexSpec:
    """Candidates are IndexSpec during collection and plain dicts when read back from a snapshot."""
    return v if isinstance(v, IndexSpec) else IndexSpec(v["schema"], v["table"], tuple(v["columns"]))


def candidate_refs(cands: dict[str, Any]) -> list[select_mod.CandidateRef]:
    return [select_mod.CandidateRef(k, (spec.schema, spec.table), split_direction(spec.columns[0])[0])
            for k, spec in ((k, _as_spec(v)) for k, v in sorted(cands.items()))]


#: How the snapshot's what-if evaluations are keyed: "relevant" — the statement and the candidates of the
#: configuration it could use (select.relevant); snapshots without it keyed every candidate on its tables.
CONFIG_KEYS = "relevant"


#: Memo keys ConfigKeys keeps before it starts again (about 25 MB).
MEMO_KEYS = 1 << 16


class ConfigKeys:
    """Memo keys of costings: "queryid|candidate;candidate…", the statement and the candidates of a
    configuration that it could use (on a table it reads, entered by a column it uses: select.relevant), so
    the same plan is never costed twice. kind "tables" keys by table only (snapshots before CONFIG_KEYS)."""

    def __init__(self, cands: dict[str, Any], kind: str = CONFIG_KEYS):
        self.refs = {c.key: c for c in candidate_refs(cands)}
        self.kind = kind
        self._memo: dict[tuple[str, frozenset[str]], str] = {}

    def __call__(self, qid: str, config: frozenset[str], ref: select_mod.StatementRef) -> str:
        got = self._memo.get((qid, config))
        if got is None:
            if self.kind == CONFIG_KEYS:
                keys = sorted(k for k in config if select_mod.relevant(self.refs[k], ref))
            else:
                keys = sorted(k for k in config if self.refs[k].table in ref.tables)
            got = qid + "|" + ";".join(keys)
            if len(self._memo) >= MEMO_KEYS:  # bounded: the selection asks the recent ones again
                self._memo.clear()
            self._memo[(qid, config)] = got
        return got
