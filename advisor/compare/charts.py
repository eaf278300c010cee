"""Inline SVG charts of compare.html (matplotlib, Agg, text kept as text). Labels are endpoint names: `$` is
escaped so matplotlib does not read mathtext, and matplotlib escapes text in SVG output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from reports.charts import _label as charts_label  # noqa: E402 - one label and SVG helper for every chart
from reports.charts import _svg  # noqa: E402

plt.rcParams["svg.fonttype"] = "none"
plt.rcParams["svg.hashsalt"] = "perfadvisor-compare"

BEFORE, AFTER = "#7f7f7f", "#1f77b4"
VERDICT_COLOURS = {"improved": "#2ca02c", "regressed": "#d62728", "~": "#7f7f7f", "inconclusive": "#ff7f0e",
                   "invalid": "#9467bd"}
#: Percentiles drawn on the latency curves (x axis: 1 / (1 − p), log scale, as HdrHistogram's plots).
CURVE_PERCENTILES = (0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99)


def _label(text: str, width: int = 40) -> str:
    return charts_label(text, width)


def percentile_curves(curves: list[tuple[str, list[tuple[float, float]], list[tuple[float, float]]]]) -> str | None:
    """Small multiples: per endpoint, latency (ms) at each percentile, before and after.
    curves: [(label, [(percentile, ms) before], [(percentile, ms) after])]."""
    curves = [c for c in curves if c[1] or c[2]][:9]
    if not curves:
        return None
    cols = min(3, len(curves))
    rows = -(-len(curves) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(curves):]:
        ax.set_visible(False)
    for ax, (label, before, after) in zip(axes.flat, curves, strict=False):
        for pts, colour, name in ((before, BEFORE, "before"), (after, AFTER, "after")):
            if pts:
                ax.plot([1 / (1 - p / 100) for p, _ in pts], [v for _, v in pts], marker="o", ms=2.5,
                        color=colour, label=name)
        ax.set_xscale("log")
        ticks = [p for p in (50, 90, 99, 99.9, 99.99)]
        ax.set_xticks([1 / (1 - p / 100) for p in ticks], [f"p{p:g}" for p in ticks], fontsize=7)
        ax.minorticks_off()  # the percentile ticks say it all (and minor log ticks cost most of the drawing)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylabel("ms", fontsize=7)
        ax.set_title(_label(label), fontsize=8)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7, frameon=False)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    return _svg(fig)


def effects(rows: list[dict[str, Any]], metric: str, threshold: float, title: str) -> str | None:
    """Each endpoint's relative change of `metric` with its 95% interval, the ±threshold band shaded and the
    point coloured by verdict."""
    pts = [(r["key"], r["metrics"][metric]) for r in rows
           if r["metrics"][metric]["change"] is not None][:25]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(pts) + 1.0))
    ax.axvspan(-100 * threshold, 100 * threshold, color="#dddddd", alpha=0.6, lw=0, label="±threshold")
    ax.axvline(0, color="#555555", lw=0.8)
    for i, (_key, m) in enumerate(pts):
        colour = VERDICT_COLOURS.get(m["verdict"] or "", "#333333")
        if m["ci_low"] is not None:
            ax.plot([100 * m["ci_low"], 100 * m["ci_high"]], [i, i], color=colour, lw=2)
        ax.plot([100 * m["change"]], [i], "o", color=colour)
    ax.set_yticks(range(len(pts)), [_label(k) for k, _ in pts], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{title}: change after vs before, % (bar: bootstrap 95% interval)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def _timeseries(run_dir: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(run_dir / "timeseries.csv")
    except (OSError, ValueError):
        return None


def over_time(before: tuple[Path, dict], after: tuple[Path, dict]) -> str | None:
    """Throughput and p95 per second of the first run of each side, the warm-up (before the steady state) shaded."""
    frames = [(name, _timeseries(path), doc, colour) for name, (path, doc), colour in
              (("before", before, BEFORE), ("after", after, AFTER))]
    frames = [f for f in frames if f[1] is not None and len(f[1])]
    if not frames:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 4.6), sharex=True)
    for name, df, doc, colour in frames:
        stop = (doc.get("steady_state") or {}).get("stop_s")
        if stop is not None:
            df = df[df["t_s"] + 1 <= stop]  # the last, partial second would look like a collapse
        top.plot(df["t_s"], df["requests"], color=colour, label=name, lw=1.2)
        bottom.plot(df["t_s"], df["p95_ms"], color=colour, label=name, lw=1.2)
        start = (doc.get("steady_state") or {}).get("start_s")
        if start:
            for ax in (top, bottom):
                ax.axvspan(0, start, color=colour, alpha=0.08, lw=0)
    top.set_ylabel("requests/s", fontsize=8)
    bottom.set_ylabel("p95 ms (per second)", fontsize=8)
    bottom.set_xlabel("seconds since the load started (shaded: ramp-up and warm-up, not compared)", fontsize=8)
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    top.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _svg(fig)


def stack_series(before: tuple[Path, dict], after: tuple[Path, dict], limit: int = 8) -> str | None:
    """Series sampled from the stack during both runs (the first run of each side), side by side."""
    def frames(path: Path, doc: dict) -> dict[str, pd.DataFrame]:
        out = {}
        for s in ((doc.get("stack") or {}).get("sources") or []):
            try:
                out[s["name"]] = pd.read_csv(path / s["file"])
            except (OSError, ValueError, KeyError):
                continue
        return out

    fb, fa = frames(*before), frames(*after)
    pairs = []
    for name in sorted(set(fb) & set(fa)):
        for col in [c for c in fb[name].columns if c != "t_s" and c in fa[name].columns]:
            if pd.api.types.is_numeric_dtype(fb[name][col]) and pd.api.types.is_numeric_dtype(fa[name][col]):
                pairs.append((name, col))
    pairs = pairs[:limit]
    if not pairs:
        return None
    cols = min(2, len(pairs))
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.flat[len(pairs):]:
        ax.set_visible(False)
    for ax, (name, col) in zip(axes.flat, pairs, strict=False):
        ax.plot(fb[name]["t_s"], fb[name][col], color=BEFORE, lw=1, label="before")
        ax.plot(fa[name]["t_s"], fa[name][col], color=AFTER, lw=1, label="after")
        ax.set_title(_label(f"{name}: {col}", 55), fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return _svg(fig)
