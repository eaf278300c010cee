"""LOAD… rules: is this load run fit to be measured and compared? Pure functions of the run's facts.

Each rule returns a check ``{"rule", "name", "status": "pass"|"warn"|"fail", "title", "detail", "evidence",
"confidence"}``. A run with any "fail" is invalid: `compare` reports it and gives it no verdict. "warn" keeps
the run valid and is shown next to its numbers.

| rule    | name                      | fails when                                                              |
|---------|---------------------------|-------------------------------------------------------------------------|
| LOAD001 | generator-cpu-saturated   | a generator process's CPU (p90 of 1-s samples in the steady state) > 90% |
| LOAD002 | lost-workers              | fewer workers than expected connected, or one was lost mid-run           |
| LOAD003 | users-not-reached         | the users asked for were never all running                               |
| LOAD004 | high-error-rate           | more than 10% of steady-state requests failed (warns above 1%)           |
| LOAD005 | short-steady-state        | no steady-state window is left after ramp-up and warm-up (warns < 30 s)  |
| LOAD006 | offered-rate-not-achieved | estimated achieved / offered request rate < 95%                          |

Thresholds are read with ``settings.threshold("load", name, default)`` (perfadvisor.toml ``[thresholds.load]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

AREA = "load"

#: Locust warns above this CPU share of one core (locust/runners.py CPU_WARNING_THRESHOLD = 90): response times
#: measured by a saturated generator include its own queueing.
GENERATOR_CPU_MAX_PCT = 90.0
#: The share of requests that may fail before a warning: the issue's default SLO (error rate < 1%).
WARN_ERROR_SHARE = 0.01
#: Above this share of failed requests the run measures the failure path, not the service: invalid.
#: perfadvisor's choice.
MAX_ERROR_SHARE = 0.10
#: Shorter steady states give wide intervals (a few dozen windows at least for per-window statistics);
#: perfadvisor's choice, warns only.
MIN_STEADY_S = 30.0
#: Issue 8's performance target: achieved request rate at least 95% of offered.
MIN_ACHIEVED_SHARE = 0.95
#: Scheduler wake-ups per request whose lag lengthens a user's cycle: the response's and the think time's.
WAKEUPS_PER_REQUEST = 2

THRESHOLDS = (
    ("generator_cpu_max_pct", GENERATOR_CPU_MAX_PCT, "Locust's CPU_WARNING_THRESHOLD (locust/runners.py)"),
    ("warn_error_share", WARN_ERROR_SHARE, "issue 8's default SLO: error rate < 1%"),
    ("max_error_share", MAX_ERROR_SHARE, "perfadvisor's choice: above it the run measures failures"),
    ("min_steady_s", MIN_STEADY_S, "perfadvisor's choice: enough windows for per-window statistics"),
    ("min_achieved_share", MIN_ACHIEVED_SHARE, "issue 8: achieved ≥ 95% of offered request rate"),
)


@dataclass(frozen=True)
class ProcessUsage:
    """One generator process over the steady state: CPU in % of one core (psutil), RSS in bytes, event-loop
    lag in ms (how late a sleeping greenlet woke; None for the master, which runs no users)."""

    process: str
    host: str
    pid: int
    cpu_percent: tuple[float, ...]
    rss_bytes_max: int
    lag_ms_mean: float | None


@dataclass(frozen=True)
class RunFacts:
    users_target: int
    users_max: int
    users_mean_steady: float
    spawn_complete_s: float | None
    workers_expected: int
    workers_at_start: int
    workers_lost: tuple[dict[str, Any], ...]
    steady_s: float
    warmup_s: float
    steady_requests: int
    steady_failures: int
    processes: tuple[ProcessUsage, ...] = field(default_factory=tuple)
    interrupted: bool = False


def _check(rule: str, name: str, status: str, title: str, detail: str, evidence: dict[str, Any],
           confidence: str = "verified") -> dict[str, Any]:
    return {"rule": rule, "name": name, "status": status, "title": title, "detail": detail,
            "evidence": evidence, "confidence": confidence}


def _p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(0.9 * len(s)))]


def load001_generator_cpu(f: RunFacts, th: Callable[[str, Any], Any]) -> dict[str, Any]:
    limit = th("generator_cpu_max_pct", GENERATOR_CPU_MAX_PCT)
    rows = [{"process": p.process, "host": p.host, "pid": p.pid, "cpu_percent_p90": _p90(p.cpu_percent),
             "cpu_percent_max": max(p.cpu_percent, default=None), "samples": len(p.cpu_percent)}
            for p in f.processes]
    hot = [r for r in rows if r["cpu_percent_p90"] is not None and r["cpu_percent_p90"] > limit]
    ev = {"limit_pct": limit, "processes": rows}
    if hot:
        names = ", ".join(f"{r['process']} {r['cpu_percent_p90']:.0f}%" for r in hot)
        return _check("LOAD001", "generator-cpu-saturated", "fail",
                      f"The load generator was CPU-bound ({names})",
                      f"p90 CPU above {limit:g}% of a core in the steady state: Locust's own queueing is in the "
                      "measured response times. Add workers (--workers, or more hosts with --master/--worker) "
                      "or use FastHttpUser.", ev)
    if not any(r["samples"] for r in rows):
        return _check("LOAD001", "generator-cpu-saturated", "warn", "No generator CPU samples in the steady state",
                      "The workers sent no CPU samples for the steady-state window.", ev)
    return _check("LOAD001", "generator-cpu-saturated", "pass",
                  f"Generator CPU stayed under {limit:g}% (p90 per process)", "", ev)


def load002_lost_workers(f: RunFacts, th: Callable[[str, Any], Any]) -> dict[str, Any]:
    ev = {"expected": f.workers_expected, "at_start": f.workers_at_start, "lost": list(f.workers_lost)}
    if f.workers_at_start < f.workers_expected or f.workers_lost:
        what = (f"{len(f.workers_lost)} worker(s) lost during the run" if f.workers_lost else
                f"{f.workers_at_start} of {f.workers_expected} workers connected")
        return _check("LOAD002", "lost-workers", "fail", f"Workers missing: {what}",
                      "Locust re-spreads the users over the remaining workers, so load and latency changed "
                      "mid-run; see the workers' logs in the run directory.", ev)
    return _check("LOAD002", "lost-workers", "pass", f"All {f.workers_expected} worker(s) stayed connected", "", ev)


def load003_users_reached(f: RunFacts, th: Callable[[str, Any], Any]) -> dict[str, Any]:
    ev = {"asked": f.users_target, "reached": f.users_max, "spawn_complete_s": f.spawn_complete_s}
    if f.users_max < f.users_target or f.spawn_complete_s is None:
        return _check("LOAD003", "users-not-reached", "fail",
                      f"Only {f.users_max} of {f.users_target} users were running",
                      "The run ended before every user had started: raise --spawn-rate or --duration.", ev)
    return _check("LOAD003", "users-not-reached", "pass",
                  f"All {f.users_target} users running after {f.spawn_complete_s:.1f} s", "", ev)


def load004_error_rate(f: RunFacts, th: Callable[[str, Any], Any]) -> dict[str, Any]:
    warn, limit = th("warn_error_share", WARN_ERROR_SHARE), th("max_error_share", MAX_ERROR_SHARE)
    share = f.steady_failures / f.steady_requests if f.steady_requests else None
    ev = {"requests": f.steady_requests, "failures": f.steady_failures, "error_share": share,
          "warn_share": warn, "max_share": limit}
    if share is None:
        return _check("LOAD004", "high-error-rate", "fail", "No request completed in the steady state",
                      "Nothing was measured: check --host and the locustfile.", ev)
    text = f"{100 * share:.2f}% of {f.steady_requests:,} steady-state requests failed"
    if share > limit:
        return _check("LOAD004", "high-error-rate", "fail", text,
                      f"Above {100 * limit:g}% the run measures the failure path; see locust/locust_failures.csv.",
                      ev)
    if share > warn:
        return _check("LOAD004", "high-error-rate", "warn", text,
                      f"Above {100 * warn:g}%: failures may be fast or slow and shift the latency.", ev)
    return _check("LOAD004", "high-error-rate", "pass", text, "", ev)


def load005_steady_state(f: RunFacts, th: Callable[[str, Any], Any]) -> dict[str, Any]:
    minimum = th("min_steady_s", MIN_STEADY_S)
    ev = {"steady_s": f.steady_s, "warmup_s": f.warmup_s, "spawn_complete_s": f.spawn_complete_s,
          "min_steady_s": minimum, "interrupted": f.interrupted}
    if f.steady_s <= 0:
        return _check("LOAD005", "short-steady-state", "fail", "No steady-state window",
                      "Every second of the run fell in the ramp-up or the warm-up: lengthen --duration or shorten "
                      "--warmup.", ev)
    if f.steady_s < minimum:
        return _check("LOAD005", "short-steady-state", "warn",
                      f"Steady state of {f.steady_s:.0f} s (warm-up {f.warmup_s:g} s excluded)",
                      f"Under {minimum:g} s the per-window statistics have few windows; intervals will be wide.", ev)
    return _check("LOAD005", "short-steady-state", "pass",
                  f"Steady state of {f.steady_s:.0f} s after a {f.warmup_s:g} s warm-up", "", ev)


def achieved_share(users: float, rps: float, lag_ms: float) -> float | None:
    """Estimated achieved / offered request rate of a closed workload (Little's law, N = X·C).

    Each user issues a request every C = N / X seconds (X the achieved rate, N the users). A saturated generator
    wakes every greenlet late by the event-loop lag L; each request costs WAKEUPS_PER_REQUEST wake-ups (its
    response and the think time after it), so without the generator's delay the cycle would be C − k·L and the
    offered rate N / (C − k·L). Returns (C − k·L) / C, or None without load."""
    if users <= 0 or rps <= 0:
        return None
    cycle_s = users / rps
    return max(0.0, cycle_s - WAKEUPS_PER_REQUEST * lag_ms / 1000.0) / cycle_s


def load006_offered_rate(f: RunFacts, th: Callable[[str, Any], Any]) -> dict[str, Any]:
    minimum = th("min_achieved_share", MIN_ACHIEVED_SHARE)
    lags = [p.lag_ms_mean for p in f.processes if p.lag_ms_mean is not None]
    lag = sum(lags) / len(lags) if lags else None
    rps = f.steady_requests / f.steady_s if f.steady_s > 0 else 0.0
    share = achieved_share(f.users_mean_steady, rps, lag) if lag is not None else None
    ev = {"users_mean": f.users_mean_steady, "achieved_rps": rps, "event_loop_lag_ms_mean": lag,
          "achieved_share": share, "offered_rps": rps / share if share else None, "min_share": minimum}
    if share is None:
        return _check("LOAD006", "offered-rate-not-achieved", "warn", "Offered request rate not estimated",
                      "No event-loop lag samples or no requests in the steady state.", ev, "estimated")
    text = f"Achieved {rps:,.1f} req/s, about {100 * share:.0f}% of the offered rate"
    if share < minimum:
        return _check("LOAD006", "offered-rate-not-achieved", "fail", text,
                      f"The generator woke its users {lag:.1f} ms late on average: it (or another process on "
                      "its machine) set the pace, not the target. Add workers or hosts, or free the machine.",
                      ev, "estimated")
    return _check("LOAD006", "offered-rate-not-achieved", "pass", text, "", ev, "estimated")


RULES = (load001_generator_cpu, load002_lost_workers, load003_users_reached, load004_error_rate,
         load005_steady_state, load006_offered_rate)


def check_thresholds(settings) -> None:
    """ConfigError for an unknown name in [thresholds.load] or a value of the wrong kind — before a run, not
    after it."""
    from advisor.errors import ConfigError
    known = {name: default for name, default, _ in THRESHOLDS}
    for name in (settings.thresholds.get(AREA) or {}):
        if name not in known:
            raise ConfigError(f"threshold {AREA}.{name} does not exist (known: {', '.join(sorted(known))})")
        settings.threshold(AREA, name, known[name])


def evaluate(facts: RunFacts, threshold: Callable[[str, Any], Any] | None = None) -> dict[str, Any]:
    """{"valid": bool, "checks": [check, …]} for every LOAD rule; `threshold(name, default)` overrides."""
    th = threshold or (lambda name, default: default)
    checks = [rule(facts, th) for rule in RULES]
    return {"valid": not any(c["status"] == "fail" for c in checks), "checks": checks}


def to_findings(checks: list[dict[str, Any]]) -> list[Any]:
    """advisor.model.Finding for every check that warns or fails (fail → high, warn → medium)."""
    from advisor.model import Finding
    out = []
    for c in checks:
        if c["status"] == "pass":
            continue
        out.append(Finding(rule=c["rule"], name=c["name"], area=AREA,
                           severity="high" if c["status"] == "fail" else "medium",
                           confidence=c["confidence"], title=c["title"], detail=c["detail"], key="run",
                           evidence=c["evidence"]))
    return out
