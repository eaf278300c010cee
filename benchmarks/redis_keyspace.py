"""The Redis keyspace sample on 1M keys: the bounded sample (defaults: 10 s, 100,000 keys) and a full scan
(`full_scan`, `--redis-full-scan`), side by side with `redis-cli --memkeys` on the same data.

    python benchmarks/redis_keyspace.py [--keys 1000000] [--repeat 3] [--port 31700]

Starts a throwaway redis-server on 127.0.0.1:PORT, loads the keys (DEBUG POPULATE for Spring-style cache keys
`app:cache:products::N` and data keys `user:N`; `redis-cli --pipe` for `session:<hex>` keys with TTLs), then
times each measurement `--repeat` times, interleaved, and prints the median. Targets (issue 7): the bounded
sample finishes within its time bound; the full scan is no slower than `redis-cli --memkeys`. The machine's
load average is printed too: other work on a shared machine slows both sides. "client CPU s" is the CPU time
of perfadvisor's process or of redis-cli (the server's own work is not in it).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advisor.config import Settings  # noqa: E402
from analyzers import redis as redis_analyzer  # noqa: E402
from analyzers.redis.keyspace import prefix_stats  # noqa: E402


def start_server(port: int, workdir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir), "--enable-debug-command", "yes",
                             "--logfile", str(workdir / "redis.log")])
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip() == "PONG":
            return proc
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"redis-server did not start on {port}: {(workdir / 'redis.log').read_text()[-500:]}")


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def load(port: int, keys: int) -> dict[str, int]:
    """Loads `keys` keys: 50% Spring cache keys, 30% data keys, 20% session keys with a TTL."""
    products, users = keys // 2, keys * 3 // 10
    sessions = keys - products - users
    cli = ["redis-cli", "-p", str(port)]
    subprocess.run([*cli, "DEBUG", "POPULATE", str(products), "app:cache:products:", "200"], check=True,
                   capture_output=True)
    subprocess.run([*cli, "DEBUG", "POPULATE", str(users), "user", "100"], check=True, capture_output=True)
    rnd = random.Random(1)
    value = b"s" * 300
    payload = b"".join(resp(b"SET", b"session:%032x" % rnd.getrandbits(128), value, b"EX",
                            str(rnd.randint(600, 3600)).encode()) for _ in range(sessions))
    out = subprocess.run([*cli, "--pipe"], input=payload, check=True, capture_output=True)
    if b"errors: 0" not in out.stdout:
        raise SystemExit(f"redis-cli --pipe: {out.stdout[-300:]!r}")
    return {"app:cache:products::": products, "user:": users, "session:": sessions}


def time_collect(url: str, **opts) -> tuple[float, float, dict]:
    """(wall s, client CPU s, section)."""
    st = Settings(targets={"redis": {"url": url, **opts}})
    t, cpu = time.monotonic(), time.process_time()
    section = redis_analyzer.collect(st)
    return time.monotonic() - t, time.process_time() - cpu, section


def time_memkeys(port: int) -> tuple[float, float, str]:
    """(wall s, redis-cli CPU s, its output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    out = subprocess.run(["redis-cli", "-p", str(port), "--memkeys"], check=True, capture_output=True, text=True)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--port", type=int, default=31700)
    args = ap.parse_args()
    for tool in ("redis-server", "redis-cli"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (apt-get install redis-server)")
    workdir = Path(tempfile.mkdtemp(prefix="perfadvisor-bench-redis-"))
    proc = start_server(args.port, workdir)
    url = f"redis://127.0.0.1:{args.port}/0"
    try:
        t = time.monotonic()
        truth = load(args.port, args.keys)
        print(f"loaded {args.keys:,} keys in {time.monotonic() - t:.1f} s; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")
        bounded, full, memkeys = [], [], []
        for _ in range(args.repeat):
            bounded.append(time_collect(url))
            full.append(time_collect(url, full_scan=True))
            memkeys.append(time_memkeys(args.port))
        b_sec, f_sec, m_out = bounded[-1][2], full[-1][2], memkeys[-1][2]
        m_bytes = sum(int(n) for n in re.findall(r"^\d+ \w+ with (\d+) bytes", m_out, re.M))
        f_bytes = sum(s.memory_bytes_sampled or 0 for s in prefix_stats(f_sec))
        runs_by = {"bounded": bounded, "full": full, "memkeys": memkeys}
        med = {name: statistics.median(x[0] for x in runs) for name, runs in runs_by.items()}
        cpu = {name: statistics.median(x[1] for x in runs) for name, runs in runs_by.items()}
        print(f"\n{'measurement':<44} {'keys':>10} {'median s':>9} {'client CPU s':>13} {'keys/s':>10}  runs (s)")
        rows = [("bounded sample (10 s / 100,000-key bounds)", b_sec["keyspace"]["keys_sampled"], "bounded", bounded),
                ("full scan (full_scan, --redis-full-scan)", f_sec["keyspace"]["keys_sampled"], "full", full),
                ("redis-cli --memkeys", args.keys, "memkeys", memkeys)]
        for label, n, key, runs in rows:
            print(f"{label:<44} {n:>10,} {med[key]:>9.2f} {cpu[key]:>13.2f} {n / med[key]:>10,.0f}  "
                  + ", ".join(f"{r[0]:.2f}" for r in runs))
        print(f"\nfull scan / memkeys: {med['full'] / med['memkeys']:.2f} (target ≤ 1.00); bounded sample "
              f"within its {b_sec['limits']['scan_time_s']:g} s bound: {med['bounded'] <= b_sec['limits']['scan_time_s']}")
        print(f"MEMORY USAGE summed: full scan {f_bytes:,} B, redis-cli --memkeys {m_bytes:,} B")
        print(f"\n{'prefix':<24} {'true keys':>10} {'estimated (bounded)':>20} {'95% interval':>24} {'memory est.':>14}")
        est = {s.prefix: s for s in prefix_stats(b_sec)}
        for prefix, n in truth.items():
            s = est.get(prefix)
            if s is None:
                print(f"{prefix:<24} {n:>10,} {'not sampled':>20}")
                continue
            print(f"{prefix:<24} {n:>10,} {s.keys_estimated:>20,.0f} "
                  f"{f'{s.keys_estimated_low:,.0f}–{s.keys_estimated_high:,.0f}':>24} "
                  f"{(s.memory_bytes_estimated or 0) / 2**20:>11,.1f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
