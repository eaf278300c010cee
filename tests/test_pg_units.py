"""Pure parts of the PostgreSQL analyzer: statement text handling, candidates, selection, reports."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.model import IndexSpec
from analyzers.postgres import select as sel
from analyzers.postgres.candidates import (
    Catalog,
    UnparsableStatement,
    candidates_for,
    covered_by_existing,
    table_uses,
)
from analyzers.postgres.statements import for_sqlglot, is_own, kind, param_count, rewrite_typed_literals
from analyzers.postgres.whatif import create_index_sql

CAT = Catalog(columns={
    ("public", "orders"): {"id": "bigint", "customer_id": "bigint", "created_at": "timestamptz",
                           "status": "text", "total_cents": "integer"},
    ("public", "order_items"): {"id": "bigint", "order_id": "bigint", "product_id": "bigint"},
    ("public", "customers"): {"id": "bigint", "email": "text", "country": "text"},
}, n_distinct={("public", "orders", "customer_id"): 50000, ("public", "orders", "status"): 4})


@pytest.mark.parametrize("src, want", [
    ("created_at > now() - interval $2", "created_at > now() - $2::interval"),
    ("d = timestamptz $4 AND e = date $5", "d = $4::timestamptz AND e = $5::date"),
    ("x = $1", "x = $1"),
])
def test_typed_literals_become_casts(src, want):
    assert rewrite_typed_literals(src) == want


def test_placeholders_kinds_and_own_statements():
    assert param_count("SELECT $1, $12 WHERE a = '$99'") == 12
    assert kind("/* c */ SELECT 1") == "explainable" and kind("BEGIN") == "utility" and kind("SET x = 1") == "utility"
    assert kind("WITH a AS (SELECT 1) SELECT * FROM a") == "explainable"
    assert is_own("/* perfadvisor */ SELECT 1") and is_own("PREPARE perfadvisor_3 AS SELECT 1")
    assert is_own("EXPLAIN (FORMAT JSON) EXECUTE perfadvisor_3(NULL)") and not is_own("SELECT 1")
    assert ":p4, :p5" in for_sqlglot("x IN ($4,$5)").replace(",:", ", :")


def test_equality_range_sort_order_and_aliases():
    q = ("SELECT o.id FROM orders o JOIN order_items oi ON oi.order_id = o.id "
         "WHERE o.status = $1 AND o.customer_id = $2 AND o.created_at >= $3 ORDER BY o.created_at DESC LIMIT $4")
    uses = {u.table: u for u in table_uses(q, CAT)}
    o = uses["orders"]
    assert o.eq == ["status", "customer_id"] and o.range == ["created_at"] and o.join == ["id"]
    assert uses["order_items"].join == ["order_id"]
    cands = [c.columns for c in candidates_for(o, CAT)]
    # the more selective equality column leads; equality → range
    assert ("customer_id", "status", "created_at") in cands
    assert ("order_id",) in [c.columns for c in candidates_for(uses["order_items"], CAT)]


def test_expression_in_and_between_and_correlated_subquery():
    uses = table_uses("SELECT * FROM customers WHERE lower(email) = lower($1) AND country IN ($2, $3)", CAT)
    assert uses[0].eq == ["lower(email)", "country"]
    u = table_uses("SELECT * FROM orders WHERE created_at BETWEEN $1 AND $2", CAT)[0]
    assert u.range == ["created_at"] and u.params == [("created_at", "between", [1, 2])]
    uses = {u.table: u for u in table_uses(
        "SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)", CAT)}
    assert uses["orders"].join == ["customer_id"] and uses["customers"].join == ["id"]


def test_update_and_delete_and_arithmetic_hints():
    u = table_uses("UPDATE orders SET status = $1 WHERE customer_id = $2", CAT)[0]
    assert u.eq == ["customer_id"]
    u = table_uses("DELETE FROM orders WHERE total_cents > $1 + $2", CAT)[0]
    assert u.params == [("total_cents", "expr", [1, 2])]


def test_like_with_escape_records_pattern_and_escape_parameters():
    u = table_uses("SELECT id FROM customers WHERE email ILIKE $1 ESCAPE $3 ORDER BY email LIMIT $2", CAT)[0]
    assert u.pattern == ["email"] and u.sort == ["email"]
    assert ("email", "like", [1]) in u.params and ("email", "escape", [3]) in u.params


def test_unparsable_statement():
    with pytest.raises(UnparsableStatement):
        table_uses("SELECT FROM WHERE ((", CAT)


def test_existing_index_covers_prefix_only():
    existing = [{"schema": "public", "table": "orders", "columns": ["customer_id", "created_at"],
                 "method": "btree", "predicate": None, "valid": True, "name": "ix"}]
    assert covered_by_existing(IndexSpec("public", "orders", ("customer_id",)), existing)["name"] == "ix"
    assert covered_by_existing(IndexSpec("public", "orders", ("created_at",)), existing) is None
    partial = [{**existing[0], "predicate": "status = 'paid'"}]
    assert covered_by_existing(IndexSpec("public", "orders", ("customer_id",)), partial) is None


def test_create_index_sql_quotes_and_parenthesises():
    spec = IndexSpec("public", "Orders", ("customer_id", "lower(email)", "created_at DESC"))
    assert create_index_sql(spec, True) == \
        'CREATE INDEX CONCURRENTLY ON public."Orders" (customer_id, (lower(email)), created_at DESC)'


# --- workload-wide selection on a synthetic cost model --------------------------------------------------

def _oracle(table):
    """cost(statement, config) from a table {statement: {frozenset(config) or candidate: cost}}."""
    def cost(s, config):
        options = [table[s]["base"]] + [c for k, c in table[s].items() if k != "base" and set(k.split("+")) <= config]
        return min(options)
    return cost


def test_one_index_serving_several_statements_beats_narrow_ones():
    stmts = [sel.StatementRef("a", 10, frozenset({("p", "t")})), sel.StatementRef("b", 10, frozenset({("p", "t")}))]
    cands = [sel.CandidateRef(k, ("p", "t")) for k in ("x", "y", "xy")]
    cost = _oracle({"a": {"base": 100, "x": 10, "xy": 11}, "b": {"base": 100, "y": 10, "xy": 11}})
    result = sel.choose(stmts, cands, cost)
    assert result.chosen == ["xy"]
    assert result.attributed["xy"] == {"a": (100, 11), "b": (100, 11)}


def test_budget_min_savings_and_attribution():
    stmts = [sel.StatementRef("a", 1, frozenset({("p", "t")})), sel.StatementRef("b", 5, frozenset({("p", "u")}))]
    cands = [sel.CandidateRef("big", ("p", "t")), sel.CandidateRef("small", ("p", "u")),
             sel.CandidateRef("weak", ("p", "u"))]
    cost = _oracle({"a": {"base": 100, "big": 1}, "b": {"base": 100, "small": 20, "weak": 90}})
    sizes = {"big": 1000, "small": 10, "weak": 1}
    r = sel.choose(stmts, cands, cost, sizes.get, budget_bytes=100)
    assert r.chosen == ["small"] and r.rejected["big"] == "over the storage budget"
    r = sel.choose(stmts, cands, cost)
    assert r.chosen == ["big", "small"] and "weak" not in r.chosen
    r = sel.choose(stmts, cands, cost, min_savings_pct=90)
    assert r.chosen == ["big"]


def test_prune_drops_index_made_redundant():
    s = [sel.StatementRef("a", 1, frozenset({("p", "t")})), sel.StatementRef("b", 1, frozenset({("p", "t")}))]
    cands = [sel.CandidateRef(k, ("p", "t")) for k in ("x", "y")]
    # x alone helps a; y helps both a (more) and b: after y, x adds nothing
    cost = _oracle({"a": {"base": 100, "x": 40, "y": 10}, "b": {"base": 100, "y": 10}})
    assert sel.choose(s, cands, cost).chosen == ["y"]


# --- fuzzing the parsers of outside input (statement text comes from pg_stat_statements) -----------------

@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(alphabet=st.sampled_from(list("SELCTFROMWHEANDIN$0123456789 ()=<>,.*'\"abcxyz_-:;/\n")),
               max_size=120))
def test_table_uses_never_crashes_on_arbitrary_text(text):
    try:
        uses = table_uses(text, CAT)
    except UnparsableStatement:
        return
    for u in uses:
        for c in candidates_for(u, CAT):
            assert 1 <= len(c.columns) <= 3


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_statement_helpers_never_crash(text):
    assert param_count(text) >= 0
    assert kind(text) in ("explainable", "utility")
    assert isinstance(rewrite_typed_literals(text), str) and isinstance(is_own(text), bool)
