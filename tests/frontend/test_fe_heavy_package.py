"""FE003's saving estimates against real rebuilds with the advised change: a heavy package pulled in by a
direct dependency with a documented fix (rules.TRANSITIVE_FIXES; an app that imports Bootstrap 4's JavaScript
and never jQuery, tests/fixtures/vite-bootstrap4-app, then the same app on Bootstrap 5), and moment imported
by the app itself replaced with dayjs (vite-app, then its sources on tests/fixtures/vite-dayjs-app)."""

from __future__ import annotations

import json
import shutil

import pytest

from advisor.config import Settings
from analyzers.frontend import load_bundle, rules
from analyzers.frontend.model import package_uses

from .conftest import FIXTURES, build, project_copy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bootstrap4(tmp_path_factory):
    return project_copy("vite-bootstrap4-app", tmp_path_factory.mktemp("bs4") / "app")


def test_every_entry_has_its_source_and_advice():
    for (direct, heavy), fix in rules.TRANSITIVE_FIXES.items():
        assert heavy in rules.HEAVY_PACKAGES, (direct, heavy)
        assert fix["advice"] and fix["snippet"] and "fixed_in" in fix
        assert fix["references"] and all(r.startswith("https://") for r in fix["references"])
    assert rules.transitive_fix(["react", "antd"], "moment")[0] == "antd"
    assert rules.transitive_fix(["react"], "moment") is None


def test_jquery_through_bootstrap4_is_advised_on_bootstrap(bootstrap4):
    b = load_bundle(build(bootstrap4))
    found = [f for f in rules.run(b, Settings()) if f.rule == "FE003"]
    assert len(found) == 1
    f = found[0]
    assert f.evidence["package"] == "jquery" and f.evidence["imported_by_app"] is False
    assert f.evidence["pulled_in_by"] == ["bootstrap"]
    fix = rules.TRANSITIVE_FIXES[("bootstrap", "jquery")]
    assert f.evidence["known_fix"] == {"dependency": "bootstrap", "fixed_in": "5.0.0", "source": fix["references"][0]}
    assert "Advice on bootstrap: upgrade bootstrap to 5" in f.detail
    assert f.action["snippet"] == fix["snippet"] and f.references == fix["references"]
    # not the advice for an app that imports jquery itself
    assert "native DOM" not in f.title + f.detail + json.dumps(f.action)


def test_the_advised_upgrade_removes_jquery_and_saves_about_the_estimate(bootstrap4, tmp_path):
    before = load_bundle(bootstrap4 / "dist")
    f = next(f for f in rules.run(before, Settings()) if f.rule == "FE003")
    estimate = f.impact["before"] - f.impact["after"]  # gzip bytes leaving the initial load
    # the advice, applied: the same app on Bootstrap 5 and Popper 2 (tests/fixtures/vite-bootstrap5-app)
    after = load_bundle(build(project_copy("vite-bootstrap5-app", tmp_path / "app")))
    assert "jquery" not in {u.name for u in package_uses(after)}
    assert not [f for f in rules.run(after, Settings()) if f.rule == "FE003"]
    real = rules.initial_gzip(before)[0] - rules.initial_gzip(after)[0]
    assert real > 0 and abs(estimate - real) / real < 0.25, (estimate, real)


def test_moment_to_dayjs_saves_about_the_estimate(vite_project, tmp_path):
    before = load_bundle(vite_project / "dist")
    f = next(f for f in rules.run(before, Settings()) if f.rule == "FE003" and f.evidence["package"] == "moment")
    estimate = f.impact["before"] - f.impact["after"]  # moment's gzip share minus dayjs's published size
    # the advice, applied: vite-app's sources with the snippet's change, on dependencies with dayjs
    proj = project_copy("vite-dayjs-app", tmp_path / "app")
    shutil.copytree(FIXTURES / "vite-app", proj, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("package.json", "package-lock.json", "node_modules", "dist"))
    reports = proj / "src" / "pages" / "Reports.jsx"
    text = reports.read_text().replace('import moment from "moment";', 'import dayjs from "dayjs";')
    reports.write_text(text.replace("moment()", "dayjs()"))
    after = load_bundle(build(proj))
    assert "moment" not in {u.name for u in package_uses(after)} and "dayjs" in {u.name for u in package_uses(after)}
    real = rules.initial_gzip(before)[0] - rules.initial_gzip(after)[0]
    assert real > 0 and abs(estimate - real) / real < 0.25, (estimate, real)


def test_duplicate_versions_saving_matches_a_rebuild_with_the_override(vite_project, tmp_path):
    """FE004's wasted bytes against vite-app rebuilt with the advised npm override (one is-number)."""
    before = load_bundle(vite_project / "dist")
    f = next(f for f in rules.run(before, Settings()) if f.id == "FE004:versions:is-number")
    estimate = f.impact["before"] - f.impact["after"]
    proj = project_copy("vite-dedupe-app", tmp_path / "app")
    shutil.copytree(FIXTURES / "vite-app", proj, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("package.json", "package-lock.json", "node_modules", "dist"))
    after = load_bundle(build(proj))
    assert [u.version for u in package_uses(after) if u.name == "is-number"] == ["7.0.0"]
    assert not [f for f in rules.run(after, Settings()) if f.id == "FE004:versions:is-number"]
    js = sum(f.raw_bytes for f in before.files if f.kind == "js") - sum(f.raw_bytes for f in after.files
                                                                       if f.kind == "js")
    assert js > 0 and abs(estimate - js) / js < 0.25, (estimate, js)
