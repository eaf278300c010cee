"""CACHE001–003 as pure functions of their views (the views are built from real sections in the stack tests)."""

from __future__ import annotations

from analyzers.cache import rules
from analyzers.cache.rules import CacheView, EndpointView, TableWrites

TH = {"target_hit_ratio": rules.TARGET_HIT_RATIO, "min_gets": rules.MIN_GETS,
      "min_window_ttls": rules.MIN_WINDOW_TTLS, "max_ttl_s": rules.MAX_TTL_S,
      "max_stale_share": rules.MAX_STALE_SHARE, "slow_mean_ms": rules.SLOW_MEAN_MS,
      "min_time_share": rules.MIN_TIME_SHARE, "min_endpoint_calls": rules.MIN_ENDPOINT_CALLS,
      "stampede_gets_per_s": rules.STAMPEDE_GETS_PER_S, "stampede_max_ttl_s": rules.STAMPEDE_MAX_TTL_S}


def view(hits, misses, ttl_s, window_s=60.0, **kw):
    return CacheView(name=kw.pop("name", "items"), hits=hits, misses=misses, gets_per_s=(hits + misses) / window_s,
                     window_s=window_s, since_start=False, ttl_s=ttl_s, ttl_source="test",
                     ttl_property=kw.pop("prop", "app.cache.ttl.items"), **kw)


def test_a_one_second_ttl_with_few_hits_gets_a_longer_ttl():
    f, note = rules.cache001_ttl_too_short(view(25, 975, 1.0), None, TH)
    assert note is None and f.rule == "CACHE001" and f.confidence == "estimated"
    assert f.action == {"kind": "set_property", "property": "app.cache.ttl.items", "value": "2m",
                        "env": "APP_CACHE_TTL_ITEMS"}
    assert f.evidence["recommended_ttl_s"] == 120 and 0.7 < f.evidence["predicted_hit_ratio"] < 0.8
    assert f.impact["before"] > f.impact["after"] and "no staleness bound" in f.detail
    assert f.id == "CACHE001:items"


def test_the_staleness_bound_caps_the_ttl():
    tables = [TableWrites("public", "item", changes_per_s=2.0, live_rows=1000.0)]
    f, _ = rules.cache001_ttl_too_short(view(25, 975, 1.0), tables, TH)
    # μ = 0.002/s per row: a 5% stale-read bound allows ~51 s, rounded down to 30 s
    assert 50 < f.evidence["staleness_cap_s"] < 53
    assert f.action["value"] == "30s" and "public.item" in f.detail


def test_no_finding_when_the_ratio_is_good_or_the_evidence_thin():
    assert rules.cache001_ttl_too_short(view(900, 100, 1.0), None, TH) == (None, None)
    assert rules.cache001_ttl_too_short(view(2, 40, 1.0), None, TH) == (None, None)  # 42 lookups: too few


def test_a_ttl_longer_than_the_window_is_not_judged():
    f, note = rules.cache001_ttl_too_short(view(220, 780, 600.0, window_s=30.0), None, TH)
    assert f is None and "longer than the window can judge" in note


def test_an_unknown_ttl_is_said():
    f, note = rules.cache001_ttl_too_short(view(25, 975, None), None, TH)
    assert f is None and "could not be told" in note


def test_the_shared_property_is_named_as_shared():
    f, _ = rules.cache001_ttl_too_short(view(25, 975, 1.0, prop=None), None, TH)
    assert f.action["property"] == "spring.cache.redis.time-to-live"
    assert f.action["env"] == "SPRING_CACHE_REDIS_TIMETOLIVE" and "applies to every Redis cache" in f.detail


def test_table_matching_is_by_name_or_plural_and_refuses_ambiguity():
    t = [TableWrites("public", "products", 1, 10), TableWrites("public", "orders", 1, 10)]
    assert rules.table_for("product", t).table == "products" and rules.table_for("products", t).table == "products"
    assert rules.table_for("users", t) is None
    assert rules.table_for("orders", t + [TableWrites("archive", "orders", 1, 10)]) is None


def test_slow_uncached_endpoint_needs_its_statement_on_every_request():
    stmt = {"query": "SELECT sum(quantity) FROM order_items …", "calls": 20, "mean_exec_time_ms": 650.0}
    e = EndpointView("/api/reports/top", "GET", 20, 700.0, 900.0, 0.1, [stmt])
    f = rules.cache002_uncached_slow_endpoint(e, True, TH)
    assert f.rule == "CACHE002" and f.confidence == "heuristic" and "runs on every request" in f.detail
    cached = EndpointView("/api/reports/top", "GET", 20, 700.0, 900.0, 0.1, [])
    assert rules.cache002_uncached_slow_endpoint(cached, True, TH) is None
    assert "could not be checked" in rules.cache002_uncached_slow_endpoint(cached, False, TH).detail
    assert rules.cache002_uncached_slow_endpoint(EndpointView("/x", "POST", 20, 700, None, 0.1, [stmt]), True, TH) is None
    assert rules.cache002_uncached_slow_endpoint(EndpointView("/x", "GET", 20, 40, None, 0.1, [stmt]), True, TH) is None


def test_stampede_risk_on_hot_short_lived_entries():
    hot = view(500, 5500, 1.0, window_s=60.0)
    assert rules.cache003_stampede_risk(hot, TH).rule == "CACHE003"
    assert rules.cache003_stampede_risk(view(500, 5500, 600.0), TH) is None
    assert rules.cache003_stampede_risk(view(5, 55, 1.0), TH) is None


def test_relaxed_binding_names():
    assert rules.env_name("spring.datasource.hikari.maximum-pool-size") == "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"
    assert rules.env_name("shop.cache.ttl.products") == "SHOP_CACHE_TTL_PRODUCTS"
