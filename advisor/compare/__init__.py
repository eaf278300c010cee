"""`perfadvisor compare BEFORE AFTER`: before/after verdicts with statistics over load-run directories.

``run_compare(before, after, out, threshold="5%", alpha=0.05, slos=[], force=False, seed=1) -> CompareResult``
(units: "auto", "runs" or "windows", see analysis.compare_sides) writes compare.html, compare.md and compare.json (schema: docs/compare.schema.json) to `out`.

Exit codes: 0 no significant regression; 1 a significant regression (for CI); 2 bad input — unreadable or
half-written run directories, runs of different workloads or hosts without --force, or a side with no valid run
(the reports are still written then, with every verdict "invalid").

Modules: runs (reading the sides), stats (bootstrap, Mann-Whitney, Holm, power), analysis (the document),
slo (SLOs, Apdex), charts (matplotlib SVG), render (HTML, Markdown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError, InputFileError, PerfadvisorError
from advisor.load import rundir as rd


@dataclass
class CompareResult:
    doc: dict[str, Any]
    headline: str
    exit_code: int
    console: list[str] = field(default_factory=list)


#: What compare takes as its statistical units (analysis.compare_sides).
UNITS = ("auto", "runs", "windows")


class InvalidRunsError(PerfadvisorError):
    """A side has no valid run: the reports are written, every verdict is "invalid"."""


def parse_threshold(text: str | float) -> float:
    """"5%" or "5" → 0.05 (a bare number is in percent); 0.05 stays 0.05 when given as a float below 1."""
    if isinstance(text, float | int) and not isinstance(text, bool):
        return float(text) if text < 1 else float(text) / 100.0
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", str(text))
    if not m:
        raise ConfigError(f"--threshold {text!r}: expected a percentage such as 5%")
    v = float(m.group(1)) / 100.0
    if not 0 <= v < 10:
        raise ConfigError(f"--threshold {text!r}: expected a percentage between 0% and 1000%")
    return v


def _headline(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    if s["verdict"] == "invalid":
        bad = [f"{side} {Path(r['path']).name}" for side in ("before", "after") for r in doc[side]["runs"]
               if not r["valid"]]
        return "no verdict: invalid run(s): " + ", ".join(bad)
    if s["regressed"]:
        return f"REGRESSED: {', '.join(s['regressed'][:5])}" + (" …" if len(s["regressed"]) > 5 else "")
    if s["improved"]:
        return f"improved: {', '.join(s['improved'][:5])}" + (" …" if len(s["improved"]) > 5 else "") + \
            "; no significant regression"
    if s["verdict"] == "~":
        return "~ no significant change"
    return "inconclusive: no significant regression found, but the data cannot rule one out (see compare.md)"


def _console(doc: dict[str, Any]) -> list[str]:
    from advisor.compare.render import VERDICT_WORDS, fmt_change, fmt_value
    lines = [f"units: {doc['mode']} (confidence {doc['confidence']}); family of {doc['settings']['family_size']} "
             "tests, Holm-corrected"]
    for row in doc["endpoints"]:
        m = row["metrics"]["p95_ms"]
        lines.append(f"  {row['key'][:50]:<50} p95 {fmt_value('p95_ms', m['before']):>10} → "
                     f"{fmt_value('p95_ms', m['after']):>10}  {fmt_change(m):<24} "
                     f"{VERDICT_WORDS.get(row['verdict'], row['verdict'])}")
    lines += [f"note: {n}" for n in doc["notes"]]
    return lines


def run_compare(before: Path, after: Path, out: Path, threshold: str | float = "5%", alpha: float = 0.05,
                slos: list[str] | None = None, force: bool = False, seed: int = 1, units: str = "auto"
                ) -> CompareResult:
    """Reads both sides, compares them, writes the three reports, and returns the result (see module doc).
    Raises PerfadvisorError for bad input (InvalidRunsError after writing the reports)."""
    from advisor.compare import analysis, render, runs, slo

    if units not in UNITS:
        raise ConfigError(f"--units {units!r}: expected one of {', '.join(UNITS)}")
    thr = parse_threshold(threshold)
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha {alpha}: must be between 0 and 1")
    objectives = slo.parse_slos(list(slos or []))
    side_b = runs.load_side(before, "BEFORE")
    side_a = runs.load_side(after, "AFTER")
    if {r.path.resolve() for r in side_b.runs} & {r.path.resolve() for r in side_a.runs}:
        raise ConfigError("BEFORE and AFTER hold the same run directory; compare two different runs")
    notes = runs.check_comparable(side_b, side_a, force)
    for side in (side_b, side_a):
        for r in side.runs:
            if r.doc["status"] == "interrupted":
                notes.append(f"{side.label} run {r.path.name} was interrupted (Ctrl-C): its steady state is shorter")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot create it ({e.strerror})") from None
    doc = analysis.compare_sides(side_b, side_a, thr, alpha, objectives, seed=seed, notes=notes,
                                   units=units)
    headline = _headline(doc)
    doc["summary"]["headline"] = headline
    code = 1 if doc["summary"]["regressed"] else 0
    doc["exit_code"] = 2 if doc["summary"]["verdict"] == "invalid" else code
    try:
        rd.write_json(out / "compare.json", doc)
        (out / "compare.md").write_text(render.render_markdown(doc, headline), encoding="utf-8")
        (out / "compare.html").write_text(render.render_html(doc, side_b, side_a), encoding="utf-8")
    except OSError as e:
        raise InputFileError(f"--out {out}: cannot write the reports ({e.strerror})") from None
    if doc["summary"]["verdict"] == "invalid":
        raise InvalidRunsError(f"{headline}; the reports in {out} show why (LOAD checks) and give no verdict")
    return CompareResult(doc, headline, code, _console(doc))


__all__ = ["run_compare", "CompareResult", "InvalidRunsError", "parse_threshold"]
