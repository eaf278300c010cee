"""collect → snapshot → analyze → report.

An analyzer is a package under analyzers/ registered in ANALYZERS. It provides:

- ``AREA``: its name in the snapshot and in report.json's ``targets`` ("postgres", "frontend", …);
- ``configured(settings) -> str | None``: None when its target is configured, else the reason it is skipped;
- ``collect(settings) -> dict``: talks to the target (read-only) and returns the snapshot section; raises a
  PerfadvisorError for a failure the user can fix;
- optionally ``sources(settings) -> list[Source]`` (advisor/sampling.py) when it samples over time: every
  source of every analyzer runs side by side in one window, and then ``collect(settings, window, recordings)``
  gets the window and its own sources' recordings (in the order it returned them);
- ``target_info(section) -> dict``: what report.json's ``targets[AREA]`` shows (besides ``status``);
- ``analyze(section, settings) -> AreaResult``: a pure function of its snapshot section.

Rules that need several sources (a TTL from the cache's hit ratio, Redis's TTLs and the update rate of the
table behind it; a pool size bounded by max_connections) live in a *cross-source* module registered in
CROSS_SOURCE. It provides ``NEEDS`` (sections that must be "ok" for it to run) and
``analyze_snapshot(snapshot, settings) -> AreaResult``; it reads other sections only through that
snapshot, never behind an analyzer's back, and runs after every per-area analyzer.

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
ANALYZERS = ("analyzers.postgres", "analyzers.frontend", "analyzers.actuator", "analyzers.redis",
             "analyzers.profile")
#: Cross-source rule modules, run after the analyzers, in this order.
CROSS_SOURCE = ("analyzers.pool", "analyzers.cache", "analyzers.pgrequests")


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


def cross_source_modules() -> list[Any]:
    return [importlib.import_module(name) for name in CROSS_SOURCE]


def threshold_modules() -> list[Any]:
    """Every module with THRESHOLDS ((name, default, source), …) under its AREA: analyzers, then cross-source
    rule modules. `perfadvisor thresholds` lists them; perfadvisor.toml sets them in [thresholds.AREA]."""
    from advisor.load import rules as load_rules

    return analyzer_modules() + [m for m in cross_source_modules() if hasattr(m, "AREA")] + [load_rules]


def check_thresholds(settings: Settings) -> None:
    """ConfigError for a threshold area or name no analyzer knows (a typo would otherwise be ignored), or a
    value of the wrong kind (see Settings.threshold)."""
    from advisor.errors import ConfigError
    known = {mod.AREA: {name: default for name, default, _ in getattr(mod, "THRESHOLDS", ())}
             for mod in threshold_modules()}
    for area, values in settings.thresholds.items():
        if area not in known:
            raise ConfigError(f"thresholds.{area}: no analyzer has that name (known: {', '.join(sorted(known))})")
        for name in values:
            if name not in known[area]:
                raise ConfigError(f"threshold {area}.{name} does not exist; `perfadvisor thresholds` lists them")
            settings.threshold(area, name, known[area][name])


def sampling_sources(settings: Settings, modules: list[Any] | None = None
                     ) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """The sampling sources of every configured analyzer (all of `modules`, default every analyzer that is
    configured): ({area: [Source, …]}, {area: one-line error}) — `loadtest` samples the stack with these too."""
    if modules is None:
        modules = [m for m in analyzer_modules() if not m.configured(settings)]
    sources: dict[str, list[Any]] = {}
    failed: dict[str, str] = {}
    for mod in modules:
        if hasattr(mod, "sources"):
            try:
                found = list(mod.sources(settings))
            except PerfadvisorError as e:
                failed[mod.AREA] = str(e)
                continue
            if found:
                sources[mod.AREA] = found
    return sources, failed


def collect(settings: Settings, on_progress=None, sample_progress=None, sampled=None
            ) -> tuple[dict[str, Any], list[str]]:
    """Run every configured collector. Returns (snapshot, errors) where errors are one-line messages.

    When ``settings.sample_s`` is set, the sources of every configured sampling analyzer first run in one
    window (advisor/sampling.py); ``sample_progress`` receives its live progress line (None: quiet).
    ``sampled``: a window that already ran, as (sources {area: [Source…]}, failed {area: line}, Window) — the
    stack sampled during a load run (advisor.load.stack.StackSampler) — used instead of sampling again."""
    from advisor import sampling

    snap = new_snapshot()
    errors: list[str] = []
    active = []
    for mod in analyzer_modules():
        reason = mod.configured(settings)
        if reason:
            snap["targets"][mod.AREA] = {"status": "skipped", "reason": reason}
        else:
            active.append(mod)
    sources: dict[str, list[Any]] = {}
    window = None
    failed: dict[str, str] = {}
    if sampled is not None:
        sources, failed, window = sampled
        if window is None:  # the sampling thread never ran: collect as without a window
            sources = {}
    elif settings.sample_s is not None:
        sources, failed = sampling_sources(settings, active)
    for area, message in failed.items():
        snap["targets"][area] = {"status": "error", "error": message}
        errors.append(message)
    flat = [s for srcs in sources.values() for s in srcs]
    if flat and sampled is None:
        if on_progress:
            what = (f"one sample of {len(flat)} source(s) (counters since each application started)"
                    if settings.sample_s <= 0 else
                    f"sampling {len(flat)} source(s) for {settings.sample_s:g} s every {settings.sample_interval_s:g} s")
            on_progress(what + ": " + ", ".join(s.name for s in flat))
        window = sampling.run_window(flat, settings.sample_s, settings.sample_interval_s, progress=sample_progress)
        if sample_progress:
            sample_progress("")
    offset = 0
    for mod in active:
        if snap["targets"].get(mod.AREA, {}).get("status") == "error":
            continue
        if on_progress:
            on_progress(f"collecting {mod.AREA} …")
        try:
            if mod.AREA in sources:
                n = len(sources[mod.AREA])
                section = mod.collect(settings, window, window.recordings[offset:offset + n] if window else [])
                offset += n
            else:
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
    for mod in cross_source_modules():
        if not all(targets.get(area, {}).get("status") == "ok" for area in mod.NEEDS):
            continue
        try:
            result = mod.analyze_snapshot(snapshot, settings)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            notes.append(f"{mod.__name__.rsplit('.', 1)[-1]} rules skipped: the snapshot's sections "
                         f"{', '.join(mod.NEEDS)} are malformed ({type(e).__name__}: {e})")
            continue
        findings.extend(result.findings)
        notes.extend(result.notes)
        for area, facts in result.coverage.items():
            coverage.setdefault(area, {}).update(facts)
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
