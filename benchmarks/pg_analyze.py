"""Benchmark: `perfadvisor analyze` on a database with 5,000 distinct statements over 200 tables.

Target (issue 2): under 60 s on this machine (2 cores), peak memory under 500 MB. Prints a table with the
wall time, peak RSS, EXPLAIN calls and the time spent in them, for the default settings (top 95% of
exec time, at most 500 statements) and for every statement (workload_share 1.0, max_statements 5000).

Target (issue 10): the rules beyond indexes (PG007–PG014) add under 10% to `analyze`. A second table shows,
for each run, what they cost: the evidence they collect (the snapshot's ``beyond_indexes_time_s``) and the
rules themselves (``analyzers.postgres.beyond_indexes`` timed on the run's snapshot, best of 3), so "before"
is the wall time without both. With ``--before-rev REV`` the same runs are also made with perfadvisor as of
REV (``git archive`` into a temporary directory; nothing in the checkout changes), an end-to-end before/after.
``--explain-analyze`` adds a run with it (opt-in: it executes the SELECT statements).

    python benchmarks/pg_analyze.py [--tables 200] [--per-table 25] [--port 24601] [--before-rev REV
                                    [--before-paths analyzers/postgres]] [--explain-analyze] [--repeat 3]

Issue 10's own before/after: ``--before-rev 114697d --before-paths analyzers/postgres`` (HEAD without the
rules beyond indexes: analyzers/postgres as it was before them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from advisor.pgcluster import TempCluster  # noqa: E402

SHAPES = [
    "SELECT id, a FROM {t} WHERE a = $1",
    "SELECT id, b FROM {t} WHERE b = $1",
    "SELECT id, c FROM {t} WHERE c = $1",
    "SELECT * FROM {t} WHERE a = $1 AND b = $2",
    "SELECT * FROM {t} WHERE a = $1 AND created_at >= $2",
    "SELECT * FROM {t} WHERE b = $1 AND created_at >= $2 ORDER BY created_at",
    "SELECT id FROM {t} WHERE c BETWEEN $1 AND $2",
    "SELECT id, a, b FROM {t} WHERE a = $1 ORDER BY created_at DESC LIMIT 10",
    "SELECT count(*) FROM {t} WHERE kind = $1",
    "SELECT count(*) FROM {t} WHERE b = $1 AND kind = $2",
    "SELECT id FROM {t} WHERE lower(name) = lower($1)",
    "SELECT max(created_at) FROM {t} WHERE a = $1",
    "SELECT a, count(*) FROM {t} WHERE created_at >= $1 GROUP BY a",
    "SELECT * FROM {t} WHERE id = $1",
    "SELECT id FROM {t} WHERE c > $1 ORDER BY c LIMIT 5",
    "UPDATE {t} SET kind = $1 WHERE id = $2",
    "SELECT x.id FROM {t} x JOIN {u} y ON y.a = x.id WHERE x.b = $1",
    "SELECT id FROM {t} WHERE a IN ($1, $2, $3)",
    "SELECT id FROM {t} WHERE name = $1",
    "SELECT id, name FROM {t} WHERE b = $1 AND c = $2 AND kind = $3",
    "SELECT sum(c) FROM {t} WHERE created_at < $1",
    "SELECT id FROM {t} WHERE a = $1 AND b > $2",
    "SELECT id FROM {t} WHERE b = $1 ORDER BY c DESC LIMIT 3",
    "SELECT DISTINCT kind FROM {t} WHERE a = $1",
    "DELETE FROM {t} WHERE id = $1 AND kind = $2",
]


def build(dsn: str, tables: int, per_table: int, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET pg_stat_statements.track = 'none'")
        for i in range(tables):
            conn.execute(f"CREATE TABLE t{i} (id bigserial PRIMARY KEY, a int, b int, c int, kind text, "
                         f"name text, created_at timestamptz)")
            conn.execute(f"INSERT INTO t{i} (a, b, c, kind, name, created_at) "
                         f"SELECT g % 997, g % 503, g, (ARRAY['x','y','z'])[1 + g % 3], 'n' || g, "
                         f"now() - g * interval '1 minute' FROM generate_series(1, {rows}) g")
        conn.execute("ANALYZE")
    rnd = random.Random(1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        conn.execute("SELECT pg_stat_statements_reset()")  # our own throwaway cluster
        for i in range(tables):
            for shape in SHAPES[:per_table]:
                sql = shape.format(t=f"t{i}", u=f"t{(i + 1) % tables}")
                n = sql.count("$")
                text = sql
                for k in range(n, 0, -1):
                    text = text.replace(f"${k}", "%s")
                params = []
                for k in range(n):
                    params.append(_value(sql, k + 1, rnd))
                for _ in range(rnd.choice([1, 1, 2, 5])):
                    conn.execute(text, params)


def _value(sql: str, k: int, rnd: random.Random):
    import re
    m = re.search(r"(\w+)\)?\s*(=|>=|<=|>|<|BETWEEN|IN \(|,)\s*[^$]*\$" + str(k) + r"\b", sql)
    col = m.group(1) if m else ""
    if "kind" in sql and re.search(r"kind = \$" + str(k), sql):
        return "x"
    if re.search(r"name\)? = (lower\()?\$" + str(k), sql):
        return "n5"
    if re.search(r"created_at [<>]=? \$" + str(k), sql):
        from datetime import UTC, datetime
        return datetime.now(UTC)
    return rnd.randint(1, 500) if col != "kind" else "x"


def analyze(dsn: str, config: str | None, tree: Path | None = None) -> dict:
    """One `perfadvisor analyze` in a fresh process (of the checkout, or of `tree`): wall time, peak RSS, and
    facts from its snapshot and report; for the checkout also the cost of the rules beyond indexes."""
    out = Path(tempfile.mkdtemp(prefix="bench-report-"))
    cmd = [sys.executable, "-c",
           "import resource, sys, time, json; from advisor.cli import cli; t=time.perf_counter();\n"
           "try:\n  cli(sys.argv[1:], standalone_mode=False)\nfinally:\n"
           "  print(json.dumps({'wall_s': time.perf_counter()-t, 'peak_rss_mb': "
           "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}), file=sys.stderr)",
           "analyze", "--pg", dsn, "--out", str(out), "-q"]
    if config:
        cmd += ["--config", config]
    cwd = tree or Path(__file__).resolve().parent.parent
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd,
                         env={**os.environ, "PYTHONPATH": str(cwd)})
    try:
        stats = json.loads(res.stderr.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise SystemExit(f"analyze in {cwd} failed (exit {res.returncode}): {res.stderr[-1500:]}") from None
    snap = json.loads((out / "snapshot.json").read_text())["postgres"]
    report = json.loads((out / "report.json").read_text())
    stats.update(statements=snap["workload"]["selected_count"], explain_calls=snap["whatif"]["explain_calls"],
                 explain_s=snap["whatif"]["explain_time_s"], findings=len(report["findings"]),
                 pg001=sum(f["rule"] == "PG001" for f in report["findings"]),
                 analysed=report["coverage"]["postgres"]["analysed_share"])
    if tree is None:
        stats.update(beyond_cost(snap, config), ea_s=(snap.get("explain_analyze") or {}).get("time_s"))
    shutil.rmtree(out, ignore_errors=True)
    return stats


def beyond_cost(section: dict, config: str | None) -> dict:
    """Seconds the rules beyond indexes cost in one run: collecting their evidence, and running them (best of
    3, in this process, on the run's snapshot)."""
    from advisor.config import build_settings
    from analyzers.postgres import beyond_indexes

    settings = build_settings(config or "/nonexistent/perfadvisor.toml")
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        beyond_indexes(section, settings)
        best = min(best, time.perf_counter() - t)
    # writing the evidence they add to snapshot.json (the CLI writes it with json.dumps, indent=2)
    added = {k: section.get(k) for k in ("other_statements", "database_stats", "extended_statistics", "host",
                                         "explain_analyze")}
    added["memory_nodes"] = [s.get("plan", {}).get("memory_nodes") for s in section.get("statements") or []]
    t = time.perf_counter()
    json.dumps(added, indent=2, default=str)
    write_s = time.perf_counter() - t
    return {"beyond_collect_s": (section.get("beyond_indexes_time_s") or 0.0) + write_s, "beyond_rules_s": best}


def _spread(runs: list[dict]) -> str:
    """min–max wall time of the runs, e.g. "5.6–7.1 s"."""
    walls = sorted(r["wall_s"] for r in runs)
    return f"{walls[0]:.1f}–{walls[-1]:.1f} s"


def _median(runs: list[dict]) -> dict:
    """The run with the median wall time."""
    return sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]


def export(rev: str, paths: list[str] | None = None) -> Path:
    """perfadvisor as of `rev`, exported with git archive into a temporary directory; with `paths`, HEAD with
    only those paths as of `rev` (so the comparison leaves out everything else that changed since)."""
    root = Path(__file__).resolve().parent.parent
    tree = Path(tempfile.mkdtemp(prefix=f"bench-{rev[:10]}-"))

    def extract(ref: str, *only: str) -> None:
        archive = subprocess.run(["git", "-C", str(root), "archive", ref, *only], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    if not paths:
        extract(rev)
        return tree
    extract("HEAD")
    for p in paths:
        shutil.rmtree(tree / p, ignore_errors=True)
    extract(rev, *paths)
    return tree


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=200)
    ap.add_argument("--per-table", type=int, default=25)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--port", type=int, default=24601)
    ap.add_argument("--before-rev", default=None, help="also run perfadvisor as of this git revision")
    ap.add_argument("--before-paths", nargs="*", default=None, metavar="PATH",
                    help="with --before-rev: HEAD with only these paths as of that revision")
    ap.add_argument("--explain-analyze", action="store_true", help="add a run with --explain-analyze")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each kind (the median is shown)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    os.chmod(base, 0o755)
    cluster = TempCluster(base / "data", args.port, extra_conf={"pg_stat_statements.max": "10000"})
    cluster.start()
    tree = None
    try:
        cluster.wait_ready()
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
            conn.execute("CREATE EXTENSION pg_stat_statements")
        dsn = cluster.dsn("bench")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        t0 = time.perf_counter()
        build(dsn, args.tables, args.per_table, args.rows)
        with psycopg.connect(dsn) as conn:
            n = conn.execute("SELECT count(*) FROM pg_stat_statements WHERE query NOT LIKE '%%perfadvisor%%' "
                             "AND dbid = (SELECT oid FROM pg_database WHERE datname = 'bench')").fetchone()[0]
        print(f"setup: {args.tables} tables × {args.rows} rows, {n} distinct statements in pg_stat_statements "
              f"({time.perf_counter() - t0:.0f} s)\n")
        cfg = base / "all.toml"
        cfg.write_text("[thresholds.postgres]\nworkload_share = 1.0\nmax_statements = 10000\n")
        runs = [("default (top 95%, ≤500 statements)", None), ("every statement", str(cfg))]
        if args.explain_analyze:
            ea = base / "ea.toml"
            ea.write_text("[targets.postgres]\nexplain_analyze = true\n")
            runs.append(("default + --explain-analyze", str(ea)))
        tree = export(args.before_rev, args.before_paths) if args.before_rev else None
        rows, before = [], {}
        for name, config in runs:
            # interleaved, median of --repeat runs: other work on a shared machine moves single runs a lot
            afters, befores = [], []
            for _ in range(args.repeat):
                afters.append(analyze(dsn, config))
                if tree is not None and not name.endswith("--explain-analyze"):
                    befores.append(analyze(dsn, config, tree))
            rows.append((name, {**_median(afters), "spread": _spread(afters)}))
            if befores:
                before[name] = {**_median(befores), "spread": _spread(befores)}
        head = f"{'run':<38}{'stmts':>7}{'wall s':>9}{'peak MB':>9}{'EXPLAINs':>10}{'EXPLAIN s':>11}{'PG001':>7}{'analysed':>10}"
        print(head)
        print("-" * len(head))
        for name, s in rows:
            print(f"{name:<38}{s['statements']:>7}{s['wall_s']:>9.1f}{s['peak_rss_mb']:>9.0f}{s['explain_calls']:>10}"
                  f"{s['explain_s']:>11.1f}{s['pg001']:>7}{s['analysed']:>10.1%}")
        print("\ntarget: < 60 s wall, < 500 MB peak RSS (issue 2)\n")
        head = (f"{'rules beyond indexes (PG007-PG014)':<38}{'evidence s':>11}{'rules s':>9}{'before s':>10}"
                f"{'after s':>9}{'added':>8}" + (f"{'@' + args.before_rev[:10] + ' s':>15}" if before else ""))
        print(head)
        print("-" * len(head))
        for name, s in rows:
            extra = s["beyond_collect_s"] + s["beyond_rules_s"]
            if s.get("ea_s"):
                print(f"{name:<38}{'':>11}{'':>9}{'':>10}{s['wall_s']:>9.1f}   (--explain-analyze ran "
                      f"{s['ea_s']:.1f} s; opt-in, not in the target)")
                continue
            line = (f"{name:<38}{s['beyond_collect_s']:>11.2f}{s['beyond_rules_s']:>9.2f}{s['wall_s'] - extra:>10.1f}"
                    f"{s['wall_s']:>9.1f}{extra / max(s['wall_s'] - extra, 1e-9):>8.1%}")
            if name in before:
                line += f"{before[name]['wall_s']:>15.1f}   after {s['spread']}, before {before[name]['spread']}"
            print(line)
        print("\nevidence s: the queries they add and writing what they add to snapshot.json; rules s: the rules, "
              "best of 3.\nbefore = after − both.")
        if before:
            what = (f"HEAD but {', '.join(args.before_paths)} as of {args.before_rev}" if args.before_paths
                    else f"perfadvisor as of {args.before_rev}")
            print(f"@{args.before_rev[:10]}: the same run with {what} (median of {args.repeat}, interleaved); "
                  f"wall times on a shared machine vary (load average {os.getloadavg()[0]:.1f} now).")
        print("target: the rules beyond indexes add < 10% to analyze (issue 10)")
    finally:
        cluster.stop(remove=True)
        shutil.rmtree(base, ignore_errors=True)
        if tree is not None:
            shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    main()
