"""Redis INFO: a parser over the raw reply text, the numeric series sampled from it, and window deltas.

INFO's format (https://redis.io/docs/latest/commands/info/): sections start with ``# Name``; each field is
``name:value`` on its own line (CRLF). A few sections hold ``k=v,k=v`` lists as values: keyspace
(``db0:keys=1,expires=0,avg_ttl=0``), commandstats (``cmdstat_get:calls=…,usec=…``), latencystats
(``latency_percentiles_usec_get:p50=…,p99=…``, Redis 7+), errorstats (``errorstat_ERR:count=…``), and the
replication section's ``slaveN:`` lines.

Units are INFO's own: used_memory* and maxmemory in bytes, usec in microseconds, *_in_seconds in seconds,
avg_ttl in milliseconds.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: Sections whose values are k=v lists.
LIST_SECTIONS = ("keyspace", "commandstats", "latencystats", "errorstats")
_INT = re.compile(r"-?\d{1,30}", re.ASCII)
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", re.ASCII)
#: INFO fields sampled every interval (numbers only): counters (totals since start) and gauges.
SAMPLED_FIELDS = (
    ("stats", "keyspace_hits"), ("stats", "keyspace_misses"), ("stats", "evicted_keys"),
    ("stats", "expired_keys"), ("stats", "instantaneous_ops_per_sec"), ("stats", "total_commands_processed"),
    ("stats", "total_connections_received"), ("stats", "rejected_connections"),
    ("stats", "total_error_replies"), ("stats", "evicted_clients"),
    ("memory", "used_memory"), ("memory", "used_memory_rss"), ("memory", "used_memory_peak"),
    ("memory", "maxmemory"), ("memory", "mem_fragmentation_ratio"),
    ("clients", "connected_clients"), ("clients", "blocked_clients"),
    ("server", "uptime_in_seconds"),
)
#: Counters whose increase over the window window_deltas reports.
DELTA_COUNTERS = ("keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys", "total_commands_processed")


class InfoParseError(ValueError):
    """The text is not an INFO reply: it has no ``name:value`` line at all."""


def _number(text: str) -> int | float | str:
    """INFO values as int or float where they are numbers (finite ones only: JSON has no NaN), else text."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else text
    return text


def _kv_list(text: str) -> dict[str, int | float | str] | None:
    """``keys=1,expires=0`` → {"keys": 1, "expires": 0}; None when `text` is not such a list."""
    out: dict[str, int | float | str] = {}
    for part in text.split(","):
        k, sep, v = part.partition("=")
        if not sep or not k:
            return None
        out[k] = _number(v)
    return out


def parse_info(text: str) -> dict[str, dict[str, Any]]:
    """Parse the raw text of an INFO reply into {section: {field: value}} (section names lower-case;
    fields before any ``# Section`` header go to ""). Values are int, float (finite) or str; in the
    LIST_SECTIONS and for ``slaveN`` fields, a ``k=v,…`` value becomes a dict. Lines that are neither a header
    nor ``name:value`` are skipped.

    Raises InfoParseError (a ValueError) when the text holds no ``name:value`` line at all, and TypeError
    when `text` is not a str. Never anything else, whatever the text (fuzzed with hypothesis).
    """
    if not isinstance(text, str):
        raise TypeError(f"INFO text must be str, not {type(text).__name__}")
    sections: dict[str, dict[str, Any]] = {}
    current = ""
    fields = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = line.lstrip("#").strip().lower()
            sections.setdefault(current, {})
            continue
        name, sep, value = line.partition(":")
        if not sep or not name:
            continue
        fields += 1
        parsed: Any = None
        if current in LIST_SECTIONS or (current == "replication" and re.fullmatch(r"slave\d+", name)):
            parsed = _kv_list(value)
        sections.setdefault(current, {})[name] = parsed if parsed is not None else _number(value)
    if not fields:
        raise InfoParseError("not an INFO reply: no name:value line")
    return sections


def _label(value: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample_values(info: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The numeric series of one INFO reply, keyed as Prometheus series (numbers only):

    - ``redis_<field>`` for SAMPLED_FIELDS (e.g. ``redis_keyspace_hits``, ``redis_used_memory`` in bytes);
    - ``redis_db_keys{db="db0"}``, ``redis_db_expires{db="db0"}``, ``redis_db_avg_ttl{db="db0"}`` (ms);
    - ``redis_commandstats_calls{cmd="get"}``, ``…_usec`` (µs), ``…_failed_calls``, ``…_rejected_calls``;
    - ``redis_latencystats_usec{cmd="get",p="p99"}`` (µs, Redis 7+);
    - ``redis_errorstat_count{error="OOM"}``.
    """
    out: dict[str, float] = {}
    for section, field in SAMPLED_FIELDS:
        v = info.get(section, {}).get(field)
        if isinstance(v, int | float):
            out[f"redis_{field}"] = v
    for db, stats in info.get("keyspace", {}).items():
        if isinstance(stats, dict):
            for k in ("keys", "expires", "avg_ttl"):
                if isinstance(stats.get(k), int | float):
                    out[f'redis_db_{k}{{db="{_label(db)}"}}'] = stats[k]
    for name, stats in info.get("commandstats", {}).items():
        if isinstance(stats, dict) and name.startswith("cmdstat_"):
            cmd = _label(name.removeprefix("cmdstat_"))
            for k in ("calls", "usec", "failed_calls", "rejected_calls"):
                if isinstance(stats.get(k), int | float):
                    out[f'redis_commandstats_{k}{{cmd="{cmd}"}}'] = stats[k]
    for name, stats in info.get("latencystats", {}).items():
        if isinstance(stats, dict) and name.startswith("latency_percentiles_usec_"):
            cmd = _label(name.removeprefix("latency_percentiles_usec_"))
            for p, v in stats.items():
                if isinstance(v, int | float):
                    out[f'redis_latencystats_usec{{cmd="{cmd}",p="{_label(p)}"}}'] = v
    for name, stats in info.get("errorstats", {}).items():
        if isinstance(stats, dict) and name.startswith("errorstat_") and isinstance(stats.get("count"), int | float):
            out[f'redis_errorstat_count{{error="{_label(name.removeprefix("errorstat_"))}"}}'] = stats["count"]
    return out


def counter_increase(values: list[Any]) -> float | None:
    """Increase of a counter over a series, counting a drop as a restart or CONFIG RESETSTAT (the value after
    a drop is what accrued since it), as Prometheus' increase() does. None values are skipped; None when
    fewer than two numbers."""
    nums = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(nums) < 2:
        return None
    total = 0.0
    for a, b in zip(nums, nums[1:], strict=False):
        total += b - a if b >= a else b
    return total


def counter_resets(values: list[Any]) -> int:
    """How many times a counter dropped over the series (a restart or CONFIG RESETSTAT)."""
    nums = [v for v in values if isinstance(v, int | float)]
    return sum(1 for a, b in zip(nums, nums[1:], strict=False) if b < a)


def _last(values: list[Any]) -> float | None:
    for v in reversed(values):
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return None


def window_deltas(section: dict[str, Any]) -> dict[str, Any]:
    """What happened on the server during the window, from the section's INFO series:

    {"keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys", "total_commands_processed": counts,
     "hit_ratio": hits / (hits + misses) or None without lookups, "ops_per_s": commands per second,
     "window_s": seconds covered, "since_start": bool, "restarts": counter drops seen, "samples": int}

    In a window (two samples or more) counts are increases between the first and last sample. With one
    sample (`--sample 0`, mode "since_start") they are totals since the server started (or since CONFIG
    RESETSTAT), window_s is uptime_in_seconds and since_start is True. Every value is None when INFO was not
    sampled (not permitted, or the server failed before the first sample).
    """
    series = (section.get("series") or {}).get("series") or {}
    t_s = (section.get("series") or {}).get("t_s") or []
    mode = (section.get("window") or {}).get("mode")
    out: dict[str, Any] = dict.fromkeys(DELTA_COUNTERS)
    out.update(hit_ratio=None, ops_per_s=None, window_s=None, restarts=0, samples=len(t_s))
    since_start = mode == "since_start" or len(t_s) < 2
    out["since_start"] = since_start
    if not t_s:
        return out
    if since_start:
        for name in DELTA_COUNTERS:
            out[name] = _last(series.get(f"redis_{name}", []))
        uptime = _last(series.get("redis_uptime_in_seconds", []))
        out["window_s"] = uptime
        if out["total_commands_processed"] is not None and uptime:
            out["ops_per_s"] = out["total_commands_processed"] / uptime
    else:
        for name in DELTA_COUNTERS:
            out[name] = counter_increase(series.get(f"redis_{name}", []))
        out["restarts"] = counter_resets(series.get("redis_uptime_in_seconds", []))
        window_s = float(t_s[-1]) - float(t_s[0])
        out["window_s"] = window_s
        if out["total_commands_processed"] is not None and window_s > 0:
            out["ops_per_s"] = out["total_commands_processed"] / window_s
    hits, misses = out["keyspace_hits"], out["keyspace_misses"]
    if hits is not None and misses is not None and hits + misses > 0:
        out["hit_ratio"] = hits / (hits + misses)
    return out
