"""Front-end deltas on real reports: `perfadvisor analyze --bundle` on two builds (a directory of built files:
index.html and one hashed entry chunk), the second with a larger entry chunk."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema

from tests.diff.conftest import invoke, schema


def build(root: Path, functions: int) -> Path:
    """index.html + assets/index-<hash>.js with `functions` exported functions (poorly compressible numbers)."""
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><html><head><script type="module" crossorigin '
                                     'src="/assets/index-a1b2c3d4.js"></script></head><body></body></html>')
    rnd = random.Random(functions)
    (root / "assets" / "index-a1b2c3d4.js").write_text("".join(
        f"export function f{i}(x){{return x*{rnd.randint(1, 10**6)}+\"{rnd.random()}\";}}\n"
        for i in range(functions)))
    return root


def test_initial_js_delta_and_the_budget_finding(tmp_path):
    outs = {}
    for name, n in (("old", 3000), ("new", 12000)):
        outs[name] = tmp_path / f"{name}-report"
        code, output = invoke(["analyze", "--bundle", str(build(tmp_path / name, n)), "--out", str(outs[name]),
                               "-q"])
        assert code == 0, output
    code, output = invoke(["diff", str(outs["old"]), str(outs["new"]), "--out", str(tmp_path / "d"),
                           "--fail-on-new", "info"])
    d = json.loads((tmp_path / "d" / "diff.json").read_text())
    jsonschema.validate(d, schema("diff.schema.json"))
    fe = d["frontend"]["initial_js_gzip_bytes"]
    old_gz = json.loads((outs["old"] / "report.json").read_text())["coverage"]["frontend"]["bundle"][
        "initial_js_gzip_bytes"]
    assert fe["old"] == old_gz and fe["new"] > 3 * fe["old"] and fe["delta"] == fe["new"] - fe["old"]
    # The larger entry chunk is over the initial-JS budget (FE001): new, and failing at info.
    assert any(e["rule"] == "FE001" for e in d["new_findings"]) and code == 1, output
    md = (tmp_path / "d" / "diff.md").read_text()
    assert "Initial JS (gzip):" in md and f"(+{fe['delta_pct']:.1f}%)" in md
    assert "Initial JS (gzip)" in (tmp_path / "d" / "diff.html").read_text()


def test_findings_of_a_target_not_analysed_are_not_resolved(reports, tmp_path):
    """Main's report analysed PostgreSQL; a run that only analysed a bundle has none of its findings, and says
    they were not re-checked rather than resolved."""
    out = tmp_path / "fe-only"
    code, output = invoke(["analyze", "--bundle", str(build(tmp_path / "b", 3000)), "--out", str(out), "-q"])
    assert code == 0, output
    code, output = invoke(["diff", str(reports.base), str(out), "--out", str(tmp_path / "d")])
    d = json.loads((tmp_path / "d" / "diff.json").read_text())
    jsonschema.validate(d, schema("diff.schema.json"))
    assert d["resolved_findings"] == [] and d["targets_not_analysed"] == ["postgres"]
    assert len(d["not_rechecked_findings"]) == len(json.loads((reports.base / "report.json").read_text())["findings"])
    assert "not re-checked" in output
    assert "#### Not re-checked: this run did not analyse their source (postgres)" in (tmp_path / "d" / "diff.md").read_text()
