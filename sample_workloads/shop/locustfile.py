"""Locust workload for the sample shop (compose/): weighted user journeys with realistic think times.

Run against the stack started by `perfadvisor demo up` (nginx on 18088, /api proxied to the back end):

    locust -f sample_workloads/shop/locustfile.py --headless -u 50 -r 10 -t 60s --host http://127.0.0.1:18088

Every request is named by its route template (``/api/products/{id}``), not its concrete URL, so the
statistics aggregate per endpoint. Environment:

    SHOP_SCALE        the seed scale factor of the database (default 1.0): ids are drawn within it
    SHOP_THINK_SCALE  multiplies every think time (default 1.0; 0.1 for a quick smoke run)

Journeys (weights): browse 30, view a product and its reviews 30, search 15, order history 10,
checkout 8, the admin report 1.
"""

from __future__ import annotations

import os
import random

import gevent
from locust import FastHttpUser, between, task

SCALE = float(os.environ.get("SHOP_SCALE", "1.0"))
THINK = float(os.environ.get("SHOP_THINK_SCALE", "1.0"))
# The same sizes as compose/postgres/02-seed.sql.
N_CUSTOMERS = max(10, round(50_000 * SCALE))
N_PRODUCTS = max(10, round(20_000 * SCALE))
N_CATEGORIES = 40
SEARCH_TERMS = ["oak", "lamp", "steel", "linen", "kettle", "wool", "desk", "glass", "mug", "bamboo",
                "leather", "speaker", "vase", "cork", "backpack"]


def popular_product() -> int:
    """A product id skewed like the seed's sales: the square of a uniform variable favours low ids."""
    return 1 + int(N_PRODUCTS * random.random() ** 2)


def think(low_s: float, high_s: float) -> None:
    """A pause between the steps of one journey (cooperative: locust runs users as greenlets)."""
    gevent.sleep(random.uniform(low_s, high_s) * THINK)


class ShopUser(FastHttpUser):
    """A shopper; the pause between journeys is 5 to 15 s (scaled by SHOP_THINK_SCALE).

    FastHttpUser keeps Locust's own CPU low, which matters when it shares two cores with the stack.
    """

    host = "http://127.0.0.1:18088"
    wait_time = between(5 * THINK, 15 * THINK)

    def on_start(self) -> None:
        self.customer_id = random.randint(1, N_CUSTOMERS)

    def _get(self, path: str, name: str, **params):
        with self.client.get(path, params=params or None, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
            return r

    def view_product(self, product_id: int) -> None:
        self._get(f"/api/products/{product_id}", "/api/products/{id}")
        think(0.5, 2)
        self._get(f"/api/products/{product_id}/reviews", "/api/products/{id}/reviews", limit=20)

    @task(30)
    def browse(self) -> None:
        self._get("/api/categories", "/api/categories")
        category = random.randint(1, N_CATEGORIES)
        for page in range(random.randint(1, 3)):
            think(1, 3)
            self._get("/api/products", "/api/products?category={category}", category=category, page=page, size=20)

    @task(30)
    def product_and_reviews(self) -> None:
        self.view_product(popular_product())

    @task(15)
    def search(self) -> None:
        self._get("/api/products/search", "/api/products/search?q={q}", q=random.choice(SEARCH_TERMS), limit=20)

    @task(10)
    def order_history(self) -> None:
        self._get(f"/api/customers/{self.customer_id}/orders", "/api/customers/{id}/orders", limit=10)

    @task(8)
    def checkout(self) -> None:
        lines = [{"productId": popular_product(), "quantity": random.randint(1, 3)}
                 for _ in range(random.randint(1, 4))]
        for line in lines:
            self._get(f"/api/products/{line['productId']}", "/api/products/{id}")
            think(0.5, 2)
        body = {"customerId": self.customer_id, "items": lines}
        with self.client.post("/api/orders", json=body, name="/api/orders", catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"HTTP {r.status_code}")

    @task(1)
    def admin_report(self) -> None:
        self._get("/api/reports/top-products", "/api/reports/top-products?days={days}", days=30, limit=10)
