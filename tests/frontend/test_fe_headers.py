"""The CDN header probe against a real nginx serving the real Vite build: a bad configuration, then the
configuration perfadvisor itself writes, which must leave nothing to report."""

from __future__ import annotations

import gzip
import shutil
import socket
import time

import pytest

from advisor.config import Settings
from advisor.errors import TargetError
from analyzers.frontend import cdn, headers, load_bundle

pytestmark = pytest.mark.slow

# What a hurried deploy looks like: no MIME types (everything is application/octet-stream), no gzip, no
# cache headers (nginx still sends Last-Modified, so browsers cache the HTML heuristically).
BAD = """        default_type application/octet-stream;
        location / { try_files $uri /index.html; }
"""


@pytest.fixture
def site(vite_project, tmp_path):
    d = tmp_path / "site"
    shutil.copytree(vite_project / "dist", d)
    return d


def _rules(findings):
    return sorted({f.rule for f in findings})


def test_bad_config_is_reported(site, nginx_factory):
    server = nginx_factory(site, BAD)
    bundle = load_bundle(site)
    probe = headers.probe(server.url, bundle, timeout_s=5)
    found = cdn.run(probe, Settings())
    assert _rules(found) == ["CDN001", "CDN002", "CDN003", "CDN004", "CDN005"]
    by = {f.rule: f for f in found}
    js = [r for r in probe["responses"] if r["path"].endswith(".js") and r["status"] == 200]
    assert js and all(r["headers"]["content-type"] == "application/octet-stream" for r in js)
    assert by["CDN005"].severity == "high"       # module scripts with a wrong type do not run
    sent = by["CDN003"].impact["before"]
    assert sent == sum(r["body_bytes"] for r in probe["responses"]
                       if r["path"] in {e["path"] for e in by["CDN003"].evidence["responses"]})
    assert by["CDN003"].impact["after"] < sent * 0.5
    assert "immutable" in by["CDN001"].action["snippet"] and "location ^~ /assets/" in by["CDN001"].action["snippet"]


def test_perfadvisors_own_snippet_fixes_everything(site, nginx_factory):
    bad = nginx_factory(site, BAD)
    probe = headers.probe(bad.url, load_bundle(site), timeout_s=5)
    snippet = cdn.fix_all_snippet(probe, Settings())
    assert "gzip_static on;" in snippet
    # the build step CDN004 asks for: precompressed siblings of the text files
    for f in list(site.rglob("*.js")) + list(site.rglob("*.css")) + list(site.rglob("*.html")):
        f.with_name(f.name + ".gz").write_bytes(gzip.compress(f.read_bytes(), 9))
    good = nginx_factory(site, "\n".join("        " + line for line in snippet.splitlines()))
    probe2 = headers.probe(good.url, load_bundle(site), timeout_s=5)
    assert cdn.run(probe2, Settings()) == [], good.conf.read_text()
    js = [r for r in probe2["responses"] if r["path"].endswith(".js")]
    assert js and all(r["headers"].get("content-encoding") == "gzip" for r in js)
    assert all("content-length" in r["headers"] for r in js)      # served from the .gz files


def test_probe_without_bundle_reads_index_html(site, nginx_factory):
    server = nginx_factory(site, BAD)
    probe = headers.probe(server.url, None, timeout_s=5)
    paths = [r["path"] for r in probe["responses"]]
    assert any(p.startswith("/assets/") and p.endswith(".js") for p in paths)
    assert probe["precompressed"] is None
    assert "CDN004" not in _rules(cdn.run(probe, Settings()))     # cannot know without the build


def test_only_loopback_is_probed():
    with pytest.raises(TargetError, match="not a loopback"):
        headers.probe("http://192.0.2.10/", None, timeout_s=1)     # TEST-NET-1: never contacted
    with pytest.raises(TargetError, match="expected http"):
        headers.probe("ftp://127.0.0.1/", None, timeout_s=1)


def test_closed_port_and_silent_server_fail_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TargetError, match="no answer"):
        headers.probe(f"http://127.0.0.1:{port}/", None, timeout_s=1)
    # a server that accepts and never answers: the timeout applies
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        t0 = time.monotonic()
        with pytest.raises(TargetError, match="no answer"):
            headers.probe(f"http://127.0.0.1:{s.getsockname()[1]}/", None, timeout_s=0.5)
        assert time.monotonic() - t0 < 3
