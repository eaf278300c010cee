"""PROFILE… rules: pure functions of one profiled process (an entry of the section's ``processes``).

Every threshold is a named constant with its source and can be overridden in perfadvisor.toml under
[thresholds.profile] (names in THRESHOLD_NAMES; see docs/rules/PROFILE001.md).
"""

from __future__ import annotations

import math
from typing import Any

from advisor.config import Settings
from advisor.model import Finding
from analyzers.profile import flamegraph

AREA = "profile"

# Below this many thread-samples in which Python code ran, shares are too noisy to name a hot function:
# the standard error of a share p measured on n independent samples is sqrt(p(1-p)/n), at most 5 points
# at n = 100 (the binomial standard error; samples of one process are correlated, so the real error is
# larger). perfadvisor's convention. Threshold name: min_active_samples.
MIN_ACTIVE_SAMPLES = 100
# "A few functions" (issue 7): the hot functions named are at most this many, most self samples first.
# Threshold name: hot_top_functions.
HOT_TOP_FUNCTIONS = 3
# "Most of its samples" (issue 7): the named functions hold more than half of the samples in which Python
# code ran, by self samples (on CPU in the function itself: the widest "plateaus" of the flame graph,
# which Brendan Gregg's "The Flame Graph" (CACM 59(6), 2016) says to look at first).
# Threshold name: hot_functions_min_share.
HOT_FUNCTIONS_MIN_SHARE = 0.5
# A function is named only when it holds at least this share of the samples on its own, so that a long
# tail of 2% functions never adds up to a "hot spot". perfadvisor's convention.
# Threshold name: hot_function_min_share.
HOT_FUNCTION_MIN_SHARE = 0.1
# Severity from how busy the process was (CPU time over wall time, in cores, from psutil): a process that
# used half a core or more is CPU-bound enough that the hot functions limit its throughput ("high"); one
# that used a tenth of a core pays for them in latency ("medium"); below that "low". perfadvisor's scale.
# Threshold names: busy_high_cores, busy_medium_cores.
BUSY_HIGH_CORES = 0.5
BUSY_MEDIUM_CORES = 0.1

REFERENCES = ("https://www.brendangregg.com/flamegraphs.html", "https://github.com/benfred/py-spy")

HINT = ("Make {where} do less, or call it less: look for work repeated in a loop (the same value computed again, a loop "
        "over data that grows with each pass), pure-Python loops that a built-in or a C-backed library does "
        "in one call (hashlib, str.join, sum, sorted, numpy), and results that could be computed once and "
        "kept (functools.lru_cache); then profile again to confirm the share dropped.")


def cpu_cores(proc: dict[str, Any]) -> float | None:
    """Mean CPU use of a profiled process in cores: from the first and last non-null values of its
    process_cpu_seconds_total series, else (one sample, as with --sample 0) from the CPU time it used while
    py-spy ran (profile.cpu_seconds / duration_s); None when neither is known."""
    series = proc.get("series") or {}
    t = series.get("t_s") or []
    values = (series.get("series") or {}).get("process_cpu_seconds_total") or []
    points = [(ti, v) for ti, v in zip(t, values, strict=False) if v is not None]
    if len(points) >= 2 and points[-1][0] > points[0][0]:
        return max(0.0, (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0]))
    prof = proc.get("profile") or {}
    if prof.get("cpu_seconds") is not None and prof.get("duration_s"):
        return max(0.0, prof["cpu_seconds"] / prof["duration_s"])
    return None


def share_stderr(p: float, n: int) -> float:
    """Binomial standard error of a share p measured on n samples."""
    return math.sqrt(p * (1 - p) / n) if n > 0 else 1.0


def _where(f: dict[str, Any], short: bool = False) -> str:
    """``function (file:line)``, and for library code the application frame that called it; `short` shows
    an application file by its base name."""
    file = f.get("file") or "?"
    if short and not f.get("library"):
        file = file.replace("\\", "/").rsplit("/", 1)[-1]
    text = f"{f['function']} ({file}:{f['line']})" if f.get("line") else f"{f['function']} ({file})"
    caller = f.get("caller")
    if f.get("library") and caller:
        text += f" called from {_where({**caller, 'library': False}, short)}"
    return text


def _fix_site(f: dict[str, Any]) -> dict[str, Any]:
    """Where the user can change something: the function itself, or for library code its caller."""
    return f["caller"] if f.get("library") and f.get("caller") else f


def _described(f: dict[str, Any], n: int) -> dict[str, Any]:
    p_self, p_total = f["self_samples"] / n, f["total_samples"] / n
    return {**f, "self_share": round(p_self, 4), "self_share_stderr": round(share_stderr(p_self, n), 4),
            "total_share": round(p_total, 4)}


def flamegraph_svg(proc: dict[str, Any]) -> str:
    """The process's flame graph SVG (flamegraph.render of its frame tree)."""
    prof = proc["profile"]
    title = (f"{proc.get('label')} (PID {proc.get('pid')}): {prof['samples']} samples over "
             f"{prof['duration_s']:.0f} s at {prof['rate_hz']} Hz")
    return flamegraph.render(prof["frame_tree"], title)


def hot_functions(proc: dict[str, Any], settings: Settings) -> tuple[list[dict[str, Any]], float] | None:
    """(the hot functions with their shares, their combined self share) when the profile has enough samples
    and its top functions hold most of them; else None."""
    prof = proc.get("profile") or {}
    n = prof.get("samples") or 0
    if n < settings.threshold(AREA, "min_active_samples", MIN_ACTIVE_SAMPLES):
        return None
    top_n = settings.threshold(AREA, "hot_top_functions", HOT_TOP_FUNCTIONS)
    each = settings.threshold(AREA, "hot_function_min_share", HOT_FUNCTION_MIN_SHARE)
    ranked = sorted(prof.get("functions") or [], key=lambda f: (-f["self_samples"], f["function"]))
    hot = [f for f in ranked[:top_n] if f["self_samples"] / n >= each]
    combined = sum(f["self_samples"] for f in hot) / n
    if not hot or combined < settings.threshold(AREA, "hot_functions_min_share", HOT_FUNCTIONS_MIN_SHARE):
        return None
    return [_described(f, n) for f in hot], combined


def _severity(cores: float | None, settings: Settings) -> str:
    if cores is None:
        return "medium"
    if cores >= settings.threshold(AREA, "busy_high_cores", BUSY_HIGH_CORES):
        return "high"
    if cores >= settings.threshold(AREA, "busy_medium_cores", BUSY_MEDIUM_CORES):
        return "medium"
    return "low"


def profile001_hot_function(proc: dict[str, Any], settings: Settings) -> Finding | None:
    """PROFILE001 hot-function: a Python process that spends most of its samples in a few functions.

    Anti-pattern: a worker at 100% CPU, 80% of it in one pure-Python checksum loop.
    Best practice: the hot loop replaced by a library call or done once; the flame graph flat.
    """
    found = hot_functions(proc, settings)
    if found is None:
        return None
    hot, combined = found
    prof = proc["profile"]
    n = prof["samples"]
    cores = cpu_cores(proc)
    label = proc.get("label") or proc.get("process") or str(proc.get("pid"))
    first = hot[0]
    site = _fix_site(first)
    listed = ", ".join(f"{_where(f)}: {f['self_share']:.0%}" for f in hot)
    short = ", ".join(f"{_where(f, short=True)}: {f['self_share']:.0%}" for f in hot)
    busy = f"it used {cores:.2f} CPU cores on average" if cores is not None else "its CPU use was not sampled"
    top_total = [_described(f, n) for f in sorted(prof.get("functions") or [],
                                                   key=lambda f: (-f["total_samples"], f["function"]))[:5]]
    return Finding(
        rule="PROFILE001", name="hot-function", area=AREA, severity=_severity(cores, settings),
        confidence="verified",
        title=f"{label} spends {combined:.0%} of its Python samples in {len(hot)} function(s): {short}",
        detail=(f"py-spy sampled process {proc.get('pid')} ({label}) at {prof['rate_hz']} Hz for "
                f"{prof['duration_s']:.0f} s: {n} samples in which Python code ran; {busy}. Self samples "
                f"(running in the function itself: the widest plateaus of the flame graph): {listed} "
                f"(±{first['self_share_stderr']:.0%} standard error on the first). Time these functions "
                "spend is time the service cannot spend on other work."),
        key=f"{label}:{first.get('module') or first.get('file')}.{first['function']}",
        evidence={"process": {"pid": proc.get("pid"), "process": proc.get("process"), "label": label,
                              "target": proc.get("target")},
                  "samples": n, "expected_samples": prof.get("expected_samples"),
                  "duration_s": prof["duration_s"], "rate_hz": prof["rate_hz"],
                  "cpu_cores_mean": round(cores, 3) if cores is not None else None,
                  "hot_share": round(combined, 4), "hot_functions": hot, "top_total": top_total,
                  "flamegraph_svg": flamegraph_svg(proc)},
        action={"kind": "code_change", "file": site.get("file") or "", "line": site.get("line"),
                "function": site["function"], "summary": HINT.format(where=_where(first))},
        references=REFERENCES)


def run(processes: list[dict[str, Any]], settings: Settings) -> list[Finding]:
    """PROFILE001 for every profiled process; one finding per (service, top function): processes with the
    same label and the same top function (pre-fork workers) give one finding, for the one with the most
    samples, listing the others' PIDs in evidence.also_pids."""
    best: dict[str, tuple[Finding, int]] = {}
    also: dict[str, list[int]] = {}
    for proc in processes:
        if not proc.get("profile"):
            continue
        f = profile001_hot_function(proc, settings)
        if f is None:
            continue
        also.setdefault(f.id, []).append(proc.get("pid"))
        if f.id not in best or f.evidence["samples"] > best[f.id][1]:
            best[f.id] = (f, f.evidence["samples"])
    out = []
    for fid, (f, _) in best.items():
        others = [p for p in also[fid] if p != f.evidence["process"]["pid"]]
        if others:
            f.evidence["also_pids"] = others
        out.append(f)
    return out
