"""advisor.nginxconf: an apply snippet merged into a server block, checked by properties and by a real nginx -t."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from advisor.errors import ConfigError
from advisor.nginxconf import key, merge_server_snippet, parse, tokenize
from analyzers.frontend.cdn import nginx_snippet

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "compose" / "nginx" / "default.conf.template"
PROBLEMS = ("immutable", "html", "compress", "precompress", "types")
HASHED = ["/assets/index-3f9a1c2b.js", "/assets/index-77aa01ff.css"]


def _server(text: str):
    (srv,) = [n for n in parse(text) if n.name == "server"]
    return srv


# -- unit tests ---------------------------------------------------------------------------------------------

def test_a_directive_is_replaced_in_place_and_comments_are_kept():
    block = "# head\nserver {\n    listen 80;\n    # compression is planted off\n    gzip off;  # why\n\n    root /w;\n}\n"
    out = merge_server_snippet(block, "# turn it on\ngzip on;\ngzip_vary on;\n")
    assert out.startswith("# head\nserver {\n    listen 80;\n    # compression is planted off\n")
    assert out.index("gzip on;") < out.index("root /w;") < out.index("gzip_vary on;")
    assert "gzip off" not in out and "# why" in out and "# turn it on" in out
    assert [n.words for n in _server(out).children] == [("listen", "80"), ("gzip", "on"), ("root", "/w"),
                                                         ("gzip_vary", "on")]


def test_a_location_is_replaced_whatever_its_modifier():
    block = "server {\n    location /assets/ {\n        try_files $uri =404;\n    }\n    location = /x { }\n}\n"
    out = merge_server_snippet(block, "location ^~ /assets/ {\n    expires 1y;\n}\nlocation ~* \\.x$ { }\n")
    locs = [n.words for n in _server(out).children]
    assert locs == [("location", "^~", "/assets/"), ("location", "=", "/x"), ("location", "~*", "\\.x$")]
    assert "try_files" not in out and "\n        expires 1y;\n    }" in out


def test_repeatable_directives_are_told_apart_by_their_first_argument():
    block = 'server {\n    add_header X-A "1";\n    add_header x-b "2";\n}'
    out = merge_server_snippet(block, 'add_header X-B "3" always;\nadd_header X-C "4";')
    heads = [n.words for n in _server(out).children]
    assert heads == [("add_header", "X-A", "1"), ("add_header", "X-B", "3", "always"), ("add_header", "X-C", "4")]


def test_repeated_directives_of_the_snippet_collapse_to_the_last():
    out = merge_server_snippet("server {\n}\n", "gzip on;\ngzip off;\nlocation /a/ { }\nlocation ^~ /a/ { }\n")
    assert [n.words for n in _server(out).children] == [("gzip", "off"), ("location", "^~", "/a/")]


def test_the_inside_of_a_server_block_and_variables_in_braces():
    body = "    listen ${NGINX_LISTEN};\n    gzip off;\n"
    out = merge_server_snippet(body, "gzip on;")
    assert out == "    listen ${NGINX_LISTEN};\n    gzip on;\n"


def test_quoted_braces_semicolons_and_hashes_are_words():
    toks = tokenize('add_header X "a; {b} #c" always; # real\nlocation ~ "\\.(js|css)$" { }')
    assert [t.kind for t in toks] == ["word", "word", "word", "word", ";", "comment", "word", "word", "word",
                                      "{", "}"]
    assert toks[2].value == "a; {b} #c" and toks[5].text == "# real"
    assert key(parse('location ~ "\\.(js|css)$" { }')[0]) == ("location", "\\.(js|css)$")


def test_an_empty_snippet_changes_nothing():
    block = TEMPLATE.read_text()
    assert merge_server_snippet(block, "") == block
    with_comment = merge_server_snippet(block, "# only a comment\n")
    assert with_comment.replace("\n    # only a comment", "") == block


@pytest.mark.parametrize("snippet, says", [
    ("location /a/ {\n    expires 1y;\n", "nginx snippet:1: unbalanced braces: the '{' of 'location /a/' is never closed"),
    ("gzip on;\n}\n", "nginx snippet:2: unbalanced braces: '}' closes nothing"),
    ("gzip on", "nginx snippet:1: 'gzip on' does not end with ';'"),
    ("location / {\n  try_files $uri\n}", "nginx snippet:3: 'try_files $uri' has no ';' before '}'"),
    ('add_header X "open;\n', "nginx snippet:1: unterminated \" quote"),
    ("gzip on;;", "nginx snippet:1: unexpected ';'"),
    ("{ gzip on; }", "nginx snippet:1: '{' without a directive name before it"),
])
def test_a_snippet_that_cannot_be_parsed_is_a_config_error(snippet, says):
    with pytest.raises(ConfigError) as e:
        merge_server_snippet(TEMPLATE.read_text(), snippet)
    assert str(e.value) == says


def test_two_server_blocks_are_refused():
    with pytest.raises(ConfigError, match="2 server blocks"):
        merge_server_snippet("server { }\nserver { }\n", "gzip on;", "site.conf")


# -- properties ---------------------------------------------------------------------------------------------

_args = st.sampled_from(["on", "off", "/w", "1y", '"a b"', "'x;y'", '"{c}"', "$uri", "${V}", '"#h"'])
_simple = st.builds(lambda n, a: f"{n} {a};", st.sampled_from(
    ["gzip", "gzip_vary", "root", "expires", "index", "add_header X-A", "add_header X-B", "include a.conf"]), _args)
_location = st.builds(lambda m, p, body: f"location {m}{p} {{\n" + "".join(f"    {d}\n" for d in body) + "}",
                      st.sampled_from(["", "= ", "^~ ", "~ ", "~* "]), st.sampled_from(["/", "/assets/", "/api/"]),
                      st.lists(_simple, max_size=2))
_comment = st.builds(lambda w: f"# {w}", st.sampled_from(["note", "why { not", "x; y", "planted"]))
_item = st.one_of(_simple, _location, _comment)


def _unique_by_key(items: list[str]) -> list[str]:
    seen, out = set(), []
    for it in items:
        nodes = parse(it)
        if nodes and key(nodes[0]) in seen:
            continue
        seen.update(key(n) for n in nodes)
        out.append(it)
    return out


def _block(items: list[str]) -> str:
    return "# site\nserver {\n" + "".join("    " + it.replace("\n", "\n    ") + "\n" for it in items) + "}\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(_item, max_size=8), st.lists(_item, max_size=8))
def test_merge_keeps_what_is_not_redefined_adds_the_rest_and_repeats_nothing(block_items, snippet_items):
    block = _block(_unique_by_key(block_items))
    snippet = "\n".join(snippet_items)
    out = merge_server_snippet(block, snippet)
    merged = _server(out).children
    keys = [key(n) for n in merged]
    assert len(keys) == len(set(keys)), out
    last = {key(n): n.words for n in parse(snippet)}
    before = {key(n): n.words for n in _server(block).children}
    assert {key(n): n.words for n in merged} == {**before, **last}
    for c in [t.text for t in tokenize(block + "\n" + snippet) if t.kind == "comment"]:
        assert c in out
    assert merge_server_snippet(out, snippet) == out  # idempotent


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab ;{}#\"'\\$\n")), max_size=60))
@example("\\\n'{}")  # found in CI: a stray quote after a backslash-newline the snippet's parse let through
def test_any_snippet_merges_or_raises_config_error(snippet):
    try:
        out = merge_server_snippet(TEMPLATE.read_text(), snippet)
    except ConfigError as e:
        assert str(e).startswith("nginx snippet:") and "\n" not in str(e)
        return
    parse(out)


# -- a real nginx -t ----------------------------------------------------------------------------------------

def _nginx_t(tmp_path: Path, server: str) -> subprocess.CompletedProcess:
    from advisor.stack import Ports, Stack, StackConfig

    st_ = Stack(StackConfig(run_dir=tmp_path))
    (tmp_path / "www").mkdir(exist_ok=True)
    (tmp_path / "logs").mkdir(exist_ok=True)
    conf_dir = tmp_path / "nginx"
    conf_dir.mkdir(exist_ok=True)
    conf = conf_dir / "nginx.conf"
    conf.write_text(st_.nginx_conf(Ports().shifted(400), server))
    return subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(conf_dir)], capture_output=True, text=True)


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed")
@pytest.mark.parametrize("problems", [set(c) for r in (1, 2, 5) for c in itertools.combinations(PROBLEMS, r)])
def test_nginx_accepts_the_template_with_every_snippet_merged(tmp_path, problems):
    res = _nginx_t(tmp_path, nginx_snippet(problems, HASHED))
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed")
def test_nginx_rejects_the_snippets_pasted_without_merging(tmp_path):
    """What merging is for: the template's `gzip off;` and `location /assets/` clash with the snippets."""
    from advisor.stack import Ports, Stack, StackConfig

    for d in ("www", "logs", "nginx"):
        (tmp_path / d).mkdir()
    conf = Stack(StackConfig(run_dir=tmp_path)).nginx_conf(Ports().shifted(400), "")
    for problems, clash in (({"compress"}, '"gzip" directive is duplicate'),
                            ({"immutable"}, 'duplicate location "/assets/"')):
        pasted = conf.replace("    # Client-side routes", nginx_snippet(problems, HASHED) + "\n    # Client-side routes")
        (tmp_path / "nginx" / "nginx.conf").write_text(pasted)
        res = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx" / "nginx.conf"), "-p",
                              str(tmp_path / "nginx")], capture_output=True, text=True)
        assert res.returncode != 0 and clash in res.stderr, res.stderr
