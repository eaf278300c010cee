"""`perfadvisor diff`: what a pull request changed, as findings matched by their stable id across two reports.

Library API (the CLI in advisor/diff/cli.py only parses and calls):

- ``read_report(path) -> dict``: report.json (or its directory); InputFileError when it is not a report.
- ``diff_reports(old, new, fail_on_new=None, impact_tolerance=IMPACT_TOLERANCE) -> dict``: the diff.json
  document (docs/diff.schema.json); ``exit_code`` is 1 when a *new* finding is at or above ``fail_on_new``.
  InputFileError when the two reports have different schema versions.
- ``write(diff, out_dir) -> list[Path]``: diff.md (a PR comment under MAX_COMMENT_CHARS), diff.json, diff.html.

Findings are matched by ``id`` (rule:key, stable across runs by the report contract). An OLD finding that NEW
lacks is *resolved* only when NEW analysed its source; otherwise it is *not re-checked* (NEW skipped or failed
that target), never counted as fixed. A finding is *changed*
when its severity, its recommended action, or its impact moved by more than ``impact_tolerance``; per-hour
impacts are extrapolated from a statistics window that differs run to run, so a small drift is not a change.
Old findings never fail the build: only a finding that NEW has and OLD has not is checked against
``fail_on_new`` (the Lighthouse CI / CodSpeed flow: judge a pull request on what it made worse).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from advisor import __version__
from advisor.errors import InputFileError
from advisor.model import REPORT_SCHEMA_VERSION, SEVERITIES, severity_rank

DIFF_SCHEMA_VERSION = 1
#: GitHub rejects an issue/PR comment body above 65,536 characters; stay well under it (the issue's budget).
MAX_COMMENT_CHARS = 60_000
#: Relative move of an impact's before or after value that counts as a change (perfadvisor's choice: per-hour
#: numbers are extrapolated from windows of different lengths and drift by a few percent between runs).
IMPACT_TOLERANCE = 0.10
#: The first line of diff.md: a bot finds its earlier comment by it and edits it instead of adding another.
MARKER = "<!-- perfadvisor-diff -->"
#: compare.json next to report.json holds a load comparison's verdicts (advisor/compare).
COMPARE_FILE = "compare.json"


def read_report(path: str | Path) -> dict[str, Any]:
    """report.json (or the directory holding it) as a dict, with "_path" (str) and, when a compare.json lies
    beside it, "_compare" (that document). Raises InputFileError naming the file when it is missing, not JSON
    or not a perfadvisor report. The schema version is checked by diff_reports, against the other report."""
    from advisor.apply import read_report as read_report_file

    p, data = read_report_file(path)
    bad = [i for i, f in enumerate(data["findings"])
           if not isinstance(f, dict) or not isinstance(f.get("id"), str) or f.get("severity") not in SEVERITIES]
    if bad:
        raise InputFileError(f"report {p}: finding #{bad[0]} has no string id or no known severity")
    data["_path"] = str(p)
    compare = p.parent / COMPARE_FILE
    if compare.is_file():
        try:
            data["_compare"] = json.loads(compare.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputFileError(f"{compare}: not a readable compare.json ({e})") from None
    return data


def check_versions(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Raise InputFileError when the reports' schema versions differ or are not the one this version reads."""
    ov, nv = old.get("schema_version"), new.get("schema_version")
    if ov != nv:
        raise InputFileError(
            f"reports of different schema versions: OLD {old.get('_path', 'report')} is {ov!r}, NEW "
            f"{new.get('_path', 'report')} is {nv!r}; analyse both with the same perfadvisor version "
            "(re-run `perfadvisor analyze` on the base branch)")
    if ov != REPORT_SCHEMA_VERSION:
        raise InputFileError(f"report {old.get('_path', 'report')}: schema_version {ov!r} is not supported "
                             f"(this perfadvisor reads {REPORT_SCHEMA_VERSION})")


def _moved(a: Any, b: Any, tolerance: float) -> bool:
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return a != b
    scale = max(abs(a), abs(b))
    return scale > 0 and abs(a - b) / scale > tolerance


def impact_changed(old: dict[str, Any] | None, new: dict[str, Any] | None, tolerance: float) -> bool:
    """True when the metric differs, one side has no impact, or before/after moved by more than `tolerance`
    (relative to the larger of the two values)."""
    if not old or not new:
        return bool(old) != bool(new)
    return old.get("metric") != new.get("metric") or any(
        _moved(old.get(k), new.get(k), tolerance) for k in ("before", "after"))


def _entry(f: dict[str, Any]) -> dict[str, Any]:
    """The part of a finding a diff shows."""
    action = f.get("action") or {}
    return {"id": f["id"], "rule": f.get("rule", ""), "name": f.get("name", ""), "area": f.get("area", ""),
            "severity": f["severity"], "confidence": f.get("confidence", ""), "title": f.get("title", ""),
            "impact": f.get("impact"), "action": action}


def _changes(o: dict[str, Any], n: dict[str, Any], tolerance: float) -> list[str]:
    out = []
    if o["severity"] != n["severity"]:
        out.append("severity")
    if impact_changed(o.get("impact"), n.get("impact"), tolerance):
        out.append("impact")
    if (o.get("action") or {}) != (n.get("action") or {}):
        out.append("action")
    return out


def _changed_entry(o: dict[str, Any], n: dict[str, Any], what: list[str]) -> dict[str, Any]:
    rank = severity_rank(n["severity"]) - severity_rank(o["severity"])
    return {**_entry(n), "changes": what,
            "severity_before": o["severity"], "severity_after": n["severity"],
            "direction": "worse" if rank < 0 else "better" if rank > 0 else "same",
            "impact_before": o.get("impact"), "impact_after": n.get("impact"),
            "action_before": o.get("action") or {}, "action_after": n.get("action") or {}}


def _by_severity(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (severity_rank(e["severity"]), e["id"]))


def lost_targets(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Targets OLD analysed (status ok) that NEW did not (skipped, error or absent)."""
    def ok(r: dict[str, Any]) -> set[str]:
        return {k for k, t in (r.get("targets") or {}).items() if isinstance(t, dict) and t.get("status") == "ok"}
    return ok(old) - ok(new)


def rechecked(finding: dict[str, Any], new: dict[str, Any], lost: set[str]) -> bool:
    """Did NEW look at the evidence behind this OLD finding? Its area's target must be ok in NEW; a finding of a
    cross-source area (cache, pool: no target of that name) only when NEW lost no target OLD had."""
    target = (new.get("targets") or {}).get(finding.get("area"))
    if isinstance(target, dict):
        return target.get("status") == "ok"
    return finding.get("area") not in lost and not lost


def split_resolved(resolved: list[dict[str, Any]], old: dict[str, Any], new: dict[str, Any]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(resolved, not re-checked): an OLD finding absent from NEW is resolved only if NEW analysed its source."""
    lost = lost_targets(old, new)
    keep = [e for e in resolved if rechecked(e, new, lost)]
    return keep, [e for e in resolved if not rechecked(e, new, lost)]


def match(old: list[dict[str, Any]], new: list[dict[str, Any]], tolerance: float = IMPACT_TOLERANCE
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], int]:
    """(new, resolved, changed, unchanged count) of two finding lists matched by id, worst first."""
    olds, news = {f["id"]: f for f in old}, {f["id"]: f for f in new}
    added = [_entry(f) for i, f in news.items() if i not in olds]
    resolved = [_entry(f) for i, f in olds.items() if i not in news]
    changed, same = [], 0
    for i, n in news.items():
        if i in olds:
            what = _changes(olds[i], n, tolerance)
            if what:
                changed.append(_changed_entry(olds[i], n, what))
            else:
                same += 1
    return _by_severity(added), _by_severity(resolved), _by_severity(changed), same


def _initial_js(report: dict[str, Any]) -> int | None:
    cov = ((report.get("coverage") or {}).get("frontend") or {}).get("bundle") or {}
    value = cov.get("initial_js_gzip_bytes", (report.get("targets", {}).get("frontend") or {}).get(
        "initial_js_gzip_bytes"))
    return value if isinstance(value, int | float) else None


def frontend_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """Initial JS (gzip bytes) before and after, when both reports measured a bundle; else None."""
    a, b = _initial_js(old), _initial_js(new)
    if a is None or b is None:
        return None
    return {"initial_js_gzip_bytes": {"old": a, "new": b, "delta": b - a,
                                      "delta_pct": round(100.0 * (b - a) / a, 2) if a else None}}


def _verdicts(compare: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    summary = compare.get("summary") or {}
    per = {e.get("key"): e.get("verdict") for e in compare.get("endpoints") or [] if isinstance(e, dict)}
    return summary.get("verdict"), {k: v for k, v in per.items() if isinstance(k, str) and isinstance(v, str)}


def load_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """The load comparisons' verdicts (compare.json beside each report) side by side, when both have one."""
    if not isinstance(old.get("_compare"), dict) or not isinstance(new.get("_compare"), dict):
        return None
    ov, oe = _verdicts(old["_compare"])
    nv, ne = _verdicts(new["_compare"])
    keys = sorted(set(oe) | set(ne), key=lambda k: (k != "overall", k))
    return {"verdict": {"old": ov, "new": nv},
            "endpoints": [{"key": k, "old": oe.get(k), "new": ne.get(k)} for k in keys]}


def _side(report: dict[str, Any]) -> dict[str, Any]:
    return {"path": report.get("_path", ""), "generated_at": report.get("generated_at", ""),
            "tool_version": (report.get("tool") or {}).get("version", ""),
            "summary": {s: int((report.get("summary") or {}).get(s, 0)) for s in SEVERITIES}}


def failing(added: list[dict[str, Any]], fail_on_new: str | None) -> list[str]:
    """Ids of new findings at or above `fail_on_new` (none when it is None)."""
    if fail_on_new is None:
        return []
    return [e["id"] for e in added if severity_rank(e["severity"]) <= severity_rank(fail_on_new)]


def diff_reports(old: dict[str, Any], new: dict[str, Any], fail_on_new: str | None = None,
                 impact_tolerance: float = IMPACT_TOLERANCE) -> dict[str, Any]:
    """The diff.json document (shape: docs/diff.schema.json). Raises InputFileError for reports of
    different schema versions, ValueError for an unknown `fail_on_new`."""
    if fail_on_new is not None and fail_on_new not in SEVERITIES:
        raise ValueError(f"fail_on_new must be one of {SEVERITIES}")
    check_versions(old, new)
    added, resolved, changed, same = match(old["findings"], new["findings"], impact_tolerance)
    resolved, unchecked = split_resolved(resolved, old, new)
    fails = failing(added, fail_on_new)
    return {
        "schema_version": DIFF_SCHEMA_VERSION,
        "tool": {"name": "perfadvisor", "version": __version__},
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "old": _side(old), "new": _side(new),
        "settings": {"fail_on_new": fail_on_new, "impact_tolerance": impact_tolerance},
        "summary": {"new": len(added), "resolved": len(resolved), "changed": len(changed), "unchanged": same,
                    "not_rechecked": len(unchecked),
                    "new_by_severity": {s: sum(1 for e in added if e["severity"] == s) for s in SEVERITIES},
                    "failing": fails},
        "new_findings": added, "resolved_findings": resolved, "changed_findings": changed,
        "not_rechecked_findings": unchecked, "targets_not_analysed": sorted(lost_targets(old, new)),
        "frontend": frontend_delta(old, new), "load": load_delta(old, new),
        "exit_code": 1 if fails else 0,
    }


def headline(d: dict[str, Any]) -> str:
    """One line: "2 new (1 high), 1 resolved, 3 changed; failing: …" as printed by the CLI."""
    s = d["summary"]
    worst = [f"{n} {sev}" for sev, n in s["new_by_severity"].items() if n]
    text = (f"{s['new']} new" + (f" ({', '.join(worst)})" if worst else "")
            + f", {s['resolved']} resolved, {s['changed']} changed, {s['unchanged']} unchanged"
            + (f", {s['not_rechecked']} not re-checked" if s["not_rechecked"] else ""))
    fail_on = d["settings"]["fail_on_new"]
    if s["failing"]:
        text += f"; failing: {len(s['failing'])} new finding(s) at {fail_on} or worse (--fail-on-new {fail_on})"
    return text


def write(d: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write diff.md, diff.json and diff.html into out_dir (created); InputFileError when it is not writable."""
    from advisor.diff import render

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {"diff.md": render.markdown(d), "diff.json": json.dumps(d, indent=2, default=str),
                 "diff.html": render.html(d)}
        for name, text in files.items():
            (out_dir / name).write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputFileError(f"output directory {out_dir}: cannot write there ({e.strerror or e})") from None
    return [out_dir / n for n in files]
