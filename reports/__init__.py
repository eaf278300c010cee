"""Renderers: report.json, report.md, report.html (and SARIF). They render findings; they never compute them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports import html, markdown, sarif


def write_all(report: dict[str, Any], out_dir: Path) -> None:
    """Write report.json, report.md, report.html and report.sarif into out_dir."""
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    (out_dir / "report.md").write_text(markdown.render(report), encoding="utf-8")
    (out_dir / "report.html").write_text(html.render(report), encoding="utf-8")
    (out_dir / "report.sarif").write_text(json.dumps(sarif.render(report), indent=2), encoding="utf-8")

