"""The sample shop stack (compose/), run for the demo and the tests: `perfadvisor demo up|down|status`.

    config.py   ports, the native runner's settings, URLs, StackError
    procs.py    processes the native runner starts and stops exactly (pid + start time), ports, probes
    prereq.py   what the native runner needs on this machine, installed with apt-get when missing
    native.py   the native runner: each service from local packages under one run directory (the default)
    docker.py   the Compose runner: compose/docker-compose.yml on a Docker engine (`--engine docker`)
    cli.py      the click commands

The names below are the package's interface (tests and the CLI import them from here).
"""

from __future__ import annotations

from advisor.stack import prereq as _prereq
from advisor.stack.cli import register_demo_commands
from advisor.stack.config import (
    DEFAULT_RUN_DIR,
    SERVICES,
    SOURCE_DIR,
    Echo,
    Ports,
    StackConfig,
    StackError,
    Urls,
    urls,
)
from advisor.stack.native import Stack, State, _secret, build_backend, build_frontend, scram_verifier
from advisor.stack.prereq import Requirement, requirements
from advisor.stack.procs import Proc, _proc_start_ticks


def ensure_requirements(cfg: StackConfig, echo: Echo) -> None:
    """Installs what `requirements(cfg)` finds missing, or raises StackError naming it (see prereq.ensure).
    `requirements` is looked up here at call time, so a caller (or a test) can replace it on this package."""
    _prereq.ensure(requirements(cfg), cfg, echo)


__all__ = ["DEFAULT_RUN_DIR", "SERVICES", "SOURCE_DIR", "Ports", "Proc", "Requirement", "Stack", "StackConfig",
           "StackError", "State", "Urls", "_proc_start_ticks", "_secret", "build_backend", "build_frontend",
           "ensure_requirements", "register_demo_commands", "requirements", "scram_verifier", "urls"]
