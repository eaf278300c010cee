"""Rules and bundle-diff on small hand-built Bundles (pure functions of the model; fast, no npm).

The real-build behaviour is in test_fe_builds.py; these pin the cases the fixture builds do not produce.
"""

from __future__ import annotations

from advisor.config import Settings
from advisor.fmt import fmt_bytes
from analyzers.frontend import diff, rules
from analyzers.frontend.model import BuiltFile, Bundle, Chunk, Import, Module, Route


def _bundle(**over) -> Bundle:
    files = (BuiltFile("assets/index-AAAA1111.js", "js", 300_000, 100_000, 90_000),
             BuiltFile("assets/admin-BBBB2222.js", "js", 60_000, 20_000, 18_000),
             BuiltFile("assets/chart-CCCC3333.js", "js", 50_000, 16_000, 15_000))
    chunks = (Chunk("index.html", "index", ("assets/index-AAAA1111.js",), True, entry=True),
              Chunk("src/Admin.jsx", "admin", ("assets/admin-BBBB2222.js",), False, dynamic_entry=True),
              Chunk("src/Chart.jsx", "chart", ("assets/chart-CCCC3333.js",), False, dynamic_entry=True))
    modules = (Module("src/main.jsx", "index.html", 1_000),
               Module("node_modules/react-dom/index.js", "index.html", 299_000, package="react-dom",
                      package_path="node_modules/react-dom", version="19.1.0"),
               Module("src/Admin.jsx", "src/Admin.jsx", 30_000),
               Module("node_modules/d3/dist/d3.js", "src/Admin.jsx", 30_000, package="d3",
                      package_path="node_modules/d3", version="7.9.0"),
               Module("src/Chart.jsx", "src/Chart.jsx", 20_000),
               Module("node_modules/d3/dist/d3.js", "src/Chart.jsx", 30_000, package="d3",
                      package_path="node_modules/d3", version="7.9.0"))
    imports = (Import("src/main.jsx", "node_modules/react-dom", "static"),
               Import("src/main.jsx", "src/Admin.jsx", "dynamic"),
               Import("src/main.jsx", "src/Chart.jsx", "dynamic"))
    kw = dict(source="test", bundler={"name": "vite", "version": "8.4.0"}, files=files, chunks=chunks,
              modules=modules, imports=imports, routes=(Route("src/Admin.jsx", True, "/admin"),),
              limits={"chunk_warning_bytes": 500_000})
    kw.update(over)
    return Bundle(**kw)


def test_module_duplicated_across_async_chunks():
    found = [f for f in rules.run(_bundle(), Settings()) if f.rule == "FE004"]
    assert len(found) == 1 and found[0].key == "chunks:node_modules/d3"
    assert found[0].evidence["wasted_bytes"] == 30_000 and found[0].severity == "medium"
    assert "codeSplitting" in found[0].action["snippet"]          # Vite 8 advice


def test_no_false_alarms_on_a_clean_split():
    b = _bundle()
    found = {f.rule for f in rules.run(b, Settings())}
    assert found == {"FE004"}                                     # 100 KB initial gzip is under budget


def test_budget_is_estimated_without_measured_gzip():
    files = tuple(BuiltFile(f.path, f.kind, f.raw_bytes) for f in _bundle().files)
    b = _bundle(files=files)
    f = [x for x in rules.run(b, Settings(thresholds={"frontend": {"initial_js_budget_gzip_bytes": 50_000}}))
         if x.rule == "FE001"]
    assert f[0].confidence == "estimated"
    assert f[0].impact["before"] == int(300_000 * rules.ASSUMED_GZIP_RATIO)


def test_snapshot_round_trip():
    b = _bundle()
    assert Bundle.from_dict(b.to_dict()) == b


def test_diff_matches_chunks_and_packages():
    old = _bundle()
    grown = (BuiltFile("assets/index-ZZZZ9999.js", "js", 330_000, 110_000, 99_000),) + _bundle().files[1:]
    new_mods = _bundle().modules + (Module("node_modules/dayjs/dayjs.min.js", "index.html", 7_000,
                                           package="dayjs", package_path="node_modules/dayjs"),)
    new_chunks = (Chunk("index.html", "index", ("assets/index-ZZZZ9999.js",), True, entry=True),) + \
        _bundle().chunks[1:]
    new = _bundle(files=grown, chunks=new_chunks, modules=new_mods)
    d = diff.diff(old, new)
    assert d["initial_js"]["delta_gzip_bytes"] == 10_000 and d["initial_js"]["delta_pct"] == 10.0
    row = next(c for c in d["chunks"] if c["chunk"] == "index.html")
    assert row["status"] == "changed" and row["delta_raw_bytes"] == 30_000
    assert d["added_packages"] == ["dayjs"] and d["removed_packages"] == []
    md = diff.markdown(d)
    assert f"+{fmt_bytes(10_000)} (+10.0%)" in md and "| dayjs | added |" in md
    assert "| `assets/index-ZZZZ9999.js` | changed |" in md        # the chunk by its file, not its key


def test_split_advice_regex_is_valid_javascript_for_scoped_packages():
    """The snippet's regex literal is evaluated by node on module paths (a scoped name's `/` must not end
    the literal)."""
    import shutil
    import subprocess

    import pytest

    from analyzers.frontend.advice import split_packages

    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    for bundler in ({"name": "webpack", "version": "5.99.9"}, {"name": "vite", "version": "8.4.0"}):
        _, snippet = split_packages(bundler, {"charts": ["@nivo/core", "d3-scale"]})
        regex = next(line.split("test: ", 1)[1].rstrip(", }") for line in snippet.splitlines() if "test: " in line)
        js = (f"const r = {regex};\n"
              "console.log([r.test('/app/node_modules/@nivo/core/index.js'),"
              " r.test('C:\\\\app\\\\node_modules\\\\d3-scale\\\\src\\\\x.js'),"
              " r.test('/app/node_modules/@nivo/corex/index.js'), r.test('/app/src/d3-scale.js')].join())")
        out = subprocess.run(["node", "-e", js], capture_output=True, text=True, check=True).stdout.strip()
        assert out == "true,true,false,false", (bundler, regex, out)
