"""report.sarif: SARIF 2.1.0 for code-scanning UIs (one result per finding; no source locations)."""

from __future__ import annotations

from typing import Any

_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def render(report: dict[str, Any]) -> dict[str, Any]:
    rules = {}
    for f in report["findings"]:
        rules.setdefault(f["rule"], {"id": f["rule"], "name": f["name"],
                                     "helpUri": f"docs/rules/{f['rule']}.md"})
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "perfadvisor", "version": report["tool"]["version"],
                                      "rules": list(rules.values())}},
                  "results": [{"ruleId": f["rule"], "level": _LEVEL[f["severity"]],
                               "message": {"text": f["title"]},
                               "partialFingerprints": {"perfadvisorId": f["id"]},
                               "properties": {"confidence": f["confidence"], "severity": f["severity"]}}
                              for f in report["findings"]]}]}
