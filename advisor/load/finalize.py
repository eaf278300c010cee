"""From what the master recorded (parts.jsonl, master.json) to the run's files: per-second windows merged across
workers, the steady-state window, histograms, CSV time series, per-endpoint results and the LOAD… checks.

Pure apart from file I/O, and Locust-free: it can run again on a run directory whose raw files were kept.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from advisor.errors import InputFileError
from advisor.load import histograms as hg
from advisor.load import rules
from advisor.load import rundir as rd

#: Percentiles kept in run.json for each endpoint.
SUMMARY_PERCENTILES = (50, 90, 95, 99, 99.9)


class _Parts:
    """parts.jsonl, read in two passes so that memory stays small however long the run: the first pass indexes
    which lines hold which second (and keeps the per-process rows and counts); `second(s)` then re-reads just
    those lines. Lines may arrive in any order (a slow worker, several hosts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index: dict[int, list[int]] = defaultdict(list)
        self.processes: list[dict[str, Any]] = []
        self.by_worker: dict[str, int] = defaultdict(int)
        self.clamped = 0
        self._cache: dict[int, dict[str, Any]] = {}
        if not path.exists():
            return
        with path.open("rb") as fh:
            while True:
                offset = fh.tell()
                line = fh.readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue  # a line cut by a killed master; the others are whole
                worker = f"worker-{msg.get('worker', 0) + 1}"
                self.clamped += int(msg.get("clamped") or 0)
                for sec, endpoints in (msg.get("seconds") or {}).items():
                    self.index[int(sec)].append(offset)
                    self.by_worker[worker] += sum(int(e["n_ok"]) + int(e["n_fail"]) for e in endpoints.values())
                if msg.get("process"):
                    self.processes.append({"process": worker, **msg["process"]})

    def _line(self, fh, offset: int) -> dict[str, Any]:
        if offset not in self._cache:
            if len(self._cache) > 256:
                self._cache.clear()
            fh.seek(offset)
            self._cache[offset] = json.loads(fh.readline())
        return self._cache[offset]

    def seconds(self) -> list[int]:
        return sorted(self.index)

    def second(self, fh, sec: int) -> dict[str, dict[str, Any]]:
        """endpoint → {"method", "name", "n_ok", "n_fail", "ok": [b64…], "fail": [b64…]} over every worker."""
        per: dict[str, dict[str, Any]] = {}
        for offset in self.index.get(sec, []):
            for key, e in self._line(fh, offset)["seconds"][str(sec)].items():
                row = per.setdefault(key, {"method": e["method"], "name": e["name"], "n_ok": 0, "n_fail": 0,
                                           "ok": [], "fail": []})
                row["n_ok"] += int(e["n_ok"])
                row["n_fail"] += int(e["n_fail"])
                for kind in ("ok", "fail"):
                    if e.get(kind):
                        row[kind].append(e[kind])
        return per


def steady_window(t0: float, spawn_complete_at: float | None, stop_at: float, warmup_s: float
                  ) -> tuple[int | None, int | None]:
    """Whole epoch seconds [start, end) of the steady state: from the first second that begins after every user
    started plus the warm-up, to the last second that ended before the stop. (None, None) when there is none."""
    if spawn_complete_at is None:
        return None, None
    start = math.ceil(spawn_complete_at + warmup_s)
    end = math.floor(stop_at)
    if end <= start:
        return None, None
    return start, end


def _users_at(samples: list[list[float]], sec: int) -> int:
    best = 0
    for at, n in samples:
        if at <= sec + 1:
            best = int(n)
        else:
            break
    return best


def _summary(ok, fail, n_ok: int, n_fail: int, seconds: float) -> dict[str, Any]:
    req = n_ok + n_fail
    row: dict[str, Any] = {"requests": req, "failures": n_fail,
                           "error_share": (n_fail / req) if req else None,
                           "rps": (req / seconds) if seconds > 0 else None,
                           "mean_ms": hg.mean_ms(ok),
                           "max_ms": (ok.get_max_value() / 1000.0) if ok.get_total_count() else None}
    for p in SUMMARY_PERCENTILES:
        row[f"p{p:g}_ms".replace(".", "")] = hg.percentile_ms(ok, p)
    return row


def finalize(run_dir: Path, warmup_s: float, threshold: Callable[[str, Any], Any] | None = None,
             remove_raw: bool = True) -> dict[str, Any]:
    """Writes windows.jsonl, histograms.json, timeseries.csv, endpoints.csv and generator.csv, and returns the
    parts of run.json it owns: {"t0_epoch", "steady_state", "results", "generator", "validity", "workers",
    "users", "interrupted", "clamped_values"}. InputFileError when master.json is missing (the master died
    before the end)."""
    master_path = run_dir / rd.MASTER_JSON
    if not master_path.exists():
        raise InputFileError(f"{master_path}: missing; the Locust master ended before writing its facts "
                             f"(see {run_dir / rd.LOGS_DIR / 'master.log'})")
    m = json.loads(master_path.read_text(encoding="utf-8"))
    parts = _Parts(run_dir / rd.PARTS_JSONL)
    processes, clamped, by_worker = parts.processes, parts.clamped, parts.by_worker
    t0 = float(m["t0"])
    base = math.floor(t0)
    start, end = steady_window(t0, m.get("spawn_complete_at"), float(m["stop_at"]), warmup_s)
    users = m.get("users") or []

    totals: dict[str, dict[str, Any]] = {}
    series_rows: list[dict[str, Any]] = []
    endpoint_rows: list[dict[str, Any]] = []

    def total(scope: str, key: str, method: str, name: str) -> dict[str, Any]:
        k = (scope, key)
        if k not in totals:
            totals[k] = {"method": method, "name": name, "ok": hg.new_histogram(), "fail": hg.new_histogram(),
                         "n_ok": 0, "n_fail": 0}
        return totals[k]

    raw = (run_dir / rd.PARTS_JSONL).open("rb") if (run_dir / rd.PARTS_JSONL).exists() else None
    with (run_dir / rd.WINDOWS_JSONL).open("w", encoding="utf-8") as out:
        for sec in parts.seconds():
            steady = start is not None and start <= sec < end
            line_endpoints = {}
            all_ok = hg.new_histogram()
            n_ok_all = n_fail_all = 0
            for key, e in sorted(parts.second(raw, sec).items()):
                ok = hg.merge(hg.decode(x) for x in e["ok"])
                fail = hg.merge(hg.decode(x) for x in e["fail"])
                line_endpoints[key] = {"method": e["method"], "name": e["name"], "n_ok": e["n_ok"],
                                       "n_fail": e["n_fail"],
                                       "ok": hg.encode(ok) if ok.get_total_count() else None,
                                       "fail": hg.encode(fail) if fail.get_total_count() else None}
                scopes = ("whole_run", "steady_state") if steady else ("whole_run",)
                for scope in scopes:
                    for k, method, name in ((key, e["method"], e["name"]), ("", "", "all")):
                        t = total(scope, k, method, name)
                        t["ok"].add(ok)
                        t["fail"].add(fail)
                        t["n_ok"] += e["n_ok"]
                        t["n_fail"] += e["n_fail"]
                all_ok.add(ok)
                n_ok_all += e["n_ok"]
                n_fail_all += e["n_fail"]
                endpoint_rows.append({"t_s": sec - base, "endpoint": key, "requests": e["n_ok"] + e["n_fail"],
                                      "failures": e["n_fail"], "p50_ms": hg.percentile_ms(ok, 50),
                                      "p95_ms": hg.percentile_ms(ok, 95), "p99_ms": hg.percentile_ms(ok, 99),
                                      "steady": int(steady)})
            u = _users_at(users, sec)
            out.write(json.dumps({"t_s": sec - base, "epoch_s": sec, "users": u, "steady": steady,
                                  "endpoints": line_endpoints}, separators=(",", ":")) + "\n")
            series_rows.append({"t_s": sec - base, "users": u, "requests": n_ok_all + n_fail_all,
                                "failures": n_fail_all, "p50_ms": hg.percentile_ms(all_ok, 50),
                                "p95_ms": hg.percentile_ms(all_ok, 95), "p99_ms": hg.percentile_ms(all_ok, 99),
                                "steady": int(steady)})

    if raw:
        raw.close()
    steady_s = float(end - start) if start is not None else 0.0
    whole_s = max(1e-9, float(m["stop_at"]) - t0)
    hist_doc: dict[str, Any] = {"unit": "us", "lowest_us": hg.LOWEST_US, "highest_us": hg.HIGHEST_US,
                                "significant_figures": hg.SIGNIFICANT_FIGURES}
    results: dict[str, Any] = {}
    for scope, secs in (("steady_state", steady_s), ("whole_run", whole_s)):
        endpoints = {}
        overall = None
        for (sc, key), t in sorted(totals.items()):
            if sc != scope:
                continue
            enc = {"method": t["method"], "name": t["name"], "requests": t["n_ok"] + t["n_fail"],
                   "failures": t["n_fail"], "ok": hg.encode(t["ok"]), "fail": hg.encode(t["fail"])}
            summary = _summary(t["ok"], t["fail"], t["n_ok"], t["n_fail"], secs)
            if key == "":
                overall = (enc, summary)
            else:
                endpoints[key] = (enc, summary)
        hist_doc[scope] = {"endpoints": {k: v[0] for k, v in endpoints.items()},
                           "overall": overall[0] if overall else None}
        results[scope] = {"endpoints": {k: {"method": v[0]["method"], "name": v[0]["name"], **v[1]}
                                        for k, v in endpoints.items()},
                          "overall": overall[1] if overall else _summary(hg.new_histogram(), None, 0, 0, secs)}
    rd.write_json(run_dir / rd.HISTOGRAMS_JSON, hist_doc)
    results["locust_counts"] = _agreement(m.get("locust") or {}, results["whole_run"])
    results["requests_by_worker"] = dict(sorted(by_worker.items()))

    pd.DataFrame(series_rows, columns=["t_s", "users", "requests", "failures", "p50_ms", "p95_ms", "p99_ms",
                                       "steady"]).to_csv(run_dir / rd.TIMESERIES_CSV, index=False)
    pd.DataFrame(endpoint_rows, columns=["t_s", "endpoint", "requests", "failures", "p50_ms", "p95_ms", "p99_ms",
                                         "steady"]).to_csv(run_dir / rd.ENDPOINTS_CSV, index=False)
    gen_rows = [{"t_s": round(p["at"] - base, 3), "process": p["process"], "host": p.get("host"),
                 "pid": p.get("pid"), "cpu_percent": p.get("cpu_percent"), "rss_bytes": p.get("rss_bytes"),
                 "lag_ms_mean": p.get("lag_ms_mean"), "lag_ms_max": p.get("lag_ms_max"), "users": p.get("users")}
                for p in [*({"process": "master", **x} for x in m.get("master_process") or []), *processes]]
    gen = pd.DataFrame(gen_rows, columns=["t_s", "process", "host", "pid", "cpu_percent", "rss_bytes",
                                          "lag_ms_mean", "lag_ms_max", "users"])
    gen.to_csv(run_dir / rd.GENERATOR_CSV, index=False)

    usage = _usage(gen, start - base if start is not None else None, end - base if end is not None else None)
    spawn_at = m.get("spawn_complete_at")
    steady_users = [n for at, n in users if start is not None and start <= at < end]
    facts = rules.RunFacts(
        users_target=int(m["users_target"]), users_max=max((int(n) for _, n in users), default=0),
        users_mean_steady=(sum(steady_users) / len(steady_users)) if steady_users else 0.0,
        spawn_complete_s=(spawn_at - t0) if spawn_at else None,
        workers_expected=int(m["expect_workers"]), workers_at_start=int(m.get("workers_at_start", 0)),
        workers_lost=tuple(m.get("lost") or ()), steady_s=steady_s, warmup_s=warmup_s,
        steady_requests=results["steady_state"]["overall"]["requests"],
        steady_failures=results["steady_state"]["overall"]["failures"],
        processes=usage, interrupted=bool(m.get("interrupted")))
    if remove_raw:
        (run_dir / rd.PARTS_JSONL).unlink(missing_ok=True)
    return {
        "t0_epoch": t0,
        "interrupted": bool(m.get("interrupted")),
        "steady_state": {"start_s": (start - base) if start is not None else None,
                         "end_s": (end - base) if end is not None else None, "duration_s": steady_s,
                         "warmup_s": warmup_s, "spawn_complete_s": facts.spawn_complete_s,
                         "stop_s": float(m["stop_at"]) - base},
        "results": results,
        "generator": {"processes": [{"process": p.process, "host": p.host, "pid": p.pid,
                                     "cpu_percent_mean": (sum(p.cpu_percent) / len(p.cpu_percent))
                                     if p.cpu_percent else None,
                                     "cpu_percent_max": max(p.cpu_percent, default=None),
                                     "rss_bytes_max": p.rss_bytes_max, "lag_ms_mean": p.lag_ms_mean}
                                    for p in usage]},
        "workers": {"expected": facts.workers_expected, "at_start": facts.workers_at_start,
                    "lost": list(facts.workers_lost), "connects": m.get("connects") or []},
        "users": {"target": facts.users_target, "max": facts.users_max, "mean_steady": facts.users_mean_steady},
        "clamped_values": clamped,
        "validity": rules.evaluate(facts, threshold),
    }


def _usage(gen: pd.DataFrame, start_s: int | None, end_s: int | None) -> tuple[rules.ProcessUsage, ...]:
    """Per process, the steady-state samples (all samples when there is no steady state)."""
    out = []
    for (process, host, pid), g in gen.groupby(["process", "host", "pid"], dropna=False, sort=True):
        if start_s is not None:
            g = g[(g["t_s"] >= start_s) & (g["t_s"] < end_s + 1)]
        lag = g["lag_ms_mean"].dropna()
        out.append(rules.ProcessUsage(
            process=str(process), host=str(host), pid=int(pid) if pid == pid else 0,
            cpu_percent=tuple(float(x) for x in g["cpu_percent"].dropna()),
            rss_bytes_max=int(g["rss_bytes"].max()) if len(g["rss_bytes"].dropna()) else 0,
            lag_ms_mean=float(lag.mean()) if len(lag) else None))
    return tuple(sorted(out, key=lambda p: (p.process != "master", p.process)))


def _agreement(locust: dict[str, Any], whole: dict[str, Any]) -> dict[str, Any]:
    """Our histogram counts against Locust's own statistics, per endpoint (they count the same events)."""
    rows = []
    for e in locust.get("entries") or []:
        from advisor.load.recorder import endpoint_key
        key = endpoint_key(e["method"], e["name"])
        ours = whole["endpoints"].get(key, {})
        rows.append({"endpoint": key, "locust_requests": e["num_requests"], "locust_failures": e["num_failures"],
                     "histogram_requests": ours.get("requests", 0), "histogram_failures": ours.get("failures", 0)})
    agree = all(r["locust_requests"] == r["histogram_requests"] and r["locust_failures"] == r["histogram_failures"]
                for r in rows)
    total = locust.get("total") or {}
    return {"agree": agree and total.get("num_requests") == whole["overall"]["requests"],
            "locust_total_requests": total.get("num_requests"), "histogram_total_requests":
            whole["overall"]["requests"], "endpoints": rows}
