"""`perfadvisor demo postgres`: the pgshop sample end to end on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from advisor import run as run_mod
from advisor.config import Settings
from advisor.pgcluster import TempCluster
from sample_workloads.pgshop import workload


def run_demo(out_dir: Path, workdir: Path | None, port: int, scale: float, keep: bool,
             echo: Callable[[str], None] = print, iterations: int = 600) -> run_mod.Outcome:
    """Start a cluster in workdir (default: a new directory under /tmp, which the postgres OS user can
    reach when we run as root), load pgshop at `scale`, run the workload, analyse it into out_dir."""
    own_workdir = workdir is None
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="perfadvisor-demo-"))
        os.chmod(workdir, 0o755)
    cluster = TempCluster(workdir / "data", port)
    t0 = time.monotonic()
    echo(f"starting PostgreSQL on 127.0.0.1:{port} in {workdir} …")
    try:
        cluster.start()
    except Exception:
        cluster.stop(remove=True)
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'pgshop'").fetchone():
                conn.execute("CREATE DATABASE pgshop")
                fresh = True
            else:
                fresh = False
        dsn = cluster.dsn("pgshop")
        if fresh:
            echo(f"loading the pgshop sample (scale {scale:g}) …")
            workload.load(dsn, scale)
        echo(f"running the workload ({iterations} queries over 4 connections) …")
        workload.run(dsn, scale, iterations=iterations)
        echo(f"analysing (setup took {time.monotonic() - t0:.0f} s) …")
        outcome = run_mod.analyze_command(Settings(targets={"postgres": {"dsn": dsn}}), out_dir, None, echo)
        if keep:
            echo(f"cluster left running: {dsn} (stop it with: {cluster.stop_command()})")
        return outcome
    finally:
        if not keep:
            cluster.stop(remove=True)
            if own_workdir:
                shutil.rmtree(workdir, ignore_errors=True)
