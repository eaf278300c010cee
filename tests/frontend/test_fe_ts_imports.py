"""Imports as the compiler sees them (issue 16), on tests/fixtures/vite-ts-app built here: `@/` aliases from
tsconfig paths and resolve.alias, `import type` and type-only re-exports left out, named imports through a
re-export barrel followed to the module that defines them, comments not read as imports."""

from __future__ import annotations

from pathlib import Path

from analyzers.frontend import imports, project
from tests.frontend.conftest import loaded


def _edges(b):
    return {(i.importer, i.imported, i.kind) for i in b.imports}


def test_alias_imports_resolve_to_the_app_modules(ts_project):
    assert project.aliases(ts_project) == {"@/": "src/"}
    b = loaded(ts_project / "dist")
    e = _edges(b)
    assert ("src/main.tsx", "src/App.tsx", "static") in e
    assert ("src/App.tsx", "src/pages/Dashboard.tsx", "static") in e
    assert ("src/App.tsx", "src/pages/Admin.tsx", "dynamic") in e
    routes = {r.path: r for r in b.routes if r.how == "router"}
    assert routes["/dashboard"].component == "src/pages/Dashboard.tsx"
    assert routes["/admin"].lazy and not routes["/dashboard"].lazy


def test_type_only_imports_and_exports_are_not_edges(ts_project):
    b = loaded(ts_project / "dist")
    assert not any(i.imported.startswith("src/components/types") for i in b.imports)
    # types.ts imports chart.js for types only: no edge from it, and chart.js comes only through SalesChart
    assert {i.importer for i in b.imports if i.imported == "node_modules/chart.js"} == {"src/components/SalesChart.tsx"}


def test_barrel_imports_go_to_the_defining_module(ts_project):
    b = loaded(ts_project / "dist")
    e = _edges(b)
    assert ("src/pages/Dashboard.tsx", "src/components/SalesChart.tsx", "static") in e
    assert ("src/pages/Home.tsx", "src/components/Badge.tsx", "static") in e
    assert ("src/pages/Admin.tsx", "src/components/ExportButton.tsx", "static") in e
    # Home needs only Badge: not the chart nor the export button through the barrel
    assert not {x for x in e if x[0] == "src/pages/Home.tsx" and x[1] != "src/components/Badge.tsx"
                and not x[1].startswith("node_modules")}


def test_comment_is_not_an_import():
    text = '// later: await import("moment")\n/* import x from "lodash" */\nconst u = "http://a//b";\n'
    assert imports.specifiers(text) == []
    assert imports.scan({"src/a.js": text}, ["src/a.js", "node_modules/moment/moment.js",
                                             "node_modules/lodash/lodash.js"]) == []


def test_tsconfig_jsonc_and_webpack_alias(tmp_path: Path):
    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "tsconfig.app.json").write_text('{\n // c\n "compilerOptions": {"baseUrl": "./", '
                                               '"paths": {"~/*": ["app/*"],},},\n}')
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "webpack.prod.js").write_text(
        'module.exports = { resolve: { alias: { "@": path.resolve(__dirname, "..", "src") } } };')
    assert project.aliases(tmp_path) == {"~/": "app/", "@/": "src/"}
    assert project.config_file(tmp_path, "webpack") == "config/webpack.prod.js"
