"""Benchmark: how many concurrent users can this machine's load generator hold against a target, and where is the
limit — the generator or the target? (issue 8: 10,000 users with the sample workload's think time, held for 2
minutes against the sample stack's cached product endpoint: under 1% failures, generator CPU under 90%, achieved
rate at least 95% of offered.)

For each user count, runs `perfadvisor loadtest` (think time between BENCH_THINK_MIN_S and BENCH_THINK_MAX_S,
default 5-15 s as in sample_workloads/shop) against --host + --path, and prints users, offered and achieved
requests/s, failures, p95, each worker's CPU and memory, the LOAD checks that failed, and which side is the limit.

    python benchmarks/loadtest_capacity.py --host http://127.0.0.1:18088 --path '/api/products/{id}' \\
        [--users 1000,2500,5000,10000] [--duration 2m] [--workers 2] [--spawn-rate 200] [--ids 1000]

Offered rate = users / (mean think time + mean response time) (Little's law for a closed workload).
"Limit: generator" when a LOAD001/LOAD006 check fails (CPU-bound or late users); "limit: target" when failures
exceed 1% or p95 grows past --p95-limit-ms while the generator is healthy. A second host would add about
the users one worker held below 90% CPU, times the workers it runs (its cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "loadtest_locustfile.py"


def one_level(users: int, a: argparse.Namespace, duration_s: float, out: Path) -> dict:
    import pandas as pd

    from advisor.load.runner import LoadOptions, run_loadtest

    os.environ.update(BENCH_MODE="think", BENCH_PATH=a.path, BENCH_IDS=str(a.ids),
                      BENCH_THINK_MIN_S=str(a.think_min), BENCH_THINK_MAX_S=str(a.think_max))
    opts = LoadOptions(locustfile=LOCUSTFILE, host=a.host, users=users, spawn_rate=a.spawn_rate,
                       duration_s=duration_s, out=out, workers=a.workers, warmup_s=a.warmup)
    doc, _ = run_loadtest(opts, None, echo=lambda _l: None)
    ss = doc["results"]["steady_state"]["overall"]
    think_s = (a.think_min + a.think_max) / 2
    resp_s = (ss["mean_ms"] or 0) / 1000
    gen = pd.read_csv(out / "generator.csv")
    st = doc["steady_state"]
    if st["start_s"] is not None:
        gen = gen[(gen["t_s"] >= st["start_s"]) & (gen["t_s"] < st["end_s"] + 1)]
    workers = gen[gen["process"] != "master"].groupby("process").agg(cpu=("cpu_percent", "mean"),
                                                                     rss=("rss_bytes", "max"))
    failed = [c["rule"] for c in doc["validity"]["checks"] if c["status"] == "fail"]
    return {"users": users, "reached": doc["users"]["max"], "offered": users / (think_s + resp_s),
            "achieved": ss["rps"] or 0.0, "failures": ss["error_share"] or 0.0, "p95": ss["p95_ms"],
            "cpu": list(workers["cpu"]), "rss_mb": [r / 2**20 for r in workers["rss"]], "failed": failed}


def limit_of(r: dict, p95_limit_ms: float) -> str:
    if {"LOAD001", "LOAD006", "LOAD002", "LOAD003"} & set(r["failed"]):
        return "generator"
    if r["failures"] > 0.01 or (r["p95"] or 0) > p95_limit_ms:
        return "target"
    return "none"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", required=True, help="base URL of the target (loopback here)")
    p.add_argument("--path", default="/api/products/{id}", help="request path; {id} becomes 1..--ids")
    p.add_argument("--ids", type=int, default=1000)
    p.add_argument("--users", default="1000,2500,5000,10000")
    p.add_argument("--duration", default="2m")
    p.add_argument("--warmup", type=float, default=20.0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--spawn-rate", type=float, default=200.0)
    p.add_argument("--think-min", type=float, default=5.0)
    p.add_argument("--think-max", type=float, default=15.0)
    p.add_argument("--p95-limit-ms", type=float, default=1000.0)
    a = p.parse_args()
    from advisor.sampling import parse_duration

    duration_s = parse_duration(a.duration)
    print(f"target {a.host}{a.path} · think {a.think_min:g}-{a.think_max:g} s · {a.workers} worker(s) · "
          f"{a.duration} per level (warm-up {a.warmup:g} s) · machine load {os.getloadavg()[0]:.1f}\n")
    print(f"{'users':>6} {'reached':>7} {'offered/s':>9} {'achieved/s':>10} {'ach/off':>7} {'fail %':>6} "
          f"{'p95 ms':>8} {'worker CPU %':>14} {'worker MB':>12} {'failed checks':>16} {'limit':>9}")
    results = []
    for users in (int(x) for x in a.users.split(",")):
        out = Path(tempfile.mkdtemp(prefix="perfadvisor-capacity-")) / "run"
        try:
            r = one_level(users, a, duration_s, out)
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)
        r["limit"] = limit_of(r, a.p95_limit_ms)
        results.append(r)
        p95 = f"{r['p95']:.1f}" if r["p95"] is not None else "–"
        print(f"{r['users']:>6} {r['reached']:>7} {r['offered']:>9.1f} {r['achieved']:>10.1f} "
              f"{r['achieved'] / r['offered']:>7.2f} {100 * r['failures']:>6.2f} {p95:>8} "
              f"{', '.join(f'{c:.0f}' for c in r['cpu']):>14} {', '.join(f'{m:.0f}' for m in r['rss_mb']):>12} "
              f"{','.join(r['failed']) or '-':>16} {r['limit']:>9}", flush=True)
    healthy = [r for r in results if r["limit"] == "none"]
    first_bad = next((r for r in results if r["limit"] != "none"), None)
    print()
    if first_bad is None:
        print(f"no limit reached up to {results[-1]['users']} users")
    else:
        print(f"limit: the {first_bad['limit']} at {first_bad['users']} users "
              f"(last healthy level: {healthy[-1]['users'] if healthy else 'none'})")
    if healthy:
        best = healthy[-1]
        per_worker_cpu = max(best["cpu"]) if best["cpu"] else 0
        per_worker_users = best["users"] / max(1, len(best["cpu"]))
        if per_worker_cpu > 0:
            held = per_worker_users * 90 / per_worker_cpu
            print(f"one worker held {per_worker_users:.0f} users at {per_worker_cpu:.0f}% CPU: about {held:.0f} users "
                  f"below 90%; a second host with {a.workers} worker(s) would add about {held * a.workers:.0f} "
                  "users (`perfadvisor loadtest --master` here, `--worker --master-host` there)")


if __name__ == "__main__":
    main()
