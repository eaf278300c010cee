"""The comparison document (compare.json, docs/compare.schema.json) from two sides of runs.

Units of comparison:
- "runs": both sides have at least two valid runs: one value per run (its steady-state numbers);
- "windows": otherwise, steady-state seconds are grouped into batches of B seconds and each batch is a unit
  (the batch-means method, Law & Kelton, *Simulation Modeling and Analysis*, ch. 9). Lower confidence: batches of
  one run share that run's conditions, so run-to-run variation is not in the interval. B is chosen per endpoint:
  the smallest of BATCH_LADDER_S whose batches hold at least MIN_BATCH_REQUESTS requests (median), keeping at least
  MIN_BATCHES per side, then doubled while the batches' p95 values are autocorrelated (lag-1 > MAX_LAG1).
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from advisor import __version__
from advisor.compare import slo as slomod
from advisor.compare import stats as st
from advisor.compare.runs import OVERALL, Run, Side
from advisor.load import histograms as hg

COMPARE_SCHEMA_VERSION = 1
#: Candidate batch lengths (s) for per-window comparison.
BATCH_LADDER_S = (1, 2, 3, 5, 10, 15, 20, 30, 60, 120)
#: A batch's p99 needs about 100 requests to rest on more than its largest value.
MIN_BATCH_REQUESTS = 100
#: Fewer batches per side than this give intervals too wide to be useful (and Mann-Whitney needs several).
MIN_BATCHES = 8
#: Lag-1 autocorrelation above which batches are too dependent for Mann-Whitney (Law & Kelton suggest small
#: correlation between batch means; 0.3 is perfadvisor's choice).
MAX_LAG1 = 0.3
#: An error rate's change is absolute (percentage points); this is the smallest that counts (perfadvisor's choice:
#: half the default 1% SLO).
ERROR_RATE_MIN_CHANGE = 0.005

#: (metric, lower is better, absolute change, label)
METRICS = (("p50_ms", True, False, "p50"), ("p95_ms", True, False, "p95"), ("p99_ms", True, False, "p99"),
           ("throughput_rps", False, False, "throughput"), ("error_rate", True, True, "error rate"))


def _from_hist(ok, n_ok: int, n_fail: int, seconds: float) -> dict[str, float | None]:
    req = n_ok + n_fail
    return {"p50_ms": hg.percentile_ms(ok, 50) if ok is not None else None,
            "p95_ms": hg.percentile_ms(ok, 95) if ok is not None else None,
            "p99_ms": hg.percentile_ms(ok, 99) if ok is not None else None,
            "throughput_rps": req / seconds if seconds > 0 else None,
            "error_rate": n_fail / req if req else None}


def run_units(runs: list[Run], key: str) -> list[dict[str, float | None]]:
    """One unit per run: its steady-state values for endpoint `key`."""
    out = []
    for r in runs:
        e = r.endpoints().get(key)
        if not e or not e.get("requests"):
            out.append(dict.fromkeys(("p50_ms", "p95_ms", "p99_ms", "throughput_rps", "error_rate")))
            continue
        out.append({"p50_ms": e.get("p50_ms"), "p95_ms": e.get("p95_ms"), "p99_ms": e.get("p99_ms"),
                    "throughput_rps": e.get("rps"), "error_rate": e.get("error_share")})
    return out


def _batches(run: Run, key: str, b: int) -> list[dict[str, float | None]]:
    secs = run.seconds().get(key) or []
    out = []
    for i in range(0, len(secs) - b + 1, b):
        n_ok = sum(s[1] for s in secs[i:i + b])
        n_fail = sum(s[2] for s in secs[i:i + b])
        hists = [run.second_hist(key, j) for j in range(i, i + b) if secs[j][0]]
        ok = hg.merge(hists) if hists else None
        out.append(_from_hist(ok if ok is not None and ok.get_total_count() else None, n_ok, n_fail, float(b)))
    return out


def _choose_batch(before: list[Run], after: list[Run], key: str) -> int:
    def counts(runs: list[Run], b: int) -> list[int]:
        out = []
        for r in runs:
            secs = r.seconds().get(key) or []
            out += [sum(s[1] + s[2] for s in secs[i:i + b]) for i in range(0, len(secs) - b + 1, b)]
        return out

    fallback = 1
    for b in BATCH_LADDER_S:
        cb, ca = counts(before, b), counts(after, b)
        if min(len(cb), len(ca)) < MIN_BATCHES:
            break
        fallback = b
        if min(statistics.median(cb), statistics.median(ca)) >= MIN_BATCH_REQUESTS:
            return b
    return fallback


def window_units(before: list[Run], after: list[Run], key: str) -> tuple[int, list[dict], list[dict], float | None]:
    """(batch length s, units before, units after, lag-1 autocorrelation of p95 at that length)."""
    b = _choose_batch(before, after, key)
    while True:
        per_run = [_batches(r, key, b) for r in before + after]
        ub = [u for units in per_run[:len(before)] for u in units]
        ua = [u for units in per_run[len(before):] for u in units]
        lags = [st.lag1_autocorrelation([u["p95_ms"] for u in units]) for units in per_run]
        lag = max((x for x in lags if x is not None), default=None)
        if lag is None or lag <= MAX_LAG1 or min(len(ub), len(ua)) // 2 < MIN_BATCHES:
            return b, ub, ua, lag
        b *= 2


def _pooled(runs: list[Run], key: str) -> dict[str, Any] | None:
    hs = [r.histograms().get(key) for r in runs]
    hs = [h for h in hs if h]
    if not hs:
        return None
    ok = hg.merge(h["ok"] for h in hs)
    req = sum(h["requests"] for h in hs)
    fail = sum(h["failures"] for h in hs)
    secs = sum(r.steady_s for r in runs)
    return {"ok": ok, "requests": req, "failures": fail, "values": _from_hist(ok, req - fail, fail, secs)}


def compare_sides(before: Side, after: Side, threshold: float, alpha: float, slo: slomod.Slo, seed: int = 1,
                  notes: list[str] | None = None, units: str = "auto") -> dict[str, Any]:
    """The compare.json document (see docs/compare.schema.json). units: "auto" (runs as units when both sides
    have at least two valid runs, else steady-state windows), "runs" or "windows" (batch means of the
    steady-state windows pooled over each side's runs: more units than a few runs give, so a handful of runs can
    reach significance; run-to-run variation is not in them)."""
    notes = list(notes or [])
    vb, va = before.valid_runs, after.valid_runs
    invalid_side = not vb or not va
    auto = "runs" if len(vb) >= 2 and len(va) >= 2 else "windows"
    mode = "none" if invalid_side else (auto if units == "auto" else units)
    if mode == "windows" and units == "windows" and (len(vb) >= 2 or len(va) >= 2):
        notes.append(f"compared on steady-state windows pooled over {len(vb)} run(s) before and {len(va)} after "
                     "(--units windows): run-to-run variation is not part of the intervals")
    elif mode == "windows" and (len(vb) >= 2 or len(va) >= 2):
        notes.append("only one side has replicate runs: compared on steady-state windows pooled over each side's "
                     "runs (lower confidence)")
    keys = sorted({k for r in vb + va for k in r.endpoints()} - {OVERALL})
    keys_before = {k for r in vb for k in r.endpoints()}
    keys_after = {k for r in va for k in r.endpoints()}
    rows = []
    for key in [OVERALL, *keys]:
        rows.append(_endpoint_row(key, vb, va, mode, keys_before, keys_after))
    # Holm over the family of every endpoint × metric test of this comparison. A test whose units are all equal
    # on both sides (no failures before or after) carries no information: it stays out of the family.
    def informative(m: dict[str, Any]) -> bool:
        return m["p"] is not None and not (m["ci_low"] == m["ci_high"] == m["change"] and m["p"] == 1.0)

    flat = [(row, m) for row in rows for m in row["metrics"].values() if informative(m)]
    adjusted = st.holm([m["p"] for _, m in flat])
    for (_row, m), p_adj in zip(flat, adjusted, strict=True):
        m["p_adjusted"] = p_adj
    for row in rows:
        for m in row["metrics"].values():
            if m["p"] is not None and not informative(m):
                m["p_adjusted"] = m["p"]
    for row in rows:
        for name, lower_better, absolute, _label in METRICS:
            m = row["metrics"][name]
            thr = ERROR_RATE_MIN_CHANGE if absolute else threshold
            if invalid_side:
                m["verdict"] = st.INVALID
                continue
            if row.get("only"):
                m["verdict"] = st.INCONCLUSIVE
                continue
            e = st.Effect(m["unit_mean_before"], m["unit_mean_after"], m["change"],
                          (m["ci_low"], m["ci_high"]) if m["ci_low"] is not None else None, m["p"],
                          m["n_before"], m["n_after"], absolute)
            strict_alpha = alpha / max(1, len(flat))  # Holm's first, strictest step
            ub, ua = row["_units"].get(name, ([], []))
            mde = st.min_detectable(e, ub, ua, strict_alpha)
            can_detect = (min(e.n_before, e.n_after) >= st.min_units_exact(strict_alpha)
                          and mde is not None and abs(mde) <= thr)
            m["verdict"] = st.verdict(e, m.get("p_adjusted"), alpha, thr, lower_better, can_detect)
            if m["verdict"] == st.INCONCLUSIVE:
                m["mde"] = mde
                need = st.units_needed(ub, ua, thr, strict_alpha, absolute)
                m["units_needed"] = need
                m["runs_needed"] = _runs_needed(need, mode, row, vb, va, strict_alpha)
        row.pop("_units", None)
        row["verdict"] = _row_verdict(row)
    slo_rows, apdex_rows = _slo_tables(rows, vb, va, slo)
    summary = _summary(rows)
    return {
        "schema_version": COMPARE_SCHEMA_VERSION,
        "tool": {"name": "perfadvisor", "version": __version__},
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "before": _side_doc(before), "after": _side_doc(after),
        "mode": mode,
        "confidence": {"runs": "normal", "windows": "lower", "none": "none"}[mode],
        "settings": {"threshold": threshold, "alpha": alpha, "error_rate_min_change": ERROR_RATE_MIN_CHANGE,
                     "n_resamples": st.N_RESAMPLES, "seed": seed, "family_size": len(flat),
                     "power": st.POWER, "slo": {"default": slo.default, "per_endpoint": slo.per_endpoint}},
        "notes": notes,
        "endpoints": rows,
        "slo": slo_rows, "apdex": apdex_rows,
        "summary": summary,
    }


def _endpoint_row(key: str, vb: list[Run], va: list[Run], mode: str, kb: set, ka: set) -> dict[str, Any]:
    ref = next((r.endpoints()[key] for r in vb + va if key in r.endpoints()), {})
    row: dict[str, Any] = {"key": key, "method": ref.get("method", ""), "name": ref.get("name", "All requests")
                           if key != OVERALL else "All requests", "batch_s": None, "lag1": None, "metrics": {}}
    if key != OVERALL and (key not in kb or key not in ka):
        row["only"] = "before" if key in kb else "after"
    pb, pa = _pooled(vb, key), _pooled(va, key)
    units: dict[str, tuple[list, list]] = {}
    if mode == "runs":
        ub, ua = run_units(vb, key), run_units(va, key)
    elif mode == "windows" and not row.get("only"):
        row["batch_s"], ub, ua, row["lag1"] = window_units(vb, va, key)
    else:
        ub, ua = [], []
    for name, _lower, absolute, _label in METRICS:
        xb, xa = [u[name] for u in ub], [u[name] for u in ua]
        units[name] = (xb, xa)
        e = st.effect(xb, xa, absolute=absolute)
        row["metrics"][name] = {
            "before": pb["values"][name] if pb else None, "after": pa["values"][name] if pa else None,
            "unit_mean_before": e.before, "unit_mean_after": e.after, "change": e.change,
            "absolute": absolute, "ci_low": e.ci[0] if e.ci else None, "ci_high": e.ci[1] if e.ci else None,
            "p": e.p, "p_adjusted": None, "n_before": e.n_before, "n_after": e.n_after,
            "verdict": None, "mde": None, "units_needed": None, "runs_needed": None}
    row["_units"] = units
    row["requests_before"] = pb["requests"] if pb else 0
    row["requests_after"] = pa["requests"] if pa else 0
    return row


def _runs_needed(units_needed: int | None, mode: str, row: dict, vb: list[Run], va: list[Run],
                 alpha: float) -> int | None:
    """Replicate runs per side that would settle it. With runs as units it is the units needed; with windows
    it is the windows needed spread over runs of this length, and at least the fewest runs for which
    Mann-Whitney on per-run values can be significant at the corrected level (run-to-run variation, which
    windows do not see, usually needs more)."""
    if units_needed is None:
        return None
    if mode == "runs":
        return units_needed
    per_run = max(1, min(int(r.steady_s // (row["batch_s"] or 1)) for r in vb + va))
    return max(st.min_units_exact(alpha), -(-units_needed // per_run))


_ORDER = (st.REGRESSED, st.IMPROVED, st.INCONCLUSIVE, st.NO_CHANGE)


def _row_verdict(row: dict[str, Any]) -> str:
    vs = [m["verdict"] for m in row["metrics"].values()]
    if st.INVALID in vs:
        return st.INVALID
    if st.REGRESSED in vs:
        return st.REGRESSED
    if st.IMPROVED in vs:
        return st.IMPROVED
    if all(v == st.NO_CHANGE for v in vs):
        return st.NO_CHANGE
    return st.INCONCLUSIVE


def _slo_tables(rows: list[dict], vb: list[Run], va: list[Run], slo: slomod.Slo) -> tuple[list, list]:
    slo_rows, apdex_rows = [], []
    for row in rows:
        objectives = slo.for_endpoint(row["key"], row["name"])
        sides = {}
        for side, runs in (("before", vb), ("after", va)):
            pooled = _pooled(runs, row["key"]) if runs else None
            sides[side] = slomod.evaluate(objectives, pooled["ok"], pooled["requests"], pooled["failures"]) \
                if pooled else None
        for metric, target in objectives.items():
            if metric == "apdex_t_ms":
                continue
            b = (sides["before"] or {}).get(metric) or {}
            a = (sides["after"] or {}).get(metric) or {}
            slo_rows.append({"endpoint": row["key"], "metric": metric, "target": target,
                             "before": b.get("value"), "after": a.get("value"),
                             "before_met": b.get("met"), "after_met": a.get("met")})
        apdex_rows.append({"endpoint": row["key"], "t_ms": objectives.get("apdex_t_ms"),
                           "before": ((sides["before"] or {}).get("apdex") or {}).get("value"),
                           "after": ((sides["after"] or {}).get("apdex") or {}).get("value")})
    return slo_rows, apdex_rows


def _summary(rows: list[dict]) -> dict[str, Any]:
    counts = {v: 0 for v in (st.IMPROVED, st.REGRESSED, st.NO_CHANGE, st.INCONCLUSIVE, st.INVALID)}
    for row in rows:
        for m in row["metrics"].values():
            counts[m["verdict"]] += 1
    overall = (st.INVALID if counts[st.INVALID] else st.REGRESSED if counts[st.REGRESSED] else
               st.IMPROVED if counts[st.IMPROVED] else st.NO_CHANGE if not counts[st.INCONCLUSIVE] else
               st.INCONCLUSIVE)
    labels = {name: label for name, _lower, _absolute, label in METRICS}

    def named(verdict: str) -> list[str]:
        return [f"{'All requests' if r['key'] == OVERALL else r['key']} {labels[k]}"
                for r in rows for k, m in r["metrics"].items() if m["verdict"] == verdict]

    return {"counts": counts, "verdict": overall, "regressed": named(st.REGRESSED), "improved": named(st.IMPROVED)}


def _side_doc(side: Side) -> dict[str, Any]:
    return {"path": str(side.path), "label": side.label,
            "runs": [{"path": str(r.path), "status": r.doc["status"], "valid": r.valid,
                      "started_at": r.doc.get("started_at"), "steady_s": r.steady_s,
                      "requests": (r.doc["results"]["steady_state"]["overall"] or {}).get("requests"),
                      "failed_checks": [{"rule": c["rule"], "name": c["name"], "title": c["title"]}
                                        for c in r.failed_checks],
                      "warnings": [{"rule": c["rule"], "name": c["name"], "title": c["title"]}
                                   for c in r.doc["validity"].get("checks", []) if c.get("status") == "warn"]}
                     for r in side.runs],
            "valid_runs": len(side.valid_runs)}

