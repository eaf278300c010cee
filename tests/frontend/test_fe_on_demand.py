"""Libraries only some routes need, and route groups as split points (issue 16), on tests/fixtures/vite-ts-app
built here; the saving estimate is checked against a real rebuild with the advised change."""

from __future__ import annotations

from advisor.config import Settings
from analyzers.frontend import load_bundle, rules
from tests.frontend.conftest import build, loaded, project_copy


def _by(found, code):
    return [f for f in found if f.rule == code]


def test_chart_library_needed_by_one_route_is_advised_on_demand(ts_project):
    found = rules.run(loaded(ts_project / "dist"), Settings())
    od = [f for f in _by(found, "FE011") if not f.key.startswith("handler:")]
    assert [f.evidence["component"] for f in od] == ["src/components/SalesChart.tsx"]
    f = od[0]
    assert f.evidence["packages"] == ["chart.js"] and f.evidence["needed_by_routes"] == ["/dashboard"]
    assert f.evidence["import_at"] == "src/pages/Dashboard.tsx" and f.action["file"] == "src/pages/Dashboard.tsx"
    # imported through the barrel: the advice imports the module itself, not the barrel
    assert 'import("../components/SalesChart")' in f.action["snippet"]
    # react-dom and the router are needed on every route: never advised on demand
    assert not any("react" in p for x in od for p in x.evidence["packages"])


def test_nested_route_subtree_is_one_split_point(ts_project):
    lazy = _by(rules.run(loaded(ts_project / "dist"), Settings()), "FE002")
    by_comp = {f.evidence["component"]: f for f in lazy}
    assert "src/pages/server/ServerApp.tsx" in by_comp
    group = by_comp["src/pages/server/ServerApp.tsx"]
    assert group.evidence["route_group"] is True and group.evidence["route"] == "/server/:id/*"
    leaving = {x["module"] for x in group.evidence["leaves_initial_load"]}
    assert {"node_modules/@xterm/xterm", "src/pages/server/ServerConsole.tsx"} <= leaving
    # the inner routes are carried by the group, not advised again
    assert "src/pages/server/ServerConsole.tsx" not in by_comp


def test_on_demand_estimate_matches_a_real_rebuild(ts_project, tmp_path):
    """Two rebuilds: every page importing from the modules instead of the barrel (the app is not marked
    side-effect free, so a static import of the barrel keeps all it re-exports in the entry chunk: that alone
    moves moment out too, which is not this finding's saving), then also SalesChart lazy in Dashboard as
    advised: the estimate is for the second step."""
    f = [x for x in _by(rules.run(loaded(ts_project / "dist"), Settings()), "FE011") if x.key == x.evidence.get("component")][0]
    estimate = f.evidence["estimated_saving_gzip_bytes"]
    # the advice's second half: Home imports Badge through the same barrel, which would keep SalesChart
    assert f.evidence["barrel_importers"] == ["src/pages/Home.tsx"]
    proj = project_copy("vite-ts-app", tmp_path / "lazy-chart")
    pages = proj / "src" / "pages"
    for name, direct in (("Home", 'from "@/components/Badge"'), ("Admin", 'from "@/components/ExportButton"'),
                         ("Dashboard", 'from "@/components/SalesChart"')):
        text = (pages / f"{name}.tsx").read_text().replace('import { SalesChart } from "@/components"',
                                                           'import SalesChart from "@/components"')
        (pages / f"{name}.tsx").write_text(text.replace('from "@/components"', direct, 1))
    before = load_bundle(build(proj))
    page = pages / "Dashboard.tsx"
    text = page.read_text()
    text = text.replace('import SalesChart from "@/components/SalesChart";\n',
                        'import { lazy, Suspense } from "react";\n'
                        'const SalesChart = lazy(() => import("../components/SalesChart"));\n')
    text = text.replace("return <SalesChart points={points} />;",
                        "return <Suspense fallback={null}><SalesChart points={points} /></Suspense>;")
    page.write_text(text)
    after = load_bundle(build(proj))
    real_drop = before.initial_bytes("js", "gzip_bytes") - after.initial_bytes("js", "gzip_bytes")
    assert real_drop > 0
    assert abs(estimate - real_drop) / real_drop < 0.25, (estimate, real_drop)


def test_formatter_used_only_in_a_click_handler_is_advised_as_await_import(ts_project, tmp_path):
    before = loaded(ts_project / "dist")
    f = next(x for x in _by(rules.run(before, Settings()), "FE011") if x.key.startswith("handler:"))
    assert f.evidence["module"] == "src/components/ExportButton.tsx" and f.evidence["package"] == "moment"
    assert f.evidence["handlers"] == ["handleExport"] and 'await import("moment")' in f.action["snippet"]
    estimate = f.evidence["estimated_saving_gzip_bytes"]
    proj = project_copy("vite-ts-app", tmp_path / "await-import")
    btn = proj / "src" / "components" / "ExportButton.tsx"
    text = btn.read_text().replace('import moment from "moment";\n', "")
    text = text.replace("  function handleExport() {\n",
                        '  async function handleExport() {\n    const { default: moment } = await import("moment");\n')
    btn.write_text(text)
    after = load_bundle(build(proj))
    assert not [x for x in _by(rules.run(after, Settings()), "FE011") if x.key.startswith("handler:")]
    real_drop = before.initial_bytes("js", "gzip_bytes") - after.initial_bytes("js", "gzip_bytes")
    assert real_drop > 0 and abs(estimate - real_drop) / real_drop < 0.25, (estimate, real_drop)


def test_handler_only_is_lexical_and_conservative():
    from analyzers.frontend.imports import handler_only, strip_comments

    code = strip_comments('import m from "m";\nfunction handleX() { m(); }\nconst y = () => { return 1; };\n')
    end = code.index(";") + 1
    assert handler_only(code, end, ["m"]) == ("handleX",)
    used_outside = code + "m();\n"
    assert handler_only(used_outside, end, ["m"]) == ()
    jsx = strip_comments('import m from "m";\nconst B = () => <b onClick={async () => { m(); }} />;\n')
    assert handler_only(jsx, jsx.index(";") + 1, ["m"]) == ("onClick",)
    assert handler_only(code, end, ["unused"]) == ()
    # a keyboard shortcut registered as a DOM listener is a handler too
    keys = strip_comments('import fmt from "fmt";\nuseEffect(() => {\n  window.addEventListener("keydown", (e) => {'
                          '\n    if (e.key === "k") fmt(e);\n  });\n}, []);\n')
    assert handler_only(keys, keys.index(";") + 1, ["fmt"]) == ("keydown listener",)
    assert handler_only(keys + "fmt(1);\n", keys.index(";") + 1, ["fmt"]) == ()
