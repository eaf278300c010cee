"""The PostgreSQL rules: turn the collected evidence into findings. Pure functions of the snapshot section.

PG001 missing-index · PG002 unindexed-foreign-key · PG003 duplicate-index · PG004 redundant-index ·
PG005 unused-index. See docs/rules/PG00x.md.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from advisor.config import Settings
from advisor.errors import InputFileError
from advisor.fmt import fmt_bytes
from advisor.model import Finding, IndexSpec
from analyzers.postgres import patterns
from analyzers.postgres import select as select_mod
from analyzers.postgres.candidates import index_key_parts
from analyzers.postgres.collect import ConfigKeys, candidate_refs, selection_options, statement_refs
from analyzers.postgres.statements import quote_ident, utility_type
from analyzers.postgres.whatif import create_index_sql

DOCS = "https://www.postgresql.org/docs/15/"
#: Severity of a missing index by the share of the workload's exec time it saves. perfadvisor's own scale:
#: a quarter of all database time is a top-priority fix; under 5% is worth doing but not urgent.
SEVERITY_SHARE = (("critical", 0.50), ("high", 0.25), ("medium", 0.05))
#: Without HypoPG, a sequential scan is flagged only on tables with at least this many rows (pghero's
#: "missing index" suggestion ignores tables under 10,000 rows: lib/pghero/methods/suggested_indexes.rb).
HEURISTIC_MIN_ROWS = 10_000
#: Unused/duplicate index findings are "medium" from this size up, else "low" (perfadvisor's choice).
LARGE_INDEX_BYTES = 100 * 1024 * 1024
#: An unused index is only "verified" unused after a full weekly cycle of traffic (perfadvisor's choice:
#: weekly jobs are the common longest cycle). Before that, PG005 is info/heuristic.
MIN_STATS_AGE_S = 7 * 86400
#: "No analysed plan uses it" is evidence only when at least this share of exec time was analysed.
MIN_ANALYSED_SHARE = 0.5


class ReplayMiss(Exception):
    """A what-if cost needed by the selection was not recorded in the snapshot."""


def humanize_s(seconds: float) -> str:
    """90 → "1.5 minutes", 200000 → "2.3 days"."""
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size * 1.5 or (unit == "minutes" and seconds >= 60):
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _age_s(since: Any, section: dict[str, Any]) -> float | None:
    try:
        start = datetime.fromisoformat(str(since).replace(" ", "T"))
        end = datetime.fromisoformat(section["collected_at"].replace("Z", "+00:00"))
        return max((end - start).total_seconds(), 0.0)
    except (TypeError, ValueError, KeyError):
        return None


def stats_window_hours(section: dict[str, Any]) -> tuple[float, str]:
    """Hours covered by pg_stat_statements (since its stats_reset, else since the server started), and a label
    such as "extrapolated from 40 s of statistics"."""
    resets = section.get("stats_reset") or {}
    age = _age_s(resets.get("pg_stat_statements") or resets.get("postmaster_start_time"), section)
    if age is None:
        return 1.0, "over an unknown window (assumed 1 hour)"
    hours = max(age / 3600.0, 1 / 60)
    verb = "extrapolated from" if age < 3600 else "averaged over"
    return hours, f"{verb} {humanize_s(age)} of pg_stat_statements"


def _severity(saved_share: float) -> str:
    for name, threshold in SEVERITY_SHARE:
        if saved_share >= threshold:
            return name
    return "low"


def _spec(d: dict[str, Any]) -> IndexSpec:
    return IndexSpec(d["schema"], d["table"], tuple(d["columns"]), d.get("name"), d.get("method", "btree"),
                     tuple(d.get("include") or ()), d.get("where"))


def replay_selection(section: dict[str, Any], settings: Settings) -> tuple[select_mod.Selection, list[str]]:
    """Re-run the workload-wide selection on the costs recorded in the snapshot."""
    w = section["whatif"]
    notes = []
    stmts = [s for s in section["statements"] if s.get("status") == "analysed"]
    refs = statement_refs(stmts)
    cands = section["candidates"]
    evals = w["evaluations"]
    sizes = w.get("sizes_bytes", {})

    keys = ConfigKeys(cands, w.get("config_keys", "tables"))

    def cost(qid, config):
        key = keys(qid, config, refs[qid])
        if key not in evals:
            raise ReplayMiss(key)
        return evals[key]

    def size(key):
        if key not in sizes:
            raise ReplayMiss(key)
        return sizes[key]

    opts = selection_options(settings)
    # a live run the time budget stopped: the same candidates and at most the same number of choices
    stop = w.get("time_budget") or {}
    uncosted = set(stop.get("uncosted_candidates") or ())
    refs_c = [c for c in candidate_refs(cands) if c.key not in uncosted]
    most = stop.get("stopped_after_choices")
    for attempt in (opts, w["options"]):
        try:
            return select_mod.choose(list(refs.values()), refs_c, cost, size,
                                     attempt["budget_bytes"], attempt["min_cost_savings_pct"],
                                     attempt["max_new_indexes"] if most is None
                                     else min(most, attempt["max_new_indexes"])), notes
        except ReplayMiss:
            notes.append("the snapshot lacks what-if costs for these thresholds; using the thresholds it was "
                         "collected with (collect again to apply new ones)")
    # a snapshot's own options always replay, unless an older perfadvisor keyed its costs differently
    raise InputFileError("snapshot: its what-if costs were recorded by an older perfadvisor and do not cover "
                         "this version's index selection; run analyze against the database again")


def missing_index_findings(section: dict[str, Any], settings: Settings) -> tuple[list[Finding], list[str]]:
    """PG001 from the what-if selection (verified), or from sequential scans without HypoPG (heuristic)."""
    if not section["whatif"].get("available"):
        return heuristic_missing_indexes(section), []
    sel, notes = replay_selection(section, settings)
    hours, window = stats_window_hours(section)
    by_id = {s["queryid"]: s for s in section["statements"]}
    total_per_hour = section["workload"]["total_exec_time_ms"] / hours
    sizes = section["whatif"].get("sizes_bytes", {})
    tables = {(t["schema"], t["table"]): t for t in section["tables"]}
    out = []
    for key in sel.chosen:
        spec = _spec(section["candidates"][key])
        rows, before_ms, after_ms = [], 0.0, 0.0
        for qid, (cost_without, cost_with) in sorted(sel.attributed[key].items(),
                                                     key=lambda kv: -by_id[kv[0]]["total_exec_time_ms"]):
            s = by_id[qid]
            way = pattern_claim(section, s, key)
            if way is not None and not way[0]:
                continue  # a B-tree is claimed for a pattern search only in a way that holds (issue 12)
            base = sel.baseline[qid] or 1.0
            per_hour = s["total_exec_time_ms"] / hours
            before_ms += per_hour * cost_without / base
            after_ms += per_hour * cost_with / base
            rows.append({"queryid": qid, "query": s["query"], "calls": s["calls"],
                         "mean_exec_time_ms": round(s["mean_exec_time_ms"], 3),
                         "cost_before": round(cost_without, 2), "cost_after": round(cost_with, 2),
                         "cost_basis": "representative values" if s.get("representative", {}).get("plan")
                         else "generic plan", **({"pattern_search": way[1]} if way else {})})
        if not rows:
            continue
        # floor, so that 99.6% never reads as "100%"
        drop_pct = math.floor(100 * (1 - sum(r["cost_after"] for r in rows) /
                                     max(sum(r["cost_before"] for r in rows), 1e-9)))
        saved = before_ms - after_ms
        n = len(rows)
        texts = [r["query"] for r in rows]
        same_text = (" pg_stat_statements keeps separate entries for the same text when the role or the "
                     "parameter types differ; each is listed." if len(set(texts)) < len(texts) else "")
        size_b = sizes.get(key)
        through = {r["queryid"]: sorted({v for u in by_id[r["queryid"]].get("uses") or []
                                         if (u["schema"], u["table"]) == (spec.schema, spec.table)
                                         for v in u.get("views") or []}) for r in rows}
        views = sorted({v for vs in through.values() for v in vs})
        via = "".join(f" For the LIKE/ILIKE search of statement {r['queryid']}, the what-if plan "
                      f"{patterns.describe(r['pattern_search'])[1]} (a trigram index, PG006, serves the search "
                      "itself)." for r in rows if r.get("pattern_search"))
        via += "".join(f" {'The statement' if n == 1 else 'Statement ' + qid} reads {spec.table} through view "
                       f"{', '.join(vs)}; the index goes on the base table." for qid, vs in through.items() if vs)
        route = partitioned_route(spec, section["tables"])
        if route:
            via += (f" {spec.table} is partitioned ({route['partitioned']['partitions']} partitions): CREATE INDEX "
                    "on it blocks writes to every partition while it runs; evidence.partitioned.online_sql builds "
                    "it partition by partition with CONCURRENTLY and attaches each (PostgreSQL docs 5.11.2.2).")
        out.append(Finding(
            rule="PG001", name="missing-index", area="postgres",
            severity=_severity(saved / total_per_hour if total_per_hour else 0.0), confidence="verified",
            title=f"Index {spec.table}({', '.join(spec.columns)}) cuts "
                  f"{'the cost of 1 statement' if n == 1 else f'{n} statements' + chr(39) + ' cost'} by {drop_pct:.0f}%",
            detail=(f"HypoPG what-if: with this index the planner's cost of {n} statement{'s' if n > 1 else ''} "
                    f"falls by {drop_pct:.0f}%. Estimated exec time saved: {saved:,.0f} ms per hour "
                    f"(an estimate: measured time scaled by the planner's cost ratio, {window}). "
                    f"Estimated size {fmt_bytes(size_b)} (hypopg_relation_size).{same_text}{via}"),
            key=spec.label,
            evidence={"statements": rows, "estimated_size_bytes": size_b, **({"via_views": views} if views else {}),
                      **route,
                      "stats_window": window, "method": "HypoPG hypothetical index, workload-wide greedy "
                      "selection; cost_before is with every other chosen index, cost_after adds this one"},
            impact={"metric": "exec_time_ms_per_hour", "before": round(before_ms, 1), "after": round(after_ms, 1),
                    "estimated": True},
            action={"kind": "create_index", "sql": _create_sql(spec, tables) + ";"},
            index=spec,
            references=(DOCS + "indexes-multicolumn.html", "https://hypopg.readthedocs.io/",
                        DOCS + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY")))
    return out, notes


def pattern_claim(section: dict[str, Any], s: dict[str, Any], key: str) -> tuple[bool, str | None] | None:
    """For a statement that searches the candidate's table with LIKE/ILIKE: (holds for real search terms,
    way) of the what-if plan's use of the candidate (patterns.py); None when the statement does not."""
    spec = section["candidates"][key]
    if not any(u.get("pattern") and (u["schema"], u["table"]) == (spec["schema"], spec["table"])
               for u in s.get("uses") or []):
        return None
    way = (section["whatif"].get("pattern_ways") or {}).get(f"{s['queryid']}|{key}")
    return patterns.describe(way)[0], way


def heuristic_missing_indexes(section: dict[str, Any]) -> list[Finding]:
    """Without HypoPG: a statement whose generic plan scans a large table sequentially, and for which a
    candidate index exists on that table, gets the widest such candidate, marked heuristic."""
    rows_by_table = {(t["schema"], t["table"]): t["reltuples"] for t in section["tables"]}
    tables = {(t["schema"], t["table"]): t for t in section["tables"]}
    grouped: dict[str, list[dict]] = {}
    for s in section["statements"]:
        if s.get("status") != "analysed":
            continue
        scanned = {sc["relation"] for sc in s["plan"]["seq_scans"] if sc.get("filter")}
        best: dict[tuple[str, str], str] = {}
        for key in s.get("candidates", []):
            c = section["candidates"][key]
            t = (c["schema"], c["table"])
            if c["table"] in scanned and rows_by_table.get(t, 0) >= HEURISTIC_MIN_ROWS:
                if t not in best or len(c["columns"]) > len(section["candidates"][best[t]]["columns"]):
                    best[t] = key
        for key in best.values():
            grouped.setdefault(key, []).append(s)
    out = []
    for key, stmts in sorted(grouped.items()):
        spec = _spec(section["candidates"][key])
        out.append(Finding(
            rule="PG001", name="missing-index", area="postgres", severity="medium", confidence="heuristic",
            title=f"Index {spec.table}({', '.join(spec.columns)}) may help {len(stmts)} statement(s) that scan "
                  f"{spec.table} sequentially",
            detail="HypoPG is not installed, so this is not costed: the statements' plans read the whole table "
                   "with a filter on these columns. Install HypoPG (apt-get install postgresql-15-hypopg; "
                   "CREATE EXTENSION hypopg;) for a verified recommendation.",
            key=spec.label,
            evidence={"statements": [{"queryid": s["queryid"], "query": s["query"], "calls": s["calls"],
                                      "mean_exec_time_ms": round(s["mean_exec_time_ms"], 3)} for s in stmts],
                      "table_rows": rows_by_table.get((spec.schema, spec.table))},
            action={"kind": "create_index", "sql": _create_sql(spec, tables) + ";"},
            index=spec, references=(DOCS + "indexes-multicolumn.html",)))
    return out


def _plan_used_indexes(section: dict[str, Any]) -> set[str]:
    """Names of the indexes any analysed plan uses. EXPLAIN without VERBOSE names no schema, so an index is
    protected in every schema that has one of that name (the safe side)."""
    used = set()
    for s in section["statements"]:
        for p in (s.get("plan"), (s.get("representative") or {}).get("plan")):
            if p:
                used.update(p.get("indexes_used", []))
    return used


def _protected(idx: dict[str, Any], used: set[str]) -> str | None:
    """Why an index must never be proposed for dropping, or None."""
    if idx.get("constraint_type") in ("p", "u", "x") or idx.get("is_primary"):
        kind = {"p": "primary key", "u": "unique constraint", "x": "exclusion constraint"}.get(
            idx.get("constraint_type"), "primary key")
        return f"backs the {kind} {idx.get('constraint_name') or ''}".strip()
    if idx.get("is_unique"):
        return "enforces uniqueness"
    if idx["name"] in used:
        return "used by a plan of the analysed workload"
    return None


def _drop_sql(idx: dict[str, Any]) -> str:
    # PostgreSQL 15 cannot drop an index of a partitioned table concurrently.
    conc = "" if idx.get("table_relkind") == "p" else " CONCURRENTLY"
    return f"DROP INDEX{conc} {quote_ident(idx['schema'])}.{quote_ident(idx['name'])};"


def _drop_finding(rule: str, name: str, idx: dict[str, Any], severity: str, confidence: str, title: str,
                  detail: str, evidence: dict[str, Any]) -> Finding:
    spec = IndexSpec(idx["schema"], idx["table"], tuple(idx["columns"]), idx["name"], idx["method"],
                     tuple(idx.get("include") or ()), idx.get("predicate"))
    return Finding(rule=rule, name=name, area="postgres", severity=severity, confidence=confidence,
                   title=title, detail=detail, key=f"{idx['schema']}.{idx['name']}",
                   evidence={"index": idx["name"], "definition": idx["definition"],
                             "size_bytes": idx["size_bytes"], "idx_scan": idx.get("idx_scan"), **evidence},
                   impact={"metric": "index_bytes", "before": idx["size_bytes"], "after": 0},
                   action={"kind": "drop_index", "sql": _drop_sql(idx)},
                   index=spec, references=(DOCS + "sql-dropindex.html",))


def _definition_key(idx: dict[str, Any]) -> tuple:
    """What makes two indexes interchangeable: table, method, key columns with operator class, collation and
    direction, INCLUDE columns and predicate (uniqueness aside: a unique index serves every lookup a plain
    one with the same definition does)."""
    return (idx["schema"], idx["table"], idx["method"], tuple(index_key_parts(idx)),
            tuple(idx.get("include") or ()), idx.get("predicate"))


def _size_severity(idx: dict[str, Any]) -> str:
    return "medium" if idx["size_bytes"] >= LARGE_INDEX_BYTES else "low"


def _plans_confidence(section: dict[str, Any]) -> tuple[str, str]:
    """Confidence of "no analysed plan uses it", which is only meaningful when most of the workload was
    analysed (MIN_ANALYSED_SHARE)."""
    analysed = sum(s["share"] for s in section["statements"] if s.get("status") == "analysed")
    if analysed >= MIN_ANALYSED_SHARE:
        return "verified", ""
    return "heuristic", (f" Only {analysed:.0%} of the workload's exec time could be analysed, so plans that "
                         "use this index may have been missed.")


def consolidation_findings(section: dict[str, Any]) -> list[Finding]:
    """PG003 duplicates, PG004 indexes superseded by a wider one, PG005 unused indexes: one finding per
    index (the first rule that applies), never for a protected index, and never for an index another
    finding names as the one to keep."""
    used = _plan_used_indexes(section)
    indexes = [i for i in section["indexes"] if i.get("valid", True)]
    confidence, caveat = _plans_confidence(section)
    out: list[Finding] = []
    flagged: set[tuple[str, str]] = set()
    keepers: set[tuple[str, str]] = set()

    def ident(i):
        return (i["schema"], i["name"])

    # PG003: the same definition twice. Keep the protected one, else the most scanned, else the first name.
    groups: dict[tuple, list[dict]] = {}
    for idx in indexes:
        groups.setdefault(_definition_key(idx), []).append(idx)
    for group in groups.values():
        if len(group) < 2:
            continue
        keep = sorted(group, key=lambda i: (_protected(i, used) is None, -(i.get("idx_scan") or 0), i["name"]))[0]
        for idx in group:
            if idx is keep or _protected(idx, used):
                continue
            flagged.add(ident(idx))
            keepers.add(ident(keep))
            out.append(_drop_finding(
                "PG003", "duplicate-index", idx, _size_severity(idx), "verified",
                f"Index {idx['name']} duplicates {keep['name']} on {idx['table']}",
                f"{idx['name']} and {keep['name']} have the same definition; every write maintains both. "
                f"Drop {idx['name']} and keep {keep['name']}.", {"duplicate_of": keep["name"]}))
    # PG004: a B-tree whose key columns (with operator class and direction) start another B-tree's.
    for idx in indexes:
        if ident(idx) in flagged or _protected(idx, used) or idx["method"] != "btree" or idx.get("predicate"):
            continue
        parts = index_key_parts(idx)
        wider = [o for o in indexes if o is not idx and ident(o) not in flagged and o["method"] == "btree"
                 and not o.get("predicate") and (o["schema"], o["table"]) == (idx["schema"], idx["table"])
                 and len(index_key_parts(o)) > len(parts) and index_key_parts(o)[:len(parts)] == parts]
        if wider:
            w = sorted(wider, key=lambda o: (len(o["columns"]), o["name"]))[0]
            flagged.add(ident(idx))
            keepers.add(ident(w))
            out.append(_drop_finding(
                "PG004", "redundant-index", idx, _size_severity(idx), confidence,
                f"Index {idx['name']} is superseded by {w['name']} on {idx['table']}",
                f"{w['name']} ({', '.join(index_key_parts(w))}) starts with the same columns as {idx['name']} "
                f"({', '.join(parts)}), so it serves the same lookups; no analysed plan uses "
                f"{idx['name']}. Keep {w['name']}.{caveat}",
                {"superseded_by": w["name"], "superseded_by_columns": index_key_parts(w)}))
    # PG005: never scanned since the statistics were reset, given enough statistics to say so.
    resets = section.get("stats_reset") or {}
    since = resets.get("database")
    age_s = _age_s(since or resets.get("postmaster_start_time"), section)
    age_txt = humanize_s(age_s) if age_s is not None else "an unknown time"
    window = (f"since the statistics were reset at {since}" if since else
              f"since statistics collection began (never reset; the server has run since "
              f"{resets.get('postmaster_start_time')})")
    young = age_s is None or age_s < MIN_STATS_AGE_S
    fks = section.get("foreign_keys", [])
    for idx in indexes:
        if (ident(idx) in flagged or ident(idx) in keepers or _protected(idx, used)
                or idx.get("idx_scan") not in (0,)):
            continue
        fk = _only_index_for_foreign_key(idx, indexes, fks, flagged)
        if fk:
            continue  # dropping it would leave foreign key `fk` without an index (PG002)
        detail = (f"pg_stat_user_indexes.idx_scan = 0 {window}, and no analysed plan uses it. Check replicas "
                  "and rare jobs (month-end reports) before dropping: their scans are not counted here.")
        if young:
            detail += (f" The statistics cover only {age_txt}; wait for at least "
                       f"{humanize_s(MIN_STATS_AGE_S)} of traffic before acting.")
        out.append(_drop_finding(
            "PG005", "unused-index", idx, "info" if young else _size_severity(idx),
            "heuristic" if young else confidence,
            f"Index {idx['name']} on {idx['table']} was not scanned in {age_txt} of statistics",
            detail + ("" if young else caveat), {"stats_since": since or resets.get("postmaster_start_time"),
                                                 "stats_age_s": age_s}))
    return out


def _only_index_for_foreign_key(idx, indexes, fks, flagged) -> str | None:
    """The foreign key whose referencing columns only this index (of those kept) leads with, or None."""
    def leads(i, cols):
        return [p.strip('"') for p in index_key_parts(i)[:len(cols)]] == cols and not i.get("predicate")
    for fk in fks:
        if (fk["schema"], fk["table"]) != (idx["schema"], idx["table"]) or not leads(idx, list(fk["columns"])):
            continue
        others = [i for i in indexes if i is not idx and (i["schema"], i["name"]) not in flagged
                  and (i["schema"], i["table"]) == (fk["schema"], fk["table"]) and leads(i, list(fk["columns"]))]
        if not others:
            return fk["name"]
    return None


def foreign_key_findings(section: dict[str, Any], recommended: list[Finding]) -> list[Finding]:
    """PG002: a foreign key whose referencing columns do not lead any index of the referencing table.
    medium when the referenced table sees updates or deletes (each one looks up referencing rows), else low;
    info when a PG001 finding already creates a suitable index."""
    tables = {(t["schema"], t["table"]): t for t in section["tables"]}
    out = []
    for fk in section["foreign_keys"]:
        cols = list(fk["columns"])
        if any((i["schema"], i["table"]) == (fk["schema"], fk["table"]) and not i.get("predicate") and
               [p.strip('"') for p in index_key_parts(i)[:len(cols)]] == cols for i in section["indexes"]):
            continue
        cols_sql = [quote_ident(c) for c in cols]
        covering = next((f for f in recommended if f.index and (f.index.schema, f.index.table) ==
                         (fk["schema"], fk["table"]) and list(f.index.columns[:len(cols)]) == cols_sql), None)
        child = tables.get((fk["schema"], fk["table"]), {})
        parent = tables.get((fk["ref_schema"], fk["ref_table"]), {})
        rows = child.get("reltuples") or 0
        writes = (parent.get("n_tup_upd") or 0) + (parent.get("n_tup_del") or 0)
        spec = IndexSpec(fk["schema"], fk["table"], tuple(cols_sql))
        detail = (f"Each DELETE or key UPDATE on {fk['ref_table']} looks up {fk['table']}({', '.join(cols)}) for "
                  f"referencing rows; without an index each lookup scans {fk['table']} (~{rows:,.0f} rows). "
                  f"{fk['ref_table']} has had {writes:,} updated or deleted rows since the statistics were reset.")
        if covering:
            detail += f" {covering.id} already recommends an index that starts with these columns: apply that one."
        severity = "info" if covering else ("medium" if writes and rows >= HEURISTIC_MIN_ROWS else "low")
        out.append(Finding(
            rule="PG002", name="unindexed-foreign-key", area="postgres", severity=severity,
            confidence="heuristic",
            title=f"Foreign key {fk['name']} on {fk['table']}({', '.join(cols)}) has no index",
            detail=detail, key=f"{fk['schema']}.{fk['table']}.{fk['name']}",
            evidence={"foreign_key": fk["name"], "columns": cols,
                      "references": f"{fk['ref_table']}({', '.join(fk['ref_columns'])})", "table_rows": rows,
                      "referenced_rows_updated_or_deleted": writes},
            action={"kind": "none"} if covering else
                   {"kind": "create_index", "sql": _create_sql(spec, tables) + ";"},
            index=spec, references=(DOCS + "ddl-constraints.html#DDL-CONSTRAINTS-FK",)))
    return out


def _index_name(table: str, spec: IndexSpec) -> str:
    """A readable index name within PostgreSQL's 63 bytes: table_col1_col2_idx (expressions as their words)."""
    words = "_".join(w for c in spec.columns for w in re.findall(r"[a-z0-9]+", c.lower()) if w not in ("desc", "asc"))
    return f"{table[:30]}_{words[:28]}_idx"


def partitioned_route(spec: IndexSpec, tables: list[dict[str, Any]]) -> dict[str, Any]:
    """For an index on a partitioned table: {"partitioned": {"partitions": n, "online_sql": [...]}}, the route
    that never locks the whole table (PostgreSQL docs 5.11.2.2): an invalid index ON ONLY the parent, then per
    partition CREATE INDEX CONCURRENTLY and ALTER INDEX … ATTACH PARTITION; the parent index becomes valid
    when every partition's is attached. {} for other tables. A partition that is itself partitioned is
    listed in "not_written" (its own partitions need the same route)."""
    parent = next((t for t in tables if (t["schema"], t["table"]) == (spec.schema, spec.table)), None)
    if not parent or parent.get("relkind") != "p":
        return {}
    parts = [t for t in tables if list(t.get("partition_of") or []) == [spec.schema, spec.table]]
    name = _index_name(spec.table, spec)
    head = create_index_sql(spec).replace("CREATE INDEX ON ", f"CREATE INDEX {quote_ident(name)} ON ONLY ", 1)
    sqls, nested = [head + ";"], []
    for t in parts:
        if t.get("relkind") == "p":
            nested.append(f"{t['schema']}.{t['table']}")
            continue
        pname = _index_name(t["table"], spec)
        part_spec = IndexSpec(t["schema"], t["table"], spec.columns, None, spec.method, spec.include, spec.where)
        sqls.append(create_index_sql(part_spec, concurrently=True).replace(
            "CREATE INDEX CONCURRENTLY ON ", f"CREATE INDEX CONCURRENTLY {quote_ident(pname)} ON ", 1) + ";")
        sqls.append(f"ALTER INDEX {quote_ident(spec.schema)}.{quote_ident(name)} ATTACH PARTITION "
                    f"{quote_ident(t['schema'])}.{quote_ident(pname)};")
    return {"partitioned": {"partitions": len(parts), "online_sql": sqls, **({"not_written": nested} if nested else {})}}


def _create_sql(spec: IndexSpec, tables: dict) -> str:
    """CREATE INDEX CONCURRENTLY, except on a partitioned table, where PostgreSQL 15 does not allow it."""
    partitioned = (tables.get((spec.schema, spec.table)) or {}).get("relkind") == "p"
    return create_index_sql(spec, concurrently=not partitioned)


def _pattern_relation(section: dict[str, Any], stmts: list[dict], schema: str, table: str,
                      recommended: list[Finding]) -> str:
    """How PG001 findings relate to a PG006 finding's statements: which B-tree serves them and how, or why
    none is claimed (issue 12: two findings on one statement agree and say how they relate)."""
    notes = []
    for s in stmts:
        served = [f for f in recommended if f.rule == "PG001" and f.index and (f.index.schema, f.index.table)
                  == (schema, table) and any(r["queryid"] == s["queryid"] for r in f.evidence["statements"])]
        for f in served:
            row = next(r for r in f.evidence["statements"] if r["queryid"] == s["queryid"])
            notes.append(f" {f.id} also lowers statement {s['queryid']}'s cost: its B-tree "
                         f"{patterns.describe(row.get('pattern_search'))[1]}; a trigram index finds the matching "
                         "rows themselves, so apply both.")
        if served:
            continue
        ways = {k.split("|", 1)[1]: w for k, w in (section["whatif"].get("pattern_ways") or {}).items()
                if k.split("|", 1)[0] == s["queryid"] and not patterns.describe(w)[0]}
        for key, way in sorted(ways.items())[:1]:
            notes.append(f" No B-tree is recommended for statement {s['queryid']}: with {key} the what-if plan "
                         f"{patterns.describe(way)[1]}, which does not hold for real search terms.")
    return "".join(notes)


def pattern_search_findings(section: dict[str, Any], recommended: list[Finding] = ()) -> list[Finding]:
    """PG006: LIKE/ILIKE on a column of a large table that the plan scans sequentially, with no trigram
    index. HypoPG cannot cost GIN indexes, so this is heuristic. `recommended`: the PG001 findings, which
    the detail relates to (the same statement never gets contradictory advice)."""
    rows_by_table = {(t["schema"], t["table"]): t["reltuples"] for t in section["tables"]}
    trgm = {(i["schema"], i["table"], c) for i in section["indexes"] if i["method"] in ("gin", "gist")
            and "trgm" in i["definition"] for c in i["columns"]}
    grouped: dict[tuple[str, str, str], list[dict]] = {}
    for s in section["statements"]:
        if s.get("status") != "analysed":
            continue
        # the table is read and the pattern applied as a filter (Seq Scan, or an Index Scan for ORDER BY)
        filters = [f for f in s["plan"].get("filtered_scans", []) if "~~" in f["filter"]]
        for u in s["uses"]:
            for col in u.get("pattern", []):
                key = (u["schema"], u["table"], col)
                if (any(f["relation"] == u["table"] and col in f["filter"] for f in filters)
                        and rows_by_table.get(key[:2], 0) >= HEURISTIC_MIN_ROWS
                        and key not in trgm):
                    grouped.setdefault(key, []).append(s)
    out = []
    for (schema, table, col), stmts in sorted(grouped.items()):
        spec = IndexSpec(schema, table, (f"{quote_ident(col)} gin_trgm_ops",), method="gin")
        share = sum(s["share"] for s in stmts)
        out.append(Finding(
            rule="PG006", name="pattern-search-without-trigram-index", area="postgres",
            severity="high" if share >= 0.25 else "medium" if share >= 0.05 else "low", confidence="heuristic",
            title=f"LIKE/ILIKE on {table}.{col} filters every row of {table} "
                  f"({'<1%' if share < 0.01 else f'{share:.0%}'} of exec time)",
            detail=(f"{len(stmts)} statement(s) search {table}.{col} with a pattern; a B-tree cannot serve "
                    "'%term%' patterns, so each call reads the whole table. A pg_trgm GIN index can. "
                    "Not costed: HypoPG cannot create hypothetical GIN indexes."
                    + _pattern_relation(section, stmts, schema, table, list(recommended))),
            key=f"{schema}.{table}.{col}",
            evidence={"statements": [{"queryid": s["queryid"], "query": s["query"], "calls": s["calls"],
                                      "mean_exec_time_ms": round(s["mean_exec_time_ms"], 3)} for s in stmts],
                      "table_rows": rows_by_table.get((schema, table)), "share_of_exec_time": round(share, 4)},
            action={"kind": "create_index",
                    "sql": "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
                           + _create_sql(spec, {(t["schema"], t["table"]): t for t in section["tables"]}) + ";"},
            index=spec, references=(DOCS + "pgtrgm.html#PGTRGM-INDEX",)))
    return out


def coverage(section: dict[str, Any]) -> dict[str, Any]:
    """What share of the workload's exec time was analysed, and what was not and why."""
    stmts = section["statements"]
    analysed = sum(s["share"] for s in stmts if s.get("status") == "analysed")
    unanalysed = [{"queryid": s["queryid"], "query": s["query"], "reason": s.get("reason"),
                   "share": s["share"], "calls": s["calls"]}
                  for s in stmts if s.get("status") == "unanalysed"]
    # utility statements (BEGIN, SET, DDL, COPY…) are not what an index serves: counted apart, by command
    utility: dict[str, dict[str, Any]] = {}
    for s in stmts:
        if s.get("status") == "utility":
            u = utility.setdefault(utility_type(s["query"]) or "?", {"statements": 0, "calls": 0, "share": 0.0})
            u["statements"] += 1
            u["calls"] += int(s["calls"] or 0)
            u["share"] += s["share"]
    w = section["workload"]
    top = sorted(stmts, key=lambda s: -s["total_exec_time_ms"])[:15]
    costed = section["whatif"].get("available", False)
    return {"top_statements": [{"queryid": s["queryid"], "query": s["query"], "share": s["share"],
                                "total_exec_time_ms": s["total_exec_time_ms"], "status": s.get("status")}
                               for s in top],
            "analysed_share": analysed, "selected_share": w["selected_share"],
            "below_cut_share": max(0.0, 1.0 - w["selected_share"]),
            "statement_count": w["statement_count"], "selected_count": w["selected_count"],
            "unanalysed": unanalysed,
            "utility": [{"command": k, **v} for k, v in sorted(utility.items(), key=lambda kv: -kv[1]["share"])],
            "whatif": section["whatif"].get("available", False),
            "explain_calls": section["whatif"].get("explain_calls", 0),
            "statements": [statement_explanation(s, costed) for s in stmts]}


_ROLES = ("eq", "range", "join", "sort", "group", "pattern")


def statement_explanation(s: dict[str, Any], costed: bool) -> dict[str, Any]:
    """Why a statement got the advice it got: the columns found in each role (eq, range, join, sort, group,
    pattern) per table with the views it was read through, the candidates costed with HypoPG (or only built,
    without HypoPG), those an existing index already serves, names that are not tables and conditions that
    gave no candidate."""
    out: dict[str, Any] = {
        "queryid": s["queryid"], "status": s.get("status"),
        "reason": s.get("reason") or s.get("no_candidates_reason"),
        "columns": [{"table": f"{u['schema']}.{u['table']}", **{r: list(u.get(r) or []) for r in _ROLES},
                     "views": list(u.get("views") or [])} for u in s.get("uses") or []],
        "candidates_costed" if costed else "candidates_built": list(s.get("candidates") or []),
        "already_indexed": dict(s.get("already_indexed") or {})}
    for key in ("not_tables", "skipped_conditions"):
        if s.get(key):
            out[key] = list(s[key])
    return out
