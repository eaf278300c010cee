"""py-spy on real processes, through the real ProfileSource, the shared sampling window and the pipeline."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import psutil
import pytest

from advisor import pipeline, sampling
from advisor.config import Settings
from advisor.errors import TargetError
from analyzers import profile
from tests.profile.conftest import HOT, IDLE, ODD_DIR, UNDUMPABLE, unique


@pytest.fixture(scope="module")
def live(procs):
    """A hot and an idle service profiled for 4 s through pipeline.collect (the hot one by PID, the idle
    one by its script's name), then analysed: (snapshot, report, errors, hot Popen, idle Popen)."""
    hot = procs.start("hot_service.py", HOT, subdir=ODD_DIR)
    idle_name = unique("idle_worker") + ".py"
    idle = procs.start(idle_name, IDLE)
    settings = Settings(targets={"profile": {"targets": [hot.pid, idle_name], "rate": 100}}, sample_s=4)
    snap, errors = pipeline.collect(settings)
    return snap, pipeline.analyze(snap, settings), errors, hot, idle


def _finding_for(report, pid):
    return [f for f in report["findings"] if f["evidence"]["process"]["pid"] == pid]


def test_hot_function_is_named_with_a_large_share(live):
    snap, report, errors, hot, _ = live
    assert errors == []
    assert report["targets"]["profile"]["status"] == "ok"
    (f,) = _finding_for(report, hot.pid)
    assert (f["rule"], f["name"], f["confidence"]) == ("PROFILE001", "hot-function", "verified")
    first = f["evidence"]["hot_functions"][0]
    assert first["function"] == "Prüfer.invoice_digest"
    assert first["self_share"] >= 0.6, first
    assert first["file"].endswith(f"{ODD_DIR}/hot_service.py") and not first["library"]
    assert first["module"] == "hot_service"
    assert f["action"]["kind"] == "code_change"
    assert f["action"]["function"] == "Prüfer.invoice_digest" and f["action"]["line"] == first["line"]
    assert "Prüfer.invoice_digest (hot_service.py:" in f["title"]
    # The key names the service and the function, never the PID (it must be stable across runs).
    assert f["id"] == "PROFILE001:hot_service.py:hot_service.Prüfer.invoice_digest"
    assert str(hot.pid) not in f["id"]
    assert f["evidence"]["samples"] >= 100
    assert f["evidence"]["cpu_cores_mean"] > 0.05


def test_idle_process_gets_no_finding_and_a_note(live):
    snap, report, _, _, idle = live
    assert _finding_for(report, idle.pid) == []
    entry = next(p for p in snap["profile"]["processes"] if p["pid"] == idle.pid)
    assert entry["matched_by"] == "command-line argument"
    assert entry["profile"]["samples"] < 100
    assert any(f"py-spy {idle.pid}" in n and "idle or waiting" in n for n in report["notes"])
    cov = next(p for p in report["coverage"]["profile"]["processes"] if p["pid"] == idle.pid)
    assert cov["status"] == "too few samples"


def test_flame_graph_is_valid_escaped_svg(live):
    _, report, _, hot, _ = live
    (f,) = _finding_for(report, hot.pid)
    svg = f["evidence"]["flamegraph_svg"]
    assert len(svg) < 300_000
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "<script" not in svg and "href" not in svg
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    # The frames with markup characters come back intact after parsing: the module frame and the odd path.
    assert any(t.startswith("<module> (") and ODD_DIR in t for t in titles), titles
    assert any(t.startswith("Prüfer.invoice_digest (") for t in titles)
    assert "&lt;module&gt;" in svg and "<module>" not in svg
    assert "svc &lt;&amp;&gt;" in svg


def test_series_and_the_coverage_entry(live):
    snap, report, _, hot, _ = live
    entry = next(p for p in snap["profile"]["processes"] if p["pid"] == hot.pid)
    cpu = entry["series"]["series"]["process_cpu_seconds_total"]
    assert len(cpu) == 5 and cpu == sorted(cpu) and cpu[-1] > cpu[0]
    assert all(v > 10_000_000 for v in entry["series"]["series"]["process_resident_memory_bytes"])
    assert entry["py_spy"]["rate_hz"] == 100 and entry["py_spy"]["version"]
    prof = entry["profile"]
    assert prof["stopped_because"] == "Control-C pressed" and prof["bad_lines"] == 0
    assert prof["cpu_seconds"] > 0.05
    cov = next(p for p in report["coverage"]["profile"]["processes"] if p["pid"] == hot.pid)
    assert cov["status"] == "profiled"
    assert cov["top_self"][0]["function"] == "Prüfer.invoice_digest"
    assert {t["function"] for t in cov["top_total"][:3]} >= {"<module>", "main"}
    assert report["targets"]["profile"]["processes"][0] == f"{hot.pid} hot_service.py"


def test_snapshot_reanalyses_offline(live):
    snap, report, *_ = live
    again = pipeline.analyze(json.loads(json.dumps(snap)), Settings())
    assert [f["id"] for f in again["findings"]] == [f["id"] for f in report["findings"]]
    stricter = Settings(thresholds={"profile": {"min_active_samples": 1_000_000}})
    assert pipeline.analyze(snap, stricter)["findings"] == []


def test_process_that_exits_mid_window_keeps_its_samples(fresh_procs):
    """One source exits 1.5 s into a 3 s window; a second target names no process: both are reported,
    the samples and the profile taken before the exit are kept."""
    short = fresh_procs.start("short_job.py", HOT, "1.5")
    missing = unique("no_such_service")
    settings = Settings(targets={"profile": {"targets": f"{short.pid}, {missing}"}}, sample_s=3)
    srcs = profile.sources(settings)
    assert [type(s).__name__ for s in srcs] == ["ProfileSource", "UnresolvedTarget"]
    window = sampling.run_window(srcs, 3, 0.5)
    rec = window.recordings[0]
    assert rec.error and rec.error["phase"] == "sample" and "exited" in rec.error["message"]
    assert 1 <= len(rec.samples) <= 5
    assert rec.closed["profile"]["samples"] >= 50
    assert rec.closed["profile"]["stopped_because"] == "process exited"
    assert 1.0 < rec.closed["profile"]["duration_s"] < 2.9  # until the exit was seen, not the whole window
    section = profile.collect(settings, window, window.recordings)
    assert len(section["errors"]) == 2
    assert f"process {short.pid} (short_job.py) exited" in section["errors"][0]
    assert "sample(s) kept" in section["errors"][0] and "profile up to then is kept" in section["errors"][0]
    assert f"{missing!r}: no process matches it" in section["errors"][1]
    result = profile.analyze(section, Settings())
    assert [f.evidence["hot_functions"][0]["function"] for f in result.findings] == ["Prüfer.invoice_digest"]


def test_pid_that_does_not_exist_is_one_clear_line(fresh_procs):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    settings = Settings(targets={"profile": {"targets": [gone.pid]}}, sample_s=1)
    snap, errors = pipeline.collect(settings)
    assert snap["targets"]["profile"] == {"status": "error", "error": errors[0]}
    assert errors[0].startswith(f"py-spy target {gone.pid}: no process with PID {gone.pid}")


def test_missing_ptrace_rights_give_the_fix(fresh_procs, tmp_path):
    """py-spy without CAP_SYS_PTRACE on a process that does not allow ptrace otherwise: the real kernel
    refusal, as in a container started without SYS_PTRACE."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is needed to drop CAP_SYS_PTRACE")
    target = fresh_procs.start("locked_service.py", UNDUMPABLE)
    wrapper = tmp_path / "py-spy-without-ptrace"
    wrapper.write_text(f"#!/bin/sh\nexec setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace "
                       f"{shutil.which('py-spy')} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    settings = Settings(targets={"profile": {"targets": [target.pid], "py_spy": str(wrapper)}}, sample_s=1)
    snap, errors = pipeline.collect(settings)
    assert snap["targets"]["profile"]["status"] == "error"
    (line,) = errors
    assert line.startswith(f"py-spy {target.pid} (locked_service.py): failed before the window: py-spy may "
                           f"not read the memory of process {target.pid}")
    assert "--cap-add SYS_PTRACE" in line and "cap_add: [SYS_PTRACE]" in line
    assert "\n" not in line


def test_py_spy_not_installed(fresh_procs):
    target = fresh_procs.start("any_service.py", IDLE)
    settings = Settings(targets={"profile": {"targets": [target.pid], "py_spy": "/nonexistent/py-spy"}},
                        sample_s=1)
    snap, errors = pipeline.collect(settings)
    assert "pip install py-spy" in errors[0] and snap["targets"]["profile"]["status"] == "error"


def test_sample_zero_profiles_a_few_seconds_and_says_so(fresh_procs):
    hot = fresh_procs.start("hot_again.py", HOT)
    settings = Settings(targets={"profile": {"targets": str(hot.pid), "since_start_profile_s": 2}}, sample_s=0)
    snap, errors = pipeline.collect(settings)
    assert errors == []
    section = snap["profile"]
    assert section["window"]["mode"] == "since_start"
    assert 1.9 <= section["processes"][0]["profile"]["duration_s"] < 5
    assert any("--sample 0" in n for n in section["notes"])
    report = pipeline.analyze(snap, settings)
    (f,) = report["findings"]
    assert f["rule"] == "PROFILE001"
    # One CPU sample only: the mean CPU use comes from the CPU time used while py-spy ran.
    assert f["evidence"]["cpu_cores_mean"] > 0.05


def test_name_matching(fresh_procs, tmp_path):
    """A script name, its stem and a glob find the process; two processes of one name are both profiled
    (or the first N, saying which were left out); a matching non-Python process is refused; perfadvisor's
    own process never matches."""
    from analyzers.profile import targets

    name = unique("named_service")
    a = fresh_procs.start(f"{name}.py", IDLE)
    b = fresh_procs.start(f"{name}.py", IDLE, subdir="second")
    for pattern in (f"{name}.py", name, f"{name[:-3]}*.py"):
        matches, notes = targets.resolve(pattern)
        assert [m.pid for m in matches] == sorted([a.pid, b.pid]), pattern
        assert {m.label for m in matches} == {f"{name}.py"}
        assert notes == [f"py-spy target {pattern!r}: 2 processes match; each is profiled"]
    matches, notes = targets.resolve(name, limit=1)
    assert [m.pid for m in matches] == [min(a.pid, b.pid)] and f"left out {max(a.pid, b.pid)}" in notes[0]

    shell_script = tmp_path / f"{name}_shell.sh"
    shell_script.write_text("sleep 30\n")
    sh = subprocess.Popen(["sh", str(shell_script)])
    try:
        with pytest.raises(TargetError, match="none runs Python"):
            targets.resolve(shell_script.name)
    finally:
        sh.kill()
        sh.wait()
    own = os.path.basename(sys.argv[0])
    try:
        assert os.getpid() not in [m.pid for m in targets.resolve(own)[0]]
    except TargetError:
        pass  # nothing else matched: also proves perfadvisor's own process did not


def test_subprocesses_are_profiled_through_their_parent(fresh_procs):
    from analyzers.profile import targets

    name = unique("family_service")
    code = ("import subprocess, sys, time\n"
            "if sys.argv[1:] == ['parent']:\n"
            "    child = subprocess.Popen([sys.executable, sys.argv[0], 'child'])\n"
            "try:\n    time.sleep(30)\nfinally:\n    pass\n")
    parent = fresh_procs.start(f"{name}.py", code, "parent")
    for _ in range(100):
        if psutil.Process(parent.pid).children():
            break
        time.sleep(0.05)
    child = psutil.Process(parent.pid).children()[0]
    try:
        both, _ = targets.resolve(f"{name}.py")
        assert sorted(m.pid for m in both) == sorted([parent.pid, child.pid])
        (only,), notes = targets.resolve(f"{name}.py", subprocesses=True)
        assert only.pid == parent.pid and "through their parent" in notes[0]
    finally:
        child.kill()
