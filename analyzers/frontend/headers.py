"""Probe the running front end's response headers: loopback only, one connection per request, timeouts.

Requests `GET /` (and `/index.html`) and up to MAX_ASSETS built files: those the bundle lists (initial
chunks first), else those index.html references. Each request sends `Accept-Encoding: gzip, br` as a
browser does and reads at most MAX_BODY_BYTES. Nothing is written to the target. Proxies from the
environment are ignored (http.client, not urllib), since only loopback is allowed.

Result shape (stored in the snapshot): {"url", "status": "ok", "responses": [{"path", "kind", "hashed",
"status", "headers": {lower-case name: value}, "body_bytes", "identity_bytes"?, "gzip_bytes"?,
"error"?}], "bundle_files_known": bool, "precompressed": {"gz": [...], "br": [...]} | None}.
"""

from __future__ import annotations

import gzip
import http.client
import ipaddress
import re
import socket
import zlib
from typing import Any
from urllib.parse import urljoin, urlsplit

from advisor.errors import TargetError
from analyzers.frontend.model import Bundle, file_kind, gzip_size, has_hash

DEFAULT_TIMEOUT_S = 5.0
MAX_ASSETS = 20
MAX_BODY_BYTES = 20 * 1024 * 1024
KEEP_HEADERS = ("cache-control", "content-type", "content-encoding", "content-length", "transfer-encoding",
                "vary", "etag", "last-modified", "expires", "age")


def check_loopback(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of `url`. Raises TargetError unless it is http(s) on a loopback address
    (127.0.0.0/8, ::1, or a name that resolves only to those)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"front-end URL {url}: expected http://HOST:PORT/ (loopback)")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetError(f"front-end URL {url}: invalid port") from None
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except socket.gaierror as e:
        raise TargetError(f"front-end URL {url}: cannot resolve {host} ({e.strerror})") from None
    if not addrs or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        raise TargetError(f"front-end URL {url}: {host} is not a loopback address; perfadvisor only probes "
                          "127.0.0.0/8, ::1 or localhost (run it on the host that serves the front end)")
    return parts.scheme, host, port


def _get(scheme: str, host: str, port: int, path: str, timeout: float) -> dict[str, Any]:
    conn_cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip, br",
                                           "User-Agent": "perfadvisor-probe",
                                           "Accept": "*/*"})
        resp = conn.getresponse()
        body = resp.read(MAX_BODY_BYTES)
        headers = {k.lower(): v for k, v in resp.getheaders() if k.lower() in KEEP_HEADERS}
        return {"status": resp.status, "headers": headers, "body": body}
    finally:
        conn.close()


def _identity(body: bytes, encoding: str) -> bytes | None:
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "br":
            import brotli
            return brotli.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding in ("", "identity"):
            return body
    except Exception:
        return None
    return None


def _asset_paths(bundle: Bundle | None, html: bytes | None) -> list[str]:
    paths: list[str] = []
    if bundle is not None:
        initial = [f for c in bundle.chunks if c.initial for f in c.files]
        others = [f.path for f in bundle.files if f.kind in ("js", "css", "image", "other")
                  and f.path not in initial and not f.path.endswith(".html")]
        paths = initial + sorted(others, key=lambda p: (file_kind(p) != "js", p))
    elif html:
        text = html.decode("utf-8", "replace")
        for u in re.findall(r"""(?:src|href)\s*=\s*["']([^"'#]+)""", text):
            if not urlsplit(u).netloc:
                paths.append(u.lstrip("/"))
    seen: list[str] = []
    for p in paths:
        if p not in seen:
            seen.append(p)
    return seen[:MAX_ASSETS]


def probe(url: str, bundle: Bundle | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Fetch the HTML and the assets of the front end at `url`; returns the shape in the module docstring.

    Raises TargetError when the URL is not loopback or the HTML cannot be fetched (refused, timeout)."""
    scheme, host, port = check_loopback(url)
    base_path = urlsplit(url).path or "/"
    if not base_path.endswith("/"):
        base_path = base_path.rsplit("/", 1)[0] + "/"
    responses: list[dict[str, Any]] = []
    html_body = None
    for path in (base_path, base_path + "index.html"):
        try:
            r = _get(scheme, host, port, path, timeout_s)
        except (OSError, http.client.HTTPException) as e:
            if path == base_path:
                raise TargetError(f"front-end URL {url}: no answer ({e.__class__.__name__}: {e})") from None
            responses.append({"path": path, "kind": "html", "hashed": False, "error": str(e)})
            continue
        if html_body is None and r["status"] == 200:
            html_body = _identity(r["body"], r["headers"].get("content-encoding", ""))
        responses.append(_record(path, "html", False, r))
    for rel in _asset_paths(bundle, html_body):
        path = urljoin(base_path, rel)
        try:
            r = _get(scheme, host, port, path, timeout_s)
        except (OSError, http.client.HTTPException) as e:
            responses.append({"path": path, "kind": file_kind(rel), "hashed": has_hash(rel), "error": str(e)})
            continue
        responses.append(_record(path, file_kind(rel), has_hash(rel), r))
    return {"url": url, "status": "ok", "responses": responses,
            "bundle_files_known": bundle is not None,
            "precompressed": bundle.precompressed if bundle is not None else None}


def _record(path: str, kind: str, hashed: bool, r: dict[str, Any]) -> dict[str, Any]:
    body = r["body"]
    enc = r["headers"].get("content-encoding", "").strip().lower()
    out = {"path": path, "kind": kind, "hashed": hashed, "status": r["status"], "headers": r["headers"],
           "body_bytes": len(body)}
    ident = _identity(body, enc)
    if ident is not None:
        out["identity_bytes"] = len(ident)
        out["gzip_bytes"] = gzip_size(ident)
    return out
