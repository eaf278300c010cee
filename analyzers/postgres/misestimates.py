"""PG009 row-misestimate: plan nodes whose actual rows differ from the planner's estimate by more than a
factor, measured with `--explain-analyze` (explain_analyze.py), with the likely cause and its fix.

An error propagates upwards, so each statement is blamed on its *origin*: a node that is off while every node
below it is within the factor. For a scan, the cause is sought in this order:

1. stale statistics — the table was never analysed, or more rows changed since its last ANALYZE than the
   autovacuum analyze trigger (health.stale): ``ANALYZE``;
2. correlated columns — the node filters on two or more columns of one table, whose selectivities the planner
   multiplies as if independent, and no extended statistics cover them: ``CREATE STATISTICS … (dependencies,
   ndistinct[, mcv])`` (PostgreSQL docs 14.2.2 "Extended Statistics"; see statistics_kinds);
3. a too-low statistics target — one column whose most-common-values list or histogram is full at
   default_statistics_target, so rarer values are estimated from an average: ``ALTER TABLE … ALTER COLUMN …
   SET STATISTICS 1000`` (docs 14.2.1 and ALTER TABLE);

and otherwise named as unknown (a function the planner cannot see into, a join's selectivity, …). pgMustard
explains one plan at a time the same way; this does it for the workload and ranks by the time concerned.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.model import Finding
from analyzers.postgres import health, planfacts, ruleutil
from analyzers.postgres.spills import statement_key
from analyzers.postgres.statements import quote_ident

#: A node is misestimated when max(estimate, actual) / min(estimate, actual) reaches this factor (pgMustard
#: flags row estimates off by 10× or more: pgmustard.com/docs/explain/row-estimates).
#: thresholds.postgres.misestimate_factor.
FACTOR = 10.0
#: …and the larger of the two, over all loops, is at least this many rows (perfadvisor's convention: 2 vs 30
#: rows rarely changes a plan). thresholds.postgres.misestimate_min_rows.
MIN_ROWS = 100
#: Statistics target advised for a column whose statistics are full (PostgreSQL's maximum is 10000; 1000 is
#: the common first step, docs 14.2.1).
RAISED_TARGET = 1000
_SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan")
REFERENCES = (ruleutil.DOCS + "planner-stats.html", ruleutil.DOCS + "sql-createstatistics.html",
              ruleutil.DOCS + "using-explain.html#USING-EXPLAIN-ANALYZE",
              "https://www.pgmustard.com/docs/explain/row-estimates")


def _consumes_all(n: dict[str, Any]) -> bool:
    """Nodes that read their whole input before returning a row: a Limit above them cannot cut their input."""
    return n.get("node_type") in ("Sort", "Hash") or (
        n.get("node_type") in ("Aggregate", "SetOp") and n.get("strategy") in ("Hashed", "Plain", "Mixed"))


def stopped_early(node: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> bool:
    """Whether the node's actual rows may be cut short by a node above it rather than misestimated: a Limit
    reached without a node in between that consumes its whole input (so the Sort right under a Limit, and an
    Index Scan feeding it in order), the inner side of a semi or anti join (it stops at the first match per
    loop), or a Merge Join's input (it stops when the other side ends). Their estimates describe a full run,
    so comparing them with the rows actually pulled would be wrong (pgMustard skips them too)."""
    child = node
    while child.get("parent") is not None:
        parent = by_id[child["parent"]]
        if parent.get("node_type") == "Limit":
            return True
        if parent.get("join_type") in ("Semi", "Anti") and child.get("parent_relationship") == "Inner":
            return True
        if parent.get("node_type") == "Merge Join" and child is node:
            return True
        if _consumes_all(parent):
            return False
        child = parent
    return False


def origins(nodes: list[dict[str, Any]], factor: float, min_rows: float) -> list[dict[str, Any]]:
    """Misestimated nodes none of whose children is misestimated (compact nodes, planfacts.compact); nodes whose
    output a node above stopped early (stopped_early) are not judged."""
    by_id = {n["id"]: n for n in nodes}

    def bad(n: dict[str, Any]) -> bool:
        if stopped_early(n, by_id):
            return False
        err = planfacts.row_error(n)
        # rows over all loops: a parallel worker's or a nested loop's inner node reports rows per loop
        most = max(n["plan_rows"], n["actual_rows"]) * max(n.get("actual_loops") or 1, 1)
        return err is not None and err >= factor and most >= min_rows
    children: dict[int, list[dict]] = {}
    for n in nodes:
        if n.get("parent") is not None:
            children.setdefault(n["parent"], []).append(n)
    return [n for n in nodes if bad(n) and not any(bad(c) for c in children.get(n["id"], []))]


def _conditions(node: dict[str, Any]) -> str:
    return " ".join(str(node.get(k) or "") for k in ("filter", "index_cond", "recheck_cond"))


def _columns_in(text: str, columns: dict[str, str]) -> list[str]:
    found = []
    for col in columns:
        if re.search(r'(?<![\w"])' + re.escape(col) + r'(?![\w"])|"' + re.escape(col) + '"', text):
            found.append(col)
    return sorted(found)


def _table_of(node: dict[str, Any], by_id: dict[int, dict], stmt: dict[str, Any], section: dict[str, Any]):
    """(schema, table, node whose conditions to read) of a scan node; a Bitmap Index Scan is judged with its
    Bitmap Heap Scan parent."""
    if node["node_type"] == "Bitmap Index Scan" and node.get("parent") is not None:
        parent = by_id[node["parent"]]
        cond_node = {**parent, "index_cond": node.get("index_cond")}
        rel = parent.get("relation")
    else:
        cond_node, rel = node, node.get("relation")
    if not rel:
        return None
    for u in stmt.get("uses") or []:
        if u["table"] == rel:
            return u["schema"], u["table"], cond_node
    for schema in section.get("search_path") or ["public"]:
        if f"{schema}.{rel}" in (section.get("columns") or {}):
            return schema, rel, cond_node
    return None


def _covered(ext: list[dict], schema: str, table: str, cols: list[str]) -> bool:
    return any((e["schema"], e["table"]) == (schema, table) and set(cols) <= set(e["columns"])
               and set(e.get("kinds") or []) & {"f", "m"} for e in ext)


def diagnose(node: dict[str, Any], by_id: dict[int, dict], stmt: dict[str, Any], section: dict[str, Any],
             th: dict[str, float]) -> dict[str, Any]:
    """{"cause", "table": (schema, table) | None, "columns", "sql", "why", "confidence"} for an origin node."""
    where = _table_of(node, by_id, stmt, section) if node["node_type"] in _SCANS else None
    if where is None:
        return {"cause": "join" if "Join" in node["node_type"] or node["node_type"] == "Nested Loop" else "other",
                "table": None, "columns": [], "sql": None, "confidence": "heuristic",
                "why": ("the estimate of a join's or an operator's output is off while its inputs are estimated "
                        "well: the planner assumes the join columns independent of the filters; extended "
                        "statistics do not cross tables in PostgreSQL 15, so check the join columns' n_distinct "
                        "and consider rewriting the statement")}
    schema, table, cond_node = where
    tables = {(t["schema"], t["table"]): t for t in section.get("tables") or []}
    t = tables.get((schema, table), {})
    name = ruleutil.qualified(schema, table)
    cols = _columns_in(_conditions(cond_node), (section.get("columns") or {}).get(f"{schema}.{table}", {}))
    if t and health.stale(t, section, 1.0):
        mod = health.changes_since_analyze(t)
        return {"cause": "stale_statistics", "table": (schema, table), "columns": cols, "confidence": "estimated",
                "sql": f"ANALYZE {name};",
                "why": (f"{table}'s statistics are stale: {'never analysed' if health.never_analysed(t) else ''}"
                        f"{'' if health.never_analysed(t) else f'{mod:,.0f} rows changed since its last ANALYZE'}, past "
                        f"the {health.analyze_trigger(t, section):,.0f} at which autovacuum analyses it")}
    ext = section.get("extended_statistics") or []
    if len(cols) >= 2 and not _covered(ext, schema, table, cols):
        stat = f"{table}_{'_'.join(cols)}_stats"[:63]
        kinds = ", ".join(statistics_kinds(stmt, section, schema, table, cols))
        return {"cause": "correlated_columns", "table": (schema, table), "columns": cols, "confidence": "estimated",
                "sql": (f"CREATE STATISTICS IF NOT EXISTS {quote_ident(schema)}.{quote_ident(stat)} "
                        f"({kinds}) ON {', '.join(quote_ident(c) for c in cols)} FROM {name};\n"
                        f"ANALYZE {name};"),
                "why": (f"it filters {table} on {', '.join(cols)} together; the planner multiplies their "
                        "selectivities as if the columns were independent, and no extended statistics tell it "
                        "they are correlated")}
    target = int(ruleutil.setting_float(section, "default_statistics_target", 100.0) or 100)
    full = [c for c in cols if _stats_full(section, schema, table, c, target)]
    if len(cols) == 1 and full:
        col = full[0]
        return {"cause": "statistics_target", "table": (schema, table), "columns": cols, "confidence": "heuristic",
                "sql": (f"ALTER TABLE {name} ALTER COLUMN {quote_ident(col)} SET STATISTICS {RAISED_TARGET};\n"
                        f"ANALYZE {name};"),
                "why": (f"{table}.{col}'s statistics are full at default_statistics_target {target}: values "
                        "outside its most-common-values list are estimated from an average")}
    return {"cause": "other", "table": (schema, table), "columns": cols, "sql": None, "confidence": "heuristic",
            "why": ("the statistics are fresh and no extended statistics are missing: the condition may use a "
                    "function or an expression the planner estimates with a default selectivity")}


def statistics_kinds(stmt: dict[str, Any], section: dict[str, Any], schema: str, table: str,
                     cols: list[str]) -> list[str]:
    """Kinds of extended statistics for correlated columns (PostgreSQL docs 14.2.2): functional `dependencies`
    serve equality conditions; a multivariate `mcv` list is added for range or pattern conditions, which
    dependencies do not serve, or when every combination fits in the list (the columns' distinct values
    within default_statistics_target) — a shorter list would make the combinations it misses look
    independent again."""
    use = next((u for u in stmt.get("uses") or [] if (u["schema"], u["table"]) == (schema, table)), None)
    eq_only = bool(use) and all(c in use["eq"] for c in cols)
    target = ruleutil.setting_float(section, "default_statistics_target", 100.0) or 100.0
    distinct = []
    for st in section.get("pg_stats") or []:
        if (st["schema"], st["table"]) == (schema, table) and st["column"] in cols:
            nd = float(st.get("n_distinct") or 0)
            rows = next((float(t.get("reltuples") or 0) for t in section.get("tables") or []
                         if (t["schema"], t["table"]) == (schema, table)), 0.0)
            distinct.append(nd if nd > 0 else -nd * rows)
    few = len(distinct) == len(cols) and max(distinct) <= target
    return ["dependencies", "ndistinct"] + (["mcv"] if not eq_only or few else [])


def _stats_full(section: dict[str, Any], schema: str, table: str, col: str, target: int) -> bool:
    for st in section.get("pg_stats") or []:
        if (st["schema"], st["table"], st["column"]) == (schema, table, col):
            return (len(st.get("most_common_vals") or []) >= target
                    or len(st.get("histogram_bounds") or []) >= target + 1)
    return False


def findings(section: dict[str, Any], th: dict[str, float]) -> list[Finding]:
    """PG009 findings, one per (table, cause, columns) — or per statement for causes without a table."""
    ea = section.get("explain_analyze") or {}
    if not ea.get("enabled"):
        return []
    by_qid = {s["queryid"]: s for s in section.get("statements") or []}
    groups: dict[str, dict[str, Any]] = {}
    for entry in ea.get("statements") or []:
        stmt = by_qid.get(entry["queryid"])
        if not stmt or not entry.get("nodes"):
            continue
        by_id = {n["id"]: n for n in entry["nodes"]}
        for node in origins(entry["nodes"], th["misestimate_factor"], th["misestimate_min_rows"]):
            d = diagnose(node, by_id, stmt, section, th)
            key = (f"{d['table'][0]}.{d['table'][1]}({','.join(d['columns'])}):{d['cause']}" if d["table"]
                   else f"query:{statement_key(stmt['query'])}:{d['cause']}")
            g = groups.setdefault(key, {"d": d, "rows": []})
            g["rows"].append((stmt, entry, node))
    return [_finding(key, g["d"], g["rows"], section) for key, g in sorted(groups.items())]


def _finding(key: str, d: dict[str, Any], rows: list[tuple], section: dict[str, Any]) -> Finding:
    share = sum(s.get("share") or 0.0 for s, _, _ in {id(r[0]): r for r in rows}.values())
    worst = max(rows, key=lambda r: planfacts.row_error(r[2]) or 0)
    node = worst[2]
    err = planfacts.row_error(node) or 0
    what = f"{node['node_type']}" + (f" on {node['relation']}" if node.get("relation") else "")
    stmts = []
    for s, entry, n in rows:
        stmts.append(ruleutil.statement_row(
            s, node=n["node_type"], relation=n.get("relation"), condition=_conditions(n).strip() or None,
            plan_rows=n["plan_rows"], actual_rows=n["actual_rows"], loops=n.get("actual_loops"),
            factor=round(planfacts.row_error(n) or 0, 1), parameter_values=entry.get("values")))
    direction = "under" if node["actual_rows"] > node["plan_rows"] else "over"
    cause_text = {"stale_statistics": "stale statistics", "correlated_columns": "correlated columns",
                  "statistics_target": "a too-low statistics target", "join": "a join estimate",
                  "other": "an estimate the statistics cannot fix"}[d["cause"]]
    return Finding(
        rule="PG009", name="row-misestimate", area="postgres", severity=ruleutil.severity_by_share(share),
        confidence=d["confidence"],
        title=(f"Row estimate off by {err:,.0f}× ({what}): {cause_text}"
               + (f" on {d['table'][1]}({', '.join(d['columns'])})" if d["table"] and d["columns"] else "")),
        detail=(f"EXPLAIN ANALYZE of {len(stmts)} statement(s) with values from pg_stats: the planner "
                f"{direction}estimated {what} — {node['plan_rows']:,} rows expected, {node['actual_rows']:,} "
                f"produced per loop. Likely cause: {d['why']}. A plan built on a wrong row count picks the wrong "
                "join method, join order or index."),
        key=key,
        evidence={"statements": stmts, "cause": d["cause"], "columns": d["columns"],
                  "share_of_exec_time": round(share, 4),
                  "method": "EXPLAIN (ANALYZE, BUFFERS) in a read-only transaction, custom plan, pg_stats values"},
        impact=None,
        action={"kind": "config", "sql": d["sql"], "summary": f"Fix the statistics of {d['table'][1]}"}
        if d["sql"] else {"kind": "none"},
        references=REFERENCES)
