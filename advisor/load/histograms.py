"""Latency histograms: HdrHistogram at 3 significant digits, in microseconds, mergeable across workers.

Locust rounds the response times it keeps to about two significant figures (locust/stats.py,
``round_response_time``); a 10% change between two runs can vanish in that rounding. HdrHistogram
(Gil Tene, hdrhistogram.org) keeps every value within 0.1% at 3 significant digits over the whole range, and two
histograms add exactly, so a worker's histogram can be shipped to the master and merged without loss.

Values are recorded in microseconds from 1 µs to one hour; a value above the range is recorded at the top of
the range (and counted by the caller as clamped). Encoded form: HdrHistogram's compressed V2 encoding in base64
(the same bytes the Java and C libraries read).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from hdrh.histogram import HdrHistogram

#: Smallest value told apart (µs).
LOWEST_US = 1
#: Largest value kept (µs): one hour; Locust's own timeouts are far below.
HIGHEST_US = 3_600_000_000
#: Significant decimal digits kept (issue 8: "HdrHistograms at 3 significant digits").
SIGNIFICANT_FIGURES = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def record_ms(hist: HdrHistogram, value_ms: float) -> bool:
    """Records a response time given in ms (Locust's unit). Returns False when it was clamped to the range."""
    us = int(round(float(value_ms) * 1000.0))
    if us < LOWEST_US:
        hist.record_value(LOWEST_US)
        return us >= 0
    if us > HIGHEST_US:
        hist.record_value(HIGHEST_US)
        return False
    hist.record_value(us)
    return True


def encode(hist: HdrHistogram) -> str:
    """Base64 text of the compressed histogram."""
    data = hist.encode()
    return data.decode("ascii") if isinstance(data, bytes) else str(data)


def decode(text: str) -> HdrHistogram:
    """A histogram from `encode`'s text. Raises ValueError when the text is not an encoded histogram."""
    try:
        hist = HdrHistogram.decode(text.encode("ascii") if isinstance(text, str) else text)
    except Exception as e:  # noqa: BLE001 - hdrh raises several types (zlib.error, binascii.Error, HdrCookieException…)
        raise ValueError(f"not an encoded HdrHistogram ({type(e).__name__})") from None
    if hist is None:
        raise ValueError("not an encoded HdrHistogram")
    return hist


def merge(hists: Iterable[HdrHistogram | None]) -> HdrHistogram:
    """One histogram holding every value of `hists` (None entries are skipped)."""
    out = new_histogram()
    for h in hists:
        if h is not None and h.get_total_count():
            out.add(h)
    return out


def _counts(hist: HdrHistogram) -> np.ndarray:
    """The histogram's counts as a numpy view (hdrh keeps them in a ctypes array; a decoded histogram may hold a
    shorter payload than counts_len)."""
    n = min(hist.counts_len, hist.encoder.payload.counts_len)
    return np.ctypeslib.as_array(hist.counts)[:n]


def percentile_ms(hist: HdrHistogram, percentile: float) -> float | None:
    """The value (ms) at `percentile` (0-100], or None for an empty histogram: HdrHistogram's definition (the
    highest value equivalent to the bucket holding the ceil(p·N)-th value, so within 0.1% above the true order
    statistic), computed over the counts with numpy instead of hdrh's per-index Python loop."""
    total = hist.get_total_count()
    if not total:
        return None
    target = max(1, int(min(percentile, 100.0) * total / 100.0 + 0.5))
    index = int(np.searchsorted(np.cumsum(_counts(hist)), target))
    value = hist.get_value_from_index(index)
    return (hist.get_highest_equivalent_value(value) if percentile else
            hist.get_lowest_equivalent_value(value)) / 1000.0


def percentiles_ms(hist: HdrHistogram, percentiles: Sequence[float]) -> dict[float, float | None]:
    return {p: percentile_ms(hist, p) for p in percentiles}


_MEDIAN_VALUES: dict[int, np.ndarray] = {}


def _median_equivalent_values(hist: HdrHistogram) -> np.ndarray:
    """The value each count stands for (the middle of its bucket, as HdrHistogram's mean uses), per index;
    computed once per layout."""
    n = hist.counts_len
    if n not in _MEDIAN_VALUES:
        lows = [hist.get_value_from_index(i) for i in range(n)]
        _MEDIAN_VALUES[n] = np.array([low + (hist.get_highest_equivalent_value(low) - low + 1) // 2
                                      for low in lows], dtype=float)
    return _MEDIAN_VALUES[n]


def mean_ms(hist: HdrHistogram) -> float | None:
    """Mean (ms) as HdrHistogram defines it (each value at the middle of its bucket), with numpy."""
    total = hist.get_total_count()
    if not total:
        return None
    counts = _counts(hist)
    return float(np.dot(counts, _median_equivalent_values(hist)[:len(counts)])) / total / 1000.0


def count_at_or_below_ms(hist: HdrHistogram, limit_ms: float) -> int:
    """How many recorded values are ≤ limit_ms (to bucket precision: a bucket counts when its lowest equivalent
    value is ≤ the limit)."""
    counts = _counts(hist)
    limit_us = limit_ms * 1000.0
    if limit_us >= HIGHEST_US:
        return int(counts.sum())
    if limit_us < LOWEST_US:
        return 0
    last = hist.get_counts_array_index(int(limit_us))
    return int(counts[:last + 1].sum())
