"""`perfadvisor apply`: turn a report's findings into files a person can review and commit.

Artifacts (in --out):

- ``migration.sql``  CREATE/DROP INDEX CONCURRENTLY … IF [NOT] EXISTS, each preceded by a comment with its
  finding id; safe to run twice. Plain CREATE INDEX where CONCURRENTLY cannot be used (partitioned tables).
- ``spring.env``     environment variables in Spring Boot's relaxed-binding form, one per line
  (``docker compose --env-file``, systemd ``EnvironmentFile=``, ``set -a; . spring.env``).
- ``application-perfadvisor.properties``  the same settings as properties (a ``perfadvisor`` Spring profile).
- ``redis.conf``     maxmemory / maxmemory-policy lines, with where they go.
- ``nginx.conf``     the front end's server-block snippets, with where they go.
- ``code-hints.md``  what only a person can change (a lazy route, a JOIN instead of N+1, a @Cacheable).
- ``apply.json``     every line written, the finding it comes from, and what it is expected to move.

Nothing runs against a target unless ``execute`` is given (``--execute --pg DSN``): then migration.sql's
statements run one at a time on an autocommit session with lock_timeout and statement_timeout, and a CREATE INDEX
CONCURRENTLY that fails leaves no INVALID index behind (PostgreSQL docs, CREATE INDEX, "Building Indexes
Concurrently": a failed build leaves an invalid index that must be dropped).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import InputFileError, TargetError
from advisor.model import REPORT_SCHEMA_VERSION, severity_rank

#: Files apply writes, in the order they are listed to the user.
ARTIFACTS = ("migration.sql", "spring.env", "application-perfadvisor.properties", "redis.conf", "nginx.conf",
             "code-hints.md", "apply.json")
#: lock_timeout of --execute (ms): a CREATE INDEX CONCURRENTLY waits for older transactions, a DROP for a lock;
#: neither should queue the application's queries behind it for long.
EXECUTE_LOCK_TIMEOUT_MS = 5000
#: statement_timeout of --execute (ms): building an index on a large table takes minutes.
EXECUTE_STATEMENT_TIMEOUT_MS = 30 * 60 * 1000
_MAX_IDENT = 63  # PostgreSQL's NAMEDATALEN - 1


@dataclass
class Line:
    """One line (or statement) written to an artifact and where it came from."""

    file: str
    text: str
    finding: str
    rule: str
    expects: dict[str, Any]


@dataclass
class Plan:
    """What apply writes: lines per artifact, the findings used and those left out (with why)."""

    lines: list[Line] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    hints: list[dict[str, Any]] = field(default_factory=list)

    def statements(self) -> list[Line]:
        return [ln for ln in self.lines if ln.file == "migration.sql"]


def read_report(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """(the report.json path, its document) for report.json or the directory holding it, without the version
    check (`perfadvisor diff` compares two reports' versions itself). Raises InputFileError naming the file when
    it is missing, not JSON or not a perfadvisor report."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputFileError(f"report {p}: cannot read it ({e.strerror or e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputFileError(f"report {p}: not a JSON report.json ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("tool"), dict) \
            or data["tool"].get("name") != "perfadvisor" or not isinstance(data.get("findings"), list):
        raise InputFileError(f"report {p}: not a perfadvisor report.json (no tool.name \"perfadvisor\" and "
                             "findings); give the report.json that `perfadvisor analyze` wrote, or its directory")
    return p, data


def load_report(path: str | Path) -> dict[str, Any]:
    """report.json (or the directory holding it). Raises InputFileError naming the file when it is missing,
    not JSON, not a perfadvisor report, or of another schema_version."""
    p, data = read_report(path)
    if data.get("schema_version") != REPORT_SCHEMA_VERSION:
        raise InputFileError(f"report {p}: schema_version {data.get('schema_version')!r} is not supported "
                             f"(this perfadvisor reads {REPORT_SCHEMA_VERSION}); run `perfadvisor analyze` again")
    return data


def _selected(f: dict[str, Any], only: tuple[str, ...]) -> bool:
    if only:
        return f.get("id") in only or f.get("rule") in only
    return severity_rank(f.get("severity", "info")) < severity_rank("info")


def index_name(f: dict[str, Any]) -> str:
    """A stable, valid index name for a recommended index: table_cols_idx, cut to 63 bytes with a short hash of
    the finding id so two recommendations never collide."""
    ix = f["index"]
    cols = "_".join(re.sub(r"[^a-z0-9]+", "_", c.lower()).strip("_") for c in ix["columns"]) or "expr"
    base = re.sub(r"[^a-z0-9_]+", "_", f"{ix['table'].lower()}_{cols}").strip("_")
    digest = hashlib.sha1(f["id"].encode()).hexdigest()[:6]
    room = _MAX_IDENT - len("_pa_idx") - len(digest) - 1
    return f"{base[:room]}_{digest}_pa_idx"


def _quote(ident: str) -> str:
    return ident if re.fullmatch(r"[a-z_][a-z0-9_$]*", ident) else '"' + ident.replace('"', '""') + '"'


def _index_sql(f: dict[str, Any]) -> list[str]:
    """Idempotent statements for a create_index/drop_index finding."""
    act, ix = f["action"], f.get("index") or {}
    sql = act.get("sql", "")
    if act["kind"] == "drop_index":
        conc = " CONCURRENTLY" if "CONCURRENTLY" in sql.upper() else ""
        return [f"DROP INDEX{conc} IF EXISTS {_quote(ix['schema'])}.{_quote(ix['name'])};"]
    out = [s.strip().rstrip(";") + ";" for s in sql.split(";") if s.strip().upper().startswith("CREATE EXTENSION")]
    create = next((s.strip() for s in sql.split(";") if s.strip().upper().startswith("CREATE INDEX")), None)
    if not create:
        return out
    m = re.match(r"CREATE\s+INDEX(\s+CONCURRENTLY)?\s+(?:IF\s+NOT\s+EXISTS\s+\S+\s+)?ON\s+(.*)$", create, re.I | re.S)
    if not m:
        return out + [create + ";"]
    return out + [f"CREATE INDEX{m.group(1) or ''} IF NOT EXISTS {_quote(index_name(f))} ON {m.group(2)};"]


def _expects(f: dict[str, Any]) -> dict[str, Any]:
    """What applying a finding should move, for the validation step (which metric, which endpoints)."""
    ev, rule = f.get("evidence") or {}, f.get("rule", "")
    if rule.startswith("PG"):
        return {"metric": "mean_exec_time_ms", "queryids": [s.get("queryid") for s in ev.get("statements") or []],
                "endpoints": "those running these statements"}
    if rule.startswith("POOL"):
        return {"metric": "hikaricp_connections_acquire_seconds (mean) and every endpoint's p95",
                "pool": ev.get("pool"), "endpoints": "all"}
    if rule.startswith("CACHE"):
        uri = ev.get("uri")
        return {"metric": "cache hit ratio" if not uri else "p95 latency", "cache": ev.get("cache"),
                "endpoints": [uri] if uri else "those reading this cache"}
    if rule.startswith("PROFILE"):
        return {"metric": "the hot function's share of py-spy samples, and the process's CPU per unit of work",
                "function": ev.get("function"), "endpoints": "those whose work this process does"}
    if rule.startswith(("CDN", "FE")):
        return {"metric": "first page load: bytes transferred and load time", "endpoints": ["/"]}
    return {"metric": (f.get("impact") or {}).get("metric"), "endpoints": "unknown"}


def plan(report: dict[str, Any], only: tuple[str, ...] = ()) -> Plan:
    """Which lines go into which artifact. Findings of severity info are left out unless named in `only`
    (an id or a rule code)."""
    p = Plan()
    known = {f.get("id") for f in report["findings"]} | {f.get("rule") for f in report["findings"]}
    missing = [o for o in only if o not in known]
    if missing:
        raise InputFileError(f"--only {', '.join(missing)}: no finding has that id or rule in the report")
    for f in report["findings"]:
        act = f.get("action") or {}
        kind = act.get("kind")
        if not _selected(f, only):
            p.skipped.append({"id": f["id"], "why": f"severity {f.get('severity')} (name it with --only)"})
            continue
        if kind == "none":
            p.skipped.append({"id": f["id"], "why": "no action to take"})
            continue
        add = _adder(p, f)
        if kind in ("create_index", "drop_index"):
            for stmt in _index_sql(f):
                add("migration.sql", stmt)
        elif kind == "set_property" and act.get("property"):
            add("spring.env", f"{act.get('env') or _env(act['property'])}={act['value']}")
            add("application-perfadvisor.properties", f"{act['property']}={act['value']}")
        elif kind == "config" and act.get("redis_conf"):
            for line in act["redis_conf"]:
                add("redis.conf", str(line))
        elif kind == "config" and "nginx" in str(act.get("file", "")).lower() and act.get("snippet"):
            add("nginx.conf", act["snippet"])
        else:
            p.hints.append(f)
            add("code-hints.md", f.get("title", ""))
        p.used.append(f["id"])
    return p


def _env(prop: str) -> str:
    from analyzers.cache.rules import env_name

    return env_name(prop)


def _adder(p: Plan, f: dict[str, Any]):
    def add(file: str, text: str) -> None:
        p.lines.append(Line(file, text, f["id"], f["rule"], _expects(f)))
    return add


def write(p: Plan, report: dict[str, Any], out_dir: Path, source: str) -> list[Path]:
    """Write every artifact that has content (and apply.json always). Returns the paths written. Raises
    InputFileError when out_dir cannot be written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputFileError(f"output directory {out_dir}: cannot write there ({e.strerror or e})") from None
    by_file: dict[str, list[Line]] = {}
    for ln in p.lines:
        by_file.setdefault(ln.file, []).append(ln)
    titles = {f["id"]: f.get("title", "") for f in report["findings"]}
    written = []
    renderers = {"migration.sql": _migration, "spring.env": _comment_file("#"),
                 "application-perfadvisor.properties": _comment_file("#"), "redis.conf": _redis_conf,
                 "nginx.conf": _nginx_conf, "code-hints.md": lambda lines, t: _hints(p.hints)}
    for name in ARTIFACTS[:-1]:
        if name in by_file:
            path = out_dir / name
            path.write_text(renderers[name](by_file[name], titles), encoding="utf-8")
            written.append(path)
    doc = {"kind": "perfadvisor-apply", "schema_version": 1, "report": source,
           "report_generated_at": report.get("generated_at"),
           "files": sorted({ln.file for ln in p.lines}),
           "lines": [{"file": ln.file, "text": ln.text, "finding": ln.finding, "rule": ln.rule,
                      "expects": ln.expects} for ln in p.lines],
           "used": p.used, "skipped": p.skipped}
    (out_dir / "apply.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    written.append(out_dir / "apply.json")
    return written


def _header(comment: str, what: str) -> list[str]:
    return [f"{comment} Written by `perfadvisor apply` from a perfadvisor report. {what}", ""]


def _grouped(lines: list[Line], titles: dict[str, str], comment: str, what: str) -> str:
    """The header, then each finding's lines under one comment with its id and title."""
    out = _header(comment, what)
    last = None
    for ln in lines:
        if ln.finding != last:
            out.append(f"{comment} {ln.finding}: {_one_line(titles.get(ln.finding, ''))}")
            last = ln.finding
        out.append(ln.text)
    return "\n".join(out) + "\n"


def _migration(lines: list[Line], titles: dict[str, str]) -> str:
    return _grouped(lines, titles, "--", "Review, then run it outside a transaction block (CREATE INDEX "
                    "CONCURRENTLY cannot run inside BEGIN … COMMIT): psql -v ON_ERROR_STOP=1 -f migration.sql. "
                    "Safe to run twice.")


def _comment_file(comment: str):
    def render(lines: list[Line], titles: dict[str, str]) -> str:
        out = _header(comment, "One setting per line.")
        for ln in lines:
            out += [f"{comment} {ln.finding}: {_one_line(titles.get(ln.finding, ''))}", ln.text]
        return "\n".join(out) + "\n"
    return render


def _redis_conf(lines: list[Line], titles: dict[str, str]) -> str:
    return _grouped(lines, titles, "#", "Add these lines to redis.conf and restart Redis, or apply them live "
                    "with `redis-cli CONFIG SET <name> <value>` (and `CONFIG REWRITE` to keep them).")


def _nginx_conf(lines: list[Line], titles: dict[str, str]) -> str:
    out = _header("#", "These go in the server { … } block that serves the front end; check with `nginx -t`, "
                       "then `nginx -s reload`.")
    seen: set[str] = set()
    for ln in lines:
        out.append(f"# {ln.finding}: {_one_line(titles.get(ln.finding, ''))}")
        if ln.text in seen:
            out.append("# (same snippet as above)")
            continue
        seen.add(ln.text)
        out += [ln.text, ""]
    return "\n".join(out) + "\n"


def _hints(findings: list[dict[str, Any]]) -> str:
    out = ["# Changes only a person can make", "",
           "Written by `perfadvisor apply`. Each comes from a finding of the report; its evidence is there.", ""]
    for f in findings:
        act = f.get("action") or {}
        out += [f"## {f['rule']} {f.get('name', '')}: {_one_line(f.get('title', ''))}", "",
                f"Finding `{f['id']}` · severity {f.get('severity')} · confidence {f.get('confidence')}", "",
                f.get("detail", ""), ""]
        if act.get("file"):
            out += [f"In `{act['file']}`:", ""]
        for key in ("summary", "sql", "code", "snippet"):
            if act.get(key):
                fence = "```sql" if key == "sql" else "```"
                out += [fence, str(act[key]), "```", ""] if key != "summary" else [str(act[key]), ""]
    return "\n".join(out)


def _one_line(text: str, limit: int = 150) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[:limit - 1] + "…"


@dataclass
class Executed:
    statement: str
    finding: str
    ok: bool
    message: str
    duration_s: float


def execute(p: Plan, dsn: str, echo=print, statement_timeout_ms: int = EXECUTE_STATEMENT_TIMEOUT_MS,
            lock_timeout_ms: int = EXECUTE_LOCK_TIMEOUT_MS) -> list[Executed]:
    """Run migration.sql's statements one at a time (autocommit, lock_timeout, statement_timeout) and return
    each result; a failed CREATE INDEX CONCURRENTLY's INVALID index is dropped. Raises TargetError when the
    database cannot be reached (nothing has run then)."""
    import time

    import psycopg

    from advisor.config import redact_dsn

    shown = redact_dsn(dsn)
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10, application_name="perfadvisor-apply",
                               options=f"-c statement_timeout={int(statement_timeout_ms)} "
                                       f"-c lock_timeout={int(lock_timeout_ms)}")
    except psycopg.Error as e:
        raise TargetError(f"PostgreSQL {shown}: cannot connect to apply the migration "
                          f"({str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__})") from None
    results = []
    with conn:
        for ln in p.statements():
            t0 = time.perf_counter()
            try:
                conn.execute(ln.text)
                ok, msg = True, "done"
            except psycopg.Error as e:
                ok, msg = False, (str(e).strip().splitlines() or [type(e).__name__])[0]
                msg += _drop_invalid(conn, ln.text)
            results.append(Executed(ln.text, ln.finding, ok, msg, time.perf_counter() - t0))
            echo(f"  {'ok  ' if ok else 'FAIL'} {ln.finding}: {_one_line(ln.text, 110)}"
                 + ("" if ok else f" — {msg}"))
    return results


def record_execution(out_dir: Path, results: list[Executed]) -> None:
    """Add the results of --execute to apply.json (`executed`: statement, finding, ok, message, duration_s)."""
    path = out_dir / "apply.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["executed"] = [{"statement": r.statement, "finding": r.finding, "ok": r.ok, "message": r.message,
                        "duration_s": round(r.duration_s, 3)} for r in results]
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _drop_invalid(conn, statement: str) -> str:
    """After a failed CREATE INDEX CONCURRENTLY … name: drop the INVALID index it left, if any."""
    import psycopg

    m = re.match(r"CREATE INDEX CONCURRENTLY IF NOT EXISTS (\S+) ON (\S+?)\.", statement)
    if not m:
        return ""
    name, schema = m.group(1).strip('"'), m.group(2).strip('"')
    try:
        row = conn.execute("SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = %s AND n.nspname = %s",
                           (name, schema)).fetchone()
        if row and row[0]:
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(schema)}.{_quote(name)}")
            return f" (the INVALID index {name} it left was dropped)"
    except psycopg.Error as e:
        return f" (its INVALID index {name} could not be dropped: {str(e).strip().splitlines()[0]})"
    return ""
