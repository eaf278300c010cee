"""The statistics of `perfadvisor compare`: pure functions over two samples of per-unit values (one value per run,
or per steady-state batch of seconds when there are no replicate runs).

- Effect: the relative change of the mean, after / before − 1 (for an error rate: the absolute change of the
  share), with a percentile bootstrap 95% interval (Efron & Tibshirani, *An Introduction to the Bootstrap*,
  1993, ch. 13; scipy.stats.bootstrap, the two samples resampled independently).
- Test: Mann-Whitney U, two-sided (scipy.stats.mannwhitneyu; exact for small samples), Holm's step-down
  correction over the family of tests (Holm, "A simple sequentially rejective multiple test procedure",
  Scand. J. Statist. 6, 1979).
- Verdict: improved / regressed need a Holm-adjusted p below alpha, an interval that excludes no change and an
  effect at least the threshold; ~ (no significant change) needs the interval inside ±threshold and units that
  could have detected a change of the threshold's size (enough of them for the test to reach significance at
  the corrected level, and a minimum detectable effect within the threshold); anything else is inconclusive,
  with the minimum detectable effect and the units that would settle it.
- Power: the two-sample normal approximation (Cohen, *Statistical Power Analysis*, 1988) divided by the
  Mann-Whitney test's asymptotic relative efficiency 3/π against the t-test (Lehmann, *Nonparametrics*, 1975).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

#: Bootstrap resamples: the percentile interval's end points are stable to about 0.1 point at this count.
N_RESAMPLES = 2000
#: Power used for the minimum detectable effect and the units needed (Cohen's conventional 80%).
POWER = 0.8
#: Up to this many units in all, Mann-Whitney's p-value is exact (C(40, 20) orderings are still cheap for scipy's
#: recursion); above, the normal approximation is accurate (Mann & Whitney 1947).
EXACT_MAX_UNITS = 40
#: Asymptotic relative efficiency of Mann-Whitney against the t-test under normality (Lehmann 1975).
MW_ARE = 3.0 / math.pi

IMPROVED, REGRESSED, NO_CHANGE, INCONCLUSIVE, INVALID = "improved", "regressed", "~", "inconclusive", "invalid"


@dataclass(frozen=True)
class Effect:
    """before/after: means of the units; change: relative (after/before − 1) or, when `absolute`, after − before;
    ci: bootstrap 95% interval of `change` (None with fewer than 2 units a side); p: Mann-Whitney two-sided."""

    before: float | None
    after: float | None
    change: float | None
    ci: tuple[float, float] | None
    p: float | None
    n_before: int
    n_after: int
    absolute: bool = False


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.array([float(v) for v in values if v is not None and math.isfinite(float(v))], dtype=float)


def effect(before: Sequence[float | None], after: Sequence[float | None], absolute: bool = False,
           seed: int = 1, n_resamples: int = N_RESAMPLES) -> Effect:
    """The change from `before` to `after` (units' values), its interval and its test."""
    a, b = _clean(before), _clean(after)
    if not len(a) or not len(b):
        return Effect(None, None, None, None, None, len(a), len(b), absolute)
    ma, mb = float(a.mean()), float(b.mean())
    if absolute:
        change = mb - ma
    elif ma > 0:
        change = mb / ma - 1.0
    else:
        return Effect(ma, mb, None, None, None, len(a), len(b), absolute)
    ci = _bootstrap(a, b, absolute, seed, n_resamples) if len(a) >= 2 and len(b) >= 2 else None
    p = _mann_whitney(a, b) if len(a) >= 2 and len(b) >= 2 else None
    return Effect(ma, mb, change, ci, p, len(a), len(b), absolute)


def _bootstrap(a: np.ndarray, b: np.ndarray, absolute: bool, seed: int,
               n_resamples: int = N_RESAMPLES) -> tuple[float, float] | None:
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread: every resample gives the point value
        point = b[0] - a[0] if absolute else (b[0] / a[0] - 1.0 if a[0] else math.nan)
        return (float(point), float(point)) if math.isfinite(point) else None

    def stat(x, y, axis=-1):
        mx, my = np.mean(x, axis=axis), np.mean(y, axis=axis)
        if absolute:
            return my - mx
        with np.errstate(divide="ignore", invalid="ignore"):
            return my / mx - 1.0

    with np.errstate(divide="ignore", invalid="ignore"):  # a resample whose before-mean is 0: dropped below
        res = sps.bootstrap((a, b), stat, n_resamples=n_resamples, method="percentile", vectorized=True,
                            confidence_level=0.95, rng=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


def _mann_whitney(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0  # every value equal: no evidence of a difference (scipy would divide by zero)
    # Exact (scipy handles ties) while the permutation count is small; the normal approximation with the tie
    # correction beyond.
    method = "exact" if len(a) + len(b) <= EXACT_MAX_UNITS else "asymptotic"
    return float(sps.mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the input order (None stays None and is not counted in the family)."""
    idx = sorted((i for i, p in enumerate(pvalues) if p is not None), key=lambda i: pvalues[i])
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


def min_units_exact(alpha: float) -> int:
    """Fewest units per side (equal sizes) for which a two-sided exact Mann-Whitney test can reach p < alpha:
    its smallest p-value is 2 / C(2n, n)."""
    n = 2
    while 2.0 / math.comb(2 * n, n) >= alpha:
        n += 1
    return n


def _z(q: float) -> float:
    return float(sps.norm.ppf(q))


def min_detectable(e: Effect, before: Sequence[float | None], after: Sequence[float | None],
                   alpha: float) -> float | None:
    """The smallest change (same scale as `e.change`) detectable with POWER at `alpha` with these units."""
    a, b = _clean(before), _clean(after)
    if len(a) < 2 or len(b) < 2 or e.before is None:
        return None
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) / math.sqrt(MW_ARE)
    mde = (_z(1 - alpha / 2) + _z(POWER)) * se
    if e.absolute:
        return mde
    return mde / e.before if e.before > 0 else None


def units_needed(before: Sequence[float | None], after: Sequence[float | None], threshold: float,
                 alpha: float, absolute: bool = False) -> int | None:
    """Units per side to detect a change of `threshold` (relative, or absolute when `absolute`) with POWER at
    `alpha`: n = 2 (z₁₋α/₂ + z_power)² s² / (Δ² · ARE), and never fewer than min_units_exact(alpha)."""
    a, b = _clean(before), _clean(after)
    if len(a) < 2 or len(b) < 2 or threshold <= 0:
        return None
    var = (a.var(ddof=1) + b.var(ddof=1)) / 2
    delta = threshold if absolute else threshold * float(a.mean())
    if delta <= 0:
        return None
    n = 2 * (_z(1 - alpha / 2) + _z(POWER)) ** 2 * var / (delta ** 2 * MW_ARE)
    return max(min_units_exact(alpha), math.ceil(n))


def verdict(e: Effect, p_adjusted: float | None, alpha: float, threshold: float, lower_is_better: bool,
            can_detect: bool = True) -> str:
    """improved, regressed, ~ or inconclusive (see the module docstring). `can_detect`: whether these units could
    have shown a change of the threshold's size at all (enough units for the test to reach significance, and a
    minimum detectable effect within the threshold); without it a narrow interval is no evidence of no change —
    the percentile bootstrap is too narrow on a handful of runs."""
    if e.change is None or e.ci is None or p_adjusted is None:
        return INCONCLUSIVE
    lo, hi = e.ci
    excludes_zero = lo > 0 or hi < 0
    if p_adjusted < alpha and excludes_zero and abs(e.change) >= threshold:
        worse = e.change > 0 if lower_is_better else e.change < 0
        return REGRESSED if worse else IMPROVED
    if can_detect and -threshold < lo and hi < threshold:
        return NO_CHANGE
    return INCONCLUSIVE


def lag1_autocorrelation(values: Sequence[float | None]) -> float | None:
    """Lag-1 autocorrelation of a series (None with fewer than 4 values or no spread)."""
    x = _clean(values)
    if len(x) < 4 or np.ptp(x) == 0:
        return None
    d = x - x.mean()
    return float(np.dot(d[:-1], d[1:]) / np.dot(d, d))
