"""What the POOL rules read: one view per pool name over every instance, the database's connection facts,
and the sizing worked out for each pool (sizing.py's arithmetic on measured figures)."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from analyzers.actuator import series
from analyzers.actuator.props import SANITIZED
from analyzers.pool import sizing

DEFAULT_PREFIX = "spring.datasource.hikari"


@dataclass(frozen=True)
class PoolView:
    """One pool name across the instances that have it (replicas of one service share the name).
    prefix: the property prefix the application binds the pool from (configprops), else Spring Boot's
    default; config: its configured properties as reported (first instance that reports them)."""

    pool: str
    stats: tuple[series.PoolStats, ...]
    prefix: str = DEFAULT_PREFIX
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def instances(self) -> int:
        return len(self.stats)

    def prop(self, suffix: str) -> str:
        return f"{self.prefix}.{suffix}"

    def conf_number(self, suffix: str) -> float | None:
        """A configured number (ms for HikariCP durations); None when unknown or sanitized."""
        v = self.config.get(suffix)
        if isinstance(v, bool) or v == SANITIZED:
            return None
        if isinstance(v, int | float):
            return float(v)
        if isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v.strip()):
            return float(v)
        return None

    @property
    def current_size(self) -> int | None:
        """maximum-pool-size: the largest hikaricp_connections_max seen, else the configured value."""
        seen = [s.max_size for s in self.stats if s.max_size is not None]
        if seen:
            return int(max(seen))
        v = self.conf_number("maximum-pool-size")
        return int(v) if v is not None else None


def pool_views(section: dict[str, Any]) -> list[PoolView]:
    """Pools by name, each with its instances' stats and its configuration."""
    stats = series.pool_stats(section)
    confs = series.pool_config(section)
    by_name: dict[str, list[series.PoolStats]] = {}
    for s in stats:
        by_name.setdefault(s.pool, []).append(s)
    out = []
    for name, group in sorted(by_name.items()):
        conf = next((confs[(s.instance, name)] for s in group if (s.instance, name) in confs), None)
        out.append(PoolView(pool=name, stats=tuple(group),
                            prefix=(conf or {}).get("prefix") or DEFAULT_PREFIX,
                            config=dict((conf or {}).get("properties") or {})))
    return out


@dataclass(frozen=True)
class Database:
    """Connection facts of the database (snapshot["postgres"]["activity"], provided by the postgres
    collector), or `known` False when there are none."""

    known: bool
    max_connections: int | None = None
    superuser_reserved: int = 0
    reserved: int | None = None
    connections: int = 0
    by_application: tuple[tuple[str, str, int], ...] = ()
    server_cores: int | None = None


def database(snapshot: dict[str, Any]) -> Database:
    act = (snapshot.get("postgres") or {}).get("activity") if isinstance(snapshot.get("postgres"), dict) else None
    if not isinstance(act, dict) or not isinstance(act.get("max_connections"), int):
        return Database(known=False)
    conns = [c for c in act.get("connections") or [] if isinstance(c, dict)]
    rows = tuple((str(c.get("application_name") or ""), str(c.get("state") or ""), int(c.get("count") or 0))
                 for c in conns)
    cores = act.get("server_cores")
    return Database(known=True, max_connections=int(act["max_connections"]),
                    superuser_reserved=int(act.get("superuser_reserved_connections") or 0),
                    reserved=act.get("reserved_connections") if isinstance(act.get("reserved_connections"), int)
                    else None,
                    connections=sum(r[2] for r in rows), by_application=rows,
                    server_cores=cores if isinstance(cores, int) and cores > 0 else None)


#: application_name of a pgjdbc connection without an ApplicationName parameter (pgjdbc's default).
PGJDBC_DEFAULT_NAME = "PostgreSQL JDBC Driver"


def application_names(views: list[PoolView]) -> set[str] | None:
    """The application_name our pools' connections show in pg_stat_activity, from the ApplicationName
    parameter of each pool's jdbc-url (pgjdbc's default name when it has none); None when a pool's URL is
    unknown (configprops not exposed or sanitized)."""
    names: set[str] = set()
    for v in views:
        url = v.config.get("jdbc-url")
        if not isinstance(url, str) or url == SANITIZED or not url.startswith("jdbc:"):
            return None
        m = re.search(r"[?&;]applicationname=([^&;]*)", url, re.I)
        names.add(m.group(1) if m else PGJDBC_DEFAULT_NAME)
    return names or None


def held_by_others(db: Database, views: list[PoolView]) -> tuple[int, str]:
    """(connections held by clients other than our pools, how that was told): by application_name when our
    pools' names are known and appear in pg_stat_activity, else the database's connections minus what our
    pools hold (hikaricp_connections, largest seen)."""
    names = application_names(views)
    if names and any(app in names for app, _state, _n in db.by_application):
        return (sum(n for app, _state, n in db.by_application if app not in names),
                f"pg_stat_activity rows whose application_name is not {', '.join(sorted(names))}")
    ours = round(sum((s.total.max if s.total else (s.max_size or 0)) for v in views for s in v.stats))
    return max(0, db.connections - ours), "pg_stat_activity's connections minus hikaricp_connections"


@dataclass(frozen=True)
class Cores:
    count: int | None
    source: str  # "threshold database_cores", "the database (server_cores)", "this machine (…loopback)", "unknown"


def database_cores(threshold: int, db: Database, views: list[PoolView], snapshot: dict[str, Any]) -> Cores:
    """Cores of the database host for the HikariCP formula: the `database_cores` threshold, else what the
    database reported, else this machine's when the database is on loopback (said so), else unknown."""
    if threshold:
        return Cores(threshold, "threshold pool.database_cores")
    if db.server_cores:
        return Cores(db.server_cores, "reported by the database")
    hosts = [_jdbc_host(v.config.get("jdbc-url")) for v in views]
    pg = snapshot.get("postgres") if isinstance(snapshot.get("postgres"), dict) else {}
    hosts.append(_dsn_host(pg.get("dsn")))
    known = [h for h in hosts if h]
    if known and all(_loopback(h) for h in known) and os.cpu_count():
        return Cores(os.cpu_count(), "this machine's cores (the database is on loopback)")
    return Cores(None, "unknown (set [thresholds.pool] database_cores)")


def _jdbc_host(url: Any) -> str | None:
    m = re.match(r"jdbc:[a-z]+://(\[[^\]]+\]|[^:/?]+)", str(url or ""))
    return m.group(1).strip("[]") if m else None


def _dsn_host(dsn: Any) -> str | None:
    m = re.match(r"postgres(?:ql)?://(?:[^@/]*@)?(\[[^\]]+\]|[^:/?]+)", str(dsn or ""))
    if m:
        return m.group(1).strip("[]")
    m = re.search(r"host=(\S+)", str(dsn or ""))
    return m.group(1) if m else None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Sizing:
    """The size worked out for one pool (per instance: the property applies to each instance).

    offered_load: a in erlangs on the busiest instance — measured usage (L = Δusage_sum/Δt) or, when requests
    waited, the mean of active + pending (the threads that wanted a connection). erlang_n: smallest size with
    P(wait) ≤ the target; burst_n: the measured p95 of connections in use × burst_headroom (unsaturated
    pools only); locking_n: the pool-locking bound; wanted: the largest of those; recommended: wanted
    bounded by the database (None when nothing could be measured)."""

    pool: str
    instances: int
    current: int | None
    saturated: bool
    offered_load: float | None
    load_basis: str
    hold_ms: float | None
    erlang_n: int | None
    burst_n: int | None
    locking_n: int
    wanted: int | None
    recommended: int | None = None
    bound_note: str | None = None
    wait_now_ms: float | None = None
    wait_after_ms: float | None = None

    def evidence(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def size_pool(view: PoolView, wait_probability: float, burst_headroom: float, connections_per_request: int,
              pending_share: float = 0.0) -> Sizing:
    """Sizing for one pool from its instances (see Sizing). An instance counts as saturated when threads
    waited (pending > 0) in at least `pending_share` of its samples (and in at least one). Pools without
    usage figures (jdbc_connections_* only) get no size (wanted None)."""
    loads: list[tuple[float, str, float | None, series.PoolStats]] = []
    saturated_any = False
    for s in view.stats:
        sat = bool(s.pending_share and s.pending_share > 0 and s.pending_share >= pending_share)
        saturated_any |= sat
        hold = s.usage_mean_ms
        if sat and s.demand is not None:
            a, basis = max(s.demand.mean, s.busy_mean or 0.0), "active+pending"
        elif s.busy_mean is not None:
            a, basis = s.busy_mean, "usage"
        elif s.active is not None:
            a, basis = s.active.mean, "active"
        else:
            continue
        loads.append((a, basis, hold, s))
    if not loads:
        return Sizing(view.pool, view.instances, view.current_size, False, None, "none", None, None, None, 1, None)
    a, basis, hold, busiest = max(loads, key=lambda x: x[0])
    erlang_n = sizing.erlang_size(a, wait_probability)
    burst_n = None
    if not saturated_any:
        p95s = [s.active.p95 for s in view.stats if s.active is not None]
        burst_n = math.ceil(max(p95s) * burst_headroom) if p95s else None
    threads = max((math.ceil(s.demand.max) for s in view.stats if s.demand is not None), default=0)
    locking_n = sizing.locking_bound(threads, connections_per_request)
    wanted = max(erlang_n, burst_n or 1, locking_n)
    waits = [s.acquire_mean_ms for s in view.stats if s.acquire_mean_ms is not None]
    return Sizing(view.pool, view.instances, view.current_size, saturated_any, a, basis, hold, erlang_n, burst_n,
                  locking_n, wanted, wait_now_ms=max(waits) if waits else None)


def with_bound(s: Sizing, size: int | None, note: str | None) -> Sizing:
    """`s` with its recommended (bounded) size and the model's mean acquire wait at that size."""
    after = None
    if size is not None and s.offered_load is not None and s.hold_ms is not None:
        w = sizing.mean_wait_s(size, s.offered_load, s.hold_ms / 1000.0)
        after = None if w is None else w * 1000.0
    return Sizing(**{**s.__dict__, "recommended": size, "bound_note": note, "wait_after_ms": after})
