"""series.py on snapshot sections the collector recorded from the running sample stack under the Locust
workload (tests/fixtures/actuator/shop-sections): pool, route and cache figures and their invariants."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.actuator import series
from analyzers.actuator.exposition import series_key


def section(sections, name):
    return sections[name]["actuator"]


def col(sec, key, i=0):
    return sec["instances"][i]["series"][key]


def test_frames_have_one_column_per_series_indexed_by_time(sections):
    sec = section(sections, "shop-pool2")
    [(name, df)] = series.frames(sec)
    assert name == "127.0.0.1:18481"
    assert isinstance(df, pd.DataFrame) and df.index.name == "t_s" and len(df) == 41
    assert 'hikaricp_connections_pending{pool="shop"}' in df.columns
    assert not any(c.split("{")[0].endswith("_bucket") for c in df.columns)
    assert df.index.is_monotonic_increasing


def test_pool_of_two_under_load_waits(sections):
    [p] = series.pool_stats(section(sections, "shop-pool2"))
    assert (p.pool, p.source, p.max_size, p.samples) == ("shop", "hikaricp", 2.0, 41)
    assert p.window_s == pytest.approx(40, abs=0.5)
    assert p.pending_share > 0.5 and p.pending.max > 2
    assert p.active.max <= p.max_size and p.max.mean == p.max.max == 2 and p.min.max == 2
    assert p.demand.mean == pytest.approx(p.active.mean + p.pending.mean)
    # the figures come from the counters' increase over the window
    c = col(section(sections, "shop-pool2"), 'hikaricp_connections_acquire_seconds_count{pool="shop"}')
    assert p.acquires == c[-1] - c[0]
    assert p.request_rate_per_s == pytest.approx(p.acquires / p.window_s)
    # Little's law: connections in use = rate × mean hold time
    assert p.busy_mean == pytest.approx(p.usages / p.window_s * p.usage_mean_ms / 1000, rel=0.01)
    assert p.busy_mean <= p.max_size
    assert p.acquire_mean_ms > 5 and p.acquire_p95_ms is not None and p.acquire_max_ms >= p.acquire_mean_ms
    assert p.timeouts == 0


def test_pool_of_ten_under_the_same_load_barely_waits(sections):
    [p] = series.pool_stats(section(sections, "shop-pool10"))
    [p2] = series.pool_stats(section(sections, "shop-pool2"))
    assert p.max_size == 10 and p.pending_share < 0.25 < p2.pending_share
    assert p.acquire_mean_ms < 1 < p2.acquire_mean_ms


def test_http_routes_sum_over_instances(sections):
    two = section(sections, "shop-2replicas-pool30")
    stats = {(h.uri, h.method, h.status): h for h in series.http_stats(two)}
    h = stats[("/api/products/{id}", "GET", "200")]
    assert h.instances == 2
    one_each = [series.increase(inst["series"][series_key("http_server_requests_seconds_count", {
        "method": "GET", "status": "200", "uri": "/api/products/{id}"})], False) for inst in two["instances"]]
    assert h.count == pytest.approx(sum(one_each))
    assert h.p95_source == "buckets" and 0 < h.mean_ms and h.p95_ms <= h.max_ms * 1.5
    assert h.rate_per_s == pytest.approx(sum(c / inst_w for c, inst_w in zip(
        one_each, [i["t_s"][-1] - i["t_s"][0] for i in two["instances"]], strict=True)))
    counts = [x.count for x in series.http_stats(two)]
    assert counts == sorted(counts, reverse=True)


def test_cache_figures_exclude_pending_and_show_the_short_ttl(sections):
    stats = {c.cache: c for c in series.cache_stats(section(sections, "shop-pool2"))}
    prod, cat = stats["products"], stats["categories"]
    assert prod.gets == prod.hits + prod.misses and prod.pending is not None
    assert prod.hit_ratio < 0.5 < cat.hit_ratio  # the 1-second TTL against the 10-minute one
    assert prod.gets_per_s == pytest.approx(prod.gets / prod.window_s)
    assert prod.removals == 0 and prod.evictions is None  # Redis caches publish no cache_evictions
    ts = prod.hit_ratio_series
    assert len(ts["t_s"]) == len(ts["values"]) == 40
    assert all(v is None or 0 <= v <= 1 for v in ts["values"])
    assert prod.name == "products"


def test_configured_merges_instances_with_one_reserved_key(sections):
    got = series.configured(section(sections, "shop-pool2"))
    assert got["spring.datasource.hikari.maximum-pool-size"] == 2
    assert got["spring.cache.redis.time-to-live"] is None
    assert got["per_cache_ttl"]["products"]["property"] == "shop.cache.ttl.products"
    assert got["per_cache_ttl"]["products"]["instances"] == ["127.0.0.1:18481"]
    # configprops timed out on both replicas: nothing is known, nothing is made up
    assert series.configured(section(sections, "shop-2replicas-pool30")) == {"per_cache_ttl": {}}


def _one_sample(sec):
    """The section as `--sample 0` gives it: one scrape (the recording's last), mode since_start."""
    inst = dict(sec["instances"][0])
    inst["t_s"] = [0.0]
    inst["series"] = {k: v[-1:] for k, v in inst["series"].items()}
    inst["histograms"] = {"t_s": [0.0], "first": inst["histograms"]["last"], "last": inst["histograms"]["last"]}
    return {**sec, "window": {**sec["window"], "mode": "since_start", "duration_s": 0.0}, "instances": [inst]}


def test_since_start_reads_totals_over_the_uptime(sections):
    sec = _one_sample(section(sections, "shop-pool2"))
    [p] = series.pool_stats(sec)
    uptime = col(section(sections, "shop-pool2"), "process_uptime_seconds")[-1]
    total = col(section(sections, "shop-pool2"), 'hikaricp_connections_acquire_seconds_count{pool="shop"}')[-1]
    assert p.since_start and p.window_s == uptime and p.acquires == total
    assert p.request_rate_per_s == pytest.approx(total / uptime)
    [c] = [c for c in series.cache_stats(sec) if c.cache == "products"]
    assert c.since_start and c.hit_ratio_series == {}


@pytest.mark.parametrize("values,whole,expected", [
    ([1, 2, 5], False, 4), ([5, 1, 3], False, 3), ([None, None, 2, 4], False, 4), ([3, None, 7], False, 4),
    ([7], True, 7), ([7], False, None), ([None, None], False, None), ([], False, None)])
def test_increase(values, whole, expected):
    assert series.increase(values, whole) == expected


def test_histogram_quantile():
    assert series.histogram_quantile(0.5, {0.1: 0, 0.2: 10, math.inf: 10}) == pytest.approx(0.15)
    assert series.histogram_quantile(0.95, {0.1: 50, math.inf: 100}) == 0.1
    assert series.histogram_quantile(0.95, {0.1: 0, math.inf: 0}) is None


@given(st.lists(st.one_of(st.none(), st.floats(0, 1e6)), max_size=20), st.booleans())
def test_increase_is_never_negative(values, whole):
    r = series.increase(values, whole)
    assert r is None or r >= 0


def test_missing_section_parts_give_empty_answers():
    empty = {"window": {"mode": "window"}, "instances": [{"name": "x", "t_s": [], "series": {}}]}
    assert series.pool_stats(empty) == [] and series.http_stats(empty) == [] and series.cache_stats(empty) == []
    assert series.configured({}) == {"per_cache_ttl": {}}
