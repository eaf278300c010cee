"""`perfadvisor diff OLD NEW`, and the step `analyze --baseline-report OLD` calls. Thin: parse, call
advisor.diff, print, exit.

Exit codes: 0 nothing new at or above --fail-on-new; 1 a new finding at or above it; 2 bad input (one line).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from advisor import diff as df
from advisor.errors import PerfadvisorError
from advisor.model import SEVERITIES


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"perfadvisor: error: {message}", err=True)
    sys.exit(code)


def run_diff(old: dict[str, Any], new: dict[str, Any], out_dir: Path, fail_on_new: str | None,
             impact_tolerance: float = df.IMPACT_TOLERANCE, echo: Callable[[str], None] = click.echo) -> int:
    """Diff two loaded reports, write diff.{md,json,html} into out_dir, print the headline; the exit code."""
    d = df.diff_reports(old, new, fail_on_new, impact_tolerance)
    written = df.write(d, out_dir)
    echo(df.headline(d))
    echo("diff: " + ", ".join(str(p) for p in written))
    return d["exit_code"]


def diff_after_analyze(old_path: str | Path, report: dict[str, Any], out_dir: str | Path,
                       fail_on_new: str | None = None, echo: Callable[[str], None] = click.echo) -> int:
    """`analyze --baseline-report OLD`: diff the report just written to out_dir against OLD (report.json or its
    directory) and write diff.{md,json,html} beside it. Returns the exit code (0, or 1 when a new finding is at
    or above `fail_on_new`). Raises InputFileError for an unreadable OLD or reports of different versions."""
    out = Path(out_dir)
    old = df.read_report(old_path)
    new = {**report, "_path": str(out / "report.json")}
    if (out / df.COMPARE_FILE).is_file():
        new["_compare"] = df.read_report(out)["_compare"]
    return run_diff(old, new, out, fail_on_new, echo=echo)


def register(cli: click.Group) -> None:
    """Add `diff` to the `perfadvisor` group."""

    @cli.command("diff")
    @click.argument("old", metavar="OLD", type=click.Path())
    @click.argument("new", metavar="NEW", type=click.Path())
    @click.option("--out", "out_dir", default="perfadvisor-diff", show_default=True,
                  type=click.Path(file_okay=False), help="Directory for diff.md, diff.json and diff.html.")
    @click.option("--fail-on-new", type=click.Choice(SEVERITIES), default=None,
                  help="Exit 1 when a finding NEW has and OLD has not is of this severity or worse "
                       "(findings OLD already had never fail).")
    @click.option("--impact-tolerance", type=click.FloatRange(0, 10), default=df.IMPACT_TOLERANCE,
                  show_default=True,
                  help="Relative move of an impact's before/after value that counts as a change.")
    def diff_cmd(old, new, out_dir, fail_on_new, impact_tolerance) -> None:
        """Compare two reports (OLD, NEW: report.json or its directory, e.g. main's and this branch's):
        new, resolved and changed findings matched by id, front-end and load deltas; writes a PR comment."""
        try:
            code = run_diff(df.read_report(old), df.read_report(new), Path(out_dir), fail_on_new,
                            impact_tolerance)
        except PerfadvisorError as e:
            _fail(str(e), e.exit_code)
            return
        sys.exit(code)
