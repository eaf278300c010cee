"""Session fixture: the whole sample stack (compose/), started natively by advisor.stack — a throwaway
PostgreSQL cluster, redis-server, the back-end jar, the Python worker and nginx with the built front end —
on ports shifted away from the demo's, so a running `perfadvisor demo up` does not collide with the tests.

`up` builds the jar and the front end when they are missing (mvn, npm), so the first run takes minutes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from advisor.stack import Ports, Stack, StackConfig, Urls

#: 0.25 → 12,500 customers, 5,000 products, 125,000 orders, 375,000 order items, 50,000 reviews: seeds in
#: ~5 s, and the planted scans cost enough that a pool of 2 saturates under the tests' load however warm the
#: JVM is (at 0.02-0.1 a warm back end sometimes kept up: pending in only 20-26% of the samples).
STACK_SCALE = float(os.environ.get("PERFADVISOR_STACK_SCALE", "0.25"))
PORT_OFFSET = int(os.environ.get("PERFADVISOR_STACK_PORT_OFFSET", "200"))
#: Extra back-end environment, "K=V,K=V": e.g. SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=10 makes the
#: planted-pool test fail, which shows the test can tell a fixed stack from a broken one.
BACKEND_ENV = dict(kv.split("=", 1) for kv in os.environ.get("PERFADVISOR_STACK_BACKEND_ENV", "").split(",") if kv)


@dataclass
class RunningStack:
    stack: Stack
    urls: Urls
    ports: Ports
    scale: float

    @property
    def run_dir(self) -> Path:
        return self.stack.run_dir

    @property
    def admin_dsn(self) -> str:
        return self.urls.postgres_dsn

    def proc_pid(self, name: str) -> int:
        from advisor.stack import State

        return State.load(self.stack.state_file).procs[name].pid


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/stack/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.stack)


@contextlib.contextmanager
def running_stack(port_offset: int, backend_env: dict[str, str], scale: float = STACK_SCALE):
    """Starts a stack in a fresh run directory, yields it, and stops it and removes the directory."""
    # Not under pytest's tmp dir: that is mode 0700 and the cluster runs as the postgres user.
    run_dir = Path(tempfile.mkdtemp(prefix="perfadvisor-stack-"))
    os.chmod(run_dir, 0o755)
    ports = Ports().shifted(port_offset)
    st = Stack(StackConfig(run_dir=run_dir, scale=scale, ports=ports, backend_env=backend_env))
    try:
        u = st.up(echo=print)
        yield RunningStack(st, u, ports, scale)
    finally:
        st.down(echo=print)
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def stack():
    with running_stack(PORT_OFFSET, BACKEND_ENV) as s:
        yield s


@pytest.fixture(scope="session")
def planted_load(stack, tmp_path_factory):
    """The 30-second Locust run against the stack as shipped (see load.py)."""
    from .load import run_load

    return run_load(stack, tmp_path_factory.mktemp("locust-planted"))
