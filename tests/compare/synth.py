"""Generated run directories with known latency distributions, written through the same code as a real run:
worker messages built by advisor.load.recorder.Recorder, merged by advisor.load.finalize.finalize, run.json with
the fields advisor.load.runner writes. Latencies are log-normal per endpoint; a test sets each endpoint's median,
spread, rate and error share, and so knows the true shift between two runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advisor.load import rundir as rd
from advisor.load.finalize import finalize
from advisor.load.recorder import Recorder, message

T0 = 1_800_000_000.0


@dataclass(frozen=True)
class Endpoint:
    rate_rps: float
    median_ms: float
    sigma: float = 0.3
    error_share: float = 0.0


def make_run(path: Path, endpoints: dict[str, Endpoint], duration_s: int = 40, seed: int = 0,
             host: str = "http://127.0.0.1:31999", workload_sha: str = "a" * 64, users: int = 20,
             workers: int = 2, cpu_percent: float = 20.0, lag_ms: float = 0.05, spawn_s: float = 1.0,
             warmup_s: float = 2.0, status: str = "complete") -> Path:
    """Writes a finished run directory at `path` and returns it."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    recorders = [Recorder() for _ in range(workers)]
    counts: dict[str, list[int]] = {k: [0, 0] for k in endpoints}
    with (path / rd.PARTS_JSONL).open("w") as parts:
        for sec in range(duration_s):
            for key, e in endpoints.items():
                method, name = key.split(" ", 1)
                n = rng.poisson(e.rate_rps)
                lat = e.median_ms * np.exp(rng.normal(0.0, e.sigma, n))
                failed = rng.random(n) < e.error_share
                at = T0 + sec + rng.random(n)
                for i in range(n):
                    recorders[i % workers].record(method, name, float(lat[i]), bool(failed[i]), float(at[i]))
                counts[key][0] += n
                counts[key][1] += int(failed.sum())
            now = T0 + sec + 1.0
            for w, rec in enumerate(recorders):
                msg = message(rec, now, {"at": now, "cpu_percent": cpu_percent, "rss_bytes": 50_000_000,
                                         "lag_ms_mean": lag_ms, "lag_ms_max": 3 * lag_ms,
                                         "users": users // workers, "host": "synth", "pid": 1000 + w},
                              final=sec == duration_s - 1)
                parts.write(json.dumps({"worker": w, **msg}) + "\n")
    master = {"t0": T0, "spawn_complete_at": T0 + spawn_s, "stop_at": T0 + duration_s + 0.01,
              "end_at": T0 + duration_s + 1, "users_target": users, "spawn_rate": users / spawn_s,
              "duration_s": duration_s, "expect_workers": workers, "workers_at_start": workers, "lost": [],
              "connects": [], "users": [[T0 + s + 1, users] for s in range(duration_s)],
              "master_process": [{"at": T0 + s + 1, "cpu_percent": 1.0, "rss_bytes": 40_000_000, "host": "synth",
                                  "pid": 999} for s in range(duration_s)], "interrupted": False,
              "locust": {"entries": [{"method": k.split(" ", 1)[0], "name": k.split(" ", 1)[1],
                                      "num_requests": c[0], "num_failures": c[1]} for k, c in counts.items()],
                         "total": {"num_requests": sum(c[0] for c in counts.values()),
                                   "num_failures": sum(c[1] for c in counts.values())}}}
    (path / rd.MASTER_JSON).write_text(json.dumps(master))
    facts = finalize(path, warmup_s)
    doc = {"schema": rd.RUN_SCHEMA, "status": status, "tool": {"name": "perfadvisor", "version": "test"},
           "versions": {}, "workload": {"locustfile": "synth.py", "path": "/synth.py", "sha256": workload_sha,
                                        "user_classes": ["Synth"]},
           "options": {"users": users, "spawn_rate": users / spawn_s, "duration_s": duration_s,
                       "warmup_s": warmup_s, "workers": workers},
           "host": host, "started_at": "2027-01-15T08:00:00Z", "ended_at": "2027-01-15T08:01:00Z",
           "machine": {"hostname": "synth"}, **facts, "stack": {"window": None, "sources": [], "errors": {}}}
    rd.write_json(path / rd.RUN_JSON, doc)
    return path
