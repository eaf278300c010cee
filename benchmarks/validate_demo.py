"""Benchmark: does the demo's loop (`perfadvisor demo validate`) make the sample's planted problems go away?
(issue 9: "on the demo, the after run's p95 is at most a third of the before run's on the endpoints with planted
problems, at the same offered load. Print before, after, and the ratio per endpoint.")

Runs the demo on the sample stack (its own defaults unless flags change them), or reads the validate.json of a
run that already happened, and prints:

- per endpoint: p95 before and after (steady state, pooled over the runs of each side, from compare), the ratio
  after/before, compare's verdict for the p95, and the endpoint's planted problem — one `apply` fixes (an index,
  the product cache's TTL) or one that needs a person (the top-products report is not @Cacheable);
- the target line: met when every endpoint with a planted problem `apply` fixes has after p95 ≤ 1/3 of before,
  with the offered load of both sides (the same users, pauses and run length; the requests each side served);
- each recommendation: rule, how it was applied, verdict, and the metric it was judged on, before → after.

    python benchmarks/validate_demo.py [--users 40] [--duration 60s] [--runs 2] [--scale 0.25] \\
        [--port-offset 0] [--out DIR] [--run-dir DIR]
    python benchmarks/validate_demo.py --from DIR       # DIR holds validate.json

The planted problems are the sample stack's (sample_workloads/shop/README.md), named here by the route templates
its locustfile gives its requests: this benchmark is about the sample, so naming its routes is its job.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: The issue's target: after p95 ≤ TARGET_RATIO × before on the endpoints whose planted problem `apply` fixes.
TARGET_RATIO = 1 / 3

#: Route template (the locustfile's request name) → the planted problem behind it that `perfadvisor apply` fixes
#: without a person (sample_workloads/shop/README.md, "The planted problems"). Every route also shares the
#: planted pool of 2, which apply sizes only when the pool analyzer flags it.
FIXED_BY_APPLY = {
    "/api/customers/{id}/orders": "index orders(customer_id, created_at)",
    "/api/products/{id}/reviews": "index reviews(product_id, created_at)",
    "/api/products?category={category}": "index products(category_id, created_at)",
    "/api/products/search?q={q}": "a scan of products by name",
    "/api/products/{id}": "product cache TTL 1 s",
}
#: Routes whose planted problem only a person can fix (a code change apply writes to code-hints.md).
NEEDS_A_PERSON = {
    "/api/reports/top-products?days={days}": "not cached: @Cacheable (code-hints.md)",
}


def planted(route: str) -> tuple[str, str]:
    """("apply" | "person" | "", what is planted) for a route template."""
    if route in FIXED_BY_APPLY:
        return "apply", FIXED_BY_APPLY[route]
    if route in NEEDS_A_PERSON:
        return "person", NEEDS_A_PERSON[route]
    return "", ""


def run_demo(a: argparse.Namespace) -> Path:
    """Runs `perfadvisor demo validate` in a child process (as a user would) and returns its --out directory."""
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="pa-bench-validate-")) / "out"
    if a.run_dir:
        run_dir = Path(a.run_dir)
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="pa-bench-stack-"))
        # As root the cluster runs as `postgres` and nginx's workers as `nobody`: they must reach the run directory.
        os.chmod(run_dir, 0o755)
    cmd = [sys.executable, "-m", "advisor.cli", "demo", "validate", "--out", str(out), "--run-dir", str(run_dir),
           "--port-offset", str(a.port_offset), "--quiet"]
    for flag, value in (("--users", a.users), ("--duration", a.duration), ("--runs", a.runs), ("--scale", a.scale)):
        if value is not None:
            cmd += [flag, str(value)]
    print("$ " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, cwd=Path(__file__).resolve().parent.parent).returncode
    if not (out / "validate.json").exists():
        sys.exit(f"validate_demo: the demo exited {rc} without writing {out / 'validate.json'}")
    print(f"(demo exit code {rc})\n")
    return out


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.1f}"


def endpoint_rows(doc: dict) -> list[dict]:
    rows = []
    for e in doc["endpoints"]:
        route = e["name"] if e["key"] != "overall" else "All requests"
        kind, what = planted(route)
        b, af = e.get("p95_before_ms"), e.get("p95_after_ms")
        rows.append({"route": e["key"], "kind": kind, "what": what, "before": b, "after": af,
                     "ratio": af / b if b and af is not None else None, "verdict": e.get("p95_verdict") or "–",
                     "requests_before": e.get("requests_before"), "requests_after": e.get("requests_after")})
    return rows


def print_endpoints(rows: list[dict]) -> None:
    w = max(len(r["route"]) for r in rows)
    print(f"{'endpoint':<{w}}  {'p95 before ms':>13}  {'p95 after ms':>12}  {'after/before':>12}  "
          f"{'verdict':<12}  planted problem")
    for r in rows:
        ratio = "–" if r["ratio"] is None else f"{r['ratio']:.2f}"
        label = {"apply": "apply fixes: ", "person": "needs a person: "}.get(r["kind"], "") + r["what"]
        print(f"{r['route']:<{w}}  {_ms(r['before']):>13}  {_ms(r['after']):>12}  {ratio:>12}  "
              f"{r['verdict']:<12}  {label or '–'}")


def target_line(doc: dict, rows: list[dict]) -> tuple[bool, str]:
    fixed = [r for r in rows if r["kind"] == "apply"]
    missed = [r["route"] for r in fixed if r["ratio"] is None or r["ratio"] > TARGET_RATIO]
    met = bool(fixed) and not missed
    worst = max((r for r in fixed if r["ratio"] is not None), key=lambda r: r["ratio"], default=None)
    o = doc["options"]
    overall = next((r for r in rows if r["route"] == "overall"), None)
    load = (f"offered load per side: {o['users']} users × {o['duration_s']:g} s × {o['runs']} run(s), the same "
            "workload and pauses on both sides (closed loop)")
    if overall and overall["requests_before"]:
        rb, ra = overall["requests_before"], overall["requests_after"]
        load += f"; requests served (steady state): before {rb:,}, after {ra:,} ({100 * (ra / rb - 1):+.1f}%)"
    text = (f"target (issue 9): after p95 ≤ 1/3 of before on the {len(fixed)} endpoint(s) with planted problems "
            f"apply fixes, at the same offered load — {'MET' if met else 'NOT MET'}")
    if worst:
        text += f" (worst ratio {worst['ratio']:.2f}, {worst['route']})"
    if missed:
        text += f"; missed on: {', '.join(missed)}"
    person = [r for r in rows if r["kind"] == "person"]
    extra = "".join(f"\n  not counted (needs a person, not applied): {r['route']} ratio "
                    f"{'–' if r['ratio'] is None else format(r['ratio'], '.2f')}" for r in person)
    return met, f"{text}\n  {load}{extra}"


def judged_row(r: dict) -> dict | None:
    """The measured row behind a recommendation's verdict: the worse one for "worse", else the first that moved,
    else the first (None when nothing was measured)."""
    rows = r.get("measured") or []
    if r["verdict"] == "worse":
        rows = [m for m in rows if m.get("direction") == "worse"] or rows
    else:
        rows = [m for m in rows if m.get("moved")] or rows
    return rows[0] if rows else None


def print_recommendations(doc: dict) -> None:
    from advisor.validate.render import fmt_measure

    recs = doc["recommendations"]
    if not recs:
        print("no recommendation")
        return
    cells = []
    for r in recs:
        m = judged_row(r)
        if m is not None:
            metric = (f"{m.get('subject', '')} {m['metric']}: {fmt_measure(m['before'], m['unit'])} → "
                      f"{fmt_measure(m['after'], m['unit'])}").strip()
            more = len(r["measured"]) - 1
            metric += f" (+{more} more)" if more else ""
        else:
            metric = {True: "no longer fires after", False: "still fires after"}.get(r.get("resolved_after"), "–")
        cells.append((r["rule"], r["verdict"], metric, r["applied"], r["finding"]))
    w = [max(len(c[i]) for c in cells + [("rule", "verdict", "metric: before → after", "", "")]) for i in range(3)]
    print(f"{'rule':<{w[0]}}  {'verdict':<{w[1]}}  {'metric: before → after':<{w[2]}}  applied · finding")
    for c in cells:
        print(f"{c[0]:<{w[0]}}  {c[1]:<{w[1]}}  {c[2]:<{w[2]}}  {c[3]} · {c[4]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="from_dir", metavar="DIR", help="Read DIR/validate.json instead of running the demo.")
    p.add_argument("--users", type=int, default=None, help="Locust users [default: the demo's].")
    p.add_argument("--duration", default=None, help="Length of each run, e.g. 60s [default: the demo's].")
    p.add_argument("--runs", type=int, default=None, help="Runs per side [default: the demo's].")
    p.add_argument("--scale", type=float, default=None, help="Seed scale [default: the demo's].")
    p.add_argument("--port-offset", type=int, default=0, help="Added to every port of the demo stack.")
    p.add_argument("--out", default=None, help="The demo's --out [default: a new directory under /tmp].")
    p.add_argument("--run-dir", default=None, help="The demo stack's --run-dir [default: a new one under /tmp].")
    a = p.parse_args()

    out = Path(a.from_dir) if a.from_dir else run_demo(a)
    try:
        doc = json.loads((out / "validate.json").read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"validate_demo: {out / 'validate.json'}: cannot read it ({e})")
    print(f"{out / 'validate.json'}: status {doc['status']}, exit code {doc['exit_code']}, "
          f"took {doc.get('elapsed_s') or 0:.0f} s\n{doc['headline']}\n")
    rows = endpoint_rows(doc)
    print_endpoints(rows)
    print()
    _, line = target_line(doc, rows)
    print(line)
    print()
    print_recommendations(doc)


if __name__ == "__main__":
    main()
