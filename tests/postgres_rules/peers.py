"""Run the index-advice test cases of other advisors (/work/shared/peers, see its README) through perfadvisor
and count how often perfadvisor's PG001 recommendations agree with the peer's expected indexes.

Each case gets its own database in a throwaway cluster: setup.sql through psql, the statements of
queries.sql through real client connections (parameters bound server-side, as drivers do), then the postgres
analyzer. Usage: ``python -m tests.postgres_rules.peers [--port 24611] [--only dexter/view] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PEERS = Path(os.environ.get("PERFADVISOR_PEERS", "/work/shared/peers"))


@dataclass
class Statement:
    sql: str
    params: dict[int, tuple[str | None, list[str]]] = field(default_factory=dict)
    calls: int = 20
    rollback: bool = False


def parse_queries(text: str) -> list[Statement]:
    """queries.sql → statements with their `-- @` annotations (README: "A case")."""
    out, cur, pending = [], [], Statement("")
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("-- @"):
            word, _, rest = s[4:].partition(" ")
            if word == "param":
                m = re.match(r"\$(\d+)(?::(\w+))?\s*(.*)$", rest)
                pending.params[int(m.group(1))] = (m.group(2), m.group(3).split(" ", 1) if m.group(3) else ["const"])
            elif word == "calls":
                pending.calls = int(rest)
            elif word == "rollback":
                pending.rollback = True
            continue
        if not s and not cur:
            continue
        if s.startswith("--") and not cur:
            continue
        cur.append(line)
        if s.endswith(";"):
            pending.sql = "\n".join(cur).rstrip().rstrip(";")
            out.append(pending)
            cur, pending = [], Statement("")
    return out


def _value(spec: list[str], rnd: random.Random) -> str | None:
    kind = spec[0]
    rest = spec[1] if len(spec) > 1 else ""
    if kind == "int":
        lo, hi = rest.split()
        return str(rnd.randint(int(lo), int(hi)))
    if kind == "choice":
        return rnd.choice(rest.split("|"))
    if kind == "null":
        return None
    return rest  # const


def run_workload(dsn: str, stmts: list[Statement], seed: int = 3) -> None:
    rnd = random.Random(seed)
    with psycopg.connect(dsn, autocommit=True) as conn:
        oids = {}
        for st in stmts:
            types = {t for t, _ in st.params.values() if t}
            for t in types:
                oids[t] = conn.execute("SELECT %s::regtype::oid", (t,)).fetchone()[0]
        for st in stmts:
            n = max(st.params) if st.params else 0
            for _ in range(st.calls):
                values, types = [], []
                for i in range(1, n + 1):
                    t, spec = st.params.get(i, (None, ["null"]))
                    v = _value(spec, rnd)
                    values.append(None if v is None else v.encode())
                    types.append(oids.get(t, 0) if t else 0)
                if st.rollback:
                    conn.pgconn.exec_(b"BEGIN")
                res = conn.pgconn.exec_params(st.sql.encode(), values, types)
                if st.rollback:
                    conn.pgconn.exec_(b"ROLLBACK")
                if res.status not in (1, 2):  # COMMAND_OK, TUPLES_OK
                    raise RuntimeError(f"{st.sql[:80]}: {res.error_message.decode(errors='replace').strip()}")


def _norm(col: str) -> str:
    return col.replace('"', "").strip()


def agreement(expected: dict, report: dict) -> tuple[bool, list, list]:
    """(agrees, expected, got): the PG001 indexes recommended equal the peer's expected set."""
    got = [[f["index"]["table"] if f["index"]["schema"] == "public" else f"{f['index']['schema']}.{f['index']['table']}",
            [_norm(c) for c in f["index"]["columns"]]]
           for f in report["findings"] if f["rule"] == "PG001" and f.get("index")]
    want = [[t, [_norm(c) for c in cols]] for t, cols in expected["indexes"]]
    if len(got) != len(want):
        return False, want, got
    rest = list(got)
    for t, cols in want:
        match = None
        for g in rest:
            if g[0] != t:
                continue
            if not cols or g[1] == cols or (expected.get("any_column_order") and sorted(g[1]) == sorted(cols)):
                match = g
                break
        if match is None:
            return False, want, got
        rest.remove(match)
    return True, want, got


def run_case(case: Path, admin_dsn: str, dsn_for, work: Path) -> dict:
    from tests.postgres_rules.conftest import analyse

    db = "peer_" + re.sub(r"\W", "_", f"{case.parent.name}_{case.name}")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db}")
        conn.execute(f"CREATE DATABASE {db}")
    dsn = dsn_for(db)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    port = re.search(r":(\d+)/", dsn).group(1)
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"dbname={db}", "-v", "pghost=127.0.0.1",
                    "-v", f"pgport={port}", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", db,
                    "-f", str(case / "setup.sql")], check=True, capture_output=True, text=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")
        conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database "
                     "WHERE datname = current_database()), 0)")  # this database's only: others share the cluster
    run_workload(dsn, parse_queries((case / "queries.sql").read_text()))
    extra = ""
    toml = case / "perfadvisor.toml"
    if toml.exists():  # only [thresholds.postgres] keys (README: a peer option with a counterpart)
        extra = "\n".join(line for line in toml.read_text().splitlines() if "=" in line) + "\n"
    out = work / db
    report, snapshot = analyse(dsn, out, explain_analyze=False, extra=extra)
    expected = json.loads((case / "expected.json").read_text())
    ok, want, got = agreement(expected, report)
    stmts = [s for s in snapshot["postgres"]["statements"]]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db}")
    return {"case": f"{case.parent.name}/{case.name}", "agrees": ok, "expected": want, "got": got,
            "disputed": bool(expected.get("disputed")),
            "statements": [{"query": s["query"][:100], "status": s.get("status"), "reason": s.get("reason")}
                           for s in stmts]}


def main(argv: list[str] | None = None) -> int:
    from advisor.pgcluster import TempCluster

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=24611)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    cases = sorted(p for p in PEERS.glob("*/*") if (p / "expected.json").exists())
    if args.only:
        cases = [c for c in cases if f"{c.parent.name}/{c.name}" in args.only]
    base = Path(tempfile.mkdtemp(prefix="perfadvisor-peers-"))
    os.chmod(base, 0o755)
    cluster = TempCluster(base / "data", args.port)
    cluster.start()
    cluster.wait_ready()
    results = []
    try:
        for case in cases:
            try:
                r = run_case(case, cluster.dsn(), cluster.dsn, base / "out")
            except Exception as e:  # a case that fails to run is counted as disagreement, with the error
                r = {"case": f"{case.parent.name}/{case.name}", "agrees": False, "error": str(e)[:300],
                     "disputed": json.loads((case / "expected.json").read_text()).get("disputed") is not None}
            results.append(r)
            mark = "ok " if r["agrees"] else "NO "
            print(f"{mark} {r['case']:45} want={r.get('expected')} got={r.get('got')} {r.get('error', '')}",
                  flush=True)
            for s in r.get("statements", []):
                if s["status"] != "analysed":
                    print(f"      {s['status']}: {s['query'][:60]!r} {s['reason']}", flush=True)
    finally:
        cluster.stop(remove=True)
    counted = [r for r in results if not r["disputed"]]
    print(f"agree {sum(r['agrees'] for r in counted)}/{len(counted)} counted cases "
          f"({sum(r['agrees'] for r in results if r['disputed'])}/{sum(r['disputed'] for r in results)} disputed)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
