"""Test workload: two endpoints of tests/load/server.py, with a short think time (TEST_THINK_S, default 0.05 s)."""

import os

from locust import FastHttpUser, constant, task


class TwoEndpoints(FastHttpUser):
    wait_time = constant(float(os.environ.get("TEST_THINK_S", "0.05")))

    @task(3)
    def fast(self):
        self.client.get("/fast", name="/fast")

    @task(1)
    def slow(self):
        with self.client.get("/slow?id=1", name="/slow?id={id}", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
