"""bundle-diff: compare two builds chunk by chunk and package by package.

Chunks are matched by their key, which carries no content hash (model.strip_hash, Vite manifest keys,
webpack chunk names), so `index-BoAqxRJJ.js` in one build matches `index-C1x9kQ2P.js` in the next. Sizes
are bytes: raw (minified) and gzip measured on the files.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from advisor.fmt import fmt_bytes
from analyzers.frontend.model import Bundle, package_uses, shown_path
from analyzers.frontend.rules import initial_gzip


def _chunk_sizes(b: Bundle) -> dict[str, dict[str, Any]]:
    return {c.key: {"initial": c.initial, "raw_bytes": b.chunk_size(c, "js", "raw_bytes"),
                    "gzip_bytes": b.chunk_size(c, "js", "gzip_bytes"),
                    "files": [f for f in c.files if f.endswith((".js", ".mjs", ".cjs"))]} for c in b.chunks}


def _packages(b: Bundle) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"bytes": 0, "versions": set()})
    for u in package_uses(b):
        out[u.name]["bytes"] += u.bytes
        if u.version:
            out[u.name]["versions"].add(u.version)
    return out


def diff(old: Bundle, new: Bundle) -> dict[str, Any]:
    """The JSON shape: {"old", "new", "initial_js": {"old_gzip_bytes", "new_gzip_bytes", "delta_gzip_bytes",
    "delta_pct", "old_raw_bytes", "new_raw_bytes"}, "chunks": [{"chunk" (the key), "file" (the new build's JS
    file, else the old one's), "status": added|removed|changed|
    unchanged, "old_raw_bytes", "new_raw_bytes", "delta_raw_bytes", "old_gzip_bytes", "new_gzip_bytes",
    "delta_gzip_bytes", "initial"}], "packages": [{"package", "status", "old_bytes", "new_bytes",
    "delta_bytes", "old_versions", "new_versions"}], "added_packages", "removed_packages"}."""
    oc, nc = _chunk_sizes(old), _chunk_sizes(new)
    chunks = []
    for key in sorted(set(oc) | set(nc)):
        o, n = oc.get(key), nc.get(key)
        status = "added" if o is None else "removed" if n is None else (
            "unchanged" if o["raw_bytes"] == n["raw_bytes"] else "changed")
        files = (n or o)["files"]
        row = {"chunk": key, "file": files[0] if files else key, "status": status, "initial": (n or o)["initial"],
               "old_raw_bytes": o["raw_bytes"] if o else 0, "new_raw_bytes": n["raw_bytes"] if n else 0,
               "old_gzip_bytes": o["gzip_bytes"] if o else 0, "new_gzip_bytes": n["gzip_bytes"] if n else 0}
        row["delta_raw_bytes"] = row["new_raw_bytes"] - row["old_raw_bytes"]
        row["delta_gzip_bytes"] = row["new_gzip_bytes"] - row["old_gzip_bytes"]
        chunks.append(row)
    chunks.sort(key=lambda r: (-abs(r["delta_gzip_bytes"]), r["chunk"]))
    op, np_ = _packages(old), _packages(new)
    packages = []
    for name in sorted(set(op) | set(np_)):
        o, n = op.get(name), np_.get(name)
        status = "added" if o is None else "removed" if n is None else (
            "unchanged" if o["bytes"] == n["bytes"] and o["versions"] == n["versions"] else "changed")
        packages.append({"package": name, "status": status, "old_bytes": o["bytes"] if o else 0,
                         "new_bytes": n["bytes"] if n else 0,
                         "delta_bytes": (n["bytes"] if n else 0) - (o["bytes"] if o else 0),
                         "old_versions": sorted(o["versions"]) if o else [],
                         "new_versions": sorted(n["versions"]) if n else []})
    packages.sort(key=lambda r: (-abs(r["delta_bytes"]), r["package"]))
    og, ng = initial_gzip(old)[0], initial_gzip(new)[0]
    return {
        "old": shown_path(old.source), "new": shown_path(new.source),
        "initial_js": {"old_gzip_bytes": og, "new_gzip_bytes": ng, "delta_gzip_bytes": ng - og,
                       "delta_pct": round(100.0 * (ng - og) / og, 2) if og else None,
                       "old_raw_bytes": old.initial_bytes("js", "raw_bytes"),
                       "new_raw_bytes": new.initial_bytes("js", "raw_bytes")},
        "chunks": chunks, "packages": packages,
        "added_packages": [p["package"] for p in packages if p["status"] == "added"],
        "removed_packages": [p["package"] for p in packages if p["status"] == "removed"],
    }


def _kb(n: int, signed: bool = False) -> str:
    """advisor.fmt.fmt_bytes (the report's one byte convention), with a sign for a change."""
    text = fmt_bytes(abs(n)) if signed else fmt_bytes(n)
    return ("-" if n < 0 else "+") + text if signed else text


def one_line(d: dict[str, Any]) -> str:
    i = d["initial_js"]
    pct = f" ({i['delta_pct']:+.1f}%)" if i["delta_pct"] is not None else ""
    return (f"bundle-diff: initial JS {_kb(i['old_gzip_bytes'])} → {_kb(i['new_gzip_bytes'])} gzip "
            f"({_kb(i['delta_gzip_bytes'], True)}{pct}); packages added: "
            f"{', '.join(d['added_packages']) or 'none'}; removed: {', '.join(d['removed_packages']) or 'none'}")


def markdown(d: dict[str, Any], limit: int = 25) -> str:
    """A PR-comment summary of `diff()`."""
    i = d["initial_js"]
    pct = f" ({i['delta_pct']:+.1f}%)" if i["delta_pct"] is not None else ""
    lines = ["## Bundle diff", "",
             f"**Initial JS:** {_kb(i['old_gzip_bytes'])} → {_kb(i['new_gzip_bytes'])} gzip, "
             f"**{_kb(i['delta_gzip_bytes'], True)}{pct}** "
             f"(minified {_kb(i['old_raw_bytes'])} → {_kb(i['new_raw_bytes'])})", ""]
    if d["added_packages"] or d["removed_packages"]:
        lines += [f"**New packages:** {', '.join(d['added_packages']) or 'none'}  ",
                  f"**Removed packages:** {', '.join(d['removed_packages']) or 'none'}", ""]
    changed = [c for c in d["chunks"] if c["status"] != "unchanged"]
    lines += ["### Chunks", ""]
    if changed:
        lines += ["| chunk | status | initial | old gzip | new gzip | Δ gzip | Δ minified |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for c in changed[:limit]:
            lines.append(f"| `{c['file']}` | {c['status']} | {'yes' if c['initial'] else 'no'} | "
                         f"{_kb(c['old_gzip_bytes'])} | {_kb(c['new_gzip_bytes'])} | "
                         f"{_kb(c['delta_gzip_bytes'], True)} | {_kb(c['delta_raw_bytes'], True)} |")
    else:
        lines.append("No chunk changed size.")
    pk = [p for p in d["packages"] if p["status"] != "unchanged"]
    lines += ["", "### Packages (minified bytes)", ""]
    if pk:
        lines += ["| package | status | versions | old | new | Δ |", "|---|---|---|---:|---:|---:|"]
        for p in pk[:limit]:
            vers = f"{', '.join(p['old_versions']) or '–'} → {', '.join(p['new_versions']) or '–'}"
            lines.append(f"| {p['package']} | {p['status']} | {vers} | {_kb(p['old_bytes'])} | "
                         f"{_kb(p['new_bytes'])} | {_kb(p['delta_bytes'], True)} |")
    else:
        lines.append("No package changed.")
    return "\n".join(lines) + "\n"
