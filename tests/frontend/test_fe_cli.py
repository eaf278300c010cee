"""What a user sees from the command line: `perfadvisor analyze --bundle/--frontend-url/--baseline` and
`perfadvisor bundle-diff`, on the real fixture builds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from advisor.cli import cli

from .conftest import build, project_copy

pytestmark = pytest.mark.slow

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def lazy_build(tmp_path_factory) -> Path:
    """The Vite fixture with /reports made lazy: a second build to compare with."""
    proj = project_copy("vite-app", tmp_path_factory.mktemp("vite-lazy") / "app")
    app = proj / "src" / "App.jsx"
    text = app.read_text().replace('import Reports from "./pages/Reports.jsx";\n', "")
    app.write_text(text.replace("const Admin = lazy",
                                'const Reports = lazy(() => import("./pages/Reports.jsx"));\nconst Admin = lazy'))
    return build(proj)


def test_analyze_bundle_writes_the_shared_report(vite_project, tmp_path):
    out = tmp_path / "report"
    r = _run("analyze", "--bundle", str(vite_project / "dist"), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "FE002 Route /reports is in the initial load" in r.output
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert report["targets"]["frontend"]["status"] == "ok"
    assert report["targets"]["frontend"]["bundler"].startswith("vite ")
    rules = {f["rule"] for f in report["findings"]}
    assert {"FE002", "FE003", "FE004"} <= rules
    md = (out / "report.md").read_text()
    assert "lazy(() => import(" in md                                   # the code change is shown
    # the snapshot alone re-renders the same findings (no access to the build needed)
    snap = tmp_path / "snapshot.json"
    shutil.copy(out / "snapshot.json", snap)
    r2 = _run("analyze", "--from-snapshot", str(snap), "--out", str(tmp_path / "again"))
    assert r2.exit_code == 0, r2.output
    again = json.loads((tmp_path / "again" / "report.json").read_text())
    assert [f["id"] for f in again["findings"]] == [f["id"] for f in report["findings"]]


def test_analyze_with_fail_on_and_thresholds_from_toml(vite_project, tmp_path):
    cfg = tmp_path / "perfadvisor.toml"
    cfg.write_text(f'[targets.frontend]\nbundle = "{vite_project / "dist"}"\n\n'
                   "[thresholds.frontend]\ninitial_js_budget_gzip_bytes = 50000\n")
    r = _run("analyze", "--config", str(cfg), "--out", str(tmp_path / "o"), "--fail-on", "medium")
    assert r.exit_code == 1
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    fe1 = [f for f in report["findings"] if f["rule"] == "FE001"]
    assert fe1 and fe1[0]["evidence"]["budget_gzip_bytes"] == 50000


def test_bad_bundle_is_one_line_and_exit_2(tmp_path):
    stats = tmp_path / "stats.json"
    stats.write_text('{"version": "5.99.9", "chunks": [{"id": 0, "files": ["a.js"')
    r = _run("analyze", "--bundle", str(stats), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    errors = [line for line in r.output.splitlines() if line.startswith("perfadvisor: error:")]
    assert errors == [f"perfadvisor: error: webpack stats {stats}: not valid JSON (truncated or corrupt?): "
                      "parse error: premature EOF"]
    assert (tmp_path / "o" / "report.json").is_file()                # the rest is still written


def test_analyze_with_baseline_notes_the_diff(vite_project, lazy_build, tmp_path):
    r = _run("analyze", "--bundle", str(lazy_build), "--baseline", str(vite_project / "dist"),
             "--out", str(tmp_path / "o"))
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    d = report["coverage"]["frontend"]["bundle_diff"]
    assert d["initial_js"]["delta_gzip_bytes"] < 0
    assert any(n.startswith("bundle-diff: initial JS") for n in report["notes"])


def test_bundle_diff_command(vite_project, lazy_build, tmp_path):
    old, new = str(vite_project / "dist"), str(lazy_build)
    r = _run("bundle-diff", old, new, "--out", str(tmp_path / "d"))
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "d" / "bundle-diff.json").read_text())
    by = {c["chunk"]: c for c in d["chunks"]}
    # the entry chunk is matched across its changed hashed file name
    assert by["index.html"]["status"] == "changed"
    old_js = {p.name for p in (vite_project / "dist" / "assets").glob("index-*.js")}
    new_js = {p.name for p in (lazy_build / "assets").glob("index-*.js")}
    assert old_js and new_js and old_js != new_js
    assert by["src/pages/Reports.jsx"]["status"] == "added" and not by["src/pages/Reports.jsx"]["initial"]
    assert d["initial_js"]["delta_gzip_bytes"] < -14_600
    assert (tmp_path / "d" / "bundle-diff.md").read_text() == r.output.rstrip("\n") + "\n"
    # growing initial JS (the reverse diff) fails the gate, shrinking passes it
    assert _run("bundle-diff", old, new, "--fail-on-increase", "1%").exit_code == 0
    grow = _run("bundle-diff", new, old, "--fail-on-increase", "5%")
    assert grow.exit_code == 1 and "failing: initial JS grew by" in grow.output
    assert _run("bundle-diff", new, old, "--fail-on-increase", "lots").exit_code == 2


def test_analyze_bundle_and_url_together(vite_project, nginx_factory, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(vite_project / "dist", site)
    server = nginx_factory(site, "        location / { try_files $uri /index.html; }",
                           http_lines="    include /etc/nginx/mime.types;")
    r = _run("analyze", "--bundle", str(site), "--frontend-url", server.url, "--out", str(tmp_path / "o"))
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    rules = {f["rule"] for f in report["findings"]}
    assert {"FE002", "CDN001", "CDN003"} <= rules and "CDN005" not in rules
    assert report["targets"]["frontend"]["url"] == server.url
    cdn1 = next(f for f in report["findings"] if f["rule"] == "CDN001")
    assert cdn1["action"]["file"].startswith("nginx.conf") and "immutable" in cdn1["action"]["snippet"]
    server.stop()
    # the server gone: the bundle is still analysed and the failed probe is said in one note
    r = _run("analyze", "--bundle", str(site), "--frontend-url", server.url, "--out", str(tmp_path / "o2"))
    assert r.exit_code == 2 and server.url in r.output  # the failure is an error, after writing everything
    report = json.loads((tmp_path / "o2" / "report.json").read_text())
    assert "FE002" in {f["rule"] for f in report["findings"]}
    assert any(n.startswith("front-end headers not probed:") for n in report["notes"])


def test_url_that_is_not_loopback_is_refused(tmp_path):
    r = _run("analyze", "--frontend-url", "http://192.0.2.10/", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "not a loopback address" in r.output
