"""Which series perfadvisor keeps from a scrape, and under which (canonical) name.

Canonical names are Micrometer's Prometheus names (the ones Spring Boot's /actuator/prometheus writes):

=====================================================  ===================================  ==========================
canonical sample name                                  labels kept                          also read from
=====================================================  ===================================  ==========================
hikaricp_connections{,_active,_idle,_pending,_max,_min}  pool                               HikariCP's own tracker
hikaricp_connections_timeout_total                     pool                                 hikaricp_connection_timeout_total
hikaricp_connections_acquire_seconds_{count,sum,max,bucket}  pool (le)                      hikaricp_connection_acquired_nanos
hikaricp_connections_usage_seconds_{count,sum,max,bucket}    pool (le)                      hikaricp_connection_usage_millis
hikaricp_connections_creation_seconds_{count,sum,max,bucket} pool (le)                      hikaricp_connection_creation_millis
jdbc_connections_{active,idle,max,min}                 name (the DataSource bean)
http_server_requests_seconds_{count,sum,max,bucket}    uri, method, status (le)
http_server_requests_seconds (percentile gauges)       uri, method, status, quantile
cache_gets_total                                       cache, cache_manager, result
cache_puts_total, cache_removals_total, cache_evictions_total  cache, cache_manager
jvm_threads_{live,peak,daemon}_threads, process_cpu_usage, system_cpu_usage, system_cpu_count,
process_uptime_seconds, tomcat_threads_busy_threads, tomcat_threads_config_max_threads
=====================================================  ===================================  ==========================

HikariCP's own PrometheusMetricsTracker (com.zaxxer.hikari.metrics.prometheus, HikariCP 3.x–6.x) names its
series hikaricp_active_connections, hikaricp_idle_connections, hikaricp_pending_threads, hikaricp_connections,
hikaricp_max_connections, hikaricp_min_connections, hikaricp_connection_timeout_total and the summaries
hikaricp_connection_acquired_nanos, hikaricp_connection_usage_millis and hikaricp_connection_creation_millis:
they are renamed and their units converted to seconds here. When both namings describe the same pool,
Micrometer's wins.

Labels not listed are dropped and the samples that then share a key are added up (counters, sums, counts,
buckets, gauges) or their maximum taken (``_max`` gauges and percentile gauges), so that e.g. the
``exception``/``outcome``/``error`` variants of one (uri, method, status) add up. The ``name`` label of a cache
series stands in for ``cache`` when that is missing (older Micrometer binders).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from analyzers.actuator.exposition import Sample, series_key

#: Canonical family groups, as reported in a section's "families" and its coverage ("not exposed").
FAMILIES = ("hikaricp", "jdbc_connections", "http_server_requests", "cache", "jvm_threads", "process_cpu",
            "process_uptime")


@dataclass(frozen=True)
class Rule:
    target: str  # canonical sample name
    labels: tuple[str, ...]  # labels kept besides le/quantile
    family: str  # one of FAMILIES
    naming: str = "micrometer"  # "micrometer" or "hikaricp" (HikariCP's own tracker)
    scale: float = 1.0  # multiply the value (unit conversion to seconds)
    merge: str = "sum"  # "sum" or "max" for samples that share a key after labels are dropped


def _rules() -> dict[str, Rule]:
    r: dict[str, Rule] = {}
    pool = ("pool",)
    for suffix in ("", "_active", "_idle", "_pending", "_max", "_min"):
        r[f"hikaricp_connections{suffix}"] = Rule(f"hikaricp_connections{suffix}", pool, "hikaricp")
    r["hikaricp_connections_timeout_total"] = Rule("hikaricp_connections_timeout_total", pool, "hikaricp")
    for timer in ("acquire", "usage", "creation"):
        base = f"hikaricp_connections_{timer}_seconds"
        for part in ("count", "sum", "bucket"):
            r[f"{base}_{part}"] = Rule(f"{base}_{part}", pool, "hikaricp")
        r[f"{base}_max"] = Rule(f"{base}_max", pool, "hikaricp", merge="max")
    own = {"hikaricp_active_connections": "hikaricp_connections_active",
           "hikaricp_idle_connections": "hikaricp_connections_idle",
           "hikaricp_pending_threads": "hikaricp_connections_pending",
           "hikaricp_max_connections": "hikaricp_connections_max",
           "hikaricp_min_connections": "hikaricp_connections_min",
           "hikaricp_connection_timeout_total": "hikaricp_connections_timeout_total"}
    for src, dst in own.items():
        r[src] = Rule(dst, pool, "hikaricp", naming="hikaricp")
    for src, timer, scale in (("hikaricp_connection_acquired_nanos", "acquire", 1e-9),
                              ("hikaricp_connection_usage_millis", "usage", 1e-3),
                              ("hikaricp_connection_creation_millis", "creation", 1e-3)):
        base = f"hikaricp_connections_{timer}_seconds"
        r[f"{src}_count"] = Rule(f"{base}_count", pool, "hikaricp", naming="hikaricp")
        r[f"{src}_sum"] = Rule(f"{base}_sum", pool, "hikaricp", naming="hikaricp", scale=scale)
    for suffix in ("active", "idle", "max", "min"):
        r[f"jdbc_connections_{suffix}"] = Rule(f"jdbc_connections_{suffix}", ("name",), "jdbc_connections")
    route = ("method", "status", "uri")
    for part in ("count", "sum", "bucket"):
        r[f"http_server_requests_seconds_{part}"] = Rule(f"http_server_requests_seconds_{part}", route,
                                                         "http_server_requests")
    r["http_server_requests_seconds_max"] = Rule("http_server_requests_seconds_max", route,
                                                 "http_server_requests", merge="max")
    r["http_server_requests_seconds"] = Rule("http_server_requests_seconds", route, "http_server_requests",
                                             merge="max")
    r["cache_gets_total"] = Rule("cache_gets_total", ("cache", "cache_manager", "result"), "cache")
    for name in ("cache_puts_total", "cache_removals_total", "cache_evictions_total"):
        r[name] = Rule(name, ("cache", "cache_manager"), "cache")
    for name in ("jvm_threads_live_threads", "jvm_threads_peak_threads", "jvm_threads_daemon_threads"):
        r[name] = Rule(name, (), "jvm_threads")
    for name in ("tomcat_threads_busy_threads", "tomcat_threads_config_max_threads"):
        r[name] = Rule(name, (), "jvm_threads", merge="max")
    for name in ("process_cpu_usage", "system_cpu_usage", "system_cpu_count"):
        r[name] = Rule(name, (), "process_cpu", merge="max")
    r["process_uptime_seconds"] = Rule("process_uptime_seconds", (), "process_uptime", merge="max")
    return r


RULES = _rules()


#: Sample names a line may carry for a kept series (a counter may come without `_total`).
KEPT_NAMES = frozenset(RULES) | frozenset(k[:-6] for k in RULES if k.endswith("_total"))


def prefilter(text: str, buckets: bool = True) -> str:
    """The lines of a text-format exposition that can hold a kept series (every comment line stays, so the
    parser still sees each family's TYPE); with `buckets` False, histogram `_bucket` lines are left out too.
    Only cuts lines whole, so what remains is parsed exactly as it would have been."""
    out = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            out.append(line)
            continue
        end = len(stripped)
        for sep in ("{", " ", "\t"):
            i = stripped.find(sep)
            if 0 <= i < end:
                end = i
        name = stripped[:end]
        if name in KEPT_NAMES and (buckets or not name.endswith("_bucket")):
            out.append(line)
    return "\n".join(out) + "\n"


def rule_for(sample: Sample) -> Rule | None:
    """The rule for a sample, also for a counter written without its `_total` suffix by an untyped exporter.
    `_created` series (the time a counter started) are not kept."""
    if sample.name.endswith("_created"):
        return None
    rule = RULES.get(sample.name)
    if rule is None and sample.family_type in ("counter", "unknown", "untyped"):
        rule = RULES.get(sample.name + "_total")
    if rule is None or (sample.name == "http_server_requests_seconds" and sample.label("quantile") is None):
        return None
    return rule


def _labels(sample: Sample, rule: Rule) -> dict[str, str]:
    have = dict(sample.labels)
    if rule.family == "cache" and "cache" not in have and "name" in have:
        have["cache"] = have["name"]
    keep = {k: have[k] for k in rule.labels if k in have}
    for special in ("le", "quantile"):
        if special in have:
            keep[special] = have[special]
    return keep


@dataclass
class Canonical:
    """One scrape, canonical: values by series key, and per family group the namings seen."""

    values: dict[str, float]
    namings: dict[str, set[str]]


def canonical(samples: Iterable[Sample]) -> Canonical:
    """Keep, rename, convert and merge the samples of one scrape (see the module docstring). Non-finite values
    (NaN gauges, e.g. process_cpu_usage before its first reading) are left out: a missing value, not zero."""
    by_naming: dict[str, dict[str, float]] = {"micrometer": {}, "hikaricp": {}}
    namings: dict[str, set[str]] = {}
    for s in samples:
        rule = rule_for(s)
        if rule is None or math.isnan(s.value) or math.isinf(s.value):
            continue
        key = series_key(rule.target, _labels(s, rule))
        value = s.value * rule.scale
        bucket = by_naming[rule.naming]
        if key in bucket:
            bucket[key] = max(bucket[key], value) if rule.merge == "max" else bucket[key] + value
        else:
            bucket[key] = value
        namings.setdefault(rule.family, set()).add(rule.naming)
    values = dict(by_naming["hikaricp"])
    values.update(by_naming["micrometer"])  # Micrometer's wins for a pool described both ways
    return Canonical(values, namings)
