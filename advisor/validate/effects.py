"""What each applied recommendation was expected to move, and whether it moved.

Two kinds of evidence, both measured on the running stack:

- per run, the metric a finding claims, read from the stack sampled during that load run (``run_measures``):
  a statement's mean execution time (pg_stat_statements differences over the run's window), a pool's share of
  samples with threads waiting (hikaricp_connections_pending > 0) and its mean acquire time
  (hikaricp_connections_acquire_seconds), a Spring cache's hit ratio (cache_gets_total);
- after the change, the same analysis on the after run's evidence: a finding that no longer fires is resolved.

A metric "moved" when the median of the after runs is better than the median of the before runs by at least the
comparison's threshold (5% by default) *and* every after run is better than every before run. With two runs a side
that is a small-sample rule, not a significance test: the endpoint verdicts of `compare` carry the statistics.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

#: Verdicts of one applied recommendation.
CONFIRMED, NOT_CONFIRMED, WORSE, NOT_MEASURED, NOT_APPLIED = (
    "confirmed", "not confirmed", "worse", "not measured", "not applied")


@dataclass(frozen=True)
class Metric:
    """How to read one claimed metric: `lower_better`, and its unit for display."""

    name: str
    unit: str
    lower_better: bool


STATEMENT_MEAN = Metric("mean_exec_time_ms", "ms", True)
POOL_PENDING = Metric("hikaricp_connections_pending > 0 (share of samples)", "share", True)
POOL_ACQUIRE = Metric("hikaricp_connections_acquire_seconds (mean)", "ms", True)
CACHE_HIT = Metric("cache_gets_total hit ratio", "share", False)


def run_measures(sections: dict[str, Any]) -> dict[str, Any]:
    """The per-run values every claimed metric is read from, from one run's snapshot sections (as
    pipeline.collect builds them from the run's sampled window):

    {"statements": {queryid: {"calls": n, "total_exec_time_ms": ms, "mean_exec_time_ms": ms}},
     "pools": {"instance|pool": {"pending_share": 0..1, "acquire_mean_ms": ms, "max_size": n}},
     "caches": {cache: {"hit_ratio": 0..1 | None, "gets": n}}}

    Missing sections give empty maps (that target was not sampled)."""
    from analyzers.actuator import series

    out: dict[str, Any] = {"statements": {}, "pools": {}, "caches": {}}
    activity = (sections.get("postgres") or {}).get("activity") or {}
    for s in activity.get("statements") or []:
        calls = s.get("calls") or 0
        out["statements"][str(s["queryid"])] = {
            "calls": calls, "total_exec_time_ms": s.get("total_exec_time_ms"),
            "mean_exec_time_ms": (s["total_exec_time_ms"] / calls) if calls else None}
    act = sections.get("actuator")
    if act:
        for p in series.pool_stats(act):
            out["pools"][f"{p.instance}|{p.pool}"] = {"pending_share": p.pending_share,
                                                       "acquire_mean_ms": p.acquire_mean_ms, "max_size": p.max_size}
        for c in series.cache_stats(act):
            out["caches"][c.cache] = {"hit_ratio": c.hit_ratio, "gets": c.gets}
    return out


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def moved(metric: Metric, before: list[float], after: list[float], threshold: float) -> dict[str, Any]:
    """{"metric", "unit", "before": median, "after": median, "before_runs": […], "after_runs": […],
    "change": relative change of the medians (None when before is 0 or either side is empty),
    "direction": "better" | "worse" | "same" | None, "beyond_spread": bool, "moved": bool}.

    moved: better by at least `threshold` (relative) and every after run better than every before run.
    For shares (pending, hit ratio) the change is in percentage points when the before value is 0."""
    b, a = _median(before), _median(after)
    row: dict[str, Any] = {"metric": metric.name, "unit": metric.unit, "before": b, "after": a,
                           "before_runs": before, "after_runs": after, "change": None, "direction": None,
                           "beyond_spread": False, "moved": False}
    if b is None or a is None:
        return row
    if b:
        row["change"] = (a - b) / abs(b)
    elif metric.unit == "share":
        row["change"] = a - b
    sign = -1 if metric.lower_better else 1
    gain = (a - b) * sign
    rel = gain / abs(b) if b else (gain if metric.unit == "share" else (1.0 if gain > 0 else 0.0))
    spread_ok = (max(after) < min(before)) if metric.lower_better else (min(after) > max(before))
    spread_bad = (min(after) > max(before)) if metric.lower_better else (max(after) < min(before))
    row["direction"] = "better" if rel >= threshold else "worse" if rel <= -threshold else "same"
    row["beyond_spread"] = spread_ok if row["direction"] == "better" else spread_bad if \
        row["direction"] == "worse" else False
    row["moved"] = row["direction"] == "better" and row["beyond_spread"]
    return row


def _values(runs: list[dict[str, Any]], group: str, key: str, field: str) -> list[float]:
    return [v for r in runs if (v := ((r.get(group) or {}).get(key) or {}).get(field)) is not None]


def claimed_metrics(finding: dict[str, Any], before: list[dict], after: list[dict], threshold: float
                    ) -> list[dict[str, Any]]:
    """The measured rows of one finding (see `moved`): its statements' mean time for database findings, its
    pool's waits for pool findings, its cache's hit ratio for cache findings. [] when the finding names
    nothing that was sampled."""
    ev = finding.get("evidence") or {}
    rule = finding.get("rule", "")
    rows: list[dict[str, Any]] = []
    if rule.startswith("PG"):
        for s in ev.get("statements") or []:
            qid = str(s.get("queryid"))
            row = moved(STATEMENT_MEAN, _values(before, "statements", qid, "mean_exec_time_ms"),
                        _values(after, "statements", qid, "mean_exec_time_ms"), threshold)
            if row["before"] is not None:
                rows.append({**row, "subject": f"queryid {qid}", "query": (s.get("query") or "")[:200]})
    elif rule.startswith("POOL"):
        keys = {k for r in before + after for k in r.get("pools") or {}}
        pool = ev.get("pool")
        for key in sorted(keys):
            if pool and key.split("|", 1)[-1] != pool:
                continue
            for metric, field in ((POOL_PENDING, "pending_share"), (POOL_ACQUIRE, "acquire_mean_ms")):
                row = moved(metric, _values(before, "pools", key, field), _values(after, "pools", key, field),
                            threshold)
                if row["before"] is not None:
                    rows.append({**row, "subject": f"pool {key.replace('|', ' · ')}"})
    elif rule.startswith("CACHE") and ev.get("cache"):
        cache = str(ev["cache"])
        row = moved(CACHE_HIT, _values(before, "caches", cache, "hit_ratio"),
                    _values(after, "caches", cache, "hit_ratio"), threshold)
        if row["before"] is not None:
            rows.append({**row, "subject": f"cache {cache}"})
    return rows


#: Which page-load measure a front-end finding claims to move: compression cuts the first view's bytes; immutable
#: caching of hashed assets cuts the repeat view's (they come from the browser cache). Load times are shown but
#: claimed by none: on loopback the wire costs nothing, so compressing can make a load slower there while it saves
#: the bytes a real network pays for (RFC 9111 §5.2.2 for immutable; nginx gzip module docs).
FRONTEND_CLAIMS = {"CDN001": ("repeat view", "transferred_bytes"), "CDN003": ("first view", "transferred_bytes")}


def frontend_rows(finding: dict[str, Any], page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page-load rows (`page_rows`) a front-end finding claims (FRONTEND_CLAIMS); [] for the others, which
    are judged by re-analysis alone."""
    claim = FRONTEND_CLAIMS.get(finding.get("rule", ""))
    return [r for r in page if claim and (r["subject"], r["metric"]) == claim]


def page_rows(comparison: dict[str, Any], threshold: float) -> list[dict[str, Any]]:
    """The first page load's metrics (advisor.pageload.compare_loads) as measured rows (see `moved`; lower is
    better for bytes and times), with "subject" the view ("first view": empty cache, "repeat view")."""
    rows = []
    for name, m in (comparison.get("metrics") or {}).items():
        metric = Metric(name.split("_view_", 1)[-1], m["unit"], True)
        row = moved(metric, list(m["before_values"]), list(m["after_values"]), threshold)
        rows.append({**row, "subject": m["view"].replace("_", " ")})
    return rows


def verdict(applied: bool, rows: list[dict[str, Any]], resolved: bool | None) -> str:
    """CONFIRMED when a claimed metric moved (or, with nothing measured, the finding no longer fires after the
    change); WORSE when one moved the wrong way beyond the spread; else NOT_CONFIRMED, or NOT_MEASURED when
    there is neither a measurement nor a re-analysis."""
    if not applied:
        return NOT_APPLIED
    if any(r["direction"] == "worse" and r["beyond_spread"] for r in rows):
        return WORSE
    if any(r["moved"] for r in rows):
        return CONFIRMED
    if not rows:
        if resolved is None:
            return NOT_MEASURED
        return CONFIRMED if resolved else NOT_CONFIRMED
    return NOT_CONFIRMED
