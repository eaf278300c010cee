"""Locustfile of the load-test benchmarks (benchmarks/loadtest_overhead.py, loadtest_capacity.py).

BENCH_MODE=paced: every user sends BENCH_RPS_PER_USER requests/s to BENCH_PATH (Locust's constant_throughput),
so the offered rate is users × BENCH_RPS_PER_USER.
BENCH_MODE=think: every user waits between BENCH_THINK_MIN_S and BENCH_THINK_MAX_S between requests (the sample
workload's 5-15 s by default), GET BENCH_PATH with "{id}" replaced by a random id in 1..BENCH_IDS.
"""

import os
import random

from locust import FastHttpUser, between, constant_throughput, task

MODE = os.environ.get("BENCH_MODE", "paced")
PATH = os.environ.get("BENCH_PATH", "/")
IDS = int(os.environ.get("BENCH_IDS", "1000"))


class BenchUser(FastHttpUser):
    wait_time = (constant_throughput(float(os.environ.get("BENCH_RPS_PER_USER", "10"))) if MODE == "paced" else
                 between(float(os.environ.get("BENCH_THINK_MIN_S", "5")),
                         float(os.environ.get("BENCH_THINK_MAX_S", "15"))))

    @task
    def get(self):
        name = PATH
        path = PATH.replace("{id}", str(random.randint(1, IDS))) if "{id}" in PATH else PATH
        self.client.get(path, name=name)
