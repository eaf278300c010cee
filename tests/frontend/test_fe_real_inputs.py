"""Builds as they come from real projects (issue 14), each made from the fixture builds during the session:
a stats.json with log lines or a byte-order mark around the JSON, indexed source maps, maps without (or with
short) sourcesContent, a map of another file, a pnpm-installed app with two versions of one package, a PWA
manifest.json and Create React App's asset-manifest.json. Each must analyse without an error and give the
findings the clean build gets; where information is missing, a note says what.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.config import Settings
from advisor.errors import InputFileError
from analyzers.frontend import analyze, load_bundle, rules, sourcemaps, vite, webpack
from analyzers.frontend.model import package_of

from .conftest import loaded

pytestmark = pytest.mark.slow

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _ids(findings) -> set[tuple[str, str]]:
    return {(f.rule, f.key) for f in findings}


def _findings(b):
    return rules.run(b, Settings())


def _copy_project(project: Path, dest: Path) -> Path:
    """The built project at dest: sources and dist copied, node_modules hard-linked (so the copy's paths
    resolve inside it, as the original's do)."""
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(project / "node_modules", dest / "node_modules", symlinks=True, copy_function=os.link)
    return dest


def _maps(dist: Path) -> list[Path]:
    return sorted(dist.rglob("*.js.map"))


# --- an independent VLQ codec, to rewrite real maps into the shapes under test -----------------------

def _vlq_decode(seg: str) -> list[int]:
    out, value, shift = [], 0, 0
    for ch in seg:
        d = B64.index(ch)
        value += (d & 31) << shift
        if d & 32:
            shift += 5
            continue
        out.append(-(value >> 1) if value & 1 else value >> 1)
        value = shift = 0
    return out


def _vlq_encode(n: int) -> str:
    v = (-n << 1) | 1 if n < 0 else n << 1
    s = ""
    while True:
        d, v = v & 31, v >> 5
        s += B64[d | (32 if v else 0)]
        if not v:
            return s


def _decode(mappings: str) -> list[list[list[int]]]:
    """Absolute segments per generated line."""
    lines, state = [], [0, 0, 0, 0]
    for mline in mappings.split(";"):
        col, segs = 0, []
        for seg in filter(None, mline.split(",")):
            vals = _vlq_decode(seg)
            col += vals[0]
            absolute = [col]
            for i, v in enumerate(vals[1:]):
                state[i] += v
                absolute.append(state[i])
            segs.append(absolute)
        lines.append(segs)
    return lines


def _encode(lines: list[list[list[int]]]) -> str:
    out, state = [], [0, 0, 0, 0]
    for segs in lines:
        col, parts = 0, []
        for seg in segs:
            text = _vlq_encode(seg[0] - col)
            col = seg[0]
            for i, v in enumerate(seg[1:]):
                text += _vlq_encode(v - state[i])
                state[i] = v
            parts.append(text)
        out.append(",".join(parts))
    return ";".join(out)


def _to_sections(smap: dict) -> dict:
    """The flat map as an index map of two sections, split in the middle of its last mapped line (so the
    second section has a line and a column offset)."""
    lines = _decode(smap["mappings"])
    k = max(i for i, segs in enumerate(lines) if segs)
    c = lines[k][len(lines[k]) // 2][0]
    first = [list(s) for s in lines[:k]] + [[s for s in lines[k] if s[0] < c]]
    second = [[[s[0] - c, *s[1:]] for s in lines[k] if s[0] >= c]] + lines[k + 1:]
    base = {key: smap[key] for key in ("sources", "names", "sourcesContent") if key in smap}
    return {"version": 3, "file": smap.get("file"), "sections": [
        {"offset": {"line": 0, "column": 0}, "map": {"version": 3, **base, "mappings": _encode(first)}},
        {"offset": {"line": k, "column": c}, "map": {"version": 3, **base, "mappings": _encode(second)}},
    ]}


# --- webpack stats.json with log lines or a BOM ------------------------------------------------------

@pytest.mark.parametrize("prefix,suffix", [
    (b"\xef\xbb\xbf", b""),
    (b"\n> app@1.0.0 build\n> webpack --json\n\n", b"\nwebpack 5 compiled with 1 warning in 2 s\n"),
])
def test_stats_with_log_lines_or_bom(webpack_project, tmp_path, prefix, suffix):
    clean = loaded(webpack_project / "dist" / "stats.json")
    p = tmp_path / "stats.json"
    p.write_bytes(prefix + (webpack_project / "dist" / "stats.json").read_bytes() + suffix)
    b = load_bundle(p)
    assert [m.to_dict() for m in b.modules] == [m.to_dict() for m in clean.modules]
    assert _ids(_findings(b)) == _ids(_findings(clean))
    if len(prefix) > 3:
        assert any("skipped" in n and "log lines" in n for n in b.notes)


def test_stats_with_no_json_is_one_line(tmp_path):
    p = tmp_path / "stats.json"
    p.write_text("webpack: command not found\n")
    with pytest.raises(InputFileError, match=r"stats.json: not a JSON object") as e:
        load_bundle(p)
    assert "\n" not in str(e.value)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_json_span_fuzz(tmp_path_factory, head, tail):
    p = tmp_path_factory.mktemp("span") / "stats.json"
    body = b'{"version": "5.0.0", "chunks": []}'
    p.write_bytes(head + b"\n" + body + b"\n" + tail)
    try:
        start, end = webpack.json_span(p)
    except InputFileError as e:
        assert "stats.json" in str(e) and "\n" not in str(e)
        return
    assert 0 <= start <= end <= p.stat().st_size


# --- source maps -------------------------------------------------------------------------------------

def test_indexed_maps_attribute_like_flat_ones(vite_project, tmp_path):
    clean = loaded(vite_project / "dist")
    proj = _copy_project(vite_project, tmp_path / "app")
    for mp in _maps(proj / "dist"):
        mp.write_text(json.dumps(_to_sections(json.loads(mp.read_text()))))
    b = load_bundle(proj / "dist")
    assert sorted((m.path, m.chunk, m.bytes) for m in b.modules) == \
        sorted((m.path, m.chunk, m.bytes) for m in clean.modules)
    assert _ids(_findings(b)) == _ids(_findings(clean))


@pytest.mark.parametrize("shape", ["null", "short"])
def test_maps_without_sources_content_read_the_sources_from_disk(vite_project, tmp_path, shape):
    clean = loaded(vite_project / "dist")
    proj = _copy_project(vite_project, tmp_path / "app")
    for mp in _maps(proj / "dist"):
        smap = json.loads(mp.read_text())
        smap["sourcesContent"] = None if shape == "null" else smap["sourcesContent"][:1]
        mp.write_text(json.dumps(smap))
    b = load_bundle(proj / "dist")
    assert {(i.importer, i.imported, i.kind) for i in b.imports} >= \
        {(i.importer, i.imported, i.kind) for i in clean.imports if not i.importer.startswith("node_modules")}
    assert [r.to_dict() for r in b.routes] == [r.to_dict() for r in clean.routes]
    assert _ids(_findings(b)) == _ids(_findings(clean))
    assert any("read from disk" in n for n in b.notes)


def test_sources_nowhere_are_said_missing_and_the_manifest_keeps_the_lazy_route(vite_project, tmp_path):
    proj = _copy_project(vite_project, tmp_path / "app")
    for mp in _maps(proj / "dist"):
        smap = json.loads(mp.read_text())
        smap.pop("sourcesContent")
        mp.write_text(json.dumps(smap))
    shutil.rmtree(proj / "src")
    b = load_bundle(proj / "dist")
    note = next(n for n in b.notes if "not embedded" in n)
    assert "not found" in note and "FE002" in note
    # the Vite manifest still says the Admin page is loaded with import()
    admin = next(r for r in b.routes if r.component == "src/pages/Admin.jsx")
    assert admin.lazy
    # no guess from a missing graph
    assert not [f for f in _findings(b) if f.rule in ("FE002", "FE006")]


def test_buckets_and_every_byte(vite_project):
    dist = vite_project / "dist"
    b = loaded(dist)
    for c in b.chunks:
        js = c.files[0]
        data = (dist / js).read_bytes()
        mods = {m.path: m.bytes for m in b.modules if m.chunk == c.key}
        assert sum(mods.values()) == len(data)
        comment = data[data.rindex(b"//# sourceMappingURL="):]
        assert mods[sourcemaps.SOURCE_MAPPING_URL] == len(comment)


def test_map_of_another_file_is_refused_with_a_line(vite_project, tmp_path):
    proj = _copy_project(vite_project, tmp_path / "app")
    manifest = json.loads((proj / "dist" / ".vite" / "manifest.json").read_text())
    admin_js = proj / "dist" / manifest["src/pages/Admin.jsx"]["file"]
    index_js = proj / "dist" / manifest["index.html"]["file"]
    # the small Admin chunk's file, with the (much longer) index chunk's map next to it
    os.unlink(admin_js.with_name(admin_js.name + ".map"))
    shutil.copy(index_js.with_name(index_js.name + ".map"), admin_js.with_name(admin_js.name + ".map"))
    b = load_bundle(proj / "dist")
    note = next(n for n in b.notes if "does not belong" in n)
    assert admin_js.name in note and "\n" not in note
    assert not [m for m in b.modules if m.chunk == "src/pages/Admin.jsx"]


# --- packages ------------------------------------------------------------------------------------------

def test_pnpm_build_reports_the_duplicated_package(pnpm_vite_project):
    b = load_bundle(pnpm_vite_project / "dist")
    dup = [f for f in _findings(b) if f.rule == "FE004"]
    assert len(dup) == 1 and dup[0].evidence["copies"][0]["install_path"].startswith("node_modules/.pnpm/")
    assert {c["version"] for c in dup[0].evidence["copies"]} == {"7.0.0", "6.0.0"}
    assert {c["install_path"] for c in dup[0].evidence["copies"]} == {
        "node_modules/.pnpm/is-number@7.0.0/node_modules/is-number",
        "node_modules/.pnpm/is-number@6.0.0/node_modules/is-number"}
    # imports resolved through pnpm's symlinks: each importer reaches the copy it really uses
    edges = {(i.importer, i.imported) for i in b.imports}
    assert ("src/main.js", "node_modules/.pnpm/is-number@7.0.0/node_modules/is-number") in edges
    assert ("node_modules/.pnpm/is-odd@3.0.1/node_modules/is-odd",
            "node_modules/.pnpm/is-number@6.0.0/node_modules/is-number") in edges


@pytest.mark.parametrize("path,expected", [
    (".yarn/cache/lodash-npm-4.17.21-6382451519-eb835a2e51.zip/node_modules/lodash/lodash.js",
     ("lodash", ".yarn/cache/lodash-npm-4.17.21-6382451519-eb835a2e51.zip/node_modules/lodash", "4.17.21")),
    (".yarn/cache/@babel-runtime-npm-7.24.0-1a2b3c4d5e-0123456789.zip/node_modules/@babel/runtime/h.js",
     ("@babel/runtime", ".yarn/cache/@babel-runtime-npm-7.24.0-1a2b3c4d5e-0123456789.zip/node_modules/"
      "@babel/runtime", "7.24.0")),
    (".yarn/__virtual__/x-virtual-7f8aa9c2e1/0/cache/x-npm-1.0.0-beta.1-dd675bca1c-7d323310be.zip/"
     "node_modules/x/i.js",
     ("x", ".yarn/cache/x-npm-1.0.0-beta.1-dd675bca1c-7d323310be.zip/node_modules/x", "1.0.0-beta.1")),
    (".yarn/unplugged/esbuild-npm-0.17.19-9e6aa59b5a/node_modules/esbuild/lib/main.js",
     ("esbuild", ".yarn/unplugged/esbuild-npm-0.17.19-9e6aa59b5a/node_modules/esbuild", "0.17.19")),
])
def test_yarn_pnp_paths(path, expected):
    assert package_of(path) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["node_modules", ".pnpm", "__virtual__", "0", "3", ".yarn", "cache", "@s",
                                 "a-npm-1.0.0-0123456789.zip", "a", "a@1.2.3", "..", ""]), max_size=9))
def test_package_of_fuzz(parts):
    got = package_of("/".join(parts))
    if got is not None:
        name, install, _version = got
        assert install.endswith(name) and "node_modules" in install


# --- manifests that are not Vite's ----------------------------------------------------------------------

def test_pwa_manifest_is_not_taken_for_a_vite_manifest(vite_project, tmp_path):
    proj = _copy_project(vite_project, tmp_path / "app")
    shutil.rmtree(proj / "dist" / ".vite")
    pwa = {"name": "Shop", "short_name": "Shop", "start_url": "/", "display": "standalone",
           "icons": [{"src": "/icon.png", "sizes": "192x192", "type": "image/png"}]}
    (proj / "dist" / "manifest.json").write_text(json.dumps(pwa))
    for target in (proj / "dist", proj / "dist" / "manifest.json"):
        b = load_bundle(target)
        assert b.bundler["name"] == "files"
        assert any("manifest.json is a web app manifest (PWA)" in n for n in b.notes)
        assert any(c.initial for c in b.chunks) and b.modules


def test_cra_asset_manifest(webpack_project, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(webpack_project / "dist", build)
    (build / "stats.json").unlink()
    js = sorted(p.relative_to(build).as_posix() for p in build.rglob("*.js"))
    (build / "asset-manifest.json").write_text(json.dumps(
        {"files": {"main.js": "/" + js[0], "index.html": "/index.html"}, "entrypoints": [js[0]]}))
    b = load_bundle(build / "asset-manifest.json")
    assert any("asset-manifest.json is Create React App's asset manifest" in n for n in b.notes)
    assert b.chunks and b.modules


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                    max_leaves=12))
def test_manifest_kind_fuzz(data):
    kind = vite.manifest_kind(data)
    assert kind in ("vite", "web-app", "asset-manifest", "unknown")
    if kind == "vite":
        assert all(isinstance(v, dict) and isinstance(v["file"], str) for v in data.values())


# --- what the rules say ----------------------------------------------------------------------------------

def test_landing_route_is_not_advised_lazy_and_says_why(vite_project):
    b = loaded(vite_project / "dist")
    assert "src/pages/Home.jsx" not in {f.key for f in _findings(b) if f.rule == "FE002"}
    result = analyze({"bundle": b.to_dict()}, Settings())
    routes = {r["path"]: r for r in result.coverage["bundle"]["routes"]}
    assert routes["/reports"]["chunk"] == b.chunk("index.html").files[0]   # by file, not "index.html"
    assert any(n.startswith("Route / (src/pages/Home.jsx) is not advised to be lazy-loaded: it is the landing "
                            "page") for n in result.notes)


def test_chunks_are_named_by_file_and_sizes_in_one_convention(vite_project):
    from advisor.fmt import fmt_bytes

    b = loaded(vite_project / "dist")
    entry = b.chunk("index.html")
    raw = b.chunk_size(entry, "js", "raw_bytes")
    found = rules.run(b, Settings(thresholds={"frontend": {"chunk_warning_bytes": raw - 1}}))
    over = [f for f in found if f.rule == "FE005"]
    assert over[0].title.startswith(f"Chunk {entry.files[0]} is {fmt_bytes(raw)}")
    assert "index.html" not in over[0].title
    for f in found:
        assert " KB" not in f.title, f.title


# --- indexed maps: the reader on its own ----------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40),
                          st.lists(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2)), max_size=4),
                                   max_size=3)), max_size=3),
       st.text(alphabet="ab\né", max_size=120))
def test_flatten_fuzz(sections, code):
    index = {"version": 3, "sections": []}
    for line, col, lines in sections:
        segs = [[[c, s, 0, 0] for c, s in sorted(set(ln))] for ln in lines]
        index["sections"].append({"offset": {"line": line, "column": col},
                                  "map": {"version": 3, "sources": ["x.js", "y.js", "z.js"],
                                          "mappings": _encode(segs)}})
    flat = sourcemaps.flatten(index, "idx.map")
    assert len(flat["sources"]) == 3 * len(sections)
    try:
        got = sourcemaps.attribute(code.encode(), index, "idx.map")
    except InputFileError as e:
        assert "idx.map" in str(e) and "\n" not in str(e)
        return
    assert sum(got.values()) == len(code.encode())


def test_section_by_url_is_one_line():
    with pytest.raises(InputFileError, match="by \"url\""):
        sourcemaps.flatten({"sections": [{"offset": {"line": 0, "column": 0}, "url": "a.map"}]}, "i.map")


def test_each_bucket_has_its_bytes():
    code = b"abcd;\n//# sourceMappingURL=x.map"
    got = sourcemaps.attribute(code, {"version": 3, "sources": ["a.js"], "mappings": "AAAA,E"}, "x.map")
    assert got == {"a.js": 2, sourcemaps.NO_SOURCE: 3, sourcemaps.UNMAPPED: 1,
                   sourcemaps.SOURCE_MAPPING_URL: len(b"//# sourceMappingURL=x.map")}


def test_mapping_past_the_end_of_a_line_is_refused():
    with pytest.raises(sourcemaps.MapMismatchError, match="does not belong to its file: line 1 is 3 columns"):
        sourcemaps.attribute(b"abc", {"version": 3, "sources": ["a.js"], "mappings": "AAAA,SAAS"}, "x.map")
