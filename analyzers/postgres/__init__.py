"""PostgreSQL: index advice from pg_stat_statements, the catalog, EXPLAIN and HypoPG what-if costs."""

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
    ("max_statements", 500, "cap on statements analysed"),
    ("min_cost_savings_pct", 50.0, "Dexter's --min-cost-savings-pct default"),
    ("max_new_indexes", 10, "perfadvisor's choice: every index slows writes"),
    ("max_index_columns", 3, "Dexter stops at 2; eq, eq, range/sort is common in ORM queries"),
    ("storage_budget_mb", 0.0, "0 = no budget for the new indexes' total size"),
)


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
    findings += rules.pattern_search_findings(section)
    cov = rules.coverage(section)
    if cov["unanalysed"]:
        lost = sum(u["share"] for u in cov["unanalysed"])
        notes.append(f"{len(cov['unanalysed'])} statement(s), {lost:.1%} of total exec time, could not be "
                     "analysed (see the report's coverage section)")
    return AreaResult(findings=findings, coverage=cov, notes=notes)
