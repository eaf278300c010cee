"""Sampled series in the report: pool gauges and cache hit ratios as line charts, with escaped labels.
Input: the pool-of-2 window recorded from the sample stack (tests/fixtures/actuator/README.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from analyzers.actuator import pool_charts
from reports import charts, html

FIXTURE = Path(__file__).parent / "fixtures" / "actuator" / "shop-sections" / "shop-pool2.json"


def _section() -> dict:
    return json.loads(FIXTURE.read_text())["actuator"]


def test_pool_gauges_become_one_chart_per_pool():
    (chart,) = pool_charts(_section())
    assert set(chart["series"]) == {"active", "idle", "pending", "max"}
    assert len(chart["t_s"]) == len(chart["series"]["pending"]) > 10
    assert max(v for v in chart["series"]["pending"] if v is not None) > 0  # the planted pool waits
    svg = charts.timeseries(chart)
    assert svg.startswith("<svg") and "pending" in svg


def test_a_single_scrape_draws_nothing():
    sec = copy.deepcopy(_section())
    for inst in sec["instances"]:
        inst["t_s"] = inst["t_s"][:1]
        inst["series"] = {k: v[:1] for k, v in inst["series"].items()}
    assert pool_charts(sec) == []
    assert charts.timeseries({"t_s": [0], "series": {"a": [1]}}) is None


def test_labels_from_the_target_are_escaped_in_the_page():
    spec = {"title": "pool <script>alert(1)</script>", "unit": "connections", "t_s": [0, 1, 2],
            "series": {"<img src=x onerror=alert(1)>": [1, 2, 3]}}
    report = {"generated_at": "2026-01-01T00:00:00Z", "tool": {"name": "perfadvisor", "version": "0"},
              "targets": {}, "summary": {}, "notes": [], "findings": [],
              "coverage": {"actuator": {"mode": "window", "timeseries": [spec]}}}
    page = html.render(report)
    assert "<svg" in page and "<script>alert" not in page and "<img src=x" not in page
