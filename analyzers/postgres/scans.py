"""PG010 unexplained-sequential-scans: tables read end to end many times an hour that no analysed statement
accounts for.

pg_stat_user_tables counts every sequential scan of a table (seq_scan) and the rows they read (seq_tup_read),
whoever ran them. When an analysed statement's plan scans the table sequentially, the index advice (PG001) has
already weighed it. What is left is the work nobody looked at: statements below the workload cut, statements
that could not be EXPLAINed, SQL run inside functions (pg_stat_statements.track = top sees only the call),
views, other databases' clients of the same role… The finding names the table with its rows read per hour and
the statements that may explain it.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.model import Finding
from analyzers.postgres import ruleutil

#: Tables below this many rows are cheap to scan (pghero's minimum for index suggestions,
#: lib/pghero/methods/suggested_indexes.rb). thresholds.postgres.seq_scan_min_rows.
MIN_ROWS = 10_000
#: Full scans per hour from which a table is reported (issue 10: "read end to end thousands of times an
#: hour"); ten times as many make it high. thresholds.postgres.seq_scans_per_hour.
SCANS_PER_HOUR = 1000
REFERENCES = (ruleutil.DOCS + "monitoring-stats.html#MONITORING-PG-STAT-ALL-TABLES-VIEW",
              ruleutil.DOCS + "pgstatstatements.html")


def _plans(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in (s.get("plan"), (s.get("representative") or {}).get("plan")) if p]


def _scanned_by(s: dict[str, Any], table: str) -> bool:
    return any(sc.get("relation") == table for p in _plans(s) for sc in p.get("seq_scans") or [])


def _mentions(query: str, table: str) -> bool:
    return re.search(r'(?<![\w."])"?' + re.escape(table) + r'"?(?![\w"])', query) is not None


def findings(section: dict[str, Any], th: dict[str, float]) -> list[Finding]:
    hours, window = ruleutil.table_stats_hours(section)
    stmts = section.get("statements") or []
    out = []
    for t in section.get("tables") or []:
        rows = max(float(t.get("n_live_tup") or 0), float(t.get("reltuples") or 0))
        scans = float(t.get("seq_scan") or 0)
        if rows < th["seq_scan_min_rows"] or scans / hours < th["seq_scans_per_hour"]:
            continue
        explained = [s for s in stmts if s.get("status") == "analysed" and _scanned_by(s, t["table"])]
        if explained:
            continue  # PG001 weighed these scans with the statements' own plans
        unanalysed = [s for s in stmts if s.get("status") != "analysed"
                      and (_scanned_by(s, t["table"]) or _mentions(s["query"], t["table"]))]
        below_cut = [s for s in section.get("other_statements") or [] if _mentions(s["query"], t["table"])]
        high = scans / hours >= 10 * th["seq_scans_per_hour"]
        out.append(_finding(t, rows, scans, hours, window, unanalysed, below_cut, "high" if high else "medium"))
    return out


def _finding(t: dict[str, Any], rows: float, scans: float, hours: float, window: str,
             unanalysed: list[dict], below_cut: list[dict], severity: str) -> Finding:
    read_h = float(t.get("seq_tup_read") or 0) / hours
    per_scan = float(t.get("seq_tup_read") or 0) / scans if scans else 0.0
    if unanalysed:
        why = ("it is read by statement(s) that could not be analysed: "
               + "; ".join(f"{s['queryid']} ({s.get('reason') or s.get('status')})" for s in unanalysed[:3]))
    elif below_cut:
        why = (f"{len(below_cut)} statement(s) below the analysed share of exec time name it; analyse them too "
               "with [thresholds.postgres] workload_share = 1.0")
    else:
        why = ("no statement in pg_stat_statements names it: the scans come from SQL inside functions or "
               "procedures (pg_stat_statements.track = top records only the call), views, or statements "
               "evicted from pg_stat_statements")
    evidence_stmts = [ruleutil.statement_row(s, status=s.get("status") or "below the cut",
                                             reason=s.get("reason"))
                      for s in (unanalysed + below_cut)[:10]]
    return Finding(
        rule="PG010", name="unexplained-sequential-scans", area="postgres",
        severity=severity, confidence="heuristic",
        title=(f"{t['table']} is read end to end {scans / hours:,.0f} times an hour ({read_h:,.0f} rows/h) and "
               "no analysed statement explains it"),
        detail=(f"pg_stat_user_tables: {scans:,.0f} sequential scans of {t['table']} (~{rows:,.0f} rows) read "
                f"{per_scan:,.0f} rows each ({window}). No analysed statement's plan scans it sequentially, so "
                f"the index advice did not weigh these scans: {why}. Find the SQL behind them "
                "(pg_stat_statements.track = all shows statements inside functions) and index what they filter on."),
        key=f"{t['schema']}.{t['table']}",
        evidence={"seq_scan": int(scans), "seq_tup_read": int(t.get("seq_tup_read") or 0),
                  "seq_scans_per_hour": round(scans / hours, 1), "rows_read_per_hour": round(read_h),
                  "rows_per_scan": round(per_scan), "table_rows": round(rows), "idx_scan": t.get("idx_scan"),
                  "stats_window": window, **({"statements": evidence_stmts} if evidence_stmts else {})},
        impact=None, action={"kind": "none"}, references=REFERENCES)
