"""Small helpers shared by the rules beyond indexes (PG007–PG014): settings with units, the statement
counters of the whole workload, the time the statistics cover, severities and evidence rows."""

from __future__ import annotations

import math
from typing import Any

from analyzers.postgres.candidates import Catalog
from analyzers.postgres.rules import _age_s  # one reading of pg_stat timestamps

DOCS = "https://www.postgresql.org/docs/15/"
#: Severity by the share of the workload's exec time a finding concerns (perfadvisor's scale, as PG001).
SEVERITY_SHARE = (("high", 0.25), ("medium", 0.05))

_UNIT_BYTES = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1024 ** 2, "16MB": 16 * 1024 ** 2, "GB": 1024 ** 3}


def settings_map(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{name: pg_settings row} of the collected settings."""
    return {r["name"]: r for r in section.get("settings") or []}


def setting(section: dict[str, Any], name: str) -> str | None:
    row = settings_map(section).get(name)
    return None if row is None else row.get("setting")


def setting_float(section: dict[str, Any], name: str, default: float | None = None) -> float | None:
    try:
        return float(setting(section, name))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def setting_bytes(section: dict[str, Any], name: str) -> float | None:
    """A memory setting in bytes (pg_settings gives `setting` in `unit`: 8kB blocks, kB, …)."""
    row = settings_map(section).get(name)
    if row is None:
        return None
    try:
        return float(row["setting"]) * _UNIT_BYTES.get(row.get("unit") or "B", 1)
    except (TypeError, ValueError):
        return None


def is_default(section: dict[str, Any], name: str) -> bool:
    row = settings_map(section).get(name) or {}
    return row.get("source") == "default"


def mb_text(n_bytes: float) -> str:
    """A size as PostgreSQL's configuration takes it: "64MB", "1536MB", "4GB"."""
    mb = n_bytes / 1024 ** 2
    if mb >= 1024 and float(mb / 1024).is_integer():
        return f"{int(mb // 1024)}GB"
    return f"{math.ceil(mb)}MB"


def nice_mb(n_bytes: float) -> float:
    """Round a memory need up to a value a person would set: a power of two MB up to 64MB, then multiples of
    64MB (perfadvisor's choice: headroom for the data growing)."""
    mb = max(n_bytes / 1024 ** 2, 1.0)
    nice = 2 ** math.ceil(math.log2(mb)) if mb <= 64 else 64 * math.ceil(mb / 64)
    return nice * 1024 ** 2


def all_statements(section: dict[str, Any]) -> list[dict[str, Any]]:
    """Every workload statement with its counters: the analysed selection first, then the rest."""
    return list(section.get("statements") or []) + list(section.get("other_statements") or [])


def total_exec_ms(section: dict[str, Any]) -> float:
    return float((section.get("workload") or {}).get("total_exec_time_ms") or 0.0)


def table_stats_hours(section: dict[str, Any]) -> tuple[float, str]:
    """Hours covered by pg_stat_user_tables / pg_stat_database: since pg_stat_database.stats_reset, else since
    the server started — PostgreSQL 15 keeps statistics across a clean restart, so then the real span may be
    longer and rates per hour are upper bounds (the label says so)."""
    resets = section.get("stats_reset") or {}
    db = (section.get("database_stats") or {}).get("stats_reset") or resets.get("database")
    age = _age_s(db, section) if db else None
    label = "since the statistics were reset"
    if age is None:
        age = _age_s(resets.get("postmaster_start_time"), section)
        label = "since the server started (statistics may be older: the rate is an upper bound)"
    if age is None:
        return 1.0, "over an unknown span (assumed 1 hour)"
    from analyzers.postgres.rules import humanize_s

    return max(age / 3600.0, 1 / 60), f"{label}, {humanize_s(age)} ago"


def severity_by_share(share: float) -> str:
    for name, threshold in SEVERITY_SHARE:
        if share >= threshold:
            return name
    return "low"


def statement_row(s: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A statement as evidence (the report renders queryid, query, calls, mean_exec_time_ms)."""
    calls = int(s.get("calls") or 0)
    mean = s.get("mean_exec_time_ms")
    if mean is None:
        mean = (s.get("total_exec_time_ms") or 0.0) / calls if calls else 0.0
    row = {"queryid": s["queryid"], "query": s["query"], "calls": calls, "rows": int(s.get("rows") or 0),
           "mean_exec_time_ms": round(float(mean), 3),
           "total_exec_time_ms": round(float(s.get("total_exec_time_ms") or 0.0), 1)}
    row.update(extra)
    return row


def catalog_of(section: dict[str, Any]) -> Catalog:
    """The candidates.Catalog of a snapshot section (columns and search_path), for parsing statements."""
    cols = {}
    for key, types in (section.get("columns") or {}).items():
        schema, _, table = key.partition(".")
        cols[(schema, table)] = types
    return Catalog(columns=cols, search_path=list(section.get("search_path") or ["public"]))


def qualified(schema: str, table: str) -> str:
    from analyzers.postgres.statements import quote_ident

    return f"{quote_ident(schema)}.{quote_ident(table)}"


def reloption(table: dict[str, Any], name: str) -> str | None:
    """A table's storage parameter (pg_class.reloptions "name=value"), None when not set."""
    for opt in table.get("reloptions") or []:
        key, _, value = str(opt).partition("=")
        if key == name:
            return value
    return None
