"""Spring Boot Actuator: HikariCP pools, http_server_requests and Spring caches, sampled over the shared window.

Where data comes from: client.py (HTTP, errors), exposition.py (Prometheus text/OpenMetrics parsing),
names.py (which series are kept, canonical names), metrics_api.py (the /actuator/metrics fallback), props.py
(configured values from /actuator/configprops and /actuator/env), source.py (the sampling source). What is
read from it: series.py (pandas frames and per pool/route/cache summaries, the API the cross-source POOL and
CACHE rules use). This analyzer itself makes no findings: pool sizes need the database's max_connections
(analyzers/pool) and TTLs need Redis and the database (analyzers/cache).

Targets (settings.target("actuator"), perfadvisor.toml [targets.actuator] or --actuator):
    urls             list of base URLs, one per instance (``http://host:8081`` or ``…/actuator``); ``url`` for one
    auth_header      ``"Authorization: Bearer …"``; else $PERFADVISOR_ACTUATOR_AUTH_HEADER. Never written anywhere.
    base_path        default "/actuator" (management.endpoints.web.base-path)
    management_port  replaces each URL's port (management.server.port)
    timeout_s        per request, default 5

Snapshot section (``collect``)::

    {"window": {"mode": "window"|"since_start", "interval_s", "duration_s", "started_at", "interrupted"},
     "instances": [{
        "name": "127.0.0.1:8081",              # host:port (#2, #3 … when repeated); never user info
        "url": "http://127.0.0.1:8081/actuator",  # password shown as ***
        "endpoint": "prometheus"|"metrics"|None, "format": Content-Type | "actuator-metrics-json" | None,
        "exposed": {"prometheus", "metrics", "configprops", "env": true|false|null (not tried)},
        "boot_version": "2.x"|"3.0 to 3.2"|"3.3 or later"|"3.x"|"2.x to 3.2"|None, "boot_evidence": [str],
        "families": {family: {"exposed": bool, "naming": ["micrometer"|"hikaricp"]}},   # names.FAMILIES
        "configured": props.extract(...),       # see props.py
        "t_s": [s from the window's start], "series": {series key: [value|null per sample]},
        "histograms": {"t_s": [first, last], "first": {bucket key: value|null}, "last": {…}},
        "error": null | {"phase", "at_s", "message"}, "notes": [str]}],
     "errors": [one line per instance that failed (the others are kept)]}

Series keys are Prometheus text form with sorted labels (exposition.series_key), canonical names and units
as in names.py (seconds; counters as running totals). ``_bucket`` series are kept only at the window's first
and last sample (in "histograms"), which is all a window percentile needs.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from advisor.config import Settings
from advisor.errors import ConfigError, TargetError
from analyzers.actuator import client, names
from analyzers.actuator.exposition import parse_key

AREA = "actuator"

#: (name, default, source). The Actuator analyzer only describes what it sampled; the thresholds of the pool
#: rules built on it are under [thresholds.pool] (analyzers/pool).
THRESHOLDS: tuple = ()

AUTH_ENV = "PERFADVISOR_ACTUATOR_AUTH_HEADER"
_FAMILY_OF = {rule.target: rule.family for rule in names.RULES.values()}


def _urls(t: dict[str, Any]) -> list[str]:
    raw = t.get("urls")
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    urls = [str(u) for u in (raw or []) if str(u).strip()]
    if not urls and t.get("url"):
        urls = [str(t["url"])]
    return urls


def configured(settings: Settings) -> str | None:
    """None when at least one Actuator URL is configured, else the reason the area is skipped."""
    if _urls(settings.target(AREA)):
        return None
    return "not configured (use --actuator URL, or [targets.actuator] urls = [\"http://host:8081/actuator\"])"


def sources(settings: Settings) -> list[Any]:
    """One ActuatorSource per URL. Raises ConfigError for a malformed URL, port, timeout or auth header."""
    from analyzers.actuator.source import ActuatorSource

    t = settings.target(AREA)
    timeout = t.get("timeout_s", client.DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise ConfigError(f"[targets.actuator] timeout_s {timeout!r}: expected seconds, > 0 and ≤ 600")
    auth = t.get("auth_header") or os.environ.get(AUTH_ENV) or None
    out = []
    seen: dict[str, int] = {}
    for url in _urls(t):
        ep = client.endpoint(url, t.get("base_path", client.DEFAULT_BASE_PATH), t.get("management_port"),
                             float(timeout), auth)
        netloc = urlsplit(ep.base).netloc
        seen[netloc] = seen.get(netloc, 0) + 1
        out.append(ActuatorSource(ep, netloc if seen[netloc] == 1 else f"{netloc}#{seen[netloc]}"))
    return out


def collect(settings: Settings, window=None, recordings=None) -> dict[str, Any]:
    """The snapshot section (module docstring) from this area's recordings of the shared window. Called
    without a window, takes one sample of every instance (mode "since_start").

    Raises TargetError when every instance failed before its first sample (the message of the first);
    instances that failed later, or while others succeeded, are listed in section["errors"]."""
    if window is None:
        from advisor import sampling
        window = sampling.run_window(sources(settings), 0.0)
        recordings = window.recordings
    recordings = list(recordings or [])
    instances = [_instance(rec) for rec in recordings]
    errors = [line for rec in recordings if (line := rec.error_line())]
    if recordings and all(not rec.samples for rec in recordings):
        first = errors[0] if errors else "no sample was taken"
        more = f" (and {len(errors) - 1} more target(s) failed)" if len(errors) > 1 else ""
        raise TargetError(first + more)
    return {"window": window.info(), "instances": instances, "errors": errors}


def _instance(rec) -> dict[str, Any]:
    from analyzers.actuator.source import boot_version

    opened = rec.opened or {}
    cols = rec.series()
    series, hist = {}, {}
    for key, vals in cols["series"].items():
        (hist if key.split("{", 1)[0].endswith("_bucket") else series)[key] = vals
    configured = opened.get("configured") or {}
    version, evidence = boot_version(configured.get("boot_generation"), opened.get("exposition_style"))
    if configured.get("boot_evidence"):
        evidence = [configured["boot_evidence"], *evidence]
    seen: dict[str, bool] = dict.fromkeys(names.FAMILIES, False)
    for key in cols["series"]:
        fam = _FAMILY_OF.get(key.split("{", 1)[0])
        if fam:
            seen[fam] = True
    namings = (rec.closed or {}).get("namings") or {}
    families = {fam: {"exposed": seen[fam], "naming": namings.get(fam, ["micrometer"] if seen[fam] else [])}
                for fam in names.FAMILIES}
    t = cols["t_s"]
    # Buckets are parsed in the first sample and, for the last sample, by the source's close().
    first = {k: v[0] for k, v in hist.items()} if t else {}
    last_buckets = (rec.closed or {}).get("last_buckets")
    if not t:
        last = {}
    elif last_buckets is None:
        last = {k: next((x for x in reversed(v) if x is not None), None) for k, v in hist.items()}
    else:
        last = dict(last_buckets)
        first = {**dict.fromkeys(last), **first}  # a series first seen after sample 0 counts from zero
    return {
        "name": rec.name.removeprefix("actuator "),
        "url": opened.get("url"),
        "endpoint": opened.get("endpoint"),
        "format": opened.get("format"),
        "exposed": opened.get("exposed") or {},
        "boot_version": version, "boot_evidence": evidence,
        "families": families,
        "configured": configured,
        "t_s": t, "series": series,
        "histograms": {"t_s": [t[0], t[-1]] if t else [], "first": first, "last": last},
        "error": rec.error,
        "notes": list(opened.get("notes") or []) + list((rec.closed or {}).get("notes") or []),
    }


def target_info(section: dict[str, Any]) -> dict[str, Any]:
    """report.json's targets.actuator: instances (name, url, endpoint, Boot version, samples), the window's
    mode and length. Never an auth header."""
    w = section.get("window") or {}
    return {"mode": w.get("mode"), "duration_s": w.get("duration_s"),
            "instances": [{"name": i["name"], "url": i.get("url"), "endpoint": i.get("endpoint"),
                           "boot_version": i.get("boot_version"), "samples": len(i.get("t_s") or []),
                           **({"error": i["error"]["message"]} if i.get("error") else {})}
                          for i in section.get("instances") or []]}


def analyze(section: dict[str, Any], settings: Settings):
    """What was sampled and what was not (coverage, notes); findings come from the cross-source POOL and CACHE
    rules. A pure function of the section; returns advisor.pipeline.AreaResult."""
    from advisor.pipeline import AreaResult
    from analyzers.actuator import series

    w = section.get("window") or {}
    result = AreaResult()
    insts = []
    for inst in section.get("instances") or []:
        not_exposed = [f for f, v in (inst.get("families") or {}).items() if not v.get("exposed")]
        insts.append({"name": inst["name"], "endpoint": inst.get("endpoint"),
                      "boot_version": inst.get("boot_version"), "samples": len(inst.get("t_s") or []),
                      "exposed": sorted(f for f, v in (inst.get("families") or {}).items() if v.get("exposed")),
                      "not_exposed": not_exposed,
                      "configured_from": [e for e in ("configprops", "env")
                                          if (inst.get("exposed") or {}).get(e)],
                      **({"error": inst["error"]["message"]} if inst.get("error") else {})})
        result.notes.extend(f"Actuator {inst['name']}: {n}" for n in inst.get("notes") or [])
        result.notes.extend(_family_notes(inst, not_exposed))
    pools = series.pool_stats(section)
    caches = series.cache_stats(section)
    result.coverage = {
        "mode": w.get("mode"), "window_s": w.get("duration_s"), "interval_s": w.get("interval_s"),
        "instances": insts,
        "pools": sorted({p.pool for p in pools}),
        "caches": sorted({c.cache for c in caches}),
        "routes": len({(h.uri, h.method, h.status) for h in series.http_stats(section)}),
    }
    charts = pool_charts(section) + [
        {"title": f"cache {c.cache}: hit ratio per sampling interval", "unit": "hit ratio", "ylim": [0, 1],
         "t_s": c.hit_ratio_series["t_s"], "series": {c.cache: c.hit_ratio_series["values"]}}
        for c in caches if c.hit_ratio_series.get("t_s")]
    if charts:
        result.coverage["timeseries"] = charts
    if w.get("mode") == "since_start":
        uptimes = [p.window_s for p in pools if p.window_s] or [c.window_s for c in caches if c.window_s]
        up = f" (uptime {min(uptimes):.0f} s)" if uptimes else ""
        result.notes.append("Actuator: one scrape (--sample 0): counters are totals since each application "
                            f"started{up}, not the load of a window")
    if w.get("interrupted"):
        result.notes.append("Actuator: the sampling window was cut short; figures cover the part that ran")
    return result


#: The pool gauges drawn over time, with their legend labels (Micrometer's HikariCP metric names).
_POOL_GAUGES = (("hikaricp_connections_active", "active"), ("hikaricp_connections_idle", "idle"),
                ("hikaricp_connections_pending", "pending"), ("hikaricp_connections_max", "max"))


def pool_charts(section: dict[str, Any]) -> list[dict[str, Any]]:
    """One chart spec (reports.charts.timeseries) per instance and pool: active, idle, pending and max
    connections at each sample. [] with a single scrape."""
    import re

    from analyzers.actuator import series

    out = []
    for name, df in series.frames(section):
        if len(df.index) < 2:
            continue
        pools: dict[str, dict[str, list]] = {}
        for key in df.columns:
            for metric, label in _POOL_GAUGES:
                m = re.fullmatch(re.escape(metric) + r"\{(.*)\}", key)
                pool = re.search(r'pool="((?:[^"\\]|\\.)*)"', m.group(1)) if m else None
                if pool:
                    values = [None if v != v else float(v) for v in df[key].tolist()]
                    pools.setdefault(pool.group(1), {})[label] = values
        for pool, lines in sorted(pools.items()):
            out.append({"title": f"pool {pool} on {name}: connections", "unit": "connections",
                        "t_s": [float(t) for t in df.index], "series": lines})
    return out


def _family_notes(inst: dict[str, Any], not_exposed: list[str]) -> list[str]:
    if inst.get("error") and not inst.get("t_s"):
        return []
    out = []
    where = f"Actuator {inst['name']}"
    if "hikaricp" in not_exposed:
        if "jdbc_connections" in not_exposed:
            out.append(f"{where}: no HikariCP metrics (hikaricp_* or jdbc_connections_*) are exposed: pool "
                       "sizes cannot be checked (is HikariCP the pool, and has it opened a connection yet?)")
        else:
            out.append(f"{where}: only jdbc_connections_* is exposed, not hikaricp_*: no pending/acquire "
                       "figures, pool advice is limited")
    cache_conf = ((inst.get("configured") or {}).get("properties") or {})
    if "cache" in not_exposed:
        hint = ("; set spring.cache.redis.enable-statistics=true" if str(cache_conf.get("spring.cache.type", "")
                ).lower() == "redis" or cache_conf.get("spring.cache.redis.enable-statistics") is False
                else " (Spring Cache statistics: spring.cache.redis.enable-statistics=true for Redis caches)")
        out.append(f"{where}: no cache_gets_total series, cache hit ratios are unknown{hint}")
    if "http_server_requests" in not_exposed:
        out.append(f"{where}: no http_server_requests_seconds series (no request has been served yet?)")
    sanitized = (inst.get("configured") or {}).get("sanitized") or []
    if sanitized:
        out.append(f"{where}: {len(sanitized)} configured value(s) are sanitized (******), e.g. {sanitized[0]}; "
                   "they stay unknown (management.endpoint.configprops.show-values=always shows them)")
    for fam, info in (inst.get("families") or {}).items():
        if fam == "hikaricp" and "hikaricp" in info.get("naming", []):
            pools = sorted({parse_key(k)[1].get("pool", "") for k in inst.get("series", {})
                            if k.startswith("hikaricp_connections_usage_seconds_count{")})
            gauged = {parse_key(k)[1].get("pool", "") for k in inst.get("series", {})
                      if k.startswith("hikaricp_connections_active{")}
            missing = [p for p in pools if p not in gauged]
            if missing:
                out.append(f"{where}: HikariCP's own Prometheus tracker exposes no active/idle/pending gauges for "
                           f"pool(s) {', '.join(missing)} (its collector registers once per registry); only "
                           "usage and acquire times are known for them")
    return out
