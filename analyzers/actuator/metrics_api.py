"""The fallback when /actuator/prometheus is not exposed: /actuator/metrics/{name} with tag filters.

Without a tag filter /actuator/metrics/{name} adds up every series of the metric (every pool, every cache,
every route: Spring Boot reference, "Metrics endpoint"), so each series is asked for with its own filter
(``?tag=pool:main``), for every combination of the tag values the endpoint lists in ``availableTags``.
Combinations that match nothing (404) are dropped once, in ``discover``. Values come back under the same
canonical keys as a Prometheus scrape (names.py): a timer's COUNT/TOTAL_TIME/MAX become ``_count``/``_sum``/
``_max`` in seconds; a counter's COUNT becomes ``…_total``; a gauge's VALUE the gauge.

Limits: percentiles and histogram buckets are not available this way (p95 is then unknown); a series that
first appears after ``discover`` (a route first requested mid-window) is not sampled; a metric with more than
MAX_COMBINATIONS tag-value combinations loses its last split tags (e.g. status); at most
MAX_QUERIES_PER_SAMPLE requests per sample (the rest are listed as skipped).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from analyzers.actuator import client
from analyzers.actuator.exposition import finite, series_key

#: Most /actuator/metrics/{name} requests in one sample (each costs the application a lookup).
MAX_QUERIES_PER_SAMPLE = 150
#: Most tag-value combinations probed for one metric in `discover`; beyond it the last split tags are dropped
#: (their series are added up) until the combinations fit.
MAX_COMBINATIONS = 120

#: metric name → (kind, canonical name, tags that split it into series).
FALLBACK: dict[str, tuple[str, str, tuple[str, ...]]] = {
    **{f"hikaricp.connections{s}": ("gauge", f"hikaricp_connections{s.replace('.', '_')}", ("pool",))
       for s in ("", ".active", ".idle", ".pending", ".max", ".min")},
    "hikaricp.connections.timeout": ("counter", "hikaricp_connections_timeout_total", ("pool",)),
    "hikaricp.connections.acquire": ("timer", "hikaricp_connections_acquire_seconds", ("pool",)),
    "hikaricp.connections.usage": ("timer", "hikaricp_connections_usage_seconds", ("pool",)),
    "hikaricp.connections.creation": ("timer", "hikaricp_connections_creation_seconds", ("pool",)),
    **{f"jdbc.connections.{s}": ("gauge", f"jdbc_connections_{s}", ("name",))
       for s in ("active", "idle", "max", "min")},
    "http.server.requests": ("timer", "http_server_requests_seconds", ("uri", "method", "status")),
    "cache.gets": ("counter", "cache_gets_total", ("cache", "cache.manager", "result")),
    "cache.puts": ("counter", "cache_puts_total", ("cache", "cache.manager")),
    "cache.removals": ("counter", "cache_removals_total", ("cache", "cache.manager")),
    "cache.evictions": ("counter", "cache_evictions_total", ("cache", "cache.manager")),
    "jvm.threads.live": ("gauge", "jvm_threads_live_threads", ()),
    "jvm.threads.peak": ("gauge", "jvm_threads_peak_threads", ()),
    "jvm.threads.daemon": ("gauge", "jvm_threads_daemon_threads", ()),
    "process.cpu.usage": ("gauge", "process_cpu_usage", ()),
    "system.cpu.usage": ("gauge", "system_cpu_usage", ()),
    "system.cpu.count": ("gauge", "system_cpu_count", ()),
    "process.uptime": ("gauge", "process_uptime_seconds", ()),
}
_UNIT_S = {"seconds": 1.0, "milliseconds": 1e-3, "microseconds": 1e-6, "nanoseconds": 1e-9}


@dataclass(frozen=True)
class Query:
    metric: str
    tags: tuple[tuple[str, str], ...]


def discover(ep: client.Endpoint) -> tuple[list[Query], list[str]]:
    """The queries that answer, and notes (what was capped). Raises client.NotExposed when /actuator/metrics
    itself is not exposed, TargetError for other failures of the listing."""
    listing = client.get_json(ep, "/metrics")
    names = set(listing.get("names") or []) if isinstance(listing, dict) else set()
    queries: list[Query] = []
    notes: list[str] = []
    for metric, (_kind, _canon, split) in FALLBACK.items():
        if metric not in names:
            continue
        try:
            desc = client.get_json(ep, client.metric_path(metric))
        except client.NotExposed:
            continue
        available = {t.get("tag"): t.get("values") or [] for t in desc.get("availableTags") or []
                     if isinstance(t, dict)} if isinstance(desc, dict) else {}
        tags = [t for t in split if t in available]
        while len(tags) > 1 and math.prod(len(available[t]) for t in tags) > MAX_COMBINATIONS:
            notes.append(f"/actuator/metrics fallback: {metric} has too many tag combinations; its series are "
                         f"added up over {tags[-1]}")
            tags = tags[:-1]
        combos = list(itertools.product(*[sorted(map(str, available[t])) for t in tags])) if tags else [()]
        for combo in combos:
            q = Query(metric, tuple(zip(tags, combo, strict=True)))
            if len(combos) > 1 and len(tags) > 1:
                try:  # a combination of tag values may match nothing: drop it once, here
                    client.get_json(ep, client.metric_path(metric, dict(q.tags)))
                except client.NotExposed:
                    continue
            queries.append(q)
    if len(queries) > MAX_QUERIES_PER_SAMPLE:
        notes.append(f"/actuator/metrics fallback: {len(queries)} series, only the first "
                     f"{MAX_QUERIES_PER_SAMPLE} are sampled (expose /actuator/prometheus to read them all)")
        queries = queries[:MAX_QUERIES_PER_SAMPLE]
    return queries, notes


def values(desc: Any, q: Query) -> dict[str, float]:
    """Canonical series → value from one /actuator/metrics/{name}?tag=… answer."""
    kind, canon, _split = FALLBACK[q.metric]
    if not isinstance(desc, dict):
        return {}
    labels = {k.replace(".", "_"): v for k, v in q.tags}
    stats = {m.get("statistic"): m.get("value") for m in desc.get("measurements") or [] if isinstance(m, dict)}
    scale = _UNIT_S.get(str(desc.get("baseUnit") or "seconds"), 1.0)
    out: dict[str, float] = {}

    def put(name: str, value: Any, factor: float = 1.0) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool) and finite(float(value)):
            out[series_key(name, labels)] = float(value) * factor

    if kind == "gauge":
        put(canon, stats.get("VALUE"), scale if canon.endswith("_seconds") else 1.0)
    elif kind == "counter":
        put(canon, stats.get("COUNT"))
    else:
        put(canon + "_count", stats.get("COUNT"))
        put(canon + "_sum", stats.get("TOTAL_TIME"), scale)
        put(canon + "_max", stats.get("MAX"), scale)
    return out


def sample(ep: client.Endpoint, queries: list[Query]) -> dict[str, float]:
    """One sample over every query. A query that now answers 404 (its series went away) is skipped; any
    other failure raises TargetError (the window keeps what was sampled before)."""
    out: dict[str, float] = {}
    for q in queries:
        try:
            desc = client.get_json(ep, client.metric_path(q.metric, dict(q.tags)))
        except client.NotExposed:
            continue
        out.update(values(desc, q))
    return out
