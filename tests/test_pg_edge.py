"""Awkward schemas: quoted identifiers, reserved words, other schemas, partitioned tables, operator classes.
Every SQL statement perfadvisor recommends must run as written."""

from __future__ import annotations

import json
import random

import psycopg
import pytest

from tests.conftest import validate_report

SCHEMA = """
CREATE TABLE "Weird Table" (id bigserial PRIMARY KEY, "User Id" int NOT NULL, "order" int NOT NULL, "Email" text);
INSERT INTO "Weird Table" ("User Id", "order", "Email")
  SELECT g % 20000, g % 977, 'Mail' || g FROM generate_series(1, 200000) g;
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."OrderLines" (id bigserial PRIMARY KEY, "Sku" text NOT NULL);
INSERT INTO "Sales"."OrderLines" ("Sku") SELECT 'S' || g FROM generate_series(1, 5000) g;
CREATE INDEX "Sales_Sku_Idx" ON "Sales"."OrderLines" ("Sku");
CREATE INDEX "Sales_Sku_Idx2" ON "Sales"."OrderLines" ("Sku");
CREATE TABLE meas (city int NOT NULL, ts timestamptz NOT NULL, v float8) PARTITION BY RANGE (ts);
CREATE TABLE meas_2024 PARTITION OF meas FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE meas_2025 PARTITION OF meas FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO meas SELECT g % 500, timestamptz '2024-01-01' + g * interval '3 minutes', g FROM generate_series(1, 300000) g;
CREATE TABLE acct (id bigserial PRIMARY KEY, tenant int NOT NULL, email text NOT NULL, code text UNIQUE);
INSERT INTO acct (tenant, email, code) SELECT g % 50, 'e' || g, 'c' || g FROM generate_series(1, 20000) g;
CREATE UNIQUE INDEX acct_email_uniq ON acct (email);
CREATE INDEX acct_email_pattern ON acct (email text_pattern_ops);
CREATE INDEX acct_t_id_asc ON acct (tenant, id);
CREATE INDEX acct_t_id_desc ON acct (tenant, id DESC);
CREATE TABLE child (id bigserial PRIMARY KEY, acct_code text REFERENCES acct (code));
INSERT INTO child (acct_code) SELECT 'c' || (g % 20000 + 1) FROM generate_series(1, 20000) g;
CREATE INDEX child_acct_code_idx ON child (acct_code);
CREATE VIEW big_weird AS SELECT * FROM "Weird Table" WHERE "order" > 500;
ANALYZE;
"""

WORKLOAD = [
    ('SELECT * FROM "Weird Table" WHERE "User Id" = %s AND "order" > %s', lambda r: (r.randint(1, 20000), 900)),
    ('SELECT id FROM "Weird Table" WHERE lower("Email") = lower(%s)', lambda r: (f"mail{r.randint(1, 9999)}",)),
    ("SELECT avg(v) FROM meas WHERE city = %s AND ts >= %s", lambda r: (r.randint(1, 499), "2024-06-01")),
    ('SELECT id FROM "Sales"."OrderLines" WHERE "Sku" = %s', lambda r: (f"S{r.randint(1, 5000)}",)),
]


@pytest.fixture(scope="module")
def edge(pg_cluster, tmp_path_factory):
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS edge")
        conn.execute("CREATE DATABASE edge")
    dsn = pg_cluster.dsn("edge")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        conn.execute("CREATE EXTENSION pg_stat_statements; CREATE EXTENSION hypopg")
        conn.execute(SCHEMA)
    rnd = random.Random(3)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(20):
            for sql, params in WORKLOAD:
                if params:
                    conn.execute(sql, params(rnd)).fetchall()
        conn.execute("SELECT * FROM meas WHERE city = %s ORDER BY ts DESC LIMIT 5 -- a trailing comment",
                     (3,)).fetchall()
        for _ in range(3):
            conn.execute('SELECT count(*) FROM big_weird WHERE "User Id" = %s', (7,)).fetchall()
            conn.execute("SELECT count(*) FROM generate_series(%s::int, %s::int) g", (1, 10)).fetchall()
        conn.execute("SELECT count(*) FROM generate_series(1, 10)")  # literals: `generate_series($1, $2)`
    out = tmp_path_factory.mktemp("edge")
    from click.testing import CliRunner

    from advisor.cli import cli
    config = out / "all.toml"
    config.write_text("[thresholds.postgres]\nworkload_share = 1.0\n")  # cheap statements count too
    res = CliRunner().invoke(cli, ["analyze", "--pg", dsn, "--out", str(out), "-q", "--config", str(config)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return dsn, validate_report(out)


def test_quoted_identifiers_and_reserved_words(edge):
    _, report = edge
    ids = [f["id"] for f in report["findings"]]
    weird = [f for f in report["findings"] if f["rule"] == "PG001" and f["index"]["table"] == "Weird Table"]
    assert weird, ids
    assert any('"User Id"' in f["action"]["sql"] for f in weird)
    assert any('(lower("Email"))' in f["action"]["sql"] for f in weird), [f["action"]["sql"] for f in weird]


def test_partitioned_table_gets_sql_postgres_accepts(edge):
    _, report = edge
    meas = [f for f in report["findings"] if f["rule"] == "PG001" and f["index"]["table"] == "meas"]
    assert meas and all("CONCURRENTLY" not in f["action"]["sql"] for f in meas)


def test_trailing_line_comment_is_analysed(edge, pg_cluster):
    import json
    # the statement that ends in "-- a trailing comment" was EXPLAINed, not lost
    dsn, report = edge
    unanalysed = [u for u in report["coverage"]["postgres"]["unanalysed"] if "trailing comment" in u["query"]]
    assert not unanalysed, json.dumps(unanalysed)
    with psycopg.connect(dsn) as conn:  # it was seen by perfadvisor at all
        assert conn.execute("SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%%trailing comment'"
                            ).fetchone()[0] == 1


def test_views_and_untyped_function_arguments(edge):
    _, report = edge
    cov = report["coverage"]["postgres"]
    unanalysed = {u["query"]: u["reason"] for u in cov["unanalysed"]}
    # A view is seen through to its base table (issue 15): the statement is analysed, its columns name the view.
    assert not any("big_weird" in q for q in unanalysed), unanalysed
    view = next(s for s in cov["statements"] if "big_weird" in json.dumps(s))
    assert view["status"] == "analysed", view
    assert "public.big_weird" in json.dumps(view), view
    # generate_series($1, $2) is ambiguous for unknown parameters; the type fallback makes it EXPLAINable, and the
    # statement is then unanalysed for what it is (a set-returning function), never "could not EXPLAIN".
    series = [r for q, r in unanalysed.items() if "generate_series($1, $2)" in q]
    assert series and all("set-returning function" in r and "could not EXPLAIN" not in r for r in series), series


def test_operator_class_and_direction_are_not_duplicates(edge):
    _, report = edge
    redundant = {f["index"]["name"] for f in report["findings"] if f["rule"] in ("PG003", "PG004")}
    assert not redundant & {"acct_email_pattern", "acct_t_id_desc", "acct_t_id_asc", "acct_email_uniq"}
    # the only index behind a foreign key is never proposed for dropping, even unused
    dropped = {f["index"]["name"] for f in report["findings"] if f["action"]["kind"] == "drop_index"}
    assert "child_acct_code_idx" not in dropped and "acct_email_uniq" not in dropped
    dup = next(f for f in report["findings"] if f["rule"] == "PG003")
    assert dup["action"]["sql"] in ('DROP INDEX CONCURRENTLY "Sales"."Sales_Sku_Idx2";',
                                    'DROP INDEX CONCURRENTLY "Sales"."Sales_Sku_Idx";')


def test_every_recommended_statement_runs(edge):
    dsn, report = edge
    statements = [f["action"]["sql"] for f in report["findings"] if f["action"].get("sql")]
    assert len(statements) >= 4
    with psycopg.connect(dsn, autocommit=True) as conn:
        for text in statements:
            for stmt in filter(None, (s.strip() for s in text.split(";"))):
                conn.execute(stmt)  # raises on invalid SQL
