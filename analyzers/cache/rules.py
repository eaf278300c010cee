"""CACHE001–CACHE003: rules over the Spring caches, the Redis keys behind them and the database's writes.

Each rule is a pure function of small views (CacheView, TableWrites, EndpointView) that
analyzers/cache/__init__.py builds from the snapshot's actuator, redis and postgres sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.model import Finding
from analyzers.cache import model

#: Hit ratio a cache should reach before a longer TTL is advised. perfadvisor's convention; override
#: thresholds.cache.target_hit_ratio. (A cache that misses one read in five still sends 20% of its reads on.)
TARGET_HIT_RATIO = 0.8
#: Fewest lookups in the window for a hit ratio to be judged: at 100 the 95% Wilson interval of a ratio near
#: 0.5 is ±10 points (Brown, Cai, DasGupta 2001).
MIN_GETS = 100
#: A TTL is judged only when the window is this many TTLs long: entries must have expired in it for the
#: misses to say anything about the TTL (with a longer TTL, the misses are first reads of cold keys).
MIN_WINDOW_TTLS = 2.0
#: Longest TTL perfadvisor recommends without knowing the data (s). perfadvisor's convention (1 h).
MAX_TTL_S = 3600.0
#: Share of reads allowed to return a value older than the row's last update. perfadvisor's convention.
MAX_STALE_SHARE = 0.05
#: CACHE002: mean latency above which a GET is "slow": 0.1 s, the limit for feeling instantaneous (Nielsen,
#: "Response Times: The 3 Important Limits", 1993; web.dev RAIL).
SLOW_MEAN_MS = 100.0
#: CACHE002: an endpoint must take at least this share of all request time in the window (a rare admin page
#: that runs a 0.3 s aggregate takes 1-2% of the sample shop's request time).
MIN_TIME_SHARE = 0.005
#: CACHE002: …and be called at least this often in the window.
MIN_ENDPOINT_CALLS = 5
#: CACHE002: a statement is "behind" an endpoint when it is called at least this many times per request…
BEHIND_CALLS_RATIO = 0.8
#: …and at most this many (pg_stat_statements and the Actuator's counters are read a moment apart, so requests
#: in flight at the window's edges count on one side only; more calls than this means other callers too)…
BEHIND_MAX_CALLS_RATIO = 2.0
#: …and its mean execution time is at least this share of the endpoint's mean latency.
BEHIND_TIME_SHARE = 0.5
#: CACHE003: lookups per second and TTL (s) from which many concurrent misses follow each expiry of a hot
#: key (the "thundering herd"; Vattani et al., "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015).
STAMPEDE_GETS_PER_S = 10.0
STAMPEDE_MAX_TTL_S = 10.0

REFERENCES_TTL = ("https://docs.spring.io/spring-boot/reference/io/caching.html#io.caching.provider.redis",
                  "https://doi.org/10.1109/INFCOM.2003.1208693")


@dataclass(frozen=True)
class CacheView:
    """One Spring cache over the window (summed over instances). ttl_s is what the application uses, from
    `ttl_source`; `ttl_property` is the property that sets it (None when only inferred)."""

    name: str
    hits: float
    misses: float
    gets_per_s: float | None
    window_s: float | None
    since_start: bool
    ttl_s: float | None = None
    ttl_source: str | None = None
    ttl_property: str | None = None
    ttl_property_shared: bool = False
    redis_prefix: str | None = None
    redis_keys: float | None = None
    timeseries: dict[str, Any] | None = None

    @property
    def gets(self) -> float:
        return self.hits + self.misses

    @property
    def hit_ratio(self) -> float | None:
        return self.hits / self.gets if self.gets else None


@dataclass(frozen=True)
class TableWrites:
    """Writes to one table over the window: updates + deletes per second and its live rows."""

    schema: str
    table: str
    changes_per_s: float
    live_rows: float


@dataclass(frozen=True)
class EndpointView:
    uri: str
    method: str
    count: float
    mean_ms: float | None
    p95_ms: float | None
    time_share: float
    statements: list[dict[str, Any]] = field(default_factory=list)  # statements called ~once per request


def env_name(prop: str) -> str:
    """Spring Boot's relaxed binding: `spring.datasource.hikari.maximum-pool-size` →
    `SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE` (docs: "Binding From Environment Variables")."""
    return prop.replace("-", "").replace(".", "_").replace("[", "_").replace("]", "").upper()


def table_for(cache: str, tables: list[TableWrites]) -> TableWrites | None:
    """The table a cache most likely holds rows of: same name, or the plural/singular of it. None when no
    table matches or several do (the rule then says the staleness bound could not be told)."""
    base = cache.lower()
    names = {base, base + "s", base.removesuffix("s"), base + "es", base.removesuffix("es")}
    hits = [t for t in tables if t.table.lower() in names]
    return hits[0] if len(hits) == 1 else None


def cache001_ttl_too_short(c: CacheView, tables: list[TableWrites] | None, th: dict[str, float]) -> tuple[Finding | None, str | None]:
    """(finding, note): a TTL that keeps the hit ratio low, with the TTL that would reach the target."""
    target = th["target_hit_ratio"]
    h = c.hit_ratio
    if h is None or c.gets < th["min_gets"]:
        return None, None
    if c.ttl_s is None:
        return None, (f"cache {c.name}: hit ratio {h:.0%} over {c.gets:,.0f} lookups, but its TTL could not be "
                      "told (no TTL property in /actuator/configprops and no Redis keys of it sampled)")
    lo, hi = model.wilson_interval(c.hits, c.gets)
    if hi >= target:
        return None, None
    span = c.window_s
    if not span or span < th["min_window_ttls"] * c.ttl_s:
        return None, (f"cache {c.name}: hit ratio {h:.0%} with a TTL of {model.duration_text(c.ttl_s)}, longer "
                      "than the window can judge (few entries expired in it; the misses are mostly first reads): "
                      "sample for longer to judge the TTL")
    lam = model.effective_rate(max(h, 0.5 / c.gets), c.ttl_s)
    wanted = model.ttl_for_hit_ratio(target, lam)
    table = table_for(c.name, tables) if tables is not None else None
    cap = None
    if table and table.live_rows > 0:
        cap = model.staleness_cap_s(table.changes_per_s / table.live_rows, th["max_stale_share"])
    bound = min(x for x in (wanted, cap, th["max_ttl_s"]) if x is not None)
    new_ttl = model.round_ttl_down(bound)
    if new_ttl < 2 * c.ttl_s:
        return None, (f"cache {c.name}: hit ratio {h:.0%}; a longer TTL would go past the staleness bound "
                      f"({model.duration_text(bound)}), so none is advised")
    predicted = model.hit_ratio(lam, new_ttl)
    misses_h = c.misses / span * 3600
    after_h = (c.gets / span * 3600) * (1 - predicted)
    why_cap = ("the staleness bound" if bound == cap else
               "perfadvisor's longest TTL without knowing the data" if bound == th["max_ttl_s"] < wanted else
               f"the {target:.0%} target")
    if table is None:
        stale = ("no table behind the cache could be told (give --pg, or name the cache after its table), so no "
                 "staleness bound was applied: check how stale a value may be")
    elif cap is None:
        stale = f"{table.schema}.{table.table} had no updates or deletes in the window: no staleness bound"
    else:
        stale = (f"{table.schema}.{table.table} changed {table.changes_per_s:.2f} rows/s over "
                 f"{table.live_rows:,.0f} rows: at {model.duration_text(new_ttl)} about "
                 f"{model.stale_read_share(table.changes_per_s / table.live_rows, new_ttl):.1%} of reads would be older "
                 f"than the row's last update (bound {th['max_stale_share']:.0%} → at most {model.duration_text(cap)})")
    prop = c.ttl_property or "spring.cache.redis.time-to-live"
    shared = (" spring.cache.redis.time-to-live applies to every Redis cache that the application does not "
              "configure one by one." if prop == "spring.cache.redis.time-to-live" or c.ttl_property_shared else "")
    detail = (f"Cache {c.name} answered {c.hits:,.0f} of {c.gets:,.0f} lookups ({h:.1%}, 95% interval "
              f"{lo:.1%}–{hi:.1%}) over {span:.0f} s with a TTL of {model.duration_text(c.ttl_s)} ({c.ttl_source}). "
              f"With a TTL set on write, hit ratio h = λT/(1+λT) (Jung et al. 2003): the measured ratio means each "
              f"key is read about every {1 / lam:,.0f} s, and a TTL of {model.duration_text(new_ttl)} (capped by "
              f"{why_cap}) should raise it to about {predicted:.0%}. {stale}.{shared} This is an estimate: popular "
              "keys hit more and rare keys less than the model's single rate; `perfadvisor compare` of a load run "
              "before and after proves it. Entries written before the change keep their old TTL.")
    severity = "high" if h < 0.2 and c.gets / span >= 1 else "medium"
    f = Finding(
        rule="CACHE001", name="cache-ttl-too-short", area="cache", severity=severity, confidence="estimated",
        title=f"Cache {c.name}: TTL {model.duration_text(c.ttl_s)} → {model.duration_text(new_ttl)} would raise "
              f"its hit ratio from {h:.0%} to about {predicted:.0%}",
        detail=detail, key=c.name,
        evidence={"cache": c.name, "hits": c.hits, "misses": c.misses, "hit_ratio": round(h, 4),
                  "hit_ratio_95ci": [round(lo, 4), round(hi, 4)], "gets_per_s": c.gets_per_s,
                  "window_s": span, "ttl_s": c.ttl_s, "ttl_source": c.ttl_source,
                  "effective_reads_per_key_s": round(lam, 6), "target_hit_ratio": target,
                  "ttl_for_target_s": round(wanted, 1), "staleness_cap_s": None if cap is None else round(cap, 1),
                  "table": None if table is None else f"{table.schema}.{table.table}",
                  "table_changes_per_s": None if table is None else table.changes_per_s,
                  "recommended_ttl_s": new_ttl, "predicted_hit_ratio": round(predicted, 4),
                  "redis_prefix": c.redis_prefix, "redis_keys": c.redis_keys,
                  **({"timeseries": c.timeseries} if c.timeseries else {})},
        impact={"metric": "cache_misses_per_hour", "before": round(misses_h, 1), "after": round(after_h, 1),
                "estimated": True},
        action={"kind": "set_property", "property": prop, "value": model.duration_text(new_ttl),
                "env": env_name(prop)},
        references=REFERENCES_TTL)
    return f, None


def cache002_uncached_slow_endpoint(e: EndpointView, db_known: bool, th: dict[str, float]) -> Finding | None:
    """A slow GET endpoint that takes a real share of request time and whose statement runs on every call."""
    if e.method.upper() != "GET" or e.mean_ms is None or e.mean_ms < th["slow_mean_ms"]:
        return None
    if e.count < th["min_endpoint_calls"] or e.time_share < th["min_time_share"]:
        return None
    if db_known and not e.statements:
        return None  # with the database's statements in view, nothing runs on every request: something caches it
    behind = "; ".join(f"{s['query'][:120]} ({s['calls']:,} calls, mean {s['mean_exec_time_ms']:.1f} ms)"
                       for s in e.statements[:3])
    detail = (f"GET {e.uri} answered {e.count:,.0f} requests in the window with a mean of {e.mean_ms:,.0f} ms"
              + (f" (p95 {e.p95_ms:,.0f} ms)" if e.p95_ms else "") + f", {e.time_share:.0%} of all request time. "
              + (f"The statement behind it runs on every request: {behind}. " if e.statements else
                 "Without --pg the statements behind it could not be checked. ")
              + "If its result may be a little stale, cache it (Spring: @Cacheable on the service method, with a "
              "TTL property of its own) or precompute it (a materialized view refreshed on a schedule). This is "
              "a heuristic: only you know whether the data may be cached.")
    return Finding(
        rule="CACHE002", name="uncached-slow-endpoint", area="cache", severity="medium", confidence="heuristic",
        title=f"GET {e.uri} takes {e.mean_ms:,.0f} ms on average and nothing caches it",
        detail=detail, key=f"GET {e.uri}",
        evidence={"uri": e.uri, "method": e.method, "count": e.count, "mean_ms": e.mean_ms, "p95_ms": e.p95_ms,
                  "time_share": round(e.time_share, 4), "statements": e.statements[:3]},
        impact=None,
        action={"kind": "code_change", "code": "@Cacheable(cacheNames = \"…\", key = \"…\")\n"
                "// and a TTL for that cache (spring.cache.redis.time-to-live or a per-cache property)"},
        references=("https://docs.spring.io/spring-framework/reference/integration/cache/annotations.html",
                    "https://www.nngroup.com/articles/response-times-3-important-limits/"))


def cache003_stampede_risk(c: CacheView, th: dict[str, float]) -> Finding | None:
    """Many lookups per second on a cache whose entries expire within seconds."""
    if c.ttl_s is None or c.gets_per_s is None or c.ttl_s > th["stampede_max_ttl_s"]:
        return None
    if c.gets_per_s < th["stampede_gets_per_s"]:
        return None
    return Finding(
        rule="CACHE003", name="cache-stampede-risk", area="cache", severity="low", confidence="heuristic",
        title=f"Cache {c.name}: {c.gets_per_s:,.0f} lookups/s on entries that expire after "
              f"{model.duration_text(c.ttl_s)}",
        detail=(f"When a hot entry of {c.name} expires, every request that arrives before it is written again "
                "misses and loads the same value (a cache stampede). Load it once: @Cacheable(sync = true) "
                "(one loader per key and instance), add random jitter to the TTL so entries do not expire "
                "together, or refresh hot entries ahead of expiry (probabilistic early expiration, Vattani et "
                "al. 2015). A longer TTL (CACHE001) also helps."),
        key=c.name,
        evidence={"cache": c.name, "gets_per_s": c.gets_per_s, "ttl_s": c.ttl_s, "ttl_source": c.ttl_source,
                  "misses": c.misses, "hits": c.hits},
        impact=None,
        action={"kind": "code_change", "code": "@Cacheable(cacheNames = \"" + c.name + "\", sync = true)"},
        references=("https://www.vldb.org/pvldb/vol8/p886-vattani.pdf",
                    "https://docs.spring.io/spring-framework/reference/integration/cache/annotations.html"))
