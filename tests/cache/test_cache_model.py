"""The TTL model (analyzers/cache/model.py), checked against its closed forms and against a simulation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.cache import model


def simulate_ttl_cache(rate_per_s: float, ttl_s: float, horizon_s: float, seed: int = 7) -> float:
    """Hit ratio of one key read as a Poisson process under TTL-on-write, by simulation."""
    rng = random.Random(seed)
    t, expires, hits, reads = 0.0, -1.0, 0, 0
    while t < horizon_s:
        t += rng.expovariate(rate_per_s)
        reads += 1
        if t < expires:
            hits += 1
        else:
            expires = t + ttl_s
    return hits / reads


@pytest.mark.parametrize("rate, ttl", [(0.1, 5), (1.0, 1), (0.02, 120), (5.0, 0.5)])
def test_hit_ratio_formula_matches_a_simulated_ttl_cache(rate, ttl):
    simulated = simulate_ttl_cache(rate, ttl, horizon_s=200_000 / rate)
    assert model.hit_ratio(rate, ttl) == pytest.approx(simulated, abs=0.01)


def test_effective_rate_and_target_ttl_invert_each_other():
    lam = model.effective_rate(0.025, 1.0)
    assert lam == pytest.approx(0.025 / 0.975)
    t = model.ttl_for_hit_ratio(0.8, lam)
    assert model.hit_ratio(lam, t) == pytest.approx(0.8)
    assert model.effective_rate(0.0, 1) is None and model.effective_rate(1.0, 1) is None
    with pytest.raises(ValueError):
        model.ttl_for_hit_ratio(1.0, lam)


def test_staleness_cap_solves_the_stale_share():
    mu = 0.002  # a row updated every 500 s on average
    cap = model.staleness_cap_s(mu, 0.05)
    assert model.stale_read_share(mu, cap) == pytest.approx(0.05, abs=1e-6)
    assert cap == pytest.approx(2 * 0.05 / mu, rel=0.1)  # first-order μT/2
    assert model.staleness_cap_s(0.0, 0.05) is None


def test_stale_share_matches_a_simulation():
    rng = random.Random(3)
    mu, ttl, stale, n = 0.01, 60.0, 0, 40_000
    for _ in range(n):
        age = rng.uniform(0, ttl)  # the entry's age when read
        stale += rng.expovariate(mu) < age  # an update happened since it was written
    assert model.stale_read_share(mu, ttl) == pytest.approx(stale / n, abs=0.01)


def test_ttl_text_and_parsing():
    assert [model.duration_text(s) for s in (1, 90, 300, 7200, 86400)] == ["1s", "90s", "5m", "2h", "1d"]
    assert model.round_ttl_down(170) == 120 and model.round_ttl_down(0.2) == 1
    assert model.parse_duration_s("PT1S") == 1 and model.parse_duration_s("PT10M") == 600
    assert model.parse_duration_s("10m") == 600 and model.parse_duration_s("500ms") == 0.5
    assert model.parse_duration_s(60000) == 60 and model.parse_duration_s("******") is None
    assert model.parse_duration_s("P1DT2H") == 93600


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=False), st.none(), st.booleans()))
def test_duration_parser_never_raises(value):
    out = model.parse_duration_s(value)
    assert out is None or isinstance(out, float)


def test_wilson_interval_contains_the_proportion_and_narrows():
    lo, hi = model.wilson_interval(25, 1000)
    assert lo < 0.025 < hi and hi - lo < 0.03
    lo2, hi2 = model.wilson_interval(2, 80)
    assert hi2 - lo2 > hi - lo
    assert model.wilson_interval(0, 0) is None
