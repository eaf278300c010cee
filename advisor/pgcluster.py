"""A throwaway PostgreSQL cluster on a loopback port, for the bundled samples and the tests.

It is created with initdb in a directory of ours, runs with pg_stat_statements preloaded, and is removed
by stop(remove=True). PostgreSQL refuses to run as root, so when we are root the server programs run as
the `postgres` OS user through runuser.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

from advisor.errors import TargetError


def pg_bindir(version: str = "15") -> Path:
    """The directory of initdb/pg_ctl for PostgreSQL `version`; TargetError naming the fix when absent."""
    for cand in [f"/usr/lib/postgresql/{version}/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if os.path.exists(os.path.join(cand, "initdb")):
            return Path(cand)
    raise TargetError(f"PostgreSQL {version} server programs not found under /usr/lib/postgresql "
                      f"(install them: apt-get install postgresql-{version} postgresql-{version}-hypopg)")


class TempCluster:
    """A PostgreSQL cluster in `datadir`, listening on 127.0.0.1:`port`.

    preload: shared_preload_libraries (default pg_stat_statements). dsn(db) gives a libpq URL for the
    superuser `postgres` (trust authentication on loopback: this cluster is throwaway).
    """

    def __init__(self, datadir: str | Path, port: int, preload: str = "pg_stat_statements",
                 extra_conf: dict[str, str] | None = None) -> None:
        self.datadir = Path(datadir).resolve()
        self.port = port
        self.preload = preload
        self.extra_conf = extra_conf or {}
        self.bindir = pg_bindir()
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    @property
    def logfile(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def init(self) -> None:
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            shutil.chown(self.datadir.parent, "postgres")
        if (self.datadir / "PG_VERSION").exists():
            return
        if self._as_root and self._run("test", "-w", str(self.datadir.parent), check=False).returncode != 0:
            raise TargetError(f"{self.datadir.parent}: the postgres OS user cannot write there (a parent "
                              "directory is private to root); choose a directory under /tmp or /var/tmp")
        res = self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--no-sync", "--locale=C", check=False)
        if res.returncode != 0:
            raise TargetError(f"initdb {self.datadir} failed: {(res.stderr or res.stdout).strip()[-400:]}")
        conf = {"listen_addresses": "'127.0.0.1'", "port": str(self.port),
                "unix_socket_directories": f"'{self.datadir}'", "fsync": "off",
                "synchronous_commit": "off", "full_page_writes": "off", "shared_buffers": "'256MB'",
                "max_connections": "100", "pg_stat_statements.track": "top",
                **({"shared_preload_libraries": f"'{self.preload}'"} if self.preload else {}),
                **self.extra_conf}
        with open(self.datadir / "postgresql.auto.conf", "a", encoding="utf-8") as f:
            f.write("".join(f"{k} = {v}\n" for k, v in conf.items()))

    def port_in_use(self) -> bool:
        import socket
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop_command(self) -> str:
        """The shell command that stops this cluster (through runuser when we are root)."""
        cmd = f"{self.bindir / 'pg_ctl'} -D {self.datadir} stop"
        return f"runuser -u postgres -- {cmd}" if self._as_root else cmd

    def start(self, timeout_s: float = 30) -> None:
        """Start the server (initdb first if needed). TargetError when the port is taken or it fails."""
        if not (self.datadir / "postmaster.pid").exists() and self.port_in_use():
            raise TargetError(f"port {self.port} on 127.0.0.1 is already in use; choose another port")
        self.init()
        if self._as_root:
            self.logfile.touch()
            shutil.chown(self.logfile, "postgres")
        res = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                        "-w", "-t", str(int(timeout_s)), "start", check=False)
        if res.returncode != 0:
            tail = self.logfile.read_text(errors="replace")[-800:] if self.logfile.exists() else res.stderr
            raise TargetError(f"PostgreSQL in {self.datadir} did not start on port {self.port}: {tail.strip()}")

    def running(self) -> bool:
        return self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status", check=False).returncode == 0

    def stop(self, remove: bool = False) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop", check=False)
        if remove:
            shutil.rmtree(self.datadir, ignore_errors=True)
            self.logfile.unlink(missing_ok=True)

    def wait_ready(self, timeout_s: float = 30) -> None:
        import psycopg
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
