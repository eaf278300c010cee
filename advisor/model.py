"""The data that flows between collect, analyze and report.

A *snapshot* is a plain JSON-compatible dict (see docs/snapshot.md); analysis is a pure function of it.
A *finding* is one recommendation, serialised exactly as design.md's report.json contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import InputFileError

SNAPSHOT_SCHEMA_VERSION = 1
REPORT_SCHEMA_VERSION = 1

SEVERITIES = ("critical", "high", "medium", "low", "info")
CONFIDENCES = ("verified", "estimated", "heuristic")
ACTION_KINDS = ("create_index", "drop_index", "set_property", "config", "code_change", "none")


def severity_rank(severity: str) -> int:
    """0 for critical … 4 for info; lower is worse. Raises ValueError for an unknown severity."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class IndexSpec:
    """An index as written in SQL: `columns` are column names or expressions (`lower(email)`)."""

    schema: str
    table: str
    columns: tuple[str, ...]
    name: str | None = None
    method: str = "btree"
    include: tuple[str, ...] = ()
    where: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "table": self.table, "name": self.name,
                "columns": list(self.columns), "method": self.method,
                "include": list(self.include), "where": self.where}

    @property
    def label(self) -> str:
        """`public.orders(customer_id,created_at)`: the stable key used in finding ids."""
        return f"{self.schema}.{self.table}({','.join(self.columns)})"


@dataclass(frozen=True)
class Finding:
    """One recommendation; `to_dict()` is the report.json shape of design.md.

    `impact` is {"metric": str, "before": number, "after": number} or None; `action` is
    {"kind": one of ACTION_KINDS, ...}; `evidence` is free-form JSON for the rule.
    """

    rule: str
    name: str
    area: str
    severity: str
    confidence: str
    title: str
    detail: str
    key: str
    evidence: dict[str, Any] = field(default_factory=dict)
    impact: dict[str, Any] | None = None
    action: dict[str, Any] = field(default_factory=lambda: {"kind": "none"})
    index: IndexSpec | None = None
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"unknown confidence {self.confidence!r}")
        if self.action.get("kind") not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {self.action.get('kind')!r}")

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.key}"

    @property
    def impact_saved(self) -> float:
        """before − after of the impact metric (0 when there is none); used to rank findings."""
        if not self.impact:
            return 0.0
        return float(self.impact.get("before") or 0) - float(self.impact.get("after") or 0)

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "rule": self.rule, "name": self.name, "area": self.area,
             "severity": self.severity, "confidence": self.confidence, "title": self.title,
             "detail": self.detail, "evidence": self.evidence, "impact": self.impact,
             "action": self.action, "references": list(self.references)}
        if self.index is not None:
            d["index"] = self.index.to_dict()
        return d


#: Within a severity, findings that save time come before those that save space, then the rest.
_METRIC_ORDER = {"exec_time_ms_per_hour": 0, "index_bytes": 2}


def rank(findings: list[Finding]) -> list[Finding]:
    """Worst severity first; then time saved before bytes freed, largest first; then id (stable)."""
    def key(f: Finding):
        metric = (f.impact or {}).get("metric")
        return (severity_rank(f.severity), _METRIC_ORDER.get(metric, 1 if metric else 3), -f.impact_saved, f.id)
    return sorted(findings, key=key)


def summarize(findings: list[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


def load_snapshot(path: str | Path) -> dict[str, Any]:
    """Read a snapshot.json written by `perfadvisor analyze`.

    Raises InputFileError (naming the file) when it is missing, not JSON, or not a perfadvisor snapshot of a
    supported schema_version.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise InputFileError(f"snapshot {p}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise InputFileError(f"snapshot {p}: not UTF-8 text; is this a snapshot.json?") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputFileError(f"snapshot {p}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(data, dict) or data.get("kind") != "perfadvisor-snapshot":
        raise InputFileError(f"snapshot {p}: not a perfadvisor snapshot (no \"kind\": \"perfadvisor-snapshot\")")
    if data.get("schema_version") != SNAPSHOT_SCHEMA_VERSION:
        raise InputFileError(f"snapshot {p}: schema_version {data.get('schema_version')!r} is not supported "
                             f"(this perfadvisor reads {SNAPSHOT_SCHEMA_VERSION})")
    if not isinstance(data.get("targets"), dict):
        raise InputFileError(f"snapshot {p}: \"targets\" is missing or not an object")
    for area, t in data["targets"].items():
        status = t.get("status") if isinstance(t, dict) else None
        need = {"ok": None, "skipped": "reason", "error": "error"}
        if status not in need or (need[status] and not isinstance(t.get(need[status]), str)):
            raise InputFileError(f"snapshot {p}: targets.{area} must be {{\"status\": \"ok\"}}, "
                                 "{\"status\": \"skipped\", \"reason\": …} or {\"status\": \"error\", \"error\": …}")
        if status == "ok" and not isinstance(data.get(area), dict):
            raise InputFileError(f"snapshot {p}: targets.{area} is \"ok\" but the \"{area}\" section is missing")
    return data


def new_snapshot() -> dict[str, Any]:
    from datetime import UTC, datetime

    from advisor import __version__
    return {"kind": "perfadvisor-snapshot", "schema_version": SNAPSHOT_SCHEMA_VERSION,
            "tool": {"name": "perfadvisor", "version": __version__},
            "collected_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "targets": {}}
