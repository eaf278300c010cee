"""`perfadvisor compare` on generated runs whose true shifts the test knows (synth.py): no change, a 30% faster
endpoint, a regression, replicate runs, an invalid run, half-written and mismatched run directories, SLOs, and
the size of the Markdown report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.compare import run_compare
from advisor.load import rundir as rd

from .conftest import A, B, endpoints, validate_compare
from .synth import Endpoint, make_run

LATENCY = ("p50_ms", "p95_ms", "p99_ms")


def _cli(*args: str):
    return CliRunner().invoke(cli, ["compare", *map(str, args)], catch_exceptions=False)


def _one_error_line(res) -> str:
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("perfadvisor: error: "), res.output
    return lines[0]


def _rows(doc) -> dict[str, dict]:
    return {r["key"]: r for r in doc["endpoints"]}


def test_no_change_gives_no_significant_change(runs, tmp_path):
    res = _cli(runs["before"], runs["same"], "--out", tmp_path)
    assert res.exit_code == 0, res.output
    doc = validate_compare(tmp_path)
    assert doc["mode"] == "windows" and doc["confidence"] == "lower"
    assert doc["summary"]["verdict"] == "~" and "~ no significant change" in res.output
    for row in doc["endpoints"]:
        for name, m in row["metrics"].items():
            assert m["verdict"] == "~", (row["key"], name, m)
            assert m["ci_low"] < 0.05 and m["ci_high"] > -0.05


def test_a_30_percent_faster_endpoint_is_improved_and_the_other_is_not(runs, tmp_path):
    res = _cli(runs["before"], runs["faster"], "--out", tmp_path)
    assert res.exit_code == 0, res.output
    doc = validate_compare(tmp_path)
    rows = _rows(doc)
    for name in LATENCY:
        m = rows[B]["metrics"][name]
        assert m["verdict"] == "improved", (name, m)
        assert -0.36 < m["change"] < -0.24 and m["ci_low"] < m["change"] < m["ci_high"] < -0.05
        assert m["p_adjusted"] < 0.05
        assert rows[A]["metrics"][name]["verdict"] not in ("improved", "regressed")
    assert rows[B]["verdict"] == "improved" and rows["overall"]["metrics"]["p95_ms"]["verdict"] == "improved"
    assert rows[A]["metrics"]["error_rate"]["verdict"] == "~"
    assert res.output.strip().splitlines()[-1].startswith("improved:")


def test_a_regression_exits_1_for_ci(runs, tmp_path):
    res = _cli(runs["before"], runs["slower"], "--out", tmp_path)
    assert res.exit_code == 1, res.output
    doc = validate_compare(tmp_path)
    assert doc["exit_code"] == 1
    assert _rows(doc)[B]["metrics"]["p95_ms"]["verdict"] == "regressed"
    assert any(r.startswith(B) for r in doc["summary"]["regressed"])
    assert "REGRESSED" in res.output.strip().splitlines()[-1]
    md = (tmp_path / "compare.md").read_text()
    assert "REGRESSED" in md and "regressed" in md
    assert {m["verdict"] for m in _rows(doc)[A]["metrics"].values()} <= {"~", "inconclusive"}


def test_threshold_decides_what_counts(runs, tmp_path):
    # A 30% change is significant; with a 40% threshold it is not large enough to count, and the interval
    # lies inside ±40%: no significant change.
    res = _cli(runs["before"], runs["slower"], "--out", tmp_path, "--threshold", "40%")
    assert res.exit_code == 0, res.output
    m = _rows(validate_compare(tmp_path))[B]["metrics"]["p95_ms"]
    assert m["verdict"] == "~" and m["p_adjusted"] < 0.05


def test_replicate_runs_use_per_run_values_and_say_how_many_runs_settle_it(runs, tmp_path):
    res = _cli(runs["rep3_before"], runs["rep3_after"], "--out", tmp_path / "three")
    assert res.exit_code == 0, res.output
    doc = validate_compare(tmp_path / "three")
    assert doc["mode"] == "runs" and doc["confidence"] == "normal"
    assert len(doc["before"]["runs"]) == 3 and doc["before"]["valid_runs"] == 3
    m = _rows(doc)[B]["metrics"]["p95_ms"]
    assert (m["n_before"], m["n_after"]) == (3, 3)
    assert m["verdict"] == "inconclusive"
    # Three runs a side cannot reach significance after Holm over the family (exact Mann-Whitney's smallest
    # p-value with 3 + 3 is 0.1): the report asks for more runs.
    assert m["runs_needed"] >= 6 and m["mde"] is not None
    assert "runs per side would settle it" in (tmp_path / "three" / "compare.md").read_text()
    res = _cli(runs["rep6_before"], runs["rep6_after"], "--out", tmp_path / "six")
    doc = validate_compare(tmp_path / "six")
    rows = _rows(doc)
    assert doc["mode"] == "runs"
    assert rows[B]["metrics"]["p95_ms"]["verdict"] == "improved", rows[B]["metrics"]["p95_ms"]
    assert {rows[A]["metrics"][n]["verdict"] for n in LATENCY} <= {"~", "inconclusive"}


def test_an_invalid_run_gets_no_verdict(runs, tmp_path):
    res = _cli(runs["before"], runs["errors"], "--out", tmp_path)
    line = _one_error_line(res)
    assert "invalid" in line and "errors" in line
    doc = validate_compare(tmp_path)
    assert doc["summary"]["verdict"] == "invalid" and doc["exit_code"] == 2
    assert all(m["verdict"] == "invalid" for r in doc["endpoints"] for m in r["metrics"].values())
    (after,) = doc["after"]["runs"]
    assert after["valid"] is False and after["failed_checks"][0]["rule"] == "LOAD004"
    html = (tmp_path / "compare.html").read_text()
    assert "invalid run: no verdict" in html and "LOAD004" in html


def test_an_invalid_replicate_is_left_out_and_reported(runs, tmp_path):
    side = tmp_path / "after"
    shutil.copytree(runs["rep3_after"], side)
    shutil.copytree(runs["errors"], side / "run9")
    result = run_compare(runs["rep3_before"], side, tmp_path / "out")
    assert result.doc["after"]["valid_runs"] == 3 and len(result.doc["after"]["runs"]) == 4
    assert _rows(result.doc)[B]["metrics"]["p95_ms"]["n_after"] == 3


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def test_half_written_run_directories_are_refused(runs, tmp_path):
    running = _copy(runs["same"], tmp_path / "running")
    doc = json.loads((running / rd.RUN_JSON).read_text())
    (running / rd.RUN_JSON).write_text(json.dumps({**doc, "status": "running"}))
    assert "never finished" in _one_error_line(_cli(runs["before"], running, "--out", tmp_path / "o1"))

    no_hist = _copy(runs["same"], tmp_path / "no_hist")
    (no_hist / rd.HISTOGRAMS_JSON).unlink()
    assert "histograms.json: missing" in _one_error_line(_cli(runs["before"], no_hist, "--out", tmp_path / "o2"))

    cut = _copy(runs["same"], tmp_path / "cut")
    text = (cut / rd.WINDOWS_JSONL).read_text()
    (cut / rd.WINDOWS_JSONL).write_text(text[: len(text) // 2 + 7])
    assert "is not JSON" in _one_error_line(_cli(runs["before"], cut, "--out", tmp_path / "o3"))
    lines = text.splitlines(keepends=True)
    (cut / rd.WINDOWS_JSONL).write_text("".join(lines[: len(lines) // 2]))  # cut at a line's end
    assert "cut short" in _one_error_line(_cli(runs["before"], cut, "--out", tmp_path / "o3b"))

    torn = _copy(runs["same"], tmp_path / "torn")
    (torn / rd.RUN_JSON).write_text((torn / rd.RUN_JSON).read_text()[:200])
    assert "not valid JSON" in _one_error_line(_cli(runs["before"], torn, "--out", tmp_path / "o4"))

    (tmp_path / "empty").mkdir()
    assert "neither a run directory" in _one_error_line(_cli(runs["before"], tmp_path / "empty", "--out",
                                                             tmp_path / "o5"))
    assert "same run directory" in _one_error_line(_cli(runs["before"], runs["before"], "--out", tmp_path / "o6"))


def test_runs_of_different_hosts_or_workloads_are_refused_unless_forced(runs, tmp_path):
    line = _one_error_line(_cli(runs["before"], runs["other_host"], "--out", tmp_path / "a"))
    assert "host differs" in line and "--force" in line
    line = _one_error_line(_cli(runs["before"], runs["other_workload"], "--out", tmp_path / "b"))
    assert "workload" in line
    res = _cli(runs["before"], runs["other_host"], "--out", tmp_path / "c", "--force")
    assert res.exit_code in (0, 1), res.output
    assert any(n.startswith("forced: host differs") for n in validate_compare(tmp_path / "c")["notes"])


def test_slo_table_and_apdex(runs, tmp_path):
    res = _cli(runs["before"], runs["slower"], "--out", tmp_path, "--slo", f"{B}:p95_ms=180",
               "--slo", "apdex_t_ms=100", "--slo", "error_rate=2%")
    assert res.exit_code == 1
    doc = validate_compare(tmp_path)
    slo = {(r["endpoint"], r["metric"]): r for r in doc["slo"]}
    b95 = slo[(B, "p95_ms")]
    assert b95["target"] == 180 and b95["before_met"] is True and b95["after_met"] is False  # ~163 → ~212 ms
    assert slo[(A, "p95_ms")]["target"] == 200 and slo[(A, "error_rate")]["target"] == 0.02
    apdex = {r["endpoint"]: r for r in doc["apdex"]}
    # T = 100 ms: /a (median 40 ms) is nearly all satisfied; /b (median 100 ms) about half.
    assert apdex[A]["t_ms"] == 100 and apdex[A]["before"] > 0.95
    assert 0.6 < apdex[B]["before"] < 0.85 and apdex[B]["after"] < apdex[B]["before"]


@pytest.mark.parametrize("args, words", [
    (["--slo", "p95=200"], "METRIC"), (["--slo", "p95_ms=fast"], "not a duration"),
    (["--slo", "error_rate=150%"], "not a share"), (["--threshold", "five"], "--threshold"),
])
def test_bad_options_are_one_line(runs, tmp_path, args, words):
    assert words in _one_error_line(_cli(runs["before"], runs["same"], "--out", tmp_path, *args))


def test_markdown_stays_under_the_comment_limit_and_html_escapes_names(tmp_path):
    names = {f"GET /api/{'segment/' * 10}{i}/{{id}}": Endpoint(2, 20) for i in range(70)}
    names["GET /<script>alert(1)</script>|x"] = Endpoint(20, 20)
    before = make_run(tmp_path / "b", names, 8, seed=1, warmup_s=1.0)
    after = make_run(tmp_path / "a", names, 8, seed=2, warmup_s=1.0)
    res = run_compare(before, after, tmp_path / "out")
    md = (tmp_path / "out" / "compare.md").read_text()
    assert len(md) < 60_000
    assert "left out to stay under" in md and "<details>" in md and "more endpoint(s) in compare.html" in md
    html = (tmp_path / "out" / "compare.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert res.exit_code in (0, 1)


def test_compare_is_repeatable(runs, tmp_path):
    one = run_compare(runs["rep3_before"], runs["rep3_after"], tmp_path / "1").doc
    two = run_compare(runs["rep3_before"], runs["rep3_after"], tmp_path / "2").doc
    assert one["endpoints"] == two["endpoints"]


def test_endpoint_only_on_one_side_has_no_verdict(tmp_path):
    before = make_run(tmp_path / "b", {A: Endpoint(100, 40)}, 20, seed=1)
    after = make_run(tmp_path / "a", {**{A: Endpoint(100, 40)}, "GET /new": Endpoint(50, 10)}, 20, seed=2)
    doc = run_compare(before, after, tmp_path / "out").doc
    row = _rows(doc)["GET /new"]
    assert row["only"] == "after" and row["verdict"] == "inconclusive"
    assert endpoints()  # the shared shapes stay importable
