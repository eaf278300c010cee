"""Service level objectives and Apdex for the comparison.

`--slo` specs, repeatable: ``METRIC=VALUE`` for every endpoint, or ``ENDPOINT:METRIC=VALUE`` for one (the endpoint
as `compare` shows it, ``GET /api/x``, or its name alone, ``/api/x``). Metrics: ``p50_ms``, ``p90_ms``, ``p95_ms``,
``p99_ms`` (a latency ceiling: 200, 200ms, 0.2s), ``error_rate`` (a ceiling: 1% or 0.01) and ``apdex_t_ms``
(Apdex's T).

Apdex (apdex.org, "Apdex Technical Specification" v1.1, 2007): satisfied ≤ T, tolerating ≤ 4T, frustrated above
4T; failed requests count as frustrated; score = (satisfied + tolerating / 2) / all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from advisor.errors import ConfigError
from advisor.load import histograms as hg

#: The issue's defaults: p95 < 200 ms and error rate < 1%. Apdex T: New Relic's default of 0.5 s.
DEFAULT_SLO: dict[str, float] = {"p95_ms": 200.0, "error_rate": 0.01, "apdex_t_ms": 500.0}
LATENCY_METRICS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms")
METRICS = (*LATENCY_METRICS, "error_rate", "apdex_t_ms")


@dataclass(frozen=True)
class Slo:
    default: dict[str, float]
    per_endpoint: dict[str, dict[str, float]]

    def for_endpoint(self, key: str, name: str) -> dict[str, float]:
        """The objectives of one endpoint: defaults, then its name's, then its key's."""
        return {**self.default, **self.per_endpoint.get(name, {}), **self.per_endpoint.get(key, {})}


def _value(metric: str, text: str, spec: str) -> float:
    t = text.strip().lower()
    try:
        if metric == "error_rate":
            v = float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
            if not 0 <= v <= 1:
                raise ValueError
            return v
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s)?", t)
        if not m:
            raise ValueError
        v = float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)
        if v <= 0:
            raise ValueError
        return v
    except ValueError:
        unit = "a share such as 1% or 0.01" if metric == "error_rate" else "a duration such as 200ms or 0.2s"
        raise ConfigError(f"--slo {spec!r}: {text!r} is not {unit}") from None


def parse_slos(specs: list[str]) -> Slo:
    """Slo from `--slo` specs over DEFAULT_SLO. ConfigError names the spec that is wrong."""
    default = dict(DEFAULT_SLO)
    per: dict[str, dict[str, float]] = {}
    for spec in specs:
        target, sep, assignment = spec.rpartition(":") if "=" in spec.rpartition(":")[2] else ("", "", spec)
        metric, eq, value = assignment.partition("=")
        metric = metric.strip()
        if not eq or metric not in METRICS:
            raise ConfigError(f"--slo {spec!r}: expected [ENDPOINT:]METRIC=VALUE with METRIC one of "
                              f"{', '.join(METRICS)}")
        v = _value(metric, value, spec)
        if sep and target.strip():
            per.setdefault(target.strip(), {})[metric] = v
        else:
            default[metric] = v
    return Slo(default, per)


def apdex(ok_hist, failures: int, t_ms: float) -> float | None:
    """Apdex score of one side of one endpoint from its successes' histogram and its failure count."""
    total = ok_hist.get_total_count() + failures
    if not total:
        return None
    satisfied = hg.count_at_or_below_ms(ok_hist, t_ms)
    tolerating = hg.count_at_or_below_ms(ok_hist, 4 * t_ms) - satisfied
    return (satisfied + tolerating / 2.0) / total


def evaluate(objectives: dict[str, float], ok_hist, requests: int, failures: int) -> dict[str, Any]:
    """{metric: {"target", "value", "met"}} for the latency and error objectives, plus "apdex"."""
    out: dict[str, Any] = {}
    for metric, target in objectives.items():
        if metric in LATENCY_METRICS:
            value = hg.percentile_ms(ok_hist, float(metric[1:-3]))
        elif metric == "error_rate":
            value = failures / requests if requests else None
        else:
            continue
        out[metric] = {"target": target, "value": value, "met": None if value is None else value < target}
    t = objectives.get("apdex_t_ms", DEFAULT_SLO["apdex_t_ms"])
    out["apdex"] = {"t_ms": t, "value": apdex(ok_hist, failures, t)}
    return out
