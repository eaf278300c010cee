"""collect → snapshot → analyze → report.

An analyzer is a package under analyzers/ registered in ANALYZERS. It provides:

- ``AREA``: its name in the snapshot and in report.json's ``targets`` ("postgres", "frontend", …);
- ``configured(settings) -> str | None``: None when its target is configured, else the reason it is skipped;
- ``collect(settings) -> dict``: talks to the target (read-only) and returns the snapshot section; raises a
  PerfadvisorError for a failure the user can fix;
- ``target_info(section) -> dict``: what report.json's ``targets[AREA]`` shows (besides ``status``);
- ``analyze(section, settings) -> AreaResult``: a pure function of its snapshot section.

A failing collector is recorded as ``{"status": "error", "error": "…"}`` and the others go on. A section may
list partial failures in ``section["errors"]`` (one-line messages): it is still analysed, and the run exits 2.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from advisor import __version__
from advisor.config import Settings
from advisor.errors import PerfadvisorError
from advisor.model import REPORT_SCHEMA_VERSION, Finding, new_snapshot, rank, summarize

# Modules, in the order they run. Each is imported lazily so one analyzer's optional dependency does not
# stop the others.
ANALYZERS = ("analyzers.postgres", "analyzers.frontend")


@dataclass
class AreaResult:
    """What one analyzer concluded: findings, plus what it could and could not analyse.

    coverage: free-form facts for the report's "what was analysed" section, e.g. for postgres
    {"analysed_share": 0.97, "unanalysed": [{"queryid": …, "reason": …, "share": 0.03}]}.
    notes: one-line remarks shown to the user (e.g. "HypoPG is not installed: …").
    """

    findings: list[Finding] = field(default_factory=list)
    coverage: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def analyzer_modules() -> list[Any]:
    return [importlib.import_module(name) for name in ANALYZERS]


def check_thresholds(settings: Settings) -> None:
    """ConfigError for a threshold area or name no analyzer knows (a typo would otherwise be ignored), or a
    value of the wrong kind (see Settings.threshold)."""
    from advisor.errors import ConfigError
    known = {mod.AREA: {name: default for name, default, _ in getattr(mod, "THRESHOLDS", ())}
             for mod in analyzer_modules()}
    for area, values in settings.thresholds.items():
        if area not in known:
            raise ConfigError(f"thresholds.{area}: no analyzer has that name (known: {', '.join(sorted(known))})")
        for name in values:
            if name not in known[area]:
                raise ConfigError(f"threshold {area}.{name} does not exist; `perfadvisor thresholds` lists them")
            settings.threshold(area, name, known[area][name])


def collect(settings: Settings, on_progress=None) -> tuple[dict[str, Any], list[str]]:
    """Run every configured collector. Returns (snapshot, errors) where errors are one-line messages."""
    snap = new_snapshot()
    errors: list[str] = []
    for mod in analyzer_modules():
        reason = mod.configured(settings)
        if reason:
            snap["targets"][mod.AREA] = {"status": "skipped", "reason": reason}
            continue
        if on_progress:
            on_progress(f"collecting {mod.AREA} …")
        try:
            section = mod.collect(settings)
        except PerfadvisorError as e:
            snap["targets"][mod.AREA] = {"status": "error", "error": str(e)}
            errors.append(str(e))
            continue
        snap[mod.AREA] = section
        snap["targets"][mod.AREA] = {"status": "ok", **mod.target_info(section)}
        # Partial failures (e.g. a header probe that failed while the build was readable): the section is
        # kept and analysed, and the run still ends with exit code 2.
        errors.extend(str(e) for e in section.get("errors") or [])
    return snap, errors


def analyze(snapshot: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Turn a snapshot into the report.json document (schema_version 1, see docs/report.schema.json)."""
    findings: list[Finding] = []
    coverage: dict[str, Any] = {}
    notes: list[str] = []
    targets = {k: dict(v) for k, v in snapshot["targets"].items()}
    for mod in analyzer_modules():
        section = snapshot.get(mod.AREA)
        if targets.get(mod.AREA, {}).get("status") != "ok" or section is None:
            continue
        try:
            result: AreaResult = mod.analyze(section, settings)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            # A snapshot edited by hand or cut short: say which section, keep the other areas' findings.
            targets[mod.AREA] = {"status": "error", "error": f"snapshot section {mod.AREA!r} is malformed "
                                 f"({type(e).__name__}: {e}); collect it again"}
            continue
        findings.extend(result.findings)
        if result.coverage:
            coverage[mod.AREA] = result.coverage
        notes.extend(result.notes)
    findings = rank(findings)
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "perfadvisor", "version": __version__},
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "snapshot_collected_at": snapshot.get("collected_at"),
        "targets": targets,
        "summary": summarize(findings),
        "coverage": coverage,
        "notes": notes,
        "findings": [f.to_dict() for f in findings],
    }
