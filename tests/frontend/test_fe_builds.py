"""The analyzer on real builds: the Vite and webpack 5 fixture apps, installed and built with npm.

What each fixture plants (tests/fixtures/*/package.json): a lazy Admin route, a statically imported Reports
route pulling in moment and the whole of lodash, and is-number in two versions (7.0.0 direct, 6.0.0 under
is-odd). The webpack app also imports format.js both statically and with import().
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import brotli
import pytest

from advisor.config import Settings
from analyzers.frontend import advice, load_bundle, rules
from analyzers.frontend.model import (
    BROTLI_LARGE_QUALITY,
    BROTLI_Q11_BUILD_BYTES,
    BROTLI_QUALITY,
    GZIP_LEVEL,
    Bundle,
    brotli_quality,
)

from .conftest import build, loaded, project_copy

pytestmark = pytest.mark.slow


def _settings(**thresholds) -> Settings:
    return Settings(thresholds={"frontend": thresholds} if thresholds else {})


def _by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


def _installed_version(project: Path, pkg_path: str) -> str:
    return json.loads((project / pkg_path / "package.json").read_text())["version"]


# --- Vite ------------------------------------------------------------------------------------------

def test_vite_model_sizes_are_the_real_files(vite_project):
    dist = vite_project / "dist"
    b = load_bundle(dist)
    assert b.bundler == {"name": "vite", "version": _installed_version(vite_project, "node_modules/vite"),
                         "config_file": "vite.config.js"}
    for f in b.files:
        data = (dist / f.path).read_bytes()
        assert f.raw_bytes == len(data)
        if f.kind == "js":
            assert f.gzip_bytes == len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))
            assert 0 < f.brotli_bytes < f.gzip_bytes
            assert f.brotli_quality in (BROTLI_QUALITY, BROTLI_LARGE_QUALITY)
            assert f.brotli_bytes == len(brotli.compress(data, quality=f.brotli_quality))
    # quality 11 while the build's quality-11 bytes stay within BROTLI_Q11_BUILD_BYTES, then the lower quality
    q11 = [f.raw_bytes for f in b.files if f.brotli_quality == BROTLI_QUALITY]
    assert q11 and sum(q11) <= BROTLI_Q11_BUILD_BYTES
    assert all(brotli_quality(f.raw_bytes, sum(q11)) == BROTLI_LARGE_QUALITY
               for f in b.files if f.brotli_quality == BROTLI_LARGE_QUALITY)
    # every byte of every JS file is attributed to a module (or to [unmapped])
    for c in b.chunks:
        js = c.files[0]
        assert sum(m.bytes for m in b.modules if m.chunk == c.key) == (dist / js).stat().st_size


def test_vite_chunks_routes_packages(vite_project):
    b = load_bundle(vite_project)              # the project directory works too (finds dist/)
    initial = [c.key for c in b.chunks if c.initial]
    lazy = [c.key for c in b.chunks if not c.initial]
    assert initial == ["index.html"] and lazy == ["src/pages/Admin.jsx"]
    routes = {r.path: r for r in b.routes}
    assert routes["/reports"].component == "src/pages/Reports.jsx" and not routes["/reports"].lazy
    assert routes["/admin"].lazy
    assert routes["/admin"].chunk == "src/pages/Admin.jsx" and routes["/reports"].chunk == "index.html"
    pk = {m.package_path: m.version for m in b.modules if m.package_path}
    assert pk["node_modules/moment"] == _installed_version(vite_project, "node_modules/moment")
    assert pk["node_modules/is-number"] == "7.0.0"
    assert pk["node_modules/is-odd/node_modules/is-number"] == "6.0.0"
    edges = {(i.importer, i.imported, i.kind) for i in b.imports}
    assert ("src/App.jsx", "src/pages/Admin.jsx", "dynamic") in edges
    assert ("src/pages/Reports.jsx", "node_modules/moment", "static") in edges


def test_vite_findings(vite_project):
    b = loaded(vite_project / "dist")
    found = rules.run(b, _settings())
    lazy = _by_rule(found, "FE002")
    assert [f.evidence["route"] for f in lazy] == ["/reports"]
    assert lazy[0].evidence["import_chain"] == ["src/main.jsx", "src/App.jsx", "src/pages/Reports.jsx"]
    assert lazy[0].confidence == "estimated"
    assert "lazy(() => import(\"./pages/Reports.jsx\"))" in lazy[0].action["snippet"]
    assert lazy[0].action["file"] == "src/App.jsx"
    heavy = {f.evidence["package"] for f in _by_rule(found, "FE003")}
    assert heavy == {"moment", "lodash"}
    dup = _by_rule(found, "FE004")
    assert len(dup) == 1 and {c["version"] for c in dup[0].evidence["copies"]} == {"7.0.0", "6.0.0"}
    # no chunk is over Vite's 500 kB warning limit
    assert not _by_rule(found, "FE005")


def test_initial_budget_follows_the_measured_bytes(vite_project):
    b = loaded(vite_project / "dist")
    measured = b.initial_bytes("js", "gzip_bytes")
    default = _by_rule(rules.run(b, _settings()), "FE001")
    assert bool(default) == (measured > rules.INITIAL_JS_BUDGET_GZIP_BYTES)
    tight = _by_rule(rules.run(b, _settings(initial_js_budget_gzip_bytes=measured - 1)), "FE001")
    assert tight and tight[0].impact["before"] == measured and tight[0].confidence == "verified"
    assert not _by_rule(rules.run(b, _settings(initial_js_budget_gzip_bytes=measured)), "FE001")


def test_lazy_route_estimate_matches_a_real_rebuild(vite_project, tmp_path):
    """Apply FE002's change to a copy of the app, rebuild, and compare the estimate with the real drop."""
    b = loaded(vite_project / "dist")
    f = _by_rule(rules.run(b, _settings()), "FE002")[0]
    estimate = f.evidence["estimated_saving_gzip_bytes"]
    proj = project_copy("vite-app", tmp_path / "lazy")
    app = proj / "src" / "App.jsx"
    text = app.read_text()
    text = text.replace('import Reports from "./pages/Reports.jsx";\n', "")
    text = text.replace('const Admin = lazy', 'const Reports = lazy(() => import("./pages/Reports.jsx"));\n'
                                              'const Admin = lazy')
    app.write_text(text)
    after = load_bundle(build(proj))
    real_drop = b.initial_bytes("js", "gzip_bytes") - after.initial_bytes("js", "gzip_bytes")
    assert real_drop > 0
    assert abs(estimate - real_drop) / real_drop < 0.25, (estimate, real_drop)
    # and nothing is left to say about that route
    assert not [x for x in _by_rule(rules.run(after, _settings()), "FE002") if x.evidence["route"] == "/reports"]


def test_vite8_split_advice_builds(vite_project, tmp_path):
    """FE005's Vite 8 snippet (codeSplitting groups) is valid config: building with it splits moment out."""
    b = loaded(vite_project / "dist")
    found = _by_rule(rules.run(b, _settings(chunk_warning_bytes=100_000)), "FE005")
    assert found and found[0].action["file"] == "vite.config.js"
    major = advice.vite_major(b.bundler)
    snippet = found[0].action["snippet"]
    if major is None or major < 8:
        pytest.skip(f"Vite {b.bundler['version']} installed: the Vite 8 path is tested from the recorded "
                    "version only")
    assert "codeSplitting" in snippet and "manualChunks(" not in snippet
    _, snippet = advice.split_packages(b.bundler, {"moment": ["moment"]})
    proj = project_copy("vite-app", tmp_path / "split")
    config = ('import { defineConfig } from "vite";\n' +
              snippet.replace("build: {", "build: { manifest: true, sourcemap: true,", 1))
    (proj / "vite.config.js").write_text(config)
    after = load_bundle(build(proj))
    moment_chunks = {m.chunk for m in after.modules if m.package == "moment"}
    assert len(moment_chunks) == 1 and moment_chunks != {"index.html"}


def test_advice_fits_the_vite_version(vite_project):
    """The same build, re-labelled as an older Vite in its snapshot section, gets manualChunks advice."""
    d = loaded(vite_project / "dist").to_dict()
    d["bundler"]["version"] = "7.1.0"
    old = Bundle.from_dict(d)
    f = _by_rule(rules.run(old, _settings(chunk_warning_bytes=100_000)), "FE005")[0]
    assert "manualChunks" in f.action["snippet"] and "rollupOptions" in f.action["snippet"]


# --- webpack ---------------------------------------------------------------------------------------

def test_webpack_model(webpack_project):
    dist = webpack_project / "dist"
    b = load_bundle(dist / "stats.json")
    assert b.bundler == {"name": "webpack", "version": _installed_version(webpack_project, "node_modules/webpack")}
    assert {c.key: c.initial for c in b.chunks} == {"main": True, "admin": False}
    main = b.chunk("main")
    assert sum(m.bytes for m in b.modules if m.chunk == "main") == (dist / main.files[0]).stat().st_size
    assert b.limits["chunk_warning_bytes"] == 250_000      # webpack's default performance.maxAssetSize
    assert {r.component for r in b.routes} == {"src/pages/Home.js", "src/pages/Reports.js", "src/pages/Admin.js"}
    # the directory form finds dist/stats.json as well
    assert [c.key for c in load_bundle(webpack_project).chunks] == [c.key for c in b.chunks]


def test_webpack_findings(webpack_project):
    b = loaded(webpack_project / "dist" / "stats.json")
    found = rules.run(b, _settings())
    over = _by_rule(found, "FE005")
    # named by its file, as the user sees it in dist/, not by webpack's chunk name
    assert [f.evidence["chunk"] for f in over] == [b.chunk("main").files[0]]
    assert over[0].evidence["chunk"] in over[0].title
    raw = b.chunk_size(b.chunk("main"), "js", "raw_bytes")
    assert over[0].evidence["raw_bytes"] == raw > 250_000
    assert "splitChunks" in over[0].action["snippet"] and over[0].action["file"] == "webpack.config.js"
    moment = [f for f in _by_rule(found, "FE003") if f.evidence["package"] == "moment"][0]
    assert moment.evidence["imported_by_app"] is True and "dayjs" in moment.action["snippet"]
    # moment's locales, bundled through webpack's context module, are a problem of their own (FE009)
    ctx = _by_rule(found, "FE009")
    assert [f.evidence["directory"] for f in ctx] == ["node_modules/moment/locale"]
    assert ctx[0].evidence["files"] > 50 and "IgnorePlugin" in ctx[0].action["snippet"]
    defeated = _by_rule(found, "FE006")
    assert [f.evidence["module"] for f in defeated] == ["src/format.js"]
    assert defeated[0].evidence["dynamic_importers"] == ["src/pages/Admin.js"]
    # lodash has an action (lodash-es); moment's is FE003's (replace it)
    shaking = {f.evidence.get("package") for f in _by_rule(found, "FE007")}
    assert "lodash" in shaking and "moment" not in shaking
    lazy = _by_rule(found, "FE002")
    assert [f.evidence["component"] for f in lazy] == ["src/pages/Reports.js"]
    assert lazy[0].evidence["import_chain"] == ["src/index.js", "src/App.js", "src/pages/Reports.js"]
    assert {c["version"] for c in _by_rule(found, "FE004")[0].evidence["copies"]} == {"7.0.0", "6.0.0"}


def test_webpack_stats_alone_without_built_files(webpack_project, tmp_path):
    """Only stats.json (no dist beside it): chunk sizes from the stats, module sizes pre-minification."""
    stats = json.loads((webpack_project / "dist" / "stats.json").read_text())
    stats["outputPath"] = str(tmp_path / "gone")
    p = tmp_path / "stats.json"
    p.write_text(json.dumps(stats))
    b = load_bundle(p)
    assert b.chunk("main") and all(m.measure == "stats" for m in b.modules)
    assert b.file(b.chunk("main").files[0]).raw_bytes == (webpack_project / "dist" /
                                                          b.chunk("main").files[0]).stat().st_size
    f = _by_rule(rules.run(b, _settings(initial_js_budget_gzip_bytes=1000)), "FE001")[0]
    assert f.confidence == "estimated"


def test_directory_of_built_files(vite_project, tmp_path):
    """Built files and maps only (no manifest): one chunk per file, initial from index.html."""
    d = tmp_path / "files"
    shutil.copytree(vite_project / "dist", d, ignore=shutil.ignore_patterns(".vite"))
    b = load_bundle(d)
    assert b.bundler["name"] == "files"
    initial = {c.key for c in b.chunks if c.initial}
    index_js = re.search(r'src="/(assets/[^"]+\.js)"', (d / "index.html").read_text()).group(1)
    assert initial == {c.key for c in b.chunks if c.files[0] == index_js}
    assert {m.package for m in b.modules if m.package} >= {"moment", "lodash", "react-dom"}


def test_heavy_image_is_measured(vite_project):
    from PIL import Image

    b = loaded(vite_project / "dist")
    f = _by_rule(rules.run(b, _settings()), "FE008")
    row = f[0].evidence["images"][0]
    assert row["file"] == "hero.png"
    assert row["raw_bytes"] == (vite_project / "dist" / "hero.png").stat().st_size
    # 800×600 is over images.SAMPLE_MAX_PIXELS: estimated from a mosaic, and said so
    assert row["measure"] == "sampled" and len(f) == 1 and f[0].confidence == "estimated"
    # the estimate is close to what Pillow really writes for the whole image
    import io
    buf = io.BytesIO()
    with Image.open(vite_project / "dist" / "hero.png") as im:
        im.save(buf, "WEBP", quality=85)
    assert abs(row["webp_bytes"] - buf.tell()) / buf.tell() < 0.25, (row["webp_bytes"], buf.tell())
    assert row["webp_bytes"] < row["raw_bytes"]
    # a threshold above the saving silences it
    assert not _by_rule(rules.run(b, _settings(image_min_saving_bytes=row["raw_bytes"])), "FE008")


def test_webpack4_stats(webpack4_project):
    """webpack 4 lists entrypoint assets as strings and keeps chunks[].modules: same model, same findings."""
    stats = json.loads((webpack4_project / "dist" / "stats.json").read_text())
    assert all(isinstance(a, str) for a in stats["entrypoints"]["main"]["assets"])
    b = loaded(webpack4_project / "dist" / "stats.json")
    assert b.bundler["version"].startswith("4.")
    assert {c.key: c.initial for c in b.chunks} == {"main": True, "admin": False}
    found = rules.run(b, _settings())
    assert [f.evidence["chunk"] for f in _by_rule(found, "FE005")] == [b.chunk("main").files[0]]
    assert [f.evidence["component"] for f in _by_rule(found, "FE002")] == ["src/pages/Reports.js"]
    assert [f.evidence["module"] for f in _by_rule(found, "FE006")] == ["src/format.js"]
    assert "lodash" in {f.evidence.get("package") for f in _by_rule(found, "FE007")}
    assert [f.evidence["directory"] for f in _by_rule(found, "FE009")] == ["node_modules/moment/locale"]
    assert "splitChunks" in _by_rule(found, "FE005")[0].action["snippet"]


def test_webpack_lazy_route_estimate_matches_a_real_rebuild(webpack_project, tmp_path):
    b = loaded(webpack_project / "dist" / "stats.json")
    estimate = _by_rule(rules.run(b, _settings()), "FE002")[0].evidence["estimated_saving_gzip_bytes"]
    proj = project_copy("webpack-app", tmp_path / "lazy")
    app = proj / "src" / "App.js"
    text = app.read_text().replace('import Reports from "./pages/Reports.js";\n', "")
    app.write_text(text.replace("const Admin = lazy",
                                'const Reports = lazy(() => import("./pages/Reports.js"));\nconst Admin = lazy'))
    after = load_bundle(build(proj) / "stats.json")
    real_drop = b.initial_bytes("js", "gzip_bytes") - after.initial_bytes("js", "gzip_bytes")
    assert real_drop > 0
    assert abs(estimate - real_drop) / real_drop < 0.25, (estimate, real_drop)
