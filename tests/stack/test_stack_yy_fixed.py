"""The proof that the advice works: a second stack with the planted problems fixed the way the README says
(pool of 10, product TTL of 10 minutes, the missing indexes) runs the same workload, and every detector
that fires on the stack as shipped stays quiet — so those tests can tell a broken stack from a fixed one."""

from __future__ import annotations

import os

import psycopg
import pytest
import redis

from .advice import analyze_under_load
from .conftest import PORT_OFFSET, running_stack
from .load import aggregated, cache_hit_ratio, pool_summary, run_load

FIXED_ENV = {"SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE": "10", "SPRING_DATASOURCE_HIKARI_MINIMUMIDLE": "10",
             "SHOP_CACHE_TTL_PRODUCTS": "10m", "SHOP_CACHE_TTL_REPORTS": "5m"}
#: Redis with a memory bound; volatile-lru because the order-job stream (no TTL) shares the instance.
FIXED_REDIS = {"maxmemory": "256mb", "maxmemory-policy": "volatile-lru"}
FIX_SQL = [
    "CREATE INDEX products_category_created_idx ON products (category_id, created_at DESC, id DESC)",
    "CREATE INDEX reviews_product_created_idx ON reviews (product_id, created_at DESC)",
    "CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC)",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops)",
    "ANALYZE products, reviews, orders",
]


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    os.environ["SHOP_CHECKSUM"] = "sha256"  # the worker's fix (hashlib), read when the worker starts
    try:
        ctx = running_stack(PORT_OFFSET + 100, FIXED_ENV)
        s = ctx.__enter__()
    finally:
        del os.environ["SHOP_CHECKSUM"]
    try:
        with psycopg.connect(s.admin_dsn, autocommit=True) as conn:
            for sql in FIX_SQL:
                conn.execute(sql)
        r = redis.Redis(host="127.0.0.1", port=s.ports.redis, password=s.stack.redis_password())
        for name, value in FIXED_REDIS.items():
            r.config_set(name, value)
        yield s, run_load(s, tmp_path_factory.mktemp("locust-fixed"))
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="module")
def fixed_advice(fixed, tmp_path_factory):
    s, _ = fixed
    return analyze_under_load(s, tmp_path_factory.mktemp("advice-fixed"))


def test_the_fixed_stack_gets_none_of_the_pool_cache_and_profile_findings(fixed_advice):
    a = fixed_advice
    assert a.exit_code == 0, a.output
    titles = [f"{f['rule']} {f['title']}" for f in a.report["findings"]]
    print("\n".join(titles))
    assert not a.findings("POOL001"), titles
    assert not [f for f in a.findings("CACHE001") if f["evidence"]["cache"] == "products"], titles
    assert not [f for f in a.findings("CACHE002") if f["evidence"]["uri"] == "/api/reports/top-products"], titles
    assert not a.findings("CACHE004"), titles
    assert not [f for f in a.findings("PROFILE001")
                if f["evidence"]["hot_functions"][0]["function"] == "invoice_checksum"], titles


def test_the_fixed_stack_serves_the_workload_without_failures(fixed):
    _, run = fixed
    assert run.failures == [] and run.returncode == 0, run.output
    assert int(aggregated(run)["Request Count"]) > 200


def test_with_a_pool_of_10_requests_no_longer_wait_for_connections(fixed):
    _, run = fixed
    max_pending, busy, seen = pool_summary(run)
    print("fixed", seen)
    # The planted-pool test demands pending in at least 30% of the samples (measured 68-79%); here 4-5%. A
    # momentary peak while Locust spawns its users can happen here too, so the peak is not compared.
    assert busy < 0.15, seen


def test_with_a_10_minute_ttl_the_product_cache_hits(fixed):
    _, run = fixed
    hits, misses = cache_hit_ratio(run)
    print(f"fixed product cache: {hits:.0f} hits, {misses:.0f} misses")
    # The planted-TTL test demands a ratio below 0.1 (measured 2-3%); here 21-23%.
    assert hits / (hits + misses) >= 0.12, (hits, misses)


def test_the_indexes_replace_the_planted_scans(fixed):
    s, run = fixed
    # (orders is still scanned by the top-products report, which filters on created_at: not a planted index.)
    assert run.scans_after["reviews"] - run.scans_before["reviews"] <= 2, (run.scans_before, run.scans_after)
    with psycopg.connect(s.admin_dsn) as conn:
        for sql in ("SELECT id FROM reviews WHERE product_id = 5 ORDER BY created_at DESC LIMIT 20",
                    "SELECT id FROM orders WHERE customer_id = 5 ORDER BY created_at DESC LIMIT 10",
                    "SELECT id FROM products WHERE category_id = 3 ORDER BY created_at DESC, id DESC LIMIT 21"):
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql))
            assert "Seq Scan" not in plan, plan
        # With 5,000 products (SF 0.25) the planner may rightly prefer reading the whole table to the trigram
        # index for a one-trigram pattern. Here: the index can serve a leading-wildcard ILIKE at all.
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT id FROM products WHERE name ILIKE '%oak%' ORDER BY name, id LIMIT 20"))
        assert "products_name_trgm_idx" in plan, plan


PLANTED_STATEMENTS = {
    "reviews of a product": "%FROM reviews r JOIN customers c%WHERE r.product_id = $1%",
    "orders of a customer": "%FROM orders%WHERE customer_id = $1 ORDER BY created_at DESC%",
    "products of a category": "%FROM products%WHERE category_id = $1 ORDER BY created_at DESC%",
}


def statement_means_ms(dsn: str) -> dict[str, float]:
    """mean_exec_time of each planted statement, from pg_stat_statements."""
    means = {}
    with psycopg.connect(dsn) as conn:
        for name, pattern in PLANTED_STATEMENTS.items():
            row = conn.execute("SELECT sum(total_exec_time) / sum(calls) FROM pg_stat_statements WHERE query LIKE %s",
                               (pattern,)).fetchone()
            means[name] = row[0]
    return means


def test_the_fixed_stack_is_faster_for_the_same_workload(stack, planted_load, fixed):
    fixed_stack, run = fixed
    before, after = statement_means_ms(stack.admin_dsn), statement_means_ms(fixed_stack.admin_dsn)
    print("mean exec ms before → after:", {k: f"{before[k]:.2f} → {after[k]:.2f}" for k in before})
    for name in PLANTED_STATEMENTS:
        assert before[name] and after[name] and after[name] < 0.3 * before[name], (name, before[name], after[name])
    wait_before, wait_after = planted_load.acquire_mean_ms(), run.acquire_mean_ms()
    print(f"mean wait for a connection {wait_before:.1f} ms → {wait_after:.1f} ms")
    assert wait_after < 0.2 * wait_before
    b, a = aggregated(planted_load), aggregated(run)
    print(f"Locust mean {float(b['Average Response Time']):.0f} ms → {float(a['Average Response Time']):.0f} ms, "
          f"p95 {b['95%']} → {a['95%']} ms")
    # Not asserted: end-to-end latency on this 2-core machine, where Locust, the JVM and PostgreSQL share
    # the CPU, moves with JIT warm-up as much as with the fixes (measured: 256 → 107 ms, and 22 → 20 ms).
