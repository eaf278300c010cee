"""What the sample stack is made of and where it listens: ports, the native runner's settings, the URLs a
user gets, and the error every stack command raises for a user's mistake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from advisor.errors import PerfadvisorError

Echo = Callable[[str], None]

SOURCE_DIR = Path(__file__).resolve().parents[2] / "compose"
DEFAULT_RUN_DIR = ".perfadvisor/stack"
SERVICES = ("postgres", "redis", "backend", "worker", "nginx")
STOP_TIMEOUT_S = 20.0
BACKEND_READY_TIMEOUT_S = 120.0


class StackError(PerfadvisorError):
    """The sample stack cannot be built, started or stopped (missing tool, busy port, failed service)."""


@dataclass(frozen=True)
class Ports:
    """Loopback ports of the native stack: non-standard, so they do not collide with real services, and below
    the kernel's ephemeral range (32768-60999 on Linux), so no client connection can hold one by chance."""

    postgres: int = 25432
    redis: int = 26379
    backend: int = 18080
    management: int = 18081
    nginx: int = 18088

    def shifted(self, offset: int) -> Ports:
        return Ports(**{k: v + offset for k, v in asdict(self).items()})


@dataclass(frozen=True)
class StackConfig:
    """What `up` starts and where.

    scale: seed scale factor (1.0 = 500k orders, 1.5M order items; about 20 s to seed here).
    build: build the jar / the front end when missing. install: apt-get missing system packages (root only).
    backend_env: extra environment for the back end (e.g. SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE=10).
    """

    run_dir: Path = Path(DEFAULT_RUN_DIR)
    scale: float = 1.0
    ports: Ports = field(default_factory=Ports)
    source_dir: Path = SOURCE_DIR
    build: bool = True
    install: bool = True
    backend_env: dict[str, str] = field(default_factory=dict)
    backend_heap_mb: int = 768

    @property
    def jar(self) -> Path:
        return self.source_dir / "backend" / "target" / "shop-backend.jar"

    @property
    def dist(self) -> Path:
        return self.source_dir / "frontend" / "dist"

    def backend_stale(self) -> bool:
        """The jar is missing or older than a source file or the pom."""
        b = self.source_dir / "backend"
        return _older_than_sources(self.jar, [b / "pom.xml", b / "src" / "main"])

    def frontend_stale(self) -> bool:
        """The build is missing or older than a source, index.html, package-lock.json or vite.config.js."""
        f = self.source_dir / "frontend"
        return _older_than_sources(self.dist / "index.html", [f / "src", f / "public", f / "index.html",
                                                               f / "package-lock.json", f / "vite.config.js"])


def _older_than_sources(target: Path, sources: list[Path]) -> bool:
    if not target.exists():
        return True
    built = target.stat().st_mtime
    for src in sources:
        files = [src] if src.is_file() else (p for p in src.rglob("*") if p.is_file())
        if any(f.stat().st_mtime > built for f in files):
            return True
    return False


@dataclass(frozen=True)
class Urls:
    frontend: str
    api: str
    actuator: str
    prometheus: str
    postgres_dsn: str
    redis: str


def urls(ports: Ports) -> Urls:
    return Urls(frontend=f"http://127.0.0.1:{ports.nginx}/",
                api=f"http://127.0.0.1:{ports.backend}/api",
                actuator=f"http://127.0.0.1:{ports.management}/actuator",
                prometheus=f"http://127.0.0.1:{ports.management}/actuator/prometheus",
                postgres_dsn=f"postgresql://postgres@127.0.0.1:{ports.postgres}/shop",
                redis=f"redis://127.0.0.1:{ports.redis}/0")
