"""Issue 16's false alarms, on a real webpack build (tests/fixtures/webpack-chart-app, built here): a heavy
package pulled in by another dependency, a context module, CommonJS packages with nothing to do about them,
webpack stats sizes before minification, the app's own config file, no build-machine paths."""

from __future__ import annotations

import json
import re

from advisor.config import Settings
from analyzers.frontend import analyze, load_bundle, rules
from tests.frontend.conftest import build, loaded, project_copy

MARKER = "// perfadvisor's tests insert advised plugins here"


def _found(proj):
    return rules.run(loaded(proj / "dist" / "stats.json"), Settings())


def _by(found, code):
    return [f for f in found if f.rule == code]


def test_transitive_heavy_package_names_the_direct_dependency(chart_project):
    b = loaded(chart_project / "dist" / "stats.json")
    app_src = "".join(p.read_text() for p in (chart_project / "src").glob("*.js"))
    assert "moment" not in app_src  # the app never imports it: chart.js 2 does
    moment = [f for f in _by(_found(chart_project), "FE003") if f.evidence["package"] == "moment"]
    assert len(moment) == 1
    f = moment[0]
    assert f.evidence["imported_by_app"] is False and f.evidence["pulled_in_by"] == ["chart.js"]
    assert "chart.js" in f.title and "dayjs" not in f.action["snippet"]
    assert "chart.js" in f.action["snippet"]
    # the locales are FE009's, not counted again here
    locale_bytes = sum(m.bytes for m in b.modules if "/moment/locale/" in m.path)
    assert f.evidence["bytes_before_minification"] < sum(m.bytes for m in b.modules
                                                         if m.package == "moment") - locale_bytes + 1


def test_context_module_is_its_own_finding_with_the_plugin_fix(chart_project):
    found = _found(chart_project)
    ctx = _by(found, "FE009")
    assert [f.evidence["directory"] for f in ctx] == ["node_modules/moment/locale"]
    f = ctx[0]
    assert f.evidence["files"] > 100 and f.evidence["required_by"] == ["node_modules/moment/moment.js"]
    assert "ContextReplacementPlugin" in f.action["snippet"] and "IgnorePlugin" in f.action["snippet"]
    # not reported as a second copy of moment
    assert not [d for d in _by(found, "FE004") if "moment" in d.title]


def test_context_module_saving_matches_a_real_rebuild_with_the_advised_plugin(chart_project, tmp_path):
    before = loaded(chart_project / "dist" / "stats.json")
    f = _by(rules.run(before, Settings()), "FE009")[0]
    estimate = f.evidence["estimated_gzip_bytes"]
    ignore = re.search(r"new webpack\.IgnorePlugin\(.*?\),", f.action["snippet"]).group(0)
    proj = project_copy("webpack-chart-app", tmp_path / "ignored")
    cfg = proj / f.action["file"]
    cfg.write_text(cfg.read_text().replace(MARKER, ignore))
    after = load_bundle(build(proj) / "stats.json")
    assert not after.contexts
    real_drop = before.initial_bytes("js", "gzip_bytes") - after.initial_bytes("js", "gzip_bytes")
    assert real_drop > 0
    assert abs(estimate - real_drop) / real_drop < 0.25, (estimate, real_drop)


def test_commonjs_without_an_action_is_one_low_line(chart_project):
    shaking = _by(_found(chart_project), "FE007")
    assert len(shaking) == 1
    f = shaking[0]
    assert f.severity == "low" and f.key == "commonjs-without-esm-build" and f.action["kind"] == "none"
    assert [p["package"] for p in f.evidence["packages"]] == ["chart.js"]  # moment: FE003 has the action


def test_stats_sizes_are_labelled_before_minification(chart_project):
    b = loaded(chart_project / "dist" / "stats.json")
    assert {m.measure for m in b.modules} == {"stats"}  # built without source maps
    result = analyze({"bundle": b.to_dict()}, Settings())
    rows = result.coverage["bundle"]["largest_packages"]
    shipped = b.initial_bytes("js", "raw_bytes")
    assert all(r["minified_measured"] is False for r in rows)
    assert sum(r["bytes_before_minification"] for r in rows) > shipped  # webpack's sizes over-count …
    assert sum(r["minified_bytes"] for r in rows) <= shipped  # … the estimate does not
    over = _by(result.findings, "FE005")[0]
    assert "pre-minification" in over.detail
    moment = _by(result.findings, "FE003")[0]
    assert "before minification" in moment.detail and moment.evidence["minified_measured"] is False
    assert any("before minification" in n for n in result.notes)


def test_advice_names_the_real_config_file_and_only_webpack_tools(chart_project):
    b = loaded(chart_project / "dist" / "stats.json")
    assert b.bundler["config_file"] == "config/webpack.prod.js"
    found = rules.run(b, Settings())
    files = {f.action.get("file") for f in found if f.action.get("kind") == "config"}
    assert files == {"config/webpack.prod.js"}
    text = json.dumps([f.to_dict() for f in found], default=str)
    assert "vite" not in text.lower() and "webpack.config.js" not in text


def test_no_build_machine_path_in_the_report(chart_project):
    b = loaded(chart_project / "dist" / "stats.json")
    assert json.loads((chart_project / "dist" / "stats.json").read_text())["outputPath"].startswith("/")
    result = analyze({"bundle": b.to_dict()}, Settings())
    text = json.dumps({"findings": [f.to_dict() for f in result.findings], "notes": result.notes,
                       "coverage": result.coverage}, default=str)
    assert str(chart_project) not in text
    assert not re.search(r'"/(?:tmp|home|root|Users|builds?)/', text)


def test_no_absolute_path_in_notes_of_stats_alone(chart_project, tmp_path):
    """stats.json copied away from its build: the notes name the file, not where it sits on this machine."""
    stats = json.loads((chart_project / "dist" / "stats.json").read_text())
    stats["outputPath"] = "/home/ci/builds/app/dist"  # the build machine's, not here
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    b = load_bundle(tmp_path / "stats.json", compress=False)
    result = analyze({"bundle": b.to_dict()}, Settings())
    assert any("stats.json" in n for n in result.notes)
    assert not any(str(tmp_path) in n or "/home/ci" in n for n in result.notes), result.notes
