"""Cross-source cache rules (CACHE001–003): the Spring caches seen by the Actuator, the keys Redis holds for them
and the writes the database took, all from one sampling window.

It reads the snapshot's sections only through the analyzers' own APIs (analyzers.actuator.series,
analyzers.redis.keyspace) and the postgres section's documented ``activity`` and ``tables`` parts; the rules
themselves (rules.py) are pure functions of small views. Redis-only findings (maxmemory, policies, keys
without TTL, big keys) belong to analyzers/redis.
"""

from __future__ import annotations

from typing import Any

from advisor.config import Settings
from analyzers.cache import model, rules

AREA = "cache"
NEEDS = ("actuator",)

#: (name, default, source); perfadvisor.toml [thresholds.cache].
THRESHOLDS = (
    ("target_hit_ratio", rules.TARGET_HIT_RATIO, "perfadvisor's convention"),
    ("min_gets", rules.MIN_GETS, "95% Wilson interval ±10 points at 100 lookups (Brown, Cai, DasGupta 2001)"),
    ("min_window_ttls", rules.MIN_WINDOW_TTLS, "entries must expire within the window to judge a TTL"),
    ("max_ttl_s", rules.MAX_TTL_S, "perfadvisor's convention: longest TTL advised without knowing the data"),
    ("max_stale_share", rules.MAX_STALE_SHARE, "perfadvisor's convention: share of reads older than their row"),
    ("slow_mean_ms", rules.SLOW_MEAN_MS, "Nielsen 1993: 0.1 s feels instantaneous"),
    ("min_time_share", rules.MIN_TIME_SHARE, "perfadvisor's convention"),
    ("min_endpoint_calls", rules.MIN_ENDPOINT_CALLS, "perfadvisor's convention"),
    ("behind_calls_ratio", rules.BEHIND_CALLS_RATIO, "perfadvisor's convention"),
    ("behind_max_calls_ratio", rules.BEHIND_MAX_CALLS_RATIO, "perfadvisor's convention"),
    ("behind_time_share", rules.BEHIND_TIME_SHARE, "perfadvisor's convention"),
    ("stampede_gets_per_s", rules.STAMPEDE_GETS_PER_S, "perfadvisor's convention (Vattani et al. 2015)"),
    ("stampede_max_ttl_s", rules.STAMPEDE_MAX_TTL_S, "perfadvisor's convention"),
)


def thresholds(settings: Settings) -> dict[str, float]:
    return {name: settings.threshold(AREA, name, default) for name, default, _ in THRESHOLDS}


def analyze_snapshot(snapshot: dict[str, Any], settings: Settings):
    """CACHE findings and notes from the actuator section (required), redis and postgres (when collected)."""
    from advisor.pipeline import AreaResult

    th = thresholds(settings)
    act = snapshot["actuator"]
    redis_ok = snapshot["targets"].get("redis", {}).get("status") == "ok"
    pg_ok = snapshot["targets"].get("postgres", {}).get("status") == "ok"
    prefixes = _redis_prefixes(snapshot["redis"]) if redis_ok else {}
    pg = snapshot.get("postgres") if pg_ok else None
    activity = (pg or {}).get("activity")
    tables = _table_writes(pg, activity) if activity else None
    findings, notes = [], []
    for view in cache_views(act, prefixes):
        f, note = rules.cache001_ttl_too_short(view, tables, th)
        if f:
            findings.append(f)
        if note:
            notes.append(note)
        f3 = rules.cache003_stampede_risk(view, th)
        if f3:
            findings.append(f3)
    statements = (activity or {}).get("statements")
    for e in endpoint_views(act, statements, th):
        f = rules.cache002_uncached_slow_endpoint(e, statements is not None, th)
        if f:
            findings.append(f)
    return AreaResult(findings=findings, notes=notes)


def _redis_prefixes(section: dict[str, Any]) -> dict[str, Any]:
    """Spring cache name → its Redis key group (analyzers.redis.keyspace.prefix_stats)."""
    from analyzers.redis import keyspace

    out: dict[str, Any] = {}
    for p in keyspace.prefix_stats(section):
        name = p.spring_cache_name
        if name and name not in out:
            out[name] = p
    return out


def _table_writes(pg: dict[str, Any], activity: dict[str, Any]) -> list[rules.TableWrites]:
    live = {(t["schema"], t["table"]): float(t.get("n_live_tup") or t.get("reltuples") or 0)
            for t in pg.get("tables") or []}
    window_s = activity.get("window_s")
    out = []
    for w in activity.get("table_writes") or []:
        if not window_s:
            continue
        changes = (w["n_tup_upd"] + w["n_tup_del"]) / window_s
        out.append(rules.TableWrites(w["schema"], w["table"], changes, live.get((w["schema"], w["table"]), 0.0)))
    return out


def cache_views(section: dict[str, Any], prefixes: dict[str, Any]) -> list[rules.CacheView]:
    """One CacheView per Spring cache: Micrometer's counts, the TTL (configured, else inferred from Redis)."""
    from analyzers.actuator import series

    configured = series.configured(section)
    per_cache = configured.get("per_cache_ttl") or {}
    default_ttl = configured.get("spring.cache.redis.time-to-live")
    views = []
    for c in series.cache_stats(section):
        ttl_s, source, prop, shared = None, None, None, False
        entry = per_cache.get(c.name)
        if entry and entry.get("ttl_s") is not None:
            ttl_s, prop = float(entry["ttl_s"]), entry["property"]
            source = f"{prop} in /actuator/{entry.get('source') or 'configprops'}"
        elif entry and entry.get("property"):
            prop = entry["property"]  # sanitized: the property is known, its value is not
        if ttl_s is None and model.parse_duration_s(default_ttl) is not None and not entry:
            ttl_s = model.parse_duration_s(default_ttl)
            prop, shared = "spring.cache.redis.time-to-live", True
            source = "spring.cache.redis.time-to-live in /actuator/configprops"
        p = prefixes.get(c.name)
        ttl_summary = p.ttl_s if p else None
        if ttl_s is None and ttl_summary and ttl_summary.max_s:
            # The longest remaining TTL seen is a lower bound of the TTL entries are written with.
            ttl_s = float(ttl_summary.max_s)
            source = f"inferred from the remaining TTLs of {p.prefix}* keys in Redis (longest seen)"
        views.append(rules.CacheView(
            name=c.name, hits=float(c.hits), misses=float(c.misses), gets_per_s=c.gets_per_s,
            window_s=c.window_s, since_start=bool(c.since_start), ttl_s=ttl_s, ttl_source=source,
            ttl_property=prop, ttl_property_shared=shared,
            redis_prefix=p.prefix if p else None, redis_keys=p.keys_estimated if p else None,
            timeseries=_hit_ratio_chart(c)))
    return views


def _hit_ratio_chart(c) -> dict[str, Any] | None:
    ts = getattr(c, "hit_ratio_series", None)
    if not ts:
        return None
    return {"title": f"cache {c.name}: hit ratio per sample interval", "unit": "hit ratio", "ylim": [0, 1],
            "t_s": ts["t_s"], "series": {c.name: ts["values"]}}


def endpoint_views(section: dict[str, Any], statements: list[dict[str, Any]] | None,
                   th: dict[str, float]) -> list[rules.EndpointView]:
    """GET endpoints (2xx) with their share of request time, and the statements called about once per
    request with a mean time comparable to the endpoint's."""
    from analyzers.actuator import series

    stats = [h for h in series.http_stats(section) if str(h.status).startswith("2") and h.count]
    total = sum(h.count * (h.mean_ms or 0) for h in stats) or 0.0
    out = []
    for h in stats:
        behind = []
        for s in statements or []:
            mean = s["total_exec_time_ms"] / s["calls"] if s["calls"] else 0.0
            if (h.mean_ms and s["calls"] >= th["behind_calls_ratio"] * h.count
                    and s["calls"] <= th["behind_max_calls_ratio"] * h.count
                    and mean >= th["behind_time_share"] * h.mean_ms):
                behind.append({"queryid": s["queryid"], "query": s["query"], "calls": s["calls"],
                               "mean_exec_time_ms": round(mean, 3)})
        share = (h.count * (h.mean_ms or 0)) / total if total else 0.0
        out.append(rules.EndpointView(uri=h.uri, method=h.method, count=float(h.count), mean_ms=h.mean_ms,
                                      p95_ms=h.p95_ms, time_share=share, statements=behind))
    return out
