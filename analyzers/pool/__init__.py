"""Cross-source POOL rules: HikariCP pool sizes from the Actuator samples, bounded by the database.

Reads snapshot["actuator"] (through analyzers/actuator/series.py) and, when present, the database's
connection facts snapshot["postgres"]["activity"]::

    {"max_connections": int, "superuser_reserved_connections": int, "reserved_connections": int | None,
     "connections": [{"application_name": str, "state": str, "count": int}], "server_cores": int | None}

Pools are grouped by pool name over every instance (`--actuator` repeated for the replicas of a service);
every instance's pool counts against max_connections. Without the database facts the bound is not checked,
and a note says so. Rules: rules.py (POOL001–POOL005); arithmetic: sizing.py; views: model.py.
"""

from __future__ import annotations

from typing import Any

from advisor.config import Settings
from analyzers.pool import model, rules, sizing

NEEDS = ("actuator",)
AREA = "pool"

#: (name, default, source) of every threshold; perfadvisor.toml [thresholds.pool].
THRESHOLDS = (
    ("pending_share", 0.25, "share of samples with hikaricp_connections_pending > 0 that counts as a sustained "
                            "queue rather than bursts (perfadvisor's convention: the sample stack waits in "
                            "66-79% of samples with a pool of 2 and 4-10% with a pool of 10)"),
    ("acquire_mean_ms", 5.0, "mean hikaricp_connections_acquire time that counts as waiting; an uncontended "
                             "acquire takes well under 1 ms (perfadvisor's convention)"),
    ("target_wait_probability", 0.05, "chance a request waits for a connection at the recommended size "
                                      "(Erlang C; square-root staffing, Halfin & Whitt 1981)"),
    ("burst_headroom", 1.25, "× the p95 of connections in use, kept as headroom for bursts "
                             "(perfadvisor's convention)"),
    ("min_acquires", 100, "connection requests in the window below which a pool is not sized "
                          "(perfadvisor's convention)"),
    ("oversized_peak_share", 0.25, "peak active at or below this share of maximum-pool-size counts as far "
                                   "below (perfadvisor's convention)"),
    ("oversized_min_excess", 5, "connections above the recommended size before POOL002 speaks "
                                "(perfadvisor's convention)"),
    ("database_cores", 0, "cores of the database host for HikariCP's (cores × 2) + spindles; 0 = unknown "
                          "(HikariCP wiki, About Pool Sizing)"),
    ("database_capacity_factor", 2.0, "all pools together get at most this × HikariCP's (cores × 2) + spindles "
                                      "when the database's cores are known: past that, extra connections queue "
                                      "inside PostgreSQL (HikariCP wiki, About Pool Sizing; PostgreSQL wiki, "
                                      "Number Of Database Connections); the factor is perfadvisor's convention"),
    ("effective_spindle_count", 1, "spindles in HikariCP's formula; 0 when the data set is cached "
                                   "(HikariCP wiki, About Pool Sizing)"),
    ("connections_per_request", 1, "connections one request holds at once (Cm in Tn × (Cm − 1) + 1, "
                                   "HikariCP wiki, About Pool Sizing); set it when that is more than one"),
    ("leak_detection_min_ms", 2000, "HikariCP disables leakDetectionThreshold below 2000 ms "
                                    "(HikariConfig.validateNumerics)"),
    ("max_lifetime_min_ms", 30000, "HikariCP replaces maxLifetime below 30000 ms with the default "
                                   "(HikariConfig.validateNumerics)"),
)


def _cap_by_database_capacity(sized: dict[str, Any], cores: Any, th: rules.Thresholds) -> None:
    """Bound every pool's recommended size so that all pools × instances stay within what the database can
    serve: database_capacity_factor × HikariCP's (cores × 2) + spindles, when the cores are known. A pool
    never goes below its pool-locking bound. Updates `sized` in place (its values are frozen Sizings)."""
    import math

    formula = sizing.hikaricp_formula(cores.count, th.effective_spindle_count)
    if not formula:
        return
    capacity = math.ceil(th.database_capacity_factor * formula)
    wanted = {p: (sz.recommended, sz.instances) for p, sz in sized.items() if sz.recommended is not None}
    for p, share in sizing.share_out(wanted, capacity).items():
        sz = sized[p]
        size = max(share, sz.locking_n)
        if size < sz.recommended:
            note = (f"capped at {size} (the load alone would want {sz.recommended}): all pools together get at "
                    f"most {th.database_capacity_factor:g} × HikariCP's ({cores.count} × 2) + "
                    f"{th.effective_spindle_count} = {capacity} connections for a database with {cores.count} "
                    f"cores ({cores.source}); beyond that, extra connections queue inside PostgreSQL, so "
                    "shorten the time each request holds a connection (the slow statements) instead")
            sized[p] = model.with_bound(sz, size, "; ".join(n for n in (sz.bound_note, note) if n))


def thresholds(settings: Settings) -> rules.Thresholds:
    return rules.Thresholds(**{name: settings.threshold(AREA, name, default)
                               for name, default, _src in THRESHOLDS})


def analyze_snapshot(snapshot: dict[str, Any], settings: Settings):
    """POOL findings for every pool in snapshot["actuator"]; coverage["pool"] lists each pool's sizing and
    the database bound. Returns advisor.pipeline.AreaResult."""
    from advisor.pipeline import AreaResult

    th = thresholds(settings)
    section = snapshot.get("actuator") or {}
    views = model.pool_views(section)
    db = model.database(snapshot)
    cores = model.database_cores(th.database_cores, db, views, snapshot)
    result = AreaResult()
    if not views:
        result.notes.append("pool rules: no HikariCP pool in the Actuator samples")
        return result
    sized = {v.pool: model.size_pool(v, th.target_wait_probability, th.burst_headroom,
                                     th.connections_per_request, th.pending_share) for v in views}
    available, others, others_how = None, None, None
    if db.known:
        others, others_how = model.held_by_others(db, views)
        available = sizing.available_connections(db.max_connections, db.superuser_reserved, db.reserved, others)
        wanted = {p: (sz.wanted if sz.wanted is not None else (sz.current or 0), sz.instances)
                  for p, sz in sized.items()}
        shares = sizing.share_out(wanted, available)
        for p, sz in sized.items():
            if sz.wanted is None:
                continue
            note = None
            if shares[p] < sz.wanted:
                note = (f"capped at {shares[p]} (wanted {sz.wanted}): all pools × instances must fit in the "
                        f"{available} connections the database can still give (max_connections "
                        f"{db.max_connections}, {db.superuser_reserved} reserved, {others} held by other clients)")
            sized[p] = model.with_bound(sz, shares[p], note)
    else:
        for p, sz in sized.items():
            sized[p] = model.with_bound(sz, sz.wanted, None)
        result.notes.append("pool rules: the database's max_connections is unknown (give --pg as well), so the "
                            "pool sizes could not be checked against it")
    _cap_by_database_capacity(sized, cores, th)
    total_instances = max(v.instances for v in views)
    planned = sum((sized[v.pool].recommended or sized[v.pool].current or 0) * v.instances for v in views)
    for v in views:
        sz = sized[v.pool]
        if any(s.source != "hikaricp" for s in v.stats):
            result.notes.append(f"pool {v.pool}: only jdbc_connections_* metrics, so no wait figures: not sized")
        else:
            for rule in (rules.pool001_undersized(v, sz, cores, th, planned),
                         rules.pool002_oversized(v, sz, th, available, cores)):
                if rule:
                    result.findings.append(rule)
        for rule in (rules.pool004_leak_detection(v, th), rules.pool005_max_lifetime(v, th)):
            if rule:
                result.findings.append(rule)
    if db.known:
        f = rules.pool003_max_connections(views, db, others or 0, available or 0)
        if f:
            result.findings.append(f)
    result.coverage = {"pool": {
        "pools": [{"pool": v.pool, "instances": v.instances, "prefix": v.prefix, **sized[v.pool].evidence()}
                  for v in views],
        "database": {"known": db.known, "max_connections": db.max_connections,
                     "superuser_reserved_connections": db.superuser_reserved,
                     "reserved_connections": db.reserved, "connections": db.connections,
                     "held_by_other_clients": others, "available_to_pools": available,
                     "other_clients_from": others_how if db.known else None},
        "cores": {"count": cores.count, "source": cores.source}, "max_instances": total_instances}}
    return result
