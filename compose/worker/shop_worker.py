"""The sample shop's worker: the stack's Python process, for the heavy asynchronous work.

It consumes order jobs from a Redis stream (XREADGROUP, consumer group ``workers``) that the back end
writes when an order is placed, and for each order:

- renders an invoice document and stores it, with its checksum, in ``invoices``;
- adds the order's items to ``product_stats`` (units sold, revenue).

Planted problem: ``invoice_checksum`` is a hand-written pure-Python hash run over the document again for
every line (quadratic, and repeated ``CHECKSUM_COPIES`` times). It dominates the worker's CPU time and shows
up at the top of a py-spy dump or record; ``hashlib.sha256(document.encode()).hexdigest()`` does the same
job in microseconds.

Configuration (environment; PostgreSQL through libpq's own variables):

    PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD   the shop database
    SHOP_DB_PASSWORD_FILE                            or the database password from a file (a secret)
    SHOP_REDIS_HOST (127.0.0.1), SHOP_REDIS_PORT (26379), SHOP_REDIS_PASSWORD (none)
    SHOP_REDIS_PASSWORD_FILE                         or the Redis password from a file
    SHOP_JOBS_STREAM (shop:order-jobs), SHOP_WORKER_NAME (worker-<pid>)
    SHOP_WORKER_HEARTBEAT                            a file touched every loop (for a health check)
    SHOP_CHECKSUM (polynomial)                       "sha256" fixes the planted hot spot (hashlib, one pass)

Passwords are never logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import time
from dataclasses import dataclass

import psycopg
import redis

GROUP = "workers"
BLOCK_MS = 2000
BATCH = 10
# How many times the planted hot spot re-hashes the document (an "archive copy", an "accounting copy"…).
CHECKSUM_COPIES = 8
TERMS = [
    "Goods remain the property of the shop until paid in full.",
    "Returns are accepted within 30 days in their original packaging.",
    "Prices include VAT at the applicable rate.",
    "Payment is due on receipt of this invoice.",
    "Questions about this invoice: billing@example.test.",
] * 3

log = logging.getLogger("shop_worker")


@dataclass(frozen=True)
class Settings:
    redis_host: str
    redis_port: int
    redis_password: str | None
    stream: str
    consumer: str
    db_password: str | None = None
    heartbeat: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(redis_host=env.get("SHOP_REDIS_HOST", "127.0.0.1"),
                   redis_port=int(env.get("SHOP_REDIS_PORT", "26379")),
                   redis_password=_secret(env, "SHOP_REDIS_PASSWORD"),
                   stream=env.get("SHOP_JOBS_STREAM", "shop:order-jobs"),
                   consumer=env.get("SHOP_WORKER_NAME", f"worker-{os.getpid()}"),
                   db_password=_secret(env, "SHOP_DB_PASSWORD"),
                   heartbeat=env.get("SHOP_WORKER_HEARTBEAT") or None)


def _secret(env: dict[str, str], name: str) -> str | None:
    """NAME from the environment, or the content of the file NAME_FILE names (Compose secrets)."""
    if env.get(f"{name}_FILE"):
        with open(env[f"{name}_FILE"], encoding="utf-8") as f:
            return f.read().strip() or None
    return env.get(name) or None


@dataclass(frozen=True)
class Line:
    product_id: int
    name: str
    quantity: int
    unit_price_cents: int


def render_invoice(order_id: int, customer: str, created_at: str, lines: list[Line]) -> str:
    """The invoice as plain text, one row per line, then totals and terms."""
    rows = [f"INVOICE {order_id}", f"Customer: {customer}", f"Date: {created_at}", ""]
    total = 0
    for ln in lines:
        amount = ln.quantity * ln.unit_price_cents
        total += amount
        rows.append(f"{ln.quantity:>3} x {ln.name:<40} {ln.unit_price_cents / 100:>10.2f} {amount / 100:>10.2f}")
    rows += ["", f"{'TOTAL':<57} {total / 100:>10.2f}", "", *TERMS]
    return "\n".join(rows)


def invoice_checksum(document: str) -> str:
    """A 61-bit polynomial hash of the document, as 16 hex digits.

    Planted hot spot: it re-hashes the growing prefix of the document for every line, in pure Python, for
    every copy. The result depends only on the document, so one pass (or hashlib) would do.
    """
    lines = document.split("\n")
    digest = 0
    for _copy in range(CHECKSUM_COPIES):
        for i in range(1, len(lines) + 1):
            for ch in "\n".join(lines[:i]):
                digest = (digest * 31 + ord(ch)) % 2305843009213693951
    return f"{digest:016x}"


def fixed_checksum(document: str) -> str:
    """The fix for the planted hot spot: one pass of hashlib over the document (16 hex digits kept)."""
    return hashlib.sha256(document.encode()).hexdigest()[:16]


def checksum_function():
    """invoice_checksum (planted) unless SHOP_CHECKSUM=sha256 asks for the fix."""
    return fixed_checksum if os.environ.get("SHOP_CHECKSUM", "polynomial") == "sha256" else invoice_checksum


def process_order(conn: psycopg.Connection, order_id: int) -> bool:
    """Writes the order's invoice and adds its items to product_stats, in one transaction.

    Returns False when the order does not exist (the job is dropped) and True otherwise. Idempotent: an
    order that already has an invoice is not counted twice.
    """
    with conn.transaction():
        head = conn.execute(
            "SELECT o.created_at, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = %s",
            (order_id,)).fetchone()
        if head is None:
            return False
        lines = [Line(*row) for row in conn.execute(
            """SELECT oi.product_id, p.name, oi.quantity, oi.unit_price_cents
               FROM order_items oi JOIN products p ON p.id = oi.product_id
               WHERE oi.order_id = %s ORDER BY oi.id""", (order_id,))]
        document = render_invoice(order_id, head[1], head[0].isoformat(), lines)
        inserted = conn.execute(
            "INSERT INTO invoices (order_id, document, checksum) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (order_id, document, checksum_function()(document))).rowcount
        if inserted:
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO product_stats AS s (product_id, units_sold, revenue_cents) VALUES (%s, %s, %s)
                       ON CONFLICT (product_id) DO UPDATE SET units_sold = s.units_sold + excluded.units_sold,
                           revenue_cents = s.revenue_cents + excluded.revenue_cents, updated_at = now()""",
                    [(ln.product_id, ln.quantity, ln.quantity * ln.unit_price_cents) for ln in lines])
    return True


def ensure_group(r: redis.Redis, stream: str) -> None:
    try:
        r.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def run(settings: Settings, stop: list[bool]) -> None:
    r = redis.Redis(host=settings.redis_host, port=settings.redis_port, password=settings.redis_password,
                    decode_responses=True, socket_timeout=BLOCK_MS / 1000 + 5)
    ensure_group(r, settings.stream)
    extra = {"password": settings.db_password} if settings.db_password else {}
    with psycopg.connect(application_name="shop-worker", autocommit=True, **extra) as conn:
        log.info("consuming %s as %s/%s", settings.stream, GROUP, settings.consumer)
        # First our own pending jobs (left by a crash), then new ones.
        cursor = "0"
        while not stop[0]:
            if settings.heartbeat:
                with open(settings.heartbeat, "a"):
                    os.utime(settings.heartbeat)
            batches = r.xreadgroup(GROUP, settings.consumer, {settings.stream: cursor}, count=BATCH, block=BLOCK_MS)
            entries = batches[0][1] if batches else []
            if cursor == "0" and not entries:
                cursor = ">"
                continue
            for entry_id, fields in entries:
                started = time.perf_counter()
                try:
                    order_id = int(fields.get("order_id", ""))
                except ValueError:
                    log.warning("dropping malformed job %s", entry_id)
                    r.xack(settings.stream, GROUP, entry_id)
                    continue
                found = process_order(conn, order_id)
                r.xack(settings.stream, GROUP, entry_id)
                log.info("order %d %s in %.0f ms", order_id, "invoiced" if found else "not found, dropped",
                         (time.perf_counter() - started) * 1000)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = [False]

    def _stop(signum, _frame):
        log.info("signal %d: stopping after the current job", signum)
        stop[0] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    run(Settings.from_env(), stop)


if __name__ == "__main__":
    main()
