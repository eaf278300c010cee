"""Configured values from /actuator/configprops and /actuator/env, as the application reports them.

Nothing here is keyed to one application: HikariCP pools are the configprops beans whose properties hold
``maximumPoolSize`` (any prefix: ``spring.datasource.hikari``, ``app.datasource.reporting``…); a per-cache TTL
is any configprops (or env) property whose path holds the name of a cache seen in ``cache_gets_total`` and
whose value is a duration (``PT1S``, ``1s``), outside ``spring.cache.redis``.

Sanitized values stay sanitized: Spring Boot shows ``******`` for a masked value (Boot 3 masks every value
unless ``management.endpoint.configprops.show-values`` / ``management.endpoint.env.show-values`` allow it);
such a property is listed with the value ``"******"`` and its name in ``sanitized``, never guessed.

Result of ``extract(configprops_json, env_json, cache_names)``::

    {"properties": {"spring.datasource.hikari.maximum-pool-size": 2, …},   # name → value as reported
     "pools": [{"prefix": "spring.datasource.hikari", "pool_name": "shop" | None,
                "properties": {"maximum-pool-size": 2, "minimum-idle": 2, "connection-timeout": 30000,
                               "max-lifetime": 1800000, "leak-detection-threshold": 0, …}}],
     "per_cache_ttl": {"products": {"property": "shop.cache.ttl.products", "value": "PT1S", "ttl_s": 1.0,
                                    "env": "SHOP_CACHE_TTL_PRODUCTS", "source": "configprops"}},
     "sanitized": ["spring.datasource.hikari.maximum-pool-size", …],
     "boot_generation": "2.x" | "3.x" | None, "boot_evidence": str | None}

HikariCP durations are milliseconds (connectionTimeout, maxLifetime, leakDetectionThreshold, idleTimeout,
keepaliveTime), as HikariConfig holds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from advisor.config import redact_dsn

SANITIZED = "******"

#: HikariConfig bean property → Spring property suffix (kebab-case), in the order shown.
HIKARI_PROPERTIES = {
    "poolName": "pool-name", "maximumPoolSize": "maximum-pool-size", "minimumIdle": "minimum-idle",
    "connectionTimeout": "connection-timeout", "maxLifetime": "max-lifetime",
    "leakDetectionThreshold": "leak-detection-threshold", "idleTimeout": "idle-timeout",
    "keepaliveTime": "keepalive-time", "jdbcUrl": "jdbc-url",
}
#: Plain properties read from configprops (bean prefix, path) or env, when present.
PLAIN = {
    "spring.cache.redis.time-to-live": ("spring.cache", ("redis", "timeToLive")),
    "spring.cache.redis.enable-statistics": ("spring.cache", ("redis", "enableStatistics")),
    "spring.cache.type": ("spring.cache", ("type",)),
    "spring.cache.cache-names": ("spring.cache", ("cacheNames",)),
    "server.tomcat.threads.max": ("server", ("tomcat", "threads", "max")),
    "spring.threads.virtual.enabled": ("spring.threads.virtual", ("enabled",)),
}
#: Words that mark a property as a TTL when its value is sanitized (so its duration cannot be seen).
_TTL_WORDS = re.compile(r"ttl|expir|time-?to-?live|lifetime|duration", re.I)
_ISO = re.compile(r"^(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(-?\d+(?:\.\d+)?)H)?(?:(-?\d+(?:\.\d+)?)M)?"
                  r"(?:(-?\d+(?:\.\d+)?)S)?)?$", re.I)
_SIMPLE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)$", re.I)
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_s(value: Any) -> float | None:
    """Seconds of a Spring/Java duration as reported: ISO-8601 (``PT1S``, ``PT10M``, ``PT0.5S``, ``P1D``) or
    Spring's simple form (``1s``, ``500ms``, ``10m``); None for anything else (numbers are not guessed)."""
    if not isinstance(value, str):
        return None
    v = value.strip()
    m = _SIMPLE.match(v)
    if m:
        return float(m.group(1)) * _UNIT_S[m.group(2).lower()]
    m = _ISO.match(v)
    if not m or v.upper() in ("P", "PT") or v.upper().endswith("T"):
        return None
    sign = -1.0 if m.group(1) else 1.0
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups()[1:])
    return sign * (d * 86400 + h * 3600 + mi * 60 + s)


def kebab(name: str) -> str:
    """``timeToLive`` → ``time-to-live`` (Spring's canonical property form)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).lower()


def env_var(prop: str) -> str:
    """The environment variable Spring's relaxed binding maps to `prop`: upper case, dots → underscores,
    dashes removed (``spring.datasource.hikari.maximum-pool-size`` → SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE;
    Spring Boot reference, "Binding From Environment Variables")."""
    return re.sub(r"[^A-Za-z0-9_]", "", prop.replace(".", "_").replace("[", "_").replace("]", "")).upper()


def beans(configprops: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(bean name, prefix, properties) of every bean in every context of a /actuator/configprops answer
    (Boot 2 and 3 share the shape {"contexts": {ctx: {"beans": {name: {"prefix", "properties"}}}}}).
    Malformed parts are skipped."""
    if not isinstance(configprops, dict):
        return
    for ctx in (configprops.get("contexts") or {}).values():
        if not isinstance(ctx, dict):
            continue
        for name, bean in (ctx.get("beans") or {}).items():
            if isinstance(bean, dict) and isinstance(bean.get("properties"), dict):
                yield str(name), str(bean.get("prefix") or ""), bean["properties"]


def env_values(env: Any) -> dict[str, Any]:
    """Property name → value from a /actuator/env answer, the first property source that has it winning
    (Spring's precedence is the order of propertySources)."""
    out: dict[str, Any] = {}
    if not isinstance(env, dict):
        return out
    for src in env.get("propertySources") or []:
        if not isinstance(src, dict):
            continue
        for name, entry in (src.get("properties") or {}).items():
            if isinstance(entry, dict) and name not in out:
                out[str(name)] = entry.get("value")
    return out


def _get(d: Any, path: Iterable[str]) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _walk(d: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _walk(v, path + (str(k),))
    else:
        yield path, d


def _clean(prop: str, value: Any) -> Any:
    if isinstance(value, str) and value != SANITIZED and ("url" in prop.lower() or "@" in value):
        return redact_dsn(value)
    return value


def extract(configprops: Any, env: Any, cache_names: Iterable[str]) -> dict[str, Any]:
    """See the module docstring. `configprops`/`env` are the decoded answers or None (not exposed)."""
    caches = {c for c in cache_names if c}
    props: dict[str, Any] = {}
    pools: list[dict[str, Any]] = []
    per_cache: dict[str, dict[str, Any]] = {}
    for _name, prefix, p in beans(configprops):
        if "maximumPoolSize" in p:
            pool = {"prefix": prefix, "pool_name": None, "properties": {}}
            for key, suffix in HIKARI_PROPERTIES.items():
                if key in p and not isinstance(p[key], dict):
                    value = _clean(suffix, p[key])
                    pool["properties"][suffix] = value
                    props[f"{prefix}.{suffix}"] = value
            name = p.get("poolName")
            pool["pool_name"] = name if isinstance(name, str) and name != SANITIZED else None
            pools.append(pool)
        for prop, (bean_prefix, path) in PLAIN.items():
            if prefix == bean_prefix:
                value = _get(p, path)
                if value is not None:
                    props[prop] = value
        if prefix == "spring.cache":
            # Spring Cache is configured and reports no TTL: Redis entries never expire.
            props.setdefault("spring.cache.redis.time-to-live", None)
        if prefix.startswith("spring.cache"):
            continue
        for path, value in _walk(p):
            found = _per_cache_ttl(prefix, path, value, caches, "configprops")
            if found and found[0] not in per_cache:
                per_cache[found[0]] = found[1]
    env_props = env_values(env)
    wanted = set(PLAIN) | {f"{pool['prefix']}.{s}" for pool in pools for s in HIKARI_PROPERTIES.values()}
    if not pools:
        wanted |= {f"spring.datasource.hikari.{s}" for s in HIKARI_PROPERTIES.values()}
    for prop in sorted(wanted):
        if prop in props:
            continue
        for candidate in (prop, env_var(prop)):
            if candidate in env_props:
                props[prop] = _clean(prop, env_props[candidate])
                break
    for name, value in env_props.items():
        if name.startswith("spring.cache.") or "." not in name:
            continue
        prefix, _, last = name.rpartition(".")
        found = _per_cache_ttl(prefix, (last,), value, caches, "env")
        if found and found[0] not in per_cache:
            per_cache[found[0]] = found[1]
    for cache, entry in per_cache.items():
        props.setdefault(entry["property"], entry["value"])
        entry["cache"] = cache
    sanitized = sorted(k for k, v in props.items() if v == SANITIZED)
    generation, evidence = _boot_generation(configprops)
    return {"properties": props, "pools": pools, "per_cache_ttl": per_cache, "sanitized": sanitized,
            "boot_generation": generation, "boot_evidence": evidence}


def _per_cache_ttl(prefix: str, path: tuple[str, ...], value: Any, caches: set[str],
                   source: str) -> tuple[str, dict[str, Any]] | None:
    """(cache, entry) when `path` under `prefix` names a cache and `value` is a duration (or a sanitized
    value under a TTL-like name)."""
    hits = [i for i, seg in enumerate(path) if seg in caches]
    if not hits:
        return None
    i = hits[-1]
    parts = [kebab(s) for s in path[:i]] + [path[i]] + [kebab(s) for s in path[i + 1:]]
    prop = ".".join([prefix, *parts]) if prefix else ".".join(parts)
    ttl = duration_s(value)
    if ttl is None and not (value == SANITIZED and _TTL_WORDS.search(prop)):
        return None
    return path[i], {"property": prop, "value": value, "ttl_s": ttl, "env": env_var(prop),
                     "source": source, "sanitized": value == SANITIZED}


def _boot_generation(configprops: Any) -> tuple[str | None, str | None]:
    """"3.x" or "2.x" from prefixes only one generation has (Boot 3 moved spring.redis to spring.data.redis
    and management.metrics.export.prometheus to management.prometheus.metrics.export)."""
    prefixes = {prefix for _n, prefix, _p in beans(configprops)}
    for prefix, gen in (("spring.data.redis", "3.x"), ("management.prometheus.metrics.export", "3.x"),
                        ("spring.redis", "2.x"), ("management.metrics.export.prometheus", "2.x")):
        if prefix in prefixes:
            return gen, f"configprops has the prefix {prefix}"
    return None, None
