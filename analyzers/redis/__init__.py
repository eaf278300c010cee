"""Redis: INFO over the shared sampling window, CONFIG, and a bounded keyspace sample grouped by key prefix;
the Redis-only cache rules CACHE004–CACHE009.

Where data comes from: conn.py (URL, client, errors), info.py (INFO parser, series, window deltas),
scan.py (SCAN + pipelined TYPE/PTTL/MEMORY USAGE), source.py (the sampling Source). What is concluded:
keyspace.py (per-prefix estimates with their error; the API the cross-source cache rules use), facts.py,
rules.py. Snapshot section and target options: docs/redis.md.

Target options (settings.target("redis")): url (redis://[user:password@]host:port/db, rediss:// for TLS),
scan_time_s (10), scan_max_keys (100000), full_scan (false), timeout_s (5), memory_samples (5).
"""

from __future__ import annotations

from typing import Any

from advisor.config import Settings
from advisor.errors import ConfigError, TargetError
from analyzers.redis import conn
from analyzers.redis.rules import THRESHOLDS  # noqa: F401 - part of the analyzer contract
from analyzers.redis.scan import MEMORY_SAMPLES, Limits

AREA = "redis"
#: Defaults of the keyspace sample's bounds (issue 7: "defaults 10 s and 100k keys").
DEFAULT_SCAN_TIME_S = 10.0
DEFAULT_SCAN_MAX_KEYS = 100_000
#: Prefixes listed in the report's coverage section.
COVERAGE_PREFIXES = 20


def configured(settings: Settings) -> str | None:
    """None when a Redis URL is configured, else why Redis is skipped."""
    if not settings.target(AREA).get("url"):
        return "not configured (give --redis URL or [targets.redis] url)"
    return None


def _number(opts: dict[str, Any], name: str, default: float, kind: type, minimum: float) -> Any:
    value = opts.get(name)
    if value is None or value == "":
        return kind(default)
    try:
        number = float(value)
        if isinstance(value, bool) or number != number or number < minimum or number == float("inf"):
            raise ValueError
        if kind is int and not number.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"[targets.redis] {name} = {value!r}: must be {what} ≥ {minimum:g}") from None
    return kind(number)


def _flag(opts: dict[str, Any], name: str) -> bool:
    value = opts.get(name, False)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"[targets.redis] {name} = {value!r}: must be true or false")


def limits(settings: Settings) -> Limits:
    """The keyspace sample's bounds from the target options. Raises ConfigError for a bad value."""
    opts = settings.target(AREA)
    return Limits(scan_time_s=_number(opts, "scan_time_s", DEFAULT_SCAN_TIME_S, float, 0),
                  scan_max_keys=_number(opts, "scan_max_keys", DEFAULT_SCAN_MAX_KEYS, int, 1),
                  full_scan=_flag(opts, "full_scan"),
                  memory_samples=_number(opts, "memory_samples", MEMORY_SAMPLES, int, 0))


def sources(settings: Settings) -> list:
    """[RedisSource] for the configured URL. Raises ConfigError for a malformed URL or option."""
    from analyzers.redis.source import RedisSource

    opts = settings.target(AREA)
    return [RedisSource(conn.parse_target(opts.get("url"), opts.get("timeout_s")), limits(settings))]


def collect(settings: Settings, window=None, recordings=None) -> dict[str, Any]:
    """The redis snapshot section (docs/redis.md). Inside the shared window it gets its recording; called
    alone (no --sample) it takes one sample itself (mode "since_start"). Raises TargetError when the server
    could not be used at all (refused, authentication, TLS, timeout before the window); a failure later keeps
    what was sampled and lists the failure in section["errors"]."""
    from advisor import sampling
    from analyzers.redis.section import build_section

    if window is None or not recordings:
        srcs = sources(settings)
        window = sampling.run_window(srcs, 0.0)
        recordings = window.recordings
    else:
        srcs = sources(settings)
    rec = recordings[0]
    if rec.error and rec.error["phase"] == "open":
        raise TargetError(rec.error["message"])
    return build_section(srcs[0].target, srcs[0].limits, window, rec)


def target_info(section: dict[str, Any]) -> dict[str, Any]:
    """report.json's targets.redis: URL (password hidden), server version and mode, keys sampled."""
    server = (section.get("info") or {}).get("server") or {}
    ks = section.get("keyspace") or {}
    return {"url": section.get("url"), "server_version": server.get("redis_version"),
            "mode": server.get("redis_mode"), "db": section.get("db"), "dbsize": ks.get("dbsize"),
            "keys_sampled": ks.get("keys_sampled"), "window": (section.get("window") or {}).get("mode")}


def analyze(section: dict[str, Any], settings: Settings):
    """AreaResult: CACHE004–CACHE009 findings, coverage (keys sampled vs total, scan time, capabilities not
    permitted, the largest prefixes) and notes. A pure function of the section."""
    from advisor.pipeline import AreaResult
    from analyzers.redis import rules
    from analyzers.redis.facts import server_facts
    from analyzers.redis.keyspace import prefix_stats
    from analyzers.redis.section import coverage, notes

    stats = prefix_stats(section)
    facts = server_facts(section)
    found, rule_notes = rules.findings(facts, stats, settings)
    return AreaResult(findings=found, coverage=coverage(section, stats, COVERAGE_PREFIXES),
                      notes=notes(section, facts) + rule_notes)
