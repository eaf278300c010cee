"""A database with one planted case per rule beyond indexes, and its workload run through real client
connections (psycopg, server-side parameters, so pg_stat_statements records `$n`).

- N+1: the lines of each order read one order at a time after the customer's orders (PG007), next to a
  look-alike that is not one: customers looked up by their own ids, many times, fed by no statement's rows;
- a sort that spills past work_mem (PG008);
- a row misestimate from correlated columns, city and zip (PG009), fixed by CREATE STATISTICS;
- stale statistics and dead rows on a table autovacuum may not touch (PG013, PG012, and PG009's stale cause);
- a table sequentially scanned by a function no analysed statement explains (PG010), next to one whose scans
  an analysed statement explains;
- a short statement compiled by JIT (PG014 jit);
- statements `--explain-analyze` must never run (DELETE, UPDATE, a data-modifying CTE, FOR UPDATE) and SELECTs
  that would write if they could (a function that INSERTs, nextval()).
"""

from __future__ import annotations

import random

import psycopg

SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id),
                     status text NOT NULL, total_cents int NOT NULL);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE order_lines (id bigserial PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders (id),
                          product text NOT NULL, qty int NOT NULL);
CREATE INDEX order_lines_order_idx ON order_lines (order_id);
CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, payload text NOT NULL);
CREATE TABLE people (id bigint PRIMARY KEY, city int NOT NULL, zip int NOT NULL);
CREATE TABLE tickets (id bigserial PRIMARY KEY, status text NOT NULL, body text NOT NULL);
CREATE TABLE audit_blob (id bigint PRIMARY KEY, actor int NOT NULL, note text NOT NULL);
CREATE TABLE audit_open (id bigint PRIMARY KEY, actor int NOT NULL, note text NOT NULL);
CREATE TABLE numbers (a int NOT NULL);
CREATE TABLE scratch (id bigint PRIMARY KEY, v int NOT NULL);
CREATE TABLE visit_log (id bigserial PRIMARY KEY, visitor int NOT NULL);
CREATE SEQUENCE ticket_no;
CREATE FUNCTION count_actor(p int) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN RETURN (SELECT count(*) FROM audit_blob WHERE actor = p); END $$;
CREATE FUNCTION log_visit(p int) RETURNS int LANGUAGE plpgsql VOLATILE AS
  $$ BEGIN INSERT INTO visit_log (visitor) VALUES (p); RETURN p; END $$;
CREATE FUNCTION next_ticket() RETURNS bigint LANGUAGE sql VOLATILE AS $$ SELECT nextval('ticket_no') $$;
"""

SEED = """
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 2000) g;
INSERT INTO orders SELECT g, 1 + (g - 1) / 10, (ARRAY['placed','paid','shipped'])[1 + g % 3], g % 9000
  FROM generate_series(1, 20000) g;
INSERT INTO order_lines (order_id, product, qty) SELECT 1 + (g - 1) / 3, 'product ' || g % 500, 1 + g % 4
  FROM generate_series(1, 60000) g;
INSERT INTO events SELECT g, (ARRAY['click','view'])[1 + g % 2], md5(g::text) || md5((g * 7)::text)
  FROM generate_series(1, 160000) g;
INSERT INTO people SELECT g, (g % 1000) / 10, g % 1000 FROM generate_series(1, 200000) g;
INSERT INTO audit_blob SELECT g, g % 50, 'note ' || g FROM generate_series(1, 20000) g;
INSERT INTO audit_open SELECT g, g % 50, 'note ' || g FROM generate_series(1, 20000) g;
INSERT INTO numbers SELECT g FROM generate_series(1, 10000) g;
INSERT INTO scratch SELECT g, g FROM generate_series(1, 1000) g;
INSERT INTO tickets (status, body) SELECT 'old', 'ticket ' || g FROM generate_series(1, 2000) g;
ANALYZE;
ALTER TABLE tickets SET (autovacuum_enabled = false);
"""

#: After the statistics reset (which zeroes n_mod_since_analyze and n_dead_tup too): tickets was analysed with
#: 2,000 'old' rows, then gets 100,000 'new' ones and 50,000 deletions that autovacuum may not see.
CHURN = """
INSERT INTO tickets (status, body) SELECT 'new', 'ticket ' || g FROM generate_series(1, 100000) g;
DELETE FROM tickets WHERE id % 2 = 0 AND status = 'new';
"""

#: Customers whose order history is read (10 orders each, so 10 line queries per history: the N+1).
HISTORIES = 60
#: Own-key lookups of customers: many calls, but tracking no statement's rows.
LOOKUPS = 150


def load(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        conn.execute(SCHEMA)
        conn.execute(SEED)


def reset_statistics(dsn: str) -> None:
    """This database's statistics only (its pg_stat_statements entries and its table counters), then the
    churn that must show in the new counters."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                     "WHERE datname = current_database()), 0)")
        conn.execute("SELECT pg_stat_reset()")
        conn.execute(CHURN)


def run(dsn: str, seed: int = 3) -> dict[str, int]:
    """The workload; returns how often the N+1 parent and child ran (for the assertions)."""
    rnd = random.Random(seed)
    counts = {"parent_calls": 0, "parent_rows": 0, "child_calls": 0}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for customer in rnd.sample(range(1, 2001), HISTORIES):
            orders = conn.execute("SELECT id, status, total_cents FROM orders WHERE customer_id = %s "
                                  "ORDER BY id DESC", (customer,)).fetchall()
            counts["parent_calls"] += 1
            counts["parent_rows"] += len(orders)
            for (order_id, _, _) in orders:
                conn.execute("SELECT product, qty FROM order_lines WHERE order_id = %s ORDER BY id",
                             (order_id,)).fetchall()
                counts["child_calls"] += 1
        for _ in range(LOOKUPS):
            conn.execute("SELECT name FROM customers WHERE id = %s", (rnd.randint(1, 2000),)).fetchall()
        for kind in ("click", "view", "click"):
            conn.execute("SELECT id, payload FROM events WHERE kind = %s ORDER BY payload", (kind,)).fetchall()
        for _ in range(20):
            zip_code = rnd.randint(0, 999)
            conn.execute("SELECT count(*) FROM people WHERE city = %s AND zip = %s",
                         (zip_code // 10, zip_code)).fetchall()
        for status in ("new", "old"):
            conn.execute("SELECT count(*) FROM tickets WHERE status = %s", (status,)).fetchall()
        for _ in range(60):
            conn.execute("SELECT count_actor(%s)", (rnd.randint(0, 49),)).fetchall()
            conn.execute("SELECT count(*) FROM audit_open WHERE note LIKE %s", (f"%{rnd.randint(0, 999)}%",))
        # writes and would-be writes that --explain-analyze must leave alone
        conn.execute("UPDATE scratch SET v = v + 1 WHERE id = %s", (1,))
        conn.execute("DELETE FROM scratch WHERE id = %s", (1000,))
        conn.execute("WITH d AS (DELETE FROM scratch WHERE id = %s RETURNING id) SELECT count(*) FROM d", (999,))
        conn.execute("SELECT v FROM scratch WHERE id = %s FOR UPDATE", (2,)).fetchall()
        conn.execute("SELECT log_visit(v) FROM scratch WHERE id = %s", (7,)).fetchall()
        conn.execute("SELECT next_ticket() FROM scratch WHERE id = %s", (8,)).fetchall()
    with psycopg.connect(dsn, autocommit=True) as conn:
        # JIT for one short statement only (its own session), as a server with a low jit_above_cost would
        conn.execute("SET jit_above_cost = 10")
        conn.execute("SET jit_inline_above_cost = 10")
        conn.execute("SET jit_optimize_above_cost = 10")
        for i in range(8):
            conn.execute("SELECT sum(a) FROM numbers WHERE a > %s", (i,)).fetchall()
    return counts


FINGERPRINT_SQL = """
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM scratch t) AS scratch,
       (SELECT count(*) FROM visit_log) AS visits,
       (SELECT last_value FROM ticket_no) AS ticket_no,
       (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM tickets t) AS tickets,
       (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM orders t) AS orders,
       (SELECT count(*) FROM people) AS people
"""


def fingerprint(dsn: str) -> dict:
    """What --explain-analyze must leave unchanged."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        cur = conn.execute(FINGERPRINT_SQL)
        return dict(zip([d.name for d in cur.description], cur.fetchone(), strict=True))
