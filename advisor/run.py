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
from advisor.fmt import impact_text
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
    if not from_snapshot or Path(from_snapshot).resolve() != (out_dir / "snapshot.json").resolve():
        (out_dir / "snapshot.json").write_text(json.dumps(snapshot, indent=1, default=str), encoding="utf-8")
    report = pipeline.analyze(snapshot, settings)
    where = f"snapshot {from_snapshot}: " if from_snapshot else ""
    errors += [where + t["error"] for area, t in report["targets"].items()
               if t.get("status") == "error" and snapshot["targets"].get(area, {}).get("status") == "ok"]
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


def summary_text(report: dict[str, Any], out_dir: Path, top: int = 5) -> str:
    """The few lines printed after a run: counts, top findings with impact, skipped targets, files."""
    s = report["summary"]
    lines = [f"{len(report['findings'])} findings: " + ", ".join(f"{v} {k}" for k, v in s.items() if v)
             if report["findings"] else "no findings"]
    for f in report["findings"][:top]:
        extra = impact_text(f)
        lines.append(f"  [{f['severity']:<8}] {f['rule']} {f['title']}" + (f"  ({extra})" if extra else ""))
    if len(report["findings"]) > top:
        lines.append(f"  … and {len(report['findings']) - top} more in report.html")
    for area, cov in report.get("coverage", {}).items():
        if "analysed_share" in cov:
            lines.append(f"{area}: analysed {cov['analysed_share']:.1%} of total exec time")
    for area, t in report["targets"].items():
        if t.get("status") == "skipped":
            lines.append(f"skipped {area}: {t.get('reason')}")
        elif t.get("status") == "error":
            lines.append(f"failed {area}: {t.get('error')}")
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    lines.append(f"reports: {out_dir / 'report.html'}, report.md, report.json, report.sarif, snapshot.json")
    return "\n".join(lines)
