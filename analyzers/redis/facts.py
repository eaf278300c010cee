"""Facts about the server the Redis rules rest on, read from the snapshot section (a pure function of it):
memory limit and policy (CONFIG GET, else INFO), memory in use over the window, the database's keys with and
without a TTL (INFO keyspace), OOM errors, and what the keyspace sample says about cache and data keys.

Units: bytes for memory, counts for keys and errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzers.redis.info import counter_increase, window_deltas
from analyzers.redis.keyspace import PrefixStats

#: A group of at least this many sampled keys, all without a TTL, counts as data (not cache) keys.
MIN_DATA_KEYS = 1


@dataclass(frozen=True)
class ServerFacts:
    """maxmemory_bytes: 0 means no limit; None when neither CONFIG GET nor INFO gave it.
    maxmemory_source: "CONFIG GET" or "INFO". used_memory_bytes: the largest used_memory seen (window series,
    else INFO at open). db_keys / db_expires: INFO keyspace of the sampled db (keys, keys with a TTL).
    oom_errors: OOM error replies in the window (since start in since_start mode), None before Redis 6.2."""

    redis_version: str | None
    maxmemory_bytes: int | None
    maxmemory_source: str | None
    maxmemory_policy: str | None
    used_memory_bytes: int | None
    used_memory_peak_bytes: int | None
    total_system_memory_bytes: int | None
    db_keys: int | None
    db_expires: int | None
    oom_errors: float | None
    persistence: bool
    deltas: dict[str, Any]

    def evidence(self) -> dict[str, Any]:
        return {"redis_version": self.redis_version, "maxmemory": self.maxmemory_bytes,
                "maxmemory_source": self.maxmemory_source, "maxmemory_policy": self.maxmemory_policy,
                "used_memory": self.used_memory_bytes, "used_memory_peak": self.used_memory_peak_bytes,
                "total_system_memory": self.total_system_memory_bytes, "db_keys": self.db_keys,
                "db_expires": self.db_expires}


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    return None


def _series(section: dict[str, Any], key: str) -> list[Any]:
    return ((section.get("series") or {}).get("series") or {}).get(key) or []


def server_facts(section: dict[str, Any]) -> ServerFacts:
    """ServerFacts of a redis snapshot section. Raises nothing for missing parts (they are None)."""
    info = section.get("info") or {}
    config = section.get("config") or {}
    memory = info.get("memory") or {}
    maxmemory = _int(config.get("maxmemory"))
    source = "CONFIG GET" if maxmemory is not None else None
    if maxmemory is None:
        maxmemory = _int(memory.get("maxmemory"))
        source = "INFO" if maxmemory is not None else None
    policy = config.get("maxmemory-policy") or memory.get("maxmemory_policy")
    used = [v for v in _series(section, "redis_used_memory") if isinstance(v, int | float)]
    used_memory = int(max(used)) if used else _int(memory.get("used_memory"))
    db = f"db{(section.get('keyspace') or {}).get('db', section.get('db', 0))}"
    ks = (info.get("keyspace") or {}).get(db)
    last_keys = [v for v in _series(section, f'redis_db_keys{{db="{db}"}}') if isinstance(v, int | float)]
    last_exp = [v for v in _series(section, f'redis_db_expires{{db="{db}"}}') if isinstance(v, int | float)]
    db_keys = int(last_keys[-1]) if last_keys else (_int(ks.get("keys")) if isinstance(ks, dict) else None)
    db_expires = int(last_exp[-1]) if last_exp else (_int(ks.get("expires")) if isinstance(ks, dict) else None)
    if db_keys is None and isinstance(info.get("keyspace"), dict):
        db_keys, db_expires = 0, 0  # INFO lists only databases that hold keys
    deltas = window_deltas(section)
    oom_series = _series(section, 'redis_errorstat_count{error="OOM"}')
    if deltas["since_start"]:
        oom = next((float(v) for v in reversed(oom_series) if isinstance(v, int | float)), None)
    else:
        oom = counter_increase(oom_series)
    if oom is None and "errorstats" in info and (section.get("series") or {}).get("t_s"):
        oom = 0.0  # Redis 6.2+ lists an error type once it has happened: none yet
    save = str(config.get("save", "")).strip()
    persistence = bool(save) or str(config.get("appendonly", "no")) == "yes"
    total = _int(memory.get("total_system_memory"))
    return ServerFacts(
        redis_version=(info.get("server") or {}).get("redis_version"), maxmemory_bytes=maxmemory,
        maxmemory_source=source, maxmemory_policy=str(policy) if policy else None, used_memory_bytes=used_memory,
        used_memory_peak_bytes=_int(memory.get("used_memory_peak")), total_system_memory_bytes=total or None,
        db_keys=db_keys, db_expires=db_expires, oom_errors=oom, persistence=persistence, deltas=deltas)


def is_cache_prefix(s: PrefixStats) -> bool:
    """A prefix of cache entries: Spring Cache's ``name::`` form, or one where some keys carry a TTL."""
    return s.kind == "spring" or s.keys_with_ttl > 0


def data_prefixes(stats: list[PrefixStats]) -> list[PrefixStats]:
    """Prefixes of keys that are not cache entries: no key with a TTL and not Spring's form, or holding a
    stream (a queue or log, never a cache entry)."""
    return [s for s in stats if (not is_cache_prefix(s) and s.no_ttl_keys >= MIN_DATA_KEYS)
            or s.types.get("stream", 0) > 0]


def cache_evidence(facts: ServerFacts, stats: list[PrefixStats]) -> list[str]:
    """Why the server is taken to be used as a cache (empty: it does not look like one)."""
    why = []
    spring = [s.prefix for s in stats if s.kind == "spring"]
    if spring:
        why.append(f"Spring Cache key prefixes ({', '.join(spring[:5])}{' …' if len(spring) > 5 else ''})")
    if facts.db_expires:
        why.append(f"{facts.db_expires:,} of {facts.db_keys or 0:,} keys have a TTL (INFO keyspace)")
    elif any(s.keys_with_ttl for s in stats):
        why.append("sampled keys with a TTL")
    if facts.maxmemory_policy and facts.maxmemory_policy.startswith("allkeys-"):
        why.append(f"maxmemory-policy {facts.maxmemory_policy}")
    return why
