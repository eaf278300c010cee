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
