"""The front end as a user gets it: through nginx, rendered by headless Chromium, with the planted problems."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from .chromium import Browser, chromium_binary


def fetch(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers, r.read()


@pytest.fixture(scope="module")
def manifest(stack):
    return json.loads((stack.stack.cfg.dist / ".vite" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def entry(manifest):
    return next(c for c in manifest.values() if c.get("isEntry"))


def test_index_html_and_every_built_asset_come_through_nginx(stack, manifest):
    status, headers, body = fetch(stack.urls.frontend)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = body.decode()
    scripts = re.findall(r'src="(/assets/[^"]+\.js)"', html)
    assert scripts, html
    files = {c["file"] for c in manifest.values()} | {f for c in manifest.values() for f in c.get("css", [])}
    assert files
    for f in files:
        status, headers, body = fetch(stack.urls.frontend + f)
        kind = "text/css" if f.endswith(".css") else "application/javascript"
        assert status == 200 and headers["Content-Type"].startswith(kind), f
        assert len(body) > 0
    # Source maps are built beside the chunks (the front-end analyzer reads them).
    assert all((stack.stack.cfg.dist / (c["file"] + ".map")).exists() for c in manifest.values() if c["file"].endswith(".js"))


def test_client_side_routes_load_the_app(stack):
    status, headers, body = fetch(stack.urls.frontend + "admin")
    assert status == 200 and b'<div id="root">' in body


def test_planted_no_compression_and_no_immutable_cache_headers(stack, entry):
    _, headers, _ = fetch(stack.urls.frontend + entry["file"], {"Accept-Encoding": "gzip, br"})
    assert headers.get("Content-Encoding") is None
    assert "immutable" not in (headers.get("Cache-Control") or "")


def test_planted_admin_and_recharts_are_in_the_entry_chunk(stack, manifest, entry):
    assert not any("Admin" in key for key, c in manifest.items() if c.get("isDynamicEntry"))
    sources = json.loads((stack.stack.cfg.dist / (entry["file"] + ".map")).read_text())["sources"]
    assert any("src/pages/Admin.jsx" in s for s in sources)
    assert any("node_modules/recharts/" in s for s in sources)
    # …while Orders shows the fix: a lazy route in its own chunk.
    assert any(c.get("isDynamicEntry") and c.get("src", "").endswith("Orders.jsx") for c in manifest.values())


@pytest.fixture(scope="module")
def browser():
    binary = chromium_binary()
    if binary is None:
        pytest.fail("chromium is not installed (apt-get install chromium): the front end cannot be rendered")
    b = Browser(binary)
    yield b
    b.close()


PAGES = [
    ("", "document.querySelectorAll('ul.categories li').length >= 40", "Welcome"),
    ("products?category=2", "document.querySelectorAll('ul.products li').length > 0", "Products"),
    ("products/3", "document.querySelector('ul.reviews') && document.querySelector('h1')", "Reviews"),
    ("orders", "document.querySelector('main h1')", "Your orders"),
    ("admin", "document.querySelectorAll('.recharts-bar-rectangle').length > 0", "Best sellers"),
]


@pytest.mark.parametrize("path,ready,heading", PAGES, ids=[p[0] or "home" for p in PAGES])
def test_pages_render_in_headless_chromium_without_console_errors(stack, browser, path, ready, heading):
    page = browser.open(stack.urls.frontend + path, ready)
    assert page.errors == []
    assert heading in page.text
