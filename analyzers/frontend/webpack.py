"""Read a webpack 4 or 5 stats.json (`webpack --json`, `stats.toJson()`, CRA's build/bundle-stats.json),
including a multi-compiler's `children[]`, streamed with ijson so that a large file is never loaded whole.

What is read: `version`, `outputPath`, `assets[]`, `chunks[]` (id, names, files, initial, entry,
parents/children), `modules[]` (name, size, chunks, reasons, optimizationBailout, nested `modules` of a
concatenated module) and `warnings[]`. webpack 4 lists entrypoint assets as strings and webpack 5 as
objects; v5 omits `chunks[].modules` by default, so modules are taken from the top-level `modules[]`.

When the built files are on disk (at `outputPath`, or beside the stats file), sizes are measured on them and
module bytes come from their source maps; otherwise module bytes are webpack's pre-minification `size`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from advisor.errors import InputFileError
from analyzers.frontend import dist
from analyzers.frontend.imports import node_of
from analyzers.frontend.model import (
    BuiltFile,
    Bundle,
    Chunk,
    Import,
    Module,
    file_kind,
    package_of,
    strip_hash,
)

# webpack's own warning limits: performance.maxAssetSize and maxEntrypointSize, default 250000 bytes
# (https://webpack.js.org/configuration/performance/).
WEBPACK_ASSET_WARNING_BYTES = 250_000

DYNAMIC_REASONS = ("import()", "import() eager", "import() weak", "import() context lazy")
STATIC_REASONS = ("harmony side effect evaluation", "harmony import specifier", "cjs require",
                  "cjs full require", "cjs export require", "harmony export imported specifier",
                  "harmony reexport", "amd require", "require.context", "context element", "cjs require call")
_LIMIT = re.compile(r"exceed the recommended size limit \(([\d.]+) (bytes|KiB|MiB)\)")
_UNITS = {"bytes": 1, "KiB": 1024, "MiB": 1024 * 1024}
_CONCAT = re.compile(r"^(.*?) \+ \d+ modules?$")
_BAILOUT_KEEP = ("CommonJS bailout", "Module is not an ECMAScript module")
# A context module: what webpack builds for `require("./locale/" + name)` or require.context — every file of a
# directory that matches a pattern. Its stats name is `<dir> <mode>[ recursive] <regexp>`, e.g.
# `./node_modules/moment/locale sync ^\.\/.*$` (https://webpack.js.org/guides/dependency-management/).
_CONTEXT = re.compile(r"^(\S+) (sync|lazy|eager|weak|lazy-once|async-weak)(?: recursive)? (.+)$")


def _items(path: Path, prefix: str, kv: bool = False) -> Iterator[Any]:
    """ijson items (or key/value pairs) at `prefix`; malformed JSON becomes InputFileError."""
    try:
        with _open(path) as fh:
            it = ijson.kvitems(fh, prefix, use_float=True) if kv else ijson.items(fh, prefix, use_float=True)
            yield from it
    except OSError as e:
        raise InputFileError(f"webpack stats {path}: cannot read it ({e.strerror or e})") from None
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError) as e:
        msg = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise InputFileError(f"webpack stats {path}: not valid JSON (truncated or corrupt?): {msg}") from None


def _first(path: Path, prefix: str) -> Any:
    for v in _items(path, prefix):
        return v
    return None


def _module_path(name: str) -> str:
    """`./src/App.js` → `src/App.js`; `./src/index.js + 3 modules` → `src/index.js`;
    `./node_modules/moment/locale sync ^\\.\\/.*$` → `node_modules/moment/locale`."""
    m = _CONCAT.match(name)
    if m:
        name = m.group(1)
    name = name.split("?")[0].split("!")[-1]
    if " " in name:  # context modules, `external "React"`, `multi ./a ./b`
        head = name.split(" ")[0]
        name = head if head.startswith((".", "/")) else name
    if name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def _list(v: Any) -> list:
    """`v` when it is a list, else [] (a malformed field is ignored, not trusted)."""
    return v if isinstance(v, list) else []


def _int(v: Any) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) < 1e15 else 0


def _cid(c: dict, index: int) -> Any:
    """A chunk's id (webpack: a number or a string), or a stand-in when it is missing or malformed."""
    cid = c.get("id")
    return cid if isinstance(cid, (int, str)) and not isinstance(cid, bool) else f"#{index}"


# How far into (and back from the end of) a stats file log lines are looked for: a CLI prints a few
# lines ("webpack 5.x compiled successfully", npm's "> app@1.0 build") around `--json` output.
_LOG_SCAN_BYTES = 65_536
_BOMS = (b"\xef\xbb\xbf",)


def json_span(path: Path) -> tuple[int, int]:
    """(start, end) byte offsets of the JSON object in a stats file that may carry a UTF-8 byte-order mark
    or log lines before it (the first line starting with `{`) and after it (after the last `}`).
    Raises InputFileError naming the file when it holds no line starting with `{`, or is unreadable."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(_LOG_SCAN_BYTES)
            fh.seek(max(0, size - _LOG_SCAN_BYTES))
            tail = fh.read()
    except OSError as e:
        raise InputFileError(f"webpack stats {path}: cannot read it ({e.strerror or e})") from None
    start = 0
    for bom in _BOMS:
        if head.startswith(bom):
            start = len(bom)
    stripped = head[start:].lstrip()
    if stripped.startswith((b"\xfe\xff", b"\xff\xfe")) or head.startswith((b"\xfe\xff", b"\xff\xfe")):
        raise InputFileError(f"webpack stats {path}: UTF-16 text; write it as UTF-8 "
                             "(e.g. `webpack --json=stats.json` instead of a PowerShell redirect)")
    if not stripped.startswith(b"{"):
        m = re.search(rb"(?:^|\n)[ \t]*\{", head[start:])
        if m is None:
            raise InputFileError(f"webpack stats {path}: not a JSON object (no line starts with '{{' in its "
                                 f"first {_LOG_SCAN_BYTES // 1024} KiB)")
        start += m.end() - 1
    else:
        start = len(head) - len(stripped)
    end = size
    last = tail.rfind(b"}")
    if last >= 0:
        end = size - len(tail) + last + 1
    return start, max(start, end)


class _Span:
    """A read-only binary file limited to bytes [start, end): what ijson reads."""

    def __init__(self, path: Path, span: tuple[int, int]) -> None:
        self._fh = path.open("rb")
        self._fh.seek(span[0])
        self._left = span[1] - span[0]

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data

    def __enter__(self) -> _Span:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


_SPANS: dict[tuple[str, int, int], tuple[int, int]] = {}


def _open(path: Path):
    """The JSON part of a stats file, opened for reading (spans cached per path, size and mtime): the file
    itself when nothing precedes the JSON (the common case, read at full speed), else a _Span."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SPANS:
        _SPANS[key] = json_span(path)
    start, end = _SPANS[key]
    if start == 0 and end >= st.st_size - 2:  # at most a trailing line break after the JSON
        return path.open("rb")
    return _Span(path, (start, end))


def _check_stats(path: Path) -> list[str]:
    """Raise InputFileError unless a JSON object can be found in the file; notes on what was skipped."""
    start, end = json_span(path)
    size = path.stat().st_size
    notes = []
    if start > 3 or end < size - 1:
        notes.append(f"webpack stats {path.name}: skipped {start:,} byte(s) before the JSON and "
                     f"{size - end:,} after it (log lines or a byte-order mark)")
    return notes


_HEADER_KEYS = ("version", "outputPath", "assets", "chunks", "warnings")


def _header(path: Path) -> dict[str, Any]:
    """The top-level keys webpack writes before `modules` (version, outputPath, assets, chunks, …), read in
    one event loop that stops at `modules`/`children`, so the big part of the file is not walked twice."""
    out: dict[str, Any] = {}
    key = None
    builder = None
    try:
        with _open(path) as fh:
            for prefix, event, value in ijson.parse(fh, use_float=True):
                if prefix == "":
                    if builder is not None:
                        out[key] = builder.value
                        builder = None
                    if event == "map_key":
                        key = value
                        if value in ("modules", "children"):
                            break
                        continue
                    if event == "end_map":
                        break
                    continue
                if key in _HEADER_KEYS:
                    if builder is None:
                        builder = ijson.ObjectBuilder()
                    builder.event(event, value)
    except OSError as e:
        raise InputFileError(f"webpack stats {path}: cannot read it ({e.strerror or e})") from None
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError) as e:
        msg = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise InputFileError(f"webpack stats {path}: not valid JSON (truncated or corrupt?): {msg}") from None
    return out


def read_stats(path: Path, compress: bool = True) -> Bundle:
    """The normalized Bundle of a webpack stats.json (for a multi-compiler, the first child that has chunks).

    Raises InputFileError naming the file when it is not JSON, truncated, or has no chunks/assets.
    """
    skipped = _check_stats(path)
    head = _header(path)
    chunks_raw = [c for c in head.get("chunks") or [] if isinstance(c, dict)] \
        if isinstance(head.get("chunks"), list) else []
    if not chunks_raw and "chunks" not in head:  # `modules` came first: a pass of its own
        chunks_raw = [c for c in _items(path, "chunks.item") if isinstance(c, dict)]
    prefix = ""
    notes: list[str] = list(skipped)
    if not chunks_raw:
        children = 0
        for i, child in enumerate(_items(path, "children.item")):
            children += 1
            if isinstance(child, dict) and isinstance(child.get("chunks"), list) and child["chunks"]:
                if prefix == "":
                    prefix = f"children.{i}"
                    chunks_raw = [c for c in child["chunks"] if isinstance(c, dict)]
            del child
        if not chunks_raw:
            raise InputFileError(f"webpack stats {path}: no chunks found; generate it with "
                                 "`webpack --json=stats.json` (chunks and modules must not be disabled)")
        if children > 1:
            notes.append(f"multi-compiler stats: analysed the first of {children} compilations with chunks")
    if prefix:
        child = next(c for i, c in enumerate(_items(path, "children.item")) if f"children.{i}" == prefix)
        return _from_parts(path, child.get("version"), child.get("outputPath"), _list(child.get("assets")),
                           chunks_raw, iter(_list(child.get("modules"))), _list(child.get("warnings")), notes,
                           compress)
    assets = head["assets"] if isinstance(head.get("assets"), list) else list(_items(path, "assets.item"))
    warnings = head.get("warnings")
    if not isinstance(warnings, list):
        # only needed for the configured size limit, which webpack reports when an asset is over it
        over = any(isinstance(a, dict) and a.get("isOverSizeLimit") for a in assets)
        warnings = list(_items(path, "warnings.item")) if over else []
    version = head.get("version") if "version" in head else _first(path, "version")
    output_path = head.get("outputPath") if "outputPath" in head else _first(path, "outputPath")
    modules = _items(path, "modules.item")
    return _from_parts(path, version, output_path, assets, chunks_raw, modules, warnings, notes, compress)


def _build_dir(path: Path, output_path: Any, asset_names: list[str]) -> Path | None:
    candidates = []
    if isinstance(output_path, str) and output_path:
        candidates.append(Path(output_path))
    candidates += [path.parent, path.parent / "dist", path.parent / "build"]
    for c in candidates:
        if asset_names and c.is_dir() and all((c / a).is_file() for a in asset_names[:20]):
            return c
    return None


def _from_parts(path: Path, version: Any, output_path: Any, assets: list[Any], chunks_raw: list[dict],
                modules_iter: Iterator[Any], warnings: list[Any], notes: list[str], compress: bool) -> Bundle:
    asset_sizes: dict[str, int] = {}
    for a in assets:
        if isinstance(a, dict) and isinstance(a.get("name"), str):
            asset_sizes[a["name"]] = _int(a.get("size"))
    chunk_key: dict[Any, str] = {}
    chunks: list[Chunk] = []
    seen_keys: set[str] = set()
    for idx, c in enumerate(chunks_raw):
        files = [f for f in _list(c.get("files")) if isinstance(f, str)]
        names = [n for n in _list(c.get("names")) if isinstance(n, str)]
        js = [f for f in files if file_kind(f) == "js"] + [f for f in files if file_kind(f) == "css"]
        key = names[0] if names else (strip_hash(js[0]) if js else f"chunk-{c.get('id')}")
        if key in seen_keys:
            key = f"{key}#{c.get('id')}"
        seen_keys.add(key)
        chunk_key[_cid(c, idx)] = key
        chunks.append(Chunk(key=key, name=names[0] if names else key, files=tuple(js),
                            initial=bool(c.get("initial")), entry=bool(c.get("entry")), src=None))
    by_id = {_cid(c, i): c for i, c in enumerate(chunks_raw)}
    chunks = [Chunk(ch.key, ch.name, ch.files, ch.initial, ch.entry, not ch.initial, ch.src, (),
                    tuple(chunk_key[x] for x in _list(by_id[cid].get("children"))
                          if isinstance(x, (int, str)) and x in chunk_key))
              for ch, cid in zip(chunks, [_cid(c, i) for i, c in enumerate(chunks_raw)], strict=True)]
    all_files = sorted({f for c in chunks for f in c.files} | set(asset_sizes))
    build_dir = _build_dir(path, output_path, [f for c in chunks for f in c.files])
    root = dist.project_root(build_dir.parent if build_dir else path.parent)
    if build_dir is not None:
        files, pre = dist.measure_files(build_dir, compress)
    else:
        files = tuple(BuiltFile(f, file_kind(f), asset_sizes.get(f, 0)) for f in all_files
                      if file_kind(f) != "map" and not f.endswith(".LICENSE.txt"))
        pre = {}
        notes.append(f"webpack stats {path.name}: the built files are not beside it or at outputPath, so sizes are "
                     "webpack's asset sizes and gzip/brotli sizes are estimated")

    stats_modules: list[Module] = []
    stat_edges: dict[tuple[str, str, str], str] = {}
    concat_roots: set[str] = set()
    bailouts: list[dict[str, Any]] = []
    contexts: dict[str, dict[str, Any]] = {}
    elements: dict[str, set[str]] = defaultdict(set)
    count = 0
    for m in modules_iter:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            continue
        count += 1
        name = m["name"]
        mpath = _module_path(name)
        nested = [x for x in _list(m.get("modules")) if isinstance(x, dict) and isinstance(x.get("name"), str)]
        if nested and _CONCAT.match(name):
            concat_roots.add(node_of(mpath))
        parts = nested if (nested and _CONCAT.match(name)) else [m]
        for c in _list(m.get("chunks")):
            if not isinstance(c, (int, str)) or c not in chunk_key:
                continue
            for part in parts:
                p = _module_path(part["name"])
                pkg = package_of(p)
                stats_modules.append(Module(p, chunk_key[c], _int(part.get("size")), "stats",
                                            pkg[0] if pkg else None, pkg[1] if pkg else None,
                                            pkg[2] if pkg else None))
        for part in parts:
            reasons = [r for r in _list(part.get("optimizationBailout")) if isinstance(r, str)
                       and any(k in r for k in _BAILOUT_KEEP)]
            if reasons:
                p = _module_path(part["name"])
                pkg = package_of(p)
                bailouts.append({"module": p, "package_path": pkg[1] if pkg else None,
                                 "reasons": reasons[:2]})
        target = node_of(mpath)
        cm = _CONTEXT.match(name)
        if cm:
            contexts[name] = {"directory": mpath, "mode": cm.group(2), "pattern": cm.group(3),
                              "issuers": sorted({_module_path(r["moduleName"]) for r in _list(m.get("reasons"))
                                                 if isinstance(r, dict) and isinstance(r.get("moduleName"), str)}),
                              "chunks": sorted({chunk_key[c] for c in _list(m.get("chunks"))
                                                if isinstance(c, (int, str)) and c in chunk_key})}
        for r in _list(m.get("reasons")):
            if not isinstance(r, dict) or not isinstance(r.get("moduleName"), str):
                continue
            rtype = r.get("type") or ""
            if rtype == "context element":
                elements[r["moduleName"]].add(mpath)
            kind = "dynamic" if rtype in DYNAMIC_REASONS else "static" if rtype in STATIC_REASONS else None
            if kind is None:
                continue
            importer = node_of(_module_path(r["moduleName"]))
            if importer != target:
                stat_edges.setdefault((importer, target, kind), str(r.get("userRequest") or ""))
    if count == 0:
        notes.append(f"webpack stats {path.name}: no modules listed (stats `modules: false`?); only chunk sizes "
                     "are known")

    modules = stats_modules
    contents: dict[str, str] = {}
    if build_dir is not None:
        chunk_of = {f: c.key for c in chunks for f in c.files if file_kind(f) == "js"}
        mapped, contents = dist.attribute_chunks(build_dir, chunk_of, root, notes)
        if stats_modules:  # the modules are known from stats.json; say what their sizes mean instead
            notes = [n.replace("so their modules are unknown", "so their module sizes are webpack's, before "
                               "minification (shipped sizes are estimated from them)")
                     if "have no usable source map" in n else n for n in notes]
        if mapped:
            mapped_chunks = {m.chunk for m in mapped}
            modules = mapped + [m for m in stats_modules if m.chunk not in mapped_chunks]
    packages = dist.read_packages(root, {m.package_path for m in modules if m.package_path})
    modules = dist.with_versions(modules, packages)
    imps, routes = dist.graph_and_routes(contents, modules, root=root)
    scanned_importers = {i.importer for i in imps}
    for (a, b, k), spec in sorted(stat_edges.items()):
        # an edge out of a concatenated module cannot tell which inner module imports; the sources can
        if a in concat_roots and contents:
            continue
        if a in scanned_importers and k == "static":
            continue
        imps.append(Import(a, b, k, spec))
    imps = sorted(set(imps), key=lambda i: (i.importer, i.imported, i.kind))
    limit = WEBPACK_ASSET_WARNING_BYTES
    for w in warnings:
        text = w.get("message", "") if isinstance(w, dict) else w
        if not isinstance(text, str):
            continue
        lm = _LIMIT.search(text)
        if lm:
            limit = int(float(lm.group(1)) * _UNITS[lm.group(2)])
            if abs(limit - WEBPACK_ASSET_WARNING_BYTES) < 1024:  # "244 KiB" is how webpack prints 250000
                limit = WEBPACK_ASSET_WARNING_BYTES
            break
    ctx = tuple({**c, "elements": sorted(elements.get(n, ()))} for n, c in sorted(contexts.items()))
    return Bundle(source=str(path), bundler={"name": "webpack", "version": version if isinstance(version, str)
                                             else None}, contexts=ctx,
                  files=files, chunks=tuple(chunks), modules=tuple(modules), imports=tuple(imps),
                  routes=tuple(routes), bailouts=tuple(bailouts), packages=packages,
                  limits={"chunk_warning_bytes": limit}, precompressed=pre, notes=tuple(notes))
