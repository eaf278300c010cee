"""PG015 statements-per-request on a window recorded from the sample stack (tests/fixtures/pgrequests/README.md):
the database's pg_stat_statements differences and the Actuator's http_server_requests of the same window."""

from __future__ import annotations

import copy
import json

import pytest

import analyzers.pgrequests as pgrequests
from advisor.config import Settings
from analyzers.actuator import series
from analyzers.postgres import nplus1, rule_thresholds
from tests.conftest import ROOT

WINDOW = ROOT / "tests" / "fixtures" / "pgrequests" / "shop-window.json"


@pytest.fixture(scope="module")
def snapshot():
    return json.loads(WINDOW.read_text())


def test_the_order_history_n_plus_one_is_found_in_the_window_and_the_look_alike_is_not(snapshot):
    rejected = []
    span = nplus1.span_of(snapshot["postgres"])
    pairs = nplus1.find_pairs(snapshot["postgres"], rule_thresholds(Settings()), span, rejected)
    assert span.kind == "window" and "40 s" in span.label
    assert [(p.link.parent[1], p.link.child[1], p.link.child[2]) for p in pairs] == [
        ("orders", "order_items", "order_id")]
    (pair,) = pairs
    assert "FROM orders" in pair.parent.query and "WHERE customer_id = $1" in pair.parent.query
    assert "WHERE oi.order_id = $1" in pair.child.query and pair.child.calls == pair.parent.rows
    # the worker's per-order read of order_items vs the back end's per-line FOR UPDATE: same counts, no N+1
    (r,) = rejected
    assert "FOR UPDATE" in r["child"] and "runs in step with a write" in r["reason"]


def test_statements_per_request_for_the_endpoint_that_runs_the_parent(snapshot):
    result = pgrequests.analyze_snapshot(snapshot, Settings())
    (f,) = result.findings
    assert f.rule == "PG015" and f.id == ("PG015:GET /api/customers/{id}/orders:"
                                          "public.orders->public.order_items(order_id)")
    ev = f.evidence
    assert ev["endpoint"] == "GET /api/customers/{id}/orders" and ev["n_plus_one"].startswith("PG007:")
    assert 9 < ev["child_calls_per_request"] < 12 and ev["statements_per_request"] > 10
    assert f.impact["after"] < 2.5 < f.impact["before"]
    assert [s["role"] for s in ev["statements"]] == ["parent", "child"]
    per = result.coverage["postgres"]["per_request"]
    requests = sum(h.count for h in series.http_stats(snapshot["actuator"]) if h.status.startswith("2"))
    assert per["requests_2xx"] == round(requests) and per["statements_per_request"] == pytest.approx(
        per["statement_calls"] / requests, abs=0.01)


def test_an_endpoint_matches_only_a_parent_whose_calls_agree_with_its_requests(snapshot):
    eps = pgrequests.endpoints(series.http_stats(snapshot["actuator"]))
    history = next(e for e in eps if e.uri == "/api/customers/{id}/orders")
    assert pgrequests.match(round(history.count), eps, tolerance=0.01, min_requests=20) == history
    assert pgrequests.match(round(history.count * 1.5), eps, tolerance=0.1, min_requests=20) != history
    assert pgrequests.match(round(history.count), eps, tolerance=0.2, min_requests=history.count + 1) != history


def test_without_one_window_there_is_only_a_note(snapshot):
    snap = copy.deepcopy(snapshot)
    del snap["postgres"]["activity"]
    result = pgrequests.analyze_snapshot(snap, Settings())
    assert not result.findings and "--sample" in result.notes[0]
