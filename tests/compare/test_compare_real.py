"""compare on real, short Locust runs against a server whose latency the test sets: one endpoint made 30%
faster is improved and the untouched one is not; the other way round it is a regression and exits 1; the HTML
opens in headless Chromium without console errors, with its charts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from load.conftest import LENIENT, LOCUSTFILE
from load.procsource import ProcSource
from load.server import DelayServer, Route

from advisor.cli import cli
from advisor.compare import run_compare
from advisor.config import build_settings
from advisor.load.runner import LoadOptions, run_loadtest
from advisor.load.stack import StackSampler

PORT = 31011
FAST, SLOW = "GET /fast", "GET /slow?id={id}"
LATENCY = ("p50_ms", "p95_ms", "p99_ms")


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("real")
    config = base / "perfadvisor.toml"
    config.write_text(LENIENT)
    settings = build_settings(config, config_required=True)
    out = {}
    with DelayServer(PORT, {"/fast": Route(30, sigma=0.2), "/slow": Route(100, sigma=0.2)}) as server:
        for name, slow_ms in (("before", 100), ("faster", 70)):
            server.set_route("/slow", Route(slow_ms, sigma=0.2))
            opts = LoadOptions(locustfile=LOCUSTFILE, host=server.url, users=8, spawn_rate=8, duration_s=11,
                               out=base / name, workers=1, warmup_s=1)
            doc, code = run_loadtest(opts, settings, echo=lambda _line: None,
                                     sampler=StackSampler({"proc": [ProcSource()]}))
            assert code == 0, (name, doc["validity"])
            out[name] = base / name
    return out


@pytest.fixture(scope="module")
def improved(real_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("improved")
    return out, run_compare(real_runs["before"], real_runs["faster"], out, threshold="10%")


def test_real_runs_a_faster_endpoint_is_improved_and_the_other_is_not(improved):
    _, result = improved
    rows = {r["key"]: r for r in result.doc["endpoints"]}
    assert result.exit_code == 0
    for name in ("p50_ms", "p95_ms"):
        m = rows[SLOW]["metrics"][name]
        assert m["verdict"] == "improved", (name, m)
        assert -0.45 < m["change"] < -0.15
    for name in LATENCY:
        assert rows[FAST]["metrics"][name]["verdict"] not in ("improved", "regressed"), rows[FAST]["metrics"][name]
    # In a closed workload the untouched endpoint is called more often when another one got faster, so its
    # throughput may rise; its latency and errors must not move.
    assert rows[FAST]["metrics"]["error_rate"]["verdict"] in ("~", "inconclusive")


def test_real_runs_a_slower_endpoint_exits_1(real_runs, tmp_path):
    # The same two runs, read the other way round: /slow went from 70 to 100 ms.
    res = CliRunner().invoke(cli, ["compare", str(real_runs["faster"]), str(real_runs["before"]), "--out",
                                   str(tmp_path), "--threshold", "10%"], catch_exceptions=False)
    assert res.exit_code == 1, res.output
    assert "REGRESSED" in res.output and SLOW in res.output.splitlines()[-1]


def test_compare_html_opens_in_chromium_with_its_charts(improved):
    from stack.chromium import Browser, chromium_binary

    binary = chromium_binary()
    if not binary:
        pytest.fail("chromium is not installed (apt-get install chromium)")
    out, _ = improved
    browser = Browser(binary)
    try:
        page = browser.open((out / "compare.html").as_uri(), "document.getElementById('headline')",
                            probe_js="[...document.querySelectorAll('.figure')].map(f => [f.id, "
                                     "f.querySelectorAll('svg path, svg line').length, "
                                     "f.querySelector('svg').getBoundingClientRect().width])")
    finally:
        browser.close()
    assert page.errors == [], page.errors
    figures = {fid: (marks, width) for fid, marks, width in page.probe}
    for fid in ("chart-curves", "chart-effect-p95_ms", "chart-over-time", "chart-stack"):
        assert fid in figures, figures
        marks, width = figures[fid]
        assert marks > 10 and width > 200, (fid, figures[fid])
    assert "improved" in page.text and SLOW in page.text and "SLOs and Apdex" in page.text
