"""Parsers of outside input (Vite manifest, webpack stats, source maps): known answers and fuzzing.

Fast: no npm, no nginx. Inputs here are written by the tests (small, hand-checkable), not recorded.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.errors import InputFileError
from analyzers.frontend import load_bundle, sourcemaps, vite, webpack
from analyzers.frontend.model import GZIP_LEVEL, gzip_size, has_hash, package_of, strip_hash

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False),
                      st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=25)
STATS_KEYS = ["version", "outputPath", "assets", "chunks", "modules", "entrypoints", "children", "warnings",
              "files", "names", "id", "initial", "entry", "name", "size", "reasons", "moduleName", "type",
              "optimizationBailout"]
stats_like = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(STATS_KEYS), inner, max_size=6)),
    max_leaves=40)


# --- file names, packages, sizes -------------------------------------------------------------------

@pytest.mark.parametrize("name, stripped", [
    ("assets/index-BoAqxRJJ.js", "assets/index.js"),          # Vite 8 (8 base64url characters)
    ("main.f8432cab.js", "main.js"),                          # webpack [contenthash:8]
    ("admin.13fe6fc7.chunk.js", "admin.chunk.js"),
    ("app.3f9a8b7c6d5e4f3a2b1c.js", "app.js"),                # webpack's 20-hex default
    ("react-router-dom.js", "react-router-dom.js"),           # words are not hashes
    ("vendors-node_modules_lodash_lodash_js.1a2b3c4d.js", "vendors-node_modules_lodash_lodash_js.js"),
    ("index.html", "index.html"),
])
def test_strip_hash(name, stripped):
    assert strip_hash(name) == stripped
    assert has_hash(name) == (name != stripped)


def test_package_of_nested_scoped_and_pnpm_paths():
    assert package_of("node_modules/is-odd/node_modules/is-number/index.js") == (
        "is-number", "node_modules/is-odd/node_modules/is-number", None)
    assert package_of("node_modules/@babel/runtime/helpers/x.js") == (
        "@babel/runtime", "node_modules/@babel/runtime", None)
    assert package_of("node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/lodash.js")[2] == "4.17.21"
    assert package_of("src/App.jsx") is None


def test_gzip_size_is_the_real_gzip_length():
    data = b"const a = 1;\n" * 500
    assert gzip_size(data) == len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


# --- source maps -----------------------------------------------------------------------------------

def _vlq(n: int) -> str:
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    v = (-n << 1) | 1 if n < 0 else n << 1
    out = ""
    while True:
        digit = v & 31
        v >>= 5
        out += b64[digit | (32 if v else 0)]
        if not v:
            return out


def test_attribute_known_answer():
    # line 1: "aaaa" from a.js, "bb" from b.js; line 2: "é" (2 bytes, 1 UTF-16 column) unmapped, then
    # "cc" from a.js
    code = "aaaabb\néccc".encode()
    line1 = ",".join([_vlq(0) + _vlq(0) + _vlq(0) + _vlq(0), _vlq(4) + _vlq(1) + _vlq(0) + _vlq(0)])
    line2 = _vlq(1) + _vlq(-1) + _vlq(0) + _vlq(0)
    smap = {"version": 3, "sources": ["a.js", "b.js"], "mappings": f"{line1};{line2}"}
    got = sourcemaps.attribute(code, smap)
    assert got == {"a.js": 4 + 3, "b.js": 2, sourcemaps.UNMAPPED: 1 + 2}  # the newline and "é"
    assert sum(got.values()) == len(code)


def test_malformed_mappings_is_one_clear_error():
    with pytest.raises(InputFileError, match="invalid character"):
        sourcemaps.attribute(b"abc", {"version": 3, "sources": ["a"], "mappings": "A!AA"}, "x.js.map")
    with pytest.raises(InputFileError, match="sources"):
        sourcemaps.attribute(b"abc", {"version": 3, "mappings": "AAAA"}, "x.js.map")


@FUZZ
@given(code=st.binary(max_size=300), mappings=st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/,;!", max_size=200),
    nsources=st.integers(0, 4))
def test_attribute_fuzz_accounts_for_every_byte_or_fails_clearly(code, mappings, nsources):
    smap = {"version": 3, "sources": [f"s{i}.js" for i in range(nsources)], "mappings": mappings}
    try:
        got = sourcemaps.attribute(code, smap, "fuzz.map")
    except InputFileError as e:
        assert "fuzz.map" in str(e) and "\n" not in str(e)
        return
    assert sum(got.values()) == len(code)
    assert all(v > 0 for v in got.values())


# --- Vite manifest ---------------------------------------------------------------------------------

def test_manifest_initial_and_async_chunks():
    manifest = {
        "index.html": {"file": "assets/index-AAAA1111.js", "isEntry": True, "src": "index.html",
                       "imports": ["_vendor-BBBB2222.js"], "dynamicImports": ["src/pages/Admin.jsx"],
                       "css": ["assets/index-CCCC3333.css"]},
        "_vendor-BBBB2222.js": {"file": "assets/vendor-BBBB2222.js"},
        "src/pages/Admin.jsx": {"file": "assets/Admin-DDDD4444.js", "isDynamicEntry": True,
                                "imports": ["_vendor-BBBB2222.js"]},
    }
    chunks = {c.key: c for c in vite.chunks_from_manifest(vite.parse_manifest(manifest, "m"))}
    assert chunks["index.html"].initial and chunks["index.html"].entry
    assert chunks["_vendor.js"].initial            # a static import of the entry is preloaded
    assert not chunks["src/pages/Admin.jsx"].initial
    assert chunks["index.html"].files == ("assets/index-AAAA1111.js", "assets/index-CCCC3333.css")


@pytest.mark.parametrize("bad, message", [
    ([], "not a JSON object"),
    ({}, "empty"),
    ({"a": {"name": "x"}}, "no \"file\""),
    ({"a": {"file": "a.js", "imports": "b"}}, "malformed \"imports\""),
    ({"a": {"file": "a.js", "imports": ["gone"]}}, "not in the manifest"),
])
def test_malformed_manifest(bad, message):
    with pytest.raises(InputFileError, match=message):
        vite.parse_manifest(bad, "dist/.vite/manifest.json")


@FUZZ
@given(data=json_value)
def test_manifest_fuzz(data):
    try:
        m = vite.parse_manifest(data, "fuzz")
    except InputFileError as e:
        assert "\n" not in str(e)
        return
    vite.chunks_from_manifest(m)


def test_truncated_manifest_file(tmp_path):
    d = tmp_path / "dist" / ".vite"
    d.mkdir(parents=True)
    (d / "manifest.json").write_text('{"index.html": {"file": "assets/ind')
    with pytest.raises(InputFileError, match=r"manifest\.json: not valid JSON"):
        load_bundle(tmp_path / "dist")


# --- webpack stats ---------------------------------------------------------------------------------

def _small_stats(tmp_path: Path, v4: bool = False) -> Path:
    """A small stats.json in webpack 5's (or 4's) shape, written by the test; the built files are absent."""
    ep_assets = ["main.1234abcd.js"] if v4 else [{"name": "main.1234abcd.js", "size": 300_000}]
    stats = {
        "version": "4.47.0" if v4 else "5.99.9", "outputPath": str(tmp_path / "nowhere"),
        "assets": [{"name": "main.1234abcd.js", "size": 300_000}, {"name": "admin.5678ef90.js", "size": 2_000}],
        "chunks": [{"id": 0, "names": ["main"], "files": ["main.1234abcd.js"], "initial": True, "entry": True,
                    "children": [1]},
                   {"id": 1, "names": ["admin"], "files": ["admin.5678ef90.js"], "initial": False,
                    "entry": False}],
        "entrypoints": {"main": {"chunks": [0], "assets": ep_assets}},
        "modules": [
            {"name": "./src/index.js + 2 modules", "size": 900, "chunks": [0],
             "modules": [{"name": "./src/index.js", "size": 300}, {"name": "./src/App.js", "size": 600}]},
            {"name": "./node_modules/moment/moment.js", "size": 170_000, "chunks": [0],
             "reasons": [{"moduleName": "./src/index.js + 2 modules", "type": "harmony side effect evaluation",
                          "userRequest": "moment"}],
             "optimizationBailout": ["CommonJS bailout: this is used directly at 11:2-6"]},
            {"name": "./src/pages/Admin.js", "size": 1_500, "chunks": [1],
             "reasons": [{"moduleName": "./src/index.js + 2 modules", "type": "import()",
                          "userRequest": "./pages/Admin.js"}]},
        ],
        "warnings": [],
    }
    p = tmp_path / "stats.json"
    p.write_text(json.dumps(stats))
    return p


@pytest.mark.parametrize("v4", [False, True])
def test_stats_without_built_files(tmp_path, v4):
    b = webpack.read_stats(_small_stats(tmp_path, v4))
    assert b.bundler["version"].startswith("4" if v4 else "5")
    assert [c.key for c in b.chunks if c.initial] == ["main"]
    paths = {m.path for m in b.modules}
    assert {"src/index.js", "src/App.js", "node_modules/moment/moment.js", "src/pages/Admin.js"} <= paths
    assert all(m.measure == "stats" for m in b.modules)
    assert any(i.kind == "dynamic" and i.imported == "src/pages/Admin.js" for i in b.imports)
    assert b.bailouts and b.bailouts[0]["package_path"] == "node_modules/moment"
    assert any("estimated" in n for n in b.notes)


def test_multi_compiler_children(tmp_path):
    single = json.loads(_small_stats(tmp_path).read_text())
    p = tmp_path / "multi.json"
    p.write_text(json.dumps({"version": "5.99.9", "children": [{"name": "server", "chunks": []}, single]}))
    b = webpack.read_stats(p)
    assert [c.key for c in b.chunks] == ["main", "admin"]


def test_truncated_stats_every_cut_is_one_clear_error(tmp_path):
    text = _small_stats(tmp_path).read_text()
    for cut in range(1, len(text) - 1, max(1, len(text) // 60)):
        p = tmp_path / f"cut{cut}.json"
        p.write_text(text[:cut])
        with pytest.raises(InputFileError) as e:
            webpack.read_stats(p)
        assert str(p) in str(e.value) and "\n" not in str(e.value)


chunk_like = st.fixed_dictionaries(
    {"id": json_value, "names": json_value, "files": st.one_of(json_value, st.lists(st.text(max_size=6))),
     "initial": json_value, "children": json_value})
module_like = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=20), json_value), "size": json_value, "chunks": json_value,
     "reasons": st.one_of(json_value, st.lists(st.fixed_dictionaries(
         {"moduleName": st.one_of(st.text(max_size=10), json_value), "type": json_value}), max_size=3))})
shaped_stats = st.fixed_dictionaries(
    {"version": json_value, "chunks": st.lists(chunk_like, min_size=1, max_size=3),
     "modules": st.one_of(json_value, st.lists(module_like, max_size=4)), "assets": json_value,
     "warnings": json_value})


@FUZZ
@given(data=st.one_of(stats_like, shaped_stats))
def test_stats_fuzz(tmp_path, data):
    p = tmp_path / "fuzz-stats.json"
    p.write_text(json.dumps(data))
    try:
        b = webpack.read_stats(p)
    except InputFileError as e:
        assert "\n" not in str(e)
        return
    assert b.chunks


@FUZZ
@given(blob=st.binary(max_size=200))
def test_stats_fuzz_bytes(tmp_path, blob):
    p = tmp_path / "fuzz-bytes.json"
    p.write_bytes(blob)
    try:
        webpack.read_stats(p)
    except InputFileError:
        pass


def test_attribute_invalid_utf8_is_byte_exact():
    # found by the fuzzer: an undecodable byte must count as one byte, not as U+FFFD's three
    code = b"\x80ab\xff"
    got = sourcemaps.attribute(code, {"version": 3, "sources": ["a.js"], "mappings": "AAAA,EAAC"})
    assert sum(got.values()) == 4 and got["a.js"] == 4


def test_cra_bundle_stats_location_is_detected(tmp_path):
    """Create React App writes build/bundle-stats.json; the project directory is enough."""
    stats = _small_stats(tmp_path)
    (tmp_path / "app" / "build").mkdir(parents=True)
    stats.rename(tmp_path / "app" / "build" / "bundle-stats.json")
    b = load_bundle(tmp_path / "app")
    assert b.bundler["name"] == "webpack" and [c.key for c in b.chunks] == ["main", "admin"]


def test_unknown_input_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputFileError, match="no Vite manifest, webpack stats.json or built .js files"):
        load_bundle(tmp_path)
    with pytest.raises(InputFileError, match="no such file"):
        load_bundle(tmp_path / "missing")


@FUZZ
@given(blob=st.binary(max_size=300))
def test_manifest_file_fuzz_bytes(tmp_path, blob):
    d = tmp_path / "dist" / ".vite"
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.json").write_bytes(blob)
    try:
        load_bundle(tmp_path / "dist")
    except InputFileError as e:
        assert "manifest" in str(e) and "\n" not in str(e)


def test_routes_from_router_code():
    from analyzers.frontend.imports import find_routes, scan

    src = {"src/App.tsx": (
        'import { Reports as R } from "./pages/Reports";\n'
        'import Home from "./Home";\n'
        'const Admin = React.lazy(() => import(/* chunk */ "./pages/Admin"));\n'
        'const routes = [{ path: "/admin", element: <Admin /> }];\n'
        '<Route path="/reports" element={<R />} />\n<Route index path="/" element={<Home/>} />\n')}
    mods = ["src/App.tsx", "src/pages/Reports.tsx", "src/pages/Admin.tsx", "src/Home.tsx"]
    got = {r.path: (r.component, r.lazy) for r in find_routes(src, mods)}
    assert got == {"/reports": ("src/pages/Reports.tsx", False), "/admin": ("src/pages/Admin.tsx", True),
                   "/": ("src/Home.tsx", False)}
    kinds = {(i.imported, i.kind) for i in scan(src, mods)}
    assert ("src/pages/Admin.tsx", "dynamic") in kinds and ("src/pages/Reports.tsx", "static") in kinds
