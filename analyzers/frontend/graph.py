"""Walks of the import graph (analyzers.frontend.imports) joined with where the bytes are (model.Module).

Nodes are app module paths and package install paths; see imports.node_of.
"""

from __future__ import annotations

from collections import defaultdict, deque

from analyzers.frontend.imports import node_of
from analyzers.frontend.model import Bundle


def node_bytes(bundle: Bundle, initial_only: bool = False) -> dict[str, int]:
    """Minified bytes per graph node (summed over chunks; only initial chunks when `initial_only`)."""
    initial = {c.key for c in bundle.chunks if c.initial}
    out: dict[str, int] = defaultdict(int)
    for m in bundle.modules:
        if m.path.startswith("[") or (initial_only and m.chunk not in initial):
            continue
        out[node_of(m.path)] += m.bytes
    return dict(out)


def static_edges(bundle: Bundle) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for i in bundle.imports:
        if i.kind == "static":
            out[i.importer].append(i.imported)
    return out


def roots(bundle: Bundle) -> list[str]:
    """Entry modules: app nodes in initial chunks that nothing imports statically (or dynamically)."""
    initial_nodes = set(node_bytes(bundle, initial_only=True))
    imported = {i.imported for i in bundle.imports}
    out = sorted(n for n in initial_nodes if n not in imported and not n.startswith(("node_modules", "(")))
    return out or sorted(n for n in initial_nodes if n not in imported)


def reach(starts: list[str], edges: dict[str, list[str]], exclude: set[str] = frozenset()) -> set[str]:
    """Nodes reachable from `starts` along `edges` without entering `exclude`."""
    seen: set[str] = set()
    todo = deque(s for s in starts if s not in exclude)
    while todo:
        n = todo.popleft()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(x for x in edges.get(n, ()) if x not in seen and x not in exclude)
    return seen


def chain(starts: list[str], target: str, edges: dict[str, list[str]]) -> list[str] | None:
    """The shortest static import chain from one of `starts` to `target`, or None."""
    prev: dict[str, str | None] = {s: None for s in starts}
    todo = deque(starts)
    while todo:
        n = todo.popleft()
        if n == target:
            path = [n]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])
            return path[::-1]
        for x in edges.get(n, ()):
            if x not in prev:
                prev[x] = n
                todo.append(x)
    return None


def gzip_ratio(bundle: Bundle, initial_only: bool = True) -> float | None:
    """Measured gzip/raw ratio of the (initial) JS files, used to estimate a part's gzip bytes."""
    raw = gz = 0
    keys = {c.key for c in bundle.chunks if c.initial or not initial_only}
    seen: set[str] = set()
    for c in bundle.chunks:
        if c.key not in keys:
            continue
        for p in c.files:
            f = bundle.file(p)
            if f is None or f.kind != "js" or p in seen or not f.gzip_bytes:
                continue
            seen.add(p)
            raw += f.raw_bytes
            gz += f.gzip_bytes
    return gz / raw if raw else None


def is_package(node: str) -> bool:
    """True for a package node (an install path under node_modules), False for an app module."""
    return node.startswith("node_modules/") or "/node_modules/" in node


def direct_dependencies(bundle: Bundle, node: str) -> tuple[bool, list[str]]:
    """How package `node` gets into the bundle: (imported by app code itself?, the packages the app imports
    directly through which `node` is reached, e.g. ["node_modules/chart.js"] for moment under chart.js 2).
    Both empty/False when the graph has no edge into `node` (nothing is known about who imports it)."""
    rev: dict[str, set[str]] = defaultdict(set)
    for i in bundle.imports:
        rev[i.imported].add(i.importer)
    if not rev.get(node):
        return False, []
    app_direct = any(not is_package(x) for x in rev[node])
    via: set[str] = set()
    seen = {node}
    todo = deque([node])
    while todo:
        n = todo.popleft()
        for imp in rev.get(n, ()):
            if is_package(imp) and imp not in seen:
                seen.add(imp)
                todo.append(imp)
                if any(not is_package(x) for x in rev.get(imp, ())):
                    via.add(imp)
    return app_direct, sorted(via)


def minified_factor(bundle: Bundle) -> dict[str, float]:
    """Per chunk whose module sizes are webpack's pre-minification sizes (Module.measure == "stats"): the
    chunk's minified JS bytes / the sum of its modules' pre-minification bytes, to estimate a module's share
    of the shipped file. Chunks attributed through source maps are not listed (their bytes are minified)."""
    pre: dict[str, int] = defaultdict(int)
    for m in bundle.modules:
        if m.measure == "stats" and not m.path.startswith("["):
            pre[m.chunk] += m.bytes
    out = {}
    for key, total in pre.items():
        c = bundle.chunk(key)
        shipped = bundle.chunk_size(c, "js", "raw_bytes") if c else 0
        if total and shipped:
            out[key] = min(1.0, shipped / total)
    return out


def shipped_bytes(bundle: Bundle, modules, factor: dict[str, float] | None = None) -> tuple[int, bool]:
    """(minified bytes of `modules`, exact?): summed as measured when attributed through source maps, scaled
    by minified_factor for webpack-stats sizes (then exact is False: an estimate)."""
    factor = minified_factor(bundle) if factor is None else factor
    total = 0.0
    exact = True
    for m in modules:
        if m.measure == "stats":
            exact = False
            total += m.bytes * factor.get(m.chunk, 1.0)
        else:
            total += m.bytes
    return int(total), exact
