"""The arithmetic behind the TTL advice: pure functions, no I/O.

TTL set on write (Spring's RedisCache: an entry lives `T` seconds after the miss that wrote it). For a key read
as a Poisson process of rate λ, every miss is followed by a period of length T in which each read hits, so
the hit ratio is

    h = λT / (1 + λT)                                  (Jung, Berger, Balakrishnan, "Modeling TTL-based
                                                         Internet Caches", IEEE INFOCOM 2003, eq. for
                                                         Poisson arrivals; also Fofack et al. 2014)

so the odds h/(1−h) grow linearly with T. Given a measured hit ratio at a known TTL, the key population's
*effective* read rate is λ = h / ((1−h)T), and the TTL that reaches a target hit ratio h* is
T* = h* / ((1−h*) λ). The model treats every key as read at one rate; popular keys hit more, rare keys less,
so the prediction is an estimate — the load-test comparison is what proves it.

Staleness: if each row behind the cache is updated as a Poisson process of rate μ (updates per second per
row) and a read finds the entry at an age uniform in [0, T], the share of reads that return a value older
than the row's last update is

    s(T) = 1 − (1 − e^(−μT)) / (μT)                    (≈ μT/2 for small μT)

and the longest TTL whose stale-read share stays under a bound s_max solves s(T) = s_max.
"""

from __future__ import annotations

import math

#: The TTLs perfadvisor recommends: values people write in configuration (s).
TTL_LADDER_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def hit_ratio(rate_per_key_s: float, ttl_s: float) -> float:
    """h = λT/(1+λT) (see the module docstring). rate in reads per second per key, TTL in s."""
    x = max(0.0, rate_per_key_s) * max(0.0, ttl_s)
    return x / (1.0 + x)


def effective_rate(measured_hit_ratio: float, ttl_s: float) -> float | None:
    """λ = h/((1−h)T): the per-key read rate (1/s) that explains a measured hit ratio at TTL T; None when
    h is 0 or 1 (no information about λ) or T ≤ 0."""
    if ttl_s <= 0 or not 0.0 < measured_hit_ratio < 1.0:
        return None
    return measured_hit_ratio / ((1.0 - measured_hit_ratio) * ttl_s)


def ttl_for_hit_ratio(target_hit_ratio: float, rate_per_key_s: float) -> float:
    """T* = h*/((1−h*)λ) in s. Raises ValueError for a target outside (0, 1) or a rate ≤ 0."""
    if not 0.0 < target_hit_ratio < 1.0 or rate_per_key_s <= 0:
        raise ValueError("target hit ratio must be in (0, 1) and the rate > 0")
    return target_hit_ratio / ((1.0 - target_hit_ratio) * rate_per_key_s)


def stale_read_share(update_rate_per_row_s: float, ttl_s: float) -> float:
    """s(T) = 1 − (1 − e^(−μT))/(μT) (see the module docstring)."""
    x = max(0.0, update_rate_per_row_s) * max(0.0, ttl_s)
    if x < 1e-9:
        return x / 2.0
    return 1.0 - (1.0 - math.exp(-x)) / x


def staleness_cap_s(update_rate_per_row_s: float, max_stale_share: float) -> float | None:
    """The longest TTL (s) whose stale-read share stays at or under `max_stale_share`; None when rows are
    never updated (no bound). Solved with scipy's brentq on s(T) − s_max."""
    if update_rate_per_row_s <= 0:
        return None
    if not 0.0 < max_stale_share < 1.0:
        raise ValueError("max_stale_share must be in (0, 1)")
    from scipy.optimize import brentq

    # s(T) rises monotonically from 0 towards 1; μT = 2·s_max is the first-order solution, bracket around it.
    hi = max(1.0, 4.0 * max_stale_share / update_rate_per_row_s)
    while stale_read_share(update_rate_per_row_s, hi) < max_stale_share:
        hi *= 2.0
    return float(brentq(lambda t: stale_read_share(update_rate_per_row_s, t) - max_stale_share, 0.0, hi))


def round_ttl_down(seconds: float) -> int:
    """The largest value of TTL_LADDER_S not above `seconds` (at least the ladder's first value)."""
    fitting = [t for t in TTL_LADDER_S if t <= seconds]
    return fitting[-1] if fitting else TTL_LADDER_S[0]


def duration_text(seconds: float) -> str:
    """A TTL as Spring Boot's Duration converter and people write it: 90 → "90s", 300 → "5m", 7200 → "2h"."""
    s = int(round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def parse_duration_s(value) -> float | None:
    """Seconds from a TTL as an application reports it: a number of ms (Spring's Duration default unit when
    bare), an ISO-8601 duration (`PT1S`, `PT10M`, Boot's configprops form) or `1s`/`10m`/`2h`/`500ms`/`1d`.
    None when it is not one of these (e.g. a sanitized "******")."""
    import re

    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0
    text = str(value).strip()
    m = re.fullmatch(r"(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?",
                     text, re.I)
    if m and any(m.group(i) for i in range(2, 6)):
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups()[1:])
        total = d * 86400 + h * 3600 + mi * 60 + s
        return -total if m.group(1) else total
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)?", text, re.I)
    if not m:
        return None
    factor = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    return float(m.group(1)) * factor[(m.group(2) or "ms").lower()]


def wilson_interval(successes: float, trials: float, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion (Wilson 1927; Brown, Cai, DasGupta 2001 recommend it over
    the normal approximation for small counts). None when trials ≤ 0."""
    if trials <= 0:
        return None
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
