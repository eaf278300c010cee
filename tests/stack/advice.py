"""`perfadvisor analyze` with every sampling target against a running sample stack under Locust load: the
Actuator, Redis (with its password), the database and the worker's py-spy profile, in one window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from advisor.cli import cli

from .load import LOAD_USERS, LOCUSTFILE

WARMUP_S = 8
SAMPLE_S = 25


@dataclass
class Advice:
    report: dict
    snapshot: dict
    output: str
    exit_code: int
    out: Path
    locust_rc: int

    def findings(self, rule: str) -> list[dict]:
        return [f for f in self.report["findings"] if f["rule"] == rule]


def redis_url(stack) -> str:
    return f"redis://:{stack.stack.redis_password()}@127.0.0.1:{stack.ports.redis}/0"


def analyze_under_load(stack, out: Path, sample_s: int = SAMPLE_S) -> Advice:
    """Starts the workload, lets it warm up, runs `perfadvisor analyze` with a `sample_s` window while the
    load goes on, then waits for Locust to finish."""
    env = {**os.environ, "SHOP_SCALE": str(stack.scale), "SHOP_THINK_SCALE": "0.04"}
    total_s = WARMUP_S + sample_s + 30  # the window, plus the database analysis that follows it
    locust = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(LOAD_USERS), "-r", "20",
         "-t", f"{total_s}s", "--host", stack.urls.frontend.rstrip("/"), "--only-summary", "--stop-timeout", "5"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        time.sleep(WARMUP_S)
        res = CliRunner().invoke(cli, [
            "analyze", "--pg", stack.admin_dsn, "--actuator", stack.urls.actuator, "--redis", redis_url(stack),
            "--py-spy", str(stack.proc_pid("worker")), "--sample", f"{sample_s}s", "--out", str(out)])
    finally:
        try:
            rc = locust.wait(timeout=total_s + 60)
        except subprocess.TimeoutExpired:
            locust.kill()
            rc = -9
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {"findings": []}
    snapshot = json.loads((out / "snapshot.json").read_text()) if (out / "snapshot.json").exists() else {}
    return Advice(report, snapshot, res.output, res.exit_code, out, rc)
