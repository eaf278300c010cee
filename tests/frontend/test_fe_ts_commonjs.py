"""TypeScript `module: commonjs` (issue 16), on tests/fixtures/webpack-ts-cjs-app built here with ts-loader:
FE012 says so with the bytes it costs, checked against a rebuild with `module: esnext`."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.config import Settings
from analyzers.frontend import load_bundle, project, rules
from tests.frontend.conftest import build, loaded, project_copy


@pytest.fixture(scope="session")
def cjs_project(tmp_path_factory):
    proj = project_copy("webpack-ts-cjs-app", tmp_path_factory.mktemp("tscjs") / "app")
    build(proj)
    return proj


def test_commonjs_tsconfig_is_reported_with_what_it_keeps_in_the_initial_load(cjs_project):
    b = loaded(cjs_project / "dist" / "stats.json")
    assert b.bundler["ts_module"] == "commonjs" and b.bundler["tsconfig"] == "tsconfig.json"
    found = [f for f in rules.run(b, Settings()) if f.rule == "FE012"]
    assert len(found) == 1
    f = found[0]
    assert f.evidence["dynamic_imports_in_initial_load"] == ["src/report.ts"]
    assert {"src/report.ts", "node_modules/moment"} <= {x["module"] for x in f.evidence["stuck_in_initial_load"]}
    assert "src/index.ts" in f.evidence["commonjs_app_modules"]
    assert f.action["file"] == "tsconfig.json" and '"esnext"' in f.action["snippet"]


def test_saving_matches_a_rebuild_as_es_modules(cjs_project, tmp_path, monkeypatch):
    before = loaded(cjs_project / "dist" / "stats.json")
    f = next(x for x in rules.run(before, Settings()) if x.rule == "FE012")
    proj = project_copy("webpack-ts-cjs-app", tmp_path / "esm")
    monkeypatch.setenv("PERFADVISOR_TS_MODULE", "esnext")
    after = load_bundle(build(proj) / "stats.json")
    assert any(not c.initial for c in after.chunks)  # import() splits now
    assert not [x for x in rules.run(after, Settings()) if x.rule == "FE012"
                and x.evidence["dynamic_imports_in_initial_load"]]
    real_drop = before.initial_bytes("js", "gzip_bytes") - after.initial_bytes("js", "gzip_bytes")
    est = f.evidence["estimated_saving_gzip_bytes"]
    assert real_drop > 0 and abs(est - real_drop) / real_drop < 0.25, (est, real_drop)


def test_ts_module_follows_jsonc_and_extends(tmp_path: Path):
    (tmp_path / "tsconfig.base.json").write_text('{"compilerOptions": {"module": "CommonJS",}}')
    (tmp_path / "tsconfig.json").write_text('// app\n{"extends": "./tsconfig.base.json"}')
    assert project.ts_module(tmp_path) == ("tsconfig.json", "commonjs")
    (tmp_path / "tsconfig.json").write_text('{"compilerOptions": {"module": "ESNext"}}')
    assert project.ts_module(tmp_path) == ("tsconfig.json", "esnext")
