"""PG008 temp-file-spill: statements whose sorts and hashes outgrow work_mem and write temp files.

Evidence: pg_stat_statements' temp_blks_written (and temp_blk_read_time/temp_blk_write_time when track_io_timing
is on), the plan's Sort/Hash nodes and their estimated size (planfacts), and with `--explain-analyze` the memory
the statement really used when run again with a larger work_mem (explain_analyze._probe).

The work_mem it needs, best evidence first:

1. measured (`--explain-analyze`): the peak memory of its sort/hash nodes when it no longer spills — verified;
2. the plan's estimate of its largest sort/hash node (planfacts.estimated_bytes), at least
   SPILL_TO_MEMORY × its temp-file bytes per call — estimated;
3. SPILL_TO_MEMORY × its temp-file bytes per call alone (a statement without a plan) — heuristic.

Where to set it: server-wide only when the value fits pgtune's per-connection budget,
(RAM − shared_buffers) / (3 × max_connections) / max_parallel_workers_per_gather (github.com/le0pard/pgtune);
otherwise for the role that runs the statement when that role runs a minority of the workload (a reporting
role), else for the one transaction (`SET LOCAL work_mem`), because every sort and hash of every connection may
take work_mem at once (PostgreSQL docs 20.4.1).
"""

from __future__ import annotations

import hashlib
from typing import Any

from advisor.fmt import fmt_bytes
from advisor.model import Finding
from analyzers.postgres import planfacts, ruleutil
from analyzers.postgres.rules import stats_window_hours
from analyzers.postgres.statements import first_keyword, quote_ident

#: In-memory sorts needed 1.9–4.4× the disk space of the same external sort on PostgreSQL 15 here (rows of 49
#: and 8 bytes; narrow rows the most): the lower bound is used when nothing better is known.
SPILL_TO_MEMORY = 2.0
#: Statements spilling less than this per hour are left alone (perfadvisor's convention).
#: thresholds.postgres.spill_min_temp_mb_per_hour.
MIN_TEMP_MB_PER_HOUR = 1.0
#: A role that runs less than this share of the workload's exec time is a special-purpose role whose
#: work_mem can be raised alone (perfadvisor's convention).
ROLE_MINORITY_SHARE = 0.5
_EXPLAINABLE = {"select", "with", "insert", "update", "delete", "values", "table"}
REFERENCES = (ruleutil.DOCS + "runtime-config-resource.html#GUC-WORK-MEM",
              ruleutil.DOCS + "sql-alterrole.html", ruleutil.DOCS + "sql-set.html",
              "https://github.com/le0pard/pgtune")


def statement_key(query: str) -> str:
    """A stable key for a statement across runs: a hash of its normalized text (queryid changes when the
    database is re-created, since it hashes relation OIDs)."""
    return hashlib.sha1(query.encode("utf-8")).hexdigest()[:12]


def _plan(s: dict[str, Any]) -> dict[str, Any] | None:
    rep = (s.get("representative") or {}).get("plan")
    return rep or s.get("plan")


def _work_mem(section: dict[str, Any]) -> tuple[float, float]:
    wm = ruleutil.setting_bytes(section, "work_mem") or 4 * 1024 ** 2
    return wm, ruleutil.setting_float(section, "hash_mem_multiplier", 2.0) or 2.0


def needed_bytes(s: dict[str, Any], ea: dict[str, Any] | None, section: dict[str, Any]
                 ) -> tuple[float, str, str]:
    """(work_mem bytes that keep the statement in memory, how it was found, confidence)."""
    work_mem, hmm = _work_mem(section)
    block = ruleutil.setting_float(section, "block_size", 8192.0) or 8192.0
    calls = max(int(s.get("calls") or 0), 1)
    from_temp = SPILL_TO_MEMORY * (s.get("temp_blks_written") or 0) * block / calls
    probe = (ea or {}).get("probe") or {}
    if probe.get("nodes"):
        if not any(planfacts.spilled(n) for n in probe["nodes"]):
            need = 0.0
            for n in probe["nodes"]:
                used = planfacts.memory_used_kb(n)
                if used is not None:
                    need = max(need, used * 1024 / (hmm if n.get("kind") == "hash" else 1.0))
            if need:
                return need, (f"measured: with work_mem {fmt_bytes(probe['work_mem_kb'] * 1024)} it ran in memory, "
                              f"its largest sort/hash using {fmt_bytes(need)}"), "verified"
        else:
            return (max(probe["work_mem_kb"] * 1024.0, from_temp),
                    f"measured: it still spilled with work_mem {fmt_bytes(probe['work_mem_kb'] * 1024)}", "estimated")
    plan = _plan(s)
    est = 0.0
    for n in (plan or {}).get("memory_nodes") or []:
        budget = work_mem * (hmm if n["kind"] == "hash" else 1.0)
        if n["estimated_bytes"] > budget:
            est = max(est, n["estimated_bytes"] / (hmm if n["kind"] == "hash" else 1.0))
    if est and est >= from_temp:
        return est, "the plan's estimate of its largest sort/hash node (row estimate × row width)", "estimated"
    if est:
        return from_temp, (f"{SPILL_TO_MEMORY:g} × its temp-file bytes per call (the plan's estimate, "
                           f"{fmt_bytes(est)}, is lower)"), "estimated"
    return from_temp, f"{SPILL_TO_MEMORY:g} × its temp-file bytes per call (no plan to estimate from)", "heuristic"


def pgtune_budget(section: dict[str, Any]) -> float | None:
    """pgtune's work_mem for this server: (RAM − shared_buffers) / (3 × max_connections) / parallel workers per
    gather; None when the server's memory is unknown."""
    ram = (section.get("host") or {}).get("memory_bytes")
    if not ram:
        return None
    sb = ruleutil.setting_bytes(section, "shared_buffers") or 0.0
    conns = ruleutil.setting_float(section, "max_connections", 100.0) or 100.0
    workers = max(ruleutil.setting_float(section, "max_parallel_workers_per_gather", 2.0) or 1.0, 1.0)
    return max(ram - sb, 0.0) / (3 * conns) / workers


def _role_shares(section: dict[str, Any]) -> dict[str, float]:
    total = sum(float(s.get("total_exec_time_ms") or 0) for s in ruleutil.all_statements(section)) or 1.0
    out: dict[str, float] = {}
    for s in ruleutil.all_statements(section):
        out[s.get("role") or ""] = out.get(s.get("role") or "", 0.0) + float(s.get("total_exec_time_ms") or 0) / total
    return out


def findings(section: dict[str, Any], th: dict[str, float]) -> list[Finding]:
    """PG008 findings: one for every statement that must be raised per transaction, one per role, or one
    server-wide finding when the largest need fits the per-connection budget."""
    hours, window = stats_window_hours(section)
    block = ruleutil.setting_float(section, "block_size", 8192.0) or 8192.0
    work_mem, _ = _work_mem(section)
    ea = {e["queryid"]: e for e in (section.get("explain_analyze") or {}).get("statements") or []}
    total_ms = ruleutil.total_exec_ms(section) or 1.0
    spilling = []
    for s in ruleutil.all_statements(section):
        temp = (s.get("temp_blks_written") or 0) * block
        if not temp or first_keyword(s["query"]) not in _EXPLAINABLE:
            continue
        if temp / hours < th["spill_min_temp_mb_per_hour"] * 1024 ** 2:
            continue
        need, basis, confidence = needed_bytes(s, ea.get(s["queryid"]), section)
        spilling.append({"s": s, "temp": temp, "need": max(need, work_mem + 1), "basis": basis,
                         "confidence": confidence})
    if not spilling:
        return []
    budget = pgtune_budget(section)
    largest = max(ruleutil.nice_mb(x["need"]) for x in spilling)
    if budget is not None and largest <= budget:
        return [_finding(section, spilling, "server", None, hours, window, total_ms, budget)]
    shares = _role_shares(section)
    by_role: dict[str, list[dict]] = {}
    out = []
    for x in spilling:
        role = x["s"].get("role")
        if role and shares.get(role, 1.0) < ROLE_MINORITY_SHARE:
            by_role.setdefault(role, []).append(x)
        else:
            out.append(_finding(section, [x], "transaction", None, hours, window, total_ms, budget))
    for role, xs in sorted(by_role.items()):
        out.append(_finding(section, xs, "role", role, hours, window, total_ms, budget))
    return out


def _finding(section, xs: list[dict], scope: str, role: str | None, hours: float, window: str,
             total_ms: float, budget: float | None) -> Finding:
    value = max(ruleutil.nice_mb(x["need"]) for x in xs)
    text = ruleutil.mb_text(value)
    work_mem, _ = _work_mem(section)
    temp_h = sum(x["temp"] for x in xs) / hours
    exec_h = sum(float(x["s"].get("total_exec_time_ms") or 0) for x in xs) / hours
    io_h = sum(float(x["s"].get("temp_blk_read_time_ms") or 0) + float(x["s"].get("temp_blk_write_time_ms") or 0)
               for x in xs) / hours
    share = sum(float(x["s"].get("total_exec_time_ms") or 0) for x in xs) / total_ms
    # the weakest evidence of the statements grouped decides
    confidence = max((x["confidence"] for x in xs), key=("verified", "estimated", "heuristic").index)
    first = xs[0]["s"]
    budget_txt = (f"pgtune's per-connection budget on this server is {fmt_bytes(budget)}" if budget is not None
                  else "the server's memory is unknown (it is not on this machine), so a server-wide value "
                       "cannot be judged safe")
    if scope == "server":
        sql = f"ALTER SYSTEM SET work_mem = '{text}';\nSELECT pg_reload_conf();"
        where = f"server-wide: {text} fits the per-connection budget ({budget_txt})"
        key, title_where = "server", "server-wide"
    elif scope == "role":
        sql = f"ALTER ROLE {quote_ident(role)} SET work_mem = '{text}';  -- applies to its new sessions"
        where = (f"for role {role} only: it runs a minority of the workload, and {text} for every connection "
                 f"is more than the server-wide budget ({budget_txt})")
        key, title_where = f"role:{role}", f"for role {role}"
    else:
        sql = (f"BEGIN;\nSET LOCAL work_mem = '{text}';\n{first['query']};\nCOMMIT;\n"
               f"-- Spring: in the @Transactional method, jdbcTemplate.execute(\"SET LOCAL work_mem = '{text}'\") "
               "before the query")
        where = (f"for this statement's transaction only (SET LOCAL): {text} for every connection is more than "
                 f"the server-wide budget ({budget_txt}), and its role runs most of the workload")
        key, title_where = f"query:{statement_key(first['query'])}", "for its transaction"
    per_call = ", ".join(f"{fmt_bytes(x['temp'] / max(int(x['s']['calls'] or 0), 1))} per call" for x in xs[:3])
    detail = (f"{len(xs)} statement(s) wrote {fmt_bytes(temp_h)} of temp files per hour ({per_call}; {window}) "
              f"because a sort or hash outgrew work_mem ({fmt_bytes(work_mem)}). Work_mem that keeps "
              f"{'it' if len(xs) == 1 else 'them'} in memory: {text} — {xs[0]['basis']}. Set it {where}.")
    if io_h:
        detail += f" The temp-file I/O took {io_h:,.0f} ms per hour (track_io_timing)."
    if confidence != "verified":
        detail += " Run `perfadvisor analyze --explain-analyze` to measure the memory it needs."
    impact = ({"metric": "exec_time_ms_per_hour", "before": round(exec_h, 1),
               "after": round(max(exec_h - io_h, 0.0), 1), "estimated": True} if io_h else
              {"metric": "temp_bytes_written_per_hour", "before": round(temp_h), "after": 0, "estimated": True})
    return Finding(
        rule="PG008", name="temp-file-spill", area="postgres", severity=ruleutil.severity_by_share(share),
        confidence=confidence,
        title=f"Sorts/hashes spill to disk: work_mem {text} {title_where} keeps "
              f"{'1 statement' if len(xs) == 1 else f'{len(xs)} statements'} in memory",
        detail=detail, key=key,
        evidence={"statements": [ruleutil.statement_row(
            x["s"], temp_bytes_per_call=round(x["temp"] / max(int(x["s"]["calls"] or 0), 1)),
            needed_work_mem_bytes=round(x["need"]), basis=x["basis"]) for x in xs],
            "work_mem_bytes": work_mem, "recommended_work_mem": text, "scope": scope,
            "server_budget_bytes": round(budget) if budget is not None else None,
            "share_of_exec_time": round(share, 4), "stats_window": window},
        impact=impact, action={"kind": "config", "sql": sql, "summary": f"work_mem = {text} {title_where}"},
        references=REFERENCES)
