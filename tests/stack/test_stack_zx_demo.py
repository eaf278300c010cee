"""The demo end to end, as CI runs it (issue 9): `perfadvisor demo validate` with its own short load (2 runs of
60 s per side) starts its own sample stack (ports shifted by 500), loads it, analyses, applies (indexes built, back
end restarted with spring.env, Redis and nginx reloaded), loads it again, compares, writes one page and stops it.

It runs once, in a child process as a user would run it, and every test reads what that one run left: the exit
code, validate.json, index.html / index.md and the processes. The session stack of tests/stack/conftest.py is
not used (no fixture of it is requested), so this module can run alone.

This is the sample's own test: it names the sample's routes (the locustfile's request names) and its planted
problems (sample_workloads/shop/README.md).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from advisor.stack import Ports, Stack, StackConfig

ROOT = Path(__file__).resolve().parents[2]
PORT_OFFSET = 500
#: The demo's own load (40 users, 60 s runs, 2 per side; its think time and seed scale 1). Shorter does not carry the
#: claim: at 30 users × 30 s, compare had 8-10 windows per side and, Holm-adjusted over its 36 metrics, search
#: (p95 −45%, p_adjusted 0.22) and the category listing (−49%, 0.72) came out inconclusive, not improved.
DEMO_ARGS = ["--users", "40", "--duration", "60s", "--runs", "2", "--port-offset", str(PORT_OFFSET), "--quiet"]
#: Generous: a run here takes about 5.5 minutes; the issue allows 10.
TIMEOUT_S = 900

#: The locustfile's request names of the routes whose planted problem is a missing index (apply builds it):
#: order history, a product's reviews, a category's listing, search.
PLANTED_INDEX_ROUTES = ("/api/customers/{id}/orders", "/api/products/{id}/reviews",
                        "/api/products?category={category}", "/api/products/search?q={q}")
#: Stack services started as processes (PostgreSQL is checked through its postmaster.pid).
SERVICES = ("redis", "backend", "worker", "nginx")


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str
    out: Path
    run_dir: Path
    doc: dict
    #: Every pid the stack's state file named while the demo ran (the back end restarts: two pids), by service.
    pids: dict[str, set[int]]

    def rec(self, finding_id: str) -> dict:
        return next(r for r in self.doc["recommendations"] if r["finding"] == finding_id)

    def endpoint(self, route: str) -> dict:
        return next(e for e in self.doc["endpoints"] if e["name"] == route)


def _watch_pids(run_dir: Path, seen: dict[str, set[int]], stop: threading.Event) -> None:
    """Records the pids of the demo's stack as they appear: `down` clears them from the state file."""
    state, pm = run_dir / "state.json", run_dir / "pgdata" / "postmaster.pid"
    while not stop.wait(0.3):
        try:
            for name, proc in json.loads(state.read_text())["procs"].items():
                seen.setdefault(name, set()).add(int(proc["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not written yet, or being replaced
        try:
            pid = int(pm.read_text().split()[0])
            if pid > 0:  # negative: a standalone backend while the cluster is initialised (postmaster.pid docs)
                seen.setdefault("postgres", set()).add(pid)
        except (OSError, ValueError, IndexError):
            pass


@pytest.fixture(scope="module")
def demo():
    # Not under pytest's tmp dir: that is mode 0700 and the cluster runs as the postgres user.
    run_dir = Path(tempfile.mkdtemp(prefix="perfadvisor-zx-stack-"))
    os.chmod(run_dir, 0o755)
    # PERFADVISOR_DEMO_TEST_OUT keeps the page and its runs there (e.g. for benchmarks/validate_demo.py --from).
    keep_out = os.environ.get("PERFADVISOR_DEMO_TEST_OUT")
    out_parent = Path(tempfile.mkdtemp(prefix="perfadvisor-zx-out-"))
    out = Path(keep_out) if keep_out else out_parent / "out"
    seen: dict[str, set[int]] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_pids, args=(run_dir, seen, stop), daemon=True)
    watcher.start()
    cmd = [sys.executable, "-m", "advisor.cli", "demo", "validate", *DEMO_ARGS, "--run-dir", str(run_dir),
           "--out", str(out)]
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
        stop.set()
        watcher.join()
        print(p.stdout[-4000:], p.stderr[-4000:], sep="\n")
        doc = json.loads((out / "validate.json").read_text()) if (out / "validate.json").exists() else {}
        yield DemoRun(p.returncode, p.stdout, p.stderr, out, run_dir, doc, seen)
    finally:
        stop.set()
        # A safety net for a demo that died or timed out; the test below checks it had nothing left to stop.
        Stack(StackConfig(run_dir=run_dir, ports=Ports().shifted(PORT_OFFSET))).down(echo=print)
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(out_parent, ignore_errors=True)


def test_the_loop_completes_every_step(demo):
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert demo.doc["status"] == "complete" and demo.doc["exit_code"] == 0 and demo.doc["error"] is None
    steps = {s["step"]: s["status"] for s in demo.doc["steps"]}
    assert set(steps) >= {"before", "analyze", "apply", "restart", "after", "compare"}
    assert set(steps.values()) == {"done"}, steps
    assert demo.doc["restart"]["exit_code"] == 0
    runs = demo.doc["runs"]
    assert len(runs["before"]) == len(runs["after"]) == 2
    assert all(r["valid"] and r["failures"] == 0 for r in runs["before"] + runs["after"]), runs
    assert f"page: {demo.out / 'index.html'}" in demo.stdout


def test_planted_endpoints_p95_improves_significantly(demo):
    """Each planted endpoint's p95 falls with its bootstrap 95% interval wholly below zero (significant on its own)
    and by at least 40%; the two largest effects (order history, reviews: ~10× here) are also significant after
    Holm's correction over compare's whole family (9 endpoints × 4 metrics), which two 60-s runs a side cannot
    always give the ~2× effects (category listing, search) on a shared two-core machine."""
    improved = set(demo.doc["compare"]["summary"]["improved"])
    for route in PLANTED_INDEX_ROUTES:
        e = demo.endpoint(route)
        assert e["p95_ci"][1] is not None and e["p95_ci"][1] < 0, e
        assert e["p95_after_ms"] < 0.6 * e["p95_before_ms"], e
        assert e["p95_verdict"] in ("improved", "inconclusive"), e
    for route in PLANTED_INDEX_ROUTES[:2]:
        e = demo.endpoint(route)
        assert e["p95_verdict"] == "improved" and f"{e['key']} p95" in improved, e


def test_no_endpoint_regressed(demo):
    summary = demo.doc["compare"]["summary"]
    assert summary["counts"]["regressed"] == 0 and summary["regressed"] == [], summary
    assert [e["key"] for e in demo.doc["endpoints"] if "regressed" in (e["verdict"], e["p95_verdict"])] == []


def test_each_index_was_built_and_its_statement_got_faster(demo):
    executed = demo.doc["apply"]["executed"]
    assert executed and all(x["ok"] for x in executed), executed
    pg001 = [r for r in demo.doc["recommendations"] if r["rule"] == "PG001"]
    # The planted missing indexes: order history, reviews, category listing (by their table and leading column).
    leading = {re.match(r"PG001:([\w.]+)\((\w+)", r["finding"]).groups() for r in pg001}
    assert leading >= {("public.orders", "customer_id"), ("public.reviews", "product_id"),
                       ("public.products", "category_id")}, leading
    for r in pg001:
        assert r["applied"] == "SQL executed" and r["in_effect"] is True, r
        assert r["verdict"] == "confirmed", r
        m = next(m for m in r["measured"] if m["metric"] == "mean_exec_time_ms")
        assert m["after"] < m["before"] and m["moved"], m
        assert any(x["finding"] == r["finding"] and x["ok"] for x in executed)


def test_settings_applied_by_the_restart_are_in_effect(demo):
    ttl = demo.rec("CACHE001:products")
    assert "spring.env" in ttl["applied"] and "restart" in ttl["applied"] and ttl["in_effect"] is True, ttl
    assert ttl["verdict"] == "confirmed", ttl
    hit = next(m for m in ttl["measured"] if "hit ratio" in m["metric"])
    assert hit["after"] > hit["before"] and hit["moved"], hit
    assert "SHOP_CACHE_TTL_PRODUCTS=" in (demo.out / "apply" / "spring.env").read_text()

    maxmemory = demo.rec("CACHE004:maxmemory")
    assert "redis.conf" in maxmemory["applied"] and maxmemory["in_effect"] is True, maxmemory
    # Re-analysed on the after run's evidence (Redis INFO), the finding no longer fires: maxmemory is set.
    assert maxmemory["resolved_after"] is True and maxmemory["verdict"] == "confirmed", maxmemory


def test_code_changes_are_left_to_a_person(demo):
    report = json.loads((demo.out / "analysis" / "report.json").read_text())
    code = [f["id"] for f in report["findings"] if (f.get("action") or {}).get("kind") == "code_change"]
    assert code, "the sample's planted N+1, lazy route and uncached report give code-change findings"
    hints = (demo.out / "apply" / "code-hints.md").read_text()
    for fid in code:
        r = demo.rec(fid)
        assert r["verdict"] == "not applied" and r["in_effect"] is False, r
        assert "code-hints.md" in r["applied"]
        assert f"`{fid}`" in hints


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_page_names_each_recommendation_and_its_verdict(demo):
    page = (demo.out / "index.html").read_text()
    table = page.split('<table id="recommendations">', 1)[1].split("</table>", 1)[0]
    rows = [_text(tr) for tr in table.split("<tr>")[2:]]  # [0] before the header, [1] the header
    for r in demo.doc["recommendations"]:
        head = f"{r['rule']} {' '.join(r['title'].split())}"
        row = next((t for t in rows if t.startswith(head)), None)
        assert row is not None, f"{r['finding']} not on index.html"
        assert row.endswith(r["verdict"]) or f" {r['verdict']} no longer fires after" in row, row
        assert r["finding"] in row
    endpoints = page.split('<table id="endpoints">', 1)[1].split("</table>", 1)[0]
    rows = [_text(tr) for tr in endpoints.split("<tr>")[2:]]
    for route in PLANTED_INDEX_ROUTES:
        e = demo.endpoint(route)
        assert any(t.startswith(e["key"] + " ") and t.endswith(" " + e["verdict"]) for t in rows), route

    md = (demo.out / "index.md").read_text()
    for r in demo.doc["recommendations"]:
        title = r["title"].replace("|", "\\|").replace("\n", " ")
        line = next((ln for ln in md.splitlines() if ln.startswith(f"| {r['rule']} {title} |")), None)
        assert line is not None and line.rstrip().endswith(f"| {r['verdict']} |"), (r["finding"], line)


def test_pages_the_page_links_exist(demo):
    page = (demo.out / "index.html").read_text()
    hrefs = set(re.findall(r'href="([^"#:]+)"', page))
    assert {"analysis/report.html", "analysis-after/report.html", "compare/compare.html", "apply/"} <= hrefs
    for href in hrefs:
        assert (demo.out / href).exists(), href
    for href in re.findall(r"\]\(([^)]+)\)", (demo.out / "index.md").read_text()):
        assert (demo.out / href).exists(), href


def test_the_stack_is_down_afterwards(demo):
    assert set(demo.pids) >= {*SERVICES, "postgres"}, demo.pids
    assert len(demo.pids["backend"]) >= 2, "the restart command starts a new back end"
    for name, pids in demo.pids.items():
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                continue
            assert status == "Z", f"{name} pid {pid} still running"
    ports = Ports().shifted(PORT_OFFSET)
    for port in (ports.postgres, ports.redis, ports.backend, ports.management, ports.nginx):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert not (demo.run_dir / "pgdata" / "postmaster.pid").exists()
    stack = Stack(StackConfig(run_dir=demo.run_dir, ports=ports))
    assert stack.status()["running"] is False
    assert stack.down(echo=print) == []
