"""The database side of the sampling window: connections and the write rate of each table.

Read-only and light: one session with statement_timeout, three catalog queries per sample. What it feeds:
the pool rules (max_connections against every application instance's pool, connections per
application_name) and the cache rules (a cache's staleness bound from the update rate of the table behind
it). pg_stat_statements is read once at the start and once at the end of the window, so rules can use the
calls each statement made *in the window* (not since the statistics were reset).

Snapshot: ``snapshot["postgres"]["activity"]``::

    {"max_connections": 100, "superuser_reserved_connections": 3, "reserved_connections": null,
     "server_cores": null, "server_is_local": true,   # loopback or a Unix socket: this machine's cores "mode": "window" | "since_start", "window_s": 60.0,
     "connections": [{"application_name": "shop-backend", "state": "idle", "count": 10}, …],   # last sample
     "peak_connections": {"shop-backend": 10, …},       # most connections seen per application_name
     "table_writes": [{"schema": "public", "table": "products", "n_tup_ins": 0, "n_tup_upd": 12,
                       "n_tup_del": 0, "writes_per_s": 0.2}, …],   # differences over the window
     "statements": [{"queryid": "…", "query": "…", "calls": 120, "rows": 1200,
                     "total_exec_time_ms": 35.1}, …],              # differences over the window
     "series": {"t_s": […], "series": {"pg_connections{application_name=\"x\",state=\"active\"}": […], …}},
     "error": null | "one line"}

In since_start mode (``--sample 0``) the differences are totals since the statistics were last reset.
A backend's table counters reach pg_stat_user_tables within 1 s while it is busy and within 10 s once idle
(PostgreSQL 15 src/backend/utils/activity/pgstat.c, PGSTAT_MIN_INTERVAL / PGSTAT_IDLE_INTERVAL), so a rate
over a window of a minute or more is what the rules rely on, not one sample.
"""

from __future__ import annotations

from typing import Any

import psycopg

from advisor.config import Settings, redact_dsn
from advisor.errors import TargetError
from analyzers.postgres.statements import OWN_MARKER

_SETTINGS_SQL = OWN_MARKER + """ SELECT name, setting FROM pg_settings
 WHERE name IN ('max_connections', 'superuser_reserved_connections', 'reserved_connections')"""
_CONNECTIONS_SQL = OWN_MARKER + """ SELECT coalesce(application_name, '') AS application_name,
 coalesce(state, 'unknown') AS state, count(*)::int AS count
 FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
 GROUP BY 1, 2"""
_TABLES_SQL = OWN_MARKER + """ SELECT schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del
 FROM pg_stat_user_tables"""
_STATEMENTS_SQL = OWN_MARKER + """ SELECT queryid::text AS queryid, query, calls, rows, total_exec_time
 FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"""
#: At most this many statements are kept in the snapshot (those with the most calls in the window).
MAX_WINDOW_STATEMENTS = 500


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class PgActivitySource:
    """A sampling source (advisor/sampling.py) over one read-only session."""

    def __init__(self, dsn: str, statement_timeout_ms: int) -> None:
        self.dsn = dsn
        self.timeout_ms = statement_timeout_ms
        self.name = f"postgres {redact_dsn(dsn)}"
        self.conn: psycopg.Connection | None = None
        self.tables_start: dict[tuple[str, str], tuple[int, int, int]] = {}
        self.statements_start: dict[str, dict[str, Any]] | None = None

    def _rows(self, sql: str) -> list[tuple]:
        try:
            return self.conn.execute(sql).fetchall()
        except psycopg.Error as e:
            raise TargetError(f"{self.name}: {str(e).strip().splitlines()[0]}") from None

    def open(self) -> dict[str, Any]:
        from analyzers.postgres.collect import connect

        self.conn = connect(self.dsn, self.timeout_ms)
        facts = {k: int(v) for k, v in self._rows(_SETTINGS_SQL)}
        self.tables_start = self._tables()
        self.statements_start = self._statements()
        host = self.conn.info.host or ""
        return {"server_is_local": host.startswith(("/", "127.", "localhost")) or host == "::1",
                "max_connections": facts.get("max_connections"),
                "superuser_reserved_connections": facts.get("superuser_reserved_connections"),
                "reserved_connections": facts.get("reserved_connections")}

    def _tables(self) -> dict[tuple[str, str], tuple[int, int, int]]:
        return {(s, t): (i or 0, u or 0, d or 0) for s, t, i, u, d in self._rows(_TABLES_SQL)}

    def _statements(self) -> dict[str, dict[str, Any]] | None:
        try:
            rows = self.conn.execute(_STATEMENTS_SQL).fetchall()
        except psycopg.Error:  # pg_stat_statements absent or not readable: the window goes on without it
            return None
        return {q: {"query": text, "calls": c, "rows": r, "total_exec_time_ms": t}
                for q, text, c, r, t in rows}

    def sample(self) -> dict[str, float]:
        if self.conn is None:
            raise TargetError(f"{self.name}: not connected")
        out: dict[str, float] = {}
        for app, state, count in self._rows(_CONNECTIONS_SQL):
            out[f'pg_connections{{application_name="{_label(app)}",state="{_label(state)}"}}'] = float(count)
        writes = sum(i + u + d for i, u, d in self._tables().values())
        out["pg_stat_user_tables_n_tup_written_total"] = float(writes)
        return out

    def close(self) -> dict[str, Any]:
        if self.conn is None:
            return {}
        try:
            tables = self._tables()
            statements = self._statements()
        finally:
            self.conn.close()
            self.conn = None
        return {"tables_end": [[s, t, *v] for (s, t), v in tables.items()],
                "tables_start": [[s, t, *v] for (s, t), v in self.tables_start.items()],
                "statements": _statement_deltas(self.statements_start, statements)}

    def headline(self, prev: dict[str, float] | None, cur: dict[str, float], dt_s: float) -> str:
        conns = sum(v for k, v in cur.items() if k.startswith("pg_connections{"))
        active = sum(v for k, v in cur.items() if k.startswith("pg_connections{") and 'state="active"' in k)
        return f"db {active:.0f}/{conns:.0f} active"


def _statement_deltas(start: dict | None, end: dict | None) -> list[dict[str, Any]] | None:
    if end is None:
        return None
    start = start or {}
    out = []
    for qid, e in end.items():
        s = start.get(qid, {"calls": 0, "rows": 0, "total_exec_time_ms": 0.0})
        calls = e["calls"] - s["calls"]
        if calls > 0:
            out.append({"queryid": qid, "query": e["query"], "calls": calls, "rows": e["rows"] - s["rows"],
                        "total_exec_time_ms": round(e["total_exec_time_ms"] - s["total_exec_time_ms"], 3)})
    out.sort(key=lambda r: -r["calls"])
    return out[:MAX_WINDOW_STATEMENTS]


def section(window, rec) -> dict[str, Any]:
    """The ``activity`` part of the postgres section from the window and this source's Recording."""
    since_start = window.mode == "since_start"
    opened, closed = rec.opened or {}, rec.closed or {}
    window_s = window.duration_s if not since_start else None
    series = rec.series()
    last = rec.samples[-1] if rec.samples else {}
    connections, peak = [], {}
    for key, value in last.items():
        if key.startswith("pg_connections{"):
            app, state = _parse_labels(key)
            connections.append({"application_name": app, "state": state, "count": int(value)})
    for sample in rec.samples:
        per_app: dict[str, float] = {}
        for key, v in sample.items():
            if key.startswith("pg_connections{"):
                app = _parse_labels(key)[0]
                per_app[app] = per_app.get(app, 0) + (v or 0)
        for app, n in per_app.items():
            peak[app] = max(peak.get(app, 0), int(n))
    writes = []
    start = {(s, t): (i, u, d) for s, t, i, u, d in closed.get("tables_start", [])}
    for s, t, i, u, d in closed.get("tables_end", []):
        i0, u0, d0 = (0, 0, 0) if since_start else start.get((s, t), (0, 0, 0))
        row = {"schema": s, "table": t, "n_tup_ins": i - i0, "n_tup_upd": u - u0, "n_tup_del": d - d0}
        total = row["n_tup_ins"] + row["n_tup_upd"] + row["n_tup_del"]
        row["writes_per_s"] = round(total / window_s, 4) if window_s else None
        writes.append(row)
    writes.sort(key=lambda r: -(r["n_tup_upd"] + r["n_tup_del"] + r["n_tup_ins"]))
    return {**{k: opened.get(k) for k in ("max_connections", "superuser_reserved_connections",
                                          "reserved_connections", "server_is_local")},
            "server_cores": None, "mode": window.mode, "window_s": window_s,
            "connections": sorted(connections, key=lambda c: (c["application_name"], c["state"])),
            "peak_connections": peak, "table_writes": writes,
            "statements": closed.get("statements"), "series": series,
            "error": rec.error_line()}


def _parse_labels(key: str) -> tuple[str, str]:
    import re

    m = re.fullmatch(r'pg_connections\{application_name="((?:[^"\\]|\\.)*)",state="((?:[^"\\]|\\.)*)"\}', key)
    if not m:
        return key, "unknown"
    unescape = lambda v: v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")  # noqa: E731
    return unescape(m.group(1)), unescape(m.group(2))


def sources(settings: Settings) -> list[PgActivitySource]:
    """One source for the configured database when a window is requested."""
    dsn = settings.target("postgres").get("dsn")
    return [PgActivitySource(dsn, settings.statement_timeout_ms)] if dsn and settings.sample_s is not None else []
