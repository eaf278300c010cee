"""The static and dynamic import graph and the routes, read from the original sources a source map embeds
(`sourcesContent`).

Bundlers do not keep the module-level graph in their output (webpack's stats keep `reasons`, but not inside
concatenated modules; Vite's manifest only links chunks), so perfadvisor re-reads the import statements of
the sources themselves. This is a lexical scan, not a JavaScript parser: comments are blanked first, an import
inside a string is counted too. Node ids of the graph are app module paths (`src/App.jsx`) and, for npm packages, the
package's install path (`node_modules/moment`): edges inside a package are not kept.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

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

_COMMENT = re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|/\*.*?\*/|(?<![:\w])//[^\n]*""",
                      re.S)
# the clause between `import`/`export` and `from`
_CLAUSE = re.compile(r"""(?:import|export)\s+(.*?)\s*\bfrom\s*["']""", re.S)
_REEXPORT_NAMED = re.compile(r"""\bexport\s*\{([^}]*)\}\s*from\s*["']([^"'\n]+)["']""")
_REEXPORT_STAR = re.compile(r"""\bexport\s*\*\s*from\s*["']([^"'\n]+)["']""")

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
            links: dict[str, str] | None = None, aliases: dict[str, str] | None = None) -> str | None:
    """The graph node `spec` refers to from module `importer`, or None when it is not in the bundle
    (tree-shaken, external, or a file perfadvisor cannot see). `links` maps a symlinked package directory
    (project-relative, e.g. pnpm's `node_modules/is-odd` or `node_modules/.pnpm/is-odd@3.0.1/node_modules/
    is-number`) to the install path it points to, as read from disk (dist.package_links). `aliases` maps an
    import prefix to a project directory ({"@/": "src/"}, project.aliases), tried before packages."""
    if spec.startswith("."):
        base = posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
        for ext in RESOLVE_EXT:
            if base + ext in modules:
                return node_of(base + ext)
        return None
    if spec.startswith(("/", "http:", "https:", "data:", "\0", "virtual:")):
        return None
    for prefix, target in (aliases or {}).items():  # `@/x` → `src/x` (project.aliases), longest first
        if spec.startswith(prefix) or spec == prefix.rstrip("/"):
            base = posixpath.normpath(target + spec[len(prefix):]) if spec != prefix.rstrip("/") else \
                target.rstrip("/")
            for ext in RESOLVE_EXT:
                if base + ext in modules:
                    return node_of(base + ext)
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


def local_candidates(importer: str, spec: str, aliases: dict[str, str] | None = None) -> list[str]:
    """The project-relative files a relative or aliased `spec` may name (extensions and index files tried
    in RESOLVE_EXT order); [] for a package import."""
    if spec.startswith("."):
        base = posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
    else:
        base = None
        for prefix, target in (aliases or {}).items():
            if spec.startswith(prefix):
                base = posixpath.normpath(target + spec[len(prefix):])
                break
        if base is None:
            return []
    return [base + ext for ext in RESOLVE_EXT if ext]


def specifiers(text: str) -> list[str]:
    """Every module specifier of static imports, re-exports and dynamic imports in `text` (comments
    blanked, type-only statements left out)."""
    code = strip_comments(text)
    out = [m.group(1) for m in _STATIC.finditer(code) if not is_type_only(m.group(0))]
    return out + [m.group(1) for m in _DYNAMIC.finditer(code)]


@lru_cache(maxsize=4096)
def strip_comments(text: str) -> str:
    """`text` with /* … */ and // … comments blanked (string literals kept), so an import written in a
    comment is not an edge. Lexical, like the rest of this module: a regex literal holding quotes or `//`
    can confuse it. Cached: one build's sources are read by several passes (barrels, edges)."""
    return _COMMENT.sub(lambda m: m.group(1) or " " + "\n" * m.group(0).count("\n"), text)


def is_type_only(statement: str) -> bool:
    """True for `import type …`, `export type { … } from`, and `import { type A, type B } from` (every name
    type-only): erased by the TypeScript compiler, so no module edge."""
    m = _CLAUSE.match(statement.strip())
    if m is None:
        return False
    clause = m.group(1).strip()
    if re.match(r"type\s+(?!from\b)[\w{*]", clause):
        return True
    if clause.startswith("{") and clause.endswith("}"):
        parts = [x.strip() for x in clause[1:-1].split(",") if x.strip()]
        return bool(parts) and all(x.startswith("type ") for x in parts)
    return False


def _named(clause: str) -> list[str] | None:
    """The value names an import clause binds from the module (`default` for a default import), or None for
    a namespace import (`* as x`, which needs the whole module)."""
    if "*" in clause:
        return None
    names = []
    head, _, braced = clause.partition("{")
    if head.strip().rstrip(","):
        names.append("default")
    for part in braced.rstrip("} \n").split(","):
        part = part.strip()
        if part and not part.startswith("type "):
            names.append(part.split(" as ")[0].strip())
    return names


def _provider(module: str, name: str, sources: dict[str, str], resolve_from, depth: int = 0) -> str:
    """The module that defines export `name` of `module`, following re-exports (`export { A } from`,
    `export * from`) through barrels up to 4 levels; `module` itself when it defines it or when unknown."""
    text = sources.get(module)
    if text is None or depth > 4:
        return module
    if name != "default" and re.search(r"\bexport\s+(?:declare\s+)?(?:async\s+)?(?:function\*?|const|let|var|class|"
                                       r"enum|abstract\s+class)\s+" + re.escape(name) + r"\b", text):
        return module
    for m in _REEXPORT_NAMED.finditer(text):
        for part in m.group(1).split(","):
            part = part.strip()
            if not part or part.startswith("type "):
                continue
            src, _, alias = part.partition(" as ")
            if (alias or src).strip() == name:
                target = resolve_from(module, m.group(2))
                return _provider(target, src.strip(), sources, resolve_from, depth + 1) if target else module
    for m in _REEXPORT_STAR.finditer(text):
        target = resolve_from(module, m.group(1))
        if target and target in sources:
            found = _provider(target, name, sources, resolve_from, depth + 1)
            if found != target or re.search(r"\bexport\b[^;]*\b" + re.escape(name) + r"\b", sources[target]):
                return found
    return module


# An event handler's definition: `function handleX(`, `const onX = (…) =>`/`async (…) =>`/`function`, or a
# JSX `onX={(…) => {` / `onX={async () => {` attribute (React's naming convention for handlers).
_HANDLER = re.compile(r"""\bfunction\s+((?:handle|on)[A-Z]\w*)\s*\(|"""
                      r"""\b(?:const|let|var)\s+((?:handle|on)[A-Z]\w*)\s*=\s*(?:async\s*)?(?:function\b|\([^)]*\)\s*=>|\w+\s*=>)|"""
                      r"""\b(on[A-Z]\w*)\s*=\s*\{\s*(?:async\s*)?\([^)]*\)\s*=>|"""
                      # a DOM listener, e.g. a keyboard shortcut: addEventListener("keydown", (e) => {…})
                      r"""\.addEventListener\(\s*["'](?P<event>\w+)["']\s*,\s*"""
                      r"""(?:async\s*)?(?:function\b[^(]*\([^)]*\)|\([^)]*\)\s*=>|\w+\s*=>)""")


def _locals(clause: str) -> list[str]:
    """The local names an import clause binds (`moment`, `{ format as fmt }` → fmt, `* as ns` → ns)."""
    out = []
    head, _, braced = clause.partition("{")
    for part in head.split(","):
        part = part.strip()
        if part.startswith("* as "):
            out.append(part[5:].strip())
        elif part and part != "type":
            out.append(part)
    for part in braced.rstrip("} \n").split(","):
        part = part.strip()
        if part and not part.startswith("type "):
            out.append(part.split(" as ")[-1].strip())
    return [x for x in out if re.fullmatch(r"[A-Za-z_$][\w$]*", x)]


def _body(code: str, start: int) -> tuple[int, int] | None:
    """(start, end) of the brace-delimited body opening at the first `{` at or after `start`."""
    i = code.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(code)):
        c = code[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i, j
    return None


def handler_bodies(code: str) -> list[tuple[tuple[int, int], str]]:
    """((start, end), name) of every event handler's body in `code` (comments blanked)."""
    bodies = []
    for m in _HANDLER.finditer(code):
        span = _body(code, m.end() - 1 if code[m.end() - 1] == "{" else m.end())
        if span:
            name = f"{m.group('event')} listener" if m.group("event") else next(g for g in m.groups() if g)
            bodies.append((span, name))
    return bodies


def handler_only(code: str, statement_end: int, names: list[str],
                 bodies: list[tuple[tuple[int, int], str]] | None = None) -> tuple[str, ...]:
    """The event handlers (by name) inside which every use of `names` after the import statement lies, or ()
    when any use is elsewhere (or there is none). `code` has its comments blanked (strip_comments);
    `bodies` is handler_bodies(code), computed here when not given."""
    if bodies is None:
        bodies = handler_bodies(code)
    found: set[str] = set()
    uses = 0
    for name in names:
        for u in re.finditer(r"(?<![\w$.])" + re.escape(name) + r"(?![\w$])", code[statement_end:]):
            pos = statement_end + u.start()
            uses += 1
            inside = [h for (a, b), h in bodies if a < pos < b]
            if not inside:
                return ()
            found.add(inside[-1])
    return tuple(sorted(found)) if uses else ()


def _bindings(clause: str) -> list[tuple[str, str]]:
    """(exported name, local name) pairs an import clause binds (`default` for a default import); [] for a
    namespace import (`* as ns`: its members are used as `<ns.X/>`, which this scan does not follow)."""
    if "*" in clause:
        return []
    out = []
    head, _, braced = clause.partition("{")
    head = head.strip().rstrip(",").strip()
    if head and head != "type":
        out.append(("default", head))
    for part in braced.rstrip("} \n").split(","):
        part = part.strip()
        if part and not part.startswith("type "):
            src, _, alias = part.partition(" as ")
            out.append((src.strip(), (alias or src).strip()))
    return out


def _operand_start(code: str, end: int) -> int:
    """Where the expression that ends at `end` (exclusive) starts: scanning back over balanced brackets to
    the enclosing open bracket, a `,` or `;`, an arrow `=>` or an assignment `=`."""
    depth = 0
    j = end - 1
    while j >= 0:
        c = code[j]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0:
            if c in ",;" or (c == ">" and code[j - 1:j] == "="):
                break
            if c == "=" and code[j - 1:j] not in ("=", "!", "<", ">") and code[j + 1:j + 2] != "=":
                break
        j -= 1
    return j + 1


def _expression(text: str) -> str | None:
    """`text` as a one-line guard expression (a leading `return` dropped), or None when it is empty or
    holds JSX markup (`<p>`, `/>`): then the operator was JSX text, not code."""
    text = re.sub(r"^return\b\s*", "", text.strip())
    if not text or re.search(r"<[A-Za-z/]|/>", text):
        return None
    return " ".join(text.split())


def _ternary_condition(segment: str) -> str | None:
    """The condition of a ternary whose `:` ends `segment` (`c ? <A/> ` → "c"), or None when `segment`
    has no top-level `?` (an object literal's `key: <X/>`, JSX text such as `Total: <X/>`)."""
    depth = 0
    for i, c in enumerate(segment):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "?" and depth == 0 and segment[i + 1:i + 2] not in ("?", ".") and segment[i - 1:i] != "?":
            return _expression(segment[:i])
    return None


def jsx_guard(code: str, lt: int) -> str | None:
    """The condition under which the JSX element opening at `code[lt] == "<"` renders, or None when it
    renders unconditionally (or the form is not recognised: None is the conservative answer).

    Recognised, with optional parentheses before the element: `c && <X/>`, `c || <X/>` and `c ?? <X/>`
    (guard "!(c)"), `c ? <X/> : …`, `c ? … : <X/>` (guard "!(c)") and `if (c) return <X/>` /
    `if (c) { return <X/>`. Lexical, like the rest of this module (React's conditional rendering forms:
    https://react.dev/learn/conditional-rendering)."""
    k = lt
    while True:
        while k > 0 and code[k - 1].isspace():
            k -= 1
        if k > 0 and code[k - 1] == "(":
            k -= 1
            continue
        break
    head = code[max(0, k - 8):k]
    if head.endswith("&&"):
        return _expression(code[_operand_start(code, k - 2):k - 2])
    if head.endswith(("||", "??")):
        cond = _expression(code[_operand_start(code, k - 2):k - 2])
        return f"!({cond})" if cond else None
    if head.endswith("?") and not head.endswith("??"):
        return _expression(code[_operand_start(code, k - 1):k - 1])
    if head.endswith(":"):
        cond = _ternary_condition(code[_operand_start(code, k - 1):k - 1])
        return f"!({cond})" if cond else None
    if re.search(r"(?<![\w$.])return$", head):
        before = code[:k - 6].rstrip()
        if before.endswith("{"):
            before = before[:-1].rstrip()
        if before.endswith(")"):
            start = _operand_start(before, len(before) - 1)  # the `(` of `if (…)` is at start - 1
            if re.search(r"(?<![\w$.])if\s*$", before[:start - 1]):
                return _expression(before[start:-1])
    return None


def conditional_guards(code: str, statement_end: int, local: str) -> tuple[str, ...]:
    """The guards (jsx_guard) of every use of the component `local` after its import statement, or () when
    any use is unconditional, is not a JSX element (passed as a value, `typeof X`, inside a string), or there
    is none. `code` has its comments blanked (strip_comments)."""
    guards: list[str] = []
    for u in re.finditer(r"(?<![\w$.])" + re.escape(local) + r"(?![\w$])", code[statement_end:]):
        pos = statement_end + u.start()
        if code[pos - 2:pos] == "</":
            continue  # the closing tag of an element already counted
        if code[pos - 1:pos] != "<":
            return ()
        guard = jsx_guard(code, pos - 1)
        if guard is None:
            return ()
        guards.append(guard)
    return tuple(dict.fromkeys(guards))


def scan(sources: dict[str, str], modules: Iterable[str], links: dict[str, str] | None = None,
         aliases: dict[str, str] | None = None) -> list[Import]:
    """Import edges between graph nodes, from module path → original source text (`links`, `aliases`: see
    resolve). As the compiler sees them: comments and type-only imports/exports are left out, and a named
    import from a re-export barrel (`import { A } from "@/components"`) is an edge to the module that
    defines A, not to the barrel (which would make everything it re-exports look needed)."""
    module_set = set(modules)
    package_paths = {pkg[1] for m in module_set if (pkg := package_of(m))}
    code = {path: strip_comments(text) for path, text in sources.items()}

    def resolve_from(importer: str, spec: str) -> str | None:
        return resolve(importer, spec, module_set, package_paths, links, aliases)

    edges: dict[tuple[str, str, str], str] = {}
    only: dict[tuple[str, str], tuple[str, ...]] = {}
    # (importer, component) → (guards, (exported, local)), or None once any import of it is not conditional
    cond: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, str]] | None] = {}
    for path, text in code.items():
        src_node = node_of(path)
        found: list[tuple[str, str, list[str] | None, list[tuple[str, str, tuple[str, ...]]]]] = [
            (s, "dynamic", None, []) for s in {m.group(1) for m in _DYNAMIC.finditer(text)}]
        handlers: dict[str, tuple[str, ...]] = {}
        bodies: list[tuple[tuple[int, int], str]] | None = None  # computed once per file, when needed
        for m in _STATIC.finditer(text):
            if is_type_only(m.group(0)):
                continue
            clause = _CLAUSE.match(m.group(0).strip())
            is_import = m.group(0).strip().startswith("import")
            names = _named(clause.group(1)) if clause and is_import else None
            if clause and is_import and not m.group(1).startswith("."):
                if bodies is None:
                    bodies = handler_bodies(text)
                handlers[m.group(1)] = handler_only(text, m.end(), _locals(clause.group(1)), bodies)
            # component bindings (JSX names are capitalised) and the guards of their renders
            binds = [(exp, loc, conditional_guards(text, m.end(), loc))
                     for exp, loc in (_bindings(clause.group(1)) if clause and is_import else [])
                     if loc[:1].isupper()]
            found.append((m.group(1), "static", names, binds))
        found += [(m.group(1), "static", None, []) for m in _REQUIRE.finditer(text)]
        for spec, kind, names, binds in found:
            target = resolve_from(path, spec)
            if target is None or target == src_node:
                continue
            by_target: dict[str, list[str]] = {target: list(names or ())}
            if names and target in code and not package_of(target):
                by_target = defaultdict(list)
                for n in names:
                    by_target[_provider(target, n, code, resolve_from)].append(n)
            for t, t_names in by_target.items():
                if t == src_node:
                    continue
                edges.setdefault((src_node, t, kind), spec)
                if kind == "static" and handlers.get(spec) and package_of(t + "/x"):
                    only[(src_node, t)] = handlers[spec]
                if kind == "static" and not package_of(t):
                    mine = [b for b in binds if b[0] in t_names]
                    ok = bool(mine) and len(mine) == len(t_names) and all(g for _, _, g in mine)
                    prev = cond.get((src_node, t), ((), mine[0][:2] if mine else ("", "")))
                    cond[(src_node, t)] = ((tuple(dict.fromkeys(prev[0] + tuple(x for b in mine for x in b[2]))),
                                            prev[1]) if ok and prev is not None else None)
    out = []
    for (a, b, k), s in sorted(edges.items()):
        c = cond.get((a, b)) if k == "static" else None
        out.append(Import(a, b, k, s, only.get((a, b), ()) if k == "static" else (),
                          c[0] if c else (), c[1] if c else ()))
    return out


def find_routes(sources: dict[str, str], modules: Iterable[str],
                links: dict[str, str] | None = None, aliases: dict[str, str] | None = None) -> list[Route]:
    """Routes/pages: components a router (react-router `<Route … element={<X/>}>` or `{path, element}`
    objects) renders, resolved to their modules, each lazy when bound by `lazy(() => import(…))`; then
    app modules under a pages/, routes/, views/ or screens/ directory not already found."""
    module_set = set(modules)
    package_paths = {pkg[1] for m in module_set if (pkg := package_of(m))}
    routes: dict[str, Route] = {}
    for path, text in sources.items():
        if package_of(path) or ("<Route" not in text and "path" not in text):  # no router code: no pairs
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
            target = resolve(path, spec, module_set, package_paths, links, aliases)
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
