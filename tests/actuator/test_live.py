"""Collection against a real Spring Boot 3.5 process: the sample back end (compose/backend), started with its
PostgreSQL and Redis by advisor.stack on ports shifted by 400 (SF 0.05), and a second back-end process on
31450/31451 that exposes only health and metrics (the /actuator/metrics fallback) and is stopped mid-window.

Needs the jar (`cd compose/backend && mvn -q -B package -DskipTests`; `up` builds what is missing)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import analyzers.actuator as act
from advisor import sampling
from advisor.config import Settings
from analyzers.actuator import client, series

pytestmark = pytest.mark.slow

PORT_OFFSET = 400
FALLBACK_PORTS = (31450, 31451)
ROUTES = ("/api/categories", "/api/products/1", "/api/products/2", "/api/products?category=1")


@pytest.fixture(scope="module")
def shop():
    from advisor.stack import Ports, Stack, StackConfig

    if not shutil.which("java"):
        pytest.skip("java is not installed")
    run_dir = Path(tempfile.mkdtemp(prefix="perfadvisor-actuator-"))
    os.chmod(run_dir, 0o755)  # the cluster runs as the postgres user
    st = Stack(StackConfig(run_dir=run_dir, scale=0.05, ports=Ports().shifted(PORT_OFFSET), backend_heap_mb=384))
    try:
        yield st, st.up(echo=print)
    finally:
        st.down(echo=print)
        shutil.rmtree(run_dir, ignore_errors=True)


class Load:
    """GETs the routes in a loop from one thread until stopped (enough for the pool and caches to move)."""

    def __init__(self, api_base: str) -> None:
        self.base, self.stop, self.sent = api_base, threading.Event(), 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for route in ROUTES:
                try:
                    urllib.request.urlopen(self.base + route, timeout=5).read()
                    self.sent += 1
                except OSError:
                    pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


def test_window_on_the_running_back_end(shop):
    st, urls = shop
    s = Settings(targets={"actuator": {"urls": [urls.actuator]}})
    host = urls.api.removesuffix("/api")
    with Load(host) as load:
        time.sleep(1.0)
        w = sampling.run_window(act.sources(s), 3.0, 0.5)
    sec = act.collect(s, w, w.recordings)
    assert load.sent > 0 and sec["errors"] == []
    [inst] = sec["instances"]
    assert inst["endpoint"] == "prometheus" and inst["boot_version"] == "3.3 or later"
    assert inst["exposed"]["configprops"] is True and inst["exposed"]["env"] is False
    [p] = series.pool_stats(sec)
    assert p.pool == "shop" and p.acquires > 0 and p.usage_mean_ms is not None and p.samples == 7
    conf = series.configured(sec)
    # two independent sources agree: the metric and the configured property
    assert conf["spring.datasource.hikari.maximum-pool-size"] == p.max_size == 2
    assert conf["per_cache_ttl"]["products"]["ttl_s"] == 1.0
    routes = {h.uri: h for h in series.http_stats(sec) if h.status == "200"}
    assert routes["/api/products/{id}"].count > 0 and routes["/api/products/{id}"].p95_source == "buckets"
    caches = {c.cache: c for c in series.cache_stats(sec)}
    assert caches["categories"].hits > 0 and caches["categories"].hit_ratio is not None


@pytest.fixture
def metrics_only_backend(shop):
    """A second back-end process (same database and Redis) exposing only health and metrics."""
    st, _ = shop
    from advisor.stack import Ports

    ports = Ports().shifted(PORT_OFFSET)
    env = {**os.environ, **st.backend_env(ports), "SERVER_PORT": str(FALLBACK_PORTS[0]),
           "MANAGEMENT_SERVER_PORT": str(FALLBACK_PORTS[1]),
           "MANAGEMENT_ENDPOINTS_WEB_EXPOSURE_INCLUDE": "health,metrics"}
    log = open(st.run_dir / "logs" / "backend-metrics-only.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(["java", "-Xmx256m", "-XX:+UseParallelGC", "-jar", str(st.cfg.jar)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        ready = f"http://127.0.0.1:{FALLBACK_PORTS[1]}/actuator/health"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if urllib.request.urlopen(ready, timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the metrics-only back end did not start; see {log.name}")
        yield proc, f"http://127.0.0.1:{FALLBACK_PORTS[0]}", f"http://127.0.0.1:{FALLBACK_PORTS[1]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        log.close()


def test_metrics_endpoint_fallback_and_an_application_that_goes_away(metrics_only_backend):
    proc, app, mgmt = metrics_only_backend
    with Load(app):
        time.sleep(1.5)  # the pool and the caches exist once used
        s = Settings(targets={"actuator": {"urls": [mgmt]}})
        [src] = act.sources(s)
        sample, calls = src.sample, []

        def sample_then_kill():
            calls.append(1)
            if len(calls) == 4:  # the application goes away before the 4th sample
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            return sample()

        src.sample = sample_then_kill
        started = time.monotonic()
        w = sampling.run_window([src], 8.0, 0.5)
        took = time.monotonic() - started
    sec = act.collect(s, w, w.recordings)
    [inst] = sec["instances"]
    assert inst["endpoint"] == "metrics" and inst["exposed"]["prometheus"] is False
    assert any("/prometheus: answered 404" in n and "with tag filters instead" in n for n in inst["notes"])
    assert inst["exposed"]["configprops"] is False
    series_keys = inst["series"].keys()
    assert 'hikaricp_connections_max{pool="shop"}' in series_keys
    assert any(k.startswith("cache_gets_total{") and 'result="hit"' in k for k in series_keys)
    assert any(k.startswith("http_server_requests_seconds_count{") for k in series_keys)
    # what the fallback sampled equals what /actuator/metrics says with the same filter
    ep = client.endpoint(mgmt)
    assert inst["series"]['hikaricp_connections_max{pool="shop"}'][0] == 2.0
    # the application was killed mid-window: what was sampled is kept, and the failure is one line
    assert inst["error"]["phase"] == "sample" and len(inst["t_s"]) == 3 and took < 8.0 + 5.0
    [line] = sec["errors"]
    assert "connection refused" in line and "sample(s) kept" in line and mgmt in line
    assert ep.display == mgmt + "/actuator"
