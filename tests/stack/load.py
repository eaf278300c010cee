"""Runs the sample workload against a running stack and records what the planted problems show:
Locust's own statistics, hikaricp_connections_pending sampled at 10 Hz, Prometheus before/after and
sequential-scan counters before/after."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "sample_workloads" / "shop" / "locustfile.py"
LOAD_USERS = 60
LOAD_SECONDS = 30
PLANTED_TABLES = ("products", "reviews", "orders")


def prometheus_value(text: str, name: str, labels: str = "") -> float:
    """Sum of the samples of `name` whose label set contains `labels`."""
    total = 0.0
    for m in re.finditer(rf"^{re.escape(name)}\{{([^}}]*)\}} (\S+)$", text, re.M):
        if labels in m.group(1):
            total += float(m.group(2))
    return total


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def seq_scans(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT relname, seq_scan FROM pg_stat_user_tables"))


@dataclass
class LoadRun:
    returncode: int
    stats: list[dict]
    failures: list[dict]
    max_pending: float
    cache_before: str
    cache_after: str
    scans_before: dict
    scans_after: dict
    output: str
    samples: list[float] = field(default_factory=list)

    def acquire_mean_ms(self) -> float:
        """Mean time a request waited for a pool connection during the run."""
        def delta(name):
            return (prometheus_value(self.cache_after, name, 'pool="shop"')
                    - prometheus_value(self.cache_before, name, 'pool="shop"'))
        return 1000 * delta("hikaricp_connections_acquire_seconds_sum") / max(1.0, delta("hikaricp_connections_acquire_seconds_count"))


def run_load(stack, out: Path) -> LoadRun:
    """Runs the Locust workload headless for LOAD_SECONDS while sampling hikaricp_connections_pending at 10 Hz."""
    before = scrape(stack.urls.prometheus)
    scans_before = seq_scans(stack.admin_dsn)
    samples: list[float] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                samples.append(prometheus_value(scrape(stack.urls.prometheus), "hikaricp_connections_pending"))
            except OSError:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    env = {**os.environ, "SHOP_SCALE": str(stack.scale), "SHOP_THINK_SCALE": "0.04"}
    try:
        res = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(LOAD_USERS),
             "-r", "20", "-t", f"{LOAD_SECONDS}s", "--host", stack.urls.frontend.rstrip("/"),
             "--csv", str(out / "run"), "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "1"],
            capture_output=True, text=True, env=env, timeout=LOAD_SECONDS + 90)
    finally:
        done.set()
        sampler.join(5)
    with open(out / "run_stats.csv") as f:
        stats = list(csv.DictReader(f))
    with open(out / "run_failures.csv") as f:
        failures = list(csv.DictReader(f))
    return LoadRun(res.returncode, stats, failures, max(samples, default=0.0), before, scrape(stack.urls.prometheus),
                   scans_before, seq_scans(stack.admin_dsn), res.stdout[-3000:] + res.stderr[-3000:], samples)


def cache_hit_ratio(run: LoadRun, cache: str = "products") -> tuple[float, float]:
    """(hits, misses) of a Spring cache during the run; `pending` gets are not lookups and are left out."""
    def delta(result):
        label = f'cache="{cache}",cache_manager="cacheManager",name="{cache}",result="{result}"'
        return (prometheus_value(run.cache_after, "cache_gets_total", label)
                - prometheus_value(run.cache_before, "cache_gets_total", label))
    return delta("hit"), delta("miss")


def pool_summary(run: LoadRun) -> tuple[float, float, str]:
    """(max pending, share of samples with pending > 0, a one-line description)."""
    busy = sum(1 for v in run.samples if v > 0) / max(1, len(run.samples))
    seen = (f"pending: max {run.max_pending}, share of samples > 0 {busy:.2f}, n {len(run.samples)}, "
            f"acquire mean {run.acquire_mean_ms():.2f} ms")
    return run.max_pending, busy, seen


def aggregated(run: LoadRun) -> dict:
    return next(r for r in run.stats if r["Name"] == "Aggregated")
