"""The sample shop stack in containers: `perfadvisor demo up|down|status --engine docker`.

Runs compose/docker-compose.yml with Docker Compose (the v2 plugin, `docker compose`; Debian's v1
`docker-compose` where the plugin is missing) as project `perfadvisor-shop`, with an env file (default
env/dev.env) and the same loopback ports as the native runner (shifted by --port-offset through the compose
file's POSTGRES_PORT, REDIS_PORT, BACKEND_PORT, MANAGEMENT_PORT and FRONTEND_PORT). The engine keeps the state:
`down` and `status` find the containers by the project's labels, and the database lives in the project's
`pgdata` volume (kept by `down`, removed by `down --purge`).

Images are built when missing (or with --build): from the official images, or, on a machine that cannot pull
them (`--bases debian`, chosen automatically where compose/bases/build.sh has made its Debian base), from the
Debian stand-ins of compose/bases/ with bases/docker-compose.bases.yml.

restart() is how the validate loop applies a change the way a user would: `docker compose up -d --no-deps
SERVICE`, with an extra env file for the back end (BACKEND_ENV_OVERRIDES, e.g. `perfadvisor apply`'s
spring.env) that Compose passes to the container.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from advisor.stack.config import SOURCE_DIR, Echo, Ports, StackError
from advisor.stack.procs import _port_free

PROJECT = "perfadvisor-shop"
DEFAULT_ENV_FILE = "env/dev.env"
BASES = ("auto", "official", "debian")
DEBIAN_BASE_IMAGE = "perfadvisor-bases/debian:bookworm"
#: First start: build-free, the seed at SF 1 takes about 40 s in a container here; the back end ~30 s.
HEALTHY_TIMEOUT_S = 600.0
#: compose file variable → Ports field: the published ports --port-offset moves.
PORT_VARIABLES = {"POSTGRES_PORT": "postgres", "REDIS_PORT": "redis", "BACKEND_PORT": "backend",
                  "MANAGEMENT_PORT": "management", "FRONTEND_PORT": "nginx"}
#: Services started by `up` (locust is under the `load` profile and not started).
SERVICES = ("postgres", "redis", "backend", "worker", "frontend")
COMMAND_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class ComposeConfig:
    """What `up --engine docker` runs.

    env_file: relative to source_dir or absolute. scale: SEED_SCALE for a fresh database (None: the env
    file's). build: None builds only missing images, True always (the build cache makes it quick), False
    never. bases: official | debian | auto (debian where compose/bases/build.sh has made its base)."""

    source_dir: Path = SOURCE_DIR
    env_file: str = DEFAULT_ENV_FILE
    project: str = PROJECT
    ports: Ports = field(default_factory=Ports)
    scale: float | None = None
    build: bool | None = None
    bases: str = "auto"
    healthy_timeout_s: float = HEALTHY_TIMEOUT_S

    @property
    def compose_file(self) -> Path:
        return self.source_dir / "docker-compose.yml"

    @property
    def env_path(self) -> Path:
        p = Path(self.env_file)
        return p if p.is_absolute() else self.source_dir / p


def compose_command() -> list[str]:
    """["docker", "compose"] when the Compose v2 plugin answers, else ["docker-compose"] (v1), else
    StackError saying how to get one."""
    if shutil.which("docker") and _run(["docker", "compose", "version"], check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise StackError("Docker Compose is not installed: install the Compose v2 plugin (docker compose), "
                     "or Debian's docker-compose (apt-get install docker-compose); .ci/compose builds the plugin "
                     "from its Go module")


def engine_version() -> str:
    """The Docker engine's version; StackError when no engine answers."""
    if not shutil.which("docker"):
        raise StackError("the docker command is not installed (apt-get install docker.io), or use --engine native")
    res = _run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False)
    if res.returncode != 0 or not res.stdout.strip():
        why = (res.stderr.strip().splitlines() or ["no answer"])[-1]
        raise StackError(f"no Docker engine answers ({why}): start it (as root: dockerd &), or use --engine native")
    return res.stdout.strip()


def _run(argv: list[str], check: bool = True, env: dict[str, str] | None = None, cwd: Path | None = None,
         timeout_s: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout_s,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise StackError(f"`{' '.join(argv[:4])} …` did not finish within {timeout_s:.0f} s") from None
    if check and res.returncode != 0:
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-15:])
        raise StackError(f"`{' '.join(argv)}` failed (exit {res.returncode}):\n{tail}")
    return res


class ComposeStack:
    """The sample stack as a Compose project. Not thread-safe; one `up` per project."""

    def __init__(self, cfg: ComposeConfig) -> None:
        self.cfg = cfg

    # -- commands ----------------------------------------------------------------------------------------

    def _env(self, overrides: Path | None = None) -> dict[str, str]:
        env = {**os.environ}
        for var, name in PORT_VARIABLES.items():
            env[var] = str(getattr(self.cfg.ports, name))
        if self.cfg.scale is not None:
            env["SEED_SCALE"] = f"{self.cfg.scale:g}"
        if overrides is not None:
            env["BACKEND_ENV_OVERRIDES"] = str(overrides.resolve())
        return env

    def _compose(self, *args: str, files: tuple[Path, ...] = (), check: bool = True,
                 overrides: Path | None = None, timeout_s: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess:
        cfg = self.cfg
        argv = [*compose_command(), "--project-name", cfg.project, "--project-directory", str(cfg.source_dir),
                "-f", str(cfg.compose_file)]
        for f in files:
            argv += ["-f", str(f)]
        argv += ["--env-file", str(cfg.env_path), *args]
        return _run(argv, check=check, env=self._env(overrides), cwd=cfg.source_dir, timeout_s=timeout_s)

    def containers(self) -> dict[str, dict[str, str]]:
        """service → {"id", "state" (running, exited…), "health" (healthy, starting, unhealthy, "" if none)}."""
        engine_version()  # one clear line when no engine answers
        ids = _run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.cfg.project}"])
        if not ids.stdout.split():
            return {}
        fmt = ('{{index .Config.Labels "com.docker.compose.service"}}\t{{.Id}}\t{{.State.Status}}\t'
               '{{if .State.Health}}{{.State.Health.Status}}{{end}}')
        res = _run(["docker", "inspect", "--format", fmt, *ids.stdout.split()])
        out = {}
        for line in res.stdout.splitlines():
            service, cid, state, health = (line.split("\t") + [""] * 4)[:4]
            out[service] = {"id": cid[:12], "state": state, "health": health}
        return out

    # -- up ----------------------------------------------------------------------------------------------

    def up(self, echo: Echo = print) -> dict:
        """Builds what is missing, starts the stack and waits until every service is healthy; returns status().

        Raises StackError (after stopping the containers it started; the database volume is kept) when no
        engine or Compose is available, a port is taken, a build fails or a service is not healthy in time."""
        cfg = self.cfg
        t0 = time.monotonic()
        if not cfg.compose_file.is_file():
            raise StackError(f"{cfg.compose_file} not found: run from a perfadvisor source checkout or pass --source")
        if not cfg.env_path.is_file():
            raise StackError(f"env file {cfg.env_path} not found (--env-file)")
        echo(f"Docker engine {engine_version()}, {' '.join(compose_command())}")
        running = {s for s, c in self.containers().items() if c["state"] == "running"}
        if running:
            raise StackError(f"the Compose project {cfg.project} is already running ({', '.join(sorted(running))}): "
                             "`perfadvisor demo down --engine docker` first")
        busy = [f"{name} {port}" for name, port in asdict(cfg.ports).items() if not _port_free(port)]
        if busy:
            raise StackError(f"ports in use on 127.0.0.1: {', '.join(busy)} (another stack? `perfadvisor demo "
                             "status`, or choose other ports with --port-offset)")
        self.build(echo)
        echo(f"starting {cfg.project} ({cfg.env_file}{'' if cfg.scale is None else f', seed scale {cfg.scale:g}'})")
        try:
            self._compose("up", "-d", "--no-build", *SERVICES)
            self.wait_healthy(SERVICES, echo)
        except BaseException:
            echo("start-up failed: stopping the containers (the database volume is kept)")
            self._compose("down", check=False)
            raise
        echo(f"stack up in {time.monotonic() - t0:.0f} s")
        return self.status()

    def images(self) -> dict[str, str]:
        """service → image name, for every service with a `build` (from `compose config`)."""
        import yaml

        # YAML, which both Compose v2 and v1 print (v1 has no --format json).
        spec = yaml.safe_load(self._compose("--profile", "load", "config").stdout)
        return {name: svc["image"] for name, svc in spec["services"].items() if "build" in svc and "image" in svc}

    def missing_images(self) -> list[str]:
        images = self.images()
        return [s for s, image in images.items()
                if _run(["docker", "image", "inspect", image], check=False).returncode != 0]

    def bases(self) -> str:
        """official or debian (auto: debian where compose/bases/build.sh has made its Debian base)."""
        if self.cfg.bases != "auto":
            return self.cfg.bases
        found = _run(["docker", "image", "inspect", DEBIAN_BASE_IMAGE], check=False).returncode == 0
        return "debian" if found else "official"

    def build(self, echo: Echo = print) -> None:
        """Builds the images (all with build=True; the missing ones with build=None; none with False)."""
        cfg = self.cfg
        if cfg.build is False:
            missing = self.missing_images()
            if missing:
                raise StackError(f"images not built for {', '.join(missing)} and --no-build was given")
            return
        targets = list(self.images()) if cfg.build else self.missing_images()
        if not targets:
            return
        files: tuple[Path, ...] = ()
        if self.bases() == "debian":
            bases = cfg.source_dir / "bases"
            echo("  Debian stand-ins for the official images: compose/bases/build.sh")
            _run(["bash", str(bases / "build.sh")], timeout_s=COMMAND_TIMEOUT_S * 2)
            files = (bases / "docker-compose.bases.yml",)
        echo(f"  building {', '.join(targets)} (the first build downloads dependencies: minutes)")
        self._compose("--profile", "load", "build", *targets, files=files, timeout_s=COMMAND_TIMEOUT_S * 2)

    def wait_healthy(self, services: tuple[str, ...] | list[str], echo: Echo = print,
                     timeout_s: float | None = None) -> None:
        """Waits until each service's container is running and healthy (its health check passes)."""
        deadline = time.monotonic() + (timeout_s or self.cfg.healthy_timeout_s)
        reported: set[str] = set()
        while True:
            now = self.containers()
            for s in services:
                c = now.get(s, {})
                if c.get("state") in ("exited", "dead") or c.get("health") == "unhealthy":
                    raise StackError(f"{s} is {c.get('health') or c.get('state')}; last lines of its log:\n"
                                     f"{self.logs(s)}")
                if c.get("health") == "healthy" and s not in reported:
                    reported.add(s)
                    echo(f"  {s} healthy")
            if reported >= set(services):
                return
            if time.monotonic() > deadline:
                late = [s for s in services if s not in reported]
                raise StackError(f"not healthy within {timeout_s or self.cfg.healthy_timeout_s:.0f} s: "
                                 f"{', '.join(late)}; last lines of {late[0]}'s log:\n{self.logs(late[0])}")
            time.sleep(1.0)

    def logs(self, service: str, lines: int = 15) -> str:
        res = self._compose("logs", "--no-color", "--tail", str(lines), service, check=False)
        return (res.stdout + res.stderr).strip() or "(no log)"

    # -- restart (the validate loop) --------------------------------------------------------------------

    def restart(self, service: str, env_file: Path | None = None, echo: Echo = print) -> None:
        """Applies a change the way a user would: `docker compose up -d --no-deps SERVICE`, which recreates the
        container when its configuration changed. env_file: extra KEY=VALUE settings for the back end (e.g.
        `perfadvisor apply`'s spring.env), passed to the container through BACKEND_ENV_OVERRIDES. Waits until
        the service is healthy again."""
        if env_file is not None and not Path(env_file).is_file():
            raise StackError(f"env file {env_file} not found")
        echo(f"restarting {service}" + (f" with {env_file}" if env_file else ""))
        self._compose("up", "-d", "--no-deps", "--no-build", service,
                      overrides=Path(env_file) if env_file else None)
        self.wait_healthy([service], echo)

    # -- down / status -----------------------------------------------------------------------------------

    def down(self, echo: Echo = print, purge: bool = False) -> list[str]:
        """Stops and removes the project's containers and network (and with purge its volume: the database).
        Returns the services that were running."""
        before = self.containers()
        if not before and not purge:
            echo(f"nothing to stop: no containers of the Compose project {self.cfg.project}")
            return []
        self._compose("--profile", "load", "down", "--remove-orphans", *(["--volumes"] if purge else []))
        running = sorted(s for s, c in before.items() if c["state"] == "running")
        for s in running:
            echo(f"stopped {s}")
        if purge:
            echo(f"removed the volumes of {self.cfg.project} (the database)")
        return running

    def status(self) -> dict:
        """Each service: running or not, health, and the URLs `perfadvisor analyze --compose` would find."""
        from advisor.compose_targets import discover

        now = self.containers()
        services = {s: {"running": now.get(s, {}).get("state") == "running",
                        "health": now.get(s, {}).get("health") or None, "container": now.get(s, {}).get("id")}
                    for s in SERVICES}
        found = discover(self.cfg.compose_file, env_files=[self.cfg.env_path], environ=self._env())
        return {"engine": "docker", "project": self.cfg.project, "env_file": str(self.cfg.env_path),
                "running": any(s["running"] for s in services.values()), "services": services,
                "urls": {f.area: f.shown for f in found.found}}
