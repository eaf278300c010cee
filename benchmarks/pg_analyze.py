"""Benchmark: `perfadvisor analyze` on a database with 5,000 distinct statements over 200 tables.

Target (issue 2): under 60 s on this machine (2 cores), peak memory under 500 MB. Prints a table with the
wall time, peak RSS, EXPLAIN calls and the time spent in them, for the default settings (top 95% of
exec time, at most 500 statements) and for every statement (workload_share 1.0, max_statements 5000).

    python benchmarks/pg_analyze.py [--tables 200] [--per-table 25] [--port 24601]
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def analyze(dsn: str, config: str | None) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-report-"))
    cmd = [sys.executable, "-c",
           "import resource, sys, time, json; from advisor.cli import cli; t=time.perf_counter();\n"
           "try:\n  cli(sys.argv[1:], standalone_mode=False)\nfinally:\n"
           "  print(json.dumps({'wall_s': time.perf_counter()-t, 'peak_rss_mb': "
           "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}), file=sys.stderr)",
           "analyze", "--pg", dsn, "--out", str(out), "-q"]
    if config:
        cmd += ["--config", config]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    stats = json.loads(res.stderr.strip().splitlines()[-1])
    snap = json.loads((out / "snapshot.json").read_text())["postgres"]
    report = json.loads((out / "report.json").read_text())
    stats.update(statements=snap["workload"]["selected_count"], explain_calls=snap["whatif"]["explain_calls"],
                 explain_s=snap["whatif"]["explain_time_s"], findings=len(report["findings"]),
                 pg001=sum(f["rule"] == "PG001" for f in report["findings"]),
                 analysed=report["coverage"]["postgres"]["analysed_share"])
    return stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=200)
    ap.add_argument("--per-table", type=int, default=25)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--port", type=int, default=24601)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    os.chmod(base, 0o755)
    cluster = TempCluster(base / "data", args.port, extra_conf={"pg_stat_statements.max": "10000"})
    cluster.start()
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
        rows = [("default (top 95%, ≤500 statements)", analyze(dsn, None)),
                ("every statement", analyze(dsn, str(cfg)))]
        head = f"{'run':<38}{'stmts':>7}{'wall s':>9}{'peak MB':>9}{'EXPLAINs':>10}{'EXPLAIN s':>11}{'PG001':>7}{'analysed':>10}"
        print(head)
        print("-" * len(head))
        for name, s in rows:
            print(f"{name:<38}{s['statements']:>7}{s['wall_s']:>9.1f}{s['peak_rss_mb']:>9.0f}{s['explain_calls']:>10}"
                  f"{s['explain_s']:>11.1f}{s['pg001']:>7}{s['analysed']:>10.1%}")
        print("\ntarget: < 60 s wall, < 500 MB peak RSS (issue 2)")
    finally:
        cluster.stop(remove=True)


if __name__ == "__main__":
    main()
