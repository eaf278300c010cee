"""Read a Vite build: dist/ with the manifest (dist/.vite/manifest.json from Vite 5, dist/manifest.json
before), the built files and their source maps.

Manifest shape (Vite's `ManifestChunk`): key → {"file", "name"?, "src"?, "isEntry"?, "isDynamicEntry"?,
"imports"?: [keys], "dynamicImports"?: [keys], "css"?: [files], "assets"?: [files]}. A chunk is *initial*
when it is an entry or an entry's static import, transitively (Vite preloads those with
`<link rel="modulepreload">`); the rest load on demand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from advisor.errors import InputFileError
from analyzers.frontend import dist
from analyzers.frontend.model import Bundle, Chunk, Import, strip_hash

# Vite's own warning limit: build.chunkSizeWarningLimit, default 500 (kB of minified, uncompressed JS)
# (https://vite.dev/config/build-options#build-chunksizewarninglimit).
VITE_CHUNK_WARNING_BYTES = 500_000


def manifest_kind(data: Any) -> str:
    """What a parsed `manifest.json`-like file is, by its shape: "vite" (an object of chunks, each an object
    with "file"), "web-app" (a PWA web app manifest: name, short_name, icons, start_url…), "asset-manifest"
    (Create React App's {"files": {...}, "entrypoints": [...]}) or "unknown"."""
    if not isinstance(data, dict) or not data:
        return "unknown"
    if all(isinstance(v, dict) and isinstance(v.get("file"), str) for v in data.values()):
        return "vite"
    if isinstance(data.get("files"), dict) and ("entrypoints" in data or "main.js" in data["files"]):
        return "asset-manifest"
    if {"name", "short_name", "icons", "start_url", "display", "theme_color"} & set(data):
        return "web-app"
    return "unknown"


def _kind_of_file(path: Path) -> str:
    try:
        return manifest_kind(json.loads(path.read_bytes()))
    except (OSError, ValueError):
        return "unknown"  # a broken file: read_vite reports it if nothing else is found


KIND_NAMES = {"web-app": "a web app manifest (PWA)", "asset-manifest": "Create React App's asset manifest",
              "unknown": "not a Vite manifest"}


def find_manifest(build_dir: Path) -> Path | None:
    """dist/.vite/manifest.json (Vite 5+) or dist/manifest.json (Vite 2–4), if present and shaped like a
    Vite manifest (a PWA's manifest.json is not; see manifest_kind). A .vite/manifest.json is taken
    whatever it holds, so that a malformed one is reported."""
    cand = build_dir / ".vite" / "manifest.json"
    if cand.is_file():
        return cand
    cand = build_dir / "manifest.json"
    if cand.is_file() and _kind_of_file(cand) in ("vite", "unknown"):
        return cand
    return None


def other_manifests(build_dir: Path) -> list[str]:
    """One line per manifest-like file in `build_dir` that is not a Vite manifest, saying what it is."""
    out = []
    for name in ("manifest.json", "asset-manifest.json", "manifest.webmanifest"):
        f = build_dir / name
        if f.is_file():
            kind = _kind_of_file(f)
            if kind != "vite":
                out.append(f"{name} is {KIND_NAMES.get(kind, kind)}, not a Vite manifest: the build was read "
                           "from its files, source maps and index.html")
    return out


def parse_manifest(data: Any, name: str) -> dict[str, dict[str, Any]]:
    """Validate a parsed manifest; returns it. Raises InputFileError naming `name` and the bad entry."""
    if not isinstance(data, dict):
        raise InputFileError(f"Vite manifest {name}: not a JSON object of chunks")
    if not data:
        raise InputFileError(f"Vite manifest {name}: empty (no chunks)")
    for key, entry in data.items():
        if not isinstance(entry, dict):
            raise InputFileError(f"Vite manifest {name}: entry {key!r} is not an object")
        if not isinstance(entry.get("file"), str) or not entry["file"]:
            raise InputFileError(f"Vite manifest {name}: entry {key!r} has no \"file\"")
        for list_key in ("imports", "dynamicImports", "css", "assets"):
            v = entry.get(list_key, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise InputFileError(f"Vite manifest {name}: entry {key!r} has a malformed \"{list_key}\"")
        for ref in entry.get("imports", []) + entry.get("dynamicImports", []):
            if ref not in data:
                raise InputFileError(f"Vite manifest {name}: entry {key!r} imports {ref!r}, which is not in "
                                     "the manifest (truncated or edited?)")
    return data


def load_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """Read and validate a manifest file. Raises InputFileError naming it (unreadable, not JSON, malformed)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputFileError(f"Vite manifest {path}: cannot read it ({e.strerror or e})") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(f"Vite manifest {path}: not valid JSON ({e})") from None
    return parse_manifest(data, str(path))


def chunks_from_manifest(manifest: dict[str, dict[str, Any]]) -> list[Chunk]:
    """The chunks a manifest describes, with initial/async decided from entries and static imports."""
    def key_of(k: str) -> str:
        # shared chunks are keyed `_name-HASH.js`: strip the hash so the key survives a rebuild
        return strip_hash(k) if k.startswith("_") else k

    initial: set[str] = set()
    stack = [k for k, e in manifest.items() if e.get("isEntry")]
    while stack:
        k = stack.pop()
        if k in initial:
            continue
        initial.add(k)
        stack.extend(manifest[k].get("imports", []))
    chunks = []
    for k, e in manifest.items():
        if not e["file"].endswith((".js", ".mjs", ".cjs")) and not e.get("isEntry") and not e.get("css"):
            continue  # an asset entry (image, font): counted as a file, not a chunk
        files = (e["file"], *e.get("css", []))
        name = e.get("name") or Path(strip_hash(e["file"])).stem
        chunks.append(Chunk(key=key_of(k), name=name, files=files, initial=k in initial,
                            entry=bool(e.get("isEntry")), dynamic_entry=bool(e.get("isDynamicEntry")),
                            src=e.get("src"), imports=tuple(key_of(x) for x in e.get("imports", [])),
                            dynamic_imports=tuple(key_of(x) for x in e.get("dynamicImports", []))))
    return chunks


def manifest_edges(manifest: dict[str, dict[str, Any]], module_paths: set[str]) -> tuple[Import, ...]:
    """Dynamic-import edges the manifest shows between chunks' source modules (`src`): used when the source
    maps do not embed the sources and the files are not on disk. The importer is the importing chunk's
    `src` (`index.html` for the HTML entry); only targets that are modules of the bundle are kept."""
    out = []
    for e in manifest.values():
        importer = e.get("src")
        for ref in e.get("dynamicImports", []):
            target = manifest[ref].get("src")
            if isinstance(importer, str) and isinstance(target, str) and target in module_paths:
                out.append(Import(importer, target, "dynamic", "(Vite manifest)"))
    return tuple(sorted(set(out), key=lambda i: (i.importer, i.imported)))


def read_vite(build_dir: Path, compress: bool = True) -> Bundle:
    """The normalized Bundle of a Vite dist/. Raises InputFileError for a missing/malformed manifest or
    source map, naming the file."""
    mpath = find_manifest(build_dir)
    if mpath is None:
        raise InputFileError(f"Vite build {build_dir}: no .vite/manifest.json or manifest.json; "
                             "build with `build.manifest: true`")
    manifest = load_manifest(mpath)
    notes: list[str] = []
    files, pre = dist.measure_files(build_dir, compress)
    on_disk = {f.path for f in files}
    missing = sorted({e["file"] for e in manifest.values()} - on_disk)
    if missing:
        raise InputFileError(f"Vite build {build_dir}: the manifest names {missing[0]}, which is not in the "
                             "build directory (a stale manifest or a partial copy?)")
    chunks = chunks_from_manifest(manifest)
    chunk_of = {c.files[0]: c.key for c in chunks}
    root = dist.project_root(build_dir.parent)
    modules, contents = dist.attribute_chunks(build_dir, chunk_of, root, notes)
    packages = dist.read_packages(root, {m.package_path for m in modules if m.package_path})
    modules = dist.with_versions(modules, packages)
    imps, routes = dist.graph_and_routes(contents, modules, manifest_edges(manifest, {m.path for m in modules}),
                                         root)
    version = dist.bundler_version(root, "vite")
    if version is None:
        notes.append("Vite's version is unknown (no node_modules/vite/package.json above the build); "
                     "advice assumes Vite 8")
    return Bundle(source=str(build_dir), bundler={"name": "vite", "version": version}, files=files,
                  chunks=tuple(chunks), modules=tuple(modules), imports=tuple(imps), routes=tuple(routes),
                  packages=packages, limits={"chunk_warning_bytes": VITE_CHUNK_WARNING_BYTES},
                  precompressed=pre, notes=tuple(notes))
