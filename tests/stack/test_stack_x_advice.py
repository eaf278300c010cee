"""Pool, cache, Redis and profile advice on the sample stack as shipped, sampled under the Locust workload.

Each planted problem of sample_workloads/shop/README.md that these analyzers cover must be found with the
evidence and the setting that fixes it; test_stack_yy_fixed.py runs the same analysis on the fixed stack
and asserts that none of these findings remains."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .advice import analyze_under_load


@pytest.fixture(scope="module")
def advice(stack, tmp_path_factory):
    return analyze_under_load(stack, tmp_path_factory.mktemp("advice-planted"))


def test_the_analysis_ran_every_target_in_one_window(advice):
    assert advice.exit_code == 0, advice.output
    targets = advice.report["targets"]
    assert {a: targets[a]["status"] for a in ("postgres", "actuator", "redis", "profile")} == dict.fromkeys(
        ("postgres", "actuator", "redis", "profile"), "ok"), targets
    starts = {advice.snapshot[a]["window"]["started_at"] for a in ("actuator", "redis", "profile")}
    assert len(starts) == 1, starts  # one window, not one after the other
    assert advice.snapshot["postgres"]["activity"]["mode"] == "window"
    assert advice.locust_rc in (0, 1), advice.locust_rc


def test_the_pool_of_two_is_undersized_with_a_sensible_size(advice):
    (f,) = [f for f in advice.findings("POOL001")]
    assert f["action"]["property"] == "spring.datasource.hikari.maximum-pool-size"
    assert f["action"]["env"] == "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"
    assert 6 <= int(f["action"]["value"]) <= 20, f["action"]
    # Its severity follows the measured wait, which varies with how busy the machine is (medium in a quiet CI run).
    assert f["severity"] in ("critical", "high", "medium") and f["confidence"] == "estimated"


def test_the_one_second_product_ttl_gets_a_longer_ttl(advice):
    by_cache = {f["evidence"]["cache"]: f for f in advice.findings("CACHE001")}
    assert "products" in by_cache, [f["title"] for f in advice.report["findings"]]
    f = by_cache["products"]
    assert f["evidence"]["ttl_s"] == 1 and f["evidence"]["hit_ratio"] < 0.2
    assert f["action"]["property"] == "shop.cache.ttl.products" and f["action"]["env"] == "SHOP_CACHE_TTL_PRODUCTS"
    assert f["evidence"]["recommended_ttl_s"] >= 10
    assert f["evidence"]["table"] == "public.products"  # the staleness bound comes from the products table
    assert "categories" not in by_cache  # a 10-minute TTL is not judged on a 25 s window


def test_the_uncached_report_is_a_caching_candidate(advice):
    uris = {f["evidence"]["uri"]: f for f in advice.findings("CACHE002")}
    assert "/api/reports/top-products" in uris, [f["title"] for f in advice.report["findings"]]
    f = uris["/api/reports/top-products"]
    assert f["evidence"]["statements"] and "order_items" in f["evidence"]["statements"][0]["query"]
    assert not any(u.startswith("/api/products/{id}") for u in uris)  # cached, fast endpoints are not candidates


def test_redis_without_maxmemory_is_found(advice):
    (f,) = advice.findings("CACHE004")
    assert any(line.startswith("maxmemory ") for line in f["action"]["redis_conf"])
    assert any(line.startswith("maxmemory-policy ") for line in f["action"]["redis_conf"])


def test_the_workers_hot_spot_is_named(advice):
    (f,) = [f for f in advice.findings("PROFILE001") if f["evidence"]["process"]["label"] == "shop_worker.py"]
    top = f["evidence"]["hot_functions"][0]
    assert top["function"] == "invoice_checksum" and top["file"].endswith("shop_worker.py")
    assert top["self_share"] >= 0.5 and not top["library"]
    assert f["action"]["kind"] == "code_change" and f["action"]["function"] == "invoice_checksum"
    assert f["id"] == "PROFILE001:shop_worker.py:shop_worker.invoice_checksum"
    ET.fromstring(f["evidence"]["flamegraph_svg"])


def test_the_report_shows_the_samples_and_hides_the_redis_password(advice, stack):
    html = (advice.out / "report.html").read_text()
    assert html.count("<svg") >= 2  # pool and cache series drawn
    secret = stack.stack.redis_password()
    for name in ("report.html", "report.md", "report.json", "snapshot.json", "report.sarif"):
        assert secret not in (advice.out / name).read_text(), name
    assert secret not in advice.output


def test_the_order_history_n_plus_one_is_tied_to_its_endpoint(advice):
    (f,) = [f for f in advice.findings("PG007") if f["id"] == "PG007:public.orders->public.order_items(order_id)"]
    assert f["confidence"] == "estimated"
    assert not [g for g in advice.findings("PG007") if "FOR UPDATE" in json_text(g)]
    per_request = [g for g in advice.findings("PG015") if "/api/customers/{id}/orders" in g["id"]]
    assert per_request, [g["id"] for g in advice.report["findings"]]


def json_text(finding: dict) -> str:
    import json

    return json.dumps(finding["evidence"])
