"""Key-name grouping, printable names, the estimators and the RESP reader: pure units."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.redis.keyspace import domain_total, fpc_z, group_stats, prefix_stats, wilson
from analyzers.redis.names import group_of, is_variable, printable, spring_cache_name
from analyzers.redis.scan import quantile, ttl_summary


@pytest.mark.parametrize("key, prefix, kind", [
    (b"app:cache:orders::42", b"app:cache:orders::", "spring"),
    (b"orders::SimpleKey [1, EUR]", b"orders::", "spring"),
    (b"tenant:8812:cache:items::7", b"tenant:*:cache:items::", "spring"),
    (b"a::b::c", b"a::b::", "spring"),       # the last :: (issue 7's rule)
    (b"user:1234:profile", b"user:*:", "colon"),
    (b"user:99:profile", b"user:*:", "colon"),
    (b"session:9f86d081884c7d65", b"session:", "colon"),
    (b"jobs:queue", b"jobs:", "colon"),
    (b"a:b:c:d:e:f", b"a:b:c:", "colon"),   # at most MAX_DEPTH segments
    (b"x:550e8400-e29b-41d4-a716-446655440000:y", b"x:*:", "colon"),
    (b"bin:\xff\xfe:k", b"bin:*:", "colon"),
    (b"plainkey", b"", "none"),
    (b"", b"", "none"),
])
def test_group_of(key, prefix, kind):
    assert group_of(key) == (prefix, kind)


def test_spring_cache_name_and_variable_segments():
    assert spring_cache_name("app:cache:orders::") == "orders"
    assert spring_cache_name("orders::") == "orders"
    assert spring_cache_name("user:*:") is None
    assert spring_cache_name("::") is None
    assert is_variable(b"2024") and is_variable(b"a1b2c3d4") and not is_variable(b"products")
    assert not is_variable(b"v2") and not is_variable(b"order-jobs") and is_variable(b"x" * 40)


def test_printable_names():
    assert printable(b"app:cache:orders::42") == "app:cache:orders::42"
    assert printable("Käse:1".encode()) == "Käse:1"
    assert printable(b"bin:\xff\x00") == "b'bin:\\xff\\x00'"
    assert printable(b"line\r\nbreak") == "b'line\\r\\nbreak'"
    assert printable(b"\x1b[31mred") == "b'\\x1b[31mred'"
    long = printable(b"k" * 500)
    assert long.endswith("…(500 bytes)") and len(long) < 230


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_key_groups_and_prints(key):
    prefix, kind = group_of(key)
    shown = printable(key)
    assert kind in ("spring", "colon", "none")
    assert shown.isprintable()
    json.dumps([shown, printable(prefix)])


def test_wilson_interval():
    lo, hi = wilson(5, 10)
    assert lo < 0.5 < hi and 0 < lo and hi < 1
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)
    assert fpc_z(100, 100) == 0.0 and fpc_z(100, 10_000) == pytest.approx(1.959964 * math.sqrt(9900 / 9999))


def test_domain_total_matches_simulation():
    """The standard error of the domain-total estimator matches the spread over repeated samples."""
    rng = random.Random(7)
    population = [(rng.random() < 0.3, rng.choice([100, 200, 5000])) for _ in range(20_000)]
    truth = sum(m for in_group, m in population if in_group)
    n = 2000
    estimates, ses = [], []
    for _ in range(300):
        sample = rng.sample(population, n)
        ys = [m for in_group, m in sample if in_group]
        est, se = domain_total(sum(ys), sum(y * y for y in ys), n, len(population))
        estimates.append(est)
        ses.append(se)
    mean = sum(estimates) / len(estimates)
    sd = math.sqrt(sum((e - mean) ** 2 for e in estimates) / (len(estimates) - 1))
    assert abs(mean - truth) / truth < 0.02
    assert 0.8 < (sum(ses) / len(ses)) / sd < 1.25
    covered = sum(abs(e - truth) <= 1.96 * s for e, s in zip(estimates, ses, strict=True)) / len(estimates)
    assert covered > 0.9


def _group(**kw):
    g = {"prefix": "a:cache:x::", "kind": "spring", "spring_cache_name": "x", "keys_sampled": 100,
         "types": {"string": 100}, "ttl_known": 100, "no_ttl": 25, "ttl_s": {"min": 1, "p50": 5, "p90": 9, "max": 10},
         "memory_known": 100, "memory_sum_bytes": 10_000, "memory_sumsq_bytes2": 1_000_000, "vanished_keys": 0,
         "biggest": [{"key": "a:cache:x::1", "type": "string", "memory_bytes": 100, "ttl_s": 3.0, "elements": None}]}
    g.update(kw)
    return g


def test_group_stats_bounded_and_complete():
    s = group_stats(_group(), n=1000, total=10_000)
    assert s.keys_estimated == 1000
    assert s.keys_estimated_low < 1000 < s.keys_estimated_high and not s.exact
    assert s.memory_bytes_estimated == pytest.approx(100_000)
    assert s.memory_bytes_low < 100_000 < s.memory_bytes_high
    assert s.no_ttl_share == 0.25 and s.no_ttl_share_low < 0.25 < s.no_ttl_share_high
    assert s.ttl_s.p90_s == 9 and s.biggest[0].key == "a:cache:x::1"
    full = group_stats(_group(), n=1000, total=1000)
    assert full.exact and full.keys_estimated_error == 0 and full.memory_bytes_error == 0
    unknown_total = group_stats(_group(), n=1000, total=1000, total_known=False)
    assert not unknown_total.exact
    no_mem = group_stats(_group(memory_known=0), n=1000, total=10_000)
    assert no_mem.memory_bytes_estimated is None and no_mem.memory_bytes_error is None
    json.dumps(s.to_dict(), allow_nan=False)


def test_prefix_stats_order_and_missing_keyspace():
    section = {"keyspace": {"keys_sampled": 200, "dbsize": 200, "groups": [
        _group(prefix="small::", memory_sum_bytes=10, memory_sumsq_bytes2=100),
        _group(prefix="large::", memory_sum_bytes=99_999, memory_sumsq_bytes2=10**9)]}}
    assert [s.prefix for s in prefix_stats(section)] == ["large::", "small::"]
    assert prefix_stats({"keyspace": None}) == [] and prefix_stats({}) == []


def test_quantiles():
    v = sorted(float(i) for i in range(1, 11))
    assert quantile(v, 0.5) == 5 and quantile(v, 0.9) == 9 and quantile(v, 1.0) == 10 and quantile(v, 0) == 1
    assert ttl_summary([]) is None and ttl_summary([3.0]) == {"min": 3.0, "p50": 3.0, "p90": 3.0, "max": 3.0}


def test_ttl_reservoir_keeps_everything_then_a_uniform_sample():
    import random as rnd

    from analyzers.redis.scan import TTL_RESERVOIR, _Group
    g = _Group(b"p:", "colon")
    g.add_ttls(list(range(5000)), rnd.Random(1))
    assert sorted(g.ttls_ms) == list(range(5000)) and g.ttl_seen == 5000
    r = rnd.Random(2)
    for start in range(5000, 200_000, 1000):  # batches, as the scan offers them
        g.add_ttls(list(range(start, start + 1000)), r)
    assert g.ttl_seen == 200_000 and len(g.ttls_ms) == TTL_RESERVOIR
    kept = sorted(g.ttls_ms)
    # uniform over 0..199,999: the deciles of the reservoir sit near 20,000 × k
    for k in range(1, 10):
        assert abs(kept[k * TTL_RESERVOIR // 10] - 20_000 * k) < 3_000  # 3 standard errors
    assert len(set(kept)) == TTL_RESERVOIR  # sampled without replacement


KEY = st.one_of(st.binary(max_size=20), st.builds(lambda a, b: a + b"::" + b, st.binary(max_size=8), st.binary(max_size=8)),
                st.builds(lambda a, n: a + b":%d" % n, st.sampled_from([b"user", b"x:cache", b"a:b:c:d"]),
                          st.integers(0, 10**6)))


@settings(max_examples=150, deadline=None)
@given(st.lists(KEY, min_size=1, max_size=40))
def test_batch_grouping_matches_group_of(keys):
    from analyzers.redis import conn
    from analyzers.redis.scan import KeyspaceSampler, Limits
    sampler = KeyspaceSampler(None, conn.parse_target("redis://127.0.0.1:1/0"), Limits())
    got = {}
    for g, idx in sampler._groups_of(keys):
        for i in idx:
            assert i not in got
            got[i] = g.prefix
    assert got == {i: group_of(k)[0] for i, k in enumerate(keys)}
