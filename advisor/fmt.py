"""Formatting shared by the console summary and the renderers: one wording of impact everywhere."""

from __future__ import annotations

from typing import Any


def fmt_bytes(n: float | None) -> str:
    """1536 → "1.5 kB" (powers of 1024, as du -h and pg_size_pretty)."""
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(n)  # pragma: no cover


def impact_text(f: dict[str, Any]) -> str:
    """A finding's impact in words: "est. 1,234 ms/h saved (2,000 → 766 ms/h)", "17.0 MB freed", …"""
    imp = f.get("impact") or {}
    if not imp:
        return ""
    before, after = imp.get("before"), imp.get("after")
    est = "est. " if imp.get("estimated") else ""
    metric = imp.get("metric", "")
    if metric == "exec_time_ms_per_hour":
        return f"{est}{before - after:,.0f} ms/h saved ({before:,.0f} → {after:,.0f} ms/h)"
    if metric == "index_bytes":
        return f"{fmt_bytes(before - after)} freed"
    if metric.endswith("_bytes"):
        return f"{est}{metric.removesuffix('_bytes').replace('_', ' ')}: {fmt_bytes(before)} → {fmt_bytes(after)}"
    return f"{est}{metric.replace('_', ' ')}: {_num(before)} → {_num(after)}"


def _num(v: Any) -> str:
    """Whole numbers from 100 up (163,092 misses per hour), two decimals below (10.91 calls per request)."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return str(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}".rstrip("0").rstrip(".")
