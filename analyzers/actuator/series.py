"""Read an actuator snapshot section: pandas frames, and per pool / route / cache summaries over the window.

This is the API the cross-source rules use (analyzers/pool, analyzers/cache); all functions are pure
functions of the section (analyzers/actuator/__init__.py documents its shape) and never raise for a series
that is missing: a figure that cannot be computed is None ("not exposed" is never zero).

Counters: in a window (mode "window") a counter's figure is its increase between the instance's first and
last sample, reset-aware (a drop means the application restarted: the new value counts from zero, as
Prometheus' ``increase()`` does), and a series that first appears after the first sample counts from zero
(Micrometer registers a meter on first use). ``window_s`` is then the time between those samples. With one
scrape (mode "since_start", ``--sample 0``) a counter's figure is its total since the application started and
``window_s`` is the application's uptime (process_uptime_seconds), or None when that is not exposed (then
rates are None).

Units: ``_ms`` milliseconds, ``_s`` seconds, ``_per_s`` per second; gauges in their own unit (connections,
threads). Percentiles from histogram buckets use linear interpolation inside the bucket, as Prometheus'
``histogram_quantile`` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from analyzers.actuator.counters import (  # Summary, increase, summary, histogram_quantile: part of this API
    Summary,
    bucket_deltas,
    clean,
    histogram_quantile,
    increase,
    keys_with,
    last,
    max_of,
    ratio,
    summary,
    to_ms,
    window_s_of,
)
from analyzers.actuator.exposition import parse_key, series_key


@dataclass(frozen=True)
class PoolStats:
    """One HikariCP pool on one instance over the window.

    source: "hikaricp" (hikaricp_* series: Micrometer's or HikariCP's own names) or "jdbc_connections"
    (Spring Boot's DataSourcePoolMetrics only: active/idle/max/min, nothing else).
    active/idle/pending/total/max/min/demand: Summary of the gauges hikaricp_connections_active, _idle,
    _pending, hikaricp_connections, max_of, _min (demand = active + pending per sample: the threads that wanted a
    connection at that moment). max_size/min_idle: the last hikaricp_connections_max/_min (the configured
    maximum-pool-size and minimum-idle as the pool reports them).
    pending_share: share of samples with pending > 0; saturated_share: share with active ≥ max_size.
    acquires/usages/creations/timeouts: counts (increase in the window, or totals since start).
    *_mean_ms: Δsum/Δcount; *_max_ms: the largest `_max` gauge seen (Micrometer's recent maximum);
    acquire_p95_ms: from hikaricp_connections_acquire_seconds buckets when they are published.
    busy_mean: Δusage_sum / window_s, the mean number of connections in use (Little's law, L = λW).
    request_rate_per_s: acquires / window_s (connection requests per second).
    """

    instance: str
    pool: str
    source: str
    samples: int
    window_s: float | None
    since_start: bool
    active: Summary | None = None
    idle: Summary | None = None
    pending: Summary | None = None
    total: Summary | None = None
    max: Summary | None = None
    min: Summary | None = None
    demand: Summary | None = None
    max_size: float | None = None
    min_idle: float | None = None
    pending_share: float | None = None
    saturated_share: float | None = None
    acquires: float | None = None
    acquire_mean_ms: float | None = None
    acquire_max_ms: float | None = None
    acquire_p95_ms: float | None = None
    usages: float | None = None
    usage_mean_ms: float | None = None
    usage_max_ms: float | None = None
    busy_mean: float | None = None
    creations: float | None = None
    creation_mean_ms: float | None = None
    timeouts: float | None = None
    request_rate_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for k, v in asdict(self).items():
            out[k] = ({kk: round(vv, 3) for kk, vv in v.items()} if isinstance(v, dict)
                      else round(v, 3) if isinstance(v, float) else v)
        return out


@dataclass(frozen=True)
class HttpStats:
    """One (uri, method, status) summed over instances. p95_source: "buckets" (exact window percentile from
    the histogram), "percentile_gauge" (Micrometer's client-side percentile: the largest value seen on any
    instance; not a window figure) or None."""

    uri: str
    method: str
    status: str
    count: float
    rate_per_s: float | None
    mean_ms: float | None
    p95_ms: float | None
    p95_source: str | None
    max_ms: float | None
    window_s: float | None
    since_start: bool
    instances: int


@dataclass(frozen=True)
class CacheStats:
    """One Spring cache (cache name, cache manager) summed over instances. `gets` = hits + misses; Micrometer's
    result="pending" (Redis caches: lookups still in flight) is not a lookup and is only reported apart.
    hit_ratio is None when there were no gets. hit_ratio_series: {"t_s": [end of each sampling interval, s],
    "values": [hit ratio in that interval, None without gets]} ({} with one scrape). `name` is `cache`.
    removals/evictions are None when not exposed (Redis caches have no
    cache_evictions: take evictions from Redis INFO)."""

    cache: str
    cache_manager: str
    hits: float
    misses: float
    pending: float | None
    puts: float | None
    removals: float | None
    evictions: float | None
    gets: float
    gets_per_s: float | None
    hit_ratio: float | None
    window_s: float | None
    since_start: bool
    instances: int
    hit_ratio_series: dict[str, list[Any]] = field(default_factory=dict, hash=False)

    @property
    def name(self) -> str:
        """The cache name (same as `cache`)."""
        return self.cache


# --- frames ----------------------------------------------------------------------------------------------

def frames(section: dict[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    """[(instance name, DataFrame)] with the index t_s (seconds from the window's start) and one float column
    per series key (NaN where a sample lacks the series). Histogram buckets are not in the frames (see the
    section's "histograms")."""
    import pandas as pd  # here, not at import: 0.3 s that runs without Actuator evidence do not need

    out = []
    for inst in section.get("instances") or []:
        t = inst.get("t_s") or []
        data = {k: pd.to_numeric(pd.Series(v, dtype="object"), errors="coerce").to_numpy(dtype=float)
                for k, v in (inst.get("series") or {}).items() if len(v) == len(t)}
        df = pd.DataFrame(data, index=pd.Index(t, name="t_s", dtype=float))
        out.append((inst["name"], df))
    return out


def since_start(section: dict[str, Any]) -> bool:
    return (section.get("window") or {}).get("mode") == "since_start"


# --- pools -----------------------------------------------------------------------------------------------

def pool_stats(section: dict[str, Any]) -> list[PoolStats]:
    """One PoolStats per (instance, pool), instances in section order, pools by name. Pools come from the
    `pool` label of hikaricp_* series; an instance with none of those but jdbc_connections_* gets one entry
    per DataSource bean (`name` label) with source "jdbc_connections"."""
    whole = since_start(section)
    out: list[PoolStats] = []
    for inst in section.get("instances") or []:
        series = inst.get("series") or {}
        pools = sorted({labels.get("pool", "") for key in series if key.startswith("hikaricp_connections")
                        for labels in [parse_key(key)[1]]})
        for pool in pools:
            out.append(_hikari_pool(inst, pool, whole))
        if not pools:
            beans = sorted({parse_key(k)[1].get("name", "") for k in series if k.startswith("jdbc_connections_")})
            for bean in beans:
                out.append(_jdbc_pool(inst, bean, whole))
    return out


def _hikari_pool(inst: dict[str, Any], pool: str, whole: bool) -> PoolStats:
    series = inst.get("series") or {}
    sel = {"pool": pool}

    def col(name: str) -> list[Any]:
        return series.get(series_key(name, sel)) or []

    n = len(inst.get("t_s") or [])
    window_s = window_s_of(inst, whole)
    active, pending = clean(col("hikaricp_connections_active")), clean(col("hikaricp_connections_pending"))
    max_size = last(col("hikaricp_connections_max"))
    demand = [a + p for a, p in zip(active, pending, strict=False) if a is not None and p is not None]
    pend_known = [p for p in pending if p is not None]
    act_known = [a for a in active if a is not None]
    counts = {t: increase(col(f"hikaricp_connections_{t}_seconds_count"), whole)
              for t in ("acquire", "usage", "creation")}
    sums = {t: increase(col(f"hikaricp_connections_{t}_seconds_sum"), whole) for t in ("acquire", "usage", "creation")}
    acq_buckets = bucket_deltas(inst, "hikaricp_connections_acquire_seconds_bucket", sel, whole)
    return PoolStats(
        instance=inst["name"], pool=pool, source="hikaricp", samples=n, window_s=window_s, since_start=whole,
        active=summary(active), idle=summary(col("hikaricp_connections_idle")), pending=summary(pending),
        total=summary(col("hikaricp_connections")), max=summary(col("hikaricp_connections_max")),
        min=summary(col("hikaricp_connections_min")), demand=summary(demand), max_size=max_size,
        min_idle=last(col("hikaricp_connections_min")),
        pending_share=(sum(1 for p in pend_known if p > 0) / len(pend_known)) if pend_known else None,
        saturated_share=(sum(1 for a in act_known if a >= max_size) / len(act_known))
        if act_known and max_size else None,
        acquires=counts["acquire"], acquire_mean_ms=to_ms(ratio(sums["acquire"], counts["acquire"])),
        acquire_max_ms=to_ms(max_of(col("hikaricp_connections_acquire_seconds_max"))),
        acquire_p95_ms=to_ms(histogram_quantile(0.95, acq_buckets)) if acq_buckets else None,
        usages=counts["usage"], usage_mean_ms=to_ms(ratio(sums["usage"], counts["usage"])),
        usage_max_ms=to_ms(max_of(col("hikaricp_connections_usage_seconds_max"))),
        busy_mean=ratio(sums["usage"], window_s),
        creations=counts["creation"], creation_mean_ms=to_ms(ratio(sums["creation"], counts["creation"])),
        timeouts=increase(col("hikaricp_connections_timeout_total"), whole),
        request_rate_per_s=ratio(counts["acquire"], window_s),
    )


def _jdbc_pool(inst: dict[str, Any], bean: str, whole: bool) -> PoolStats:
    series = inst.get("series") or {}

    def col(name: str) -> list[Any]:
        return series.get(series_key(name, {"name": bean})) or []

    active, max_size = clean(col("jdbc_connections_active")), last(col("jdbc_connections_max"))
    act_known = [a for a in active if a is not None]
    return PoolStats(
        instance=inst["name"], pool=bean, source="jdbc_connections", samples=len(inst.get("t_s") or []),
        window_s=window_s_of(inst, whole), since_start=whole, active=summary(active),
        idle=summary(col("jdbc_connections_idle")), max=summary(col("jdbc_connections_max")),
        min=summary(col("jdbc_connections_min")), max_size=max_size, min_idle=last(col("jdbc_connections_min")),
        saturated_share=(sum(1 for a in act_known if a >= max_size) / len(act_known))
        if act_known and max_size else None)


def pool_config(section: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """{(instance, pool): {"prefix": "spring.datasource.hikari", "properties": {"maximum-pool-size": 2, …}}}
    from configprops, matched to the pools seen in metrics by pool name (an unnamed single pool matches the
    single pool of its instance)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    stats = pool_stats(section)
    for inst in section.get("instances") or []:
        conf = (inst.get("configured") or {}).get("pools") or []
        seen = [p.pool for p in stats if p.instance == inst["name"]]
        for entry in conf:
            name = entry.get("pool_name")
            if name in seen:
                out[(inst["name"], name)] = entry
        if len(conf) == 1 and len(seen) == 1 and (inst["name"], seen[0]) not in out \
                and conf[0].get("pool_name") is None:
            out[(inst["name"], seen[0])] = conf[0]
    return out


# --- http ------------------------------------------------------------------------------------------------

def http_stats(section: dict[str, Any]) -> list[HttpStats]:
    """One HttpStats per (uri, method, status) summed over instances, most requests first."""
    whole = since_start(section)
    acc: dict[tuple[str, str, str], dict[str, Any]] = {}
    for inst in section.get("instances") or []:
        win = window_s_of(inst, whole)
        for key, labels in keys_with(inst, "http_server_requests_seconds_count"):
            route = (labels.get("uri", ""), labels.get("method", ""), labels.get("status", ""))
            sel = {k: v for k, v in zip(("uri", "method", "status"), route, strict=True) if k in labels}
            series = inst["series"]
            count = increase(series[key], whole) or 0.0
            total = increase(series.get(series_key("http_server_requests_seconds_sum", sel)) or [], whole)
            a = acc.setdefault(route, {"count": 0.0, "sum": 0.0, "rate": 0.0, "rate_known": True,
                                       "buckets": {}, "pgauge": None, "max": None, "win": None, "n": 0})
            a["n"] += 1
            a["count"] += count
            a["sum"] += total or 0.0
            if win:
                a["rate"] += count / win
                a["win"] = max(a["win"] or 0.0, win)
            else:
                a["rate_known"] = False
            for le, c in bucket_deltas(inst, "http_server_requests_seconds_bucket", sel, whole).items():
                a["buckets"][le] = a["buckets"].get(le, 0.0) + c
            q95 = max_of(series.get(series_key("http_server_requests_seconds", {**sel, "quantile": "0.95"})) or [])
            if q95 is not None:
                a["pgauge"] = max(a["pgauge"] or 0.0, q95)
            mx = max_of(series.get(series_key("http_server_requests_seconds_max", sel)) or [])
            if mx is not None:
                a["max"] = max(a["max"] or 0.0, mx)
    out = []
    for (uri, method, status), a in acc.items():
        p95, src = None, None
        if a["buckets"] and a["count"] > 0:
            p95, src = histogram_quantile(0.95, a["buckets"]), "buckets"
        elif a["pgauge"] is not None:
            p95, src = a["pgauge"], "percentile_gauge"
        out.append(HttpStats(uri=uri, method=method, status=status, count=a["count"],
                             rate_per_s=a["rate"] if a["rate_known"] else None,
                             mean_ms=to_ms(a["sum"] / a["count"]) if a["count"] else None,
                             p95_ms=to_ms(p95), p95_source=src, max_ms=to_ms(a["max"]), window_s=a["win"],
                             since_start=whole, instances=a["n"]))
    return sorted(out, key=lambda h: (-h.count, h.uri, h.method, h.status))


# --- caches ----------------------------------------------------------------------------------------------

def cache_stats(section: dict[str, Any]) -> list[CacheStats]:
    """One CacheStats per (cache, cache_manager) summed over instances, by cache name."""
    whole = since_start(section)
    interval = float((section.get("window") or {}).get("interval_s") or 1.0)
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for inst in section.get("instances") or []:
        win = window_s_of(inst, whole)
        series = inst.get("series") or {}
        t = inst.get("t_s") or []
        per_cache: dict[tuple[str, str], dict[str, str]] = {}
        for name in ("cache_gets_total", "cache_puts_total", "cache_removals_total", "cache_evictions_total"):
            for _key, labels in keys_with(inst, name):
                ck = (labels.get("cache", ""), labels.get("cache_manager", ""))
                per_cache.setdefault(ck, {k: v for k, v in labels.items() if k in ("cache", "cache_manager")})
        for ck, sel in per_cache.items():
            a = acc.setdefault(ck, {"hit": 0.0, "miss": 0.0, "pending": None, "puts": None, "removals": None,
                                    "evictions": None, "rate": 0.0, "rate_known": True, "win": None, "n": 0,
                                    "grid": {}})
            a["n"] += 1
            cols = {r: series.get(series_key("cache_gets_total", {**sel, "result": r})) for r in
                    ("hit", "miss", "pending")}
            hits = increase(cols["hit"] or [], whole) or 0.0
            misses = increase(cols["miss"] or [], whole) or 0.0
            a["hit"] += hits
            a["miss"] += misses
            if cols["pending"]:
                a["pending"] = (a["pending"] or 0.0) + (increase(cols["pending"], whole) or 0.0)
            for what, name in (("puts", "cache_puts_total"), ("removals", "cache_removals_total"),
                               ("evictions", "cache_evictions_total")):
                vals = series.get(series_key(name, sel))
                if vals:
                    a[what] = (a[what] or 0.0) + (increase(vals, whole) or 0.0)
            if win:
                a["rate"] += (hits + misses) / win
                a["win"] = max(a["win"] or 0.0, win)
            else:
                a["rate_known"] = False
            if not whole:
                for k, (dh, dm) in _interval_deltas(t, cols["hit"] or [], cols["miss"] or [], interval).items():
                    g = a["grid"].setdefault(k, [0.0, 0.0])
                    g[0] += dh
                    g[1] += dm
    out = []
    for (cache, manager), a in sorted(acc.items()):
        gets = a["hit"] + a["miss"]
        grid = sorted(a["grid"].items())
        points = {"t_s": [round(k * interval, 3) for k, _ in grid],
                  "values": [(h / (h + m)) if h + m > 0 else None for _, (h, m) in grid]} if grid else {}
        out.append(CacheStats(cache=cache, cache_manager=manager, hits=a["hit"], misses=a["miss"],
                              pending=a["pending"], puts=a["puts"], removals=a["removals"],
                              evictions=a["evictions"], gets=gets,
                              gets_per_s=a["rate"] if a["rate_known"] else None,
                              hit_ratio=a["hit"] / gets if gets > 0 else None, window_s=a["win"],
                              since_start=whole, instances=a["n"], hit_ratio_series=points))
    return out


def _interval_deltas(t: list[float], hits: list[Any], misses: list[Any], interval: float
                     ) -> dict[int, tuple[float, float]]:
    """{grid index of the later sample: (Δhits, Δmisses)} between consecutive samples where both are known."""
    h, m = clean(hits), clean(misses)
    out: dict[int, tuple[float, float]] = {}
    for i in range(1, min(len(t), len(h), len(m))):
        if None in (h[i], h[i - 1], m[i], m[i - 1]):
            continue
        dh = h[i] - h[i - 1] if h[i] >= h[i - 1] else h[i]
        dm = m[i] - m[i - 1] if m[i] >= m[i - 1] else m[i]
        out[round(t[i] / interval)] = (dh, dm)
    return out


# --- configured values -----------------------------------------------------------------------------------

def configured(section: dict[str, Any]) -> dict[str, Any]:
    """Property name → value as the application reported it (``"PT1S"``, ``2``, ``"******"`` when sanitized),
    merged over instances (the first instance that reports a property wins). Examples of keys:
    ``spring.datasource.hikari.maximum-pool-size``, ``spring.cache.redis.time-to-live`` (None when the
    application's spring.cache has no TTL: entries never expire), ``<prefix>.<cache>`` per-cache TTLs.

    One reserved key, ``"per_cache_ttl"`` (no property has a name without a dot): {cache name: {"property",
    "value", "ttl_s" (seconds, None when sanitized), "env" (the environment variable of the property),
    "source" ("configprops"|"env"), "sanitized", "cache", "instances": [names]}}. Properties that are not
    reported (configprops/env not exposed) are absent, not None."""
    out: dict[str, Any] = {}
    per_cache: dict[str, dict[str, Any]] = {}
    for inst in section.get("instances") or []:
        conf = inst.get("configured") or {}
        for k, v in (conf.get("properties") or {}).items():
            out.setdefault(k, v)
        for cache, entry in (conf.get("per_cache_ttl") or {}).items():
            e = per_cache.setdefault(cache, {**entry, "instances": []})
            e["instances"].append(inst["name"])
    out["per_cache_ttl"] = per_cache
    return out
