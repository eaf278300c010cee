"""PROFILE001 on sections built from collapsed-stack text (pure), the target options, py-spy's error lines,
and the rule docs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from advisor.config import Settings
from advisor.errors import ConfigError
from analyzers import profile
from analyzers.profile import pyspy, rules, targets

DOCS = Path(__file__).resolve().parents[2] / "docs"
STDLIB = "/usr/lib/python3.11"


def _proc(collapsed: str, pid: int = 10, label: str = "worker.py", cpu_s: tuple = (0.0, 3.0), duration_s=3.0):
    """A section entry as collect() writes it, from collapsed stacks and a CPU counter over the window."""
    return {"source": f"py-spy {pid} ({label})", "pid": pid, "process": "python3", "label": label,
            "target": label, "matched_by": "command-line argument", "error": None,
            "series": {"t_s": [0.0, duration_s], "series": {"process_cpu_seconds_total": list(cpu_s),
                                                            "process_resident_memory_bytes": [5e7, 5e7]}},
            "profile": pyspy.profile_from(collapsed, "", duration_s, 100, 0.002, 1000)}


HOT = ("<module> (/app/worker.py:90);main (/app/worker.py:80);handle (/app/worker.py:60);"
       "checksum (/app/worker.py:12) 240\n"
       "<module> (/app/worker.py:90);main (/app/worker.py:80);handle (/app/worker.py:61);"
       f"loads ({STDLIB}/json/__init__.py:346) 40\n"
       "<module> (/app/worker.py:90);main (/app/worker.py:80);handle (/app/worker.py:62) 20\n")
SPREAD = "\n".join(f"<module> (/app/s.py:1);f{i} (/app/s.py:{i + 10}) 30" for i in range(10))


def test_hot_function_finding():
    (f,) = rules.run([_proc(HOT)], Settings())
    assert (f.rule, f.name, f.area, f.confidence, f.severity) == ("PROFILE001", "hot-function", "profile",
                                                                  "verified", "high")  # 1 core busy
    assert f.id == "PROFILE001:worker.py:worker.checksum"
    hot = f.evidence["hot_functions"]
    assert [h["function"] for h in hot] == ["checksum", "loads"]  # handle's 20/300 = 6.7% < 10%
    assert hot[0]["self_share"] == 0.8 and hot[0]["self_share_stderr"] == pytest.approx(0.0231, abs=1e-4)
    assert hot[1]["caller"] == {"function": "handle", "file": "/app/worker.py", "line": 61, "samples": 40}
    assert f.evidence["hot_share"] == pytest.approx(0.9333, abs=1e-4)
    assert f.title == ("worker.py spends 93% of its Python samples in 2 function(s): checksum (worker.py:12): "
                       "80%, loads (json/__init__.py:346) called from handle (worker.py:61): 13%")
    assert f.action["kind"] == "code_change" and (f.action["file"], f.action["line"]) == ("/app/worker.py", 12)
    assert f.evidence["cpu_cores_mean"] == 1.0
    assert f.evidence["flamegraph_svg"].startswith("<svg")
    assert f.references and "brendangregg" in f.references[0]


def test_library_hot_spot_points_the_action_at_the_application_caller():
    text = (f"main (/app/a.py:3);dumps ({STDLIB}/json/__init__.py:231);"
            f"iterencode ({STDLIB}/json/encoder.py:258) 200\n")
    (f,) = rules.run([_proc(text)], Settings())
    assert f.evidence["hot_functions"][0]["library"] is True
    assert (f.action["file"], f.action["line"], f.action["function"]) == ("/app/a.py", 3, "main")
    assert "iterencode (json/encoder.py:258) called from main (/app/a.py:3)" in f.action["summary"]


def test_no_finding_when_time_is_spread_or_samples_are_few():
    assert rules.run([_proc(SPREAD)], Settings()) == []  # top 3 hold 30%
    few = "main (/app/a.py:1);spin (/app/a.py:2) 60\n"
    assert rules.run([_proc(few)], Settings()) == []  # 60 < 100 samples
    assert len(rules.run([_proc(few)], Settings(thresholds={"profile": {"min_active_samples": 50}}))) == 1
    looser = Settings(thresholds={"profile": {"hot_top_functions": 5, "hot_functions_min_share": 0.5}})
    (f,) = rules.run([_proc(SPREAD)], looser)
    assert len(f.evidence["hot_functions"]) == 5


@pytest.mark.parametrize(("cpu_s", "severity"), [((0, 3.0), "high"), ((0, 0.6), "medium"), ((0, 0.15), "low")])
def test_severity_follows_cpu_use(cpu_s, severity):
    (f,) = rules.run([_proc(HOT, cpu_s=cpu_s)], Settings())
    assert f.severity == severity


def test_workers_of_one_service_give_one_finding():
    procs = [_proc(HOT, pid=11), _proc(HOT.replace(" 240\n", " 400\n"), pid=12), _proc(HOT, pid=13)]
    (f,) = rules.run(procs, Settings())
    assert f.evidence["process"]["pid"] == 12 and f.evidence["also_pids"] == [11, 13]


def test_analyze_reports_what_could_not_be_profiled():
    failed = {"source": "py-spy 99 (w.py)", "pid": 99, "label": "w.py", "profile": None, "series": None,
              "error": "py-spy 99 (w.py): failed before the window: process 99 (w.py) no longer exists"}
    section = {"window": {"duration_s": 3}, "processes": [_proc(HOT), failed], "notes": [], "errors": []}
    result = profile.analyze(section, Settings())
    assert [f.rule for f in result.findings] == ["PROFILE001"]
    assert result.notes == ["py-spy 99 (w.py): not profiled: " + failed["error"]]
    assert [p["status"] for p in result.coverage["processes"]] == ["profiled", "not profiled"]
    assert profile.target_info(section) == {"processes": ["10 worker.py"], "duration_s": 3, "samples": 300}


def test_options():
    s = Settings(targets={"profile": {"targets": "123, worker.py  gunicorn*", "rate": "250",
                                      "subprocesses": "true"}})
    opts = profile.options(s)
    assert opts["targets"] == ["123", "worker.py", "gunicorn*"] and opts["rate"] == 250 and opts["subprocesses"]
    assert profile.configured(Settings()) is not None and profile.configured(s) is None
    bad = [({"targets": []}, "empty"), ({"targets": [True]}, "not a PID"), ({"targets": [-4]}, "not a valid PID"),
           ({"targets": "w", "rate": 0}, "rate: 0 must be a whole number"),
           ({"targets": "w", "rate": 2.5}, "rate: 2.5 must be a whole number"),
           ({"targets": "w", "rate": "fast"}, "rate: 'fast' is not a number"),
           ({"targets": "w", "subprocesses": "maybe"}, "subprocesses: 'maybe' is not true or false"),
           ({"targets": "w", "pid": 3}, "unknown key")]
    for opts, message in bad:
        with pytest.raises(ConfigError, match=re.escape(message)):
            profile.options(Settings(targets={"profile": opts}))


def test_options_from_perfadvisor_toml(tmp_path):
    from advisor.config import build_settings

    cfg = tmp_path / "perfadvisor.toml"
    cfg.write_text('[targets.profile]\ntargets = ["shop_worker.py", 4711]\nsubprocesses = true\nrate = 50\n')
    opts = profile.options(build_settings(cfg, config_required=True))
    assert (opts["targets"], opts["subprocesses"], opts["rate"]) == (["shop_worker.py", "4711"], True, 50)


def test_command_labels_never_carry_arguments():
    assert targets.command_label(["/usr/bin/python3", "-u", "/app/w.py", "--password=x"]) == "w.py"
    assert targets.command_label(["python", "-X", "dev", "-m", "gunicorn.app", "--key", "k"]) == "gunicorn.app"
    assert targets.command_label(["python", "-c", "print('secret')"]) == "-c"
    assert targets.command_label(["/usr/bin/python3.11"]) == "python3.11"


# py-spy 0.4.3's stderr, recorded on this machine: a PID that is gone, a process that is not Python, and a
# process it may not ptrace (run under setpriv without CAP_SYS_PTRACE).
GONE = ("Error: Failed to get process executable name. Check that the process is running.\n\nCaused by:\n"
        "    0: No such file or directory (os error 2)\n")
NOT_PYTHON = "Error: Failed to find python version from target process\n\nStack backtrace:\n"
DENIED = ("Error: Failed to get process executable name. Check that the process is running.\n\nCaused by:\n"
          "    0: Permission denied (os error 13)\n    1: Permission denied (os error 13)\n")


def test_py_spy_errors_become_one_line_with_the_fix():
    assert pyspy.explain_failure(GONE, 5, "w.py").startswith("process 5 (w.py) no longer exists")
    assert pyspy.explain_failure(NOT_PYTHON, 5, "sleep") == ("process 5 (sleep) does not look like a Python "
                                                             "process (py-spy: Failed to find python version "
                                                             "from target process)")
    line = pyspy.explain_failure(DENIED, 5, "w.py")
    assert line.startswith("py-spy may not read the memory of process 5 (w.py) (ptrace)") and "SYS_PTRACE" in line
    assert pyspy.explain_failure("", 5, "w.py") == "py-spy failed on process 5 (w.py): no error message"


def test_ptrace_fix_reads_yama(tmp_path):
    scope = tmp_path / "ptrace_scope"
    assert "cap_add: [SYS_PTRACE]" in pyspy.ptrace_fix(str(tmp_path / "absent"))
    scope.write_text("1\n")
    assert "kernel.yama.ptrace_scope is 1" in pyspy.ptrace_fix(str(scope), euid=1000)
    assert "ptrace_scope" not in pyspy.ptrace_fix(str(scope), euid=0)
    scope.write_text("3\n")
    assert "until the next reboot" in pyspy.ptrace_fix(str(scope), euid=0)


def test_rule_doc_has_the_sections_and_every_threshold():
    page = (DOCS / "rules" / "PROFILE001.md").read_text()
    for section in ("What it finds", "Why it matters", "Evidence used", "How to fix", "Thresholds and their source"):
        assert f"## {section}" in page
    src = inspect.getsource(rules)
    for name in set(re.findall(r'threshold\(AREA, "(\w+)"', src)):
        assert f"`{name}`" in page, name
    declared = {name for name, _, _ in profile.THRESHOLDS}
    assert set(re.findall(r'threshold\(AREA, "(\w+)"', src)) <= declared
    guide = (DOCS / "profile.md").read_text()
    for name in declared:
        assert f"`{name}`" in guide + page, name
