"""Reports a new user can read (issue 12): no Python repr anywhere, one byte convention in every renderer, impacts in
units a person reads, a chart that does not exaggerate, "Do these first" at the top; config typos and failed
targets as one clear line with exit code 2; an earlier report of other targets is never silently replaced.

Real parts: the recorded real report of the sample stack (tests/fixtures/reports/shop-stack, see its README), the
pgshop demo on a throwaway PostgreSQL, `perfadvisor analyze` against the session's PostgreSQL, headless Chromium
over DevTools (advisor.browser)."""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from advisor import fmt, run
from advisor.browser import Browser, chromium_binary
from advisor.cli import cli
from reports import charts, html, markdown, write_all
from tests.conftest import validate_report

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "fixtures" / "reports" / "shop-stack" / "report.json"

#: Text that reads as a Python (or JSON) repr of a list or dict: ['a', …], {'k': …}, {"k": …}, [{…}], [] or {}.
REPR = re.compile(r"""[\[{(]\s*'[^'\n]{0,80}'\s*[:,\]}]|\{\s*"[^"\n]{0,80}"\s*:|\[\s*\{"""
                  r"""|(?:^|[\t\n:])[ ]*(?:\[\s*\]|\{\s*\})[ ]*(?=$|[\t\n])""", re.M)


def recorded() -> dict:
    return json.loads(RECORDED.read_text(encoding="utf-8"))


def perfadvisor(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)


def free_port(lo: int = 24380, hi: int = 24400) -> int:
    """A loopback port below the ephemeral range (a throwaway cluster's port must not be a client's)."""
    for port in range(lo, hi):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"no free port in {lo}-{hi}")


# ---------------------------------------------------------------------------------------------- in a browser

def open_in_chromium(page: Path) -> tuple[str, list[str]]:
    """(the page's visible text, console errors and uncaught exceptions) of a file opened in headless Chromium."""
    binary = chromium_binary()
    if binary is None:
        pytest.fail("chromium is not installed (the common brief installs it; apt-get install chromium)")
    errors: list[str] = []

    def listen(method: str, params: dict) -> None:
        if method == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))

    with Browser(binary, domains=("Page", "Runtime", "Log")) as b:
        b.listeners.append(listen)
        b.call("Page.navigate", url=page.resolve().as_uri())
        deadline = time.monotonic() + 20
        b.pump(lambda: b.evaluate("document.readyState") == "complete", deadline)
        b.pump(lambda: False, time.monotonic() + 0.5)  # late console messages
        # open every <details> so folded rows are in the text too; code (SQL, config snippets) is shown literally
        # and is not evidence, so it is left out
        text = b.evaluate("document.querySelectorAll('details').forEach(d => d.open = true);"
                          "document.querySelectorAll('pre, code').forEach(e => e.remove());"
                          "document.body.innerText")
    return text or "", errors


def assert_readable(out_dir: Path, console: str = "") -> str:
    """report.html opened in Chromium has no console error and no repr; report.md and the console have no repr.
    Returns the page's text."""
    text, errors = open_in_chromium(out_dir / "report.html")
    assert not errors, errors
    assert "Do these first" in text and fmt.BYTE_CONVENTION in text
    for where, body in (("report.html", text), ("report.md", _md_text(out_dir / "report.md")), ("console", console)):
        m = REPR.search(body)
        assert m is None, f"{where}: repr-like text {body[max(0, m.start() - 80):m.end() + 80]!r}"
    return text


def _md_text(path: Path) -> str:
    """report.md without code (SQL and config snippets are code, shown literally)."""
    md = path.read_text(encoding="utf-8")
    return re.sub(r"`[^`\n]*`", "", re.sub(r"^```.*?^```", "", md, flags=re.S | re.M))


def test_recorded_real_report_reads_in_a_browser(tmp_path):
    out = tmp_path / "shop"
    out.mkdir()
    report = recorded()
    write_all(report, out)
    text = assert_readable(out, run.summary_text(report, out))
    # lists of records are tables with readable headers, raw keys are words with units
    assert "initial_js_gzip_bytes" not in text.split("impact (exact)")[0]
    assert "initial JavaScript (gzip)" in text and "186.5 kB" in text
    # "Do these first" comes before the full list and names effect and confidence
    first = text.index("Do these first")
    assert first < text.index("All findings") and "confidence: verified" in text[first:text.index("All findings")]


def test_pgshop_demo_report_reads_in_a_browser(tmp_path):
    res = CliRunner().invoke(cli, ["demo", "postgres", "--out", str(tmp_path / "demo"), "--scale", "0.05",
                                   "--port", str(free_port())], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    validate_report(tmp_path / "demo")
    text = assert_readable(tmp_path / "demo", res.output)
    assert "of database time per hour" in text and " ms/h" not in text


def test_repr_pattern_finds_reprs():
    for bad in ("[{'module': 'node_modules/recharts', 'minified_bytes': 273469}]", "{'a': 1}", "['x', 'y']",
                '{"k": 1}', "[]", "{}", "prefixes\t[]\tx", "dbsize: {}"):
        assert REPR.search(bad), bad
    for good in ("node_modules/recharts 267.1 kB", "WHERE name ILIKE $1", "orders(customer_id, created_at)",
                 "shop:cache:categories::SimpleKey []"):
        assert not REPR.search(good), good


def test_nested_evidence_is_never_a_repr():
    """Any shape of evidence (lists of records, records of lists, deep nesting, empty values) renders as text."""
    report = recorded()
    f = copy.deepcopy(report["findings"][0])
    f["evidence"] = {"a_list": [{"module": "node_modules/recharts", "minified_bytes": 273469,
                                 "deep": {"x": [{"y": {"z": [1, 2]}}], "e": {}}}],
                     "empty_list": [], "empty_dict": {}, "mixed": [1, "two", {"k": [3]}], "bools": [True, None]}
    report["findings"] = [f]
    page = html.render(report)
    body = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|svg)\b.*?</\1>", "", page, flags=re.S))
    assert not REPR.search(body.replace("&#39;", "'").replace("&#34;", '"')), body
    assert "minified size" in page and "267.1 kB" in page


# ---------------------------------------------------------------------------------------------- units

BYTES = 190_972
SHOWN = "186.5 kB"  # powers of 1024 (fmt.BYTE_CONVENTION)


def _bytes_report() -> dict:
    report = recorded()
    f = copy.deepcopy(next(x for x in report["findings"] if x["rule"] == "FE002"))
    f.update(title="Route /admin is in the initial load", detail="lazy-load it",
             impact={"metric": "initial_js_gzip_bytes", "before": BYTES, "after": 91_835})
    report["findings"] = [f]
    report["targets"] = {"frontend": {"status": "ok", "initial_js_gzip_bytes": BYTES}}
    report["coverage"] = {}
    report["notes"] = []
    report["summary"] = {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}
    return report


def test_bytes_in_html():
    page = html.render(_bytes_report())
    impact = re.search(r'class="impact">Impact: ([^<]*)<', page).group(1)
    assert impact == f"initial JavaScript (gzip): {SHOWN} → 89.7 kB"
    assert f"initial JavaScript (gzip): {SHOWN}" in page  # the targets row names the key in words, same figure
    assert "191 KB" not in page and "initial_js_gzip_bytes:" not in page
    assert fmt.BYTE_CONVENTION in page


def test_bytes_in_markdown():
    md = markdown.render(_bytes_report())
    assert f"initial JavaScript (gzip): {SHOWN} → 89.7 kB" in md and "191 KB" not in md
    assert md.count(fmt.BYTE_CONVENTION) == 1


def test_bytes_in_console(tmp_path):
    text = run.summary_text(_bytes_report(), tmp_path)
    assert f"initial JavaScript (gzip): {SHOWN} → 89.7 kB" in text and "191 KB" not in text
    assert fmt.BYTE_CONVENTION in text


def test_fmt_bytes_is_powers_of_1024():
    assert [fmt.fmt_bytes(n) for n in (512, 1536, BYTES, 5 * 1024 ** 2)] == ["512 B", "1.5 kB", SHOWN, "5.0 MB"]


def test_database_time_reads_in_minutes():
    f = {"impact": {"metric": "exec_time_ms_per_hour", "before": 617_448 + 1000, "after": 1000, "estimated": True}}
    assert fmt.impact_text(f) == "est. saves 10.3 min of database time per hour (10.3 min → 1.0 s per hour)"
    assert fmt.impact_exact(f) == "618,448 → 1,000 (exec_time_ms_per_hour)"  # the exact figure, for the evidence


def test_a_budget_is_not_shown_as_the_prediction():
    """FE001 reports its budget as impact "after": the renderers say "over the budget", never "→ budget"."""
    fe001 = next(f for f in recorded()["findings"] if f["rule"] == "FE001")
    text = fmt.impact_text(fe001)
    assert "→" not in text and "over the 166.0 kB budget" in text and "186.5 kB" in text


def test_labels_read_as_words():
    assert fmt.label("initial_js_gzip_bytes") == "initial JavaScript (gzip)"
    assert fmt.label("table_changes_per_s") == "table changes per second"
    assert fmt.fmt_value("p95_ms", 1234.5) == "1.2 s" and fmt.fmt_value("hit_ratio", 0.031) == "3.1%"


def test_cost_chart_is_linear_with_percent_change():
    svg = charts.cost_before_after([{"queryid": 1, "query": "SELECT 1", "cost_before": 100.0, "cost_after": 32.0}])
    assert "-68%" in svg and "100.0 → 32.0" in svg and "linear axis from 0" in svg and "log scale" not in svg


def test_do_these_first_lists_the_largest_changes():
    report = recorded()
    first = fmt.first_changes(report)
    assert 1 <= len(first) <= fmt.FIRST_COUNT
    assert first == [f for f in report["findings"] if f in first]  # in rank order
    assert all(f["severity"] in fmt.FIRST_SEVERITIES and f["action"]["kind"] != "none" for f in first)
    md = markdown.render(report)
    assert md.index("### Do these first") < md.index("| severity | rule |")
    assert f"1. **{first[0]['rule']}**" in md and f"(confidence: {first[0]['confidence']})" in md


# ---------------------------------------------------------------------------------------------- the CLI

@pytest.mark.parametrize("toml, needles", [
    ('[targets.postgres]\ndns = "postgresql://x@127.0.0.1:1/db"\n',
     ["unknown key 'dns' in [targets.postgres]", "did you mean 'dsn'", "known keys: dsn, explain_analyze"]),
    ('[targets.mysql]\ndsn = "x"\n', ["unknown target [targets.mysql]", "known targets: postgres, frontend"]),
    ('[targets.redis]\nurl = "redis://127.0.0.1:1/0"\nfull_scna = true\n',
     ["unknown key 'full_scna' in [targets.redis]", "'full_scan'"]),
    ('[targets.frontend]\nbundel = "dist"\n', ["'bundel'", "known keys: bundle, url, baseline"]),
    ('[profiles.staging.targets.postgres]\ndns = "x"\n', ["[profiles.staging]", "unknown key 'dns'"]),
])
def test_config_typo_is_one_line_exit_2(tmp_path, toml, needles):
    (tmp_path / "perfadvisor.toml").write_text(toml)
    res = perfadvisor("analyze", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("perfadvisor: error: config perfadvisor.toml"), res.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in res.stderr and not (tmp_path / "out" / "report.json").exists()


def test_failed_target_is_printed_first(pgshop_dsn, tmp_path):
    """PostgreSQL is analysed, Redis is unreachable: the failure is the first line of the summary, then what was
    still analysed; never "no findings" above it; exit 2 with one error line."""
    res = perfadvisor("analyze", "--pg", pgshop_dsn, "--redis", "redis://127.0.0.1:1/0", "--sample", "0",
                      "--out", str(tmp_path / "out"))
    assert res.returncode == 2, res.stdout + res.stderr
    summary = res.stdout[res.stdout.index("FAILED redis"):]
    assert "no findings" not in res.stdout[:res.stdout.index("FAILED redis")]
    assert summary.splitlines()[1] == "still analysed and written below: postgres"
    assert re.search(r"^\d+ findings: ", summary, re.M)
    errors = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and errors[0].startswith("perfadvisor: error: redis redis://127.0.0.1:1/0: ")
    report = validate_report(tmp_path / "out")
    assert report["targets"]["redis"]["status"] == "error" and report["targets"]["postgres"]["status"] == "ok"
    assert_readable(tmp_path / "out", res.stdout)


def test_only_target_failing_says_nothing_else_was_analysed(tmp_path):
    res = perfadvisor("analyze", "--pg", "postgresql://postgres@127.0.0.1:1/none", "--out", str(tmp_path))
    assert res.returncode == 2
    lines = res.stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("FAILED postgres: "))
    assert lines[start + 1] == "nothing else was analysed; the reports record the failure"
    assert "no findings" not in res.stdout


def test_an_earlier_report_of_other_targets_is_kept(pgshop_dsn, tmp_path):
    """`demo postgres` (or any run) then an analyze of other targets into the same --out: the first report is
    moved aside and the run says so; a re-run of the same targets replaces its own report."""
    out = tmp_path / "report"
    out.mkdir()
    first = recorded()  # every target ok
    write_all(first, out)
    (out / "snapshot.json").write_text("{}")
    res = perfadvisor("analyze", "--pg", pgshop_dsn, "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    kept = [p for p in out.iterdir() if p.name.startswith("earlier-")]
    assert len(kept) == 1 and json.loads((kept[0] / "report.json").read_text()) == first
    assert (kept[0] / "snapshot.json").read_text() == "{}"
    assert f"was moved to {kept[0]}" in res.stdout and "frontend, actuator, redis, profile" in res.stdout
    report = validate_report(out)
    assert any("earlier report" in n for n in report["notes"])
    again = perfadvisor("analyze", "--pg", pgshop_dsn, "--out", str(out))
    assert again.returncode == 0 and "earlier report" not in again.stdout
    assert len([p for p in out.iterdir() if p.name.startswith("earlier-")]) == 1


def test_demo_status_reads_the_postmaster_pid(pg_cluster, tmp_path):
    """`demo status` prints PostgreSQL's pid from the data directory state.json names: the real postmaster's."""
    import psycopg

    from advisor.stack.cli import _postmaster_pid

    (tmp_path / "state.json").write_text(json.dumps({"postgres_datadir": str(pg_cluster.datadir)}))
    with psycopg.connect(pg_cluster.dsn()) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    assert _postmaster_pid(str(tmp_path)) == psutil.Process(backend).ppid()
    assert _postmaster_pid(str(tmp_path / "absent")) is None
