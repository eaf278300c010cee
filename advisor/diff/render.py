"""diff.md (a pull-request comment) and diff.html (a page) for a diff.json document. They render; they never
compute.

diff.md stays under MAX_COMMENT_CHARS however many findings changed: the tables show the worst rows first and
fold the rest into <details>; when even that is too long, fewer rows are shown and the rest are counted with a
pointer to diff.html / diff.json. Every text taken from a report (titles, ids, SQL) is escaped so a query text
cannot break a table, open an HTML tag or start a link.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from advisor.diff import MARKER, MAX_COMMENT_CHARS
from advisor.fmt import fmt_bytes, impact_text

#: Rows of a table shown open before the rest is folded into <details> (perfadvisor's choice).
OPEN_ROWS = 10
#: A table cell is cut to this many characters (a long SQL text is in diff.html).
CELL_CHARS = 160
_SEVERITY_ICON = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}
#: Characters with a meaning in GitHub-flavoured Markdown inside a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+!|~@$])")
#: C0/C1 control characters other than whitespace: Markdown shows NUL as U+FFFD, the others as nothing useful.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def cell(text: Any, limit: int = CELL_CHARS) -> str:
    """Text as one safe GFM table cell: one line, Markdown specials backslash-escaped, <>& as entities, cut
    to `limit` characters."""
    s = " ".join(_CONTROL.sub("", str(text if text is not None else "–")).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _impact(f: dict[str, Any], key: str = "impact") -> str:
    return impact_text({"impact": f.get(key)}) or "–"


def _action(a: dict[str, Any]) -> str:
    kind = a.get("kind", "none")
    detail = a.get("sql") or (f"{a.get('property')}={a.get('value')}" if a.get("property") else "") \
        or a.get("snippet") or a.get("code") or ""
    return f"{kind}: {detail}" if detail else kind


def _table(head: list[str], rows: list[list[str]], open_rows: int, max_rows: int, noun: str) -> list[str]:
    """A GFM table (first `open_rows` rows open, up to `max_rows` in all, the rest of them in <details>),
    and a line counting rows left out."""
    def block(part: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
            ["| " + " | ".join(r) + " |" for r in part]

    shown = rows[:max_rows]
    out = block(shown[:open_rows]) if shown else []
    rest = shown[open_rows:]
    if rest:
        # GitHub renders Markdown inside <details> only after a blank line.
        out += ["", f"<details><summary>{len(rest)} more {noun}</summary>", ""] + block(rest) + ["", "</details>"]
    if len(rows) > len(shown):
        out += ["", f"_… and {len(rows) - len(shown)} more {noun} in diff.html and diff.json._"]
    return out


def _finding_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    return [[f"{_SEVERITY_ICON[e['severity']]} {e['severity']}", cell(e["rule"]), cell(e["title"]),
             cell(_impact(e)), cell(e["id"], 100)] for e in entries]


def _changed_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for e in entries:
        sev = e["severity_before"] if e["severity_before"] == e["severity_after"] \
            else f"{e['severity_before']} → {e['severity_after']}"
        action = cell(_action(e["action_after"])) if "action" in e["changes"] else "unchanged"
        rows.append([cell(sev), cell(e["rule"]), cell(e["title"]), cell(_impact(e, "impact_before")),
                     cell(_impact(e, "impact_after")), action])
    return rows


def _counts(d: dict[str, Any]) -> list[str]:
    o, n = d["old"]["summary"], d["new"]["summary"]
    head = ["", *o.keys()]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            "| base | " + " | ".join(str(v) for v in o.values()) + " |",
            "| this change | " + " | ".join(str(v) for v in n.values()) + " |"]


def _deltas(d: dict[str, Any]) -> list[str]:
    out = []
    fe = (d.get("frontend") or {}).get("initial_js_gzip_bytes")
    if fe:
        pct = f" ({fe['delta_pct']:+.1f}%)" if fe.get("delta_pct") is not None else ""
        out.append(f"- Initial JS (gzip): {fmt_bytes(fe['old'])} → {fmt_bytes(fe['new'])}{pct}")
    load = d.get("load")
    if load:
        v = load["verdict"]
        out.append(f"- Load comparison verdict: {cell(v['old'])} → {cell(v['new'])}")
        moved = [e for e in load["endpoints"] if e["old"] != e["new"]]
        out += [f"  - {cell(e['key'])}: {cell(e['old'])} → {cell(e['new'])}" for e in moved[:OPEN_ROWS]]
    return out


def _status(d: dict[str, Any]) -> str:
    s, fail_on = d["summary"], d["settings"]["fail_on_new"]
    if s["failing"]:
        return (f"**❌ {len(s['failing'])} new finding(s) at {fail_on} or worse** "
                f"(`--fail-on-new {fail_on}`). Findings the base already had never fail the build.")
    if fail_on:
        return f"✅ No new finding at {fail_on} or worse."
    return "No `--fail-on-new` threshold: this comment informs, it does not fail the build."


def _markdown(d: dict[str, Any], max_rows: int) -> str:
    s = d["summary"]
    lines = [MARKER, f"### perfadvisor: {s['new']} new, {s['resolved']} resolved, {s['changed']} changed "
             f"finding(s)", "", _status(d), ""]
    lines += _counts(d) + [""]
    sections = [("New findings", d["new_findings"], ["severity", "rule", "finding", "impact", "id"],
                 _finding_rows, "new findings"),
                ("Resolved findings", d["resolved_findings"], ["severity", "rule", "finding", "impact", "id"],
                 _finding_rows, "resolved findings"),
                ("Changed findings", d["changed_findings"],
                 ["severity", "rule", "finding", "impact before", "impact after", "action"],
                 _changed_rows, "changed findings"),
                ("Not re-checked: this run did not analyse their source"
                 + (f" ({cell(', '.join(d['targets_not_analysed']))})" if d["targets_not_analysed"] else ""),
                 d["not_rechecked_findings"], ["severity", "rule", "finding", "impact", "id"], _finding_rows,
                 "findings not re-checked")]
    for title, entries, head, rows, noun in sections:
        if entries:
            lines += [f"#### {title} ({len(entries)})", ""] + \
                _table(head, rows(entries), OPEN_ROWS, max_rows, noun) + [""]
    deltas = _deltas(d)
    if deltas:
        lines += ["#### Front end and load", ""] + deltas + [""]
    lines.append(f"<sub>{s['unchanged']} finding(s) unchanged. Base report generated "
                 f"{cell(d['old']['generated_at'])}, this one {cell(d['new']['generated_at'])}; full diff in "
                 "diff.html and diff.json.</sub>")
    return "\n".join(lines) + "\n"


def markdown(d: dict[str, Any], limit: int = MAX_COMMENT_CHARS) -> str:
    """diff.md: starts with MARKER, shorter than `limit` characters (a GitHub comment holds 65,536)."""
    max_rows = max(len(d[k]) for k in ("new_findings", "resolved_findings", "changed_findings",
                                       "not_rechecked_findings"))
    while True:
        text = _markdown(d, max_rows)
        if len(text) < limit or max_rows == 0:
            return text
        max_rows = max_rows * 2 // 3 if max_rows > 3 else max_rows - 1


def _env() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["impact"] = lambda imp: impact_text({"impact": imp}) or "–"
    env.filters["action"] = _action
    env.filters["bytes"] = fmt_bytes
    return env


def html(d: dict[str, Any]) -> str:
    """diff.html: one self-contained, autoescaped page (reports/templates/diff.html.j2)."""
    from advisor.diff import headline

    return _env().get_template("diff.html.j2").render(d=d, headline=headline(d))
