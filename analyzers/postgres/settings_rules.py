"""PG014 server-setting: settings whose value the evidence says is wrong for this server and workload, each
with its value, the recommended range and where that range comes from.

Never a blind rule: each check speaks only when the snapshot holds the evidence it needs (the server's memory
when it runs on this machine, the cache hit ratio, the database's size, the JIT time pg_stat_statements
measured), and stays silent otherwise. max_connections against the connection pools that use the server is
checked by the POOL rules, which see the pools.

- shared_buffers: "a reasonable starting value … is 25% of the memory in your system" (PostgreSQL docs 20.4.1),
  advised only when the database does not fit and block reads miss the cache;
- effective_cache_size: 1/2 of memory is a conservative setting, 3/4 a more aggressive but reasonable one
  (PostgreSQL wiki, "Tuning Your PostgreSQL Server"), advised only when the database is larger than the value;
- work_mem: above what every connection can have at once (pgtune's budget, see spills.pgtune_budget, × 4)
  while max_connections × work_mem exceeds the memory left by shared_buffers;
- random_page_cost: 1.1 for solid-state storage or data that is cached (docs 20.7.2), advised only when the
  data directory is on a non-rotating disk or the hit ratio shows the data is cached;
- jit: "for short queries the added overhead of performing JIT compilation will often be higher than the time
  it can save" (docs 32.2 "When to JIT?"), advised when the JIT time pg_stat_statements measured is a real
  share of short statements' time.
"""

from __future__ import annotations

from typing import Any

from advisor.fmt import fmt_bytes
from advisor.model import Finding
from analyzers.postgres import ruleutil, spills
from analyzers.postgres.rules import stats_window_hours
from analyzers.postgres.statements import quote_ident

#: Share of RAM for shared_buffers (PostgreSQL docs 20.4.1).
SHARED_BUFFERS_SHARE = 0.25
#: effective_cache_size between these shares of RAM (PostgreSQL wiki, Tuning Your PostgreSQL Server).
ECS_LOW_SHARE, ECS_HIGH_SHARE = 0.5, 0.75
#: random_page_cost for SSDs or cached data (PostgreSQL docs 20.7.2).
SSD_RANDOM_PAGE_COST = 1.1
#: Statements with a mean exec time up to this are "short" for the JIT check (perfadvisor's convention: an
#: OLTP statement answers in well under the 100 ms that feel instantaneous, Nielsen 1993).
#: thresholds.postgres.oltp_max_mean_ms.
OLTP_MAX_MEAN_MS = 100.0
#: JIT time at least this share of those statements' exec time (perfadvisor's convention).
#: thresholds.postgres.jit_min_share.
JIT_MIN_SHARE = 0.1
DOC = ruleutil.DOCS


def _ratio(section: dict[str, Any]) -> tuple[float | None, float]:
    db = section.get("database_stats") or {}
    read, hit = float(db.get("blks_read") or 0), float(db.get("blks_hit") or 0)
    hours, _ = ruleutil.table_stats_hours(section)
    return (hit / (hit + read) if hit + read else None), read / hours


def _finding(name: str, title: str, detail: str, evidence: dict[str, Any], sql: str | None, severity: str,
             confidence: str, refs: tuple[str, ...], impact: dict[str, Any] | None = None) -> Finding:
    return Finding(rule="PG014", name="server-setting", area="postgres", severity=severity, confidence=confidence,
                   title=title, detail=detail, key=name, evidence=evidence, impact=impact,
                   action={"kind": "config", "sql": sql, "summary": title} if sql else {"kind": "none"},
                   references=refs)


def shared_buffers(section: dict[str, Any], th: dict[str, float]) -> Finding | None:
    sb = ruleutil.setting_bytes(section, "shared_buffers")
    db_bytes = (section.get("database_stats") or {}).get("database_bytes")
    ratio, reads_h = _ratio(section)
    ram = (section.get("host") or {}).get("memory_bytes")
    if sb is None or not db_bytes or ratio is None:
        return None
    if db_bytes <= sb or ratio >= th["min_cache_hit_ratio"] or reads_h < th["min_blocks_read_per_hour"]:
        return None
    evidence = {"value_bytes": sb, "database_bytes": db_bytes, "hit_ratio": round(ratio, 4),
                "blocks_read_per_hour": round(reads_h), "memory_bytes": ram,
                "recommended": "25% of RAM", "source": "PostgreSQL docs 20.4.1 (shared_buffers)"}
    why = (f"The database ({fmt_bytes(db_bytes)}) does not fit in shared_buffers ({fmt_bytes(sb)}) and "
           f"{1 - ratio:.1%} of block reads miss it ({reads_h:,.0f} blocks per hour).")
    if ram:
        target = SHARED_BUFFERS_SHARE * ram
        if sb >= 0.9 * target:
            return None
        value = min(ruleutil.nice_mb(db_bytes * 1.2), target)
        text = ruleutil.mb_text(value)
        evidence["recommended_bytes"] = value
        return _finding(
            "shared_buffers", f"shared_buffers = {fmt_bytes(sb)}: raise it to {text}",
            why + f" The server has {fmt_bytes(ram)} ({(section.get('host') or {}).get('source')}); PostgreSQL's "
            f"docs start at 25% of RAM ({fmt_bytes(target)}), and the database with room to grow needs {text}. "
            "Takes effect after a restart.",
            evidence, f"ALTER SYSTEM SET shared_buffers = '{text}';  -- then restart PostgreSQL", "medium",
            "heuristic", (DOC + "runtime-config-resource.html#GUC-SHARED-BUFFERS",))
    if not ruleutil.is_default(section, "shared_buffers"):
        return None
    return _finding(
        "shared_buffers", f"shared_buffers is at its default ({fmt_bytes(sb)}) and the data does not fit",
        why + " The server's memory is unknown (it is not on this machine): PostgreSQL's docs start at 25% of "
        "the RAM of a dedicated server. Takes effect after a restart.",
        evidence, None, "medium", "heuristic", (DOC + "runtime-config-resource.html#GUC-SHARED-BUFFERS",))


def effective_cache_size(section: dict[str, Any], th: dict[str, float]) -> Finding | None:
    ecs = ruleutil.setting_bytes(section, "effective_cache_size")
    ram = (section.get("host") or {}).get("memory_bytes")
    db_bytes = (section.get("database_stats") or {}).get("database_bytes") or 0
    if not ecs or not ram:
        return None
    if ecs > ram:
        value, why = ECS_HIGH_SHARE * ram, "is more than the server's memory: the planner trusts a cache that cannot exist"
    elif ecs < ECS_LOW_SHARE * ram and db_bytes > ecs:
        value, why = ECS_LOW_SHARE * ram, (f"is under half the server's memory while the database "
                                           f"({fmt_bytes(db_bytes)}) is larger: index scans on large tables are "
                                           "costed as if their pages had to come from disk")
    else:
        return None
    text = ruleutil.mb_text(value)
    return _finding(
        "effective_cache_size", f"effective_cache_size = {fmt_bytes(ecs)}: set it to {text}",
        f"effective_cache_size ({fmt_bytes(ecs)}) {why}. The server has {fmt_bytes(ram)} "
        f"({(section.get('host') or {}).get('source')}); 1/2 of memory is a conservative value and 3/4 an "
        "aggressive but reasonable one (PostgreSQL wiki). It only informs the planner: no memory is allocated.",
        {"value_bytes": ecs, "memory_bytes": ram, "database_bytes": db_bytes, "recommended_bytes": value,
         "recommended": "50–75% of RAM", "source": "wiki.postgresql.org/wiki/Tuning_Your_PostgreSQL_Server"},
        f"ALTER SYSTEM SET effective_cache_size = '{text}';\nSELECT pg_reload_conf();", "low", "heuristic",
        (DOC + "runtime-config-query.html#GUC-EFFECTIVE-CACHE-SIZE",
         "https://wiki.postgresql.org/wiki/Tuning_Your_PostgreSQL_Server"))


def work_mem(section: dict[str, Any], th: dict[str, float]) -> Finding | None:
    wm = ruleutil.setting_bytes(section, "work_mem")
    ram = (section.get("host") or {}).get("memory_bytes")
    budget = spills.pgtune_budget(section)
    conns = ruleutil.setting_float(section, "max_connections", 100.0) or 100.0
    sb = ruleutil.setting_bytes(section, "shared_buffers") or 0.0
    if not wm or not ram or budget is None or wm <= 4 * budget or wm * conns <= ram - sb:
        return None
    text = ruleutil.mb_text(max(budget, 4 * 1024 ** 2))
    return _finding(
        "work_mem", f"work_mem = {fmt_bytes(wm)} can exhaust the server's memory",
        f"max_connections ({conns:.0f}) × work_mem ({fmt_bytes(wm)}) = {fmt_bytes(conns * wm)}, more than the "
        f"{fmt_bytes(ram - sb)} left beside shared_buffers, and every sort or hash of a statement may take "
        f"work_mem at once (PostgreSQL docs 20.4.1). pgtune's budget for this server is {fmt_bytes(budget)}: set "
        "that server-wide and raise it per role or per transaction where PG008 measured a spill.",
        {"value_bytes": wm, "max_connections": conns, "memory_bytes": ram, "budget_bytes": round(budget),
         "source": "pgtune: (RAM − shared_buffers) / (3 × max_connections) / max_parallel_workers_per_gather"},
        f"ALTER SYSTEM SET work_mem = '{text}';\nSELECT pg_reload_conf();", "medium", "heuristic",
        (DOC + "runtime-config-resource.html#GUC-WORK-MEM", "https://github.com/le0pard/pgtune"))


def random_page_cost(section: dict[str, Any], th: dict[str, float]) -> Finding | None:
    rpc = ruleutil.setting_float(section, "random_page_cost")
    if rpc is None or rpc < 2.0:
        return None
    rotational = (section.get("host") or {}).get("data_directory_rotational")
    ratio, reads_h = _ratio(section)
    cached = ratio is not None and ratio >= th["min_cache_hit_ratio"]
    if rotational is False:
        why = "the data directory is on a non-rotating (solid-state) disk"
    elif cached and rotational is None:
        why = f"{ratio:.2%} of block reads are served from shared_buffers, so random reads cost about what sequential ones do"
    else:
        return None
    return _finding(
        "random_page_cost", f"random_page_cost = {rpc:g}: {SSD_RANDOM_PAGE_COST} fits this server",
        f"random_page_cost {rpc:g} models a rotating disk where a random read costs 4× a sequential one, but {why}. "
        f"PostgreSQL's docs suggest {SSD_RANDOM_PAGE_COST} for such storage; the planner then prefers index scans "
        "where they are cheaper. It changes plans everywhere: validate with a load test (or set it per tablespace).",
        {"value": rpc, "data_directory_rotational": rotational, "hit_ratio": round(ratio, 4) if ratio else None,
         "recommended": SSD_RANDOM_PAGE_COST, "source": "PostgreSQL docs 20.7.2 (random_page_cost)"},
        f"ALTER SYSTEM SET random_page_cost = {SSD_RANDOM_PAGE_COST};\nSELECT pg_reload_conf();", "low",
        "heuristic", (DOC + "runtime-config-query.html#GUC-RANDOM-PAGE-COST",))


def jit(section: dict[str, Any], th: dict[str, float]) -> Finding | None:
    if (ruleutil.setting(section, "jit") or "off") != "on":
        return None
    short = []
    for s in ruleutil.all_statements(section):
        calls = int(s.get("calls") or 0)
        jit_ms = float(s.get("jit_time_ms") or 0)
        total = float(s.get("total_exec_time_ms") or 0)
        # short without the compilation: JIT time is part of exec time and would make every victim look long
        if calls and jit_ms and total and (total - jit_ms) / calls <= th["oltp_max_mean_ms"]:
            short.append((s, jit_ms, total))
    jit_ms = sum(j for _, j, _ in short)
    total = sum(t for _, _, t in short)
    if not short or jit_ms < th["jit_min_share"] * total:
        return None
    hours, window = stats_window_hours(section)
    above = ruleutil.setting(section, "jit_above_cost")
    db = section.get("database")
    return _finding(
        "jit", f"JIT compilation takes {jit_ms / total:.0%} of {len(short)} short statement(s)' time",
        f"{len(short)} statement(s) running under {th['oltp_max_mean_ms']:g} ms a call without JIT spent {jit_ms / hours:,.0f} ms per "
        f"hour compiling with JIT ({window}), {jit_ms / total:.0%} of their exec time: their plans cost more than "
        f"jit_above_cost ({above}), so each call compiles before it runs. PostgreSQL's docs: for short queries "
        "JIT's overhead is often higher than what it saves. Turn it off for this database (or raise "
        "jit_above_cost).",
        {"statements": [ruleutil.statement_row(s, jit_time_ms=round(j, 1)) for s, j, _ in
                        sorted(short, key=lambda x: -x[1])[:10]],
         "jit_time_ms_per_hour": round(jit_ms / hours, 1), "jit_above_cost": above,
         "source": "PostgreSQL docs 32.2 (When to JIT?)"},
        f"ALTER DATABASE {quote_ident(db)} SET jit = off;  -- applies to new sessions", "medium" if jit_ms / total >= 0.25 else "low", "estimated",
        (DOC + "jit-decision.html",),
        impact={"metric": "exec_time_ms_per_hour", "before": round(total / hours, 1),
                "after": round((total - jit_ms) / hours, 1), "estimated": True})


CHECKS = (shared_buffers, effective_cache_size, work_mem, random_page_cost, jit)


def findings(section: dict[str, Any], th: dict[str, float]) -> list[Finding]:
    return [f for check in CHECKS if (f := check(section, th)) is not None]
