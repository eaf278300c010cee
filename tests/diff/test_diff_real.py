"""`perfadvisor diff` on pairs of real reports (tests/diff/conftest.py: analyze before and after real schema
changes in a database of our own)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema

from advisor.diff.cli import diff_after_analyze
from tests.diff.conftest import ORDERS_ID, invoke, load, schema


def run_diff(old: Path, new: Path, out: Path, *extra: str) -> tuple[int, str, dict]:
    code, output = invoke(["diff", str(old), str(new), "--out", str(out), *extra])
    d = json.loads((out / "diff.json").read_text()) if (out / "diff.json").exists() else {}
    if d:
        jsonschema.validate(d, schema("diff.schema.json"))
    return code, output, d


def ids(entries: list[dict]) -> set[str]:
    return {e["id"] for e in entries}


def test_unchanged_rerun_reports_nothing_and_passes(reports, tmp_path):
    code, output, d = run_diff(reports.base, reports.rerun, tmp_path, "--fail-on-new", "info")
    assert code == 0, output
    assert (d["summary"]["new"], d["summary"]["resolved"], d["summary"]["changed"]) == (0, 0, 0)
    assert d["summary"]["unchanged"] == len(load(reports.rerun)["findings"]) > 0
    assert "0 new, 0 resolved, 0 changed" in output
    md = (tmp_path / "diff.md").read_text()
    assert "No new finding at info or worse" in md


def test_old_findings_never_fail(reports, tmp_path):
    """The base already has high findings; a run that keeps them passes even at --fail-on-new info."""
    assert any(f["severity"] == "high" for f in load(reports.rerun)["findings"])
    code, _, d = run_diff(reports.base, reports.rerun, tmp_path, "--fail-on-new", "info")
    assert code == 0 and d["summary"]["failing"] == []


def test_added_index_resolves_its_finding(reports, tmp_path):
    code, output, d = run_diff(reports.base, reports.indexed, tmp_path, "--fail-on-new", "high")
    assert code == 0, output
    resolved = {e["id"]: e for e in d["resolved_findings"]}
    assert ORDERS_ID in resolved
    assert resolved[ORDERS_ID]["severity"] == "high"
    assert resolved[ORDERS_ID]["impact"]["metric"] == "exec_time_ms_per_hour"
    # The new (customer_id, created_at) index also serves the foreign key orders.customer_id.
    assert "PG002:public.orders.orders_customer_fk" in resolved
    assert d["summary"]["new"] == 0
    md = (tmp_path / "diff.md").read_text()
    assert "#### Resolved findings (2)" in md and "orders" in md


def test_new_missing_index_fails_at_high(reports, tmp_path):
    code, output, d = run_diff(reports.indexed, reports.dropped, tmp_path, "--fail-on-new", "high")
    assert code == 1, output
    new = {e["id"]: e for e in d["new_findings"]}
    assert new[ORDERS_ID]["severity"] == "high"
    assert ORDERS_ID in d["summary"]["failing"]
    assert d["exit_code"] == 1
    assert "failing: " in output and "--fail-on-new high" in output
    md = (tmp_path / "diff.md").read_text()
    assert "❌" in md and "new finding(s) at high or worse" in md
    assert "(customer\\_id, created\\_at)" in md or "customer\\_id" in md


def test_new_finding_below_the_threshold_passes(reports, tmp_path):
    code, output, d = run_diff(reports.indexed, reports.dropped, tmp_path, "--fail-on-new", "critical")
    assert code == 0, output
    assert ORDERS_ID in ids(d["new_findings"]) and d["summary"]["failing"] == []


def test_without_threshold_never_fails(reports, tmp_path):
    code, _, d = run_diff(reports.indexed, reports.dropped, tmp_path)
    assert code == 0 and d["settings"]["fail_on_new"] is None


def test_severity_change_with_impact_before_and_after(reports, tmp_path):
    code, output, d = run_diff(reports.dropped, reports.skewed, tmp_path, "--fail-on-new", "critical")
    changed = {e["id"]: e for e in d["changed_findings"]}
    products = changed["PG001:public.products(category_id,created_at)"]
    # The skewed workload makes this index critical; how severe it was before depends on the measured costs of the
    # base run (low or medium here), so the test holds the direction, not the exact starting level.
    before = products["severity_before"]
    assert before in ("low", "medium") and products["severity_after"] == "critical", products
    assert products["direction"] == "worse"
    assert "severity" in products["changes"]
    # its impact (ms per hour, extrapolated from each run's own window of real timings) moves with the
    # machine: the test holds that "impact" is listed exactly when the two impacts differ beyond the tolerance
    from advisor import diff as df
    assert ("impact" in products["changes"]) == df.impact_changed(
        products["impact_before"], products["impact_after"], df.IMPACT_TOLERANCE)
    assert products["impact_before"] != products["impact_after"]
    orders = changed[ORDERS_ID]
    assert (orders["severity_before"], orders["severity_after"], orders["direction"]) == ("high", "medium", "better")
    # products(category_id, created_at) is critical now but the base had it: an old finding does not fail.
    assert code == 0, output
    md = (tmp_path / "diff.md").read_text()
    assert f"{before} → critical" in md and "high → medium" in md
    html = (tmp_path / "diff.html").read_text()
    assert f"{before} → critical" in re.sub(r"<[^>]+>", "", html)


def test_reports_of_different_schema_versions(reports, tmp_path):
    doc = load(reports.rerun)
    doc["schema_version"] = 2
    newer = tmp_path / "newer" / "report.json"
    newer.parent.mkdir()
    newer.write_text(json.dumps(doc))
    code, output, _ = run_diff(reports.base, newer, tmp_path / "out")
    assert code == 2
    assert output.count("\n") == 1 and "Traceback" not in output
    assert "different schema versions" in output and "is 1" in output and "is 2" in output
    assert not (tmp_path / "out" / "diff.md").exists()


def test_a_file_that_is_not_a_report(reports, tmp_path):
    code, output, _ = run_diff(reports.base / "snapshot.json", reports.rerun, tmp_path)
    assert code == 2 and output.count("\n") == 1
    assert "snapshot.json" in output and "not a perfadvisor report.json" in output
    code, output, _ = run_diff(tmp_path / "missing", reports.rerun, tmp_path)
    assert code == 2 and "cannot read it" in output and output.count("\n") == 1
    (tmp_path / "broken.json").write_text("{not json")
    code, output, _ = run_diff(tmp_path / "broken.json", reports.rerun, tmp_path)
    assert code == 2 and "not a JSON report.json" in output


def test_diff_after_analyze_writes_beside_the_report(reports, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reports.dropped, out)
    code = diff_after_analyze(reports.indexed, load(out), out, fail_on_new="high", echo=lambda s: None)
    assert code == 1
    d = json.loads((out / "diff.json").read_text())
    jsonschema.validate(d, schema("diff.schema.json"))
    assert ORDERS_ID in d["summary"]["failing"]
    assert (out / "diff.md").read_text().startswith("<!-- perfadvisor-diff -->\n")
    assert diff_after_analyze(reports.base, load(reports.rerun), tmp_path / "again", echo=lambda s: None) == 0


def test_load_verdicts_when_both_reports_have_a_comparison(reports, tmp_path):
    """compare.json beside each report.json (as `perfadvisor compare` writes it) gives verdict deltas; only one
    side having one gives none."""
    sides = {}
    for name, verdict in (("old", "~"), ("new", "regressed")):
        shutil.copytree(reports.base, tmp_path / name)
        (tmp_path / name / "compare.json").write_text(json.dumps(
            {"summary": {"verdict": verdict}, "endpoints": [{"key": "overall", "verdict": verdict},
                                                            {"key": "GET /api/products", "verdict": "~"}]}))
        sides[name] = tmp_path / name
    _, _, d = run_diff(sides["old"], sides["new"], tmp_path / "out")
    assert d["load"]["verdict"] == {"old": "~", "new": "regressed"}
    assert d["load"]["endpoints"][0] == {"key": "overall", "old": "~", "new": "regressed"}
    assert "Load comparison verdict: \\~ → regressed" in (tmp_path / "out" / "diff.md").read_text()
    _, _, d = run_diff(sides["old"], reports.rerun, tmp_path / "one")
    assert d["load"] is None and d["frontend"] is None
