"""The pgshop sample: load the schema and seed into a database, then run its workload through real client
connections (psycopg, server-side parameters, so pg_stat_statements records `$n` placeholders).

Each query is planted to exercise one part of the index advisor; see README.md in this folder.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

HERE = Path(__file__).parent


def load(dsn: str, scale: float = 1.0) -> None:
    """Create the schema and seed it (scale 1.0: 50k customers and products, 400k orders, 1.2M order
    items). The seeding session does not record its statements in pg_stat_statements."""
    seed = (HERE / "seed.sql").read_text().replace(":scale", repr(float(scale)))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        conn.execute((HERE / "schema.sql").read_text())
        conn.execute(seed)


@dataclass(frozen=True)
class Query:
    """One statement of the workload: SQL with %s parameters, how often, and how to draw parameters."""

    name: str
    sql: str
    weight: int


QUERIES = [
    # missing (customer_id, created_at): equality + range
    Query("orders_of_customer_since",
          "SELECT id, total_cents, created_at FROM orders WHERE customer_id = %s AND created_at >= %s "
          "ORDER BY created_at DESC", 12),
    # typed literal: pg_stat_statements stores `interval $2`; served by the same index
    Query("recent_orders_count",
          "SELECT count(*) FROM orders WHERE customer_id = %s AND created_at > now() - interval '365 days'", 8),
    # ORDER BY … LIMIT: missing (category_id, created_at)
    Query("products_by_category",
          "SELECT id, name, price_cents FROM products WHERE category_id = %s ORDER BY created_at DESC LIMIT 20", 40),
    # join through the unindexed foreign key order_items.order_id
    Query("order_with_items",
          "SELECT o.id, o.created_at, oi.product_id, oi.quantity FROM orders o "
          "JOIN order_items oi ON oi.order_id = o.id WHERE o.id = %s", 8),
    # expression index: lower(email)
    Query("customer_by_email", "SELECT id, name FROM customers WHERE lower(email) = lower(%s)", 8),
    # low selectivity (3 values): must not get an index
    Query("revenue_by_channel", "SELECT count(*), sum(total_cents) FROM orders WHERE channel = %s", 3),
    # served by the unique index on sku: no recommendation
    Query("product_by_sku", "SELECT id, name, price_cents FROM products WHERE sku = %s", 15),
    # arithmetic on two constants: `$2 + $3`, which PREPARE cannot type without help
    Query("big_recent_orders",
          "SELECT count(*) FROM orders WHERE created_at >= now() - interval '30 days' AND total_cents > 40000 + 2500", 2),
    # substring search: no B-tree helps; a pg_trgm GIN index would (PG006, heuristic)
    Query("search_products", "SELECT id, name FROM products WHERE name ILIKE %s ORDER BY id LIMIT 20", 6),
    # a write by primary key
    Query("touch_order", "UPDATE orders SET status = %s WHERE id = %s", 6),
    Query("audit", "INSERT INTO audit_log (event) VALUES (%s)", 4),
]


def _params(q: Query, rnd: random.Random, scale: float):
    customers = max(1, int(50000 * scale))
    products = max(1, int(50000 * scale))
    orders = max(1, int(400000 * scale))
    if q.name == "orders_of_customer_since":
        return (rnd.randint(1, customers), datetime(2024, 6, 1, tzinfo=UTC) + timedelta(days=rnd.randint(0, 300)))
    if q.name == "recent_orders_count":
        return (rnd.randint(1, customers),)
    if q.name == "products_by_category":
        return (rnd.randint(1, 200),)
    if q.name == "order_with_items":
        return (rnd.randint(1, orders),)
    if q.name == "customer_by_email":
        g = rnd.randint(1, customers)
        return (f"User{g}@example.{('com', 'org', 'net')[g % 3]}",)
    if q.name == "revenue_by_channel":
        return (rnd.choice(["web", "app", "phone"]),)
    if q.name == "product_by_sku":
        return (f"SKU-{rnd.randint(1, products):08d}",)
    if q.name == "search_products":
        return (f"%duct {rnd.randint(1, 999)}9%",)
    if q.name == "touch_order":
        return (rnd.choice(["paid", "shipped"]), rnd.randint(1, orders))
    if q.name == "audit":
        return (rnd.choice(["login", "logout", "view"]),)
    return ()


def run(dsn: str, scale: float = 1.0, iterations: int = 400, clients: int = 4, seed: int = 7) -> int:
    """Run `iterations` weighted-random queries spread over `clients` connections; returns queries run.

    Also creates a session temp table and queries it: a statement that cannot be EXPLAINed afterwards
    (its relation no longer exists), which the advisor must report with its share.
    """
    names = [q for q in QUERIES for _ in range(q.weight)]
    done = [0] * clients
    errors: list[BaseException] = []

    def client(i: int) -> None:
        rnd = random.Random(seed + i)
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                if i == 0:
                    conn.execute("CREATE TEMP TABLE cart_tmp AS SELECT id AS product_id, 1 AS qty "
                                 "FROM products WHERE id %% 500 = %s", (1,))
                    for _ in range(2):
                        conn.execute("SELECT count(*), sum(c.qty * oi.quantity) FROM cart_tmp c "
                                     "JOIN order_items oi ON oi.product_id = c.product_id WHERE c.qty > %s",
                                     (0,)).fetchall()
                for _ in range(iterations // clients):
                    q = rnd.choice(names)
                    conn.execute(q.sql, _params(q, rnd, scale)).fetchall() if q.sql.startswith("SELECT") \
                        else conn.execute(q.sql, _params(q, rnd, scale))
                    done[i] += 1
        except BaseException as e:  # surfaced below, with the others' work kept
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(done)
