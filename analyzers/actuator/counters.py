"""Counter and gauge arithmetic over sampled series: pure functions, no pandas.

Counters: `increase` reads a counter's growth over the samples as Prometheus' ``increase()`` does (a drop is a
restart: the new value counts from zero) and, for a series absent at the first sample, counts from zero
(Micrometer registers a meter on first use). Histograms: `histogram_quantile` interpolates linearly inside the
bucket, as Prometheus' ``histogram_quantile`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from analyzers.actuator.exposition import parse_key


@dataclass(frozen=True)
class Summary:
    """A gauge over the window's samples: mean, 95th percentile (linear), maximum."""

    mean: float
    p95: float
    max: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def clean(values: Iterable[Any]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        out.append(float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                   else None)
    return out


def increase(values: list[Any], whole: bool) -> float | None:
    """A counter's increase over the samples (reset-aware; a series absent at the first sample counts from
    0), or with `whole` (one scrape, since start) its last value. None when it was never seen, or when a
    window has fewer than two samples."""
    vals = clean(values)
    present = [v for v in vals if v is not None]
    if not present:
        return None
    if whole:
        return present[-1]
    if len(vals) < 2:
        return None
    prev = 0.0 if vals[0] is None else None
    total = 0.0
    for v in vals:
        if v is None:
            continue
        if prev is not None:
            total += v - prev if v >= prev else v
        prev = v
    return total


def summary(values: Iterable[Any]) -> Summary | None:
    vals = [v for v in clean(values) if v is not None]
    if not vals:
        return None
    arr = np.asarray(vals, dtype=float)
    return Summary(float(arr.mean()), float(np.percentile(arr, 95)), float(arr.max()))


def max_of(values: Iterable[Any]) -> float | None:
    vals = [v for v in clean(values) if v is not None]
    return max(vals) if vals else None


def last(values: Iterable[Any]) -> float | None:
    vals = [v for v in clean(values) if v is not None]
    return vals[-1] if vals else None


def window_s_of(inst: dict[str, Any], whole: bool) -> float | None:
    if whole:
        return last(v for k, vals in (inst.get("series") or {}).items() if k == "process_uptime_seconds"
                     for v in vals)
    t = inst.get("t_s") or []
    return float(t[-1] - t[0]) if len(t) >= 2 and t[-1] > t[0] else None


def to_ms(x: float | None) -> float | None:
    return None if x is None else x * 1000.0


def ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The q-quantile (0 < q < 1) of a cumulative histogram {upper bound `le`: count}, interpolating linearly
    inside the bucket (Prometheus' histogram_quantile). None without observations. When the quantile falls
    in the +Inf bucket the largest finite bound is returned."""
    items = sorted(buckets.items())
    if not items or items[-1][1] <= 0:
        return None
    total = items[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in items:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def bucket_deltas(inst: dict[str, Any], name: str, match: dict[str, str], whole: bool) -> dict[float, float]:
    """{le: count in the window} of the buckets of `name` whose labels (other than le) equal `match`."""
    hist = inst.get("histograms") or {}
    first, last = hist.get("first") or {}, hist.get("last") or {}
    out: dict[float, float] = {}
    for key, end in last.items():
        if not key.startswith(name + "{"):
            continue
        n, labels = parse_key(key)
        le = labels.pop("le", None)
        if n != name or le is None or labels != match or end is None:
            continue
        start = first.get(key)
        delta = end if whole or start is None else (end - start if end >= start else end)
        try:
            out[float(le)] = out.get(float(le), 0.0) + delta
        except ValueError:
            continue
    return out


def keys_with(inst: dict[str, Any], name: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for key in inst.get("series") or {}:
        if key == name or key.startswith(name + "{"):
            n, labels = parse_key(key)
            if n == name:
                out.append((key, labels))
    return out
