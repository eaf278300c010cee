"""EXPLAIN of normalized statements on PostgreSQL 15, and plan walking.

PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN) (added in 16), so a statement with `$n` placeholders is
PREPAREd and its generic plan is shown with `SET plan_cache_mode = force_generic_plan` and
`EXPLAIN EXECUTE s(NULL, …)` (the parameter values do not matter to a generic plan). A prepared statement
keeps its plan, so every costing PREPAREs afresh, and DEALLOCATEs exactly its own name — never
DEALLOCATE ALL, which would break psycopg's own prepared statements.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from analyzers.postgres.statements import OWN_MARKER, param_count, rewrite_typed_literals

#: Types tried, in order, for a parameter whose type PostgreSQL cannot infer and that no column explains.
FALLBACK_TYPES = ("bigint", "numeric", "text", "timestamptz", "interval")
_NO_TYPE = re.compile(r"could not determine data type of parameter \$(\d+)")


class ExplainError(Exception):
    """The statement could not be PREPAREd or EXPLAINed; str() is PostgreSQL's message."""


@dataclass
class Prepared:
    """How a statement is PREPAREd: rewritten text and the parameter types that made it work."""

    text: str
    nparams: int
    param_types: list[str] = field(default_factory=list)  # "" = let PostgreSQL infer
    #: rendered SQL reused by every EXPLAIN of the statement: "as" (types and text), and each values' arguments
    rendered: dict[Any, str] = field(default_factory=dict, repr=False, compare=False)


_names = itertools.count(1)


def _prepare_sql(name: str, prep: Prepared) -> sql.Composable:
    types = [t or "unknown" for t in prep.param_types] if any(prep.param_types) else []
    head = sql.SQL(OWN_MARKER + " PREPARE {}").format(sql.Identifier(name))
    if types:
        head = sql.SQL("{}({})").format(head, sql.SQL(", ").join(sql.SQL(t) for t in types))
    return sql.SQL("{} AS {}\n").format(head, sql.SQL(prep.text))


def _deallocate(conn: psycopg.Connection, name: str) -> None:
    try:
        conn.execute(sql.SQL(OWN_MARKER + " DEALLOCATE {}").format(sql.Identifier(name)))
    except psycopg.Error:
        pass


def prepare(conn: psycopg.Connection, query: str, hinted_types: dict[int, str] | None = None) -> Prepared:
    """Find a way to PREPARE `query`: as written; with types from the columns its parameters are compared
    with (`hinted_types`, {n: type}); then FALLBACK_TYPES for a parameter PostgreSQL names as untyped.

    Raises ExplainError with PostgreSQL's message when no way works.
    """
    prep = Prepared(rewrite_typed_literals(query), param_count(query))
    prep.param_types = [""] * prep.nparams
    tried_hints = False
    attempts = 0
    untyped: list[int] = []  # positions typed by the all-parameters fallback
    all_fallback = -1
    while True:
        attempts += 1
        name = f"perfadvisor_{next(_names)}"
        try:
            conn.execute(_prepare_sql(name, prep))
            _deallocate(conn, name)
            return prep
        except psycopg.Error as e:
            msg = (e.diag.message_primary or str(e)).strip()
            if not tried_hints and hinted_types:
                # e.g. "operator is not unique: unknown + unknown" for `col > $2 + $3`: type the
                # parameters like the columns they are compared with, then try again.
                tried_hints = True
                for k, t in hinted_types.items():
                    if 1 <= k <= prep.nparams and not prep.param_types[k - 1]:
                        prep.param_types[k - 1] = t
                continue
            m = _NO_TYPE.search(msg)
            if attempts > 16:
                raise ExplainError(msg) from None
            if not m:
                # e.g. "function generate_series(unknown, unknown) is not unique": give every parameter
                # still untyped the same fallback type, trying each in turn.
                if "unknown" not in msg:
                    raise ExplainError(msg) from None
                if all_fallback < 0:
                    untyped = [i for i, t in enumerate(prep.param_types) if not t]
                all_fallback += 1
                if not untyped or all_fallback >= len(FALLBACK_TYPES):
                    raise ExplainError(msg) from None
                for i in untyped:
                    prep.param_types[i] = FALLBACK_TYPES[all_fallback]
                continue
            n = int(m.group(1))
            current = prep.param_types[n - 1]
            nxt = FALLBACK_TYPES.index(current) + 1 if current in FALLBACK_TYPES else 0
            if nxt >= len(FALLBACK_TYPES):
                raise ExplainError(msg) from None
            prep.param_types[n - 1] = FALLBACK_TYPES[nxt]


def explain(conn: psycopg.Connection, prep: Prepared, values: list[str | None] | None = None) -> dict[str, Any]:
    """The EXPLAIN (FORMAT JSON) plan of a prepared statement: generic (values None) or custom with
    the given literal values (strings, coerced to each parameter's type). Returns the top "Plan" node.

    Raises ExplainError (e.g. statement_timeout, a relation that no longer exists).
    """
    name = f"perfadvisor_{next(_names)}"
    # One round trip (simple query protocol): SET; PREPARE; EXPLAIN; DEALLOCATE.
    # Newlines between statements: a workload statement may end in a `--` comment.
    batch = _explain_sql(conn, name, prep, values)[0]
    try:
        with conn.cursor() as cur:
            cur.execute(batch, prepare=False)
            docs = _plans_of(cur)
    except psycopg.Error as e:
        _deallocate(conn, name)  # PREPARE is not undone by the failed batch
        raise ExplainError((e.diag.message_primary or str(e)).strip()) from None
    if not docs:  # pragma: no cover - EXPLAIN always returns a row
        raise ExplainError("EXPLAIN returned no plan")
    return docs[-1][0]["Plan"]


#: Statements EXPLAINed per round trip by explain_costs (a larger batch saves little more and loses more work
#: to one failing statement).
BATCH = 64


def _explain_sql(conn: psycopg.Connection, name: str, prep: Prepared, values: list[str | None] | None,
                 mode: str | None = None) -> tuple[str, str]:
    """SET plan_cache_mode (unless `mode` is already it); PREPARE; EXPLAIN EXECUTE; DEALLOCATE for one
    statement (see explain), as SQL text, and the plan_cache_mode it leaves. The statement's own text and
    its arguments are rendered once (Prepared.rendered): this runs for every what-if costing."""
    generic = values is None
    want = "force_generic_plan" if generic else "force_custom_plan"
    if "as" not in prep.rendered:
        types = [t or "unknown" for t in prep.param_types] if any(prep.param_types) else []
        prep.rendered["as"] = (f"({', '.join(types)})" if types else "") + f" AS {prep.text}\n"
    args = prep.rendered.get(tuple(values) if values is not None else None)
    if args is None:
        parts = ["NULL"] * prep.nparams if generic else [
            "NULL" if v is None else sql.Literal(v).as_string(conn) for v in values]
        args = prep.rendered[tuple(values) if values is not None else None] = \
            f"({', '.join(parts)})" if parts else ""
    ident = '"' + name + '"'  # perfadvisor_<n>: nothing to escape
    text = (f"{OWN_MARKER} PREPARE {ident}{prep.rendered['as']}\n;\n"
            f"{OWN_MARKER} EXPLAIN (FORMAT JSON) EXECUTE {ident}{args}\n;\n"
            f"{OWN_MARKER} DEALLOCATE {ident}")
    if mode != want:
        text = f"{OWN_MARKER} SET plan_cache_mode = {want}\n;\n" + text
    return text, want


def _plans_of(cur) -> list[Any]:
    """The EXPLAIN documents of every result set of the last execute, in order."""
    docs = []
    while True:
        if cur.pgresult is not None and cur.description:
            row = cur.fetchone()
            doc = row[0]
            docs.append(json.loads(doc) if isinstance(doc, str) else doc)
        if not cur.nextset():
            return docs


def explain_costs(conn: psycopg.Connection, items: list[tuple[Prepared, list[str | None] | None]]
                  ) -> list[float | ExplainError]:
    """The top plan node's Total Cost (planner units) of each (prepared statement, values) as `explain` gives
    it, BATCH statements per round trip. A batch in which a statement fails is done again one statement at a
    time, so each failing one gets its own ExplainError in its place and the others their cost."""
    out: list[float | ExplainError] = []
    for at in range(0, len(items), BATCH):
        chunk = items[at:at + BATCH]
        names = [f"perfadvisor_{next(_names)}" for _ in chunk]
        parts, mode = [], None
        for name, (prep, values) in zip(names, chunk, strict=True):
            text, mode = _explain_sql(conn, name, prep, values, mode)
            parts.append(text)
        batch = "\n;\n".join(parts)
        try:
            with conn.cursor() as cur:
                cur.execute(batch, prepare=False)
                docs = _plans_of(cur)
            if len(docs) != len(chunk):  # pragma: no cover - one EXPLAIN result per statement
                raise ExplainError("EXPLAIN returned no plan")
            out.extend(float(d[0]["Plan"]["Total Cost"]) for d in docs)
        except (psycopg.Error, ExplainError):
            # a failed batch leaves the PREPAREs before the failure (PREPARE is not transactional)
            left = conn.execute(OWN_MARKER + " SELECT name FROM pg_prepared_statements WHERE name = ANY(%s)",
                                (names,)).fetchall()
            for (name,) in left:
                _deallocate(conn, name)
            for prep, values in chunk:
                try:
                    out.append(float(explain(conn, prep, values)["Total Cost"]))
                except ExplainError as e:
                    out.append(e)
    return out


def walk(plan: dict[str, Any]):
    """Every node of a plan, depth first."""
    yield plan
    for child in plan.get("Plans", []) or []:
        yield from walk(child)


def indexes_used(plan: dict[str, Any]) -> list[str]:
    """Names of the indexes a plan scans (Index Scan, Index Only Scan, Bitmap Index Scan)."""
    return sorted({n["Index Name"] for n in walk(plan) if n.get("Index Name")})


def seq_scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """[{relation, filter, plan_rows}] for each Seq Scan node."""
    return [{"relation": n.get("Relation Name"), "filter": n.get("Filter"), "plan_rows": n.get("Plan Rows")}
            for n in walk(plan) if n.get("Node Type") == "Seq Scan"]


def filtered_scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """[{relation, node_type, filter}] for each scan node that filters rows after reading them."""
    return [{"relation": n.get("Relation Name"), "node_type": n.get("Node Type"), "filter": n["Filter"]}
            for n in walk(plan) if n.get("Relation Name") and n.get("Filter")]


def summary(plan: dict[str, Any]) -> dict[str, Any]:
    """The few facts of a plan the snapshot keeps: total cost, indexes used, scans and their filters."""
    return {"total_cost": plan.get("Total Cost"), "indexes_used": indexes_used(plan),
            "seq_scans": seq_scans(plan), "filtered_scans": filtered_scans(plan),
            "node_type": plan.get("Node Type")}
