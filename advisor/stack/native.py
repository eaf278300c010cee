"""The sample shop stack, run natively from local packages: `perfadvisor demo up|down|status`.

The same services as compose/docker-compose.yml, for machines without a Docker engine (tests, CI, the
demo): a throwaway PostgreSQL cluster (advisor.pgcluster), redis-server, the back-end jar, the Python
worker and nginx serving the built front end. Each listens on a fixed, non-standard loopback port and
keeps its log, pid and data under one run directory:

    RUN_DIR/state.json          what `up` started (pid, process start time, port) — `down` reads it
    RUN_DIR/logs/NAME.log       one log per service
    RUN_DIR/secrets/            generated passwords (mode 0600); never printed, never on a command line
    RUN_DIR/pgdata/             the cluster (kept across down/up for a warm start; `down --purge` removes it)
    RUN_DIR/www/                the copy of compose/frontend/dist that nginx serves
    RUN_DIR/backend.env         settings `demo reload` applied to the back end (env-file format); `up` resets it
    RUN_DIR/nginx/applied.conf  nginx snippets `demo reload` merged into the server block; `up` resets it

`down` stops exactly the processes `up` recorded, checking each pid's start time so that a reused pid is
never signalled. `reload` (Stack.apply_changes) makes the running stack use what `perfadvisor apply` wrote.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from advisor.stack.config import (
    BACKEND_READY_TIMEOUT_S,
    SERVICES,
    Echo,
    Ports,
    StackConfig,
    StackError,
    Urls,
    urls,
)
from advisor.stack.prereq import ensure, requirements
from advisor.stack.procs import Proc, _answers, _http_get, _port_free, _spawn, _tail, _wait_port

# ---------------------------------------------------------------------------------------------------------
# Builds


def _run_step(argv: list[str], cwd: Path, log: Path, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        res = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if res.returncode != 0:
        raise StackError(f"{what} failed (exit {res.returncode}); last lines of {log}:\n{_tail(log, 25)}")


def build_backend(cfg: StackConfig, echo: Echo, logs: Path, run_tests: bool = False) -> None:
    backend = cfg.source_dir / "backend"
    echo(f"  building the back end: mvn -q package{'' if run_tests else ' -DskipTests'} (the first run downloads "
         "dependencies: a few minutes)")
    argv = ["mvn", "-q", "-B", "package"] + ([] if run_tests else ["-DskipTests"])
    _run_step(argv, backend, logs / "build-backend.log", "mvn package")


def build_frontend(cfg: StackConfig, echo: Echo, logs: Path) -> None:
    front = cfg.source_dir / "frontend"
    echo("  building the front end: npm ci && npm run build")
    _run_step(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], front, logs / "build-frontend.log",
              "npm ci")
    _run_step(["npm", "run", "build"], front, logs / "build-frontend.log", "npm run build")


# ---------------------------------------------------------------------------------------------------------
# State


@dataclass
class State:
    ports: Ports
    scale: float
    procs: dict[str, Proc] = field(default_factory=dict)
    postgres_datadir: str | None = None
    #: StackConfig.backend_env of `up`, so that a restart by another command (demo reload) keeps it.
    backend_env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"ports": asdict(self.ports), "scale": self.scale,
                           "procs": {k: asdict(v) for k, v in self.procs.items()},
                           "postgres_datadir": self.postgres_datadir, "backend_env": self.backend_env}, indent=2)

    @classmethod
    def load(cls, path: Path) -> State | None:
        try:
            raw = json.loads(path.read_text())
            return cls(ports=Ports(**raw["ports"]), scale=raw["scale"],
                       procs={k: Proc(**v) for k, v in raw["procs"].items()},
                       postgres_datadir=raw.get("postgres_datadir"), backend_env=dict(raw.get("backend_env") or {}))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as e:
            raise StackError(f"{path} is unreadable ({e}); stop leftover processes by hand and remove it") from e


def _secret(run_dir: Path, name: str) -> str:
    """A password generated once per run directory, kept in RUN_DIR/secrets/NAME (mode 0600)."""
    d = run_dir / "secrets"
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    f = d / name
    if not f.exists():
        fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24))
    return f.read_text().strip()


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, as pg's scram_build_secret)."""
    import base64
    import hashlib
    import hmac

    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"


# ---------------------------------------------------------------------------------------------------------
# The stack


class Stack:
    """The native sample stack in one run directory. Not thread-safe; one `up` per run directory."""

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = replace(cfg, run_dir=Path(cfg.run_dir).resolve(), source_dir=Path(cfg.source_dir).resolve())
        self.run_dir = self.cfg.run_dir
        self.logs = self.run_dir / "logs"
        self.state_file = self.run_dir / "state.json"
        self.applied_env_file = self.run_dir / "backend.env"
        self.applied_nginx_file = self.run_dir / "nginx" / "applied.conf"

    # -- helpers -----------------------------------------------------------------------------------------

    def _save(self, state: State) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(self.state_file)

    def db_password(self) -> str:
        return _secret(self.run_dir, "postgres-shop-password")

    def redis_password(self) -> str:
        return _secret(self.run_dir, "redis-password")

    def _cluster(self, ports: Ports):
        from advisor.pgcluster import TempCluster

        return TempCluster(self.run_dir / "pgdata", ports.postgres,
                           extra_conf={"max_connections": "60", "log_min_duration_statement": "-1",
                                       "track_io_timing": "on"})

    # -- up ----------------------------------------------------------------------------------------------

    def up(self, echo: Echo = print) -> Urls:
        """Builds what is missing and starts every service; returns their URLs.

        Raises StackError (after stopping what it had started) when a tool is missing, a port is taken or
        a service fails to start.
        """
        cfg = self.cfg
        started_at = time.monotonic()
        if not (cfg.source_dir / "backend" / "pom.xml").exists():
            raise StackError(f"{cfg.source_dir} has no backend/pom.xml: run from a perfadvisor source checkout "
                             "or pass --source")
        old = State.load(self.state_file)
        if old and any(p.alive() for p in old.procs.values()):
            raise StackError(f"the stack in {self.run_dir} is already running (perfadvisor demo status); "
                             "run `perfadvisor demo down` first")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        _check_service_users_can_enter(self.run_dir)
        self._reset_applied(echo)

        step = _Steps(echo, 7)
        step("checking prerequisites")
        ensure(requirements(cfg), cfg, echo)
        busy = [f"{name} {port}" for name, port in asdict(cfg.ports).items() if not _port_free(port)]
        if busy:
            raise StackError(f"ports in use on 127.0.0.1: {', '.join(busy)} (another stack? `perfadvisor demo "
                             "status`, or choose other ports with --port-offset)")

        step("building what is missing")
        if cfg.build and cfg.backend_stale():
            build_backend(cfg, echo, self.logs)
        if cfg.build and cfg.frontend_stale():
            build_frontend(cfg, echo, self.logs)
        for what, path in (("back-end jar", cfg.jar), ("front-end build", cfg.dist / "index.html")):
            if not path.exists():
                raise StackError(f"the {what} is missing ({path}) and --no-build was given")

        state = State(ports=cfg.ports, scale=cfg.scale, backend_env=dict(cfg.backend_env))
        try:
            step(f"postgres on 127.0.0.1:{cfg.ports.postgres}")
            self._start_postgres(state, echo)
            step(f"redis on 127.0.0.1:{cfg.ports.redis}")
            self._start_redis(state)
            step(f"back end on 127.0.0.1:{cfg.ports.backend} (actuator on {cfg.ports.management})")
            self._start_backend(state)
            step("worker")
            self._start_worker(state)
            step(f"nginx on 127.0.0.1:{cfg.ports.nginx}")
            self._start_nginx(state)
        except BaseException:
            echo("start-up failed: stopping what was started")
            self._stop(state, echo=lambda s: None, purge=False)
            raise
        echo(f"stack up in {time.monotonic() - started_at:.0f} s; logs in {self.logs}")
        return urls(cfg.ports)

    def _start_postgres(self, state: State, echo: Echo) -> None:
        cluster = self._cluster(state.ports)
        fresh = not (cluster.datadir / "PG_VERSION").exists()
        cluster.init()
        if fresh:
            # The app role authenticates with its password (as in production); the superuser used by
            # perfadvisor and the seed keeps trust on loopback. First match wins in pg_hba.conf.
            hba = cluster.datadir / "pg_hba.conf"
            hba.write_text("host shop shop 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        state.postgres_datadir = str(cluster.datadir)
        self._save(state)
        cluster.start()
        cluster.wait_ready()
        seeded = cluster.datadir.parent / "pgdata.seeded"
        if seeded.exists() and seeded.read_text().strip() == self._seed_key():
            echo(f"  database already seeded at scale {self.cfg.scale}")
        else:
            self._seed(cluster, echo)
            seeded.write_text(self._seed_key())
        # The planted problems are judged from statistics of this run, not of the seed.
        self._psql(cluster.dsn("shop"), "-c", "SELECT pg_stat_statements_reset()")

    def _seed_key(self) -> str:
        """Scale and a hash of the schema/seed files: either changing means the database is reseeded."""
        import hashlib

        h = hashlib.sha256()
        for f in ("01-schema.sql", "02-seed.sql", "03-constraints.sql"):
            h.update((self.cfg.source_dir / "postgres" / f).read_bytes())
        return f"scale={self.cfg.scale!r} sql={h.hexdigest()[:16]}"

    def _psql(self, dsn: str, *args: str, env: dict[str, str] | None = None) -> None:
        res = subprocess.run(["psql", dsn, "-q", "-X", "-v", "ON_ERROR_STOP=1", *args], capture_output=True,
                             text=True, env={**os.environ, **(env or {})})
        if res.returncode != 0:
            raise StackError(f"psql failed: {res.stderr.strip()[-800:]}")

    def _seed(self, cluster, echo: Echo) -> None:
        pg = self.cfg.source_dir / "postgres"
        t0 = time.monotonic()
        echo(f"  seeding at scale {self.cfg.scale} (SF 1 takes about 20 s)")
        admin = cluster.dsn("postgres")
        self._psql(admin, "-c", "DROP DATABASE IF EXISTS shop")
        # Only the SCRAM verifier is sent, so the password is in no statement, log or pg_stat_statements row.
        self._psql(admin, "-c", "DROP ROLE IF EXISTS shop")
        self._psql(admin, "-c", f"CREATE ROLE shop LOGIN PASSWORD '{scram_verifier(self.db_password())}'")
        self._psql(admin, "-c", "CREATE DATABASE shop OWNER shop")
        shop_admin = cluster.dsn("shop")
        self._psql(shop_admin, "-c", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                                     "CREATE EXTENSION IF NOT EXISTS hypopg")
        # Tables belong to the app role, as they would in production.
        role_env = {"PGOPTIONS": "-c role=shop"}
        for f in ("01-schema.sql", "02-seed.sql", "03-constraints.sql"):
            self._psql(shop_admin, "-v", f"scale={self.cfg.scale}", "-f", str(pg / f), env=role_env)
        echo(f"  seeded in {time.monotonic() - t0:.0f} s")

    def _start_redis(self, state: State) -> None:
        ports = state.ports
        data = self.run_dir / "redis"
        data.mkdir(exist_ok=True)
        base = (self.cfg.source_dir / "redis" / "redis.conf").read_text()
        conf = self.run_dir / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base.replace("bind 0.0.0.0", "bind 127.0.0.1").replace("port 6379", f"port {ports.redis}"))
            f.write(f'\ndir "{data}"\ndaemonize no\nrequirepass "{self.redis_password()}"\n')
        proc = _spawn("redis", ["redis-server", str(conf)], self.logs / "redis.log", dict(os.environ))
        state.procs["redis"] = proc
        self._save(state)
        _wait_port(ports.redis, proc, self.logs / "redis.log", 15, "redis-server")

    def backend_env(self, ports: Ports, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The back end's environment: the stack's, then `extra` (default: StackConfig.backend_env), then what
        `demo reload` applied (RUN_DIR/backend.env)."""
        return {
            "SPRING_DATASOURCE_URL": f"jdbc:postgresql://127.0.0.1:{ports.postgres}/shop?ApplicationName=shop-backend",
            "SPRING_DATASOURCE_USERNAME": "shop",
            "SPRING_DATASOURCE_PASSWORD": self.db_password(),
            "SPRING_DATA_REDIS_HOST": "127.0.0.1",
            "SPRING_DATA_REDIS_PORT": str(ports.redis),
            "SPRING_DATA_REDIS_PASSWORD": self.redis_password(),
            "SERVER_PORT": str(ports.backend),
            "MANAGEMENT_SERVER_PORT": str(ports.management),
            **(self.cfg.backend_env if extra is None else extra),
            **self.applied_env(),
        }

    def applied_env(self) -> dict[str, str]:
        """The settings `demo reload` applied to the back end ({} when none)."""
        from advisor.envfile import parse_env_file

        return parse_env_file(self.applied_env_file) if self.applied_env_file.exists() else {}

    def _start_backend(self, state: State) -> None:
        ports = state.ports
        env = {**os.environ, **self.backend_env(ports, state.backend_env)}
        argv = ["java", f"-Xmx{self.cfg.backend_heap_mb}m", "-XX:+UseParallelGC", "-jar", str(self.cfg.jar)]
        log = self.logs / "backend.log"
        proc = _spawn("backend", argv, log, env, cwd=self.run_dir)
        state.procs["backend"] = proc
        self._save(state)
        ready = f"http://127.0.0.1:{ports.management}/actuator/health/readiness"
        deadline = time.monotonic() + BACKEND_READY_TIMEOUT_S
        while True:
            if not proc.alive():
                raise StackError(f"the back end exited during start-up; last lines of {log}:\n{_tail(log)}")
            try:
                status, _ = _http_get(ready, 2)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise StackError(f"the back end was not ready within {BACKEND_READY_TIMEOUT_S:.0f} s; see {log}")
            time.sleep(0.5)

    def worker_env(self, ports: Ports) -> dict[str, str]:
        return {"PGHOST": "127.0.0.1", "PGPORT": str(ports.postgres), "PGDATABASE": "shop", "PGUSER": "shop",
                "PGPASSWORD": self.db_password(), "SHOP_REDIS_HOST": "127.0.0.1",
                "SHOP_REDIS_PORT": str(ports.redis), "SHOP_REDIS_PASSWORD": self.redis_password(),
                "PYTHONUNBUFFERED": "1"}

    def _start_worker(self, state: State) -> None:
        env = {**os.environ, **self.worker_env(state.ports)}
        script = self.cfg.source_dir / "worker" / "shop_worker.py"
        log = self.logs / "worker.log"
        proc = _spawn("worker", [sys.executable, str(script)], log, env)
        state.procs["worker"] = proc
        self._save(state)
        deadline = time.monotonic() + 20
        while "consuming" not in _tail(log, 50):
            if not proc.alive():
                raise StackError(f"the worker exited during start-up; last lines of {log}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise StackError(f"the worker did not start consuming within 20 s; see {log}")
            time.sleep(0.2)

    def nginx_conf(self, ports: Ports, snippet: str | None = None, snippet_name: str | None = None) -> str:
        """A complete nginx.conf around compose/nginx/default.conf.template, everything under the run dir, with
        `snippet` (default: what `demo reload` applied, RUN_DIR/nginx/applied.conf) merged into its server block
        (advisor.nginxconf). Raises ConfigError when the snippet cannot be parsed."""
        from advisor.nginxconf import merge_server_snippet

        template = self.cfg.source_dir / "nginx" / "default.conf.template"
        server = (template.read_text().replace("${NGINX_LISTEN}", f"127.0.0.1:{ports.nginx}")
                  .replace("${NGINX_STATIC_ROOT}", str(self.run_dir / "www"))
                  .replace("${NGINX_BACKEND}", f"127.0.0.1:{ports.backend}"))
        if snippet is None and self.applied_nginx_file.exists():
            snippet = self.applied_nginx_file.read_text()
        if snippet:
            server = merge_server_snippet(server, snippet, str(template), snippet_name or str(self.applied_nginx_file))
        tmp = self.run_dir / "nginx"
        # As root, workers run as nobody (never as root); they only read the build and write temp files.
        user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
        return (f"{user}worker_processes 1;\ndaemon off;\npid {tmp}/nginx.pid;\n"
                f"error_log {self.logs}/nginx-error.log warn;\n"
                "events { worker_connections 1024; }\n"
                "http {\n"
                "    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
                f"    access_log {self.logs}/nginx-access.log;\n"
                "    sendfile on;\n    keepalive_timeout 65;\n"
                + "".join(f"    {d}_temp_path {tmp}/{d};\n"
                          for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
                + server + "}\n")

    def _start_nginx(self, state: State) -> None:
        tmp = self.run_dir / "nginx"
        tmp.mkdir(exist_ok=True)
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / d).mkdir(exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(tmp / d, "nobody", "nogroup")
        # A copy of the build under the run directory, which nginx's workers can read wherever the checkout is.
        www = self.run_dir / "www"
        shutil.rmtree(www, ignore_errors=True)
        shutil.copytree(self.cfg.dist, www)
        os.chmod(www, 0o755)
        conf = tmp / "nginx.conf"
        conf.write_text(self.nginx_conf(state.ports))
        log = self.logs / "nginx.log"
        test = subprocess.run(["nginx", "-t", "-q", "-c", str(conf), "-p", str(tmp)], capture_output=True, text=True)
        if test.returncode != 0:
            raise StackError(f"nginx rejected {conf}: {test.stderr.strip()}")
        proc = _spawn("nginx", ["nginx", "-c", str(conf), "-p", str(tmp)], log, dict(os.environ))
        state.procs["nginx"] = proc
        self._save(state)
        _wait_port(state.ports.nginx, proc, log, 10, "nginx")

    # -- reload: what `perfadvisor apply` wrote, on the running stack ------------------------------------

    def apply_changes(self, apply_dir: Path, echo: Echo = print) -> dict:
        """Makes the running stack use an apply directory's settings (`perfadvisor apply --out DIR`):

        - redis.conf: each `name value` line by CONFIG SET on the running Redis;
        - nginx.conf: the snippets merged into the server block (advisor.nginxconf), `nginx -t`, then a reload
          (SIGHUP to the master), waiting until new workers serve;
        - spring.env: the back end restarted with those variables on top of its environment (kept in
          RUN_DIR/backend.env, so a later restart keeps them), waiting for readiness.

        migration.sql is not run (`perfadvisor apply --execute` and `validate` run it). A missing file means
        nothing to apply for that service. Everything is checked before anything changes (the env file parsed,
        the merged nginx.conf tested); a change that fails later undoes the ones made before it.

        Returns {service: {"applied": [lines] | "skipped": why, …}} for redis, nginx, backend and postgres.
        Raises StackError (one line naming the file and line) when the directory is missing, the stack does
        not run, Redis refuses a line, nginx rejects the merged configuration or the back end does not start
        with the new settings; InputFileError for a malformed spring.env; the stack then runs as before.
        """
        apply_dir = Path(apply_dir)
        files = {n: apply_dir / n for n in ("spring.env", "redis.conf", "nginx.conf", "migration.sql")}
        if not apply_dir.is_dir():
            raise StackError(f"apply directory {apply_dir}: not found (write one with `perfadvisor apply REPORT "
                             "--out DIR`)")
        if not any(f.exists() for f in files.values()) and not (apply_dir / "apply.json").exists():
            raise StackError(f"apply directory {apply_dir}: no apply.json, spring.env, redis.conf or nginx.conf "
                             "in it (write one with `perfadvisor apply REPORT --out DIR`)")
        state = self._running_state(("redis", "backend", "nginx"))
        env = self._parse_spring_env(files["spring.env"])
        redis_lines = _redis_conf_lines(files["redis.conf"]) if files["redis.conf"].exists() else []
        nginx_new = self._test_nginx(state, files["nginx.conf"]) if files["nginx.conf"].exists() else None

        result: dict[str, dict] = {}
        undo: list = []
        try:
            result["redis"] = self._apply_redis(state, files["redis.conf"], redis_lines, echo, undo) \
                if redis_lines else {"skipped": f"no redis.conf in {apply_dir}" if not files["redis.conf"].exists()
                                     else f"{files['redis.conf']} has no setting"}
            result["nginx"] = self._apply_nginx(state, files["nginx.conf"], nginx_new, echo, undo) \
                if nginx_new else {"skipped": f"no nginx.conf in {apply_dir}" if not files["nginx.conf"].exists()
                                   else f"{files['nginx.conf']} has no directive"}
            result["backend"] = self.restart_backend(env, echo) if env else \
                {"skipped": f"no spring.env in {apply_dir}" if env is None else f"{files['spring.env']} is empty"}
        except BaseException:
            for step in reversed(undo):
                step()
            raise
        result["postgres"] = {"skipped": "migration.sql is not run here: `perfadvisor apply --execute --pg DSN` "
                                         "(or validate --execute) runs it" if files["migration.sql"].exists()
                              else f"no migration.sql in {apply_dir}"}
        return result

    def restart_backend(self, extra_env: dict[str, str] | None = None, echo: Echo = print) -> dict:
        """Restarts the back end with `extra_env` added to the settings applied so far (RUN_DIR/backend.env) and
        waits for readiness. Unchanged settings mean no restart. If it does not start, the previous settings
        are restored and it is started with them again; then StackError says why.
        Returns {"applied": ["KEY=VALUE", …], "restarted": bool, "ready_s": float}."""
        from advisor.envfile import format_env_line

        state = self._running_state(("backend",))
        before = self.applied_env()
        after = {**before, **(extra_env or {})}
        lines = [f"{k}={v}" for k, v in (extra_env or {}).items()]
        if after == before and state.procs["backend"].alive():
            echo("  back end already runs with these settings")
            return {"applied": lines, "restarted": False, "ready_s": 0.0}
        self._write_private(self.applied_env_file,
                            "# Settings `perfadvisor demo reload` applied to the back end (env-file format).\n"
                            + "".join(format_env_line(k, v) + "\n" for k, v in after.items()))
        t0 = time.monotonic()
        try:
            self._restart_backend_proc(state, echo)
        except StackError as e:
            self._write_private(self.applied_env_file, "".join(format_env_line(k, v) + "\n" for k, v in before.items()))
            echo("  the back end did not start with the new settings: restarting it with the previous ones")
            self._restart_backend_proc(state, echo)
            raise StackError(f"the back end did not start with {', '.join(lines)} (restarted with the previous "
                             f"settings): {str(e).splitlines()[0]}") from None
        ready_s = time.monotonic() - t0
        for ln in lines:
            echo(f"  backend: {ln}")
        return {"applied": lines, "restarted": True, "ready_s": round(ready_s, 1)}

    def _restart_backend_proc(self, state: State, echo: Echo) -> None:
        proc = state.procs.get("backend")
        if proc and proc.stop(signal.SIGTERM):
            echo(f"  stopped the back end (pid {proc.pid})")
        self._start_backend(state)

    def _running_state(self, needed: tuple[str, ...]) -> State:
        state = State.load(self.state_file)
        down = [n for n in needed if not (state and state.procs.get(n) and state.procs[n].alive())]
        if state is None or down:
            raise StackError(f"the stack in {self.run_dir} is not running ({', '.join(down) or 'nothing'} "
                             "stopped): start it with `perfadvisor demo up`")
        return state

    @staticmethod
    def _parse_spring_env(path: Path) -> dict[str, str] | None:
        from advisor.envfile import parse_env_file

        return parse_env_file(path) if path.exists() else None

    def _test_nginx(self, state: State, snippet_file: Path) -> str | None:
        """The accumulated snippet (applied so far + snippet_file) when nginx -t accepts the configuration it
        makes, None when snippet_file holds no directive. Raises StackError when nginx rejects it."""
        from advisor.nginxconf import parse

        text = snippet_file.read_text(encoding="utf-8", errors="replace")
        if not parse(text, str(snippet_file)):
            return None
        old = self.applied_nginx_file.read_text() if self.applied_nginx_file.exists() else ""
        snippet = (old + "\n" + text) if old else text
        conf = self.run_dir / "nginx" / "nginx.conf.new"
        conf.write_text(self.nginx_conf(state.ports, snippet, str(snippet_file)))
        try:
            test = subprocess.run(["nginx", "-t", "-q", "-c", str(conf), "-p", str(conf.parent)],
                                  capture_output=True, text=True)
        finally:
            conf.unlink(missing_ok=True)
        if test.returncode != 0:
            why = next((ln for ln in test.stderr.splitlines() if "emerg" in ln or "error" in ln),
                       test.stderr.strip().splitlines()[0] if test.stderr.strip() else f"exit {test.returncode}")
            raise StackError(f"nginx -t rejects {snippet_file} merged into the server block ({why.strip()}); "
                             "nginx still runs with its previous configuration")
        return snippet

    def _apply_redis(self, state: State, path: Path, lines: list[tuple[int, str, str]], echo: Echo,
                     undo: list) -> dict:
        import redis

        r = redis.Redis(host="127.0.0.1", port=state.ports.redis, password=self.redis_password(),
                        socket_timeout=5, decode_responses=True)
        done: list[tuple[str, str]] = []

        def restore() -> None:
            for name, value in reversed(done):
                r.config_set(name, value)

        applied = []
        try:
            for no, name, value in lines:
                old = r.config_get(name).get(name)
                try:
                    r.config_set(name, value)
                except redis.ResponseError as e:
                    restore()
                    raise StackError(f"{path}:{no}: Redis refused `{name} {value}` ({e}); no Redis setting was "
                                     "changed") from None
                if old is not None:
                    done.append((name, old))
                applied.append(f"{name} {value}")
                echo(f"  redis: CONFIG SET {name} {value}")
        except redis.RedisError as e:
            restore()
            raise StackError(f"Redis on 127.0.0.1:{state.ports.redis}: {e}") from None
        undo.append(restore)
        return {"applied": applied}

    def _apply_nginx(self, state: State, path: Path, snippet: str, echo: Echo, undo: list) -> dict:
        from advisor.nginxconf import parse

        tmp = self.run_dir / "nginx"
        conf = tmp / "nginx.conf"
        previous_conf = conf.read_text()
        previous_applied = self.applied_nginx_file.read_text() if self.applied_nginx_file.exists() else None
        master = state.procs["nginx"]

        def restore() -> None:
            conf.write_text(previous_conf)
            if previous_applied is None:
                self.applied_nginx_file.unlink(missing_ok=True)
            else:
                self.applied_nginx_file.write_text(previous_applied)
            _reload_nginx(master, urls(state.ports).frontend, self.logs / "nginx-error.log")

        self.applied_nginx_file.write_text(snippet)
        conf.write_text(self.nginx_conf(state.ports))
        try:
            _reload_nginx(master, urls(state.ports).frontend, self.logs / "nginx-error.log")
        except StackError:
            restore()
            raise
        undo.append(restore)
        names = [" ".join(n.words[:3]) if n.name == "location" else n.name
                 for n in parse(path.read_text(encoding="utf-8", errors="replace"), str(path))]
        echo(f"  nginx: reloaded with {', '.join(names)}")
        return {"applied": names}

    def _reset_applied(self, echo: Echo) -> None:
        """`up` starts the stack as shipped: settings an earlier `demo reload` applied are dropped."""
        gone = [f for f in (self.applied_env_file, self.applied_nginx_file) if f.exists()]
        for f in gone:
            f.unlink()
        if gone:
            echo("  settings applied by an earlier `demo reload` were reset: the stack starts as shipped")

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    # -- down / status -----------------------------------------------------------------------------------

    def down(self, echo: Echo = print, purge: bool = False) -> list[str]:
        """Stops what `up` started (in reverse order); returns the names of those that were running."""
        state = State.load(self.state_file)
        if state is None:
            echo(f"nothing to stop: no stack state in {self.run_dir}")
            if purge and self.run_dir.exists():
                shutil.rmtree(self.run_dir)
            return []
        return self._stop(state, echo, purge)

    def _stop(self, state: State, echo: Echo, purge: bool) -> list[str]:
        stopped = []
        for name in ("nginx", "worker", "backend", "redis"):
            proc = state.procs.get(name)
            if proc and proc.stop(signal.SIGQUIT if name == "nginx" else signal.SIGTERM):
                stopped.append(name)
                echo(f"stopped {name} (pid {proc.pid})")
        if state.postgres_datadir:
            cluster = self._cluster(state.ports)
            if cluster.running():
                cluster.stop()
                stopped.append("postgres")
                echo("stopped postgres")
        state.procs.clear()
        if purge:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            echo(f"removed {self.run_dir}")
        else:
            self._save(State(ports=state.ports, scale=state.scale, postgres_datadir=state.postgres_datadir))
        return stopped

    def status(self) -> dict:
        """Each service: running or not, pid, and for the HTTP ones whether they answer."""
        state = State.load(self.state_file)
        if state is None:
            return {"run_dir": str(self.run_dir), "running": False, "services": {}}
        u = urls(state.ports)
        services: dict[str, dict] = {}
        for name in SERVICES:
            if name == "postgres":
                up = bool(state.postgres_datadir) and self._cluster(state.ports).running()
                services[name] = {"running": up, "port": state.ports.postgres, "dsn": u.postgres_dsn}
                continue
            proc = state.procs.get(name)
            services[name] = {"running": bool(proc and proc.alive()), "pid": proc.pid if proc else None}
        services["redis"]["port"] = state.ports.redis
        services["backend"].update(port=state.ports.backend, url=u.api,
                                   ready=_answers(f"{u.actuator}/health/readiness"))
        services["nginx"].update(port=state.ports.nginx, url=u.frontend, ready=_answers(u.frontend))
        applied = {"backend_env": self.applied_env(),
                   "nginx_snippet": str(self.applied_nginx_file) if self.applied_nginx_file.exists() else None}
        return {"run_dir": str(self.run_dir), "scale": state.scale,
                "running": any(s["running"] for s in services.values()), "services": services, "applied": applied,
                "urls": asdict(u), "secrets_dir": str(self.run_dir / "secrets")}


def _check_service_users_can_enter(run_dir: Path) -> None:
    """As root, PostgreSQL runs as `postgres` and nginx's workers as `nobody`: both must reach RUN_DIR."""
    if os.geteuid() != 0:
        return
    for user in ("postgres", "nobody"):
        res = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(run_dir)], capture_output=True)
        if res.returncode != 0:
            raise StackError(f"the {user} OS user cannot enter {run_dir} (a parent directory is private, like "
                             "/root): choose --run-dir under a directory it can reach, e.g. /tmp/perfadvisor-stack")


def _redis_conf_lines(path: Path) -> list[tuple[int, str, str]]:
    """(line number, name, value) of each setting in a redis.conf; a value in quotes is unquoted. Raises
    StackError naming the line for a name without a value."""
    out = []
    for no, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if not value:
            raise StackError(f"{path}:{no}: `{line[:60]}` has no value (expected `name value`, e.g. maxmemory 256mb)")
        out.append((no, name.lower(), value))
    return out


def _children(pid: int) -> set[int]:
    """Pids whose parent is pid (from /proc/*/stat)."""
    out = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.add(int(d.name))
    return out


#: How long nginx may take to start workers with a new configuration before the reload counts as failed
#: (nginx docs, "Controlling nginx": on HUP the master checks the configuration, starts new workers and asks
#: the old ones to shut down gracefully). Milliseconds here; the margin is for a loaded machine.
NGINX_RELOAD_TIMEOUT_S = 15.0


def _reload_nginx(master: Proc, url: str, error_log: Path) -> None:
    """SIGHUP to nginx's master, then wait until it has started new workers (it does so only once the new
    configuration is loaded; old ones finish their requests and exit on their own) and `url` answers.
    Raises StackError (with the error log's tail) when the master is gone or starts no new worker (it logged
    why it could not load the new configuration)."""
    if not master.alive():
        raise StackError("nginx is not running: start the stack with `perfadvisor demo up`")
    old = _children(master.pid)
    os.kill(master.pid, signal.SIGHUP)
    deadline = time.monotonic() + NGINX_RELOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        now = _children(master.pid)
        if now - old and _answers(url):
            return
        time.sleep(0.1)
    raise StackError(f"nginx did not reload within {NGINX_RELOAD_TIMEOUT_S:.0f} s; last lines of {error_log}:\n"
                     f"{_tail(error_log, 5)}")


class _Steps:
    """Prints numbered progress lines with the time each step took."""

    def __init__(self, echo: Echo, total: int) -> None:
        self.echo, self.total, self.n, self.t = echo, total, 0, time.monotonic()

    def __call__(self, what: str) -> None:
        self.n += 1
        self.echo(f"[{self.n}/{self.total} · {time.monotonic() - self.t:.0f} s] {what}")
