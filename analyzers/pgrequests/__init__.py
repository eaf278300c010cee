"""Cross-source: database statements per HTTP request, from pg_stat_statements differences and the Actuator's
http_server_requests in one sampling window (PG015 statements-per-request).

An N+1 pair (analyzers/postgres/nplus1.py: a parent statement and a child called once per row it returned) is
tied to the endpoint whose requests in the window match the parent's calls (one parent call per request), so
the finding can say "GET /customers/{id}/orders runs 1 + 9.8 statements per request". The whole window's
statement calls per request go to the report's coverage section.

It reads the Actuator section only through analyzers.actuator.series.http_stats and the postgres section only
through its documented ``activity`` part and the N+1 finder; both sections must come from the same window
(`--sample`), or there is nothing to divide (a note says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advisor.config import Settings
from advisor.model import Finding

AREA = "pgrequests"
NEEDS = ("postgres", "actuator")

#: An endpoint's requests must match the parent statement's calls within [1/(1+t), 1+t] (perfadvisor's
#: convention, as PG007's nplus1_ratio_tolerance).
ENDPOINT_RATIO_TOLERANCE = 0.2
#: Endpoints with fewer requests in the window are not matched (perfadvisor's convention: a count this small
#: matches a statement's calls by chance).
MIN_REQUESTS = 20

#: (name, default, source); perfadvisor.toml [thresholds.pgrequests].
THRESHOLDS = (
    ("endpoint_ratio_tolerance", ENDPOINT_RATIO_TOLERANCE,
     "perfadvisor's convention: endpoint requests within ±20% of the parent statement's calls"),
    ("min_requests", MIN_REQUESTS, "perfadvisor's convention: fewer requests match a statement by chance"),
)


@dataclass(frozen=True)
class Endpoint:
    """Successful (2xx) requests of one (method, uri) in the window, over every status code 2xx."""

    method: str
    uri: str
    count: float
    mean_ms: float | None
    p95_ms: float | None


def endpoints(stats: list[Any]) -> list[Endpoint]:
    """2xx requests per (method, uri) from series.http_stats objects (uri, method, status, count, mean_ms,
    p95_ms); the mean is weighted by count, the p95 is the largest of the statuses'."""
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for h in stats:
        if not str(h.status).startswith("2") or not h.count:
            continue
        a = acc.setdefault((h.method, h.uri), {"count": 0.0, "time": 0.0, "timed": 0.0, "p95": None})
        a["count"] += h.count
        if h.mean_ms is not None:
            a["time"] += h.mean_ms * h.count
            a["timed"] += h.count
        if h.p95_ms is not None:
            a["p95"] = max(a["p95"] or 0.0, h.p95_ms)
    return [Endpoint(m, u, a["count"], a["time"] / a["timed"] if a["timed"] else None, a["p95"])
            for (m, u), a in sorted(acc.items())]


def match(parent_calls: int, eps: list[Endpoint], tolerance: float, min_requests: float) -> Endpoint | None:
    """The endpoint whose request count is closest to the parent's calls, within the tolerance."""
    lo, hi = 1.0 / (1.0 + tolerance), 1.0 + tolerance
    fits = [e for e in eps if e.count >= min_requests and lo <= parent_calls / e.count <= hi]
    return min(fits, key=lambda e: abs(parent_calls / e.count - 1.0)) if fits else None


def finding(pair, ep: Endpoint, pg007: Finding, requests_total: float) -> Finding:
    """PG015 for an N+1 pair tied to an endpoint (see docs/rules/PG015.md)."""
    p, c, link = pair.parent, pair.child, pair.link
    per_req = (p.calls + c.calls) / ep.count
    child_per_req = c.calls / ep.count
    share = ep.count / requests_total if requests_total else 0.0
    pt, ct = link.parent[1], link.child[1]
    return Finding(
        rule="PG015", name="statements-per-request", area="postgres",
        severity="high" if child_per_req >= 10 and share >= 0.05 else "medium",
        confidence=pg007.confidence,
        title=(f"{ep.method} {ep.uri} runs {per_req:.1f} statements per request: "
               f"{p.calls / ep.count:.1f} {pt} query + {child_per_req:.1f} {ct} queries (N+1)"),
        detail=(f"In the sampling window {ep.method} {ep.uri} answered {ep.count:,.0f} requests "
                f"({share:.0%} of all), and the {pt} statement ran {p.calls:,} times — once per request — "
                f"returning {p.rows:,} rows, each followed by the {ct} query ({c.calls:,} calls). Mean latency "
                f"{_ms(ep.mean_ms)}, p95 {_ms(ep.p95_ms)}. Loading the {ct} rows in one query per request "
                f"leaves 2 statements per request instead of {per_req:.1f}. {pg007.id} has the statements."),
        key=f"{ep.method} {ep.uri}:{link.parent[0]}.{pt}->{link.child[0]}.{ct}({link.child[2]})",
        evidence={"statements": pg007.evidence["statements"], "endpoint": f"{ep.method} {ep.uri}",
                  "requests": round(ep.count), "statements_per_request": round(per_req, 2),
                  "child_calls_per_request": round(child_per_req, 2), "share_of_requests": round(share, 4),
                  "mean_ms": _round(ep.mean_ms), "p95_ms": _round(ep.p95_ms), "n_plus_one": pg007.id},
        impact={"metric": "statement_calls_per_request", "before": round(per_req, 2),
                "after": round(2 * p.calls / ep.count, 2), "estimated": True},
        action=pg007.action, references=pg007.references)


def _ms(v: float | None) -> str:
    return "unknown" if v is None else f"{v:,.1f} ms"


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def analyze_snapshot(snapshot: dict[str, Any], settings: Settings):
    """PG015 findings, and statements per request in the coverage section, when both sections sampled the same
    window."""
    from advisor.pipeline import AreaResult
    from analyzers import postgres
    from analyzers.actuator import series
    from analyzers.postgres import nplus1
    from analyzers.postgres.statements import is_own

    pg, act = snapshot["postgres"], snapshot["actuator"]
    activity = pg.get("activity") or {}
    if activity.get("mode") != "window" or activity.get("statements") is None or series.since_start(act):
        return AreaResult(notes=["Statements per request (PG015) need the database and the Actuator sampled in "
                                 "one window: analyze --pg … --actuator … --sample 60s"])
    th = {name: settings.threshold(AREA, name, default) for name, default, _ in THRESHOLDS}
    eps = endpoints(series.http_stats(act))
    requests = sum(e.count for e in eps)
    calls = sum(int(s.get("calls") or 0) for s in activity["statements"] if not is_own(s["query"]))
    cov: dict[str, Any] = {"requests_2xx": round(requests), "statement_calls": calls,
                           "statements_per_request": round(calls / requests, 2) if requests else None,
                           "window_s": activity.get("window_s")}
    span = nplus1.span_of(pg)
    out = []
    for pair in nplus1.find_pairs(pg, postgres.rule_thresholds(settings), span):
        ep = match(pair.parent.calls, eps, th["endpoint_ratio_tolerance"], th["min_requests"])
        if ep:
            out.append(finding(pair, ep, nplus1.finding(pair, span), requests))
    return AreaResult(findings=out, coverage={"postgres": {"per_request": cov}})
