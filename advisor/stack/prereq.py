"""What the native runner needs on this machine (PostgreSQL 15 with HypoPG, Redis, nginx, Java, and the
build tools when something must be built), and installing what is missing with apt-get as root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from advisor.stack.config import Echo, StackConfig, StackError


@dataclass(frozen=True)
class Requirement:
    what: str
    present: Callable[[], bool]
    apt: tuple[str, ...]
    hint: str = ""


def _pg_ext(name: str) -> bool:
    return any(Path(p).exists() for p in
               (f"/usr/share/postgresql/15/extension/{name}.control",))


def requirements(cfg: StackConfig) -> list[Requirement]:
    """What `up` needs on this machine; the build tools only when something must be built."""
    reqs = [
        Requirement("PostgreSQL 15 server", lambda: Path("/usr/lib/postgresql/15/bin/initdb").exists(),
                    ("postgresql-15",)),
        Requirement("HypoPG for PostgreSQL 15", lambda: _pg_ext("hypopg"), ("postgresql-15-hypopg",)),
        Requirement("psql", lambda: shutil.which("psql") is not None, ("postgresql-client-15",)),
        Requirement("redis-server 7", lambda: shutil.which("redis-server") is not None, ("redis-server",)),
        Requirement("nginx", lambda: shutil.which("nginx") is not None, ("nginx",)),
        Requirement("Java 17+", lambda: shutil.which("java") is not None, ("openjdk-17-jre-headless",)),
    ]
    if cfg.build and cfg.backend_stale():
        reqs.append(Requirement("Maven 3.8+ and a JDK 17", lambda: shutil.which("mvn") is not None
                                and shutil.which("javac") is not None, ("maven", "openjdk-17-jdk-headless")))
    if cfg.build and cfg.frontend_stale():
        reqs.append(Requirement("Node.js 20 and npm", lambda: shutil.which("npm") is not None, (),
                                "install Node.js 20.19+ with npm (Vite 8 needs it): https://nodejs.org"))
    return reqs


def ensure(reqs: list[Requirement], cfg: StackConfig, echo: Echo) -> None:
    """Installs what `reqs` finds missing (apt-get, as root, when cfg.install); raises StackError naming each
    requirement still missing with the command that installs it."""
    missing = [r for r in reqs if not r.present()]
    if not missing:
        return
    apt = sorted({p for r in missing for p in r.apt})
    can_install = cfg.install and os.geteuid() == 0 and shutil.which("apt-get") is not None and apt
    if can_install:
        echo(f"installing missing system packages: {' '.join(apt)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        res = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *apt], env=env,
                             capture_output=True, text=True)
        if res.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *apt], env=env,
                           capture_output=True)
        missing = [r for r in missing if not r.present()]
    if missing:
        lines = [f"{r.what}: " + (f"apt-get install {' '.join(r.apt)}" if r.apt else r.hint) for r in missing]
        raise StackError("missing on this machine (the stack cannot start without it):\n  " + "\n  ".join(lines))
