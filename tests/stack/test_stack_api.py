"""The sample stack's back end, through nginx as a user reaches it: every endpoint, the metrics, secrets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest


def get(url: str, timeout_s: float = 10):
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def post_json(url: str, body: dict, timeout_s: float = 10):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


ENDPOINTS = [
    ("/api/categories", lambda b: len(b) == 40 and {"id", "name"} <= set(b[0])),
    ("/api/products?category=3&page=0&size=5", lambda b: 1 <= len(b["items"]) <= 5
     and [p["createdAt"] for p in b["items"]] == sorted((p["createdAt"] for p in b["items"]), reverse=True)),
    ("/api/products/7", lambda b: b["id"] == 7 and b["categoryName"] and b["priceCents"] > 0),
    ("/api/products/1/reviews?limit=5", lambda b: 1 <= len(b) <= 5 and b[0]["author"]),
    ("/api/products/search?q=oak&limit=5", lambda b: b and all("oak" in p["name"].lower() for p in b)),
    ("/api/customers/5/orders?limit=3", lambda b: b and all(o["items"] for o in b)),
    ("/api/reports/top-products?days=365&limit=3", lambda b: len(b) == 3 and b[0]["unitsSold"] >= b[1]["unitsSold"]),
]


@pytest.mark.parametrize("path,check", ENDPOINTS, ids=[e[0].split("?")[0] for e in ENDPOINTS])
def test_every_read_endpoint_answers_through_nginx(stack, path, check):
    status, headers, body = get(stack.urls.frontend.rstrip("/") + path)
    assert status == 200, body[:300]
    assert headers["Content-Type"].startswith("application/json")
    assert check(json.loads(body)), body[:500]


def test_unknown_product_is_404(stack):
    assert get(stack.urls.api + "/products/999999999")[0] == 404


def test_placing_an_order_decrements_stock_and_the_order_shows_in_the_history(stack):
    import psycopg

    base = stack.urls.frontend.rstrip("/")

    def stock_now() -> int:  # from the table: GET /api/products/{id} is cached and may be up to a TTL old
        with psycopg.connect(stack.admin_dsn) as conn:
            return conn.execute("SELECT stock FROM products WHERE id = 11").fetchone()[0]

    before = stock_now()
    status, placed = post_json(base + "/api/orders", {"customerId": 9, "items": [{"productId": 11, "quantity": 3}]})
    assert status == 201, placed
    assert placed["totalCents"] == 3 * json.loads(get(base + "/api/products/11")[2])["priceCents"]
    history = json.loads(get(base + "/api/customers/9/orders?limit=1")[2])
    assert history[0]["id"] == placed["id"]
    assert history[0]["items"] == [{"productId": 11, "productName": history[0]["items"][0]["productName"],
                                    "quantity": 3, "unitPriceCents": placed["totalCents"] // 3}]
    assert stock_now() == before - 3


def test_the_worker_invoices_placed_orders(stack):
    import time

    import psycopg

    status, placed = post_json(stack.urls.api + "/orders", {"customerId": 2, "items": [{"productId": 3, "quantity": 1}]})
    assert status == 201
    deadline = time.monotonic() + 30
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT checksum FROM invoices WHERE order_id = %s", (placed["id"],)).fetchone()
            if row:
                break
            time.sleep(0.3)
    assert row and len(row[0]) == 16, "the worker did not write the invoice within 30 s"


def test_prometheus_exposes_pool_request_and_cache_series(stack):
    get(stack.urls.api + "/products/2")  # at least one cached read
    status, _, body = get(stack.urls.prometheus)
    assert status == 200
    text = body.decode()
    for series in ("hikaricp_connections_pending{", "hikaricp_connections_max{", "hikaricp_connections_acquire_seconds_bucket{",
                   "http_server_requests_seconds_bucket{", "http_server_requests_seconds_count{",
                   "cache_gets_total{"):
        assert series in text, series
    assert 'cache="products"' in text and 'cache="categories"' in text
    assert 'hikaricp_connections_max{application="shop-backend",pool="shop"} 2.0' in text


def test_configprops_shows_the_planted_settings_and_no_secret(stack):
    status, _, body = get(stack.urls.actuator + "/configprops")
    assert status == 200
    text = body.decode()
    assert '"maximumPoolSize":2' in text
    assert '"products":"PT1S"' in text
    for name in ("postgres-shop-password", "redis-password"):
        secret = (stack.run_dir / "secrets" / name).read_text().strip()
        assert secret not in text


def test_no_password_in_any_log_or_command_line(stack):
    secrets = [(stack.run_dir / "secrets" / n).read_text().strip() for n in ("postgres-shop-password", "redis-password")]
    logs = list((stack.run_dir / "logs").glob("*.log")) + list(stack.run_dir.glob("*.log"))
    assert logs
    for log in logs:
        text = log.read_text(errors="replace")
        assert not any(s in text for s in secrets), log
    import psycopg

    with psycopg.connect(stack.admin_dsn) as conn:
        statements = " ".join(r[0] for r in conn.execute("SELECT query FROM pg_stat_statements"))
    assert not any(s in statements for s in secrets)
    from pathlib import Path

    for name in ("backend", "worker", "redis", "nginx"):
        cmdline = Path(f"/proc/{stack.proc_pid(name)}/cmdline").read_bytes().decode(errors="replace")
        assert not any(s in cmdline for s in secrets), name


def test_the_app_role_needs_its_password(stack):
    import psycopg

    dsn = f"postgresql://shop:wrong@127.0.0.1:{stack.ports.postgres}/shop"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn, connect_timeout=5).close()
