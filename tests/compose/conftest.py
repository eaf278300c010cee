"""Session fixture: the sample stack in containers (compose/docker-compose.yml on a Docker engine), started
with `perfadvisor demo up --engine docker` under its own Compose project and stopped with `demo down --purge`.

The tests need a running engine, Compose and the stack's images (.ci/compose makes all three). Without them
they are skipped with the reason; with PERFADVISOR_COMPOSE_TESTS=1 (set by .ci/compose) a missing piece is a
failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from advisor.stack.config import Ports

REQUIRED = os.environ.get("PERFADVISOR_COMPOSE_TESTS") == "1"
PROJECT = "perfadvisor-shop-test"
#: The seed scale of the test database: 0.1 seeds in seconds and still makes the planted scans expensive.
SCALE = float(os.environ.get("PERFADVISOR_COMPOSE_SCALE", "0.1"))
PORT_OFFSET = int(os.environ.get("PERFADVISOR_COMPOSE_PORT_OFFSET", "0"))
PORTS = Ports().shifted(PORT_OFFSET)


def missing_piece() -> str | None:
    """Why the container tests cannot run here, or None."""
    from advisor.errors import PerfadvisorError
    from advisor.stack.docker import ComposeConfig, ComposeStack, compose_command, engine_version

    if shutil.which("docker") is None:
        return "no docker command (apt-get install docker.io)"
    try:
        engine_version()
        compose_command()
        missing = ComposeStack(ComposeConfig(project=PROJECT)).missing_images()
    except PerfadvisorError as e:
        return str(e).splitlines()[0]
    if missing:
        return f"the stack's images are not built ({', '.join(missing)}): run .ci/compose"
    return None


def cli(*args: str) -> subprocess.CompletedProcess:
    """`perfadvisor ARGS` in a child process, as a user runs it."""
    return subprocess.run(["perfadvisor", *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def compose_stack():
    from advisor.stack.docker import ComposeConfig, ComposeStack

    why = missing_piece()
    if why:
        if REQUIRED:
            pytest.fail(f"container tests required (PERFADVISOR_COMPOSE_TESTS=1) but {why}")
        pytest.skip(why)
    stack = ComposeStack(ComposeConfig(project=PROJECT, ports=PORTS, scale=SCALE, build=False))
    try:
        up = cli("demo", "up", "--engine", "docker", "--project", PROJECT, "--no-build",
                 "--scale", str(SCALE), "--port-offset", str(PORT_OFFSET))
        print(up.stdout, up.stderr)
        assert up.returncode == 0, up.stdout + up.stderr
        stack.up_output = up.stdout
        yield stack
    finally:
        stack.down(echo=print, purge=True)
