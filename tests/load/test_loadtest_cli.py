"""`perfadvisor loadtest` as a user runs it: user mistakes are one line and exit 2; Ctrl-C keeps what was
recorded; --master/--worker on separate processes; a worker lost mid-run makes the run invalid (LOAD002)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.load import rundir as rd

from .conftest import BROKEN_LOCUSTFILE, DEAD_PORT, LOCUSTFILE, MASTER_PORT

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _one_error_line(res) -> str:
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("perfadvisor: error: "), res.output
    assert "Traceback" not in res.output
    return lines[0]


def test_commands_are_listed_in_help():
    res = _cli("--help")
    assert "loadtest" in res.output and "compare" in res.output
    res = _cli("loadtest", "--help")
    for flag in ("--users", "--spawn-rate", "--duration", "--workers", "--master", "--worker", "--actuator",
                 "--redis", "--pg", "--warmup"):
        assert flag in res.output


def test_unreachable_host_is_one_line(tmp_path):
    line = _one_error_line(_cli("loadtest", str(LOCUSTFILE), "--host", f"http://127.0.0.1:{DEAD_PORT}",
                                "--out", str(tmp_path / "r")))
    assert f"127.0.0.1:{DEAD_PORT}" in line and "is the service running" in line


def test_locustfile_that_does_not_import_is_one_line(delay_server, tmp_path):
    line = _one_error_line(_cli("loadtest", str(BROKEN_LOCUSTFILE), "--host", delay_server.url, "-t", "5s",
                                "--workers", "1", "--out", str(tmp_path / "r")))
    assert "broken.py" in line and "NameError" in line and "undefined_name" in line
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("args, words", [
    (["-t", "soon"], "not a duration"),
    (["-u", "0"], "--users 0"),
    (["-r", "0"], "--spawn-rate"),
    (["--warmup", "-5s"], "--warmup"),
    (["--expect-workers", "2"], "--expect-workers needs --master"),
    (["--host", "ftp://x"], "http:// or https://"),
])
def test_bad_options_are_one_line(delay_server, tmp_path, args, words):
    base = ["loadtest", str(LOCUSTFILE), "--host", delay_server.url, "--out", str(tmp_path / "r")]
    assert words in _one_error_line(_cli(*base, *args))


def test_bad_load_thresholds_are_refused_before_the_run(delay_server, tmp_path):
    config = tmp_path / "perfadvisor.toml"
    config.write_text("[thresholds.load]\ngenerator_cpu_max_pc = 80\n")
    line = _one_error_line(_cli("loadtest", str(LOCUSTFILE), "--host", delay_server.url, "--config", str(config),
                                "--out", str(tmp_path / "r")))
    assert "load.generator_cpu_max_pc does not exist" in line
    config.write_text("[thresholds.load]\nmin_achieved_share = 1.5\n")
    assert "is a share" in _one_error_line(_cli("loadtest", str(LOCUSTFILE), "--host", delay_server.url,
                                                "--config", str(config), "--out", str(tmp_path / "r")))
    assert not (tmp_path / "r").exists()


def test_missing_locustfile_and_existing_run_are_refused(delay_server, tmp_path):
    assert "not found" in _one_error_line(_cli("loadtest", str(tmp_path / "nope.py"), "--host", delay_server.url,
                                               "--out", str(tmp_path / "r")))
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "run.json").write_text("{}")
    assert "already holds a run" in _one_error_line(_cli("loadtest", str(LOCUSTFILE), "--host", delay_server.url,
                                                         "--out", str(tmp_path / "old")))


def _perfadvisor(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "advisor.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, **kw)


def _wait_for_seconds(out: Path, timeout_s: float = 30.0) -> None:
    """Until the master has recorded a few seconds of load."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        parts = out / rd.PARTS_JSONL
        if parts.exists() and sum(1 for _ in parts.open()) >= 6:
            return
        time.sleep(0.3)
    raise AssertionError("no load was recorded")


def test_ctrl_c_stops_cleanly_and_keeps_what_was_recorded(delay_server, lenient_config, tmp_path):
    out = tmp_path / "run"
    proc = _perfadvisor("loadtest", str(LOCUSTFILE), "--host", delay_server.url, "-u", "6", "-r", "6",
                        "-t", "2m", "--workers", "1", "--warmup", "1s", "--config", str(lenient_config),
                        "--out", str(out))
    try:
        _wait_for_seconds(out)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    doc = rd.load_run_json(out)
    assert doc["status"] == "interrupted"
    assert doc["results"]["whole_run"]["overall"]["requests"] > 0
    assert doc["steady_state"]["stop_s"] < 60  # stopped long before the 2 minutes
    assert doc["results"]["locust_counts"]["agree"] is True
    assert "status interrupted" in stdout


def test_master_and_remote_workers_and_a_lost_worker(delay_server, lenient_config, tmp_path):
    """--master waits for two workers started as `loadtest --worker` (as on other hosts); one is killed
    mid-run: the run keeps both workers' histograms up to then and is invalid by LOAD002."""
    out = tmp_path / "run"
    master = _perfadvisor("loadtest", str(LOCUSTFILE), "--host", delay_server.url, "-u", "6", "-r", "6",
                          "-t", "14s", "--warmup", "1s", "--master", "--expect-workers", "2",
                          "--master-bind-host", "127.0.0.1", "--master-bind-port", str(MASTER_PORT),
                          "--config", str(lenient_config), "--out", str(out))
    workers = [_perfadvisor("loadtest", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1",
                            "--master-port", str(MASTER_PORT), start_new_session=True) for _ in range(2)]
    try:
        _wait_for_seconds(out)
        os.killpg(workers[1].pid, signal.SIGKILL)
        stdout, stderr = master.communicate(timeout=90)
        workers[0].communicate(timeout=30)
    finally:
        for p in [master, *workers]:
            if p.poll() is None:
                p.kill()
    assert master.returncode == 1, stdout + stderr
    assert workers[0].returncode == 0
    doc = rd.load_run_json(out)
    checks = {c["rule"]: c for c in doc["validity"]["checks"]}
    assert checks["LOAD002"]["status"] == "fail", checks["LOAD002"]
    assert checks["LOAD002"]["evidence"]["expected"] == 2 and checks["LOAD002"]["evidence"]["lost"]
    assert doc["options"]["mode"] == "distributed"
    assert "INVALID" in stdout and "LOAD002" in stdout
    import pandas as pd
    gen = pd.read_csv(out / rd.GENERATOR_CSV)
    assert {"worker-1", "worker-2"} <= set(gen["process"])
