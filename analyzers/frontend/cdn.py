"""The CDN… rules: what the running front end's headers (headers.probe) get wrong about caching,
compression and content types, and the nginx snippet that fixes it. Pure functions of the probe result.
"""

from __future__ import annotations

import posixpath
from typing import Any

from advisor.config import Settings
from advisor.fmt import fmt_bytes
from advisor.model import Finding

AREA = "frontend"

# One year, the longest max-age RFC 9111 §5.2.2.1 lets caches rely on in practice, with `immutable`
# (RFC 8246) so browsers do not revalidate on reload. Threshold name: immutable_min_max_age_s.
IMMUTABLE_MIN_MAX_AGE_S = 31_536_000
# Lighthouse's uses-text-compression audit ignores responses that would save less than 1.4 KB
# (IGNORE_THRESHOLD_IN_BYTES = 1400). Threshold name: compress_min_saving_bytes.
COMPRESS_MIN_SAVING_BYTES = 1_400
# Text files smaller than this are not worth precompressing (nginx's gzip_min_length examples use 1000;
# perfadvisor's convention). Threshold name: precompress_min_bytes.
PRECOMPRESS_MIN_BYTES = 1_024

TEXT_KINDS = ("js", "css", "html")
EXPECTED_TYPES = {
    "js": ("text/javascript", "application/javascript", "application/x-javascript"),
    "css": ("text/css",),
    "html": ("text/html",),
}
_EXT_TYPES = {".svg": ("image/svg+xml",), ".png": ("image/png",), ".jpg": ("image/jpeg",),
              ".jpeg": ("image/jpeg",), ".gif": ("image/gif",), ".webp": ("image/webp",),
              ".avif": ("image/avif",), ".woff2": ("font/woff2",), ".woff": ("font/woff", "application/font-woff"),
              ".json": ("application/json",), ".ico": ("image/x-icon", "image/vnd.microsoft.icon")}


def _ok(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in responses if r.get("status") == 200]


def _cache_control(r: dict[str, Any]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for part in (r.get("headers", {}).get("cache-control") or "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        k, _, v = part.partition("=")
        out[k.strip()] = v.strip().strip('"') or None
    return out


def _max_age(cc: dict[str, str | None]) -> int | None:
    try:
        return int(cc["max-age"]) if cc.get("max-age") is not None else None
    except ValueError:
        return None


def _asset_dir(paths: list[str]) -> str | None:
    dirs = {posixpath.dirname(p) for p in paths}
    return dirs.pop() if len(dirs) == 1 and next(iter(dirs), "/") not in ("", "/") else None


def nginx_snippet(problems: set[str], hashed_paths: list[str]) -> str:
    """The nginx server-block lines that fix `problems` ⊆ {"immutable", "html", "compress", "precompress",
    "types"}; hashed assets are matched by their directory when they share one, else by a hash pattern."""
    lines = ["# nginx: inside the server { } block that serves the built front end"]
    if "types" in problems:
        lines += ["include /etc/nginx/mime.types;            # .js → text/javascript, .css → text/css, …",
                  "types { text/javascript js mjs; }",
                  "default_type application/octet-stream;"]
    if "compress" in problems or "precompress" in problems:
        lines += ["gzip on;",
                  "gzip_comp_level 6;",
                  "gzip_min_length 1024;",
                  "gzip_vary on;",
                  "gzip_proxied any;",
                  "gzip_types text/css text/javascript application/javascript application/json "
                  "image/svg+xml;"]
    if "precompress" in problems:
        lines += ["gzip_static on;                           # serves app.js.gz built next to app.js",
                  "# brotli_static on;                       # with the ngx_brotli module "
                  "(Debian: libnginx-mod-http-brotli-static)"]
    d = _asset_dir(hashed_paths)
    if "immutable" in problems:
        loc = (f"location ^~ {d.rstrip('/')}/ {{" if d else
               r'location ~* "[-.][A-Za-z0-9_-]{8,}\.(?:js|mjs|css|woff2?|png|jpe?g|gif|svg|webp|avif)$" {')
        lines += [loc,
                  "    # content-hashed file names never change: cache for a year, never revalidate",
                  f"    add_header Cache-Control \"public, max-age={IMMUTABLE_MIN_MAX_AGE_S}, immutable\" always;",
                  "    try_files $uri =404;",
                  "}"]
    if "html" in problems:
        lines += ["location = /index.html {",
                  "    # the HTML names the current hashed files: revalidate it on every visit",
                  "    add_header Cache-Control \"no-cache\" always;",
                  "}",
                  "location / {",
                  "    add_header Cache-Control \"no-cache\" always;",
                  "    try_files $uri $uri/ /index.html;",
                  "}"]
    return "\n".join(lines)


def run(probe: dict[str, Any], settings: Settings) -> list[Finding]:
    """All CDN rules on one probe result (headers.probe)."""
    responses = _ok(probe.get("responses", []))
    url = probe.get("url", "")
    out: list[Finding] = []
    hashed = [r["path"] for r in responses if r.get("hashed")]

    def finding(code: str, name: str, severity: str, title: str, detail: str, key: str, evidence: Any,
                problems: set[str], impact: dict[str, Any] | None = None) -> Finding:
        return Finding(rule=code, name=name, area=AREA, severity=severity, confidence="verified",
                       title=title, detail=detail, key=key, evidence=evidence, impact=impact,
                       action={"kind": "config", "file": "nginx.conf (server block of the front end)",
                               "snippet": nginx_snippet(problems, hashed)},
                       references=REFERENCES[code])

    min_age = settings.threshold(AREA, "immutable_min_max_age_s", IMMUTABLE_MIN_MAX_AGE_S)
    bad = []
    for r in responses:
        if not r.get("hashed"):
            continue
        cc = _cache_control(r)
        age = _max_age(cc)
        if age is None or age < min_age or "immutable" not in cc or "no-cache" in cc or "no-store" in cc:
            bad.append({"path": r["path"], "cache_control": r["headers"].get("cache-control", "(none)")})
    if bad:
        out.append(finding(
            "CDN001", "hashed-asset-not-immutable", "medium",
            f"{len(bad)} content-hashed asset(s) are not cached as immutable",
            (f"{url} serves files whose names carry a content hash without `Cache-Control: public, "
             f"max-age={IMMUTABLE_MIN_MAX_AGE_S}, immutable`, so returning visitors revalidate or re-download "
             "them although they can never change."),
            "hashed-assets", {"responses": bad}, {"immutable"}))

    html_bad = []
    for r in responses:
        if r.get("kind") != "html":
            continue
        cc = _cache_control(r)
        age = _max_age(cc)
        fresh_ok = "no-cache" in cc or "no-store" in cc or (age == 0 and "must-revalidate" in cc) or age == 0
        if not fresh_ok:
            html_bad.append({"path": r["path"], "cache_control": r["headers"].get("cache-control", "(none)"),
                             "last_modified": r["headers"].get("last-modified", "(none)")})
    if html_bad:
        out.append(finding(
            "CDN002", "html-cached", "medium",
            "index.html may be served from cache after a deploy",
            ("The HTML names the current hashed JS/CSS files. Without `Cache-Control: no-cache` a browser may "
             "reuse a stale copy (with only Last-Modified it applies heuristic freshness, RFC 9111 §4.2.2) and "
             "request files the new deploy no longer has."),
            "html", {"responses": html_bad}, {"html"}))

    min_saving = settings.threshold(AREA, "compress_min_saving_bytes", COMPRESS_MIN_SAVING_BYTES)
    uncompressed = []
    for r in responses:
        enc = r.get("headers", {}).get("content-encoding", "").lower()
        if r.get("kind") not in TEXT_KINDS and not r["path"].endswith((".svg", ".json")):
            continue
        if enc in ("gzip", "br") or "identity_bytes" not in r:
            continue
        saving = r["identity_bytes"] - r.get("gzip_bytes", r["identity_bytes"])
        if saving >= min_saving:
            uncompressed.append({"path": r["path"], "bytes_sent": r["body_bytes"],
                                 "gzip_bytes": r.get("gzip_bytes"), "saving_bytes": saving})
    if uncompressed:
        total = sum(u["bytes_sent"] for u in uncompressed)
        after = sum(u["gzip_bytes"] or 0 for u in uncompressed)
        out.append(finding(
            "CDN003", "text-not-compressed", "high" if total - after >= 50_000 else "medium",
            f"{len(uncompressed)} text file(s) are sent uncompressed: {fmt_bytes(total)} instead of "
            f"{fmt_bytes(after)}",
            ("The probe asked for `Accept-Encoding: gzip, br` and got no Content-Encoding. gzip sizes are "
             "measured by compressing the bodies received (level 6)."),
            "compression", {"responses": uncompressed},
            {"compress", "precompress"}, {"metric": "transfer_bytes", "before": total, "after": after}))

    pre = probe.get("precompressed")
    if probe.get("bundle_files_known") and pre is not None:
        min_pre = settings.threshold(AREA, "precompress_min_bytes", PRECOMPRESS_MIN_BYTES)
        text = [r for r in responses if r.get("kind") in ("js", "css") and r.get("identity_bytes", 0) >= min_pre]
        have = set(pre.get("gz", [])) | set(pre.get("br", []))
        missing = [r["path"] for r in text if r["path"].lstrip("/") not in have]
        on_the_fly = [r["path"] for r in text
                      if r.get("headers", {}).get("content-encoding") in ("gzip", "br")
                      and "content-length" not in r.get("headers", {})]
        if missing:
            out.append(finding(
                "CDN004", "missing-precompressed", "low",
                f"{len(missing)} JS/CSS file(s) have no precompressed .br/.gz beside them",
                ("Compressing at build time lets the server send brotli at quality 11 (smaller than on-the-fly "
                 "gzip) with no CPU per request" + (f"; {len(on_the_fly)} of them are compressed on the fly now "
                                                    "(chunked, no Content-Length)" if on_the_fly else "")
                 + ". Build them (e.g. vite-plugin-compression or compression-webpack-plugin) and serve them "
                   "with gzip_static/brotli_static."),
                "precompressed", {"missing": missing[:20], "compressed_on_the_fly": on_the_fly[:20]},
                {"precompress"}))

    wrong = []
    for r in responses:
        ctype = r.get("headers", {}).get("content-type", "").split(";")[0].strip().lower()
        path = r["path"].split("?")[0]
        expected = EXPECTED_TYPES.get(r.get("kind", "")) or _EXT_TYPES.get(posixpath.splitext(path)[1].lower())
        if expected and ctype not in expected:
            wrong.append({"path": r["path"], "content_type": ctype or "(none)", "expected": expected[0]})
    if wrong:
        js_wrong = any(w["expected"] == "text/javascript" for w in wrong)
        out.append(finding(
            "CDN005", "wrong-content-type", "high" if js_wrong else "medium",
            f"{len(wrong)} file(s) are served with the wrong Content-Type",
            ("Browsers refuse module scripts and stylesheets whose Content-Type is not JavaScript/CSS "
             "(HTML spec: strict MIME type checking; X-Content-Type-Options: nosniff); other types break "
             "compression rules keyed on the type."),
            "content-type", {"responses": wrong}, {"types"}))
    return out


def fix_all_snippet(probe: dict[str, Any], settings: Settings) -> str:
    """One nginx snippet that fixes every CDN problem the probe found ("" when there is none)."""
    problems: set[str] = set()
    mapping = {"CDN001": {"immutable"}, "CDN002": {"html"}, "CDN003": {"compress", "precompress"},
               "CDN004": {"precompress"}, "CDN005": {"types"}}
    for f in run(probe, settings):
        problems |= mapping[f.rule]
    hashed = [r["path"] for r in _ok(probe.get("responses", [])) if r.get("hashed")]
    return nginx_snippet(problems, hashed) if problems else ""


REFERENCES = {
    "CDN001": ("https://www.rfc-editor.org/rfc/rfc8246", "https://web.dev/articles/http-cache"),
    "CDN002": ("https://www.rfc-editor.org/rfc/rfc9111#section-4.2.2", "https://web.dev/articles/http-cache"),
    "CDN003": ("https://developer.chrome.com/docs/lighthouse/performance/uses-text-compression",
               "https://nginx.org/en/docs/http/ngx_http_gzip_module.html"),
    "CDN004": ("https://nginx.org/en/docs/http/ngx_http_gzip_static_module.html",),
    "CDN005": ("https://html.spec.whatwg.org/multipage/webappapis.html#fetch-a-single-module-script",
               "https://nginx.org/en/docs/http/ngx_http_core_module.html#types"),
}
