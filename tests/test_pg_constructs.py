"""Issue 15: candidate extraction through the SQL people and ORMs write. One statement per construct in a real
database of this test's own (never the shared pgshop), the analyzer run on its pg_stat_statements, then for
each construct: the columns found in the expected role (the coverage explanation), a PG001 finding whose index
serves the statement, the planner's own confirmation (the statement's plan with that index as a HypoPG
hypothetical index uses it), and the recommended SQL executed as written."""

from __future__ import annotations

import random
import re

import psycopg
import pytest

from analyzers.postgres import plans
from tests.postgres_rules.conftest import analyse

DB = "pg_constructs"

SCHEMA = """
CREATE TABLE author (id int NOT NULL, name text NOT NULL);
INSERT INTO author SELECT g, 'author ' || g FROM generate_series(1, 20000) g;
CREATE TABLE book (id int NOT NULL, author_id int NOT NULL, year int NOT NULL, title text);
INSERT INTO book SELECT g, g % 20000 + 1, 1900 + g % 120, 'title ' || g FROM generate_series(1, 200000) g;
CREATE TABLE items (id int NOT NULL, a int, b int, c int, d int, f int, g int, h int, data jsonb);
INSERT INTO items SELECT g, g % 9001, g % 8999, g % 8009, g, g % 7001, g % 6007, g % 5003,
  jsonb_build_object('k', g % 100) FROM generate_series(1, 200000) g;
CREATE TABLE tags (tag_id int NOT NULL, label text);
INSERT INTO tags SELECT g, 'l' || g FROM generate_series(1, 200000) g;
CREATE TABLE archive (LIKE items);
CREATE TABLE products (id int NOT NULL, category_id int NOT NULL, name text NOT NULL, price_cents int);
INSERT INTO products SELECT g, g % 2000, md5(g::text) || ' oak chair', g % 9000 FROM generate_series(1, 100000) g;
ALTER TABLE products ADD PRIMARY KEY (id);
CREATE VIEW v_items AS SELECT id AS item_id, a FROM items;
ANALYZE;
"""


def _int(n):
    return lambda r: tuple(r.randint(1, n) for _ in range(1))


#: construct → (statement, parameters, table, column, role, runs in a rolled-back transaction)
CONSTRUCTS = {
    "view": ("SELECT * FROM v_items WHERE item_id = %s", _int(200000), "items", "id", "eq", False),
    "cte_nested_inlined": ("WITH x AS (WITH y AS (SELECT * FROM items) SELECT * FROM y) SELECT id FROM x WHERE a = %s",
                           _int(9000), "items", "a", "eq", False),
    "cte_materialized": ("WITH m AS MATERIALIZED (SELECT * FROM items WHERE b = %s) SELECT id FROM m",
                         _int(8998), "items", "b", "eq", False),
    "subquery_in_from": ("SELECT * FROM (SELECT id, c FROM items) s WHERE s.c = %s", _int(8000), "items", "c", "eq",
                         False),
    "in_subquery": ("SELECT name FROM author WHERE id IN (SELECT author_id FROM book WHERE id = %s)",
                    _int(200000), "book", "id", "eq", False),
    "exists": ("SELECT a.name FROM author a WHERE a.name = %s AND EXISTS "
               "(SELECT 1 FROM book b WHERE b.author_id = a.id)", lambda r: (f"author {r.randint(1, 20000)}",),
               "author", "name", "eq", False),
    "lateral": ("SELECT x.title FROM (SELECT * FROM author WHERE name = %s) a, LATERAL "
                "(SELECT * FROM book b WHERE b.author_id = a.id LIMIT 3) x",
                lambda r: (f"author {r.randint(1, 20000)}",), "book", "author_id", "join", False),
    "order_by_alias": ("SELECT d AS dd FROM items ORDER BY dd DESC LIMIT 10", lambda r: (), "items", "d", "sort",
                       False),
    "order_by_position_star": ("SELECT * FROM tags ORDER BY 1 LIMIT 10", lambda r: (), "tags", "tag_id", "sort",
                               False),
    "equality_across_join": ("SELECT book.title FROM book JOIN author ON book.author_id = author.id "
                             "WHERE author.id = %s AND book.year = %s",
                             lambda r: (r.randint(1, 20000), 1900 + r.randint(0, 119)), "book", "author_id", "eq",
                             False),
    "update_returning": ("UPDATE items SET h = h WHERE f = %s RETURNING id", _int(7000), "items", "f", "eq", True),
    "delete": ("DELETE FROM items WHERE g = %s", _int(6000), "items", "g", "eq", True),
    "insert_select": ("INSERT INTO archive SELECT * FROM items WHERE h = %s", _int(5000), "items", "h", "eq", True),
}

#: issue 12: LIKE/ILIKE searches, one a B-tree serves only by walking ORDER BY order until LIMIT (does not
#: hold for a rare term), one a B-tree serves through another condition (holds)
PATTERN = {
    "ordered": ("SELECT id, name, price_cents FROM products WHERE name ILIKE %s ESCAPE '\\' ORDER BY name, id "
                "LIMIT %s", lambda r: (f"%{r.choice(['oak', 'a1b', 'zz9', 'chair'])}%", 20)),
    "other_condition": ("SELECT id, name FROM products WHERE category_id = %s AND name ILIKE %s",
                        lambda r: (r.randint(1, 1999), "%oak%")),
}

#: statements whose text defeats extraction: never "analysed"
UNEXTRACTABLE = {
    "json_key": ("SELECT id FROM items WHERE data->>'k' = %s", lambda r: (str(r.randint(1, 99)),), "JSON key"),
    "function_in_from": ("SELECT count(*) FROM generate_series(1, %s) g", lambda r: (r.randint(1, 9),),
                         "set-returning function"),
    "outside_materialized_cte": ("WITH m AS MATERIALIZED (SELECT * FROM tags) SELECT label FROM m WHERE tag_id = %s",
                                 _int(1000), "materialized"),
}


def _run(conn, sql, params, rollback):
    if rollback:
        with conn.transaction(force_rollback=True):
            conn.execute(sql, params)
    else:
        conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def constructs(pg_cluster, tmp_path_factory):
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    dsn = pg_cluster.dsn(DB)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; CREATE EXTENSION IF NOT EXISTS hypopg")
        conn.execute(SCHEMA)
        conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                     "WHERE datname = current_database()), 0)")  # this database's only: others share the cluster
    rnd = random.Random(5)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(15):
            for sql, params, *_rest, rollback in CONSTRUCTS.values():
                _run(conn, sql, params(rnd), rollback)
            for sql, params, _ in UNEXTRACTABLE.values():
                _run(conn, sql, params(rnd), False)
            for sql, params in PATTERN.values():
                _run(conn, sql, params(rnd), False)
    report, snapshot = analyse(dsn, tmp_path_factory.mktemp("constructs"), explain_analyze=False,
                               extra="max_new_indexes = 40\nmin_cost_savings_pct = 10\n")
    return dsn, report, snapshot


def _shape(text: str) -> str:
    """The text with parameters and constants removed, as pg_stat_statements normalizes them."""
    return re.sub(r"(%s|\$\d+|'[^']*'|\b\d+\b)", "", text)


def _statement(snapshot, sql):
    """The statement's pg_stat_statements entry (psycopg sends small ints as int2 and larger ones as int4, so
    one text may have several entries: the one with most exec time)."""
    found = [s for s in snapshot["postgres"]["statements"] if _shape(s["query"]) == _shape(sql)]
    assert found, (sql, [s["query"] for s in snapshot["postgres"]["statements"]])
    return max(found, key=lambda s: s["total_exec_time_ms"])


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_construct_is_seen_costed_confirmed_and_applied(constructs, name):
    dsn, report, snapshot = constructs
    sql, _params, table, column, role, _ = CONSTRUCTS[name]
    s = _statement(snapshot, sql)
    explained = {e["queryid"]: e for e in report["coverage"]["postgres"]["statements"]}[s["queryid"]]
    assert explained["status"] == "analysed", explained
    roles = {c["table"]: c for c in explained["columns"]}
    assert column in roles[f"public.{table}"][role], explained
    assert explained["candidates_costed"], explained
    if name == "view":
        assert roles["public.items"]["views"] == ["public.v_items"]
    # a PG001 finding serves this statement with an index on the construct's table
    served = [f for f in report["findings"] if f["rule"] == "PG001"
              and s["queryid"] in {r["queryid"] for r in f["evidence"]["statements"]}]
    assert served, [f["title"] for f in report["findings"] if f["rule"] == "PG001"]
    finding = next(f for f in served if f["index"]["table"] == table)
    assert column in [c.strip('"') for c in finding["index"]["columns"]], finding["index"]
    if name == "view":
        assert "reads items through view public.v_items" in finding["detail"], finding["detail"]
    # the planner's own confirmation: the statement's generic plan uses the index as a hypothetical one
    create = finding["action"]["sql"].rstrip(";")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT hypopg_reset()")
        oid, hypo_name = conn.execute("SELECT indexrelid, indexname FROM hypopg_create_index(%s)",
                                      (create.replace(" CONCURRENTLY", ""),)).fetchone()
        try:
            with conn.transaction(force_rollback=True):
                plan = plans.explain(conn, plans.prepare(conn, s["query"], {}))
        finally:
            conn.execute("SELECT hypopg_reset()")
    assert hypo_name in str(plan), plan
    # the recommended SQL runs as written, in this test's own database
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", (table,)).fetchone()[0]
        conn.execute(finding["action"]["sql"])
        after = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", (table,)).fetchone()[0]
        assert after == before + 1
        name_row = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY indexname DESC",
                                (table,)).fetchall()
        for (idx,) in name_row:  # leave the database as the next construct expects it
            conn.execute(f'DROP INDEX "{idx}"')


def test_equalities_carried_across_a_join_make_a_multi_column_candidate(constructs):
    _, report, snapshot = constructs
    s = _statement(snapshot, CONSTRUCTS["equality_across_join"][0])
    explained = {e["queryid"]: e for e in report["coverage"]["postgres"]["statements"]}[s["queryid"]]
    multi = [c for c in explained["candidates_costed"] if c.startswith("public.book(") and "author_id" in c
             and "year" in c]
    assert multi, explained["candidates_costed"]


@pytest.mark.parametrize("name", sorted(UNEXTRACTABLE))
def test_statement_that_defeats_extraction_is_never_called_analysed(constructs, name):
    _, report, snapshot = constructs
    sql, _params, why = UNEXTRACTABLE[name]
    s = _statement(snapshot, sql)
    cov = report["coverage"]["postgres"]
    unanalysed = {u["queryid"]: u for u in cov["unanalysed"]}
    assert s["queryid"] in unanalysed, s.get("status")
    assert why in unanalysed[s["queryid"]]["reason"], unanalysed[s["queryid"]]["reason"]
    # the coverage figure counts it as not analysed
    assert cov["analysed_share"] <= 1.0 - sum(u["share"] for u in cov["unanalysed"]) + 1e-9


def test_pattern_search_gets_agreeing_advice(constructs):
    """A B-tree is claimed for a LIKE/ILIKE statement only when the what-if plan uses it in a way that holds for
    real search terms, the finding says which way, and PG006 on the same statement says how they relate."""
    _, report, snapshot = constructs
    ordered = _statement(snapshot, PATTERN["ordered"][0])
    other = _statement(snapshot, PATTERN["other_condition"][0])
    ways = snapshot["postgres"]["whatif"]["pattern_ways"]
    claims = {r["queryid"]: (f, r) for f in report["findings"] if f["rule"] == "PG001"
              for r in f["evidence"]["statements"]}
    pg006 = [f for f in report["findings"] if f["rule"] == "PG006" and f["id"].endswith("public.products.name")]
    assert len(pg006) == 1, [f["title"] for f in report["findings"]]
    detail = pg006[0]["detail"]
    # the ORDER BY name, id LIMIT search: a B-tree on (name, id) is only walked in order until LIMIT
    walked = [k for k, w in ways.items() if k.startswith(ordered["queryid"] + "|") and w == "ordered_scan_until_limit"]
    assert walked, ways
    assert ordered["queryid"] not in claims, claims.get(ordered["queryid"])
    assert f"No B-tree is recommended for statement {ordered['queryid']}" in detail, detail
    # the search narrowed by category_id: the B-tree on category_id holds for any term, and says so
    finding, row = claims[other["queryid"]]
    assert row["pattern_search"] == "other_condition" and "another condition" in finding["detail"]
    assert finding["id"] in detail and "apply both" in detail, detail


# Extraction alone (no database): every construct nested in every other keeps the base column, and no text
# makes it crash or recurse without end (views that name each other, a CTE that names itself).
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from analyzers.postgres.candidates import Catalog, extract  # noqa: E402

UNIT_CAT = Catalog(columns={("public", "t"): {"x": "int", "y": "int"}},
                   views={("public", "v"): "SELECT t.x AS vx, t.y FROM t;", ("public", "loop1"): "SELECT * FROM loop2;",
                          ("public", "loop2"): "SELECT * FROM loop1;"},
                   others={("public", "ft"): "a foreign table"})


def _wrap(inner: str, how: str, n: int) -> str:
    return {"cte": f"WITH c{n} AS ({inner}) SELECT * FROM c{n}",
            "sub": f"SELECT * FROM ({inner}) s{n}",
            "lateral": f"SELECT s{n}.* FROM (SELECT 1 AS one) o{n}, LATERAL ({inner}) s{n}"}[how]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["cte", "sub", "lateral"]), max_size=6), st.booleans())
def test_nesting_keeps_the_base_column(wraps, via_view):
    q, col = ("SELECT vx, y FROM v", "vx") if via_view else ("SELECT x, y FROM t", "x")
    for n, how in enumerate(wraps):
        q = _wrap(q, how, n)
    found = extract(f"{q} WHERE {col} = $1", UNIT_CAT)
    assert [(u.table, u.eq) for u in found.uses] == [("t", ["x"])], (q, found)
    assert found.uses[0].views == (["public.v"] if via_view else [])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="SELECT*FROMWHEREwithASloop12vtxy()=$,. ", max_size=80))
def test_extraction_never_recurses_without_end(text):
    for q in (text, f"SELECT * FROM loop1 WHERE x = $1 {text}", f"WITH a AS (SELECT * FROM a) SELECT * FROM a {text}"):
        try:
            extract(q, UNIT_CAT)
        except Exception as e:  # only a parse error is allowed
            assert type(e).__name__ == "UnparsableStatement", (q, e)
