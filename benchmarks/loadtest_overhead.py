"""Benchmark: what perfadvisor's HdrHistogram recording costs the load generator, side by side with Locust's own
statistics alone (issue 8: under 5% extra generator CPU at 5,000 requests/s).

Two measurements, printed as tables:

1. Per request, in one process: Locust's own statistics (RequestStats.log_request, what every Locust run does) and
   perfadvisor's recorder (advisor.load.recorder.Recorder.record) on the same synthetic response times, and what
   each costs at 5,000 requests/s as a share of one core.
2. End to end: `perfadvisor loadtest` with paced users (constant_throughput) against nginx on loopback, once as
   shipped and once with the recorder switched off (PERFADVISOR_RECORDER=off), at the offered rates given; the
   workers' CPU per request and the extra share.

    python benchmarks/loadtest_overhead.py [--rates 1000,2500,5000] [--duration 30s] [--repeat 3] [--workers 2] [--port 31030]

Needs nginx (apt-get install nginx); started on 127.0.0.1:PORT with a temporary configuration and stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "loadtest_locustfile.py"
RPS_PER_USER = 10.0


def micro(n: int = 50_000, repeat: int = 7) -> list[tuple[str, float]]:
    """µs per request of each bookkeeping, the minimum over `repeat` passes (timeit's rule: the least disturbed
    pass is the cost; the others measured the machine's other work)."""
    from locust.stats import RequestStats

    from advisor.load.recorder import Recorder

    rnd = random.Random(1)
    times = [rnd.lognormvariate(3, 0.8) for _ in range(n)]
    names = [f"/api/e{i % 8}" for i in range(n)]
    best = {"locust": float("inf"), "record": float("inf"), "drain": float("inf")}
    for _ in range(repeat):
        stats = RequestStats()
        t = time.perf_counter()
        for name, rt in zip(names, times, strict=True):
            stats.log_request("GET", name, rt, 512)
        best["locust"] = min(best["locust"], (time.perf_counter() - t) / n * 1e6)
        rec = Recorder()
        now = time.time()
        t = time.perf_counter()
        for i, (name, rt) in enumerate(zip(names, times, strict=True)):
            rec.record("GET", name, rt, False, now + i / 5000)
        best["record"] = min(best["record"], (time.perf_counter() - t) / n * 1e6)
        t = time.perf_counter()
        rec.drain(None)
        best["drain"] = min(best["drain"], (time.perf_counter() - t) / n * 1e6)
    return [("Locust's statistics (log_request)", best["locust"]), ("perfadvisor recorder (record)", best["record"]),
            ("perfadvisor recorder (encode + send, per request)", best["drain"])]


def start_nginx(port: int) -> tuple[subprocess.Popen, Path]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    d = Path(tempfile.mkdtemp(prefix="perfadvisor-bench-nginx-"))
    d.chmod(0o755)  # nginx's workers run as an unprivileged user: they must be able to read the page
    (d / "www").mkdir(mode=0o755)
    (d / "www" / "index.html").write_text("ok\n")
    (d / "www" / "index.html").chmod(0o644)
    (d / "nginx.conf").write_text(f"""
daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{port}; root {d}/www; location / {{ }} }} }}
""")
    proc = subprocess.Popen([nginx, "-c", str(d / "nginx.conf"), "-p", str(d)], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    if proc.poll() is not None:
        raise SystemExit(f"nginx did not start on 127.0.0.1:{port}")
    return proc, d


def end_to_end(rate: float, duration_s: float, workers: int, url: str, recorder: bool, out: Path) -> dict:
    import pandas as pd

    from advisor.load.runner import LoadOptions, run_loadtest

    os.environ["BENCH_MODE"] = "paced"
    os.environ["BENCH_RPS_PER_USER"] = str(RPS_PER_USER)
    os.environ["PERFADVISOR_RECORDER"] = "on" if recorder else "off"
    users = max(1, round(rate / RPS_PER_USER))
    opts = LoadOptions(locustfile=LOCUSTFILE, host=url, users=users, spawn_rate=max(10.0, users / 5),
                       duration_s=duration_s, out=out, workers=workers, warmup_s=5)
    doc, _code = run_loadtest(opts, None, echo=lambda _l: None)
    os.environ.pop("PERFADVISOR_RECORDER", None)
    gen = pd.read_csv(out / "generator.csv")
    ss = doc["steady_state"]
    steady = gen[(gen["t_s"] >= ss["start_s"]) & (gen["t_s"] < ss["end_s"] + 1) & (gen["process"] != "master")]
    cpu_pct = steady.groupby("process")["cpu_percent"].mean()  # per worker, % of one core
    # Locust's own request counts over the steady state (with the recorder off our histograms are empty).
    hist = pd.read_csv(out / "locust" / "locust_stats_history.csv")
    hist = hist[hist["Name"] == "Aggregated"]
    base = int(doc["t0_epoch"])
    start, end = base + ss["start_s"], base + ss["end_s"]
    at = hist.set_index("Timestamp")["Total Request Count"]
    achieved = (float(at[at.index <= end].iloc[-1]) - float(at[at.index <= start].iloc[-1])) / (end - start)
    cpu_s_per_s = float(cpu_pct.sum()) / 100.0
    failed = [c["rule"] for c in doc["validity"]["checks"] if c["status"] == "fail"]
    return {"users": users, "offered": users * RPS_PER_USER, "achieved": achieved,
            "cpu_pct_per_worker": ", ".join(f"{v:.0f}" for v in cpu_pct),
            "cpu_us_per_req": cpu_s_per_s / achieved * 1e6 if achieved else float("nan"),
            "failed": [r for r in failed if recorder or r != "LOAD004"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default="1000,2500,5000", help="offered requests/s, comma-separated")
    p.add_argument("--duration", default="30s")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--port", type=int, default=31030)
    p.add_argument("--repeat", type=int, default=3, help="runs per rate and mode, alternated; medians reported")
    p.add_argument("--skip-end-to-end", action="store_true")
    a = p.parse_args()
    from advisor.sampling import parse_duration

    print("1. cost per request, one process (50,000 synthetic requests over 8 endpoints, best of 7)\n")
    print(f"{'what':<52} {'µs/request':>10} {'CPU at 5,000 req/s':>20}")
    rows = micro()
    for what, us in rows:
        print(f"{what:<52} {us:>10.2f} {us * 5000 / 1e4:>19.2f}%")
    extra = (rows[1][1] + rows[2][1]) / rows[0][1]
    print(f"\nrecorder / Locust's statistics: {100 * extra:.0f}% of what Locust's own bookkeeping costs "
          f"({(rows[1][1] + rows[2][1]) * 5000 / 1e4:.2f}% of one core at 5,000 req/s)\n")
    if a.skip_end_to_end:
        return
    proc, d = start_nginx(a.port)
    url = f"http://127.0.0.1:{a.port}"
    print(f"2. end to end: perfadvisor loadtest, paced users ({RPS_PER_USER:g} req/s each) against nginx at {url},"
          f" {a.workers} worker(s), {a.duration} per run\n")
    print(f"{'offered':>8} {'recorder':>8} {'users':>6} {'achieved':>9} {'worker CPU %':>14} {'CPU µs/req':>11} "
          f"{'failed checks':>16}")
    summary = []
    try:
        for rate in (float(x) for x in a.rates.split(",")):
            per = {False: [], True: []}
            for _rep in range(a.repeat):
                for recorder in (False, True):  # alternated, so a change in the machine's load hits both
                    out = Path(tempfile.mkdtemp(prefix="perfadvisor-bench-run-")) / "run"
                    r = end_to_end(rate, parse_duration(a.duration), a.workers, url, recorder, out)
                    shutil.rmtree(out.parent, ignore_errors=True)
                    per[recorder].append(r)
                    print(f"{r['offered']:>8.0f} {'on' if recorder else 'off':>8} {r['users']:>6} "
                          f"{r['achieved']:>9.0f} {r['cpu_pct_per_worker']:>14} {r['cpu_us_per_req']:>11.0f} "
                          f"{','.join(r['failed']) or '-':>16}", flush=True)
            off = statistics.median(x["cpu_us_per_req"] for x in per[False])
            on = statistics.median(x["cpu_us_per_req"] for x in per[True])
            summary.append((rate, statistics.median(x["achieved"] for x in per[True]), off, on))
        print(f"\n{'offered':>8} {'achieved (on)':>14} {'CPU µs/req off':>15} {'on':>8} {'extra (median)':>15}")
        for rate, achieved, off, on in summary:
            print(f"{rate:>8.0f} {achieved:>14.0f} {off:>15.0f} {on:>8.0f} {100 * (on / off - 1):>+14.1f}%")
        print(f"\nmachine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
