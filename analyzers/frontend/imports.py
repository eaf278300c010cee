"""The static and dynamic import graph and the routes, read from the original sources a source map embeds
(`sourcesContent`).

Bundlers do not keep the module-level graph in their output (webpack's stats keep `reasons`, but not inside
concatenated modules; Vite's manifest only links chunks), so perfadvisor re-reads the import statements of
the sources themselves. This is a lexical scan, not a JavaScript parser: an import inside a comment or a
string is counted too. Node ids of the graph are app module paths (`src/App.jsx`) and, for npm packages, the
package's install path (`node_modules/moment`): edges inside a package are not kept.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from analyzers.frontend.model import Import, Route, package_of

_STATIC = re.compile(r"""(?:^|[;\s}])(?:import|export)\s+(?:[\w*${}\s,]+?\s+from\s*)?["']([^"'\n]+)["']""",
                     re.M)
_DYNAMIC = re.compile(r"""\bimport\s*\(\s*(?:/\*.*?\*/\s*)?["']([^"'\n]+)["']""", re.S)
_REQUIRE = re.compile(r"""\brequire\s*\(\s*["']([^"'\n]+)["']\s*\)""")
_DEFAULT_IMPORT = re.compile(r"""\bimport\s+([A-Za-z_$][\w$]*)\s*(?:,\s*\{[^}]*\})?\s*from\s*["']([^"'\n]+)["']""")
_NAMED_IMPORT = re.compile(r"""\bimport\s+(?:[A-Za-z_$][\w$]*\s*,\s*)?\{([^}]*)\}\s*from\s*["']([^"'\n]+)["']""")
_LAZY_DECL = re.compile(r"""\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:React\.)?(?:lazy|loadable)\s*\(\s*"""
                        r"""(?:async\s*)?\(\s*\)\s*=>\s*import\s*\(\s*(?:/\*.*?\*/\s*)?["']([^"'\n]+)["']""", re.S)
_ROUTE_TAG = re.compile(r"<Route\b([^>]*?)/?>", re.S)
_ROUTE_OBJ = re.compile(r"""\{\s*path\s*:\s*["']([^"']*)["']\s*,([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}""", re.S)
_PATH_ATTR = re.compile(r"""\bpath\s*=\s*\{?\s*["']([^"']*)["']""")
_ELEMENT = re.compile(r"""\b(?:element|Component|component)\s*[=:]\s*\{?\s*<?\s*([A-Z][\w$]*)""")

PAGE_DIRS = ("pages", "routes", "views", "screens")
RESOLVE_EXT = ("", ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue", ".svelte",
               "/index.js", "/index.jsx", "/index.ts", "/index.tsx")


def node_of(path: str) -> str:
    """The graph node of a module path: the module itself, or its package's install path."""
    pkg = package_of(path)
    return pkg[1] if pkg else path


def _package_spec(spec: str) -> str:
    parts = spec.split("/")
    return "/".join(parts[:2]) if spec.startswith("@") else parts[0]


def resolve(importer: str, spec: str, modules: set[str], package_paths: set[str],
            links: dict[str, str] | None = None) -> str | None:
    """The graph node `spec` refers to from module `importer`, or None when it is not in the bundle
    (tree-shaken, external, or a file perfadvisor cannot see). `links` maps a symlinked package directory
    (project-relative, e.g. pnpm's `node_modules/is-odd` or `node_modules/.pnpm/is-odd@3.0.1/node_modules/
    is-number`) to the install path it points to, as read from disk (dist.package_links)."""
    if spec.startswith("."):
        base = posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
        for ext in RESOLVE_EXT:
            if base + ext in modules:
                return node_of(base + ext)
        return None
    if spec.startswith(("/", "http:", "https:", "data:", "\0", "virtual:")):
        return None
    name = _package_spec(spec)
    # Node's resolution: the nearest node_modules above the importer first.
    here = posixpath.dirname(importer)
    while True:
        cand = posixpath.join(here, "node_modules", name) if here else posixpath.join("node_modules", name)
        if cand in package_paths:
            return cand
        if links and links.get(cand) in package_paths:
            return links[cand]
        if not here:
            return None
        here = posixpath.dirname(here)


def scan(sources: dict[str, str], modules: Iterable[str], links: dict[str, str] | None = None) -> list[Import]:
    """Import edges between graph nodes, from module path → original source text (`links`: see resolve)."""
    module_set = set(modules)
    package_paths = {pkg[1] for m in module_set if (pkg := package_of(m))}
    edges: dict[tuple[str, str, str], str] = {}
    for path, text in sources.items():
        src_node = node_of(path)
        dynamic_specs = {m.group(1) for m in _DYNAMIC.finditer(text)}
        found: list[tuple[str, str]] = [(s, "dynamic") for s in dynamic_specs]
        found += [(m.group(1), "static") for m in _STATIC.finditer(text)]
        found += [(m.group(1), "static") for m in _REQUIRE.finditer(text)]
        for spec, kind in found:
            target = resolve(path, spec, module_set, package_paths, links)
            if target is None or target == src_node:
                continue
            edges.setdefault((src_node, target, kind), spec)
    return [Import(a, b, k, s) for (a, b, k), s in sorted(edges.items())]


def find_routes(sources: dict[str, str], modules: Iterable[str],
                links: dict[str, str] | None = None) -> list[Route]:
    """Routes/pages: components a router (react-router `<Route … element={<X/>}>` or `{path, element}`
    objects) renders, resolved to their modules, each lazy when bound by `lazy(() => import(…))`; then
    app modules under a pages/, routes/, views/ or screens/ directory not already found."""
    module_set = set(modules)
    package_paths = {pkg[1] for m in module_set if (pkg := package_of(m))}
    routes: dict[str, Route] = {}
    for path, text in sources.items():
        if package_of(path):
            continue
        bindings: dict[str, tuple[str, bool]] = {}
        for m in _DEFAULT_IMPORT.finditer(text):
            bindings[m.group(1)] = (m.group(2), False)
        for m in _NAMED_IMPORT.finditer(text):
            for part in m.group(1).split(","):
                local = part.split(" as ")[-1].strip()
                if local:
                    bindings[local] = (m.group(2), False)
        for m in _LAZY_DECL.finditer(text):
            bindings[m.group(1)] = (m.group(2), True)
        pairs: list[tuple[str | None, str]] = []
        for m in _ROUTE_TAG.finditer(text):
            attrs = m.group(1)
            el = _ELEMENT.search(attrs)
            if el:
                p = _PATH_ATTR.search(attrs)
                pairs.append((p.group(1) if p else None, el.group(1)))
        for m in _ROUTE_OBJ.finditer(text):
            el = _ELEMENT.search(m.group(2))
            if el:
                pairs.append((m.group(1), el.group(1)))
        for url_path, ident in pairs:
            if ident not in bindings:
                continue
            spec, lazy = bindings[ident]
            target = resolve(path, spec, module_set, package_paths, links)
            if target and target not in routes:
                routes[target] = Route(component=target, lazy=lazy, path=url_path, how="router")
    return list(routes.values())


def page_modules(modules: Iterable[str]) -> list[str]:
    """App modules (not in node_modules) that sit in a pages/, routes/, views/ or screens/ directory."""
    out = []
    for m in modules:
        if package_of(m):
            continue
        parts = m.split("/")[:-1]
        if any(p in PAGE_DIRS for p in parts):
            out.append(m)
    return sorted(set(out))
