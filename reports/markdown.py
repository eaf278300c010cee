"""report.md: GitHub-flavoured Markdown for a PR comment, under GitHub's 65,536-character comment limit
(we keep a margin: MAX_CHARS = 60,000). Evidence goes in <details>."""

from __future__ import annotations

from typing import Any

from advisor.fmt import BYTE_CONVENTION, first_changes, fmt_bytes, impact_exact, impact_text
from reports import frontend as fe

#: GitHub rejects comments over 65,536 characters; we stop at 60,000 to leave room for a bot's wrapper.
MAX_CHARS = 60_000
MAX_QUERY_CHARS = 300


def _short(text: Any, limit: int) -> str:
    s = " ".join(str(text).split())
    return s[:limit - 1] + "…" if len(s) > limit else s


def _cell(text: Any, limit: int = MAX_QUERY_CHARS) -> str:
    """Text for a table cell or paragraph: HTML-escaped (GitHub renders inline HTML), pipes escaped."""
    s = _short(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("|", "\\|").replace("`", "&#96;")


def _code(text: Any, limit: int = MAX_QUERY_CHARS) -> str:
    """An inline code span: its content is shown literally (no entities), so only the backticks that would
    end it and the pipes that would end a table cell are replaced."""
    return "`" + _short(text, limit).replace("`", "'").replace("|", "\\|") + "`"


def _finding_details(f: dict[str, Any]) -> str:
    out = [f"<details><summary><b>{f['rule']}</b> {_cell(f['title'])}</summary>", "", _cell(f["detail"], 2000), ""]
    out += [f"_{_cell(line, 600)}_\n" for line in fe.finding_lines(f)]  # front-end: how figures were obtained
    act = f.get("action") or {}
    blocks = [(key, str(act[key])) for key in ("sql", "snippet", "code") if act.get(key)]
    if act.get("property"):
        env = f"\n# or in the environment: {act['env']}={act.get('value')}" if act.get("env") else ""
        blocks.append(("properties", f"{act['property']}={act.get('value')}{env}"))
    if isinstance(act.get("redis_conf"), list):
        blocks.append(("redis", "\n".join(str(line) for line in act["redis_conf"])))
    for key, body in blocks:
        lang = {"sql": "sql", "properties": "properties"}.get(key, "")
        out += [f"```{lang}", body.replace("```", "`` `"), "```", ""]
    stmts = (f.get("evidence") or {}).get("statements")
    if isinstance(stmts, list) and stmts:
        costs = "cost_before" in stmts[0]
        out.append("| queryid | statement | calls | mean ms |" + (" cost before → after |" if costs else ""))
        out.append("|---|---|--:|--:|" + ("--:|" if costs else ""))
        for s in stmts[:20]:
            row = f"| {s['queryid']} | {_code(s['query'])} | {s['calls']:,} | {s['mean_exec_time_ms']:,.2f} |"
            if costs:
                row += f" {s['cost_before']:,.1f} → {s['cost_after']:,.1f} |"
            out.append(row)
        out.append("")
    out += _image_rows(f)
    if f.get("impact"):
        out += [f"Impact: {_cell(impact_text(f))} (exact: {_cell(impact_exact(f))})", ""]
    out += [f"Confidence: **{f['confidence']}**. Id: `{f['id']}`", "", "</details>", ""]
    return "\n".join(out)


def _image_rows(f: dict[str, Any]) -> list[str]:
    """FE008's images as a table, each WebP/AVIF figure saying whether it was measured or estimated."""
    rows = (f.get("evidence") or {}).get("images") if f.get("rule") == "FE008" else None
    if not isinstance(rows, list) or not rows:
        return []
    out = ["| image | size | WebP | AVIF | how |", "|---|--:|--:|--:|---|"]
    for r in rows[:20]:
        out.append(f"| {_code(r.get('file'), 120)} | {fmt_bytes(r.get('raw_bytes'))} | {fmt_bytes(r.get('webp_bytes'))}"
                   f" | {fmt_bytes(r.get('avif_bytes'))} | {_cell(fe.image_measure(r.get('measure') or 'encoded', short=True))} |")
    return out + [""]


def render(report: dict[str, Any]) -> str:
    """The Markdown summary; never longer than MAX_CHARS (details of low-ranked findings are dropped first)."""
    s = report["summary"]
    head = ["## perfadvisor", ""]
    for name, t in report["targets"].items():
        if t.get("status") == "error":  # a failure comes before anything that could be read as "all is well"
            head.append(f"> **{name} failed:** {_cell(t.get('error'), 400)}")
    if head[-1] != "":
        head.append("")
    head += [" · ".join(f"**{v}** {k}" for k, v in s.items()) + f" — {len(report['findings'])} findings", ""]
    first = first_changes(report)
    head += ["### Do these first", ""]
    head += [f"{i}. **{f['rule']}** {_cell(f['title'], 160)} — {_cell(impact_text(f) or 'effect not quantified')} "
             f"(confidence: {f['confidence']})" for i, f in enumerate(first, 1)] or [
        "Nothing above low severity asks for a change."]
    head += ["", "### All findings", ""]
    for name, t in report["targets"].items():
        if t.get("status") == "skipped":
            head.append(f"- {name}: skipped — {_cell(t.get('reason'), 400)}")
    for area, cov in report.get("coverage", {}).items():
        if "analysed_share" in cov:
            head.append(f"- {area}: analysed {100 * cov['analysed_share']:.1f}% of total exec time; "
                        f"{len(cov.get('unanalysed', []))} statement(s) could not be analysed")
            if cov.get("utility"):
                head.append(f"- {area}: utility statements, not costed, counted apart: " + "; ".join(
                    f"{u['command']} ({u['statements']} statement(s), {100 * u['share']:.1f}% of exec time)"
                    for u in cov["utility"]))
    for line in fe.coverage_lines(report.get("coverage", {}).get("frontend") or {}):
        head.append(f"- frontend: {_cell(line, 400)}")
    for note in report.get("notes", []):
        head.append(f"- note: {_cell(note, 400)}")
    head.append("")
    if report["findings"]:
        head += ["| severity | rule | finding | impact | confidence |", "|---|---|---|---|---|"]
        for f in report["findings"]:
            head.append(f"| {f['severity']} | {f['rule']} | {_cell(f['title'], 160)} | {impact_text(f)} | "
                        f"{f['confidence']} |")
        head.append("")
    text = "\n".join(head)
    footer = f"\n_{BYTE_CONVENTION}_\n"
    tail_note = "\n_Details of the remaining findings are in report.html (this comment is size-limited)._\n"
    for f in report["findings"]:
        block = _finding_details(f)
        if len(text) + len(block) + len(tail_note) + len(footer) > MAX_CHARS:
            return text + tail_note + footer
        text += "\n" + block
    unanalysed = [u for cov in report.get("coverage", {}).values() for u in cov.get("unanalysed", [])]
    if unanalysed:
        block = ["<details><summary>Not analysed</summary>", "", "| queryid | statement | share | reason |",
                 "|---|---|--:|---|"]
        for u in unanalysed[:30]:
            block.append(f"| {u['queryid']} | {_code(u['query'], 160)} | {100 * u['share']:.1f}% | "
                         f"{_cell(u['reason'], 200)} |")
        block += ["", "</details>", ""]
        b = "\n".join(block)
        if len(text) + len(b) + len(footer) <= MAX_CHARS:
            text += "\n" + b
    return text[:MAX_CHARS - len(footer)] + footer
