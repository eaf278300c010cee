"""OUT/index.html and OUT/index.md of `perfadvisor validate`: one page that links the analysis, the applied
files and the comparison, and says for each applied recommendation whether the metric it claimed moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from advisor.fmt import fmt_bytes, impact_text

VERDICT_CLASS = {"confirmed": "ok", "worse": "bad", "not confirmed": "warn", "not measured": "muted",
                 "not applied": "muted"}


def fmt_measure(v: float | None, unit: str) -> str:
    """A measured value with its unit: 0.42 share → "42.0%", 12.3 ms → "12.3 ms", bytes → "1.5 kB"."""
    if v is None:
        return "–"
    if unit == "share":
        return f"{100 * v:.1f}%"
    if unit == "bytes":
        return fmt_bytes(v)
    if unit == "ms":
        return f"{v:,.0f} ms" if abs(v) >= 100 else f"{v:,.2f} ms"
    return f"{v:,.3g} {unit}".strip()


def fmt_change(row: dict[str, Any]) -> str:
    """"−87.5%" (relative) for times and bytes, "+22.7 pp" (percentage points) for shares, "–" when unknown."""
    b, a = row.get("before"), row.get("after")
    if row.get("unit") == "share" and b is not None and a is not None:
        return f"{100 * (a - b):+.1f} pp".replace("-", "−")
    c = row.get("change")
    return "–" if c is None else f"{100 * c:+.1f}%".replace("-", "−")


def measured_confidence(row: dict[str, Any]) -> str:
    """How far a measured row can be trusted, in words (effects.moved's small-sample rule)."""
    n_b, n_a = len(row.get("before_runs") or []), len(row.get("after_runs") or [])
    base = f"medians of {n_b} vs {n_a} runs"
    if row.get("direction") == "same":
        return base + "; change below the threshold"
    return base + ("; no overlap" if row.get("beyond_spread") else "; runs overlap")


def _env() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(measure=fmt_measure, change=fmt_change, confidence=measured_confidence,
                       impact=lambda claimed: impact_text({"impact": claimed}) if claimed else "–",
                       ms=lambda v: "–" if v is None else f"{v:,.0f} ms" if v >= 100 else f"{v:,.1f} ms",
                       pct=lambda v: "–" if v is None else f"{100 * v:+.1f}%".replace("-", "−"))
    env.globals["VERDICT_CLASS"] = VERDICT_CLASS
    return env


def render_html(doc: dict[str, Any]) -> str:
    return _env().get_template("validate.html.j2").render(d=doc)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict[str, Any]) -> str:
    out = ["# perfadvisor validate", "", f"**{_cell(doc['headline'])}**", ""]
    if doc["status"] == "stopped":
        out += [f"Stopped at **{doc['stopped_at']}**: {_cell(doc['error'])}. Everything measured before that is "
                "kept below and in the directory.", ""]
    out += ["## Steps", "", "| step | status | time |", "|---|---|---|"]
    out += [f"| {s['step']} | {s['status']}{' — ' + _cell(s['note']) if s.get('note') else ''} | "
            f"{s['duration_s'] if s['duration_s'] is not None else '–'} s |" for s in doc["steps"]]
    if doc["recommendations"]:
        out += ["", "## Each applied recommendation and its measured effect", "",
                "| finding | applied | measured | before → after | change | verdict |", "|---|---|---|---|---|---|"]
        for r in doc["recommendations"]:
            rows = r["measured"] or [None]
            for i, m in enumerate(rows):
                head = f"{r['rule']} {_cell(r['title'])}" if i == 0 else ""
                how = _cell(r["applied"]) if i == 0 else ""
                if m is None and not r["in_effect"]:
                    out.append(f"| {head} | {how} | not measured: the change was not made | | | {r['verdict']} |")
                elif m is None:
                    res = {True: "the finding no longer fires after the change",
                           False: "the finding still fires after the change"}.get(r["resolved_after"], "–")
                    out.append(f"| {head} | {how} | {res} | | | {r['verdict']} |")
                else:
                    out.append(f"| {head} | {how} | {_cell(m.get('subject', ''))} {_cell(m['metric'])} | "
                               f"{fmt_measure(m['before'], m['unit'])} → {fmt_measure(m['after'], m['unit'])} | "
                               f"{fmt_change(m)} | {r['verdict'] if i == 0 else ''} |")
    if doc["endpoints"]:
        out += ["", "## Endpoints (p95, steady state)", "", "| endpoint | before | after | change | verdict |",
                "|---|---|---|---|---|"]
        for e in doc["endpoints"]:
            out.append(f"| `{_cell(e['key'])}` | {_ms(e['p95_before_ms'])} | {_ms(e['p95_after_ms'])} | "
                       f"{_pct(e['p95_change'])} | {e['verdict']} |")
    links = [("analysis", "analysis/report.html"), ("analysis after", "analysis-after/report.html"),
             ("comparison", "compare/compare.html"), ("applied files", "apply/")]
    out += ["", "Files: " + " · ".join(f"[{n}]({p})" for n, p in links), ""]
    return "\n".join(out)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:+.1f}%"


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f} ms" if v >= 100 else f"{v:,.1f} ms"


def write_page(doc: dict[str, Any], out: Path) -> None:
    """Writes OUT/index.html and OUT/index.md from the validate.json document."""
    (out / "index.html").write_text(render_html(doc), encoding="utf-8")
    (out / "index.md").write_text(render_markdown(doc), encoding="utf-8")
