"""The normalized front-end model every bundler's reader produces and every rule reads.

A `Bundle` is what `collect` stores in the snapshot (`Bundle.to_dict()`), so the rules are pure functions of
it. All sizes are bytes of the real built files:

- ``raw_bytes``: the file as written by the bundler (minified);
- ``gzip_bytes``: zlib/gzip at level 6 (``GZIP_LEVEL``), the default of zlib, gzip(1) and of most servers'
  on-the-fly compression modules;
- ``brotli_bytes``: brotli at quality 11 (``BROTLI_QUALITY``), what precompressed ``.br`` files are built with
  (files over BROTLI_Q11_MAX_BYTES, and every file once a build has had BROTLI_Q11_BUILD_BYTES measured at
  quality 11, at quality 6, ngx_brotli's on-the-fly default, ~5% larger than quality 9 and ~3× faster; see
  brotli_quality(); each file records the quality in ``brotli_quality``).

Module bytes are *minified* bytes attributed through source maps (``measure == "sourcemap"``) or, without a
map, the bundler's own pre-minification module size (``measure == "stats"``), which over-counts.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# zlib's default level (zlib manual, "Z_DEFAULT_COMPRESSION … currently equivalent to level 6").
GZIP_LEVEL = 6
# brotli's maximum, used by build-time precompression (e.g. vite-plugin-compression, brotli(1) default).
BROTLI_QUALITY = 11
# Quality 11 runs at ~0.3 MB/s here (2 s for a 558 KB chunk); files above this size, and all files once a
# build has had BROTLI_Q11_BUILD_BYTES measured at quality 11, are measured at BROTLI_LARGE_QUALITY instead,
# and each file records the quality used.
BROTLI_Q11_MAX_BYTES = 256 * 1024
# ngx_brotli's default brotli_comp_level (https://github.com/google/ngx_brotli#brotli_comp_level): what an
# nginx compressing on the fly sends. ~10 MB/s here; quality 9 ran at ~2.8 MB/s and was ~5% smaller on the
# benchmark build (benchmarks/frontend_whole.py), too slow for issue 16's "whole analysis under 5 s".
BROTLI_LARGE_QUALITY = 6
# Bytes of one build compressed at quality 11 before the rest go at BROTLI_LARGE_QUALITY (perfadvisor's
# convention: ~0.2 s of quality 11; a build of twenty 160 KB chunks took 6.5 s at quality 11).
BROTLI_Q11_BUILD_BYTES = 64 * 1024

JS_EXT = (".js", ".mjs", ".cjs")
CSS_EXT = (".css",)
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".avif", ".svg")
TEXT_EXT = JS_EXT + CSS_EXT + (".html", ".htm", ".json", ".svg", ".txt", ".xml", ".map", ".webmanifest")

# A content hash in a built file name: `index-BoAqxRJJ.js`, `main.f8432cab.js`, `admin.13fe6fc7.chunk.js`.
# Vite writes 8 base64url characters, webpack `[contenthash]` 20 hex (or `:N` of them); a word such as
# `modules` is not a hash, so a candidate must mix in a digit or both letter cases.
_SEGMENT = re.compile(r"([-.~])([A-Za-z0-9_-]{6,32})(?=\.)")


_PNPM = re.compile(r"^(@?[^@]+)@(\d[^_/]*)")
# Yarn PnP: `.yarn/cache/lodash-npm-4.17.21-6382451519-eb835a2e51.zip` and
# `.yarn/unplugged/esbuild-npm-0.17.19-9e6aa59b5a` (name with "/" as "-", "-npm-", version, checksums).
_YARN = re.compile(r"^(.+?)-npm-(\d.*?)-[0-9a-f]{10}(?:-[0-9a-f]{10})?(?:\.zip)?$")


def _looks_like_hash(s: str) -> bool:
    has_digit = any(c.isdigit() for c in s)
    mixed = any(c.isupper() for c in s) and any(c.islower() for c in s)
    return has_digit or mixed


def file_kind(path: str) -> str:
    """'js' | 'css' | 'html' | 'image' | 'map' | 'other', from the file extension."""
    p = path.lower()
    if p.endswith(".map"):
        return "map"
    if p.endswith(JS_EXT):
        return "js"
    if p.endswith(CSS_EXT):
        return "css"
    if p.endswith((".html", ".htm")):
        return "html"
    if p.endswith(IMAGE_EXT):
        return "image"
    return "other"


def strip_hash(name: str) -> str:
    """`assets/index-BoAqxRJJ.js` → `assets/index.js`: the key that matches a file across two builds."""
    head, sep, base = name.rpartition("/")
    base = _SEGMENT.sub(lambda m: "" if _looks_like_hash(m.group(2)) else m.group(0), base)
    return head + sep + base


def has_hash(name: str) -> bool:
    """True when the file name carries a content hash (and so can be cached forever)."""
    return strip_hash(name) != name


def shown_path(source: str) -> str:
    """A build path as a report shows it: relative to the working directory when it lies inside, else its
    last two parts (`app/dist`, `config/stats.json`): never an absolute path of the build machine."""
    from pathlib import Path

    p = Path(source)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return "/".join(p.parts[-2:]) if len(p.parts) > 2 else p.name


def gzip_size(data: bytes) -> int:
    """Bytes of `data` gzip-compressed at GZIP_LEVEL (mtime fixed so the result is reproducible)."""
    return len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


def brotli_quality(size: int, q11_done_bytes: int = 0) -> int:
    """The brotli quality perfadvisor measures a file of `size` bytes at, when `q11_done_bytes` of the same
    build were already measured at quality 11 (see BROTLI_Q11_MAX_BYTES, BROTLI_Q11_BUILD_BYTES)."""
    if size <= BROTLI_Q11_MAX_BYTES and q11_done_bytes + size <= BROTLI_Q11_BUILD_BYTES:
        return BROTLI_QUALITY
    return BROTLI_LARGE_QUALITY


def brotli_size(data: bytes, quality: int | None = None) -> int | None:
    """Bytes of `data` brotli-compressed at `quality` (default brotli_quality(len(data))), or None without
    the brotli package."""
    try:
        import brotli
    except ImportError:  # pragma: no cover - brotli is a declared dependency
        return None
    return len(brotli.compress(data, quality=quality or brotli_quality(len(data))))


@lru_cache(maxsize=1 << 16)
def package_of(path: str) -> tuple[str, str, str | None] | None:
    """(name, install_path, version_from_path) of the npm package a module path lies in, else None.

    `node_modules/is-odd/node_modules/is-number/index.js` → ("is-number",
    "node_modules/is-odd/node_modules/is-number", None); a pnpm path
    `node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/lodash.js` also gives the version "4.17.21".
    """
    if "node_modules" not in path:
        return None
    parts = _devirtualize([p for p in path.split("/") if p not in ("", ".")])
    i = len(parts) - 1 - parts[::-1].index("node_modules") if "node_modules" in parts else -1
    if i < 0 or i + 1 >= len(parts):
        return None
    if parts[i + 1].startswith("@") and i + 2 < len(parts):
        name = f"{parts[i + 1]}/{parts[i + 2]}"
        end = i + 3
    else:
        name = parts[i + 1]
        end = i + 2
    if name.startswith("."):
        return None
    version = None
    for p in parts[:i]:
        m = _PNPM.match(p)
        if m and m.group(1).replace("+", "/") == name:
            version = m.group(2)
    if i > 0 and version is None:
        m = _YARN.match(parts[i - 1])
        if m and m.group(1) == name.replace("/", "-"):
            version = m.group(2)
    return name, "/".join(parts[:end]), version


def _devirtualize(parts: list[str]) -> list[str]:
    """Yarn PnP's virtual paths `…/__virtual__/<id>/<depth>/<rest>` as the real path they stand for:
    <rest> taken from `depth` directories above the __virtual__ folder's parent (Yarn's VirtualFS), so
    one package reached through two virtual instances is one install path."""
    if "__virtual__" not in parts:
        return parts
    i = parts.index("__virtual__")
    if i + 2 >= len(parts) or not parts[i + 2].isdigit():
        return parts
    depth = int(parts[i + 2])
    base = parts[:i]
    base = base[:len(base) - depth] if depth <= len(base) else []
    return base + parts[i + 3:]


@dataclass(frozen=True)
class BuiltFile:
    """One file of the build, path relative to the build directory, with its measured sizes in bytes."""

    path: str
    kind: str
    raw_bytes: int
    gzip_bytes: int | None = None
    brotli_bytes: int | None = None
    # images only: the same picture re-encoded (images.py), bytes; None when not measured
    webp_bytes: int | None = None
    avif_bytes: int | None = None
    # JS/CSS only: an inline source map (`sourceMappingURL=data:…` comment) shipped in the file: its bytes
    # raw and gzip (the gzip size of the whole file minus that of the file without it). The sizes above are
    # of the file WITHOUT it, so that every size reported is the code's (sourcemaps.split_inline_map).
    inline_map_bytes: int = 0
    inline_map_gzip_bytes: int | None = None
    # images only: how webp/avif bytes were obtained, "encoded" | "sampled" | "model" (images.measure)
    modern_measure: str | None = None
    # text files: the brotli quality brotli_bytes was measured at (brotli_quality); None when not measured
    brotli_quality: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"path": self.path, "kind": self.kind, "raw_bytes": self.raw_bytes,
             "gzip_bytes": self.gzip_bytes, "brotli_bytes": self.brotli_bytes}
        if self.brotli_quality is not None:
            d["brotli_quality"] = self.brotli_quality
        if self.kind == "image":
            d.update(webp_bytes=self.webp_bytes, avif_bytes=self.avif_bytes, modern_measure=self.modern_measure)
        if self.inline_map_bytes:
            d.update(inline_map_bytes=self.inline_map_bytes, inline_map_gzip_bytes=self.inline_map_gzip_bytes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BuiltFile:
        return cls(d["path"], d["kind"], d["raw_bytes"], d.get("gzip_bytes"), d.get("brotli_bytes"),
                   d.get("webp_bytes"), d.get("avif_bytes"), d.get("inline_map_bytes", 0),
                   d.get("inline_map_gzip_bytes"), d.get("modern_measure"), d.get("brotli_quality"))


@dataclass(frozen=True)
class Chunk:
    """A chunk: `initial` chunks load with the page (entry + its static imports), the others on demand.

    `key` is stable across builds (no content hash); `files` are build-relative paths (JS first, then CSS);
    `imports`/`dynamic_imports` are keys of other chunks; `src` is the source module that starts it
    (Vite manifest key, webpack entry/chunk name) when known.
    """

    key: str
    name: str
    files: tuple[str, ...]
    initial: bool
    entry: bool = False
    dynamic_entry: bool = False
    src: str | None = None
    imports: tuple[str, ...] = ()
    dynamic_imports: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "files": list(self.files), "initial": self.initial,
                "entry": self.entry, "dynamic_entry": self.dynamic_entry, "src": self.src,
                "imports": list(self.imports), "dynamic_imports": list(self.dynamic_imports)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(d["key"], d["name"], tuple(d["files"]), d["initial"], d.get("entry", False),
                   d.get("dynamic_entry", False), d.get("src"), tuple(d.get("imports", ())),
                   tuple(d.get("dynamic_imports", ())))


@dataclass(frozen=True)
class Module:
    """A source module inside a chunk: `path` is project-relative (`src/App.jsx`,
    `node_modules/lodash/lodash.js`); `bytes` its minified bytes in that chunk (see module docstring)."""

    path: str
    chunk: str
    bytes: int
    measure: str = "sourcemap"
    package: str | None = None
    package_path: str | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "chunk": self.chunk, "bytes": self.bytes, "measure": self.measure,
                "package": self.package, "package_path": self.package_path, "version": self.version}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Module:
        return cls(d["path"], d["chunk"], d["bytes"], d.get("measure", "sourcemap"), d.get("package"),
                   d.get("package_path"), d.get("version"))


@dataclass(frozen=True)
class Import:
    """An edge of the import graph: `importer` imports `imported` (module paths, or a package's install
    path such as `node_modules/moment` when only the package is known); `kind` is "static" or "dynamic"."""

    importer: str
    imported: str
    kind: str
    specifier: str = ""
    # a static import whose bindings are used only inside these event handlers (`handleExport`,
    # `onClick={…}`): the import could be an `await import()` there (imports.handler_only)
    handlers: tuple[str, ...] = ()
    # a static import of an app component every JSX use of which in the importer is a conditional render
    # (`open && <X/>`, `c ? <X/> : …`, `if (c) return <X/>`): the guard expressions, e.g. ("open",)
    # (imports.conditional_guards); `binding` is (exported name, local name), e.g. ("default", "X")
    conditional: tuple[str, ...] = ()
    binding: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {"importer": self.importer, "imported": self.imported, "kind": self.kind,
             "specifier": self.specifier}
        if self.handlers:
            d["handlers"] = list(self.handlers)
        if self.conditional:
            d["conditional"] = list(self.conditional)
            d["binding"] = list(self.binding)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Import:
        return cls(d["importer"], d["imported"], d["kind"], d.get("specifier", ""), tuple(d.get("handlers", ())),
                   tuple(d.get("conditional", ())), tuple(d.get("binding", ())))


@dataclass(frozen=True)
class Route:
    """A route or page: `component` is its module path; `path` the URL path when the router code shows it;
    `lazy` whether it is loaded through a dynamic import; `how` says how it was recognised; `chunk` the key
    of the chunk its module is in."""

    component: str
    lazy: bool
    path: str | None = None
    how: str = "router"
    chunk: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"component": self.component, "lazy": self.lazy, "path": self.path, "how": self.how,
                "chunk": self.chunk}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Route:
        return cls(d["component"], d["lazy"], d.get("path"), d.get("how", "router"), d.get("chunk"))


@dataclass(frozen=True)
class Bundle:
    """A whole build in the normalized model. `bundler` is {"name": "vite"|"webpack"|"files", "version":
    str|None}; `limits` the bundler's own size-warning limits in bytes; `bailouts` are webpack's
    optimizationBailout lines per module; `precompressed` lists the files that have a .gz/.br sibling
    ({"gz": [...], "br": [...]}); `packages` maps an install path to {"name", "version",
    "side_effects"} read from its package.json at collect time; `notes` one-line remarks for the user."""

    source: str
    bundler: dict[str, Any]
    files: tuple[BuiltFile, ...]
    chunks: tuple[Chunk, ...]
    modules: tuple[Module, ...] = ()
    imports: tuple[Import, ...] = ()
    routes: tuple[Route, ...] = ()
    bailouts: tuple[dict[str, Any], ...] = ()
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    precompressed: dict[str, list[str]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # webpack context modules: {"directory", "mode", "pattern", "issuers", "chunks", "elements"} (webpack.py)
    contexts: tuple[dict[str, Any], ...] = ()

    def file(self, path: str) -> BuiltFile | None:
        for f in self.files:
            if f.path == path:
                return f
        return None

    def chunk(self, key: str) -> Chunk | None:
        for c in self.chunks:
            if c.key == key:
                return c
        return None

    def chunk_size(self, chunk: Chunk, kind: str = "js", measure: str = "gzip_bytes") -> int:
        """Sum of `measure` ("raw_bytes" | "gzip_bytes" | "brotli_bytes") over the chunk's files of `kind`."""
        total = 0
        for path in chunk.files:
            f = self.file(path)
            if f is not None and f.kind == kind:
                total += getattr(f, measure) or 0
        return total

    def initial_bytes(self, kind: str = "js", measure: str = "gzip_bytes") -> int:
        """Bytes of `kind` files every first page load downloads (each file counted once)."""
        seen: set[str] = set()
        total = 0
        for c in self.chunks:
            if not c.initial:
                continue
            for path in c.files:
                f = self.file(path)
                if f is not None and f.kind == kind and path not in seen:
                    seen.add(path)
                    total += getattr(f, measure) or 0
        return total

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "bundler": dict(self.bundler), "files": [f.to_dict() for f in self.files],
                "chunks": [c.to_dict() for c in self.chunks], "modules": [m.to_dict() for m in self.modules],
                "imports": [i.to_dict() for i in self.imports], "routes": [r.to_dict() for r in self.routes],
                "bailouts": [dict(b) for b in self.bailouts],
                "packages": {k: dict(v) for k, v in self.packages.items()}, "limits": dict(self.limits),
                "precompressed": {k: list(v) for k, v in self.precompressed.items()}, "notes": list(self.notes),
                "contexts": [dict(c) for c in self.contexts]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Bundle:
        return cls(source=d["source"], bundler=d["bundler"],
                   files=tuple(BuiltFile.from_dict(x) for x in d["files"]),
                   chunks=tuple(Chunk.from_dict(x) for x in d["chunks"]),
                   modules=tuple(Module.from_dict(x) for x in d.get("modules", ())),
                   imports=tuple(Import.from_dict(x) for x in d.get("imports", ())),
                   routes=tuple(Route.from_dict(x) for x in d.get("routes", ())),
                   bailouts=tuple(d.get("bailouts", ())), packages=dict(d.get("packages", {})),
                   limits=dict(d.get("limits", {})), precompressed=dict(d.get("precompressed", {})),
                   notes=tuple(d.get("notes", ())), contexts=tuple(d.get("contexts", ())))


@dataclass(frozen=True)
class PackageUse:
    """One installed copy of a package as the bundle uses it: minified bytes per chunk."""

    name: str
    install_path: str
    version: str | None
    bytes_by_chunk: dict[str, int]

    @property
    def bytes(self) -> int:
        return sum(self.bytes_by_chunk.values())


def package_uses(bundle: Bundle) -> list[PackageUse]:
    """Modules grouped by installed package copy (install path), largest first."""
    acc: dict[str, dict[str, Any]] = {}
    for m in bundle.modules:
        if not m.package_path:
            continue
        entry = acc.setdefault(m.package_path, {"name": m.package, "version": m.version, "chunks": {}})
        entry["chunks"][m.chunk] = entry["chunks"].get(m.chunk, 0) + m.bytes
        if entry["version"] is None and m.version:
            entry["version"] = m.version
    uses = []
    for path, e in acc.items():
        version = e["version"] or bundle.packages.get(path, {}).get("version")
        uses.append(PackageUse(e["name"], path, version, e["chunks"]))
    return sorted(uses, key=lambda u: (-u.bytes, u.install_path))
