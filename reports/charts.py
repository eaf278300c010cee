"""Inline SVG charts (matplotlib, Agg backend, no JavaScript). Labels are the start of each statement;
matplotlib escapes text in SVG output, and the tests check that statement text cannot inject markup."""

from __future__ import annotations

import io
from functools import cache
from typing import Any


@cache
def _pyplot():
    """matplotlib.pyplot on the Agg backend, imported on the first chart (0.6 s: a report without charts, such
    as a front-end-only run, does not pay it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: small files, selectable labels
    plt.rcParams["svg.hashsalt"] = "perfadvisor"  # stable ids across runs
    return plt


def _label(query: str, width: int = 48) -> str:
    """The start of a statement as a tick label; `$` escaped so matplotlib does not read it as mathtext."""
    text = " ".join(query.split())
    text = text if len(text) <= width else text[:width - 1] + "…"
    return text.replace("$", r"\$")


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _pyplot().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def cost_before_after(statements: list[dict[str, Any]]) -> str | None:
    """Horizontal bars of each statement's planner cost before and after, on a linear axis from 0 so a cut reads
    at its true size (a log axis made a 68% cut look like 95%); each pair is labelled with its percent change and
    both absolute costs."""
    rows = [s for s in statements if s.get("cost_before") is not None and s.get("cost_after") is not None][:8]
    if not rows:
        return None
    fig, ax = _pyplot().subplots(figsize=(7.5, 0.5 * len(rows) + 0.9))
    labels = [_label(s["query"]) if s.get("query") else f"queryid {s['queryid']}" for s in rows]
    y = range(len(rows))
    before = [float(s["cost_before"]) for s in rows]
    after = [float(s["cost_after"]) for s in rows]
    ax.barh([i + 0.2 for i in y], before, height=0.4, label="before", color="#c0504d")
    ax.barh([i - 0.2 for i in y], after, height=0.4, label="after", color="#4f81bd")
    top = max(before + after) or 1.0
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        pct = 100 * (a - b) / b if b else None
        # one decimal near ±100% so a 99.8% cut is not shown as a 100% one
        change = "n/a" if pct is None else (f"{pct:+.1f}%" if abs(pct) >= 99 else f"{pct:+.0f}%")
        ax.text(max(a, b) + 0.01 * top, i, f"{change}  ({b:,.1f} → {a:,.1f})", va="center", fontsize=7)
    ax.set_xlim(0, top * 1.45)  # room for the labels right of the longest bar
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("planner cost (arbitrary units, linear axis from 0)", fontsize=8)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.tick_params(axis="x", labelsize=8)
    return _svg(fig)


def workload_shares(statements: list[dict[str, Any]]) -> str | None:
    """Share of total exec time by statement (top 15)."""
    rows = statements[:15]
    if not rows:
        return None
    fig, ax = _pyplot().subplots(figsize=(6.5, 0.3 * len(rows) + 0.9))
    colors = {"analysed": "#4f81bd", "unanalysed": "#c0504d", "utility": "#999999"}
    ax.barh(range(len(rows)), [100 * s["share"] for s in rows],
            color=[colors.get(s.get("status") or "", "#999999") for s in rows])
    ax.set_yticks(range(len(rows)), [_label(s["query"]) for s in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("% of total exec time (blue: analysed, red: could not be analysed, grey: utility)", fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    return _svg(fig)


def timeseries(spec: dict[str, Any]) -> str | None:
    """A line chart of values sampled over one window.

    spec: {"title": str, "unit": str (y-axis label, e.g. "connections", "hit ratio"), "t_s": [seconds from the
    window's start], "series": {label: [value or None, …]}, "shade": [[start_s, end_s], …] (optional: periods
    to shade, e.g. a warm-up), "ylim": [low, high] (optional)}. Returns None when there is nothing to draw.
    The y axis is linear and starts at 0 unless ylim says otherwise, so a change reads at its true size.
    """
    t = spec.get("t_s") or []
    series = {k: v for k, v in (spec.get("series") or {}).items() if any(x is not None for x in v)}
    if len(t) < 2 or not series:
        return None
    fig, ax = _pyplot().subplots(figsize=(7.5, 2.4))
    for label, values in list(series.items())[:8]:
        xs = [x for x, v in zip(t, values, strict=False) if v is not None]
        ys = [v for v in values if v is not None]
        ax.plot(xs, ys, label=_label(str(label), 40), linewidth=1.4)
    for lo, hi in spec.get("shade") or []:
        ax.axvspan(lo, hi, color="#999999", alpha=0.15, linewidth=0)
    if spec.get("ylim"):
        ax.set_ylim(*spec["ylim"])
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("seconds into the sampling window", fontsize=8)
    ax.set_ylabel(_label(str(spec.get("unit", "")), 30), fontsize=8)
    if spec.get("title"):
        ax.set_title(_label(str(spec["title"]), 90), fontsize=9, loc="left")
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _svg(fig)
