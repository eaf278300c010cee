"""The README's main job: `perfadvisor demo postgres`, end to end, at a small scale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PG_PORT, validate_report


def test_demo_postgres_end_to_end(tmp_path):
    out = tmp_path / "report"
    res = subprocess.run([sys.executable, "-m", "advisor.cli", "demo", "postgres", "--scale", "0.1",
                          "--out", str(out), "--port", str(PG_PORT + 2)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "loading the pgshop sample" in res.stdout and "findings:" in res.stdout
    report = validate_report(out)
    assert any(f["id"] == "PG001:public.orders(customer_id,created_at)" for f in report["findings"])
    for name in ("report.html", "report.md", "snapshot.json", "report.sarif"):
        assert (out / name).stat().st_size > 0
    workdir = res.stdout.split(" in ", 1)[1].split(" …")[0]
    assert workdir.startswith("/tmp/perfadvisor-demo-")
    assert not Path(workdir, "data").exists()  # the throwaway cluster is removed


def test_demo_in_a_directory_postgres_cannot_reach(tmp_path):
    res = subprocess.run([sys.executable, "-m", "advisor.cli", "demo", "postgres", "--workdir",
                          str(tmp_path / "w"), "--port", str(PG_PORT + 2), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    if os.geteuid() != 0:  # only root hands the cluster to the postgres user
        return
    assert res.returncode == 2 and "postgres OS user cannot write there" in res.stderr
    assert "Traceback" not in res.stderr
