"""The redis snapshot section (built from the window's recording), and what analyze reports about its
coverage and limits. Shape: docs/redis.md."""

from __future__ import annotations

from typing import Any

from analyzers.redis.conn import RedisTarget, describe_not_permitted
from analyzers.redis.facts import ServerFacts
from analyzers.redis.info import window_deltas
from analyzers.redis.keyspace import PrefixStats
from analyzers.redis.scan import Limits

#: INFO server fields copied to section["server"] (the rest stays in section["info"]).
SERVER_FIELDS = ("redis_version", "redis_mode", "os", "arch_bits", "process_id", "tcp_port", "uptime_in_seconds",
                 "hz", "executable", "config_file")


def _errors(rec, target: RedisTarget) -> list[str]:
    err = rec.error
    if not err:
        return []
    message = target.scrub(err["message"])
    if not message.startswith("redis "):
        message = f"redis {target.shown}: {message}"
    if err["phase"] == "sample":
        return [f"{message} — failed {err['at_s']:.0f} s into the window; {len(rec.samples)} sample(s) kept"]
    if err["phase"] == "close":
        return [f"{message} — the keyspace sample after the window failed; the INFO samples are kept"]
    return [message]


def build_section(target: RedisTarget, limits: Limits, window, rec) -> dict[str, Any]:
    """The snapshot section from one Recording of a RedisSource (JSON-compatible; never holds the password)."""
    opened, closed = rec.opened or {}, rec.closed or {}
    info = opened.get("info")
    server = {k: (info or {}).get("server", {}).get(k) for k in SERVER_FIELDS} if info else {}
    section: dict[str, Any] = {
        "url": target.shown, "db": target.db, "tls": target.tls, "username": target.username,
        "server": server, "info": info, "config": opened.get("config") or {},
        "config_source": "CONFIG GET" if opened.get("config") else ("INFO" if info else None),
        "window": window.info(), "series": rec.series(),
        "keyspace": closed.get("keyspace"),
        "limits": {"scan_time_s": limits.scan_time_s, "scan_max_keys": limits.scan_max_keys,
                   "full_scan": limits.full_scan, "memory_samples": limits.memory_samples,
                   "timeout_s": target.timeout_s},
        "not_permitted": list(opened.get("not_permitted") or []) + list(closed.get("not_permitted") or []),
        "errors": _errors(rec, target),
    }
    section["deltas"] = window_deltas(section)
    return section


def coverage(section: dict[str, Any], stats: list[PrefixStats], top: int) -> dict[str, Any]:
    """What was analysed: keys sampled vs the database, scan time and why it stopped, capabilities not
    permitted, INFO samples, and the `top` largest prefixes (a row each; keyspace.prefix_stats has every figure)."""
    ks = section.get("keyspace") or {}
    n, total = ks.get("keys_sampled"), ks.get("dbsize")
    return {
        "keys_sampled": n, "dbsize": total,
        "sampled_share": (n / total) if isinstance(n, int) and isinstance(total, int) and total else None,
        "scan_time_s": ks.get("scan_time_s"), "stopped_by": ks.get("stopped_by"), "complete": ks.get("complete"),
        "limits": section.get("limits"), "info_samples": len((section.get("series") or {}).get("t_s") or []),
        "window": section.get("window"),
        "not_permitted": [{k: e.get(k) for k in ("capability", "command", "acl_rule", "reason")}
                          for e in section.get("not_permitted") or []],
        "prefixes": [_prefix_row(s) for s in stats[:top]],
        "prefixes_total": len(stats),
    }


def _prefix_row(s: PrefixStats) -> dict[str, Any]:
    """One prefix for the report's table (keyspace.prefix_stats has every figure)."""
    big = s.biggest[0] if s.biggest else None
    return {"prefix": s.prefix or "(no prefix)", "kind": s.kind, "cache": s.spring_cache_name,
            "keys_sampled": s.keys_sampled, "keys_estimated": round(s.keys_estimated),
            "keys_error": round(s.keys_estimated_error),
            "no_ttl_share": None if s.no_ttl_share is None else round(s.no_ttl_share, 3),
            "ttl_p50_s": s.ttl_s.p50_s if s.ttl_s else None, "ttl_p90_s": s.ttl_s.p90_s if s.ttl_s else None,
            "memory_bytes_estimated": None if s.memory_bytes_estimated is None else round(s.memory_bytes_estimated),
            "memory_bytes_error": None if s.memory_bytes_error is None else round(s.memory_bytes_error),
            "biggest_key": big.key if big else None, "biggest_key_bytes": big.memory_bytes if big else None}


def notes(section: dict[str, Any], facts: ServerFacts) -> list[str]:
    """One-line remarks: sampling coverage, refused capabilities, since-start counters, cluster mode."""
    out = []
    ks = section.get("keyspace")
    if ks:
        n, total = ks.get("keys_sampled") or 0, ks.get("dbsize")
        if ks.get("stopped_by") == "not permitted":
            pass  # the not-permitted note below says why
        elif ks.get("complete"):
            out.append(f"Redis keyspace: all {n:,} keys of db {ks.get('db')} scanned in {ks.get('scan_time_s')} s")
        else:
            share = f" ({n / total:.1%})" if total else ""
            reason = {"time": f"the {ks['limits']['scan_time_s']:g} s time bound",
                      "max_keys": f"the {ks['limits']['scan_max_keys']:,}-key bound"}.get(ks.get("stopped_by"), "its bound")
            of = f"{total:,}" if isinstance(total, int) else "an unknown number of"
            out.append(f"Redis keyspace: {n:,} of {of} keys{share} sampled in "
                       f"{ks.get('scan_time_s')} s (stopped by {reason}); per-prefix counts and memory are "
                       "estimates with 95% intervals (full_scan / --redis-full-scan scans every key)")
        if ks.get("not_permitted_keys"):
            out.append(f"Redis keyspace: {ks['not_permitted_keys']:,} sampled keys are outside this ACL user's key "
                       "patterns: only their names were counted")
    elif not section.get("errors"):
        out.append("Redis keyspace: not sampled")
    for entry in section.get("not_permitted") or []:
        out.append("Redis: " + describe_not_permitted(entry))
    if facts.deltas.get("since_start") and facts.deltas.get("samples"):
        up = facts.deltas.get("window_s")
        out.append("Redis counters are totals since the server started"
                   + (f" {up / 3600:.1f} h ago" if up else "") + " (one sample, no window); they may include "
                   "earlier perfadvisor keyspace samples (TYPE and PTTL count as keyspace hits)")
    if facts.deltas.get("restarts"):
        out.append(f"Redis restarted (or CONFIG RESETSTAT) {facts.deltas['restarts']} time(s) in the window; "
                   "counters are summed across it")
    sampled_db = f"db{section.get('db', 0)}"
    others = {db: v.get("keys") for db, v in ((section.get("info") or {}).get("keyspace") or {}).items()
              if db != sampled_db and isinstance(v, dict) and v.get("keys")}
    if others:
        out.append("Redis: other databases hold keys that were not sampled ("
                   + ", ".join(f"{db}: {n:,}" for db, n in sorted(others.items())) + "); give one URL per database")
    mode = (section.get("server") or {}).get("redis_mode")
    if mode == "cluster":
        out.append("Redis runs in cluster mode: only this node's keys and counters were sampled")
    return out
