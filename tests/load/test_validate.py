"""`perfadvisor validate` against a real HTTP server (server.py) and the session's real PostgreSQL: the loop runs
real Locust load, analyses the database sampled during the before runs, applies (without --execute), runs the
restart command the test gives — which makes the server's slow route fast, as a fix would — and compares.
The sample stack's full loop (indexes executed, back end restarted) is tests/stack/test_stack_zy_demo.py."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.cli import cli
from advisor.validate import effects as fx

from .conftest import LOCUSTFILE
from .server import DelayServer, Route

PORT = 31030
DEAD_PORT = 31031


@pytest.fixture()
def server():
    """A fresh server per test: /slow is slow until the restart command calls /admin/fix."""
    fixed = threading.Event()
    srv = DelayServer(PORT, {"/fast": Route(5), "/slow": Route(60)}, admin={})

    def fix() -> None:
        srv.set_route("/slow", Route(5))
        fixed.set()
    srv.admin["/admin/fix"] = fix
    with srv:
        srv.fixed = fixed
        yield srv


def _restart_cmd(marker: Path) -> str:
    """A restart command that records PERFADVISOR_APPLY_DIR and asks the server to apply its 'fix'."""
    code = ("import os,pathlib,urllib.request;"
            f"pathlib.Path({str(marker)!r}).write_text(os.environ['PERFADVISOR_APPLY_DIR']);"
            f"urllib.request.urlopen('http://127.0.0.1:{PORT}/admin/fix')")
    return f"{sys.executable} -c \"{code}\""


def _validate(out: Path, config: Path, pg: str, *extra: str, runs: int = 2, duration: str = "6s"):
    return CliRunner().invoke(cli, [
        "validate", "--workload", str(LOCUSTFILE), "--host", f"http://127.0.0.1:{PORT}", "--pg", pg,
        "--config", str(config), "--runs", str(runs), "--users", "4", "--spawn-rate", "20", "--duration", duration,
        "--warmup", "1s", "--out", str(out), "--quiet", *extra])


def test_the_loop_measures_before_and_after_and_writes_one_page(server, lenient_config, pgshop_dsn, tmp_path):
    marker = tmp_path / "restarted-with"
    out = tmp_path / "v"
    res = _validate(out, lenient_config, pgshop_dsn, "--restart", _restart_cmd(marker),
                    "--health", f"http://127.0.0.1:{PORT}/fast")
    doc = json.loads((out / "validate.json").read_text())
    assert doc["status"] == "complete", res.output
    # Exit 1 exactly when compare found a significant regression. Here /fast may really get a little slower once
    # /slow is fixed: the same users then send more requests to the one server (seen in CI: +13% p95).
    regressed = doc["compare"]["summary"]["regressed"]
    assert res.exit_code == (1 if regressed else 0) == doc["exit_code"], res.output
    assert all(r.startswith("GET /fast") for r in regressed), regressed
    assert [s["step"] for s in doc["steps"]] == ["before", "analyze", "apply", "restart", "after", "analyze after",
                                                "compare"]
    assert all(s["status"] == "done" for s in doc["steps"]), doc["steps"]
    # The restart command got the apply directory, and ran between the before and the after runs.
    assert Path(marker.read_text()) == (out / "apply").resolve()
    assert (out / "apply" / "apply.json").exists()
    assert len(doc["runs"]["before"]) == 2 and len(doc["runs"]["after"]) == 2
    for side in ("before", "after"):
        for i in (1, 2):
            assert (out / side / f"run-{i}" / "run.json").exists()
    # The stack (here the database) was sampled in every run: one set of measures per run.
    assert len(doc["measures"]["before"]) == 2 and len(doc["measures"]["after"]) == 2
    # The analysis is of the before evidence; the page links it and the comparison.
    report = json.loads((out / "analysis" / "report.json").read_text())
    assert report["targets"]["postgres"]["status"] == "ok"
    slow = next(e for e in doc["endpoints"] if e["key"].endswith("/slow?id={id}"))
    assert slow["verdict"] == "improved" and slow["p95_after_ms"] < slow["p95_before_ms"] / 3
    # Without --execute the index findings are written, not applied: the page must not claim an effect.
    for r in doc["recommendations"]:
        if "migration.sql" in r["files"]:
            assert r["verdict"] == fx.NOT_APPLIED and "not run" in r["applied"]
    assert doc["recommendations"], "the session database's planted problems give findings"
    doc["recommendations"][0]["title"] = "<script>alert(1)</script>"
    from advisor.validate.render import render_html, render_markdown
    assert "<script>alert" not in render_html(doc) and "&lt;script&gt;" in render_html(doc)
    assert "alert(1)" in render_markdown(doc)
    page = (out / "index.html").read_text()
    assert "analysis/report.html" in page and "compare/compare.html" in page and "/slow?id={id}" in page
    assert (out / "index.md").read_text().startswith("# perfadvisor validate")


def test_a_failing_restart_command_stops_the_loop_and_keeps_what_was_measured(server, lenient_config, pgshop_dsn,
                                                                              tmp_path):
    out = tmp_path / "v"
    res = _validate(out, lenient_config, pgshop_dsn, "--restart", "echo restarting; exit 3", "--frontend-url",
                    f"http://127.0.0.1:{DEAD_PORT}/", runs=1, duration="4s")
    assert res.exit_code == 2
    errors = [ln for ln in res.output.splitlines() if ln.startswith("perfadvisor: error:")]
    assert len(errors) == 1 and "exited 3" in errors[0] and "restarting" in errors[0], res.output
    doc = json.loads((out / "validate.json").read_text())
    assert doc["status"] == "stopped" and doc["stopped_at"] == "restart"
    # A page that does not load costs its measure, not the loop: the step is skipped with the reason.
    first = doc["steps"][0]
    assert first["step"] == "page load before" and first["status"] == "skipped", first
    assert "not measured" in first["note"] and str(DEAD_PORT) in first["note"]
    assert (out / "before" / "run-1" / "run.json").exists() and (out / "analysis" / "report.json").exists()
    assert not (out / "after").exists()
    assert "stopped at" in (out / "index.html").read_text()
    assert (out / "restart.log").read_text().strip() == "restarting"


def test_a_health_url_that_never_answers_stops_the_loop(server, lenient_config, pgshop_dsn, tmp_path):
    out = tmp_path / "v"
    res = _validate(out, lenient_config, pgshop_dsn, "--restart", "true", "--health",
                    f"http://127.0.0.1:{DEAD_PORT}/health", "--health-timeout", "2s", runs=1, duration="4s")
    assert res.exit_code == 2
    assert f"health check http://127.0.0.1:{DEAD_PORT}/health: no 2xx answer within 2 s" in res.output
    doc = json.loads((out / "validate.json").read_text())
    assert doc["stopped_at"] == "restart" and doc["runs"]["before"]


def test_a_target_that_cannot_be_reached_stops_before_any_load(server, lenient_config, tmp_path):
    out = tmp_path / "v"
    dead = f"postgresql://postgres@127.0.0.1:{DEAD_PORT}/nothing"
    res = _validate(out, lenient_config, dead, "--restart", "true", runs=1, duration="4s")
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("perfadvisor: error:")]
    assert len(errors) == 1 and errors[0].startswith("perfadvisor: error: before:") and str(DEAD_PORT) in errors[0]
    doc = json.loads((out / "validate.json").read_text())
    assert doc["stopped_at"] == "before" and not doc["runs"]["before"] and server.count == 0


@pytest.mark.parametrize("args, message", [
    (["--workload", "/nonexistent/locustfile.py"], "--workload /nonexistent/locustfile.py: not found"),
    (["--execute"], "--execute runs migration.sql: give the database with --pg DSN"),
    (["--health", "ftp://x"], "--health ftp://x: expected an http:// or https:// URL"),
    (["--duration", "soon"], "--duration/--warmup/--health-timeout:"),
])
def test_bad_options_get_one_line_and_run_nothing(args, message, tmp_path):
    base = {"--workload": str(LOCUSTFILE), "--host": f"http://127.0.0.1:{PORT}", "--out": str(tmp_path / "v")}
    argv = ["validate"]
    for k, v in base.items():
        if k not in args:
            argv += [k, v]
    res = CliRunner().invoke(cli, argv + args)
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "v" / "before").exists()


def test_an_out_directory_that_holds_a_validation_is_refused(tmp_path):
    (tmp_path / "validate.json").write_text("{}")
    res = CliRunner().invoke(cli, ["validate", "--workload", str(LOCUSTFILE), "--host", "http://127.0.0.1:1",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 2 and "already holds a validation" in res.output


@pytest.mark.parametrize("metric, before, after, moved, direction", [
    (fx.STATEMENT_MEAN, [10.0, 12.0], [1.0, 1.2], True, "better"),
    (fx.STATEMENT_MEAN, [10.0, 12.0], [11.0, 9.0], False, "better"),  # 9% better, within the spread
    (fx.STATEMENT_MEAN, [10.0, 12.0], [9.0, 13.0], False, "same"),
    (fx.STATEMENT_MEAN, [10.0, 12.0], [20.0, 25.0], False, "worse"),
    (fx.CACHE_HIT, [0.02, 0.03], [0.21, 0.23], True, "better"),
    (fx.POOL_PENDING, [0.0, 0.0], [0.3, 0.4], False, "worse"),
])
def test_a_metric_moves_only_beyond_the_threshold_and_the_spread(metric, before, after, moved, direction):
    row = fx.moved(metric, before, after, 0.05)
    assert row["moved"] is moved and row["direction"] == direction


def test_verdicts():
    better = fx.moved(fx.STATEMENT_MEAN, [10.0, 11.0], [1.0, 1.1], 0.05)
    worse = fx.moved(fx.STATEMENT_MEAN, [1.0, 1.1], [10.0, 11.0], 0.05)
    assert fx.verdict(True, [better], None) == fx.CONFIRMED
    assert fx.verdict(True, [better, worse], None) == fx.WORSE
    assert fx.verdict(False, [better], True) == fx.NOT_APPLIED
    assert fx.verdict(True, [], True) == fx.CONFIRMED
    assert fx.verdict(True, [], False) == fx.NOT_CONFIRMED
    assert fx.verdict(True, [], None) == fx.NOT_MEASURED


def test_the_demo_keeps_an_earlier_page_when_run_again(tmp_path):
    """`./scripts/demo` twice: the second run moves the first page aside instead of refusing. The stack is kept
    from starting here (its PostgreSQL port is taken), which the demo reports as one line after the move."""
    import os
    import shutil
    import socket
    import tempfile

    from advisor.stack import Ports, StackError
    from advisor.validate.demo import run_demo

    out = tmp_path / "perfadvisor-validate"
    out.mkdir()
    (out / "validate.json").write_text("{}")
    offset = 700
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", Ports().shifted(offset).postgres))
        busy.listen()
        lines: list[str] = []
        with pytest.raises(StackError, match="ports in use"):
            run_dir = Path(tempfile.mkdtemp(prefix="perfadvisor-demo-test-"))
            os.chmod(run_dir, 0o755)  # as root, PostgreSQL and nginx's workers must enter it
            try:
                run_demo(scale=0.01, run_dir=run_dir, port_offset=offset, keep=True, think_scale=0.04, out=out,
                         quiet=True, load={}, echo=lines.append)
            finally:
                shutil.rmtree(run_dir, ignore_errors=True)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("perfadvisor-validate-")]
    assert len(kept) == 1 and (kept[0] / "validate.json").read_text() == "{}"
    assert any(str(kept[0]) in line for line in lines), lines
