"""PostgreSQL: index advice from pg_stat_statements, the catalog, EXPLAIN and HypoPG what-if costs; and beyond
indexes: N+1 queries, temp-file spills, row misestimates (--explain-analyze), unexplained sequential scans,
buffer cache misses, vacuum health and server settings (PG007–PG014)."""

from __future__ import annotations

from typing import Any

from advisor.config import Settings

# Import the submodule first: importing it binds `analyzers.postgres.collect` to the module, and the
# function defined below must win that name (the analyzer contract calls `collect(settings)`).
from analyzers.postgres import collect as _collect_module  # noqa: E402,I001

AREA = "postgres"

#: (name, default, source) of every threshold, shown by `perfadvisor thresholds`; set them in
#: perfadvisor.toml under [thresholds.postgres].
THRESHOLDS = (
    ("workload_share", 0.95, "share of total_exec_time analysed, most expensive statements first (pghero/Dexter)"),
    ("max_statements", 0, "cap on statements analysed; 0 = none, workload_share decides (issue 11)"),
    ("time_budget_s", 600.0, "perfadvisor's choice: generous (Dexter ~30 s on 5,000 statements, issue 11); "
                             "--time-budget"),
    ("min_cost_savings_pct", 50.0, "Dexter's --min-cost-savings-pct default"),
    ("max_new_indexes", 10, "perfadvisor's choice: every index slows writes"),
    ("max_index_columns", 3, "Dexter stops at 2; eq, eq, range/sort is common in ORM queries"),
    ("storage_budget_mb", 0.0, "0 = no budget for the new indexes' total size"),
    # PG007–PG014 (docs/rules/PG007.md …): each module names the source beside its constant.
    ("nplus1_min_calls", 50, "PG007: perfadvisor's convention (fewer child calls say little about a ratio)"),
    ("nplus1_ratio_tolerance", 0.2, "PG007: child calls / parent rows within [1/(1+t), 1+t]; perfadvisor's convention"),
    ("nplus1_min_fanout", 2.0, "PG007: parent rows per call; one row per call is 1+1, not N+1"),
    ("spill_min_temp_mb_per_hour", 1.0, "PG008: perfadvisor's convention"),
    ("explain_analyze_max_statements", 50, "--explain-analyze: statements run at most (perfadvisor's choice)"),
    ("explain_analyze_budget_s", 60.0, "--explain-analyze: wall-clock budget (perfadvisor's choice)"),
    ("probe_work_mem_max_mb", 256, "--explain-analyze: largest work_mem tried for a spilling statement"),
    ("misestimate_factor", 10.0, "PG009: pgMustard flags row estimates off by 10x (docs/explain/row-estimates)"),
    ("misestimate_min_rows", 100, "PG009: perfadvisor's convention (2 vs 30 rows rarely changes a plan)"),
    ("seq_scan_min_rows", 10000, "PG010: pghero's minimum table size for index suggestions"),
    ("seq_scans_per_hour", 1000.0, "PG010: issue 10, tables read end to end thousands of times an hour"),
    ("min_cache_hit_ratio", 0.99, "PG011/PG014: Citus Data docs, cache hit rate significantly below 99%"),
    ("min_blocks_read_per_hour", 10000.0, "PG011/PG014: perfadvisor's convention (~80 MB/h of 8 kB blocks)"),
    ("autovacuum_lag_factor", 2.0, "PG012/PG013: twice the autovacuum trigger (PostgreSQL docs 25.1.6)"),
    ("dead_tuple_share", 0.2, "PG012: autovacuum_vacuum_scale_factor's default (PostgreSQL docs 20.10)"),
    ("dead_tuples_min", 10000, "PG012: perfadvisor's convention"),
    ("stale_min_modified_rows", 1000, "PG013: perfadvisor's convention"),
    ("oltp_max_mean_ms", 100.0, "PG014 jit: Nielsen 1993, 0.1 s feels instantaneous"),
    ("jit_min_share", 0.1, "PG014 jit: perfadvisor's convention"),
)

#: Thresholds that only steer collection (read by collect.py), not the rules.
_COLLECT_ONLY = {"workload_share", "max_statements", "explain_analyze_max_statements", "explain_analyze_budget_s",
                 "probe_work_mem_max_mb"}


def rule_thresholds(settings: Settings) -> dict[str, Any]:
    """{name: value} of the thresholds the rules beyond indexes read (configured, else the default)."""
    return {name: settings.threshold(AREA, name, default) for name, default, _ in THRESHOLDS
            if name not in _COLLECT_ONLY}


def configured(settings: Settings) -> str | None:
    if not settings.target(AREA).get("dsn"):
        return "not configured (use --pg DSN, PERFADVISOR_PG_DSN or [targets.postgres] dsn)"
    return None


def sources(settings: Settings) -> list:
    """The database's part of the sampling window (connections, table writes): analyzers/postgres/activity.py."""
    from analyzers.postgres import activity

    return activity.sources(settings)


def collect(settings: Settings, window=None, recordings=()) -> dict[str, Any]:  # noqa: F811
    """The postgres section; with a sampling window, its ``activity`` part too (activity.section)."""
    from analyzers.postgres import activity

    section = _collect_module.collect(settings)
    if window is not None and recordings:
        section["activity"] = activity.section(window, recordings[0])
        if recordings[0].error_line():
            section.setdefault("errors", []).append(recordings[0].error_line())
    return section


def target_info(section: dict[str, Any]) -> dict[str, Any]:
    return {"server_version": section["server_version"], "database": section["database"],
            "dsn": section["dsn"], "hypopg": section["whatif"].get("hypopg_version")}


def analyze(section: dict[str, Any], settings: Settings):
    from advisor.pipeline import AreaResult
    from analyzers.postgres import rules

    findings, notes = rules.missing_index_findings(section, settings)
    notes = list(section.get("notes") or []) + notes
    if not section["whatif"].get("available"):
        notes.append(section["whatif"].get("reason", "HypoPG is not available"))
    findings += rules.foreign_key_findings(section, findings)
    findings += rules.consolidation_findings(section)
    findings += rules.pattern_search_findings(section, findings)
    more, more_notes, more_cov = beyond_indexes(section, settings)
    findings += more
    notes += more_notes
    cov = rules.coverage(section)
    cov.update(more_cov)
    if cov["unanalysed"]:
        lost = sum(u["share"] for u in cov["unanalysed"])
        notes.append(f"{len(cov['unanalysed'])} statement(s), {lost:.1%} of total exec time, could not be "
                     "analysed (see the report's coverage section)")
    return AreaResult(findings=findings, coverage=cov, notes=notes)


def beyond_indexes(section: dict[str, Any], settings: Settings) -> tuple[list, list[str], dict[str, Any]]:
    """PG007–PG014 findings, notes and coverage facts: pure functions of the section (older snapshots without
    the newer evidence give no findings for the rules that need it)."""
    from analyzers.postgres import buffers, health, misestimates, nplus1, scans, settings_rules, spills

    th = rule_thresholds(settings)
    span = nplus1.span_of(section)
    rejected: list[dict[str, Any]] = []
    found = [nplus1.finding(p, span) for p in nplus1.find_pairs(section, th, span, rejected)]
    found += spills.findings(section, th)
    found += misestimates.findings(section, th)
    found += scans.findings(section, th)
    settings_found = settings_rules.findings(section, th)
    sb = next((f.id for f in settings_found if f.key == "shared_buffers"), None)
    found += buffers.findings(section, th, sb)
    found += health.dead_tuple_findings(section, th) + health.stale_statistics_findings(section, th)
    found += settings_found
    notes: list[str] = []
    cov: dict[str, Any] = {"n_plus_one_span": span.label}
    if rejected:
        cov["n_plus_one_rejected"] = rejected
    ea = section.get("explain_analyze") or {}
    if not ea.get("enabled"):
        notes.append("Row estimates were not checked (PG009): run analyze with --explain-analyze to run the "
                     "workload's SELECT statements once in a read-only transaction")
    else:
        skipped = ea.get("skipped") or []
        ran = [e for e in ea.get("statements") or [] if e.get("nodes")]
        failed = [e for e in ea.get("statements") or [] if e.get("error")]
        cov["explain_analyze"] = {"ran": len(ran), "failed": len(failed), "skipped": len(skipped),
                                  "skipped_share": round(sum(s.get("share") or 0 for s in skipped), 4),
                                  "time_s": ea.get("time_s"), "skipped_statements": skipped[:20]}
        if skipped or failed:
            notes.append(f"--explain-analyze ran {len(ran)} statement(s); {len(skipped)} skipped "
                         f"({sum(s.get('share') or 0 for s in skipped):.1%} of exec time) and {len(failed)} failed "
                         "(see the report's coverage section)")
    return found, notes, cov
