"""Inline (`data:`) source maps in production JS (issue 16): the Vite fixture rebuilt with
`build.sourcemap: "inline"` — FE010 reports them, every other size is the code's alone, and modules are
still attributed through the inline maps."""

from __future__ import annotations

import gzip

import pytest

from advisor.config import Settings
from analyzers.frontend import rules, sourcemaps
from analyzers.frontend.model import GZIP_LEVEL
from tests.frontend.conftest import build, loaded, project_copy


@pytest.fixture(scope="session")
def inline_project(tmp_path_factory):
    proj = project_copy("vite-app", tmp_path_factory.mktemp("inline") / "app")
    cfg = proj / "vite.config.js"
    text = cfg.read_text()
    assert "sourcemap: true" in text
    cfg.write_text(text.replace("sourcemap: true", 'sourcemap: "inline"'))
    build(proj)
    return proj


def test_split_inline_map_keeps_code_and_comment_apart():
    code = b"console.log(1);"
    comment = b"\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,eyJ2IjozfQ=="
    assert sourcemaps.split_inline_map(code + comment) == (code, comment)
    assert sourcemaps.split_inline_map(code + comment + b"\n") == (code, comment + b"\n")
    # an external map, or the text inside a string, is not an inline map
    assert sourcemaps.split_inline_map(b"x;\n//# sourceMappingURL=a.js.map") == (b"x;\n//# sourceMappingURL=a.js.map", b"")
    s = b'var s = "//# sourceMappingURL=data:,x"; f(s);'
    assert sourcemaps.split_inline_map(s) == (s, b"")


def test_inline_maps_are_a_finding_and_sizes_leave_them_out(inline_project):
    b = loaded(inline_project / "dist")
    js = [f for f in b.files if f.kind == "js"]
    assert js and all(f.inline_map_bytes > 0 for f in js)
    for f in js:
        on_disk = (inline_project / "dist" / f.path).read_bytes()
        assert f.raw_bytes + f.inline_map_bytes == len(on_disk)
        assert b"sourceMappingURL" not in on_disk[:f.raw_bytes][-200:]
    found = rules.run(b, Settings())
    inline = [f for f in found if f.rule == "FE010"]
    assert len(inline) == 1 and inline[0].severity == "high"
    assert inline[0].action["file"] == "vite.config.js" and '"hidden"' in inline[0].action["snippet"]
    # modules still attributed, through the inline maps, and they add up to the code's size
    main = next(c for c in b.chunks if c.initial)
    mods = [m for m in b.modules if m.chunk == main.key]
    assert any(m.package == "react-dom" for m in mods)
    assert sum(m.bytes for m in mods) == b.chunk_size(main, "js", "raw_bytes")


def test_sizes_match_the_same_app_with_external_maps_and_the_saving_is_real(inline_project, vite_project):
    inline = loaded(inline_project / "dist")
    external = loaded(vite_project / "dist")
    # the code is the same; only the last line (the map's comment) differs
    a, b_ = inline.initial_bytes("js", "raw_bytes"), external.initial_bytes("js", "raw_bytes")
    assert abs(a - b_) < 200, (a, b_)
    est = next(f for f in rules.run(inline, Settings()) if f.rule == "FE010")
    initial_files = {p for c in inline.chunks if c.initial for p in c.files if p.endswith(".js")}
    shipped_gz = sum(len(gzip.compress((inline_project / "dist" / p).read_bytes(), GZIP_LEVEL))
                     for p in initial_files)
    real_drop = shipped_gz - external.initial_bytes("js", "gzip_bytes")
    init_est = sum(r["inline_map_gzip_bytes"] for r in est.evidence["files"] if r["initial"])
    assert abs(init_est - real_drop) / real_drop < 0.25, (init_est, real_drop)


@pytest.mark.parametrize("tail", [b"", b"\n", b"\r\n"])
def test_inline_map_decodes_base64_and_refuses_garbage(tail):
    import base64
    import json

    smap = {"version": 3, "sources": ["src/a.js"], "names": [], "mappings": "AAAA"}
    enc = base64.b64encode(json.dumps(smap).encode())
    data = b"a();\n//# sourceMappingURL=data:application/json;base64," + enc + tail
    assert sourcemaps.inline_map(data) == smap
    assert sourcemaps.inline_map(b"a();\n//# sourceMappingURL=data:application/json;base64,@@@" + tail) is None


def test_split_inline_map_never_raises_and_loses_nothing():
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.binary(max_size=300), st.sampled_from([b"", b"\n//# sourceMappingURL=data:,", b"/*# sourceMappingURL=data:"]),
           st.binary(max_size=40))
    def check(head, mid, tail):
        data = head + mid + tail
        code, comment = sourcemaps.split_inline_map(data)
        assert code + comment == data
        sourcemaps.inline_map(data)

    check()
