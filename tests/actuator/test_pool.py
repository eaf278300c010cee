"""The POOL rules on windows recorded from the running sample stack (pool of 2, pool of 10, two replicas with
pools of 30) together with the database's connection facts taken in the same window, and the sizing
arithmetic against known values."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import analyzers.pool as pool
from advisor.config import Settings
from analyzers.pool import sizing


def snapshot(sections, name, activity=True):
    rec = copy.deepcopy(sections[name])
    snap = {"actuator": rec["actuator"], "targets": {"actuator": {"status": "ok"}}}
    if activity:
        snap["postgres"] = {"activity": rec["postgres_activity"]}
    return snap


def findings(snap, **thresholds):
    r = pool.analyze_snapshot(snap, Settings(thresholds={"pool": thresholds} if thresholds else {}))
    return {f.id: f for f in r.findings}, r


def test_planted_pool_of_two_is_undersized_with_a_sensible_size(sections):
    got, r = findings(snapshot(sections, "shop-pool2"))
    f = got["POOL001:shop"]
    assert (f.rule, f.name, f.confidence, f.severity) == ("POOL001", "pool-undersized", "estimated", "high")
    a = f.action
    assert a["kind"] == "set_property" and a["property"] == "spring.datasource.hikari.maximum-pool-size"
    assert a["env"] == "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE" and a["current"] == 2
    assert 6 <= a["value"] <= 20
    ev = f.evidence
    inst = ev["per_instance"][0]
    assert inst["samples"] == 41 and inst["pending_share"] > 0.5 and inst["acquire_mean_ms"] > 5
    assert inst["usage_mean_ms"] > 0 and inst["request_rate_per_s"] > 0 and ev["instances"] == 1
    assert ev["sizing"]["load_basis"] == "active+pending"
    assert "acquire time" in f.detail and "Erlang C" in f.detail and "(cores × 2) + spindles" in f.detail
    assert f.impact["metric"] == "connection_wait_ms_per_hour" and f.impact["after"] < f.impact["before"]
    db = r.coverage["pool"]["database"]
    assert db["max_connections"] == 60 and db["available_to_pools"] == 60 - 3 - db["held_by_other_clients"]
    assert "POOL003:all-pools" not in got


def test_pool_of_ten_under_the_same_load_is_not_undersized(sections):
    got, r = findings(snapshot(sections, "shop-pool10"))
    assert "POOL001:shop" not in got
    assert r.coverage["pool"]["pools"][0]["current"] == 10


def test_finding_id_is_stable_across_thresholds(sections):
    a, _ = findings(snapshot(sections, "shop-pool2"))
    b, _ = findings(snapshot(sections, "shop-pool2"), target_wait_probability=0.01, burst_headroom=2.0)
    assert "POOL001:shop" in a and "POOL001:shop" in b
    assert a["POOL001:shop"].action["value"] <= b["POOL001:shop"].action["value"]


def test_without_database_facts_the_bound_is_not_checked_and_said_so(sections):
    got, r = findings(snapshot(sections, "shop-pool2", activity=False))
    assert "POOL001:shop" in got
    assert any("max_connections is unknown" in n for n in r.notes)
    assert r.coverage["pool"]["database"]["known"] is False


def test_a_small_database_caps_the_recommendation(sections):
    snap = snapshot(sections, "shop-pool2")
    snap["postgres"]["activity"]["max_connections"] = 10
    got, r = findings(snap)
    sz = r.coverage["pool"]["pools"][0]
    others = r.coverage["pool"]["database"]["held_by_other_clients"]
    assert sz["recommended"] == 10 - 3 - others < sz["wanted"]
    assert "capped at" in sz["bound_note"]
    assert got["POOL001:shop"].action["value"] == sz["recommended"]


def test_replicas_are_counted_against_max_connections(sections):
    got, r = findings(snapshot(sections, "shop-2replicas-pool30"))
    f = got["POOL003:all-pools"]
    assert f.severity == "high" and f.evidence["total"] == 60 and f.evidence["pools"][0]["instances"] == 2
    assert f.action == {"kind": "config", "setting": "max_connections", "value": 63 + f.evidence[
        "held_by_other_clients"], "file": "postgresql.conf"}
    assert r.coverage["pool"]["pools"][0]["instances"] == 2


def test_oversized_pool_with_thresholds_from_the_config(sections):
    snap = snapshot(sections, "shop-2replicas-pool30")
    got, _ = findings(snap)
    assert "POOL002:shop" not in got  # peak 10 of 30 is not "a quarter or less"
    got, _ = findings(snap, oversized_peak_share=0.4, acquire_mean_ms=10.0)
    f = got["POOL002:shop"]
    assert f.action["current"] == 30 and 2 <= f.action["value"] <= 20 and f.severity == "medium"


def _with_config(sections, name, **conf):
    snap = snapshot(sections, name)
    for inst in snap["actuator"]["instances"]:
        inst["configured"]["pools"][0]["properties"].update(conf)
    return snap


@pytest.mark.parametrize("ldt,life,confidence", [(1000, 1_800_000, "verified"), (60_000, 30_000, "verified")])
def test_leak_detection_that_hikaricp_switches_off(sections, ldt, life, confidence):
    got, _ = findings(_with_config(sections, "shop-pool10", **{"leak-detection-threshold": ldt,
                                                                "max-lifetime": life}))
    f = got["POOL004:shop"]
    assert f.confidence == confidence and f.action["property"] == "spring.datasource.hikari.leak-detection-threshold"
    assert f.action["value"] >= 2000


def test_leak_detection_below_the_longest_use(sections):
    snap = _with_config(sections, "shop-pool10", **{"leak-detection-threshold": 2000})
    key = 'hikaricp_connections_usage_seconds_max{pool="shop"}'
    snap["actuator"]["instances"][0]["series"][key][5] = 3.5  # one connection held 3.5 s
    got, _ = findings(snap)
    f = got["POOL004:shop"]
    assert f.confidence == "heuristic" and f.action["value"] == 7000


def test_no_leak_finding_for_the_default_configuration(sections):
    got, _ = findings(snapshot(sections, "shop-pool10"))
    assert not [i for i in got if i.startswith(("POOL004", "POOL005"))]


@pytest.mark.parametrize("conf,confidence,prop", [
    ({"max-lifetime": 10_000}, "verified", "spring.datasource.hikari.max-lifetime"),
    ({"max-lifetime": 0}, "heuristic", "spring.datasource.hikari.max-lifetime"),
    ({"max-lifetime": 100_000, "keepalive-time": 120_000}, "verified", "spring.datasource.hikari.keepalive-time"),
    ({"keepalive-time": 10_000}, "verified", "spring.datasource.hikari.keepalive-time")])
def test_max_lifetime_sanity(sections, conf, confidence, prop):
    got, _ = findings(_with_config(sections, "shop-pool10", **conf))
    f = got["POOL005:shop"]
    assert f.confidence == confidence and f.action["property"] == prop


def test_sanitized_configuration_gives_no_config_findings(sections):
    got, _ = findings(_with_config(sections, "shop-pool10", **{"max-lifetime": "******",
                                                                "leak-detection-threshold": "******"}))
    assert not [i for i in got if i.startswith(("POOL004", "POOL005"))]


def test_pool_locking_bound_when_a_request_holds_two_connections(sections):
    _, r = findings(snapshot(sections, "shop-pool2"), connections_per_request=2)
    sz = r.coverage["pool"]["pools"][0]
    assert sz["locking_n"] > 1 and sz["wanted"] >= sz["locking_n"]


def _erlang_c_direct(n: int, a: float) -> float:
    top = a ** n / math.factorial(n) * n / (n - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)


@given(st.integers(1, 40), st.floats(0.01, 39.9))
def test_erlang_c_matches_the_closed_form(n, a):
    if a >= n:
        assert sizing.erlang_c(n, a) == 1.0
    else:
        assert sizing.erlang_c(n, a) == pytest.approx(_erlang_c_direct(n, a), rel=1e-6)


def test_sizing_known_values():
    assert sizing.erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = ρ
    assert sizing.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert sizing.mean_wait_s(1, 0.5, 0.010) == pytest.approx(0.010)  # M/M/1: Wq = ρ/(1−ρ)·S
    assert sizing.mean_wait_s(2, 2.0, 0.01) is None
    assert sizing.erlang_size(8.8, 0.05) == 15
    assert sizing.hikaricp_formula(4, 1) == 9  # the wiki's 4-core example
    assert sizing.hikaricp_formula(None, 1) is None
    assert sizing.locking_bound(3, 4) == 10  # the wiki's example: 3 threads × (4 − 1) + 1
    assert sizing.locking_bound(8, 1) == 1
    assert sizing.available_connections(100, 3, 2, 10) == 85
    assert sizing.share_out({"a": (20, 2), "b": (10, 1)}, 25) == {"a": 10, "b": 5}
    assert sizing.share_out({"a": (5, 2)}, 25) == {"a": 5}
