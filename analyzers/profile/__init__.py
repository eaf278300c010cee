"""Profile analyzer: py-spy profiles of running Python services, sampled in the shared window.

Where data comes from: targets.py (PIDs and names → processes, with psutil), pyspy.py (ProfileSource:
`py-spy record` for the window, CPU and memory series), stacks.py (collapsed stacks → functions and a
frame tree). What is concluded: rules.py (PROFILE…); flamegraph.py draws the flame graph SVG.

Targets (settings.target("profile"), `--py-spy` on the command line):
    targets        PIDs and/or process names or patterns: a list, or one text separated by commas or spaces
    rate           py-spy's sampling rate in Hz (default 100)
    subprocesses   also profile the processes' children (py-spy --subprocesses); true/false (default false)
    py_spy         the py-spy executable (default "py-spy" on PATH)
    since_start_profile_s   how long to profile with `--sample 0` (default 5 s)

Snapshot section (`collect`): {"window": Window.info(), "processes": [{"source", "pid", "process", "label",
"target", "matched_by", "py_spy": {"version", "rate_hz", "subprocesses", "nonblocking"}, "notes": [...],
"series": Recording.series() (process_cpu_seconds_total, process_resident_memory_bytes),
"profile": pyspy.profile_from(...) | None, "error": one line | None}], "notes": [...], "errors": [...]}.
See docs/profile.md.
"""

from __future__ import annotations

from typing import Any

from advisor.config import Settings
from advisor.errors import ConfigError, TargetError

AREA = "profile"

# flamegraph.pl (Brendan Gregg) leaves out frames narrower than --minwidth (0.1 px): they cannot be seen.
# Ours is a share of the samples: 0.2% is 2.4 px of the 1200 px graph, about where a frame stops being
# visible as more than a line. Threshold name: flamegraph_min_frame_share.
FLAMEGRAPH_MIN_FRAME_SHARE = 0.002
# A bound on the flame graph's size in the snapshot and the report: 1000 frames draw to about 170 kB of SVG
# (measured on a synthetic 3000-stack profile). perfadvisor's convention. Threshold name: flamegraph_max_frames.
FLAMEGRAPH_MAX_FRAMES = 1000

#: (name, default, source) of every threshold, shown by `perfadvisor thresholds`; set them in
#: perfadvisor.toml under [thresholds.profile].
THRESHOLDS = (
    ("min_active_samples", 100, "binomial standard error of a share ≤ 5 points at 100 samples; perfadvisor's "
                                "convention"),
    ("hot_top_functions", 3, "'a few functions' (issue 7)"),
    ("hot_functions_min_share", 0.5, "'most of its samples' (issue 7), by self samples: the flame graph's "
                                     "widest plateaus (Brendan Gregg, 'The Flame Graph', CACM 2016)"),
    ("hot_function_min_share", 0.1, "perfadvisor's convention: each named function holds ≥ 10% by itself"),
    ("busy_high_cores", 0.5, "perfadvisor's severity scale: CPU-bound at half a core or more"),
    ("busy_medium_cores", 0.1, "perfadvisor's severity scale"),
    ("flamegraph_min_frame_share", FLAMEGRAPH_MIN_FRAME_SHARE,
     "frames below 0.2% of samples (2.4 px of 1200) are dropped, as flamegraph.pl --minwidth drops frames too "
     "narrow to see"),
    ("flamegraph_max_frames", FLAMEGRAPH_MAX_FRAMES, "perfadvisor's bound on the flame graph's size (~170 kB of SVG)"),
)

_OPTIONS = {"targets", "rate", "subprocesses", "py_spy", "since_start_profile_s"}


def configured(settings: Settings) -> str | None:
    """None when py-spy targets are configured, else the reason profiling is skipped."""
    if settings.target(AREA).get("targets") not in (None, "", []):
        return None
    return "not configured (give --py-spy PID|NAME, or [targets.profile] targets)"


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.strip().lower() in ("true", "yes", "on", "1")
    raise ConfigError(f"targets.profile.{key}: {value!r} is not true or false")


def _number(value: Any, key: str, kind: type, low: float, high: float) -> Any:
    try:
        if isinstance(value, bool):
            raise ValueError
        n = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"targets.profile.{key}: {value!r} is not a number") from None
    if not low <= n <= high or (kind is int and float(value) != n):
        raise ConfigError(f"targets.profile.{key}: {value!r} must be a whole number from {low:g} to {high:g}"
                          if kind is int else f"targets.profile.{key}: {value!r} must be from {low:g} to {high:g}")
    return n


def options(settings: Settings) -> dict[str, Any]:
    """The validated target options (see the module docstring). Raises ConfigError naming the bad key."""
    from analyzers.profile import pyspy, targets

    t = settings.target(AREA)
    unknown = set(t) - _OPTIONS
    if unknown:
        raise ConfigError(f"targets.profile: unknown key(s) {', '.join(sorted(unknown))}; expected "
                          f"{', '.join(sorted(_OPTIONS))}")
    return {"targets": targets.parse_targets(t.get("targets")),
            "rate": _number(t.get("rate", pyspy.DEFAULT_RATE_HZ), "rate", int, 1, 10_000),
            "subprocesses": _bool(t.get("subprocesses", False), "subprocesses"),
            "py_spy": str(t.get("py_spy") or "py-spy"),
            "since_start_profile_s": _number(t.get("since_start_profile_s", pyspy.SINCE_START_PROFILE_S),
                                             "since_start_profile_s", float, 0.5, 3600)}


class UnresolvedTarget:
    """A target that names no process while others do: it fails at open() with its one-line reason, so the
    run reports it (exit 2) and profiles the rest."""

    def __init__(self, target: str, message: str) -> None:
        self.name = f"py-spy {target}"
        self.message = message

    def open(self) -> dict[str, Any]:
        raise TargetError(self.message)

    def sample(self) -> dict[str, float]:
        return {}

    def close(self) -> dict[str, Any]:
        return {}

    def headline(self, prev, cur, dt_s) -> str:
        return ""


def sources(settings: Settings) -> list[Any]:
    """One ProfileSource per process the targets name (the same PID once). Raises ConfigError for bad
    options and TargetError when no target names a process; a target that names none while others do
    becomes an UnresolvedTarget (its error is reported, the others are profiled)."""
    from analyzers.profile import pyspy, targets

    opts = options(settings)
    since_start = settings.sample_s is not None and settings.sample_s <= 0
    found: list[Any] = []
    failed: list[tuple[str, str]] = []
    seen: set[int] = set()
    for target in opts["targets"]:
        try:
            matches, notes = targets.resolve(target, opts["subprocesses"])
        except TargetError as e:
            failed.append((target, str(e)))
            continue
        for m in matches:
            if m.pid in seen:
                continue
            seen.add(m.pid)
            src = pyspy.ProfileSource(
                m, rate_hz=opts["rate"], subprocesses=opts["subprocesses"], py_spy=opts["py_spy"],
                min_profile_s=opts["since_start_profile_s"] if since_start else 0.0,
                tree_min_share=settings.threshold(AREA, "flamegraph_min_frame_share", FLAMEGRAPH_MIN_FRAME_SHARE),
                tree_max_frames=settings.threshold(AREA, "flamegraph_max_frames", FLAMEGRAPH_MAX_FRAMES),
                notes=tuple(notes))
            found.append(src)
    if not found:
        raise TargetError("; ".join(message for _, message in failed))
    return found + [UnresolvedTarget(t, message) for t, message in failed]


def collect(settings: Settings, window=None, recordings=None) -> dict[str, Any]:
    """The snapshot section from the shared window's recordings of this analyzer's sources. Without a
    window (no --sample given), profiles for advisor.sampling.DEFAULT_WINDOW_S in a window of its own.
    Raises TargetError when no process could be profiled at all."""
    from advisor import sampling

    if window is None:
        srcs = sources(settings)
        window = sampling.run_window(srcs, sampling.DEFAULT_WINDOW_S, settings.sample_interval_s)
        recordings = window.recordings
    processes, errors, notes = [], [], []
    for rec in recordings or []:
        opened = rec.opened or {}
        line = rec.error_line()
        if line:
            errors.append(line)
        notes.extend(n for n in opened.get("notes") or () if n not in notes)
        processes.append({"source": rec.name, "pid": opened.get("pid"), "process": opened.get("process"),
                          "label": opened.get("label"), "target": opened.get("target"),
                          "matched_by": opened.get("matched_by"), "py_spy": opened.get("py_spy"),
                          "series": rec.series(), "profile": (rec.closed or {}).get("profile"), "error": line})
    if window.mode == "since_start":
        notes.append("--sample 0: a profile has no totals since the process started, so each process was "
                     f"profiled for {options(settings)['since_start_profile_s']:g} s instead "
                     "([targets.profile] since_start_profile_s)")
    if not any(p["profile"] for p in processes):
        raise TargetError(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
                          if errors else "py-spy: no process was profiled")
    return {"window": window.info(), "processes": processes, "notes": notes, "errors": errors}


def target_info(section: dict[str, Any]) -> dict[str, Any]:
    """report.json's targets.profile: the processes profiled ("PID label"), the window's length, and the
    samples in which Python code ran, summed."""
    profiled = [p for p in section["processes"] if p.get("profile")]
    return {"processes": [f"{p['pid']} {p['label']}" for p in profiled],
            "duration_s": section["window"].get("duration_s"),
            "samples": sum(p["profile"]["samples"] for p in profiled)}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def analyze(section: dict[str, Any], settings: Settings):
    """PROFILE rules on every profiled process, a coverage entry per process (top functions by self and by
    total samples, CPU, memory, the flame graph SVG), and a note for each process that could not be
    profiled or had too few samples. A pure function of the section; returns AreaResult."""
    from advisor.pipeline import AreaResult
    from analyzers.profile import rules

    result = AreaResult(notes=list(section.get("notes") or []))
    result.findings.extend(rules.run(section["processes"], settings))
    min_samples = settings.threshold(AREA, "min_active_samples", rules.MIN_ACTIVE_SAMPLES)
    entries = []
    for proc in section["processes"]:
        entry = {"pid": proc.get("pid"), "label": proc.get("label"), "process": proc.get("process"),
                 "target": proc.get("target"), "error": proc.get("error")}
        prof = proc.get("profile")
        if prof is None:
            entry["status"] = "not profiled"
            result.notes.append(f"{proc.get('source')}: not profiled: {proc.get('error') or 'no profile'}")
            entries.append(entry)
            continue
        n = prof["samples"]
        funcs = prof.get("functions") or []
        rss = [v for v in (proc.get("series") or {}).get("series", {}).get("process_resident_memory_bytes", [])
               if v is not None]
        entry.update({
            "status": "profiled" if n >= min_samples else "too few samples",
            "samples": n, "expected_samples": prof.get("expected_samples"), "duration_s": prof["duration_s"],
            "rate_hz": prof["rate_hz"], "cpu_cores_mean": _round(rules.cpu_cores(proc), 3),
            "resident_memory_bytes_max": max(rss) if rss else None,
            "top_self": [rules._described(f, n) for f in sorted(funcs, key=lambda f: -f["self_samples"])[:10]
                         if f["self_samples"]] if n else [],
            "top_total": [rules._described(f, n) for f in sorted(funcs, key=lambda f: -f["total_samples"])[:10]]
            if n else [],
            "flamegraph_svg": rules.flamegraph_svg(proc)})
        if n < min_samples:
            result.notes.append(f"{proc.get('source')}: only {n} samples with Python code running in "
                                f"{prof['duration_s']:.0f} s (fewer than {min_samples}): the process was idle or "
                                "waiting (I/O, locks, sleep) for most of the window; no hot function is named")
        entries.append(entry)
    result.coverage = {"processes": entries}
    return result
