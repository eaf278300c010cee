"""loadtest against the whole sample stack (marker `stack`: it starts the stack, which takes minutes): the shop's
workload with few users over two workers, the Actuator sampled beside it. Histograms merge across the workers and
their counts agree with Locust's own.

Runs on its own stack (module scope, ports shifted by PERFADVISOR_LOAD_STACK_PORT_OFFSET, default 300) so it
never collides with tests/stack's; the stack is stopped when this module ends."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.load import rundir as rd

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "sample_workloads" / "shop" / "locustfile.py"
PORT_OFFSET = int(os.environ.get("PERFADVISOR_LOAD_STACK_PORT_OFFSET",
                                 os.environ.get("PERFADVISOR_STACK_PORT_OFFSET", "300")))
USERS = 20
DURATION = "20s"


@pytest.fixture(scope="module")
def shop_stack():
    from stack.conftest import running_stack

    with running_stack(PORT_OFFSET, {}) as s:
        yield s


@pytest.fixture(scope="module")
def shop_run(shop_stack, tmp_path_factory):
    out = tmp_path_factory.mktemp("shop") / "run"
    config = out.parent / "perfadvisor.toml"
    # The stack shares this machine's two cores with the generator: judge the run's validity on its own
    # numbers, not on a busy machine's scheduling.
    config.write_text("[thresholds.load]\ngenerator_cpu_max_pct = 100\nmin_achieved_share = 0.0\n")
    env = {"SHOP_SCALE": str(shop_stack.scale), "SHOP_THINK_SCALE": "0.05"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        res = CliRunner().invoke(cli, [
            "loadtest", str(LOCUSTFILE), "--host", shop_stack.urls.frontend.rstrip("/"), "-u", str(USERS),
            "-r", "10", "-t", DURATION, "--warmup", "3s", "--workers", "2", "--actuator", shop_stack.urls.actuator,
            "--config", str(config), "--out", str(out)], catch_exceptions=False)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out, res


def test_shop_run_is_valid_and_complete(shop_run):
    out, res = shop_run
    assert res.exit_code == 0, res.output
    doc = rd.load_run_json(out)
    assert doc["status"] == "complete" and doc["validity"]["valid"], doc["validity"]
    assert doc["users"]["max"] == USERS
    assert len(doc["results"]["steady_state"]["endpoints"]) >= 5  # the shop's journeys reach most endpoints


def test_histograms_merge_across_two_workers_and_agree_with_locust(shop_run):
    out, _ = shop_run
    doc = rd.load_run_json(out)
    by_worker = doc["results"]["requests_by_worker"]
    assert set(by_worker) == {"worker-1", "worker-2"} and all(n > 0 for n in by_worker.values())
    whole = doc["results"]["whole_run"]
    assert sum(by_worker.values()) == whole["overall"]["requests"]
    with open(out / "locust" / "locust_stats.csv") as f:
        locust = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    for key, ep in whole["endpoints"].items():
        assert ep["requests"] == int(locust[(ep["method"], ep["name"])]["Request Count"]), key
        assert ep["failures"] == int(locust[(ep["method"], ep["name"])]["Failure Count"]), key
    assert doc["results"]["locust_counts"]["agree"] is True
    # Locust's median is rounded to about two significant figures; ours is within that rounding of it.
    for key, ep in doc["results"]["whole_run"]["endpoints"].items():
        row = locust[(ep["method"], ep["name"])]
        if ep["requests"] - ep["failures"] >= 50 and ep["failures"] == 0:
            theirs = float(row["Median Response Time"])
            assert abs(ep["p50_ms"] - theirs) <= max(2.0, 0.1 * theirs), (key, ep["p50_ms"], theirs)


def test_actuator_sampled_beside_the_load(shop_run):
    out, _ = shop_run
    doc = rd.load_run_json(out)
    sources = doc["stack"]["sources"]
    assert sources and all(s["area"] == "actuator" and s["error"] is None for s in sources), doc["stack"]
    frame = pd.read_csv(out / sources[0]["file"])
    assert len(frame) >= 10
    assert any(c.startswith("hikaricp_connections") for c in frame.columns), list(frame.columns)[:20]
