"""report.html: one self-contained, autoescaped page (inline CSS, inline SVG charts, no JavaScript)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from advisor.fmt import (
    BYTE_CONVENTION,
    first_changes,
    fmt_scalar,
    fmt_value,
    impact_exact,
    impact_text,
    label,
)
from reports import charts
from reports import frontend as fe


def _env() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: f"{100 * float(v):.1f}%"
    env.filters["impact"] = impact_text
    env.filters["num"] = lambda v: f"{v:,.1f}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else v)
    env.filters["value"] = render_value
    env.filters["label"] = label
    env.filters["exact"] = impact_exact
    return env


#: Rows of a list of records shown before the rest is folded into <details>.
_MAX_ROWS = 12


def _scalar(v: Any, key: str = "") -> str:
    return fmt_value(key, v) if key else fmt_scalar(v)


def render_value(v: Any, depth: int = 0, key: str = "") -> Markup:
    """Evidence and coverage values as HTML: a list of records is a table with readable headers (advisor.fmt.label)
    and values in the unit their key names (advisor.fmt.fmt_value: bytes as kB/MB, ms as s/min), a record a
    key/value table, a short list a comma list; every text is escaped; keys ending in _svg become images (see
    _image_data_uri). Long lists are folded into <details>. Never a Python repr."""
    if isinstance(v, dict):
        if not v:
            return Markup("–")
        if depth >= 3:
            return escape("; ".join(f"{label(k)}: {_scalar(x, k) if not isinstance(x, dict | list) else _flat(x)}"
                                    for k, x in v.items()))
        rows = [Markup("<tr><th>{}</th><td>{}</td></tr>").format(label(k), _svg_or_value(k, x, depth))
                for k, x in v.items()]
        return Markup('<table class="kv">') + Markup("").join(rows) + Markup("</table>")
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v):
            keys: list[str] = []
            for x in v:
                keys += [k for k in x if k not in keys and not k.endswith("_svg")]
            head = Markup("").join(Markup("<th>{}</th>").format(label(k)) for k in keys)
            body = [Markup("<tr>") + Markup("").join(
                Markup("<td>{}</td>").format(render_value(x.get(k), depth + 1, k)) for k in keys) + Markup("</tr>")
                for x in v]
            table = Markup("<table><tr>{}</tr>").format(head) + Markup("").join(body[:_MAX_ROWS])
            if len(body) > _MAX_ROWS:
                table += Markup("<tr><td colspan=\"{}\"><details><summary>{} more</summary><table>{}</table>"
                                "</details></td></tr>").format(len(keys), len(body) - _MAX_ROWS,
                                                                Markup("").join(body[_MAX_ROWS:]))
            return table + Markup("</table>")
        items = [render_value(x, depth + 1, key) for x in v]
        if len(items) > _MAX_ROWS:
            return Markup(", ").join(items[:_MAX_ROWS]) + Markup(" <details><summary>{} more</summary>{}</details>"
                                                                  ).format(len(items) - _MAX_ROWS,
                                                                           Markup(", ").join(items[_MAX_ROWS:]))
        return Markup(", ").join(items) if items else Markup("–")
    return escape(_scalar(v, key))


def _flat(v: Any) -> str:
    """A deeply nested value as plain words (no brackets, no quotes): "a, b" / "key: value; …"."""
    if isinstance(v, dict):
        return "; ".join(f"{label(k)}: {_flat(x) if isinstance(x, dict | list) else _scalar(x, k)}"
                         for k, x in v.items()) or "–"
    if isinstance(v, list):
        return ", ".join(_flat(x) if isinstance(x, dict | list) else fmt_scalar(x) for x in v) or "–"
    return fmt_scalar(v)


def _svg_or_value(key: str, v: Any, depth: int) -> Markup:
    if key.endswith("_svg") and isinstance(v, str):
        return Markup('<img alt="{}" style="max-width:100%" src="{}">').format(key, _image_data_uri(v))
    return render_value(v, depth + 1, key)


def _as_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _timeseries_svgs(specs: Any) -> list[Markup]:
    """Inline SVG line charts for evidence["timeseries"] / coverage[area]["timeseries"] (charts.timeseries)."""
    out = []
    for spec in _as_list(specs):
        svg = charts.timeseries(spec)
        if svg:
            out.append(Markup(svg))  # matplotlib escapes every label it writes into the SVG
    return out


def _image_data_uri(svg: str) -> str:
    """An SVG made from outside data (a profile's function names) as an <img> source: a browser runs no
    script inside an image, whatever the SVG holds."""
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


#: PG001 findings that get a before/after cost chart, in rank order. A chart takes matplotlib about 0.2 s, and a
#: schema without indexes can have hundreds of findings (benchmarks/pg_analyze.py: 1,000 charts took 200 s);
#: the rest keep their figures in the finding's statement table.
MAX_COST_CHARTS = 10


def render(report: dict[str, Any]) -> str:
    """The HTML page for a report.json document."""
    figures: dict[str, list[Markup]] = {}
    images: dict[str, str] = {}
    cost_charts = 0
    for f in report["findings"]:  # ranked, most important first
        ev = f.get("evidence") or {}
        stmts = ev.get("statements")
        found = []
        if f["rule"] == "PG001" and isinstance(stmts, list) and cost_charts < MAX_COST_CHARTS:
            svg = charts.cost_before_after(stmts)
            if svg:
                cost_charts += 1
                found.append(Markup(svg))  # generated by matplotlib from numbers and query ids only
        found += _timeseries_svgs(ev.get("timeseries"))
        if found:
            figures[f["id"]] = found
        if isinstance(ev.get("flamegraph_svg"), str):
            images[f["id"]] = _image_data_uri(ev["flamegraph_svg"])
    coverage_figures = {area: _timeseries_svgs(cov.get("timeseries"))
                        for area, cov in report.get("coverage", {}).items() if isinstance(cov, dict)}
    pg = report.get("coverage", {}).get("postgres", {})
    workload_svg = charts.workload_shares(pg.get("top_statements", [])) if pg else None
    how = {f["id"]: fe.finding_lines(f, with_file=False) for f in report["findings"]}  # front-end: how figures were obtained
    coverage_how = {"frontend": fe.coverage_lines(report.get("coverage", {}).get("frontend") or {})}
    return _env().get_template("report.html.j2").render(
        r=report, figures=figures, images=images, coverage_figures=coverage_figures, how=how,
        coverage_how=coverage_how,
        first=first_changes(report), byte_convention=BYTE_CONVENTION,
        workload_svg=Markup(workload_svg) if workload_svg else None)
