"""Session fixture: the whole sample stack (compose/), started natively by advisor.stack — a throwaway
PostgreSQL cluster, redis-server, the back-end jar, the Python worker and nginx with the built front end —
on ports shifted away from the demo's, so a running `perfadvisor demo up` does not collide with the tests.

`up` builds the jar and the front end when they are missing (mvn, npm), so the first run takes minutes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from advisor.stack import Ports, Stack, StackConfig, Urls

#: 0.1 → 5,000 customers, 2,000 products, 50,000 orders, 150,000 order items, 20,000 reviews: seeds in ~3 s,
#: and the planted scans cost enough that a pool of 2 saturates under the test's load whether or not the JVM
#: is warm (at 0.02 a warm back end sometimes kept up).
STACK_SCALE = float(os.environ.get("PERFADVISOR_STACK_SCALE", "0.1"))
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


@pytest.fixture(scope="session")
def stack():
    # Not under pytest's tmp dir: that is mode 0700 and the cluster runs as the postgres user.
    run_dir = Path(tempfile.mkdtemp(prefix="perfadvisor-stack-"))
    os.chmod(run_dir, 0o755)
    ports = Ports().shifted(PORT_OFFSET)
    st = Stack(StackConfig(run_dir=run_dir, scale=STACK_SCALE, ports=ports, backend_env=BACKEND_ENV))
    try:
        u = st.up(echo=print)
        yield RunningStack(st, u, ports, STACK_SCALE)
    finally:
        st.down(echo=print)
        shutil.rmtree(run_dir, ignore_errors=True)
