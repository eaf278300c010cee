"""What every reader needs from a build directory on disk: the files and their real sizes, the modules in
each JS file (through its source map), the project's package.json files and the bundler's version.

Used by vite.py, webpack.py and `read_files` (a directory of built files with source maps and nothing else).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from pathlib import Path
from typing import Any

from analyzers.frontend import images, sourcemaps
from analyzers.frontend import imports as imports_mod
from analyzers.frontend.model import (
    BROTLI_QUALITY,
    BuiltFile,
    Bundle,
    Chunk,
    Import,
    Module,
    brotli_quality,
    brotli_size,
    file_kind,
    gzip_size,
    package_of,
    strip_hash,
)

SKIP_SUFFIXES = (".map", ".gz", ".br", ".LICENSE.txt")


def measure_files(root: Path, compress: bool = True) -> tuple[tuple[BuiltFile, ...], dict[str, list[str]]]:
    """Every file under `root` (not .map/.gz/.br/LICENSE) with raw, gzip and brotli bytes (text files; brotli
    at the quality model.brotli_quality gives within the build's quality-11 allowance) or WebP/AVIF
    re-encoded bytes (raster images, images.py), and the precompressed siblings found:
    ({"gz": [paths that have a .gz], "br": [...]})."""
    files: list[BuiltFile] = []
    pre: dict[str, list[str]] = {"gz": [], "br": []}
    pictures: list[tuple[int, Path, str, int]] = []
    q11_done = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "node_modules")
        for fn in sorted(filenames):
            full = Path(dirpath) / fn
            rel = full.relative_to(root).as_posix()
            if rel.startswith(".vite/") or fn == "stats.json":
                continue
            if fn.endswith(".gz"):
                pre["gz"].append(rel[:-3])
                continue
            if fn.endswith(".br"):
                pre["br"].append(rel[:-3])
                continue
            if fn.endswith(SKIP_SUFFIXES):
                continue
            kind = file_kind(rel)
            if compress and fn.lower().endswith(images.RASTER_EXT):  # below, in images.measure_order's order
                pictures.append((len(files), full, rel, full.stat().st_size))
                files.append(BuiltFile(rel, kind, full.stat().st_size))
                continue
            data = full.read_bytes()
            inline = b""
            if kind in ("js", "css"):  # sizes of the code only; the inline map is reported on its own
                data, inline = sourcemaps.split_inline_map(data)
            text_like = kind in ("js", "css", "html") or fn.endswith((".svg", ".json", ".txt", ".xml"))
            gz = gzip_size(data) if compress and text_like else None
            quality = brotli_quality(len(data), q11_done) if compress and text_like else None
            br = brotli_size(data, quality) if quality else None
            if quality == BROTLI_QUALITY:
                q11_done += len(data)
            inline_gz = gzip_size(data + inline) - gz if inline and gz is not None else None
            files.append(BuiltFile(rel, kind, len(data), gz, br, None, None, len(inline), inline_gz, None,
                                   quality if br is not None else None))
    budget = images.Budget()  # one encoding-time budget per build (images.IMAGE_TIME_BUDGET_S)
    for i in images.measure_order([(full, size) for _, full, _, size in pictures]):
        idx, full, rel, size = pictures[i]
        webp, avif, how = images.measure(full, budget)
        files[idx] = BuiltFile(rel, "image", size, None, None, webp, avif, 0, None, how)
    return tuple(files), pre


def project_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` (up to 4 levels) holding a package.json."""
    here = start.resolve()
    for _ in range(5):
        if (here / "package.json").is_file():
            return here
        if here.parent == here:
            break
        here = here.parent
    return None


def bundler_version(root: Path | None, name: str) -> str | None:
    """The installed version of `name` (vite, webpack) from root/node_modules/NAME/package.json."""
    if root is None:
        return None
    try:
        data = json.loads((root / "node_modules" / name / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    v = data.get("version") if isinstance(data, dict) else None
    return v if isinstance(v, str) else None


_WEBPACK_NS = re.compile(r"^webpack://[^/]*/")


def normalize_source(source: str, map_dir: Path, root: Path | None) -> str:
    """A source-map source name as a project-relative module path.

    `webpack://app/./src/App.js` → `src/App.js`; Vite's `../../node_modules/x/y.js` (relative to the map's
    directory) → `node_modules/x/y.js`; anything outside the project keeps its normalized form.
    """
    if source in sourcemaps.BUCKETS:
        return source
    s = source.replace("\\", "/")
    if s.startswith("\0") or s.startswith("\x00"):
        return "(virtual)/" + s.lstrip("\0")
    if _WEBPACK_NS.match(s):
        s = _WEBPACK_NS.sub("", s)
        if s.startswith("webpack/"):
            return "(webpack)/" + s[len("webpack/"):]
        s = s.split("?")[0]
        return posixpath.normpath(s.lstrip("./") if s.startswith("./") else s)
    if s.startswith("webpack:///"):
        s = s[len("webpack:///"):]
    if s.startswith("file://"):
        s = s[len("file://"):]
    if root is not None:
        try:
            full = (map_dir / s).resolve() if not s.startswith("/") else Path(s).resolve()
            return full.relative_to(root).as_posix()
        except (ValueError, OSError):
            pass
    return posixpath.normpath(s)


# Sources read from disk when a map does not embed them: at most this many bytes per file (a minified
# vendor file or a generated blob is no use to the lexical import scan; perfadvisor's convention).
MAX_DISK_SOURCE_BYTES = 2_000_000


def attribute_chunks(build_dir: Path, chunk_of_file: dict[str, str], root: Path | None,
                     notes: list[str]) -> tuple[list[Module], dict[str, str]]:
    """Modules of every JS file in `chunk_of_file` (build-relative path → chunk key), through its source
    map, and the original sources (module path → text): those the maps embed (`sourcesContent`), else the
    app's own files read from disk under the project root. Files without a map, maps refused as not
    belonging to their file, and sources found nowhere are noted (one line each)."""
    modules: list[Module] = []
    contents: dict[str, str] = {}
    missing: list[str] = []
    refused: list[str] = []
    without_content: dict[str, Path] = {}  # module path → the map's directory
    for rel, chunk_key in chunk_of_file.items():
        js = build_dir / rel
        if file_kind(rel) != "js" or not js.is_file():
            continue
        map_path = sourcemaps.find_map(js)
        code = js.read_bytes()
        if map_path is None:
            # an inline map: attribute the code without its comment (the file's size as measured)
            code, comment = sourcemaps.split_inline_map(code)
            smap = sourcemaps.inline_map(code + comment, rel) if comment else None
            if smap is None:
                missing.append(rel)
                continue
            map_path = js
        else:
            smap = sourcemaps.load_map(map_path)
            code, comment = sourcemaps.split_inline_map(code)
        try:
            per_source = sourcemaps.attribute(code, smap, _shown(map_path, build_dir))
        except sourcemaps.MapMismatchError as e:
            refused.append(f"{rel}: {e}")
            missing.append(rel)
            continue
        names = {s: normalize_source(s, map_path.parent, root) for s in per_source}
        for src, nbytes in per_source.items():
            path = names[src]
            pkg = package_of(path)
            modules.append(Module(path=path, chunk=chunk_key, bytes=nbytes, measure="sourcemap",
                                  package=pkg[0] if pkg else None, package_path=pkg[1] if pkg else None,
                                  version=pkg[2] if pkg else None))
        embedded = sourcemaps.sources_content(smap)
        for src, text in embedded.items():
            contents.setdefault(normalize_source(src, map_path.parent, root), text)
        for src, path in names.items():
            if src not in embedded and src not in sourcemaps.BUCKETS and not package_of(path):
                without_content.setdefault(path, map_path.parent)
    for line in refused[:3]:
        notes.append(f"source map refused, its file is counted as unattributed: {line}")
    if len(refused) > 3:
        notes.append(f"… and {len(refused) - 3} more source map(s) refused the same way")
    if missing:
        notes.append(f"{len(missing)} JS file(s) have no usable source map, so their modules are unknown: "
                     f"{', '.join(sorted(missing)[:3])}{' …' if len(missing) > 3 else ''}")
    absent = sorted(p for p in without_content if p not in contents)
    if absent:
        found = read_sources_from_disk(absent, root)
        contents.update(found)
        lost = [p for p in absent if p not in found]
        line = (f"{len(absent)} app source(s) are not embedded in the source maps (sourcesContent null or "
                f"short); {len(found)} read from disk under the project")
        if lost:
            line += (f", {len(lost)} not found ({', '.join(lost[:3])}{' …' if len(lost) > 3 else ''}): their "
                     "imports and routes are unknown, so lazy-route (FE002) and defeated-import (FE006) advice "
                     "cannot cover them")
        notes.append(line)
    return modules, contents


def _shown(path: Path, build_dir: Path) -> str:
    """`path` relative to the build directory when it lies inside (no build-machine path in a report)."""
    try:
        return path.relative_to(build_dir).as_posix()
    except ValueError:
        return str(path)


def read_sources_from_disk(paths: list[str], root: Path | None) -> dict[str, str]:
    """module path (project-relative) → its text, for the files that exist under `root` (none without a
    root; files over MAX_DISK_SOURCE_BYTES and paths leaving the project are skipped)."""
    out: dict[str, str] = {}
    if root is None:
        return out
    base = root.resolve()
    for p in paths:
        if p.startswith(("(", "[", "/")) or ".." in p.split("/"):
            continue
        full = base / p
        try:
            if full.is_file() and full.stat().st_size <= MAX_DISK_SOURCE_BYTES:
                out[p] = full.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return out


def read_packages(root: Path | None, install_paths: set[str]) -> dict[str, dict[str, Any]]:
    """install path → {"name", "version", "side_effects"} from each package's package.json, where readable."""
    out: dict[str, dict[str, Any]] = {}
    if root is None:
        return out
    for ip in sorted(install_paths):
        try:
            data = json.loads((root / ip / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        side = data.get("sideEffects")
        out[ip] = {"name": data.get("name"), "version": data.get("version"),
                   "side_effects": side if isinstance(side, (bool, list)) else None,
                   "module": bool(data.get("module") or data.get("type") == "module" or data.get("exports"))}
    return out


def with_versions(modules: list[Module], packages: dict[str, dict[str, Any]]) -> list[Module]:
    """Modules with `version` filled from the packages' package.json where the path did not show it."""
    out = []
    for m in modules:
        if m.package_path and not m.version and packages.get(m.package_path, {}).get("version"):
            m = Module(m.path, m.chunk, m.bytes, m.measure, m.package, m.package_path,
                       packages[m.package_path]["version"])
        out.append(m)
    return out


def package_links(root: Path | None, install_paths: set[str]) -> dict[str, str]:
    """Symlinked package directories → the install path they point to (both project-relative), for the
    install paths in the bundle: the project's `node_modules/*` and, for each pnpm/Yarn copy, its sibling
    `…/node_modules/*` (where pnpm links a package's own dependencies). Empty without a root."""
    out: dict[str, str] = {}
    if root is None:
        return out
    base = root.resolve()
    dirs = {"node_modules"} | {ip.rsplit("/node_modules/", 1)[0] + "/node_modules"
                               for ip in install_paths if "/node_modules/" in ip}
    for d in sorted(dirs):
        try:
            entries = list((base / d).iterdir())
        except OSError:
            continue
        for e in entries:
            for link in ([*e.iterdir()] if e.name.startswith("@") and e.is_dir() else [e]):
                if not link.is_symlink():
                    continue
                try:
                    real = link.resolve().relative_to(base).as_posix()
                except (OSError, ValueError):
                    continue
                if real in install_paths:
                    out[link.relative_to(base).as_posix()] = real
    return out


# A re-export barrel read from disk is at most this big (perfadvisor's convention: barrels are lists of
# `export … from` lines; a big file is not one).
MAX_BARREL_BYTES = 64_000
_BARREL_LINE = re.compile(r"""^\s*(?:export\s+(?:type\s+)?(?:\*|\*\s+as\s+\w+|\{[^}]*\})\s+from\s+["'][^"']+["']\s*;?|"""
                          r"""import\s+type\b.*|//.*|/\*.*|\*.*|)\s*$""")


def disk_barrels(contents: dict[str, str], paths: set[str], root: Path | None,
                 aliases: dict[str, str]) -> dict[str, str]:
    """Re-export barrels (`index.ts` of only `export … from` lines) that app sources import but that are not
    in the build's source maps (a barrel has no code of its own, so the bundler leaves it out), read from
    disk under `root`: path → text. Without them an import through a barrel would be an edge to nowhere."""
    out: dict[str, str] = {}
    if root is None:
        return out
    todo = [p for p in contents if not package_of(p)]
    seen: set[str] = set()
    while todo:
        importer = todo.pop()
        text = contents.get(importer) or out.get(importer) or ""
        for spec in imports_mod.specifiers(text):
            cands = imports_mod.local_candidates(importer, spec, aliases)
            if not cands or any(c in paths or c in out for c in cands):
                continue
            for c in cands:
                if c in seen:
                    continue
                seen.add(c)
                full = root / c
                try:
                    if not full.is_file() or full.stat().st_size > MAX_BARREL_BYTES:
                        continue
                    body = full.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if all(_BARREL_LINE.match(line) for line in body.splitlines()):
                    out[c] = body
                    todo.append(c)
                break
    return out


def graph_and_routes(contents: dict[str, str], modules: list[Module], extra: tuple[Import, ...] = (),
                     root: Path | None = None):
    """(imports, routes) from the sources' text; `extra` edges (from a bundler's own graph, e.g. the Vite
    manifest's dynamic imports) are added where the sources did not show an edge into the same module.
    Bare imports are resolved through the symlinks under `root` too (pnpm). Directory-named pages are
    added as routes too."""
    paths = {m.path for m in modules} | set(contents)
    links = package_links(root, {m.package_path for m in modules if m.package_path})
    from analyzers.frontend import project

    aliases = project.aliases(root)
    barrels = disk_barrels(contents, paths, root, aliases)
    if barrels:
        contents = {**contents, **barrels}
        paths = paths | set(barrels)
    imps = imports_mod.scan(contents, paths, links, aliases)
    seen_targets = {i.imported for i in imps}
    imps += [i for i in extra if i.imported not in seen_targets]
    routes = imports_mod.find_routes(contents, paths, links, aliases)
    known = {r.component for r in routes}
    dynamic_targets = {i.imported for i in imps if i.kind == "dynamic"}
    static_targets = {i.imported for i in imps if i.kind == "static"}
    from analyzers.frontend.model import Route
    for page in imports_mod.page_modules(paths):
        if page not in known:
            lazy = page in dynamic_targets and page not in static_targets
            routes.append(Route(component=page, lazy=lazy, path=None, how="directory"))
    chunk_of = {}
    for m in modules:
        chunk_of.setdefault(m.path, m.chunk)
    routes = [Route(r.component, r.lazy, r.path, r.how, chunk_of.get(r.component)) for r in routes]
    return imps, routes


def read_files(build_dir: Path, compress: bool = True, extra_notes: tuple[str, ...] = ()) -> Bundle:
    """A directory of built JS/CSS files (with source maps): one chunk per JS file; a file is initial when
    index.html references it (every JS file when there is no index.html, with a note). `extra_notes` (e.g.
    which manifest was found and why it was not used) open the bundle's notes."""
    notes: list[str] = list(extra_notes)
    files, pre = measure_files(build_dir, compress)
    html = build_dir / "index.html"
    referenced: set[str] | None = None
    if html.is_file():
        text = html.read_text(encoding="utf-8", errors="replace")
        referenced = {u.lstrip("/") for u in re.findall(r"""(?:src|href)\s*=\s*["']([^"'?#]+)""", text)}
    else:
        notes.append(f"{build_dir.name}/: no index.html, so every JS file is counted as initial")
    chunks = []
    chunk_of: dict[str, str] = {}
    for f in files:
        if f.kind not in ("js", "css"):
            continue
        initial = True if referenced is None else any(f.path == r or f.path.endswith("/" + r) or
                                                      r.endswith("/" + f.path) for r in referenced)
        key = strip_hash(f.path)
        chunks.append(Chunk(key=key, name=Path(key).stem, files=(f.path,), initial=initial,
                            entry=initial and f.kind == "js"))
        chunk_of[f.path] = key
    root = project_root(build_dir.parent) if (build_dir.parent / "package.json").is_file() else None
    modules, contents = attribute_chunks(build_dir, chunk_of, root, notes)
    packages = read_packages(root, {m.package_path for m in modules if m.package_path})
    modules = with_versions(modules, packages)
    imps, routes = graph_and_routes(contents, modules, root=root)
    return Bundle(source=str(build_dir), bundler={"name": "files", "version": None}, files=files,
                  chunks=tuple(chunks), modules=tuple(modules), imports=tuple(imps), routes=tuple(routes),
                  packages=packages, precompressed=pre, notes=tuple(notes))
