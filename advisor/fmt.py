"""Formatting shared by the console summary and the renderers: one wording of impact, one byte convention and one
name per evidence key everywhere (HTML, Markdown, console). report.json keeps the raw values."""

from __future__ import annotations

from typing import Any

#: The one byte convention, named once in every report (footer) and used by fmt_bytes.
BYTE_CONVENTION = "Sizes use powers of 1,024: 1 kB = 1,024 bytes, 1 MB = 1,024 kB (as pg_size_pretty and du -h)."


def fmt_bytes(n: float | None) -> str:
    """1536 → "1.5 kB" (powers of 1024, as du -h and pg_size_pretty; see BYTE_CONVENTION)."""
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(n)  # pragma: no cover


def fmt_duration_ms(ms: float | None) -> str:
    """A duration in the unit a person reads: 850 → "850 ms", 15_100 → "15.1 s", 617_448 → "10.3 min",
    20_416_530 → "5.7 h"."""
    if ms is None:
        return "unknown"
    v = float(ms)
    if abs(v) < 1000:
        return f"{_num(v)} ms"
    if abs(v) < 60_000:
        return f"{v / 1000:,.1f} s"
    if abs(v) < 3_600_000:
        return f"{v / 60_000:,.1f} min"
    return f"{v / 3_600_000:,.1f} h"


#: Evidence and target keys as words (the unit is shown with each value, see fmt_value). Keys not listed are
#: shown as their words with the unit suffix dropped (label()).
LABELS: dict[str, str] = {
    "initial_js_gzip_bytes": "initial JavaScript (gzip)",
    "initial_js_bytes": "initial JavaScript",
    "budget_gzip_bytes": "budget (gzip)",
    "estimated_saving_bytes": "estimated saving",
    "estimated_saving_gzip_bytes": "estimated saving (gzip)",
    "estimated_size_bytes": "estimated index size",
    "minified_bytes": "minified size",
    "minified_measured": "minified size measured through source maps",
    "measure": "how the figure was obtained",
    "brotli_quality": "brotli quality",
    "gzip_bytes": "gzip size",
    "raw_bytes": "size",
    "limit_bytes": "limit",
    "transfer_bytes": "bytes transferred",
    "index_bytes": "index size",
    "mean_exec_time_ms": "mean time",
    "total_exec_time_ms": "total time",
    "exec_time_ms_per_hour": "database time per hour",
    "connection_wait_ms_per_hour": "connection wait",
    "queryid": "queryid",
    "duration_s": "duration",
    "window_s": "window",
    "ttl_s": "TTL",
    "recommended_ttl_s": "recommended TTL",
    "mean_ms": "mean time",
    "p95_ms": "95th percentile",
    "gets_per_s": "lookups per second",
    "hit_ratio": "hit ratio",
    "hit_ratio_95ci": "hit ratio (95% interval)",
    "predicted_hit_ratio": "predicted hit ratio",
    "target_hit_ratio": "target hit ratio",
    "recommended_maxmemory_mb": "recommended maxmemory",
    "cpu_cores_mean": "CPU cores (mean)",
    "rate_hz": "sampling rate",
    "url": "URL",
    "dsn": "DSN",
    "db": "database number",
    "dbsize": "keys in the database",
    "hypopg": "HypoPG",
}

#: Unit suffixes of key names (longest first) and how a value of that unit is written.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_ms_per_hour", "duration_per_hour"), ("_per_s", "per_s"), ("_bytes", "bytes"), ("_ms", "ms"), ("_s", "s"),
    ("_share", "share"), ("_ratio", "share"), ("_pct", "pct"), ("_mb", "mb"), ("_hz", "hz"),
)

#: Words that read better spelt out or capitalised in a label.
_WORDS = {"js": "JavaScript", "css": "CSS", "ttl": "TTL", "url": "URL", "uri": "URI", "sql": "SQL", "id": "id",
          "p95": "95th percentile", "cpu": "CPU", "fk": "foreign key", "db": "database"}


def _unit(key: str) -> str | None:
    if key.startswith("bytes_"):  # bytes_sent, bytes_received
        return "bytes"
    for suffix, unit in _SUFFIXES:
        if key.endswith(suffix) or key == suffix[1:]:
            return unit
    return None


def label(key: str) -> str:
    """A raw key as words: "initial_js_gzip_bytes" → "initial JavaScript (gzip)", "p95_ms" → "95th percentile",
    "table_changes_per_s" → "table changes per second"; unknown keys lose their unit suffix (shown with the value)."""
    key = str(key)
    if key in LABELS:
        return LABELS[key]
    words = key
    for suffix, unit in _SUFFIXES:
        if words.endswith(suffix) and len(words) > len(suffix):
            words = words[: -len(suffix)] + (" per second" if unit == "per_s" else "")
            break
    return " ".join(_WORDS.get(w, w) for w in words.split("_") if w)


def fmt_value(key: str, v: Any) -> str:
    """A scalar evidence value with the unit its key names: ("gzip_bytes", 190972) → "186.5 kB", ("p95_ms",
    1234.5) → "1.2 s", ("hit_ratio", 0.03) → "3.0%". Other values as fmt_scalar."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return fmt_scalar(v)
    unit = _unit(str(key))
    if unit == "bytes":
        return fmt_bytes(v)
    if unit == "ms":
        return fmt_duration_ms(v)
    if unit == "s":
        return fmt_duration_ms(v * 1000)
    if unit == "duration_per_hour":
        return f"{fmt_duration_ms(v)} per hour"
    if unit == "share" and 0 <= v <= 1:
        return f"{100 * v:.1f}%"
    if unit == "pct":
        return f"{_num(v)}%"
    if unit == "per_s":
        return f"{_num(v)}/s"
    if unit == "mb":
        return f"{_num(v)} MB"
    if unit == "hz":
        return f"{_num(v)} Hz"
    return fmt_scalar(v)


def fmt_scalar(v: Any) -> str:
    """None → "–", booleans as yes/no, numbers with thousands separators; anything else as its text."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _budget_of(f: dict[str, Any], after: Any) -> str | None:
    """The evidence key of a budget or limit that an impact's "after" merely repeats (FE001 reports its budget
    as "after"): such an "after" is a target, not a prediction, and must not be shown as one."""
    for k, v in (f.get("evidence") or {}).items():
        if ("budget" in k or "limit" in k) and isinstance(v, int | float) and not isinstance(v, bool) and v == after:
            return k
    return None


def impact_text(f: dict[str, Any]) -> str:
    """A finding's impact in words, with "after" the predicted value:
    "est. saves 15.1 min of database time per hour (15.2 min → 7.0 s per hour)", "272.0 kB freed",
    "initial JavaScript (gzip): 186.5 kB → 89.7 kB", "initial JavaScript (gzip): 186.5 kB, 20.5 kB over the
    166.0 kB budget" (when "after" is the budget, not a prediction). Exact figures: impact_exact()."""
    imp = f.get("impact") or {}
    if not imp:
        return ""
    before, after = imp.get("before"), imp.get("after")
    est = "est. " if imp.get("estimated") else ""
    metric = str(imp.get("metric", ""))
    if not isinstance(before, int | float) or not isinstance(after, int | float):
        return f"{est}{label(metric)}: {fmt_value(metric, before)} → {fmt_value(metric, after)}"
    if metric == "exec_time_ms_per_hour":
        return (f"{est}saves {fmt_duration_ms(before - after)} of database time per hour "
                f"({fmt_duration_ms(before)} → {fmt_duration_ms(after)} per hour)")
    if metric == "index_bytes":
        return f"{fmt_bytes(before - after)} freed"
    if _unit(metric) == "duration_per_hour":
        return f"{est}{label(metric)}: {fmt_duration_ms(before)} → {fmt_duration_ms(after)} per hour"
    budget = _budget_of(f, after)
    if budget:
        over = before - after
        return (f"{label(metric)}: {fmt_value(metric, before)}, {fmt_value(metric, over)} over the "
                f"{fmt_value(metric, after)} {label(budget).split(' (')[0]} (how far below it the fix goes is "
                "not predicted)")
    return f"{est}{label(metric)}: {fmt_value(metric, before)} → {fmt_value(metric, after)}"


def impact_exact(f: dict[str, Any]) -> str:
    """The impact's exact figures in the metric's own unit, for the evidence: "914,347 → 6,980
    (exec_time_ms_per_hour)"."""
    imp = f.get("impact") or {}
    if not imp:
        return ""
    return f"{fmt_scalar(_round(imp.get('before')))} → {fmt_scalar(_round(imp.get('after')))} ({imp.get('metric', '')})"


def _round(v: Any) -> Any:
    return round(v) if isinstance(v, float) and abs(v) >= 100 else v


def _num(v: Any) -> str:
    """Whole numbers from 100 up (163,092 misses per hour), two decimals below (10.91 calls per request)."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return str(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}".rstrip("0").rstrip(".")


#: How many changes "Do these first" lists at the top of every report.
FIRST_COUNT = 5
#: Severities a change must have to be listed first (info and low findings wait for the full list).
FIRST_SEVERITIES = ("critical", "high", "medium")


def first_changes(report: dict[str, Any], n: int = FIRST_COUNT) -> list[dict[str, Any]]:
    """The few changes with the largest effect: the first n findings in the report's rank order (worst severity,
    then largest saving; advisor.model.rank) that are critical, high or medium and ask for a change (an action
    other than "none")."""
    out = [f for f in report.get("findings", []) if f.get("severity") in FIRST_SEVERITIES
           and (f.get("action") or {}).get("kind", "none") != "none"]
    return out[:n]


def first_line(f: dict[str, Any]) -> str:
    """One line of "Do these first": "PG001 Index … — est. saves 15.1 min of database time per hour (verified)"."""
    effect = impact_text(f) or "effect not quantified"
    return f"{f.get('rule')} {f.get('title')} — {effect} (confidence: {f.get('confidence')})"
