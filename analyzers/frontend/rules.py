"""The FE… rules: pure functions of a normalized Bundle (model.py) and Settings, each returning findings.

Every threshold is a named constant with its source beside it and can be overridden in perfadvisor.toml
under [thresholds.frontend] with the name given in each rule's docstring (see docs/rules/FE00N.md).
Sizes are bytes; "gzip" sizes are measured on the real files (model.GZIP_LEVEL) unless said "estimated".
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from typing import Any

from advisor.config import Settings
from advisor.fmt import fmt_bytes
from advisor.model import Finding
from analyzers.frontend import advice, graph
from analyzers.frontend.imports import node_of
from analyzers.frontend.model import Bundle, package_uses
from analyzers.frontend.project import config_name

AREA = "frontend"

# Alex Russell, "Can You Afford It?: Real-world Web Performance Budgets" (2017): ~170 KB of gzipped
# critical-path JavaScript for a 5 s time-to-interactive on a median phone over 3G; the same figure is used
# by web.dev's "Performance budgets 101". Threshold name: initial_js_budget_gzip_bytes.
INITIAL_JS_BUDGET_GZIP_BYTES = 170_000
# A split is worth a request when it saves at least one initial TCP congestion window: 10 segments of
# 1460 bytes (RFC 6928). Threshold name: min_split_saving_gzip_bytes.
MIN_SPLIT_SAVING_GZIP_BYTES = 14_600
# perfadvisor's severity step (a convention, not a measurement): a saving of 50 KB gzip or more is "high".
HIGH_SAVING_GZIP_BYTES = 50_000
# When the built files are not available, minified JS is assumed to gzip to 30% of its size (a rule of
# thumb; the fixtures here measure 30–33%). Used only with confidence "estimated".
ASSUMED_GZIP_RATIO = 0.30
# A package copy duplicated below this many minified bytes is reported at severity "low" (perfadvisor's
# convention). Threshold name: duplicate_medium_bytes.
DUPLICATE_MEDIUM_BYTES = 10_000
# CommonJS packages in the initial load are reported from this many minified bytes (perfadvisor's
# convention: below it the loss from blocked tree-shaking is negligible). Threshold name:
# tree_shaking_min_bytes.
TREE_SHAKING_MIN_BYTES = 10_000

# Heavy packages and their lighter alternatives. Sizes of the alternatives are the figures their
# maintainers publish (not measured here); the heavy package's own size is measured in the bundle.
HEAVY_PACKAGES: dict[str, dict[str, Any]] = {
    "moment": {
        "alternative": "dayjs (same API style) or date-fns (import only the functions used)",
        "alternative_gzip_bytes": 2_000,
        "alternative_source": "dayjs README: \"Fast 2kB alternative to Moment.js with the same modern API\"",
        "snippet": "-import moment from \"moment\";\n+import dayjs from \"dayjs\";\n"
                   "-moment().subtract(1, \"days\").format(\"YYYY-MM-DD\")\n"
                   "+dayjs().subtract(1, \"day\").format(\"YYYY-MM-DD\")",
        "references": ("https://momentjs.com/docs/#/-project-status/", "https://day.js.org/"),
    },
    "lodash": {
        "alternative": "per-method imports (`import sortBy from \"lodash/sortBy\"`) or lodash-es",
        "alternative_gzip_bytes": None,
        "alternative_source": "lodash's per-method modules include only the functions imported; the size "
                              "depends on which are used",
        "snippet": "-import _ from \"lodash\";\n-_.sortBy(rows, \"n\")\n"
                   "+import sortBy from \"lodash/sortBy\";\n+sortBy(rows, \"n\")",
        "references": ("https://lodash.com/per-method-packages",),
        # only the monolithic CommonJS build is heavy; lodash/sortBy.js etc. are fine
        "module": "lodash.js",
    },
    "underscore": {
        "alternative": "native Array/Object methods, or per-method lodash imports",
        "alternative_gzip_bytes": 0,
        "alternative_source": "native methods ship with the browser",
        "snippet": "-import _ from \"underscore\";\n-_.uniq(xs)\n+[...new Set(xs)]",
        "references": ("https://youmightnotneed.com/lodash",),
    },
    "jquery": {
        "alternative": "native DOM APIs (querySelector, fetch, classList)",
        "alternative_gzip_bytes": 0,
        "alternative_source": "native APIs ship with the browser",
        "snippet": "-$(\".item\").addClass(\"on\")\n+document.querySelectorAll(\".item\").forEach((e) => "
                   "e.classList.add(\"on\"))",
        "references": ("https://youmightnotneedjquery.com/",),
    },
    "moment-timezone": {
        "alternative": "Intl.DateTimeFormat with timeZone, or dayjs with its timezone plugin",
        "alternative_gzip_bytes": 0,
        "alternative_source": "Intl ships with the browser",
        "snippet": "+new Intl.DateTimeFormat(\"en-GB\", { timeZone: \"Europe/Berlin\" }).format(date)",
        "references": ("https://momentjs.com/docs/#/-project-status/",),
    },
}


def chunk_name(chunk) -> str:
    """A chunk as the user knows it: its first built file (`assets/index-BhWU09LP.js`), not the manifest
    key (`index.html`) that identifies it across builds."""
    return chunk.files[0] if chunk.files else chunk.key


def _names(by_key: dict[str, str], keys) -> list[str]:
    """Chunk keys → names from `by_key` (key → chunk_name); a key no chunk has is kept as it is."""
    return [by_key.get(k, k) for k in keys]


# URL paths of the landing page: the route every first visit renders (react-router's "/" or an index
# route at the top, written path="" by some route tables).
LANDING_PATHS = ("/", "")


def is_landing(route) -> bool:
    """True for the route of the landing page: lazy-loading it only adds a request before first paint."""
    return route.path in LANDING_PATHS


def notes(bundle: Bundle, settings: Settings) -> list[str]:
    """One-line remarks on what the FE rules left out on purpose, and why (shown with the findings)."""
    out = []
    for r in bundle.routes:
        if is_landing(r) and not r.lazy:
            out.append(f"Route {r.path or '/'} ({r.component}) is not advised to be lazy-loaded: it is the "
                       "landing page, needed on the first paint anyway, so loading it on demand would only add "
                       "a request before the page renders.")
    return out


def _t(settings: Settings, name: str, default: Any) -> Any:
    return settings.threshold(AREA, name, default)


def _gzip_est(bundle: Bundle, raw: int) -> tuple[int, str]:
    ratio = graph.gzip_ratio(bundle)
    if ratio is None:
        return int(raw * ASSUMED_GZIP_RATIO), f"assumed gzip ratio {ASSUMED_GZIP_RATIO}"
    return int(raw * ratio), f"initial JS's measured gzip ratio {ratio:.2f}"


def initial_gzip(bundle: Bundle) -> tuple[int, bool]:
    """(initial JS gzip bytes, measured?) — estimated from raw bytes when the files were not on disk."""
    gz = bundle.initial_bytes("js", "gzip_bytes")
    if gz:
        return gz, True
    return int(bundle.initial_bytes("js", "raw_bytes") * ASSUMED_GZIP_RATIO), False


def _initial_table(bundle: Bundle) -> list[dict[str, Any]]:
    rows = []
    for c in bundle.chunks:
        if c.initial:
            rows.append({"chunk": chunk_name(c), "files": ", ".join(f for f in c.files if f.endswith(".js")),
                         "raw_bytes": bundle.chunk_size(c, "js", "raw_bytes"),
                         "gzip_bytes": bundle.chunk_size(c, "js", "gzip_bytes"),
                         "brotli_bytes": bundle.chunk_size(c, "js", "brotli_bytes")})
    return rows


def _top_initial_packages(bundle: Bundle, n: int = 8) -> list[dict[str, Any]]:
    initial = {c.key for c in bundle.chunks if c.initial}
    rows = []
    for u in package_uses(bundle):
        b = sum(v for k, v in u.bytes_by_chunk.items() if k in initial)
        if b:
            rows.append({"package": u.name, "version": u.version, "minified_bytes": b})
    return sorted(rows, key=lambda r: -r["minified_bytes"])[:n]


def fe001_initial_js_budget(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE001 initial-js-budget: the JS every first page load downloads exceeds the budget
    (`initial_js_budget_gzip_bytes`, default INITIAL_JS_BUDGET_GZIP_BYTES, gzip)."""
    budget = _t(settings, "initial_js_budget_gzip_bytes", INITIAL_JS_BUDGET_GZIP_BYTES)
    gz, measured = initial_gzip(bundle)
    if gz <= budget:
        return []
    severity = "high" if gz > 2 * budget else "medium"
    return [Finding(
        rule="FE001", name="initial-js-budget", area=AREA, severity=severity,
        confidence="verified" if measured else "estimated",
        title=f"Initial JavaScript is {fmt_bytes(gz)} gzip, over the {fmt_bytes(budget)} budget",
        detail=(f"Every first visit downloads, parses and runs {gz:,} bytes of gzip-compressed JavaScript "
                f"({bundle.initial_bytes('js', 'raw_bytes'):,} bytes minified) before the page is interactive. "
                f"The budget of {budget:,} bytes comes from Alex Russell's 'Can You Afford It?' (a 5 s "
                "time-to-interactive on a median phone). The findings on lazy routes, heavy and duplicated "
                "packages below say what to move out."),
        key="initial-js",
        evidence={"initial_chunks": _initial_table(bundle), "largest_packages": _top_initial_packages(bundle),
                  "budget_gzip_bytes": budget, "measured": measured},
        impact={"metric": "initial_js_gzip_bytes", "before": gz, "after": budget},
        action={"kind": "code_change", "summary": "Split routes and heavy libraries out of the entry chunk "
                "(see the FE002/FE003 findings), then re-check with perfadvisor bundle-diff."},
        references=("https://infrequently.org/2017/10/can-you-afford-it-real-world-web-performance-budgets/",
                    "https://web.dev/articles/performance-budgets-101"),
    )]


def fe002_lazy_route(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE002 lazy-route: a route/page component imported statically into the initial load whose
    exclusive bytes (what only it pulls in) are at least `min_split_saving_gzip_bytes` gzip (estimated)."""
    min_saving = _t(settings, "min_split_saving_gzip_bytes", MIN_SPLIT_SAVING_GZIP_BYTES)
    init_bytes = graph.node_bytes(bundle, initial_only=True)
    edges = graph.static_edges(bundle)
    starts = graph.roots(bundle)
    everything = graph.reach(starts, edges) & set(init_bytes)
    gz_total, _ = initial_gzip(bundle)
    out = []
    candidates = {r.component for r in bundle.routes
                  if not r.lazy and r.component in init_bytes and r.component not in starts and not is_landing(r)}
    for r in bundle.routes:
        comp = r.component
        if r.lazy or comp not in init_bytes or comp in starts or is_landing(r):  # see notes()
            continue
        ch = graph.chain(starts, comp, edges)
        if ch is None:
            continue
        if any(n in candidates for n in ch[:-1]):
            continue  # inside a route group advised as a whole (the outer split point carries it)
        group = bool(r.path and r.path.endswith("*")) or any(
            x.component != comp and comp in (graph.chain([comp], x.component, edges) or ()) for x in bundle.routes)
        stays = graph.reach(starts, edges, exclude={comp}) & set(init_bytes)
        leaving = sorted(everything - stays, key=lambda n: -init_bytes.get(n, 0))
        raw = sum(init_bytes.get(n, 0) for n in leaving)
        gz, basis = _gzip_est(bundle, raw)
        if gz < min_saving:
            continue
        importer = ch[-2] if len(ch) > 1 else ch[0]
        spec = next((i.specifier for i in bundle.imports if i.importer == importer and i.imported == comp
                     and i.kind == "static"), "./" + comp.rsplit("/", 1)[-1])
        label = r.path or comp
        out.append(Finding(
            rule="FE002", name="lazy-route", area=AREA,
            severity="high" if gz >= HIGH_SAVING_GZIP_BYTES else "medium", confidence="estimated",
            title=f"Route {'group ' if group else ''}{label} is in the initial load; lazy-loading it would save "
                  f"~{fmt_bytes(gz)} gzip",
            detail=(("It renders a nested route subtree (a whole sub-application): one split point for all of it. "
                     if group else "") +
                    f"{comp} is imported statically ({' → '.join(ch)}), so it and everything only it "
                    f"imports ({', '.join(leaving[:5])}{' …' if len(leaving) > 5 else ''}) download on every "
                    f"first visit. Loading it with React.lazy would take an estimated {raw:,} minified bytes "
                    f"(~{gz:,} gzip, from {basis}) out of the initial load. Estimate: modules still reachable "
                    "from the entry without this route stay."),
            key=comp,
            evidence={"route": r.path, "component": comp, "detected_by": r.how, "import_chain": ch,
                      "route_group": group,
                      "leaves_initial_load": _leaves(leaving, init_bytes),
                      "estimated_saving_bytes": raw, "estimated_saving_gzip_bytes": gz},
            impact=_initial_js_cut(gz_total, gz),
            action={"kind": "code_change", "file": importer,
                    "snippet": advice.lazy_route(importer, spec, comp)},
            references=("https://react.dev/reference/react/lazy",),
        ))
    return out


# Transitive heavy packages with a known fix on the direct dependency that pulls them in: (direct, heavy) →
# the advice, the version of the direct dependency without the heavy one ("fixed_in"), a snippet, and the
# migration guide or changelog that documents it ("references"). Data only; each entry has its source.
TRANSITIVE_FIXES: dict[tuple[str, str], dict[str, Any]] = {
    ("chart.js", "moment"): {
        "advice": "upgrade chart.js to 3 or later: it no longer depends on moment (dates go through an adapter, "
                  "needed only for time axes)",
        "fixed_in": "3.0.0",
        "snippet": "// package.json\n-\"chart.js\": \"^2.9.4\"\n+\"chart.js\": \"^4.4.0\"\n"
                   "// Chart.js 3+ is tree-shakable: register only the controllers you use\n"
                   "+import { Chart, BarController, BarElement, CategoryScale, LinearScale } from \"chart.js\";\n"
                   "+Chart.register(BarController, BarElement, CategoryScale, LinearScale);",
        "references": ("https://www.chartjs.org/docs/latest/migration/v3-migration.html",),
    },
    ("antd", "moment"): {
        "advice": "upgrade antd to 5: its date components use Day.js instead of moment; on antd 4, build "
                  "DatePicker/TimePicker/Calendar with generatePicker and rc-picker's dayjs config instead",
        "fixed_in": "5.0.0",
        "snippet": "// package.json\n-\"antd\": \"^4.24.0\"\n+\"antd\": \"^5.0.0\"\n+\"dayjs\": \"^1.11.0\"\n"
                   "// date values become Day.js objects: moment(...) → dayjs(...)\n"
                   "// staying on antd 4 (src/components/DatePicker.ts):\n"
                   "+import dayjsGenerateConfig from \"rc-picker/lib/generate/dayjs\";\n"
                   "+import generatePicker from \"antd/es/date-picker/generatePicker\";\n"
                   "+export default generatePicker(dayjsGenerateConfig);",
        "references": ("https://ant.design/docs/react/migration-v5",
                       "https://4x.ant.design/docs/react/replace-moment"),
    },
    ("bootstrap", "jquery"): {
        "advice": "upgrade bootstrap to 5: its JavaScript no longer needs jQuery (plugins are created with "
                  "`new bootstrap.Tooltip(el)` instead of `$(el).tooltip()`; popper.js becomes @popperjs/core)",
        "fixed_in": "5.0.0",
        "snippet": "// package.json\n-\"bootstrap\": \"^4.6.2\"\n-\"jquery\": \"^3.7.1\"\n"
                   "-\"popper.js\": \"^1.16.1\"\n+\"bootstrap\": \"^5.3.0\"\n+\"@popperjs/core\": \"^2.11.0\"\n"
                   "// then, where a plugin is started:\n-$(el).tooltip({ placement: \"bottom\" });\n"
                   "+new Tooltip(el, { placement: \"bottom\" });   // import { Tooltip } from \"bootstrap\"",
        "references": ("https://getbootstrap.com/docs/5.0/migration/#javascript",),
    },
    ("fullcalendar", "jquery"): {
        "advice": "move from fullcalendar 3 to @fullcalendar/core 4 or later: it is no longer a jQuery plugin and "
                  "needs neither jQuery nor moment",
        "fixed_in": "@fullcalendar/core 4.0.0",
        "snippet": "// package.json\n-\"fullcalendar\": \"^3.10.0\"\n+\"@fullcalendar/core\": \"^6.1.0\"\n"
                   "+\"@fullcalendar/daygrid\": \"^6.1.0\"\n"
                   "-$(el).fullCalendar({ defaultView: \"month\" });\n"
                   "+new Calendar(el, { plugins: [dayGridPlugin], initialView: \"dayGridMonth\" }).render();",
        "references": ("https://fullcalendar.io/docs/upgrading-from-v3",),
    },
    ("chartjs-adapter-moment", "moment"): {
        "advice": "use Chart.js's date-fns or Luxon adapter instead (chartjs-adapter-date-fns, "
                  "chartjs-adapter-luxon): time axes work the same with a lighter date library",
        "fixed_in": None,
        "snippet": "// package.json\n-\"chartjs-adapter-moment\": \"^1.0.0\"\n+\"chartjs-adapter-date-fns\": "
                   "\"^3.0.0\"\n+\"date-fns\": \"^3.0.0\"\n"
                   "-import \"chartjs-adapter-moment\";\n+import \"chartjs-adapter-date-fns\";",
        "references": ("https://www.chartjs.org/docs/latest/axes/cartesian/time.html#date-adapters",),
    },
}
# fullcalendar 3 pulls in moment as well as jQuery; the same move removes both.
TRANSITIVE_FIXES[("fullcalendar", "moment")] = TRANSITIVE_FIXES[("fullcalendar", "jquery")]


def transitive_fix(pulled_in_by: list[str], heavy: str) -> tuple[str, dict[str, Any]] | None:
    """(direct dependency, its TRANSITIVE_FIXES entry) for the first of `pulled_in_by` (package names, as
    FE003's evidence["pulled_in_by"]) with a known fix that removes `heavy`, else None."""
    return next(((d, TRANSITIVE_FIXES[(d, heavy)]) for d in pulled_in_by if (d, heavy) in TRANSITIVE_FIXES), None)


def size_words(exact: bool) -> str:
    """How a module size was measured, for the finding's text."""
    return ("minified bytes (attributed through source maps)" if exact else
            "bytes before minification (webpack stats; no source maps, so the shipped size is estimated)")


def context_elements(bundle: Bundle) -> set[str]:
    """Module paths webpack bundled only as members of a context module (reported by FE009)."""
    return {e for c in bundle.contexts for e in c.get("elements", ())}


def fe003_heavy_package(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE003 heavy-package: a package from HEAVY_PACKAGES in the initial load, with its measured size and
    the published size of the lighter alternative. When the app does not import it itself, the finding
    names the direct dependency that pulls it in (graph.direct_dependencies) and advises on that one.
    Files webpack bundled through a context module (moment's locales) are left to FE009."""
    initial = {c.key for c in bundle.chunks if c.initial}
    in_context = context_elements(bundle)
    factor = graph.minified_factor(bundle)
    out = []
    for u in package_uses(bundle):
        info = HEAVY_PACKAGES.get(u.name)
        if info is None:
            continue
        mods = [m for m in bundle.modules if m.package_path == u.install_path and m.chunk in initial
                and m.path not in in_context]
        if info.get("module"):
            mods = [m for m in mods if m.path.endswith("/" + info["module"])]
        measured = sum(m.bytes for m in mods)
        if not measured:
            continue
        raw, exact = graph.shipped_bytes(bundle, mods, factor)
        gz, basis = _gzip_est(bundle, raw)
        alt_gz = info["alternative_gzip_bytes"]
        app_direct, via = graph.direct_dependencies(bundle, u.install_path)
        size_text = (f"{u.name} is {measured:,} {size_words(exact)} in the initial chunks"
                     + ("" if exact else f", about {raw:,} bytes once minified (the chunk's minified/"
                                         "unminified ratio)")
                     + f"; gzip ~{gz:,} bytes from {basis}.")
        version = "@" + u.version if u.version else ""
        evidence = {"package": u.name, "version": u.version, "install_path": u.install_path,
                    "minified_bytes": raw, "minified_measured": exact, "estimated_gzip_bytes": gz,
                    "alternative": info["alternative"], "alternative_gzip_bytes": alt_gz,
                    "alternative_size_source": info["alternative_source"],
                    "imported_by_app": app_direct, "pulled_in_by": [n.rsplit("node_modules/", 1)[-1] for n in via]}
        if not exact:
            evidence["bytes_before_minification"] = measured
        if via and not app_direct:
            names = [n.rsplit("node_modules/", 1)[-1] for n in via]
            found = transitive_fix(names, u.name)
            target, fix = found if found else (names[0], None)
            advice_text = (fix["advice"] if fix else
                           f"look for a version or an alternative of {names[0]} without {u.name}; swapping "
                           f"{u.name} in your own code changes nothing, since the app does not import it")
            if fix:
                evidence["known_fix"] = {"dependency": target, "fixed_in": fix["fixed_in"],
                                         "source": fix["references"][0]}
            out.append(Finding(
                rule="FE003", name="heavy-package", area=AREA,
                severity="high" if gz >= HIGH_SAVING_GZIP_BYTES else "medium", confidence="estimated",
                title=f"{u.name}{version} comes in through {', '.join(names)} (the app does not import it) and "
                      f"adds ~{fmt_bytes(gz)} gzip to the initial load",
                detail=(f"{size_text} The app's own code never imports {u.name}: "
                        + "; ".join(f"{n} imports it" for n in names)
                        + f". Advice on {target}: {advice_text}."),
                key=u.install_path, evidence=evidence,
                impact={"metric": "package_gzip_bytes", "before": gz, "after": 0},
                action={"kind": "code_change", "file": "package.json",
                        "snippet": fix["snippet"] if fix else f"// {names[0]}: upgrade or replace it; "
                                   f"see `npm ls {u.name}` for the chain"},
                references=fix["references"] if fix else ("https://docs.npmjs.com/cli/commands/npm-ls",),
            ))
            continue
        alt_text = (f"{info['alternative']} (~{alt_gz:,} bytes gzip per {info['alternative_source']})"
                    if alt_gz else f"{info['alternative']} ({info['alternative_source']})")
        out.append(Finding(
            rule="FE003", name="heavy-package", area=AREA,
            severity="high" if gz >= HIGH_SAVING_GZIP_BYTES else "medium", confidence="estimated",
            title=f"{u.name}{version} adds {fmt_bytes(raw)} (~{fmt_bytes(gz)} gzip) to the initial load; use "
                  f"{info['alternative'].split(' (')[0]}",
            detail=f"{size_text} Lighter: {alt_text}.",
            key=u.install_path, evidence=evidence,
            # the package's own share of the initial load, before and after the swap (unknown for lodash)
            impact=({"metric": "package_gzip_bytes", "before": gz, "after": alt_gz}
                    if alt_gz is not None else None),
            action={"kind": "code_change", "snippet": info["snippet"]},
            references=info["references"],
        ))
    return out


def fe004_duplicate_package(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE004 duplicate-package: one package installed and bundled in several copies (versions), or one
    module bundled into several chunks. Severity medium from `duplicate_medium_bytes` wasted bytes."""
    medium = _t(settings, "duplicate_medium_bytes", DUPLICATE_MEDIUM_BYTES)
    names = {c.key: chunk_name(c) for c in bundle.chunks}
    out = []
    by_name: dict[str, list] = defaultdict(list)
    for u in package_uses(bundle):
        by_name[u.name].append(u)
    for name, uses in sorted(by_name.items()):
        if len(uses) < 2:
            continue
        uses = sorted(uses, key=lambda u: -u.bytes)
        wasted = sum(u.bytes for u in uses[1:])
        versions = [u.version or "?" for u in uses]
        keep = uses[0].version
        out.append(Finding(
            rule="FE004", name="duplicate-package", area=AREA,
            severity="medium" if wasted >= medium else "low", confidence="verified",
            title=f"{name} is bundled {len(uses)} times ({', '.join(versions)})",
            detail=(f"The bundle holds {len(uses)} copies of {name}: "
                    + "; ".join(f"{u.install_path} ({u.version or 'version unknown'}, {u.bytes:,} bytes)"
                                for u in uses)
                    + f". {wasted:,} bytes would go if one version served every importer. Check that the "
                      "importers accept the kept version before forcing it."),
            key=f"versions:{name}",
            evidence={"copies": [{"install_path": u.install_path, "version": u.version,
                                  "minified_bytes": u.bytes,
                                  "chunks": ", ".join(sorted(_names(names, u.bytes_by_chunk)))}
                                 for u in uses],
                      "wasted_bytes": wasted},
            impact={"metric": "bundle_minified_bytes", "before": sum(u.bytes for u in uses),
                    "after": uses[0].bytes},
            action={"kind": "config", "file": "package.json",
                    "snippet": ("{\n  \"overrides\": {\n    \"" + name + "\": \"" + (keep or "<version>") +
                                "\"\n  }\n}\n// then: npm install && npm dedupe   (yarn: \"resolutions\"; "
                                "pnpm: \"pnpm.overrides\")")},
            references=("https://docs.npmjs.com/cli/configuring-npm/package-json#overrides",),
        ))
    # the same module in several chunks
    chunks_of: dict[str, dict[str, int]] = defaultdict(dict)
    for m in bundle.modules:
        if not m.path.startswith(("[", "(")):
            chunks_of[m.path][m.chunk] = m.bytes
    per_pkg: dict[str, dict[str, Any]] = {}
    for path, ch in chunks_of.items():
        if len(ch) < 2:
            continue
        node = node_of(path)
        e = per_pkg.setdefault(node, {"chunks": set(), "wasted": 0})
        e["chunks"].update(ch)
        e["wasted"] += sum(ch.values()) - max(ch.values())
    for node, e in sorted(per_pkg.items()):
        out.append(Finding(
            rule="FE004", name="duplicate-package", area=AREA,
            severity="medium" if e["wasted"] >= medium else "low", confidence="verified",
            title=f"{node} is duplicated across {len(e['chunks'])} chunks",
            detail=(f"Modules of {node} are bundled into each of "
                    f"{', '.join(sorted(_names(names, e['chunks'])))}; a user "
                    f"who loads them downloads {e['wasted']:,} bytes twice. Move it into a shared chunk."),
            key=f"chunks:{node}",
            evidence={"module_group": node, "chunks": sorted(_names(names, e["chunks"])),
                      "wasted_bytes": e["wasted"]},
            impact={"metric": "bundle_minified_bytes", "before": e["wasted"], "after": 0},
            action=_split_action(bundle, {node.rsplit("/", 1)[-1]: [node.split("node_modules/")[-1]]}),
        ))
    return out


def _split_action(bundle: Bundle, groups: dict[str, list[str]]) -> dict[str, Any]:
    file, snippet = advice.split_packages(bundle.bundler, groups)
    return {"kind": "config", "file": file, "snippet": snippet}


def fe005_oversized_chunk(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE005 oversized-chunk: a JS chunk over the bundler's own warning limit (Vite
    chunkSizeWarningLimit 500 kB, webpack performance.maxAssetSize 250000 bytes; minified, uncompressed).
    Threshold name: chunk_warning_bytes (default: the bundler's)."""
    limit = _t(settings, "chunk_warning_bytes", int(bundle.limits.get("chunk_warning_bytes") or 500_000))
    out = []
    uses = None
    for c in bundle.chunks:
        raw = bundle.chunk_size(c, "js", "raw_bytes")
        if raw <= limit:
            continue
        uses = uses if uses is not None else package_uses(bundle)
        # webpack stats sizes are before minification: scaled to the chunk's minified size (an estimate)
        scale = graph.minified_factor(bundle).get(c.key, 1.0)
        pkgs = sorted(((u.name, int(u.bytes_by_chunk.get(c.key, 0) * scale)) for u in uses
                       if u.bytes_by_chunk.get(c.key)), key=lambda x: -x[1])
        sizes_are = ("estimated minified bytes (webpack's pre-minification sizes × the chunk's minified/"
                     "unminified ratio)" if c.key in graph.minified_factor(bundle) else "minified bytes")
        top = [p for p, b in pkgs[:3] if b >= limit * 0.1] or [p for p, _ in pkgs[:1]]
        groups = {p.replace("@", "").replace("/", "-"): [p] for p in top}
        action = _split_action(bundle, groups) if groups else {"kind": "none"}
        bname = f"{bundle.bundler.get('name')} {bundle.bundler.get('version') or ''}".strip()
        out.append(Finding(
            rule="FE005", name="oversized-chunk", area=AREA,
            severity="medium" if c.initial else "low", confidence="verified",
            title=f"Chunk {chunk_name(c)} is {fmt_bytes(raw)}, over {bname}'s {fmt_bytes(limit)} warning limit",
            detail=(f"{', '.join(f for f in c.files if f.endswith('.js'))} is {raw:,} bytes minified "
                    f"({bundle.chunk_size(c, 'js', 'gzip_bytes'):,} gzip). Its largest packages, in {sizes_are}: "
                    + ", ".join(f"{p} {b:,} B" for p, b in pkgs[:5])
                    + ". Splitting them into their own chunks lets the browser cache them across deploys and "
                      "download them in parallel."),
            key=c.key,
            evidence={"chunk": chunk_name(c), "initial": c.initial, "raw_bytes": raw,
                      "gzip_bytes": bundle.chunk_size(c, "js", "gzip_bytes"), "limit_bytes": limit,
                      "largest_packages": [{"package": p, "minified_bytes": b} for p, b in pkgs[:8]]},
            impact=None, action=action,
            references=(("https://webpack.js.org/configuration/performance/",)
                        if bundle.bundler.get("name") == "webpack" else
                        ("https://vite.dev/config/build-options#build-chunksizewarninglimit",)),
        ))
    return out


def fe006_defeated_dynamic_import(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE006 defeated-dynamic-import: a module imported with import() somewhere and statically elsewhere,
    so the bundler cannot split it out (Vite warns "dynamic import will not move module into another
    chunk"); reported when the module sits in an initial chunk."""
    init_bytes = graph.node_bytes(bundle, initial_only=True)
    dyn: dict[str, set[str]] = defaultdict(set)
    stat: dict[str, set[str]] = defaultdict(set)
    for i in bundle.imports:
        (dyn if i.kind == "dynamic" else stat)[i.imported].add(i.importer)
    out = []
    for node in sorted(set(dyn) & set(stat)):
        if node not in init_bytes:
            continue
        statics, dynamics = sorted(stat[node]), sorted(dyn[node])
        out.append(Finding(
            rule="FE006", name="defeated-dynamic-import", area=AREA, severity="low", confidence="heuristic",
            title=f"import() of {node} is defeated by a static import",
            detail=(f"{', '.join(dynamics)} load {node} with import(), but {', '.join(statics)} import it "
                    f"statically, so its {init_bytes[node]:,} bytes stay in the initial load and the "
                    "dynamic import splits nothing. Import it dynamically everywhere, or drop the import()."),
            key=node,
            evidence={"module": node, "dynamic_importers": dynamics, "static_importers": statics,
                      "minified_bytes": init_bytes[node],
                      "graph_source": "import statements in the source maps' sourcesContent (lexical scan)"},
            action={"kind": "code_change", "file": statics[0],
                    "snippet": f"// {statics[0]}: replace the static import of {node} with\n"
                               f"const mod = await import(\"{node}\");   // or move its use behind the "
                               "lazily loaded route"},
        ))
    return out


# Packages with an ES-module build of their own, published under another name (the action FE007 gives).
ESM_BUILDS = {"lodash": "lodash-es"}


def fe007_tree_shaking_blocked(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE007 tree-shaking-blocked: packages in the initial load that webpack reports as CommonJS
    (optimizationBailout "CommonJS bailout" / "Module is not an ECMAScript module") and that weigh at
    least `tree_shaking_min_bytes` bytes there. A finding of its own only where an action exists (an
    ES-module build, ESM_BUILDS); packages FE003 already advises on are left to it; the rest are grouped in
    one low finding, since nothing can be done about them short of replacing them."""
    min_bytes = _t(settings, "tree_shaking_min_bytes", TREE_SHAKING_MIN_BYTES)
    if not bundle.bailouts:
        return []
    initial = {c.key for c in bundle.chunks if c.initial}
    by_pkg: dict[str, list[dict]] = defaultdict(list)
    for b in bundle.bailouts:
        if b.get("package_path"):
            by_pkg[b["package_path"]].append(b)
    mods: dict[str, list] = defaultdict(list)
    for m in bundle.modules:
        if m.package_path and m.chunk in initial:
            mods[m.package_path].append(m)
    factor = graph.minified_factor(bundle)
    out = []
    rest: list[dict[str, Any]] = []
    for ip, bs in sorted(by_pkg.items()):
        size, exact = graph.shipped_bytes(bundle, mods.get(ip, ()), factor)
        if size < min_bytes:
            continue
        info = bundle.packages.get(ip, {})
        name = info.get("name") or ip.rsplit("node_modules/", 1)[-1]
        esm_alt = ESM_BUILDS.get(name)
        if esm_alt is None and name in HEAVY_PACKAGES:
            continue  # FE003 gives the action (replace it)
        row = {"package": name, "install_path": ip, "initial_minified_bytes": size, "minified_measured": exact,
               "bailouts": [{"module": b["module"], "reason": "; ".join(b["reasons"])} for b in bs[:5]],
               "side_effects_flag": info.get("side_effects")}
        if esm_alt is None:
            rest.append(row)
            continue
        out.append(Finding(
            rule="FE007", name="tree-shaking-blocked", area=AREA, severity="low", confidence="verified",
            title=f"{name} cannot be tree-shaken: use its ES-module build {esm_alt}",
            detail=(f"{size:,} {'minified' if exact else 'minified (estimated)'} bytes of {name} are in the "
                    "initial load whole, because webpack cannot drop unused exports of a CommonJS module "
                    f"(\"{bs[0]['reasons'][0]}\"). {esm_alt} is the same code as ES modules."),
            key=ip, evidence=row,
            action={"kind": "code_change",
                    "snippet": f"-import _ from \"{name}\";\n+import {{ sortBy }} from \"{esm_alt}\";"},
            references=("https://webpack.js.org/guides/tree-shaking/",),
        ))
    if rest:
        total = sum(r["initial_minified_bytes"] for r in rest)
        names = ", ".join(r["package"] for r in rest)
        out.append(Finding(
            rule="FE007", name="tree-shaking-blocked", area=AREA, severity="low", confidence="verified",
            title=f"{len(rest)} CommonJS package(s) without an ES-module build are kept whole: {names}",
            detail=(f"webpack cannot tree-shake {names} ({total:,} bytes in the initial load): they ship only "
                    "CommonJS and perfadvisor knows no lighter drop-in. Nothing to change in the build; "
                    "other findings say whether to load them later or replace them."),
            key="commonjs-without-esm-build",
            evidence={"packages": rest},
            action={"kind": "none", "summary": "no action: listed for completeness"},
            references=("https://webpack.js.org/guides/tree-shaking/",),
        ))
    return out


# Context modules are reported from this many bundled bytes (perfadvisor's convention, the same size as
# tree_shaking_min_bytes). Threshold name: context_module_min_bytes.
CONTEXT_MODULE_MIN_BYTES = 10_000


def _context_fix(directory: str) -> tuple[str, str]:
    """(ContextReplacementPlugin line, IgnorePlugin line) for a context over `directory`
    (`node_modules/moment/locale` → /moment[/\\\\]locale$/)."""
    parts = directory.split("/")
    tail = [p for p in parts if p != "node_modules"][-2:]
    dir_re = "[/\\\\]".join(re.escape(p).replace("\\-", "-") for p in tail)
    keep = "/en-gb|de/"
    replace = f"new webpack.ContextReplacementPlugin(/{dir_re}$/, {keep}),   // keep only the files you use"
    sub = re.escape(tail[-1]).replace("\\-", "-")
    parent = re.escape(tail[0]).replace("\\-", "-") if len(tail) > 1 else None
    ignore = (f"new webpack.IgnorePlugin({{ resourceRegExp: /^\\.\\/{sub}$/, contextRegExp: /{parent}$/ }}),"
              if parent else f"new webpack.IgnorePlugin({{ resourceRegExp: /^\\.\\/{sub}$/ }}),")
    return replace, ignore


def fe009_context_module(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE009 context-module: a webpack context module (a require()/import() whose path is built from a
    variable, e.g. moment's `require("./locale/" + name)`) that bundles every matching file of a directory,
    at least `context_module_min_bytes` bytes. Fixed with ContextReplacementPlugin or IgnorePlugin
    (https://webpack.js.org/plugins/context-replacement-plugin/, https://webpack.js.org/plugins/ignore-plugin/)."""
    min_bytes = _t(settings, "context_module_min_bytes", CONTEXT_MODULE_MIN_BYTES)
    initial = {c.key for c in bundle.chunks if c.initial}
    factor = graph.minified_factor(bundle)
    gz_total, _ = initial_gzip(bundle)
    cfg = config_name(bundle.bundler)
    out = []
    for ctx in bundle.contexts:
        elements = set(ctx.get("elements", ()))
        mods = [m for m in bundle.modules if m.path in elements]
        size, exact = graph.shipped_bytes(bundle, mods, factor)
        if not elements or size < min_bytes:
            continue
        in_initial = any(m.chunk in initial for m in mods)
        init_size, _ = graph.shipped_bytes(bundle, [m for m in mods if m.chunk in initial], factor)
        gz, basis = _gzip_est(bundle, init_size or size)
        directory = ctx["directory"]
        issuers = ctx.get("issuers") or ["(unknown)"]
        replace, ignore = _context_fix(directory)
        pre = sum(m.bytes for m in mods)
        out.append(Finding(
            rule="FE009", name="context-module", area=AREA,
            severity=("high" if gz >= HIGH_SAVING_GZIP_BYTES else "medium") if in_initial else "low",
            confidence="verified" if exact else "estimated",
            title=f"webpack bundles all {len(elements)} files of {directory} (~{fmt_bytes(size)}) for a "
                  "require() built from a variable",
            detail=(f"{', '.join(issuers)} loads a file of {directory} by a path computed at run time, so "
                    f"webpack cannot know which one and bundles every file matching {ctx.get('pattern')}: "
                    f"{len(elements)} modules, {size:,} minified bytes"
                    + ("" if exact else f" (estimated from {pre:,} bytes before minification)")
                    + (f", in the initial load (~{gz:,} gzip, from {basis})" if in_initial else "")
                    + ". This is not a second copy of the package but its own problem: keep only the files the "
                      f"app uses with ContextReplacementPlugin, or drop them all with IgnorePlugin, in {cfg}."),
            key=f"context:{directory}",
            evidence={"directory": directory, "mode": ctx.get("mode"), "pattern": ctx.get("pattern"),
                      "required_by": issuers, "files": len(elements), "minified_bytes": size,
                      "minified_measured": exact, "bytes_before_minification": pre, "initial": in_initial,
                      "estimated_gzip_bytes": gz, "examples": sorted(elements)[:5]},
            impact=(_initial_js_cut(gz_total, gz)
                    if in_initial else None),
            action={"kind": "config", "file": cfg,
                    "snippet": (f"// {cfg}\nconst webpack = require(\"webpack\");\nmodule.exports = {{\n"
                                f"  // …\n  plugins: [\n    {replace}\n    // or, to bundle none of them:\n"
                                f"    // {ignore}\n  ],\n}};")},
            references=("https://webpack.js.org/plugins/context-replacement-plugin/",
                        "https://webpack.js.org/plugins/ignore-plugin/",
                        "https://webpack.js.org/guides/dependency-management/#require-with-expression"),
        ))
    return out


def fe008_heavy_image(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE008 heavy-image: raster images of the build that would be at least `image_min_saving_bytes` smaller
    as WebP or AVIF (measured by re-encoding them, images.py)."""
    from analyzers.frontend.images import MIN_IMAGE_BYTES

    min_saving = _t(settings, "image_min_saving_bytes", MIN_IMAGE_BYTES)
    rows = []
    for f in bundle.files:
        if f.kind != "image" or not (f.webp_bytes or f.avif_bytes):
            continue
        best_fmt, best = min(((k, v) for k, v in (("avif", f.avif_bytes), ("webp", f.webp_bytes)) if v),
                             key=lambda kv: kv[1])
        if f.raw_bytes - best >= min_saving:
            rows.append({"file": f.path, "raw_bytes": f.raw_bytes, "webp_bytes": f.webp_bytes,
                         "avif_bytes": f.avif_bytes, "best_format": best_fmt, "saving_bytes": f.raw_bytes - best,
                         "measure": f.modern_measure or "encoded"})
    if not rows:
        return []
    estimated = [r["file"] for r in rows if r["measure"] != "encoded"]
    how = ("" if not estimated else
           f" Estimated, not fully encoded, for {len(estimated)} of them (large images are encoded on a mosaic "
           "sample and scaled by pixel count; past the encoding time cap the ratio measured on the others is "
           "used): see each image's `measure`.")
    rows.sort(key=lambda r: -r["saving_bytes"])
    total = sum(r["raw_bytes"] for r in rows)
    saved = sum(r["saving_bytes"] for r in rows)
    first = rows[0]["file"].rsplit("/", 1)[-1]
    stem = first.rsplit(".", 1)[0]
    return [Finding(
        rule="FE008", name="heavy-image", area=AREA, severity="medium" if saved >= 100_000 else "low",
        confidence="estimated" if estimated else "verified",
        title=f"{len(rows)} image(s) would be {fmt_bytes(saved)} smaller as AVIF/WebP",
        detail=(f"Re-encoding the build's raster images (WebP quality 85, AVIF quality 75, with Pillow) cuts "
                f"{total:,} bytes to {total - saved:,}. Serve the modern format with a fallback.{how}"),
        key="images",
        evidence={"images": rows[:20]},
        impact={"metric": "image_bytes", "before": total, "after": total - saved},
        action={"kind": "code_change",
                "snippet": (f"<picture>\n  <source srcset=\"{stem}.avif\" type=\"image/avif\">\n"
                            f"  <source srcset=\"{stem}.webp\" type=\"image/webp\">\n"
                            f"  <img src=\"{first}\" alt=\"…\" width=\"…\" height=\"…\">\n</picture>\n"
                            f"<!-- make the .avif/.webp files at build time, e.g. with "
                            f"{advice.image_tool(bundle.bundler)} -->")},
        references=("https://developer.chrome.com/docs/lighthouse/performance/uses-webp-images",),
    )]


def _no_inline_map_snippet(bundler: dict[str, Any]) -> str:
    """The config change that keeps source maps out of the shipped files, for the bundler in use."""
    cfg = config_name(bundler)
    if bundler.get("name") == "webpack":
        return (f"// {cfg}\nmodule.exports = {{\n-  devtool: \"inline-source-map\",\n"
                "+  devtool: \"hidden-source-map\",   // .map files beside the JS, no comment; or false\n};")
    if bundler.get("name") == "vite":
        return (f"// {cfg}\nexport default defineConfig({{\n  build: {{\n-    sourcemap: \"inline\",\n"
                "+    sourcemap: \"hidden\",   // .map files, not referenced from the JS; or false\n  },\n});")
    return "// build with external (or hidden) source maps instead of inline data: URLs"


def _initial_js_cut(gz_total: int, gz: int) -> dict[str, Any]:
    """The impact of taking `gz` gzip bytes out of an initial load of `gz_total` gzip bytes."""
    return {"metric": "initial_js_gzip_bytes", "before": gz_total, "after": max(0, gz_total - gz)}


def _leaves(leaving: list[str], init_bytes: dict[str, int]) -> list[dict[str, Any]]:
    """evidence.leaves_initial_load: the 15 largest modules leaving the initial load, with minified bytes."""
    return [{"module": n, "minified_bytes": init_bytes.get(n, 0)} for n in leaving[:15]]


def _leaving_initial(bundle: Bundle, edges: dict[str, list[str]], starts, init_bytes: dict[str, int],
                     target: str, importers: set[str]) -> tuple[list[str], int, int, str]:
    """What leaves the initial load when `importers` import `target` dynamically instead of statically: the
    initial modules reachable from `target` and no longer from the entry `starts` (largest first), their
    minified bytes, and the gzip estimate with its basis (_gzip_est)."""
    without = {k: [x for x in v if not (x == target and k in importers)] for k, v in edges.items()}
    stays = graph.reach(starts, without)
    leaving = sorted((graph.reach([target], edges) & set(init_bytes)) - stays, key=lambda n: -init_bytes.get(n, 0))
    raw = sum(init_bytes.get(n, 0) for n in leaving)
    gz, basis = _gzip_est(bundle, raw)
    return leaving, raw, gz, basis


def fe010_inline_source_map(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE010 inline-source-map: production JS/CSS files that carry their source map inline (a
    `sourceMappingURL=data:` comment), so every user downloads the map with the code. Every other size
    perfadvisor reports is measured without it (BuiltFile.inline_map_bytes)."""
    rows = [f for f in bundle.files if f.inline_map_bytes]
    if not rows:
        return []
    initial_files = {p for c in bundle.chunks if c.initial for p in c.files}
    raw = sum(f.inline_map_bytes for f in rows)
    gz = sum(f.inline_map_gzip_bytes or 0 for f in rows)
    init_gz = sum(f.inline_map_gzip_bytes or 0 for f in rows if f.path in initial_files)
    gz_total, _ = initial_gzip(bundle)
    measured = all(f.inline_map_gzip_bytes is not None for f in rows)
    return [Finding(
        rule="FE010", name="inline-source-map", area=AREA,
        severity="high" if init_gz >= HIGH_SAVING_GZIP_BYTES else "medium", confidence="verified",
        title=f"{len(rows)} production file(s) ship their source map inline: {fmt_bytes(raw)} "
              f"({fmt_bytes(gz)} gzip) users download for nothing",
        detail=(f"{', '.join(f.path for f in rows[:3])}{' …' if len(rows) > 3 else ''} end in a "
                f"`sourceMappingURL=data:` comment holding the whole source map: {raw:,} bytes, {gz:,} gzip "
                f"({init_gz:,} of them in the initial load), on top of the code. Browsers download it on "
                "every visit although only developer tools use it, and it publishes the original sources. "
                "The sizes in the other findings are of the code alone."),
        key="inline-source-maps",
        evidence={"files": [{"file": f.path, "inline_map_bytes": f.inline_map_bytes,
                             "inline_map_gzip_bytes": f.inline_map_gzip_bytes, "code_bytes": f.raw_bytes,
                             "initial": f.path in initial_files} for f in rows[:20]],
                  "inline_map_bytes": raw, "inline_map_gzip_bytes": gz, "measured": measured},
        impact=({"metric": "initial_js_gzip_bytes", "before": gz_total + init_gz, "after": gz_total}
                if init_gz else None),
        action={"kind": "config", "file": config_name(bundle.bundler),
                "snippet": _no_inline_map_snippet(bundle.bundler)},
        references=(("https://webpack.js.org/configuration/devtool/",) if bundle.bundler.get("name") == "webpack"
                    else ("https://vite.dev/config/build-options#build-sourcemap",)),
    )]


def _handler_head(handler: str) -> str:
    """The snippet's first line of the handler named `handler` (imports.handler_bodies: a function name, or
    "keydown listener" for an addEventListener callback), made async."""
    if handler.endswith(" listener"):
        return f" addEventListener(\"{handler.split()[0]}\", async (…) => {{\n"
    return f" async function {handler}(…) {{\n"


def _handler_findings(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE011's second case: a package in the initial load that one module uses only inside event handlers
    (Import.handlers): `await import()` in the handler takes it out of the initial load."""
    min_saving = _t(settings, "min_split_saving_gzip_bytes", MIN_SPLIT_SAVING_GZIP_BYTES)
    init_bytes = graph.node_bytes(bundle, initial_only=True)
    starts = graph.roots(bundle)
    gz_total, _ = initial_gzip(bundle)
    edges = graph.static_edges(bundle)
    out = []
    for imp in bundle.imports:
        if not imp.handlers or imp.imported not in init_bytes:
            continue
        others = [i for i in bundle.imports if i.kind == "static" and i.imported == imp.imported
                  and i.importer != imp.importer and not i.handlers]
        if any(not graph.is_package(i.importer) for i in others):
            continue  # other app code needs it statically too
        leaving, raw, gz, basis = _leaving_initial(bundle, edges, starts, init_bytes, imp.imported,
                                                   {imp.importer})
        if gz < min_saving:
            continue
        pkg = imp.imported.rsplit("node_modules/", 1)[-1]
        where = ", ".join(imp.handlers)
        out.append(Finding(
            rule="FE011", name="on-demand-package", area=AREA,
            severity="high" if gz >= HIGH_SAVING_GZIP_BYTES else "medium", confidence="estimated",
            title=f"{pkg} is used only in {where} ({imp.importer}): import it there with await import() "
                  f"(~{fmt_bytes(gz)} gzip out of the initial load)",
            detail=(f"{imp.importer} imports {pkg} statically but uses it only inside the event handler(s) "
                    f"{where} (a lexical scan of the source), so {raw:,} minified bytes (~{gz:,} gzip, from "
                    f"{basis}) download on every first visit for a click that may never come. Loading it in "
                    "the handler fetches it on first use instead."),
            key=f"handler:{imp.importer}:{imp.imported}",
            evidence={"module": imp.importer, "package": pkg, "handlers": list(imp.handlers),
                      "leaves_initial_load": _leaves(leaving, init_bytes),
                      "estimated_saving_bytes": raw, "estimated_saving_gzip_bytes": gz},
            impact=_initial_js_cut(gz_total, gz),
            action={"kind": "code_change", "file": imp.importer,
                    "snippet": (f"// {imp.importer}\n-import … from \"{imp.specifier}\";\n"
                                + _handler_head(imp.handlers[0])
                                + f"+  const {{ default: lib }} = await import(\"{imp.specifier}\");\n"
                                "   … use lib as before …\n }")},
            references=("https://developer.mozilla.org/en-US/docs/Web/JavaScript/Reference/Operators/import",),
        ))
    return out


MEASURE_WORDS = {"sourcemap": "minified bytes attributed through the source maps",
                 "stats": "the bundler's module sizes before minification (over-counts)"}


def _lazy_component_snippet(imp, spec: str) -> str:
    """The React.lazy + Suspense change at one render site `imp` (an Import with `conditional` guards and
    `binding` (exported, local)); `spec` is the specifier to import() (the module itself, not a barrel)."""
    exported, local = (tuple(imp.binding) + ("", ""))[:2]
    local = local or "Component"
    loader = (f"import(\"{spec}\")" if exported in ("default", "") else
              f"import(\"{spec}\").then((m) => ({{ default: m.{exported} }}))")
    guard = imp.conditional[0]
    render = (f"\n {{{guard} && (\n+  <Suspense fallback={{null}}>\n     <{local} … />\n+  </Suspense>\n )}}"
              if not guard.startswith("!(") else
              f"\n // where it renders (when {guard}):\n+<Suspense fallback={{null}}>\n   <{local} … />\n+</Suspense>")
    return (f"// {imp.importer}\n-import … {local} … from \"{imp.specifier}\";\n"
            f"+import {{ lazy, Suspense }} from \"react\";\n+const {local} = lazy(() => {loader});\n …" + render)


def _lazy_spec(imp, comp: str) -> str:
    """The specifier for import()ing `comp` from `imp.importer`: the one written, or, when it named a barrel,
    the module's own path relative to the importer (a barrel would keep everything it re-exports)."""
    stem = comp.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if imp.specifier.rstrip("/").endswith(stem):
        return imp.specifier
    rel = posixpath.relpath(comp.rsplit(".", 1)[0], posixpath.dirname(imp.importer))
    return rel if rel.startswith(".") else "./" + rel


def _conditional_findings(bundle: Bundle, settings: Settings, reported: set[str]) -> list[Finding]:
    """FE011's third case: an app component imported statically whose every JSX use is a conditional render
    (Import.conditional: `open && <ImportDialog/>`, a ternary, `if (c) return <X/>`), on a route everyone
    visits, that brings modules nothing else in the initial load needs. React.lazy at the render site(s)
    takes them out of the initial load. `reported`: components the route case already advised (skipped).
    Same threshold as the other cases: min_split_saving_gzip_bytes."""
    min_saving = _t(settings, "min_split_saving_gzip_bytes", MIN_SPLIT_SAVING_GZIP_BYTES)
    init_bytes = graph.node_bytes(bundle, initial_only=True)
    edges = graph.static_edges(bundle)
    starts = graph.roots(bundle)
    everything = graph.reach(starts, edges) & set(init_bytes)
    routes = {r.component for r in bundle.routes}  # FE002's business
    gz_total, _ = initial_gzip(bundle)
    into: dict[str, list] = defaultdict(list)
    for i in bundle.imports:
        if i.kind == "static" and not graph.is_package(i.imported):
            into[i.imported].append(i)
    out = []
    for comp, imps in sorted(into.items()):
        if comp in reported or comp in starts or comp in routes or comp not in everything:
            continue
        if not all(i.conditional for i in imps):
            continue  # rendered unconditionally somewhere, or used other than as a JSX element
        sites = {i.importer for i in imps}
        leaving, raw, gz, basis = _leaving_initial(bundle, edges, starts, init_bytes, comp, sites)
        if gz < min_saving:
            continue
        pkgs = [n.rsplit("node_modules/", 1)[-1] for n in leaving if graph.is_package(n)]
        measures = sorted({m.measure for m in bundle.modules if node_of(m.path) in set(leaving)})
        how = "; ".join(MEASURE_WORDS.get(m, m) for m in measures)
        where = "; ".join(f"{i.importer} when {' / '.join(i.conditional)}" for i in sorted(imps, key=lambda x: x.importer))
        what = ", ".join(pkgs[:4]) + (" …" if len(pkgs) > 4 else "") if pkgs else "its own code"
        out.append(Finding(
            rule="FE011", name="on-demand-package", area=AREA,
            severity="high" if gz >= HIGH_SAVING_GZIP_BYTES else "medium", confidence="estimated",
            title=f"{comp} renders only conditionally ({where}) but loads {what} up front: load it with "
                  f"React.lazy (~{fmt_bytes(gz)} gzip out of the initial load)",
            detail=(f"Every JSX use of {comp} is a conditional render ({where}; a lexical scan of the source), "
                    f"yet its static import puts it and {what} in the initial load of every visit. With "
                    f"React.lazy and a Suspense boundary at the render site it downloads when first rendered: "
                    f"{raw:,} bytes ({how}; ~{gz:,} gzip, from {basis}) leave the initial load: "
                    f"{', '.join(leaving[:5])}{' …' if len(leaving) > 5 else ''}. Estimate: modules still "
                    "reachable from the entry without this component stay."),
            key=f"conditional:{comp}",
            evidence={"component": comp, "packages": pkgs,
                      "render_sites": [{"module": i.importer, "guards": list(i.conditional),
                                        "binding": list(i.binding)} for i in sorted(imps, key=lambda x: x.importer)],
                      "leaves_initial_load": _leaves(leaving, init_bytes),
                      "estimated_saving_bytes": raw, "estimated_saving_gzip_bytes": gz,
                      "measured_as": how, "gzip_basis": basis},
            impact=_initial_js_cut(gz_total, gz),
            action={"kind": "code_change", "file": sorted(sites)[0],
                    "snippet": "\n\n".join(_lazy_component_snippet(i, _lazy_spec(i, comp))
                                           for i in sorted(imps, key=lambda x: x.importer))},
            references=("https://react.dev/reference/react/lazy",
                        "https://react.dev/learn/conditional-rendering"),
        ))
    return out


def fe011_on_demand_package(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE011 on-demand-package: a package in the initial load that app code reaches only through some
    routes (e.g. a chart library used by one page's component): the component that imports it is advised to
    be loaded with React.lazy where it is rendered, with the bytes that leave the initial load (estimated,
    like FE002: modules still reachable from the entry without that component stay); and a package one module
    uses only inside event handlers, advised as `await import()` there (_handler_findings). Reported from
    `min_split_saving_gzip_bytes` gzip."""
    min_saving = _t(settings, "min_split_saving_gzip_bytes", MIN_SPLIT_SAVING_GZIP_BYTES)
    init_bytes = graph.node_bytes(bundle, initial_only=True)
    edges = graph.static_edges(bundle)
    starts = graph.roots(bundle)
    everything = graph.reach(starts, edges) & set(init_bytes)
    route_comps = {r.component for r in bundle.routes if not is_landing(r)}
    landing = {r.component for r in bundle.routes if is_landing(r)}
    # what the entry needs without entering any route but the landing page
    always = graph.reach(starts, edges, exclude=route_comps)
    gz_total, _ = initial_gzip(bundle)
    importers: dict[str, set[str]] = defaultdict(set)
    for i in bundle.imports:
        if i.kind == "static" and graph.is_package(i.imported) and not graph.is_package(i.importer):
            importers[i.importer].add(i.imported)
    out = []
    for comp in sorted(importers):
        if comp in starts or comp in route_comps or comp in landing or comp in always or comp not in everything:
            continue
        pkgs = sorted(p for p in importers[comp] if p in everything)
        stays = graph.reach(starts, edges, exclude={comp}) & set(init_bytes)
        leaving = sorted(everything - stays, key=lambda n: -init_bytes.get(n, 0))
        heavy = [p for p in pkgs if p in leaving]
        if not heavy:
            continue
        raw = sum(init_bytes.get(n, 0) for n in leaving)
        gz, basis = _gzip_est(bundle, raw)
        if gz < min_saving:
            continue
        ch = graph.chain(starts, comp, edges)
        if not ch or len(ch) < 2:
            continue
        parent = ch[-2]
        needed_by = sorted({r.path or r.component for r in bundle.routes if r.component in route_comps and
                            comp in graph.reach([r.component], edges)})
        spec = next((i.specifier for i in bundle.imports if i.importer == parent and i.imported == comp
                     and i.kind == "static"), "")
        stem = comp.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        barrel_users: list[str] = []
        if not spec.rstrip("/").endswith(stem):  # imported through a barrel: import() the module itself
            # a bundler keeps every module a barrel re-exports when the app is not marked side-effect free,
            # so other static imports of the same barrel would keep the component in the entry chunk
            barrel_users = sorted({i.importer for i in bundle.imports if i.specifier == spec and spec
                                   and i.kind == "static" and i.importer != parent and i.importer in everything})
            rel = posixpath.relpath(comp.rsplit(".", 1)[0], posixpath.dirname(parent))
            spec = rel if rel.startswith(".") else "./" + rel
        barrel_text = (f" {comp} is re-exported by the barrel that {', '.join(barrel_users)} also import(s) "
                       "statically: without `\"sideEffects\": false` in package.json the bundler keeps everything "
                       "a barrel re-exports, so import from the modules themselves there too."
                       if barrel_users else "")
        barrel_snippet = (f"\n\n// and in {', '.join(barrel_users)}: import from the module itself, not the barrel "
                          "(or add \"sideEffects\": false to package.json)" if barrel_users else "")
        names = ", ".join(p.rsplit("node_modules/", 1)[-1] for p in heavy)
        out.append(Finding(
            rule="FE011", name="on-demand-package", area=AREA,
            severity="high" if gz >= HIGH_SAVING_GZIP_BYTES else "medium", confidence="estimated",
            title=f"{names} is needed only by {', '.join(needed_by) or 'some routes'}: load {comp} on demand "
                  f"(~{fmt_bytes(gz)} gzip out of the initial load)",
            detail=(f"{comp} imports {names} and is reached only through "
                    f"{', '.join(needed_by) or 'routes'} ({' → '.join(ch)}), yet it downloads on every first visit, "
                    f"the landing page included. Loading {comp} with React.lazy in {parent} takes an estimated "
                    f"{raw:,} minified bytes (~{gz:,} gzip, from {basis}) out of the initial load: "
                    f"{', '.join(leaving[:5])}{' …' if len(leaving) > 5 else ''}. Estimate: modules still "
                    "reachable from the entry without this component stay." + barrel_text),
            key=comp,
            evidence={"component": comp, "packages": [p.rsplit("node_modules/", 1)[-1] for p in heavy],
                      "needed_by_routes": needed_by, "import_at": parent, "import_chain": ch,
                      "leaves_initial_load": _leaves(leaving, init_bytes),
                      "estimated_saving_bytes": raw, "estimated_saving_gzip_bytes": gz,
                      "barrel_importers": barrel_users},
            impact=_initial_js_cut(gz_total, gz),
            action={"kind": "code_change", "file": parent,
                    "snippet": advice.lazy_route(parent, spec, comp) + barrel_snippet},
            references=("https://react.dev/reference/react/lazy",),
        ))
    return (out + _conditional_findings(bundle, settings, {f.evidence["component"] for f in out})
            + _handler_findings(bundle, settings))


# TypeScript `module` values that emit CommonJS: import() becomes require(), imports become require()
# (https://www.typescriptlang.org/tsconfig/#module; webpack tree-shakes and splits only ES modules,
# https://webpack.js.org/guides/tree-shaking/).
TS_COMMONJS_MODULES = ("commonjs", "umd", "amd")


def fe012_ts_commonjs(bundle: Bundle, settings: Settings) -> list[Finding]:
    """FE012 ts-commonjs: TypeScript emits CommonJS (tsconfig `module: commonjs`, or the build shows the app's
    own .ts modules as CommonJS), so import() becomes require() and the dynamic import's target lands in
    the initial load, and unused exports cannot be dropped. The cost: initial bytes reachable only from
    dynamic imports (measured where the bundle is; estimated as what an ES-module build would split off)."""
    ts_mod = str(bundle.bundler.get("ts_module") or "")
    ts_app = {m.path for m in bundle.modules if m.path.endswith((".ts", ".tsx")) and not m.package_path}
    cjs_app = sorted({b["module"] for b in bundle.bailouts if b["module"] in ts_app
                      and any("CommonJS" in r for r in b["reasons"])})
    if not ts_app or not (ts_mod in TS_COMMONJS_MODULES or cjs_app):
        return []
    init_bytes = graph.node_bytes(bundle, initial_only=True)
    edges = graph.static_edges(bundle)
    starts = graph.roots(bundle)
    static_reach = graph.reach(starts, edges)
    dyn_targets = sorted({i.imported for i in bundle.imports if i.kind == "dynamic" and i.imported in init_bytes
                          and i.imported not in static_reach})
    stuck = sorted(graph.reach(dyn_targets, edges) - static_reach & set(init_bytes),
                   key=lambda n: -init_bytes.get(n, 0))
    raw = sum(init_bytes.get(n, 0) for n in stuck)
    gz, basis = _gzip_est(bundle, raw)
    gz_total, _ = initial_gzip(bundle)
    tsconfig = bundle.bundler.get("tsconfig") or "tsconfig.json"
    source = (f"{tsconfig} sets \"module\": \"{ts_mod}\"" if ts_mod in TS_COMMONJS_MODULES else
              f"webpack reports the app's own TypeScript modules as CommonJS ({', '.join(cjs_app[:3])})")
    return [Finding(
        rule="FE012", name="ts-commonjs", area=AREA,
        severity="high" if gz >= HIGH_SAVING_GZIP_BYTES else "medium" if raw else "low",
        confidence="estimated",
        title=(f"TypeScript emits CommonJS: {len(dyn_targets)} import() kept in the initial load "
               f"(~{fmt_bytes(gz)} gzip)" if dyn_targets else "TypeScript emits CommonJS: tree shaking and "
               "code splitting of the app's modules are off"),
        detail=(f"{source}. TypeScript then compiles import() to require(), so the bundler cannot split "
                f"{', '.join(dyn_targets[:3]) or 'anything'} off, and its CommonJS exports cannot be "
                f"tree-shaken. In the initial load only because of it: {', '.join(stuck[:5])}"
                f"{' …' if len(stuck) > 5 else ''} — {raw:,} minified bytes (~{gz:,} gzip, from {basis})."),
        key="ts-module",
        evidence={"tsconfig": tsconfig, "module": ts_mod or None, "commonjs_app_modules": cjs_app[:10],
                  "dynamic_imports_in_initial_load": dyn_targets,
                  "stuck_in_initial_load": [{"module": n, "minified_bytes": init_bytes.get(n, 0)} for n in stuck[:15]],
                  "estimated_saving_bytes": raw, "estimated_saving_gzip_bytes": gz},
        impact=(_initial_js_cut(gz_total, gz)
                if raw else None),
        action={"kind": "config", "file": tsconfig,
                "snippet": (f"// {tsconfig}\n\"compilerOptions\": {{\n-  \"module\": \"{ts_mod or 'commonjs'}\",\n"
                            "+  \"module\": \"esnext\",\n+  \"moduleResolution\": \"bundler\",\n}\n"
                            "// (a Node-side tool that needs CommonJS can keep its own tsconfig)")},
        references=("https://www.typescriptlang.org/tsconfig/#module",
                    "https://webpack.js.org/guides/code-splitting/#dynamic-imports"),
    )]


FE_RULES = (fe001_initial_js_budget, fe002_lazy_route, fe003_heavy_package, fe004_duplicate_package,
            fe005_oversized_chunk, fe006_defeated_dynamic_import, fe007_tree_shaking_blocked, fe008_heavy_image,
            fe009_context_module, fe010_inline_source_map, fe011_on_demand_package,
            fe012_ts_commonjs)


def run(bundle: Bundle, settings: Settings) -> list[Finding]:
    """All FE rules on one bundle."""
    out: list[Finding] = []
    for rule in FE_RULES:
        out.extend(rule(bundle, settings))
    return out
