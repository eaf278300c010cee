"""Configured values from real /actuator/configprops and /actuator/env answers (Boot 3.5 with values shown,
Boot 3.5 with Boot 3's default masking, Boot 2.7), and the /actuator/metrics fallback's reading of real
/actuator/metrics/{name} answers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzers.actuator import metrics_api, props
from tests.actuator.conftest import FIXTURES


def load(app: str, name: str):
    p = FIXTURES / app / name
    return json.loads(p.read_text()) if p.exists() else None


def test_boot35_pool_and_per_cache_ttls_are_found_generically():
    got = props.extract(load("boot35-shop", "configprops.json"), None, ["products", "categories"])
    p = got["properties"]
    assert p["spring.datasource.hikari.maximum-pool-size"] == 2
    assert p["spring.datasource.hikari.connection-timeout"] == 30000
    assert p["spring.datasource.hikari.leak-detection-threshold"] == 0
    assert p["spring.datasource.hikari.max-lifetime"] == 1800000
    assert p["spring.cache.redis.time-to-live"] is None  # spring.cache is configured without a TTL
    assert got["per_cache_ttl"]["products"] == {
        "property": "shop.cache.ttl.products", "value": "PT1S", "ttl_s": 1.0, "env": "SHOP_CACHE_TTL_PRODUCTS",
        "source": "configprops", "sanitized": False, "cache": "products"}
    assert got["per_cache_ttl"]["categories"]["ttl_s"] == 600.0
    assert got["pools"][0]["pool_name"] == "shop" and got["pools"][0]["prefix"] == "spring.datasource.hikari"
    assert got["sanitized"] == []
    assert got["boot_generation"] == "3.x"


def test_only_caches_seen_in_metrics_are_matched():
    got = props.extract(load("boot35-shop", "configprops.json"), None, ["other"])
    assert got["per_cache_ttl"] == {}


def test_boot27_second_pool_under_its_own_prefix_and_a_ttl_map_under_another_name():
    got = props.extract(load("boot27-catalog", "configprops.json"), load("boot27-catalog", "env.json"),
                        ["items", "prices"])
    p = got["properties"]
    assert p["spring.datasource.hikari.maximum-pool-size"] == 4
    assert p["reporting.datasource.maximum-pool-size"] == 2
    assert p["spring.cache.redis.time-to-live"] == "PT10M"
    assert got["per_cache_ttl"]["items"]["property"] == "catalog.caching.expiry.items"
    assert got["per_cache_ttl"]["items"]["ttl_s"] == 45.0
    assert "prices" not in got["per_cache_ttl"]  # it has no TTL property of its own
    assert {pool["pool_name"] for pool in got["pools"]} == {"main", "reporting"}
    assert got["boot_generation"] == "2.x"


def test_boot27_env_alone_gives_the_set_properties_as_written():
    got = props.extract(None, load("boot27-catalog", "env.json"), ["items"])
    p = got["properties"]
    assert p["spring.datasource.hikari.maximum-pool-size"] == "4"
    assert p["spring.cache.redis.time-to-live"] == "10m"
    assert got["per_cache_ttl"]["items"]["value"] == "45s"
    assert got["per_cache_ttl"]["items"]["source"] == "env"


def test_boot3_masked_values_stay_sanitized_and_are_listed():
    got = props.extract(load("boot35-shop-masked", "configprops.json"), load("boot35-shop-masked", "env.json"),
                        ["products", "categories"])
    p = got["properties"]
    assert p["spring.datasource.hikari.maximum-pool-size"] == "******"
    assert "spring.datasource.hikari.maximum-pool-size" in got["sanitized"]
    assert got["per_cache_ttl"]["products"]["sanitized"] is True
    assert got["per_cache_ttl"]["products"]["ttl_s"] is None
    assert got["pools"][0]["pool_name"] is None


def test_passwords_never_leave_configprops_unmasked():
    for app in ("boot35-shop", "boot27-catalog", "boot35-shop-masked"):
        got = props.extract(load(app, "configprops.json"), load(app, "env.json"), [])
        assert "not-a-real-secret" not in json.dumps(got)


@pytest.mark.parametrize("text,seconds", [("PT1S", 1.0), ("PT10M", 600.0), ("PT0.5S", 0.5), ("P1D", 86400.0),
                                          ("PT1H30M", 5400.0), ("1s", 1.0), ("500ms", 0.5), ("10m", 600.0),
                                          ("2d", 172800.0), ("PT-0.001S", -0.001)])
def test_duration_s(text, seconds):
    assert props.duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["P", "PT", "10", 10, None, "******", "10 minutes", "abc"])
def test_not_a_duration(value):
    assert props.duration_s(value) is None


@given(st.text(max_size=40))
def test_duration_s_never_raises(text):
    props.duration_s(text)


def test_names():
    assert props.kebab("timeToLive") == "time-to-live"
    assert props.env_var("spring.datasource.hikari.maximum-pool-size") == "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"
    assert props.env_var("shop.cache.ttl.products") == "SHOP_CACHE_TTL_PRODUCTS"


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                    max_leaves=20))
def test_extract_survives_any_json(doc):
    props.extract(doc, doc, ["a", ""])
    props.extract({"contexts": {"x": {"beans": {"b": {"prefix": "p", "properties": doc}}}}}, None, ["a"])


def test_metrics_endpoint_answers_become_canonical_series():
    q = metrics_api.Query("hikaricp.connections.usage", (("pool", "shop"),))
    v = metrics_api.values(load("boot35-shop", "metrics_hikaricp.connections.usage.json"), q)
    assert v == {'hikaricp_connections_usage_seconds_count{pool="shop"}': 13599.0,
                 'hikaricp_connections_usage_seconds_sum{pool="shop"}': 4.36,
                 'hikaricp_connections_usage_seconds_max{pool="shop"}': 0.068}
    q = metrics_api.Query("cache.gets", (("cache", "products"), ("result", "hit")))
    v = metrics_api.values(load("boot35-shop", "metrics_cache.gets_products_hit.json"), q)
    assert list(v) == ['cache_gets_total{cache="products",result="hit"}']
    q = metrics_api.Query("hikaricp.connections.active", (("pool", "main"),))
    v = metrics_api.values(load("boot27-catalog", "metrics_hikaricp.connections.active.json"), q)
    assert list(v) == ['hikaricp_connections_active{pool="main"}']
    assert metrics_api.values("not json", q) == {}
