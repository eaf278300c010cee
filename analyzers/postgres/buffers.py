"""PG011 buffer-cache-misses: the share of block reads shared_buffers could not serve, overall
(pg_stat_database) and per table (pg_statio_user_tables: heap and index blocks), with blocks read per hour and,
when track_io_timing is on, the time the reads took.

A "read" is a block shared_buffers did not hold; the operating system's page cache may still have served it, so
when track_io_timing shows reads averaging under OS_CACHE_READ_MS they are reported as cheap (low). One finding
for the database when its ratio is low; otherwise one per table whose own ratio is low (an average hides a hot
table that does not fit).
"""

from __future__ import annotations

from typing import Any

from advisor.fmt import fmt_bytes
from advisor.model import Finding
from analyzers.postgres import ruleutil

#: Hit ratio below which reads are reported: "significantly lower than 99%" calls for more cache (Citus Data
#: docs, "Useful diagnostic queries — cache hit rate"). thresholds.postgres.min_cache_hit_ratio.
MIN_HIT_RATIO = 0.99
#: Below this ratio the finding is high: a healthy instance stays above 90% (Percona PMM advisor
#: "PostgreSQL cache hit ratio").
LOW_HIT_RATIO = 0.90
#: Blocks read per hour below which a low ratio does not matter (perfadvisor's convention: ~80 MB/h of 8 kB
#: blocks). thresholds.postgres.min_blocks_read_per_hour.
MIN_BLOCKS_READ_PER_HOUR = 10_000
#: Mean read time under which reads come from the OS page cache rather than storage (perfadvisor's convention:
#: an SSD random read takes ~0.1 ms; a page-cache copy of 8 kB takes microseconds).
OS_CACHE_READ_MS = 0.05
TOP_TABLES = 5
REFERENCES = (ruleutil.DOCS + "monitoring-stats.html#MONITORING-PG-STATIO-ALL-TABLES-VIEW",
              ruleutil.DOCS + "runtime-config-resource.html#GUC-SHARED-BUFFERS",
              ruleutil.DOCS + "runtime-config-statistics.html#GUC-TRACK-IO-TIMING",
              "https://docs.citusdata.com/en/stable/admin_guide/diagnostic_queries.html")


def _ratio(hit: float, read: float) -> float | None:
    return hit / (hit + read) if hit + read else None


def table_rows(section: dict[str, Any], hours: float) -> list[dict[str, Any]]:
    """Per table: heap + index blocks read and hit, ratio, blocks read per hour; most reads first."""
    out = []
    for t in section.get("tables") or []:
        read = float(t.get("heap_blks_read") or 0) + float(t.get("idx_blks_read") or 0)
        hit = float(t.get("heap_blks_hit") or 0) + float(t.get("idx_blks_hit") or 0)
        if read + hit == 0:
            continue
        out.append({"table": f"{t['schema']}.{t['table']}", "blocks_read": int(read), "blocks_hit": int(hit),
                    "hit_ratio": round(_ratio(hit, read) or 0.0, 4), "blocks_read_per_hour": round(read / hours),
                    "total_bytes": t.get("total_bytes")})
    return sorted(out, key=lambda r: -r["blocks_read"])


def findings(section: dict[str, Any], th: dict[str, float], shared_buffers_advice: str | None = None
             ) -> list[Finding]:
    """PG011 findings. `shared_buffers_advice` is the id of the settings finding that raises shared_buffers,
    when there is one (PG014), so this finding points to it instead of repeating it."""
    hours, window = ruleutil.table_stats_hours(section)
    db = section.get("database_stats") or {}
    block = ruleutil.setting_float(section, "block_size", 8192.0) or 8192.0
    timing = ruleutil.setting(section, "track_io_timing") == "on"
    read, hit = float(db.get("blks_read") or 0), float(db.get("blks_hit") or 0)
    ratio = _ratio(hit, read)
    tables = table_rows(section, hours)
    if ratio is None:
        return []
    read_ms = float(db.get("blk_read_time_ms") or 0)
    if ratio < th["min_cache_hit_ratio"] and read / hours >= th["min_blocks_read_per_hour"]:
        return [_finding("database", section["database"], ratio, read, hours, window, read_ms if timing else None,
                         block, tables[:TOP_TABLES], shared_buffers_advice, section)]
    out = []
    for r in tables:
        if r["hit_ratio"] < th["min_cache_hit_ratio"] and r["blocks_read_per_hour"] >= th["min_blocks_read_per_hour"]:
            out.append(_finding(r["table"], r["table"], r["hit_ratio"], r["blocks_read"], hours, window, None,
                                block, [r], shared_buffers_advice, section))
    return out


def _finding(key: str, what: str, ratio: float, read: float, hours: float, window: str, read_ms: float | None,
             block: float, tables: list[dict], advice: str | None, section: dict[str, Any]) -> Finding:
    per_read = read_ms / read if read_ms and read else None
    os_cached = per_read is not None and per_read < OS_CACHE_READ_MS
    severity = "low" if os_cached else ("high" if ratio < LOW_HIT_RATIO else "medium")
    sb = ruleutil.setting_bytes(section, "shared_buffers")
    db_bytes = (section.get("database_stats") or {}).get("database_bytes")
    if read_ms is None:
        timing = (" track_io_timing is off, so what the reads cost is unknown: turn it on "
                  "(ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf(); pg_test_timing shows its "
                  "overhead) to rank this by time.")
    else:
        timing = (f" The reads took {read_ms / hours:,.0f} ms per hour, {per_read:.3f} ms each"
                  + (": the OS page cache served most of them, so they are cheap." if os_cached else "."))
    fix = (f" {advice} raises shared_buffers." if advice else
           f" shared_buffers is {fmt_bytes(sb)} and the database {fmt_bytes(db_bytes)}: if the server has memory "
           "to spare, a larger shared_buffers keeps more of the working set; otherwise the statements reading "
           "these tables read more than they need (see the index findings).")
    return Finding(
        rule="PG011", name="buffer-cache-misses", area="postgres", severity=severity,
        confidence="verified" if read_ms is not None else "heuristic",
        title=f"{what}: {ratio:.1%} of block reads hit shared_buffers ({read / hours:,.0f} blocks read per hour)",
        detail=(f"{read:,.0f} blocks ({fmt_bytes(read * block)}) were read outside shared_buffers {window}; "
                f"hit ratio {ratio:.2%}, below {MIN_HIT_RATIO:.0%}.{timing}{fix}"),
        key=key,
        evidence={"hit_ratio": round(ratio, 4), "blocks_read": int(read), "blocks_read_per_hour": round(read / hours),
                  "read_time_ms_per_hour": round(read_ms / hours, 1) if read_ms is not None else None,
                  "mean_read_ms": round(per_read, 4) if per_read is not None else None,
                  "track_io_timing": read_ms is not None, "shared_buffers_bytes": sb, "database_bytes": db_bytes,
                  "tables": tables, "stats_window": window},
        impact=None,
        action={"kind": "none", "summary": f"see {advice}"} if advice else {"kind": "none"},
        references=REFERENCES)
