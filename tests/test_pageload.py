"""First page loads in real headless Chromium against real nginx: the same small front end served as a hurried
deploy does (no gzip, no Cache-Control) and as perfadvisor's CDN snippet asks (gzip, immutable hashed assets)."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from advisor.browser import chromium_binary
from advisor.errors import ConfigError, TargetError
from advisor.pageload import compare_loads, measure

pytestmark = pytest.mark.slow

PORTS = range(24700, 24721)  # this module's loopback ports
JS = "/assets/index-3f9a1b2c.js"
CSS = "/assets/index-7d1e2f3a.css"
MIME = "    include /etc/nginx/mime.types;"
PLAIN = "        location / { try_files $uri /index.html; }"
TUNED = """        gzip on;
        gzip_types text/css application/javascript;
        location ^~ /assets/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
        location / { try_files $uri /index.html; }"""


needs_chromium = pytest.mark.skipif(chromium_binary() is None,
                                    reason="chromium is not installed (apt-get install chromium; CI installs it)")


def _port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """serve(root, server_lines) -> nginx on a port of PORTS, logging each request to workdir/access.log."""
    import frontend.conftest as fe  # the front-end tests' real nginx (tests/ is on sys.path, as for stack.*)

    started = []

    def start(root: Path, server_lines: str):
        workdir = tmp_path_factory.mktemp("nginx")
        lines = f"        access_log {workdir}/access.log;\n{server_lines}"
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(fe, "free_port", _port)
            started.append(fe.Nginx(workdir, root, lines, MIME))
        return started[-1]

    yield start
    for n in started:
        n.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """index.html, a 550 KB script and a 100 KB stylesheet: text that compresses about 4:1, like a bundle."""
    root = tmp_path_factory.mktemp("site")
    rnd = random.Random(1)
    words = ["render", "state", "props", "effect", "memo", "value", "index", "items", "chart", "axis", "scale"]
    js = [f"function {a}_{i}({b},{c}){{return {b}.{c}?{b}.{c}+{i}:{c}.map(x=>x*{rnd.randrange(1000)});}}"
          for i in range(6000) for a, b, c in [rnd.sample(words, 3)]]
    (root / "assets").mkdir()
    (root / JS[1:]).write_text("\n".join(js) + "\ndocument.getElementById('root').textContent = 'ready';\n")
    (root / CSS[1:]).write_text("\n".join(f".c{i}{{margin:{i % 17}px;color:#{rnd.randrange(16 ** 6):06x}}}"
                                          for i in range(3000)))
    (root / "index.html").write_text(f'<!doctype html><html><head><link rel="stylesheet" href="{CSS}">'
                                     f'<script type="module" src="{JS}"></script></head>'
                                     '<body><div id="root"></div></body></html>')
    return root


@pytest.fixture(scope="module")
def loads(site, serve):
    """(before, after): measure() of the plain and the tuned server, 3 loads each, with their nginx."""
    plain, tuned = serve(site, PLAIN), serve(site, TUNED)
    return (plain, measure(plain.url, loads=3)), (tuned, measure(tuned.url, loads=3))


def _by_path(view) -> dict:
    return {urlsplit(r.url).path: r for r in view.requests}


@needs_chromium
def test_every_request_is_counted_and_matches_nginx_log(loads, site):
    for server, result in loads:
        for view in result.first_view + result.repeat_view:
            paths = _by_path(view)
            assert {"/", JS, CSS} <= set(paths), paths
            assert view.request_count == len(view.requests) == len(paths)
            assert view.transferred_bytes == sum(r.transferred_bytes for r in view.requests)
        # What went over the network reached nginx, once each; what the cache answered did not.
        networked = sum(not r.from_cache for v in result.first_view + result.repeat_view for r in v.requests)
        log = (server.workdir / "access.log").read_text().splitlines()
        assert len(log) == networked, log
        first = _by_path(result.first_view[0])
        assert first[JS].decoded_bytes == (site / JS[1:]).stat().st_size
        assert first[JS].mime_type == "application/javascript" and first[JS].status == 200


@needs_chromium
def test_gzip_cuts_first_view_bytes(loads, site):
    (_, before), (_, after) = loads
    js_size = (site / JS[1:]).stat().st_size
    b, a = _by_path(before.first_view[0]), _by_path(after.first_view[0])
    assert b[JS].content_encoding is None and b[JS].transferred_bytes > js_size  # body plus headers
    assert a[JS].content_encoding == "gzip" and a[JS].transferred_bytes < js_size / 2
    assert a[JS].decoded_bytes == js_size
    assert after.median("first_view", "transferred_bytes") < 0.5 * before.median("first_view", "transferred_bytes")
    for result in (before, after):
        view = result.first_view[0]
        assert 0 < view.dom_content_loaded_ms <= view.load_ms < 30_000


@needs_chromium
def test_immutable_assets_come_from_cache_on_the_repeat_view(loads):
    (plain, before), (_, after) = loads
    # No Cache-Control: revalidated, only headers cross the wire (nginx answers 304 to If-Modified-Since).
    for view in before.repeat_view:
        js = _by_path(view)[JS]
        assert not js.from_cache and 0 < js.transferred_bytes < 1000 and js.decoded_bytes > 500_000, js
    log = (plain.workdir / "access.log").read_text()
    assert log.count(f"GET {JS} HTTP/1.1\" 304 ") == 3 and log.count(f"GET {JS} HTTP/1.1\" 200 ") == 3, log
    for view in after.repeat_view:
        paths = _by_path(view)
        for asset in (JS, CSS):
            assert paths[asset].from_cache and paths[asset].transferred_bytes == 0
            assert paths[asset].cache_control == "public, max-age=31536000, immutable"
        assert view.transferred_bytes < min(v.transferred_bytes for v in before.repeat_view)


@needs_chromium
def test_compare_loads_reports_the_byte_savings_beyond_the_spread(loads):
    (_, before), (_, after) = loads
    b, a = before.to_dict(), after.to_dict()
    assert json.loads(json.dumps(a)) == a
    assert a["loads"] == 3 and len(a["first_view"]["runs"]) == 3 and "Chrome/" in a["browser"]
    assert a["first_view"]["median"]["request_count"] == a["first_view"]["runs"][0]["request_count"]
    cmp = compare_loads(b, a)
    assert set(cmp["metrics"]) == {"first_view_transferred_bytes", "first_view_load_ms",
                                   "repeat_view_transferred_bytes", "repeat_view_load_ms"}
    for name in ("first_view_transferred_bytes", "repeat_view_transferred_bytes"):
        m = cmp["metrics"][name]
        assert m["beyond_spread"] and m["direction"] == "lower" and m["relative_change"] < -0.5, m
        assert m["before_median"] == b[m["view"]]["median"]["transferred_bytes"]
        assert m["chance_if_no_change"] == pytest.approx(0.1)
    assert cmp["metrics"]["first_view_load_ms"]["unit"] == "ms"


@needs_chromium
def test_third_party_hosts_are_not_reached(site, serve, tmp_path):
    (tmp_path / "index.html").write_text('<!doctype html><script src="http://example.com/x.js"></script>'
                                         '<img src="http://203.0.113.9/pixel.png"><p>hi</p>')
    server = serve(tmp_path, PLAIN)
    view = measure(server.url, loads=1).first_view[0]
    blocked = [r for r in view.requests if "127.0.0.1" not in r.url]
    assert len(blocked) == 2 and all(r.status == 0 and r.error == "net::ERR_NAME_NOT_RESOLVED" for r in blocked)


def _one_line_error(url: str, **kw) -> str:
    with pytest.raises(TargetError) as e:
        measure(url, **kw)
    assert "\n" not in str(e.value)
    return str(e.value)


@needs_chromium
def test_refused_port_is_one_line():
    port = _port()  # free, so nothing listens there
    msg = _one_line_error(f"http://127.0.0.1:{port}/", loads=1)
    assert msg == f"http://127.0.0.1:{port}/: the page did not load (net::ERR_CONNECTION_REFUSED)"


@needs_chromium
def test_missing_page_is_one_line(site, serve):
    server = serve(site, "        location / { }")
    assert _one_line_error(server.url + "no-such-page", loads=1).endswith("the page did not load (HTTP 404)")


@needs_chromium
def test_a_server_that_never_answers_times_out():
    with socket.socket() as s:
        s.bind(("127.0.0.1", _port()))
        s.listen()  # accepts connections (the kernel does) and never answers
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
        assert "did not finish loading within 2 s" in _one_line_error(url, loads=1, timeout_s=2)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/", "http:///nohost", "127.0.0.1:8080"])
def test_only_http_urls(url):
    assert "only http:// and https:// URLs" in _one_line_error(url)


def test_password_is_hidden_and_loads_checked():
    assert "s3cret" not in _one_line_error("ftp://u:s3cret@127.0.0.1/")
    with pytest.raises(ConfigError):
        measure("http://127.0.0.1:1/", loads=0)


def test_missing_chromium(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _one_line_error("http://127.0.0.1:1/") == "chromium not found: apt-get install chromium"


def _side(values: dict) -> dict:
    return {"url": "http://127.0.0.1/", **{view: {"runs": [{"transferred_bytes": v, "load_ms": v}
                                                            for v in vals]}
                                           for view, vals in values.items()}}


@pytest.mark.parametrize("before,after,beyond,direction,chance", [
    ([10, 11, 12], [5, 6, 9], True, "lower", 0.1),
    ([10, 11, 12], [13, 20, 14], True, "higher", 0.1),
    ([10, 11, 12], [9, 11, 8], False, "within spread", 0.1),     # one after value inside the before range
    ([10, 11, 12], [9, 13, 8], False, "within spread", 0.1),     # outside, but on both sides
    ([10, 12, 11, 10, 12], [1, 2, 3, 4, 5], True, "lower", 2 / 252),
])
def test_spread_rule(before, after, beyond, direction, chance):
    cmp = compare_loads(_side({"first_view": before, "repeat_view": before}),
                        _side({"first_view": after, "repeat_view": after}))
    m = cmp["metrics"]["first_view_load_ms"]
    assert (m["beyond_spread"], m["direction"]) == (beyond, direction)
    assert m["chance_if_no_change"] == pytest.approx(chance)
    assert m["relative_change"] == pytest.approx((m["after_median"] - m["before_median"]) / m["before_median"])


def test_relative_change_of_zero_bytes_is_none():
    m = compare_loads(_side({"first_view": [0, 0], "repeat_view": [0, 0]}),
                      _side({"first_view": [5, 5], "repeat_view": [0, 0]}))["metrics"]
    assert m["first_view_transferred_bytes"]["relative_change"] is None
    assert m["repeat_view_transferred_bytes"]["direction"] == "within spread"
