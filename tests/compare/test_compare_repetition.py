"""Over many repetitions of two samples drawn from the same distribution, how often does compare's statistics
call a difference? The Mann-Whitney test should reject about alpha of the time (calibrated, not conservative
nor liberal), and a verdict — which also needs the effect to reach the threshold — should be at most that often
wrong. Generated data: per-window p95 values of a log-normal latency (what the window units look like)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.compare import stats as st

REPS = 400
#: Resamples per interval in these studies: enough for a verdict's interval, four times cheaper.
RESAMPLES = 500
ALPHA = 0.05


def _binomial_band(p: float, n: int, z: float = 3.0) -> tuple[float, float]:
    sd = math.sqrt(p * (1 - p) / n)
    return p - z * sd, p + z * sd


def _samples(rng, n: int, shift: float = 1.0) -> list[float]:
    # A window's p95 of ~200 log-normal latencies (median 50 ms, sigma 0.4): its spread is what the test sees.
    return [float(np.percentile(50 * shift * np.exp(rng.normal(0, 0.4, 200)), 95)) for _ in range(n)]


def test_no_change_false_rejection_rate_is_near_alpha():
    rng = np.random.default_rng(2024)
    rejections = verdicts = 0
    for rep in range(REPS):
        a, b = _samples(rng, 30), _samples(rng, 30)
        e = st.effect(a, b, seed=rep, n_resamples=RESAMPLES)
        rejections += e.p < ALPHA
        verdicts += st.verdict(e, e.p, ALPHA, 0.05, True) in (st.IMPROVED, st.REGRESSED)
    low, high = _binomial_band(ALPHA, REPS)
    assert low <= rejections / REPS <= high, rejections / REPS  # calibrated: about 5%, within 3 sd
    assert verdicts / REPS <= high  # a verdict also needs the 5% effect: never more often than the test rejects


def test_no_change_with_holm_keeps_the_family_wise_rate():
    """Five endpoints, none changed: the chance that any gets a verdict stays at or below alpha."""
    rng = np.random.default_rng(7)
    any_verdict = 0
    for rep in range(REPS // 4):
        effects = [st.effect(_samples(rng, 20), _samples(rng, 20), seed=rep, n_resamples=RESAMPLES)
                   for _ in range(5)]
        adjusted = st.holm([e.p for e in effects])
        any_verdict += any(st.verdict(e, p, ALPHA, 0.0, True) in (st.IMPROVED, st.REGRESSED)
                           for e, p in zip(effects, adjusted, strict=True))
    assert any_verdict / (REPS // 4) <= _binomial_band(ALPHA, REPS // 4)[1]


def test_a_30_percent_drop_is_found_nearly_always():
    rng = np.random.default_rng(5)
    found = sum(st.verdict(e, e.p, ALPHA, 0.05, True) == st.IMPROVED
                for e in (st.effect(_samples(rng, 20), _samples(rng, 20, 0.7), seed=i, n_resamples=RESAMPLES)
                          for i in range(100)))
    assert found >= 95


def test_bootstrap_interval_covers_the_true_change_about_95_percent_of_the_time():
    rng = np.random.default_rng(9)
    covered = 0
    n = 200
    for rep in range(n):
        a = 50 * np.exp(rng.normal(0, 0.3, 40))
        b = 45 * np.exp(rng.normal(0, 0.3, 40))  # true ratio of means 0.9
        e = st.effect(list(a), list(b), seed=rep, n_resamples=RESAMPLES)
        covered += e.ci[0] <= -0.1 <= e.ci[1]
    low, high = _binomial_band(0.95, n)
    assert low - 0.02 <= covered / n <= high, covered / n  # percentile intervals run a little narrow


def test_holm_matches_the_step_down_definition():
    # Holm 1979: sorted p × (m − rank), made monotone, capped at 1.
    assert st.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert st.holm([None, 0.5, None]) == [None, 0.5, None]
    assert st.holm([0.9, 0.8]) == [1.0, 1.0]  # 0.8 × 2 is capped at 1; monotone after it


def test_power_helpers():
    assert st.min_units_exact(0.05) == 4  # 2 / C(8, 4) = 0.029
    assert st.min_units_exact(0.05 / 15) == 6
    rng = np.random.default_rng(1)
    a, b = list(100 + rng.normal(0, 10, 20)), list(100 + rng.normal(0, 10, 20))
    e = st.effect(a, b)
    mde = st.min_detectable(e, a, b, 0.05)
    assert 0.05 < mde < 0.15  # (1.96 + 0.84) × 10·√(2/20) / √(3/π) / 100 ≈ 0.091
    assert st.units_needed(a, b, 0.05, 0.05) > 20  # a 5% change needs more than the 20 windows we have
    assert st.lag1_autocorrelation(list(range(10))) > 0.5
