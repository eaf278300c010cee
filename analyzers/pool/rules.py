"""The POOL rules: each a small function from the pool views (model.py) to findings.

POOL001 pool-undersized          requests wait for a connection (pending, acquire time) or time out
POOL002 pool-oversized           the busiest moment used a small part of the pool
POOL003 pools-exceed-max-connections  every instance's pool together does not fit in max_connections
POOL004 leak-detection-threshold  leak detection that HikariCP switches off, or that fires on normal use
POOL005 max-lifetime              max-lifetime that HikariCP overrides or that retires nothing; keepalive that
                                  HikariCP turns off (below 30 s, or not below max-lifetime)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from advisor.model import Finding
from analyzers.actuator.props import env_var
from analyzers.pool import sizing
from analyzers.pool.model import Cores, Database, PoolView, Sizing

AREA = "pool"
ABOUT_POOL_SIZING = "https://github.com/brettwooldridge/HikariCP/wiki/About-Pool-Sizing"
HIKARI_CONFIG = "https://github.com/brettwooldridge/HikariCP#gear-configuration-knobs-baby"
SPRING_HIKARI = ("https://docs.spring.io/spring-boot/reference/data/sql.html#data.sql.datasource.connection-pool")


@dataclass(frozen=True)
class Thresholds:
    """[thresholds.pool] values (defaults and sources in analyzers/pool/__init__.py THRESHOLDS)."""

    pending_share: float
    acquire_mean_ms: float
    target_wait_probability: float
    burst_headroom: float
    min_acquires: int
    oversized_peak_share: float
    oversized_min_excess: int
    database_cores: int
    database_capacity_factor: float
    effective_spindle_count: int
    connections_per_request: int
    leak_detection_min_ms: int
    max_lifetime_min_ms: int


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


def _instance_evidence(view: PoolView) -> list[dict[str, Any]]:
    out = []
    for s in view.stats:
        out.append({"instance": s.instance, "samples": s.samples, "window_s": _r(s.window_s, 1),
                    "since_start": s.since_start, "max_size": s.max_size,
                    "active_mean": _r(s.active.mean) if s.active else None,
                    "active_max": s.active.max if s.active else None,
                    "pending_mean": _r(s.pending.mean) if s.pending else None,
                    "pending_max": s.pending.max if s.pending else None,
                    "pending_share": _r(s.pending_share, 3), "acquires": s.acquires,
                    "acquire_mean_ms": _r(s.acquire_mean_ms, 3), "acquire_p95_ms": _r(s.acquire_p95_ms, 3),
                    "acquire_max_ms": _r(s.acquire_max_ms, 3), "usage_mean_ms": _r(s.usage_mean_ms, 3),
                    "usage_max_ms": _r(s.usage_max_ms, 3), "busy_mean": _r(s.busy_mean, 3),
                    "request_rate_per_s": _r(s.request_rate_per_s, 2), "timeouts": s.timeouts})
    return out


def _waiting(view: PoolView, th: Thresholds) -> list[str]:
    """Why the pool counts as too small: one phrase per symptom found on any instance."""
    why = []
    for s in view.stats:
        where = f" on {s.instance}" if view.instances > 1 else ""
        if s.timeouts:
            why.append(f"{s.timeouts:g} connection timeout(s){where}")
        if s.pending_share is not None and s.pending_share >= th.pending_share and s.pending_share > 0:
            why.append(f"threads waited for a connection in {s.pending_share:.0%} of {s.samples} samples{where} "
                       f"(pending up to {s.pending.max:g})" if s.pending else "")
        if s.acquire_mean_ms is not None and s.acquire_mean_ms >= th.acquire_mean_ms:
            why.append(f"getting a connection took {s.acquire_mean_ms:.1f} ms on average{where}")
    return [w for w in why if w]


def _enough(view: PoolView, th: Thresholds) -> bool:
    return any((s.acquires or 0) >= th.min_acquires or (s.timeouts or 0) > 0 for s in view.stats)


def _action(view: PoolView, value: int, current: int | None, instances: int) -> dict[str, Any]:
    prop = view.prop("maximum-pool-size")
    return {"kind": "set_property", "property": prop, "value": value, "env": env_var(prop),
            "current": current, "instances": instances}


def _cross_check(cores: Cores, th: Thresholds, planned_total: int) -> tuple[str, dict[str, Any]]:
    """HikariCP's formula for the database host against every pool at its recommended size × instances."""
    formula = sizing.hikaricp_formula(cores.count, th.effective_spindle_count)
    facts = {"hikaricp_formula": formula, "database_cores": cores.count, "cores_source": cores.source,
             "effective_spindle_count": th.effective_spindle_count, "planned_connections": planned_total}
    if formula is None:
        return (f"HikariCP's cross-check ((cores × 2) + spindles) needs the database's cores: {cores.source}.",
                facts)
    verdict = ("within it" if planned_total <= formula else
               "above it; beyond it extra connections rarely add throughput, so shorten the time each request "
               "holds a connection before raising the pool further")
    return (f"Cross-check, HikariCP's (cores × 2) + spindles = ({cores.count} × 2) + {th.effective_spindle_count}"
            f" = {formula} connections for the database ({cores.source}); every pool at its recommended size on "
            f"every instance makes {planned_total}, {verdict}.", facts)


def _wait_phrase(sz: Sizing) -> str:
    if sz.wait_after_ms is None or sz.wait_now_ms is None:
        return ""
    return (f" Expected effect: mean acquire time {sz.wait_now_ms:.1f} ms now, about {sz.wait_after_ms:.2f} ms "
            f"at {sz.recommended} (M/M/n model at the measured load).")


def pool001_undersized(view: PoolView, sz: Sizing, cores: Cores, th: Thresholds,
                       planned_total: int) -> Finding | None:
    """Requests wait (pending share, acquire time) or time out, and the model's size is larger: raise
    maximum-pool-size. Waits the current size absorbs give nothing; a database that cannot give more
    connections, or timeouts at a size that fits the load, give a finding with action none."""
    why = _waiting(view, th)
    if not why or not _enough(view, th):
        return None
    current = sz.current
    timeouts = sum(s.timeouts or 0 for s in view.stats)
    worst_share = max((s.pending_share or 0) for s in view.stats)
    worst_wait = sz.wait_now_ms or 0.0
    severity = "high" if timeouts or worst_share >= 0.5 or worst_wait >= 10 * th.acquire_mean_ms else "medium"
    cross, cross_facts = _cross_check(cores, th, planned_total)
    basis = ("the mean of active + pending connections (requests waited, so measured use understates demand)"
             if sz.load_basis == "active+pending" else "measured connection use (Little's law: Σ usage time / "
             "window)")
    model = (f"Offered load {sz.offered_load:.2f} connections from {basis}, held {sz.hold_ms:.1f} ms on "
             "average; " if sz.offered_load is not None and sz.hold_ms is not None else "")
    since = " Figures are totals since the application started (one scrape)." if view.stats[0].since_start else ""
    evidence = {"pool": view.pool, "instances": view.instances, "current_size": current,
                "sizing": sz.evidence(), **cross_facts, "per_instance": _instance_evidence(view)}
    rate = sum(s.request_rate_per_s or 0 for s in view.stats)
    impact = None
    if sz.wait_now_ms is not None and sz.wait_after_ms is not None and rate:
        impact = {"metric": "connection_wait_ms_per_hour", "before": round(rate * 3600 * sz.wait_now_ms),
                  "after": round(rate * 3600 * sz.wait_after_ms)}
    if sz.recommended is None or current is None or sz.recommended <= current:
        if sz.bound_note is None and not timeouts:
            return None  # waits were bursts the current size absorbs at the measured load
        why_not = sz.bound_note or (f"the measured load fits in {sz.recommended} connections, so the timeouts "
                                    "come from connections held for long (usage max "
                                    f"{max((s.usage_max_ms or 0) for s in view.stats):.0f} ms) or from bursts")
        return Finding(
            rule="POOL001", name="pool-undersized", area=AREA, severity=severity, confidence="estimated",
            title=(f"Pool {view.pool}: requests wait for connections, but a larger pool does not fit"
                   if sz.bound_note else f"Pool {view.pool}: connection requests time out"),
            detail=f"{'; '.join(why)}. {model}{why_not}. Shorten the time each request holds a connection "
                   f"(fewer or faster statements per request, no remote calls inside transactions).{since} {cross}",
            key=view.pool, evidence=evidence, impact=None, action={"kind": "none"},
            references=(ABOUT_POOL_SIZING,))
    return Finding(
        rule="POOL001", name="pool-undersized", area=AREA, severity=severity, confidence="estimated",
        title=f"Pool {view.pool} is too small: raise maximum-pool-size from {current} to {sz.recommended}",
        detail=f"{'; '.join(why)}. {model}the smallest pool in which a request waits with probability ≤ "
               f"{th.target_wait_probability:.0%} is {sz.erlang_n} (Erlang C)"
               + (f", {sz.locking_n} against pool locking" if sz.locking_n > 1 else "")
               + (f"; {sz.bound_note}" if sz.bound_note else "") + "."
               + _wait_phrase(sz) + f" Applies to each of {view.instances} instance(s)." + since + " " + cross
               + _min_idle_hint(view, sz.recommended),
        key=view.pool, evidence=evidence, impact=impact,
        action=_action(view, sz.recommended, current, view.instances),
        references=(ABOUT_POOL_SIZING, SPRING_HIKARI))


def _min_idle_hint(view: PoolView, size: int) -> str:
    mi = view.conf_number("minimum-idle")
    if mi is not None and mi < size:
        return (f" {view.prop('minimum-idle')} is {mi:g}: HikariCP recommends leaving it unset (a fixed-size "
                f"pool), or set it to {size} too.")
    return ""


def pool002_oversized(view: PoolView, sz: Sizing, th: Thresholds, available: int | None,
                      cores: Cores | None = None) -> Finding | None:
    """Peak active at most oversized_peak_share of the pool, nobody waited, and the pool is at least
    oversized_min_excess above the smallest size worth keeping: lower maximum-pool-size (window mode only).

    The smallest size worth keeping is the largest of the model's size, twice the peak in use (one window
    is rarely the busiest hour) and HikariCP's (cores × 2) + spindles when the database's cores are known —
    a pool that small never starves the database, and advising less would undo a sizing that the same
    formula supports (HikariCP wiki, "About Pool Sizing")."""
    import math

    current = sz.current
    if (current is None or sz.recommended is None or view.stats[0].since_start or not _enough(view, th)
            or _waiting(view, th)):
        return None
    peaks = [s.active.max for s in view.stats if s.active is not None]
    if not peaks:
        return None
    peak = max(peaks)
    formula = sizing.hikaricp_formula(cores.count, th.effective_spindle_count) if cores else None
    floor = max(sz.recommended, math.ceil(2 * peak), formula or 0)
    if peak > th.oversized_peak_share * current or current - floor < th.oversized_min_excess:
        return None
    sz = dataclasses.replace(sz, recommended=floor)
    held = current * view.instances
    heavy = available is not None and available > 0 and held >= 0.5 * available
    detail = (f"At most {peak:g} of {current} connections were in use at once (over {sum(s.samples for s in view.stats)} "
              f"samples on {view.instances} instance(s)); measured use is {sz.offered_load:.2f} connections on "
              f"average, held {sz.hold_ms or 0:.1f} ms each. {sz.recommended} keeps the chance of waiting ≤ "
              f"{th.target_wait_probability:.0%}, with twice the peak in use as headroom"
              + (f" and no fewer than HikariCP's {formula} for the database's {cores.count} cores" if formula else "")
              + ". Each idle connection is a PostgreSQL backend process holding memory"
              + (f"; these pools hold {held} of the {available} connections the database can give" if heavy else "")
              + ". Check the busiest hour before shrinking: this window may be quieter.")
    return Finding(
        rule="POOL002", name="pool-oversized", area=AREA, severity="medium" if heavy else "low",
        confidence="estimated",
        title=f"Pool {view.pool} is larger than its load needs: {current} → {sz.recommended}",
        detail=detail, key=view.pool,
        evidence={"pool": view.pool, "instances": view.instances, "current_size": current, "peak_active": peak,
                  "sizing": sz.evidence(), "per_instance": _instance_evidence(view)},
        action=_action(view, sz.recommended, current, view.instances), references=(ABOUT_POOL_SIZING,))


def pool003_max_connections(views: list[PoolView], db: Database, others: int, available: int) -> Finding | None:
    """Σ maximum-pool-size × instances over every pool exceeds what the database can still give."""
    sizes = [(v, v.current_size) for v in views if v.current_size is not None]
    total = sum(size * v.instances for v, size in sizes)
    if not db.known or total <= available:
        return None
    limit = db.max_connections - db.superuser_reserved - (db.reserved or 0)
    parts = ", ".join(f"{v.pool} {size} × {v.instances}" for v, size in sizes)
    return Finding(
        rule="POOL003", name="pools-exceed-max-connections", area=AREA, severity="high", confidence="estimated",
        title=f"The pools may open {total} connections; the database has {available} for them",
        detail=f"maximum-pool-size × instances: {parts} = {total}. The database allows {db.max_connections} "
               f"connections, {db.superuser_reserved} reserved for superusers"
               + (f" and {db.reserved} reserved_connections" if db.reserved else "")
               + f"; other clients hold {others}. When every pool fills up (a burst, a slow query), new "
                 "connections fail with 'sorry, too many clients already'. Lower the pool sizes so they add up to "
                 f"at most {available}, or raise max_connections (needs a restart) to at least "
                 f"{total + others + db.superuser_reserved + (db.reserved or 0)}.",
        key="all-pools",
        evidence={"pools": [{"pool": v.pool, "max_size": size, "instances": v.instances} for v, size in sizes],
                  "total": total, "max_connections": db.max_connections,
                  "superuser_reserved_connections": db.superuser_reserved, "reserved_connections": db.reserved,
                  "held_by_other_clients": others, "available": available, "limit": limit},
        action={"kind": "config", "setting": "max_connections",
                "value": total + others + db.superuser_reserved + (db.reserved or 0), "file": "postgresql.conf"},
        references=("https://www.postgresql.org/docs/current/runtime-config-connection.html", ABOUT_POOL_SIZING))


def pool004_leak_detection(view: PoolView, th: Thresholds) -> Finding | None:
    """leak-detection-threshold that HikariCP disables (< 2 s or > max-lifetime), or below the longest use."""
    ldt = view.conf_number("leak-detection-threshold")
    life = view.conf_number("max-lifetime")
    if ldt is None:
        return None
    usage_max = max((s.usage_max_ms or 0 for s in view.stats), default=0)
    prop = view.prop("leak-detection-threshold")
    base = {"pool": view.pool, "leak_detection_threshold_ms": ldt, "max_lifetime_ms": life,
            "usage_max_ms": _r(usage_max, 1)}
    if 0 < ldt < th.leak_detection_min_ms or (life and life > 0 and ldt > life):
        why = (f"below HikariCP's minimum of {th.leak_detection_min_ms} ms" if ldt < th.leak_detection_min_ms
               else f"longer than max-lifetime ({life:g} ms)")
        value = max(th.leak_detection_min_ms, min(60_000, int(life) - 1000 if life else 60_000))
        return Finding(
            rule="POOL004", name="leak-detection-threshold", area=AREA, severity="low", confidence="verified",
            title=f"Pool {view.pool}: leak detection is configured but HikariCP switches it off",
            detail=f"{prop} is {ldt:g} ms, {why}: HikariCP logs a warning at start and disables leak detection "
                   f"(HikariConfig validation). Set it to e.g. {value} ms, or 0 to turn it off knowingly.",
            key=view.pool, evidence=base,
            action={"kind": "set_property", "property": prop, "value": value, "env": env_var(prop),
                    "current": ldt}, references=(HIKARI_CONFIG,))
    if ldt > 0 and usage_max >= ldt:
        value = int(math.ceil(usage_max * 2 / 1000.0) * 1000)
        return Finding(
            rule="POOL004", name="leak-detection-threshold", area=AREA, severity="low", confidence="heuristic",
            title=f"Pool {view.pool}: connections are held longer than the leak-detection threshold",
            detail=f"A connection was held {usage_max:.0f} ms (hikaricp_connections_usage_seconds_max), beyond "
                   f"{prop} = {ldt:g} ms: HikariCP logs a possible-leak stack trace each time. Either those uses "
                   f"are leaks (a connection not closed) to fix, or normal slow work: then raise the threshold "
                   f"above the longest normal use (e.g. {value} ms).",
            key=view.pool, evidence=base,
            action={"kind": "set_property", "property": prop, "value": value, "env": env_var(prop),
                    "current": ldt}, references=(HIKARI_CONFIG,))
    return None


def pool005_max_lifetime(view: PoolView, th: Thresholds) -> Finding | None:
    """max-lifetime below HikariCP's minimum or 0; keepalive-time that HikariCP disables."""
    life = view.conf_number("max-lifetime")
    keep = view.conf_number("keepalive-time")
    if life is None:
        return None
    prop = view.prop("max-lifetime")
    base = {"pool": view.pool, "max_lifetime_ms": life, "keepalive_time_ms": keep}
    if 0 < life < th.max_lifetime_min_ms:
        return Finding(
            rule="POOL005", name="max-lifetime", area=AREA, severity="low", confidence="verified",
            title=f"Pool {view.pool}: max-lifetime {life:g} ms is below HikariCP's minimum, so 30 min is used",
            detail=f"{prop} is {life:g} ms; HikariCP's minimum is {th.max_lifetime_min_ms} ms and below it the "
                   "default (1,800,000 ms) applies. Set it a few seconds shorter than any connection time limit "
                   "the database or the network imposes.",
            key=view.pool, evidence=base,
            action={"kind": "set_property", "property": prop, "value": 1_800_000, "env": env_var(prop),
                    "current": life}, references=(HIKARI_CONFIG,))
    if life == 0:
        return Finding(
            rule="POOL005", name="max-lifetime", area=AREA, severity="low", confidence="heuristic",
            title=f"Pool {view.pool}: connections are never retired (max-lifetime 0)",
            detail=f"{prop} is 0 (infinite): a connection lives until the database, a proxy or a firewall cuts "
                   "it, and the request that finds it broken fails. HikariCP's default is 1,800,000 ms; set it a "
                   "few seconds shorter than any connection time limit imposed by the infrastructure.",
            key=view.pool, evidence=base,
            action={"kind": "set_property", "property": prop, "value": 1_800_000, "env": env_var(prop),
                    "current": life}, references=(HIKARI_CONFIG,))
    if keep and 0 < keep < 30_000:
        kp = view.prop("keepalive-time")
        return Finding(
            rule="POOL005", name="max-lifetime", area=AREA, severity="low", confidence="verified",
            title=f"Pool {view.pool}: keepalive-time {keep:g} ms is below HikariCP's minimum, so keepalive is off",
            detail=f"{kp} is {keep:g} ms; HikariCP disables keepalive below 30000 ms. Use e.g. 120000 ms, "
                   f"well below {prop} ({life:g} ms).",
            key=view.pool, evidence=base,
            action={"kind": "set_property", "property": kp, "value": 120_000 if life == 0 or life > 240_000
                    else max(30_000, int(life) // 2), "env": env_var(kp), "current": keep},
            references=(HIKARI_CONFIG,))
    if keep and keep > 0 and life > 0 and keep >= life:
        kp = view.prop("keepalive-time")
        return Finding(
            rule="POOL005", name="max-lifetime", area=AREA, severity="low", confidence="verified",
            title=f"Pool {view.pool}: keepalive-time is not below max-lifetime, so keepalive is off",
            detail=f"{kp} is {keep:g} ms and {prop} {life:g} ms; HikariCP disables keepalive unless it is "
                   "shorter than max-lifetime. Use e.g. 120000 ms (HikariCP's minimum is 30000 ms).",
            key=view.pool, evidence=base,
            action={"kind": "set_property", "property": kp, "value": max(30_000, min(120_000, int(life) // 2)),
                    "env": env_var(kp), "current": keep}, references=(HIKARI_CONFIG,))
    return None
