"""Fixtures of the load-test tests: a real HTTP server on loopback whose latency the test sets (server.py), and
one real, short, distributed Locust run against it (two local workers) shared by the tests that read a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from .server import DelayServer, Route

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfiles" / "two_endpoints.py"
BROKEN_LOCUSTFILE = HERE / "locustfiles" / "broken.py"
#: This suite's ports (31000-31999 belong to the load/compare tests).
SERVER_PORT = 31010
MASTER_PORT = 31020
DEAD_PORT = 31021
#: Generous limits for runs on a shared two-core machine: the LOAD rules themselves are tested on facts.
LENIENT = "[thresholds.load]\ngenerator_cpu_max_pct = 100\nmin_achieved_share = 0.0\nmin_steady_s = 1\n"


@pytest.fixture(scope="session")
def delay_server():
    with DelayServer(SERVER_PORT, {"/fast": Route(10), "/slow": Route(40, error_share=0.05)}) as server:
        yield server


@pytest.fixture(scope="session")
def lenient_config(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("config") / "perfadvisor.toml"
    p.write_text(LENIENT)
    return p
