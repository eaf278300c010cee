"""The library calls behind `perfadvisor analyze`: collect (or load a snapshot), analyse, write reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor import pipeline
from advisor.config import Settings
from advisor.errors import ConfigError, InputFileError
from advisor.fmt import BYTE_CONVENTION, impact_text
from advisor.model import load_snapshot


@dataclass
class Outcome:
    report: dict[str, Any]
    out_dir: Path
    errors: list[str] = field(default_factory=list)


def analyze_command(settings: Settings, out_dir: Path, from_snapshot: str | None,
                    echo: Callable[[str], None] = print,
                    sample_progress: Callable[[str], None] | None = None, sampled=None) -> Outcome:
    """Collect (or load `from_snapshot`), analyse, write DIR/report.{html,md,json} and DIR/snapshot.json,
    and print a short summary. `sampled`: a window that already ran (see pipeline.collect). Collector errors are returned in Outcome.errors after everything that could
    be written was written. Raises InputFileError for an unreadable snapshot or an unwritable DIR."""
    from reports import write_all

    pipeline.check_thresholds(settings)
    _prepare_out_dir(out_dir)
    if from_snapshot:
        snapshot = load_snapshot(from_snapshot)
        errors = [t["error"] for t in snapshot["targets"].values() if t.get("status") == "error"]
    else:
        snapshot, errors = pipeline.collect(settings, on_progress=echo, sample_progress=sample_progress,
                                            sampled=sampled)
        if all(t.get("status") == "skipped" for t in snapshot["targets"].values()):
            raise ConfigError("nothing to analyse: no target is configured; give --pg DSN (or "
                              "PERFADVISOR_PG_DSN), --actuator URL, --redis URL, --py-spy PID, --bundle PATH "
                              "or --frontend-url URL, or set them in perfadvisor.toml")
    kept = _keep_earlier_report(out_dir, snapshot, from_snapshot)
    if kept:
        echo(kept)
    if not from_snapshot or Path(from_snapshot).resolve() != (out_dir / "snapshot.json").resolve():
        (out_dir / "snapshot.json").write_text(json.dumps(snapshot, default=str), encoding="utf-8")  # compact: 3x faster (C encoder)
    report = pipeline.analyze(snapshot, settings)
    where = f"snapshot {from_snapshot}: " if from_snapshot else ""
    errors += [where + t["error"] for area, t in report["targets"].items()
               if t.get("status") == "error" and snapshot["targets"].get(area, {}).get("status") == "ok"]
    if kept:
        report.setdefault("notes", []).append(kept)
    write_all(report, out_dir)
    echo(summary_text(report, out_dir))
    return Outcome(report=report, out_dir=out_dir, errors=errors)


def _prepare_out_dir(out_dir: Path) -> None:
    """Create the output directory before any collection, so a bad --out fails fast. InputFileError."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".perfadvisor-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise InputFileError(f"output directory {out_dir}: cannot write there ({e.strerror or e})") from None


#: The files of one report in its directory (what _keep_earlier_report moves aside).
REPORT_FILES = ("report.json", "report.md", "report.html", "report.sarif", "snapshot.json")


def _keep_earlier_report(out_dir: Path, snapshot: dict[str, Any], from_snapshot: str | None) -> str | None:
    """When out_dir holds an earlier report that analysed a target this run does not (e.g. `demo postgres`, then
    an analyze of the front end only), move its files to out_dir/earlier-<its generated_at>/ instead of replacing
    them, and return the line that says so; None when there is no such report (a re-run of the same targets
    replaces its own report, as expected). Raises InputFileError when the files cannot be moved."""
    old_path = out_dir / "report.json"
    if not old_path.is_file() or (from_snapshot and Path(from_snapshot).resolve().parent == out_dir.resolve()):
        return None
    try:
        old = json.loads(old_path.read_text(encoding="utf-8"))
        old_ok = [a for a, t in (old.get("targets") or {}).items() if isinstance(t, dict) and t.get("status") == "ok"]
    except (OSError, ValueError, AttributeError):
        return None  # not a perfadvisor report we can read: it is replaced like any other file of that name
    new_targets = snapshot.get("targets", {})
    lost = [a for a in old_ok if new_targets.get(a, {}).get("status") in (None, "skipped")]
    if not lost:
        return None
    stamp = "".join(c if c.isalnum() else "-" for c in str(old.get("generated_at") or "unknown")).strip("-")
    dest = out_dir / f"earlier-{stamp}"
    n = 1
    while dest.exists():
        n += 1
        dest = out_dir / f"earlier-{stamp}-{n}"
    try:
        dest.mkdir()
        for name in REPORT_FILES:
            if (out_dir / name).exists():
                (out_dir / name).rename(dest / name)
    except OSError as e:
        raise InputFileError(f"output directory {out_dir}: holds an earlier report of {', '.join(lost)} that "
                             f"could not be moved aside ({e.strerror or e}); choose another --out") from None
    return (f"{out_dir} held an earlier report of {', '.join(lost)} (generated {old.get('generated_at')}), "
            f"which this run does not analyse: it was moved to {dest} (use another --out to keep reports apart)")


def summary_text(report: dict[str, Any], out_dir: Path, top: int = 5) -> str:
    """The few lines printed after a run: a failed target first (then what was still written), then counts, the
    top findings with impact, skipped targets, notes, files, and the byte convention when a size was printed."""
    s = report["summary"]
    failed = [(area, t) for area, t in report["targets"].items() if t.get("status") == "error"]
    lines = [f"FAILED {area}: {t.get('error')}" for area, t in failed]
    if failed:
        analysed = [a for a, t in report["targets"].items() if t.get("status") == "ok"]
        lines.append("still analysed and written below: " + ", ".join(analysed) if analysed
                     else "nothing else was analysed; the reports record the failure")
    if report["findings"]:
        lines.append(f"{len(report['findings'])} findings: " + ", ".join(f"{v} {k}" for k, v in s.items() if v))
    elif not failed or any(t.get("status") == "ok" for t in report["targets"].values()):
        lines.append("no findings" + (" in what could be analysed" if failed else ""))
    sizes = False
    for f in report["findings"][:top]:
        extra = impact_text(f)
        sizes = sizes or (f.get("impact") or {}).get("metric", "").endswith("_bytes")
        lines.append(f"  [{f['severity']:<8}] {f['rule']} {f['title']}" + (f"  ({extra})" if extra else ""))
    if len(report["findings"]) > top:
        lines.append(f"  … and {len(report['findings']) - top} more in report.html")
    for area, cov in report.get("coverage", {}).items():
        if "analysed_share" in cov:
            lines.append(f"{area}: analysed {cov['analysed_share']:.1%} of total exec time")
    for area, t in report["targets"].items():
        if t.get("status") == "skipped":
            lines.append(f"skipped {area}: {t.get('reason')}")
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    if sizes:
        lines.append(BYTE_CONVENTION)
    lines.append(f"reports: {out_dir / 'report.html'}, report.md, report.json, report.sarif, snapshot.json")
    return "\n".join(lines)
