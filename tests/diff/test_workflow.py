"""examples/github-actions/perfadvisor.yml: linted with actionlint and zizmor, its structure checked (pinned
actions, least permissions, no expression in a shell script), and its perfadvisor steps run here, as written,
against a real database (the diff fixture's, tests/diff/conftest.py).

What does not run here: the steps that need GitHub (checkout, caches, artifacts, code scanning, the comment via
`gh api`), the team's own migrations and the Locust step (it needs the team's application). The shell of the
"Analyse", "Diff against main" and "Keep this report as main's baseline" steps runs unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT
from tests.diff.conftest import ORDERS_ID, schema

WORKFLOW = ROOT / "examples" / "github-actions" / "perfadvisor.yml"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}$")


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def job() -> dict:
    return workflow()["jobs"]["perfadvisor"]


def step(name: str) -> dict:
    return next(s for s in job()["steps"] if s.get("name") == name)


def test_every_action_is_pinned_by_full_commit_sha():
    uses = [s["uses"] for s in job()["steps"] if "uses" in s]
    assert len(uses) >= 6
    for u in uses:
        assert SHA_PIN.match(u), u
    text = WORKFLOW.read_text()
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"#\s*v\d+\.\d+\.\d+", line), f"no version comment: {line}"


def test_least_permissions_and_safe_triggers():
    wf = workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request", "push"}  # never pull_request_target
    assert wf["permissions"] == {}
    assert job()["permissions"] == {"contents": "read", "pull-requests": "write", "security-events": "write"}
    checkout = next(s for s in job()["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False


def test_no_expression_in_a_shell_script():
    """Untrusted text (${{ github.event.* }}) in `run:` is a script injection; values reach scripts through env."""
    for s in job()["steps"]:
        assert "${{" not in s.get("run", ""), s["name"]


def test_postgres_service_and_the_pieces_the_issue_asks_for():
    j = job()
    assert j["services"]["postgres"]["image"].startswith("postgres:15")
    runs = "\n".join(s.get("run", "") for s in j["steps"])
    assert "shared_preload_libraries = 'pg_stat_statements'" in runs and "hypopg" in runs
    assert "perfadvisor loadtest" in runs and "perfadvisor analyze" in runs and "perfadvisor diff" in runs
    uses = " ".join(s.get("uses", "") for s in j["steps"])
    for action in ("actions/cache/restore@", "actions/cache/save@", "actions/upload-artifact@",
                   "github/codeql-action/upload-sarif@"):
        assert action in uses
    assert "<!-- perfadvisor-diff -->" in step("Post or update the pull request comment")["run"]


@pytest.mark.skipif(shutil.which("actionlint") is None,
                    reason="actionlint not installed (go install github.com/rhysd/actionlint/cmd/actionlint)")
def test_actionlint():
    res = subprocess.run(["actionlint", "-no-color", str(WORKFLOW)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.skipif(shutil.which("zizmor") is None, reason="zizmor not installed (pip install zizmor)")
def test_zizmor():
    res = subprocess.run(["zizmor", "--offline", "--no-progress", str(WORKFLOW)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


# --- the perfadvisor steps, run as written ---------------------------------------------------------------


@pytest.fixture
def runner(tmp_path, diff_dsn):
    """run_step(name, **env) → (returncode, output, GITHUB_OUTPUT text): the step's script under bash -eo
    pipefail (GitHub's default shell) in tmp_path, with the job's env and a `perfadvisor` on PATH."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "perfadvisor"
    # The console script, with `diff` registered as advisor/cli.py will register it (a no-op once it does).
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'from tests.diff.conftest import perfadvisor_cli; "
                    "perfadvisor_cli(); from advisor.cli import main; main()' \"$@\"\n")
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFADVISOR_", "GITHUB_"))}
    env.update({k: str(v) for k, v in job()["env"].items()})
    env.pop("PERFADVISOR_REDIS_URL")  # no Redis in this fixture: analyze reports it as skipped
    env.update(PERFADVISOR_PG_DSN=diff_dsn, PATH=f"{bindir}:{env['PATH']}",
               PYTHONPATH=f"{ROOT}:{env.get('PYTHONPATH', '')}")

    def run_step(name: str, **extra: str):
        out = tmp_path / f"github_output_{len(list(tmp_path.glob('github_output_*')))}"
        out.write_text("")
        summary = tmp_path / "step_summary.md"
        s = step(name)
        res = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", s["run"]], cwd=work,
                             env={**env, **{k: str(v) for k, v in s.get("env", {}).items()}, **extra,
                                  "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)},
                             capture_output=True, text=True, timeout=300)
        return res.returncode, res.stdout + res.stderr, out.read_text()

    run_step.work = work
    return run_step


def test_workflow_steps_on_a_pull_request(reports, runner):
    """Analyse, then diff against a baseline of main without the orders index finding: the PR's analysis has it
    again (new, medium in this state), which fails at FAIL_ON_NEW=medium and passes at high."""
    work = runner.work
    code, output, _ = runner("Analyse")
    assert code == 0, output
    report = json.loads((work / "perfadvisor-out" / "report.json").read_text())
    assert ORDERS_ID in {f["id"] for f in report["findings"]}

    code, output, gh_out = runner("Diff against main")  # no baseline restored yet
    assert code == 0 and "No report of main yet" in output and gh_out == ""

    (work / "perfadvisor-baseline").mkdir()
    shutil.copy(reports.indexed / "report.json", work / "perfadvisor-baseline" / "report.json")
    code, output, gh_out = runner("Diff against main", FAIL_ON_NEW="medium")
    assert code == 0, output  # the step passes so the comment is posted; a later step fails the job
    assert gh_out.strip() == "exit_code=1"
    d = json.loads((work / "perfadvisor-out" / "diff" / "diff.json").read_text())
    jsonschema.validate(d, schema("diff.schema.json"))
    assert ORDERS_ID in d["summary"]["failing"]
    assert (work / "perfadvisor-out" / "diff" / "diff.md").read_text().startswith("<!-- perfadvisor-diff -->")

    code, output, gh_out = runner("Diff against main")  # FAIL_ON_NEW=high, as in the workflow
    assert code == 0 and gh_out.strip() == "exit_code=0", output


def test_workflow_bad_baseline_fails_the_step(runner):
    code, output, _ = runner("Analyse")
    assert code == 0, output
    (runner.work / "perfadvisor-baseline").mkdir()
    (runner.work / "perfadvisor-baseline" / "report.json").write_text('{"tool": {"name": "other"}}')
    code, output, gh_out = runner("Diff against main")
    assert code == 2 and "not a perfadvisor report.json" in output and gh_out.strip() == "exit_code=2"


def test_workflow_steps_on_main_store_the_baseline(runner):
    code, output, _ = runner("Analyse")
    assert code == 0, output
    code, output, _ = runner("Keep this report as main's baseline")
    assert code == 0, output
    kept = runner.work / "perfadvisor-baseline" / "report.json"
    assert kept.read_bytes() == (runner.work / "perfadvisor-out" / "report.json").read_bytes()
