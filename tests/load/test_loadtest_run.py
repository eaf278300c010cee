"""A real distributed Locust run (two local worker processes) against a server whose latency the test sets, with
the stack-sampling path fed by a real /proc source: the run directory, histograms merged across the workers,
counts that agree with Locust's own, percentiles that agree with the server's delays, the LOAD checks."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from advisor.config import build_settings
from advisor.load import histograms as hg
from advisor.load import rundir as rd
from advisor.load.runner import LoadOptions, run_loadtest
from advisor.load.stack import StackSampler

from .conftest import LOCUSTFILE
from .procsource import ProcSource


@pytest.fixture(scope="module")
def real_run(delay_server, lenient_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    settings = build_settings(lenient_config, config_required=True)
    opts = LoadOptions(locustfile=LOCUSTFILE, host=delay_server.url, users=10, spawn_rate=10, duration_s=12,
                       out=out, workers=2, warmup_s=2)
    lines: list[str] = []
    doc, code = run_loadtest(opts, settings, echo=lines.append, progress=None,
                             sampler=StackSampler({"proc": [ProcSource()]}, interval_s=1.0))
    return out, doc, code, lines


def test_run_directory_holds_every_file(real_run):
    out, doc, code, _ = real_run
    for name in (rd.RUN_JSON, rd.HISTOGRAMS_JSON, rd.WINDOWS_JSONL, rd.TIMESERIES_CSV, rd.ENDPOINTS_CSV,
                 rd.GENERATOR_CSV, "locust/locust_stats.csv", "locust/locust_stats_history.csv",
                 "locust/locust_failures.csv", "logs/master.log", "logs/worker-1.log", "logs/worker-2.log"):
        assert (out / name).is_file(), name
    assert not (out / rd.PARTS_JSONL).exists()  # merged into windows.jsonl
    assert code == 0, doc["validity"]
    assert doc["status"] == "complete" and doc["schema"] == rd.RUN_SCHEMA
    assert doc["workload"]["user_classes"] == ["TwoEndpoints"] and len(doc["workload"]["sha256"]) == 64
    assert doc["versions"]["locust"] and doc["machine"]["cpu_count_logical"] >= 1
    assert doc["options"]["users"] == 10 and doc["options"]["workers"] == 2
    assert rd.load_run_json(out)["status"] == "complete"


def test_histograms_merge_both_workers_and_count_what_locust_counts(real_run):
    out, doc, _, _ = real_run
    gen = pd.read_csv(out / rd.GENERATOR_CSV)
    assert set(gen["process"]) == {"master", "worker-1", "worker-2"}
    assert set(gen[gen["process"] != "master"]["users"].dropna().astype(int)) >= {5}  # 10 users over 2 workers
    with open(out / "locust" / "locust_stats.csv") as f:
        locust = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    whole = doc["results"]["whole_run"]
    for key, ep in whole["endpoints"].items():
        row = locust[(ep["method"], ep["name"])]
        assert ep["requests"] == int(row["Request Count"]), key
        assert ep["failures"] == int(row["Failure Count"]), key
    assert whole["overall"]["requests"] == int(locust[("", "Aggregated")]["Request Count"])
    assert doc["results"]["locust_counts"]["agree"] is True
    # The histograms of the run are the sum of the per-second windows.
    per_second = sum(e["n_ok"] + e["n_fail"] for line in rd.iter_windows(out) for e in line["endpoints"].values())
    assert per_second == whole["overall"]["requests"]


def test_percentiles_follow_the_servers_delays(real_run):
    out, doc, _, _ = real_run
    eps = doc["results"]["steady_state"]["endpoints"]
    fast, slow = eps["GET /fast"], eps["GET /slow?id={id}"]
    # Log-normal delays with medians 10 and 40 ms: the measured medians sit above them (network, scheduling)
    # but keep their order and ratio.
    assert 10 <= fast["p50_ms"] < slow["p50_ms"]
    assert 40 <= slow["p50_ms"] < 200
    assert 2.0 < slow["p50_ms"] / fast["p50_ms"] < 6.0
    # Failures: the server fails 5% of /slow; they are counted, and kept out of the success histogram.
    assert 0 < slow["failures"] < slow["requests"] * 0.2
    assert fast["failures"] == 0
    hist = json.loads((out / rd.HISTOGRAMS_JSON).read_text())
    ok = hg.decode(hist["steady_state"]["endpoints"]["GET /slow?id={id}"]["ok"])
    fail = hg.decode(hist["steady_state"]["endpoints"]["GET /slow?id={id}"]["fail"])
    assert ok.get_total_count() + fail.get_total_count() == slow["requests"]
    assert hist["significant_figures"] == 3


def test_steady_state_excludes_ramp_up_and_warm_up(real_run):
    out, doc, _, _ = real_run
    ss = doc["steady_state"]
    assert ss["warmup_s"] == 2
    assert ss["start_s"] >= ss["spawn_complete_s"] + 2
    assert ss["end_s"] <= ss["stop_s"]
    ts = pd.read_csv(out / rd.TIMESERIES_CSV)
    steady = ts[ts["steady"] == 1]
    assert steady["t_s"].min() == ss["start_s"] and steady["t_s"].max() == ss["end_s"] - 1
    assert int(steady["requests"].sum()) == doc["results"]["steady_state"]["overall"]["requests"]


def test_validity_checks_are_recorded(real_run):
    _, doc, _, _ = real_run
    checks = {c["rule"]: c for c in doc["validity"]["checks"]}
    assert set(checks) == {"LOAD001", "LOAD002", "LOAD003", "LOAD004", "LOAD005", "LOAD006"}
    assert checks["LOAD002"]["status"] == "pass" and checks["LOAD002"]["evidence"]["expected"] == 2
    assert checks["LOAD003"]["status"] == "pass" and checks["LOAD003"]["evidence"]["reached"] == 10
    # 5% of a quarter of the requests fail: between the 1% warning and the 10% limit.
    assert checks["LOAD004"]["status"] in ("pass", "warn")
    cpu = {p["process"] for p in checks["LOAD001"]["evidence"]["processes"]}
    assert cpu == {"master", "worker-1", "worker-2"}
    assert checks["LOAD006"]["evidence"]["event_loop_lag_ms_mean"] is not None


def test_stack_sampled_beside_the_load(real_run):
    out, doc, _, _ = real_run
    stack = doc["stack"]
    assert stack["window"]["mode"] == "window"
    (src,) = stack["sources"]
    assert src["area"] == "proc" and src["error"] is None and src["opened"]["cpu_count"] >= 1
    frame = pd.read_csv(out / src["file"])
    assert list(frame.columns) == ["t_s", "node_load1", "node_cpu_busy_jiffies_total"]
    assert len(frame) >= 8  # about one sample a second over the 12-s load
    assert frame["node_cpu_busy_jiffies_total"].is_monotonic_increasing
    # Aligned with the load's clock: the first sample is taken within a few seconds of the load's start.
    assert -1 <= frame["t_s"].iloc[0] <= 5
