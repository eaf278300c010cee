"""PG007 n-plus-one-queries: a statement run once per row another statement returned.

The signature, from the outside and for any client: a *child* SELECT filters one table on a key by equality
(`WHERE order_id = $1`), and its calls track the rows returned by a *parent* SELECT that outputs those keys
(`SELECT id, … FROM orders WHERE customer_id = $1`): child calls ≈ parent rows over the same span, and the parent
returns several rows per call. The link between the two is confirmed by a foreign key (either direction: the
child filters on the referencing column, or looks up the referenced row by its key), else by column naming
(`order_id` ↔ `orders.id`), which is weaker and marked heuristic.

Same span: the sampling window's pg_stat_statements differences when the snapshot has them
(``activity.statements``, `--sample`), else the cumulative counters since pg_stat_statements was reset; the
finding says which. Hypersistence Optimizer finds N+1 inside a JPA application; this finds it from the
database's counters, for any framework.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from advisor.model import Finding
from analyzers.postgres import ruleutil
from analyzers.postgres.candidates import Catalog, UnparsableStatement, table_uses
from analyzers.postgres.rules import stats_window_hours
from analyzers.postgres.statements import first_keyword, for_sqlglot, is_own

#: A child must have been called at least this often in the span (perfadvisor's convention: fewer calls say
#: little about a ratio). thresholds.postgres.nplus1_min_calls.
MIN_CALLS = 50
#: Child calls / parent rows must lie within [1/(1+t), 1+t] (perfadvisor's convention: other callers of the
#: child push the ratio up, rows the application does not follow pull it down). nplus1_ratio_tolerance.
RATIO_TOLERANCE = 0.2
#: The parent must return at least this many rows per call on average: one row per call is "1+1", not N+1.
#: nplus1_min_fanout.
MIN_FANOUT = 2.0

REFERENCES = ("https://vladmihalcea.com/n-plus-1-query-problem/",
              "https://docs.jboss.org/hibernate/orm/6.4/userguide/html_single/Hibernate_User_Guide.html#fetching",
              ruleutil.DOCS + "functions-comparisons.html#FUNCTIONS-COMPARISONS-ANY-SOME")


@dataclass(frozen=True)
class Counters:
    """One statement's counters over the span."""

    queryid: str
    query: str
    calls: int
    rows: int
    total_exec_time_ms: float


@dataclass(frozen=True)
class Link:
    """The child filters child_table.child_column; the parent outputs parent_table.parent_column."""

    child: tuple[str, str, str]
    parent: tuple[str, str, str]
    via: str               # "foreign key <name>" or "column names"
    foreign_key: bool
    direction: str         # "one-to-many" (child rows per parent row) or "many-to-one" (a lookup per row)


@dataclass(frozen=True)
class Pair:
    parent: Counters
    child: Counters
    link: Link
    ratio: float           # child calls / parent rows


@dataclass(frozen=True)
class Span:
    """Where the counters come from: "window" (sampled differences) or "cumulative"."""

    kind: str
    label: str
    hours: float
    statements: tuple[Counters, ...]

    @property
    def total_calls(self) -> int:
        return sum(s.calls for s in self.statements)

    @property
    def total_exec_time_ms(self) -> float:
        return sum(s.total_exec_time_ms for s in self.statements)


def span_of(section: dict[str, Any]) -> Span:
    """The sampling window's statement differences when present, else the cumulative counters."""
    act = section.get("activity") or {}
    if act.get("statements") and act.get("mode") == "window" and act.get("window_s"):
        rows = [r for r in act["statements"] if not is_own(r["query"])]  # the window counts every statement
        return Span("window", f"the sampling window ({act['window_s']:.0f} s, pg_stat_statements differences)",
                    act["window_s"] / 3600.0, tuple(_counters(r) for r in rows))
    hours, label = stats_window_hours(section)
    return Span("cumulative", f"cumulative pg_stat_statements counters ({label})", hours,
                tuple(_counters(r) for r in ruleutil.all_statements(section)))


def _counters(r: dict[str, Any]) -> Counters:
    return Counters(str(r["queryid"]), r["query"], int(r.get("calls") or 0), int(r.get("rows") or 0),
                    float(r.get("total_exec_time_ms") or 0.0))


def key_filters(query: str, catalog: Catalog) -> list[tuple[str, str, str]]:
    """(schema, table, column) of each plain column a SELECT compares by equality with one parameter."""
    if first_keyword(query) != "select":
        return []
    try:
        uses = table_uses(query, catalog)
    except UnparsableStatement:
        return []
    out = []
    for u in uses:
        cols = catalog.columns.get((u.schema, u.table), {})
        for col, op, params in u.params:
            if op == "eq" and len(params) == 1 and col in cols and (u.schema, u.table, col) not in out:
                out.append((u.schema, u.table, col))
    return out


def outputs(query: str, catalog: Catalog) -> set[tuple[str, str, str]]:
    """(schema, table, column) a SELECT returns in its top-level select list; (schema, table, "*") for a star.
    Empty when it cannot be parsed or is not a SELECT."""
    if first_keyword(query) != "select":
        return set()
    try:
        tree = sqlglot.parse_one(for_sqlglot(query), read="postgres")
    except sqlglot.errors.SqlglotError:
        return set()
    if not isinstance(tree, exp.Select):
        return set()
    scope = _scope(tree, catalog)
    out: set[tuple[str, str, str]] = set()
    for e in tree.expressions:
        e = e.this if isinstance(e, exp.Alias) else e
        if isinstance(e, exp.Star):
            out.update((*t, "*") for t in scope.values())
        elif isinstance(e, exp.Column):
            if isinstance(e.this, exp.Star):
                if e.table in scope:
                    out.add((*scope[e.table], "*"))
                continue
            owner = scope.get(e.table) if e.table else None
            if owner is None and not e.table:
                owners = [t for t in dict.fromkeys(scope.values()) if e.name in catalog.columns.get(t, {})]
                owner = owners[0] if len(owners) == 1 else None
            if owner:
                out.add((*owner, e.name))
    return out


def _scope(select: exp.Select, catalog: Catalog) -> dict[str, tuple[str, str]]:
    """alias (or name) → (schema, table) for the tables in the SELECT's FROM and JOINs."""
    tables = []
    for key in ("from", "from_"):
        f = select.args.get(key)
        if isinstance(f, exp.From) and isinstance(f.this, exp.Table):
            tables.append(f.this)
    tables += [j.this for j in select.args.get("joins") or [] if isinstance(j.this, exp.Table)]
    out = {}
    for t in tables:
        resolved = catalog.resolve(t.db or None, t.name)
        if resolved:
            out[t.alias_or_name] = resolved
    return out


def links_for(child: tuple[str, str, str], section: dict[str, Any], catalog: Catalog) -> list[Link]:
    """How a child's key filter can be fed by another table's rows: through a single-column foreign key in
    either direction, else through column names (`x_id` ↔ table x/xs/xes/…ies `.id`)."""
    schema, table, col = child
    out = []
    for fk in section.get("foreign_keys") or []:
        if len(fk["columns"]) != 1:
            continue
        name = f"foreign key {fk['name']} ({fk['table']}.{fk['columns'][0]} → {fk['ref_table']}.{fk['ref_columns'][0]})"
        if (fk["schema"], fk["table"], fk["columns"][0]) == child:
            out.append(Link(child, (fk["ref_schema"], fk["ref_table"], fk["ref_columns"][0]), name, True,
                            "one-to-many"))
        if (fk["ref_schema"], fk["ref_table"], fk["ref_columns"][0]) == child:
            out.append(Link(child, (fk["schema"], fk["table"], fk["columns"][0]), name, True, "many-to-one"))
    if out:
        return out
    if col.endswith("_id"):
        base = col[:-3]
        names = {base, base + "s", base + "es"} | ({base[:-1] + "ies"} if base.endswith("y") else set())
        for (s, t), cols in catalog.columns.items():
            if t in names and "id" in cols and (s, t) != (schema, table):
                out.append(Link(child, (s, t, "id"), "column names", False, "one-to-many"))
    elif col == "id":
        for singular in _singulars(table):
            for (s, t), cols in catalog.columns.items():
                if f"{singular}_id" in cols and (s, t) != (schema, table):
                    out.append(Link(child, (s, t, f"{singular}_id"), "column names", False, "many-to-one"))
    return out


def _singulars(table: str) -> list[str]:
    out = [table]
    if table.endswith("ies"):
        out.append(table[:-3] + "y")
    if table.endswith("es"):
        out.append(table[:-2])
    if table.endswith("s"):
        out.append(table[:-1])
    return list(dict.fromkeys(out))


#: A write statement whose calls are within this share (or WRITE_LOOP_MIN_CALLS) of a child's runs in step
#: with it: one per item of a write (an order's lines), so the child's calls follow that loop, whatever other
#: statement's rows happen to match (found on the sample stack: a worker's per-order read of order_items
#: matched the back end's per-line `SELECT … FOR UPDATE`).
WRITE_LOOP_SHARE = 0.01
WRITE_LOOP_MIN_CALLS = 2
_WRITES = ("insert", "update", "delete", "merge")


def write_loop(child: Counters, span: Span) -> Counters | None:
    """A write statement that runs in step with `child` (see WRITE_LOOP_SHARE), or None."""
    slack = max(WRITE_LOOP_MIN_CALLS, WRITE_LOOP_SHARE * child.calls)
    for s in span.statements:
        if s.queryid != child.queryid and first_keyword(s.query) in _WRITES and abs(s.calls - child.calls) <= slack:
            return s
    return None


def find_pairs(section: dict[str, Any], th: dict[str, float], span: Span | None = None,
               rejected: list[dict[str, Any]] | None = None) -> list[Pair]:
    """Every N+1 pair in the span, at most one parent per child (the closest ratio, a foreign key first).
    A pair whose child runs in step with a write statement is left out and, when `rejected` is given,
    appended to it with the reason."""
    span = span or span_of(section)
    catalog = ruleutil.catalog_of(section)
    tol = th["nplus1_ratio_tolerance"]
    lo, hi = 1.0 / (1.0 + tol), 1.0 + tol
    parents = [s for s in span.statements if s.calls and s.rows / s.calls >= th["nplus1_min_fanout"]]
    out_memo: dict[str, set] = {}
    pairs = []
    for child in span.statements:
        if child.calls < th["nplus1_min_calls"]:
            continue
        best: tuple[tuple, Pair] | None = None
        for key in key_filters(child.query, catalog):
            for link in links_for(key, section, catalog):
                for p in parents:
                    if p.queryid == child.queryid or not p.rows or not lo <= child.calls / p.rows <= hi:
                        continue
                    if p.queryid not in out_memo:
                        out_memo[p.queryid] = outputs(p.query, catalog)
                    got = out_memo[p.queryid]
                    if link.parent not in got and (*link.parent[:2], "*") not in got:
                        continue
                    ratio = child.calls / p.rows
                    rank = (not link.foreign_key, abs(math.log(ratio)))
                    if best is None or rank < best[0]:
                        best = (rank, Pair(p, child, link, ratio))
        if best:
            loop = write_loop(child, span)
            if loop is None:
                pairs.append(best[1])
            elif rejected is not None:
                rejected.append({"child": child.query, "parent": best[1].parent.query,
                                 "reason": f"the child runs in step with a write ({loop.calls:,} calls of "
                                           f"{loop.query[:80]!r}): a per-item loop of a write, not one query "
                                           "per row of the parent"})
    return pairs


def one_query_sql(child: Counters, column: str) -> str | None:
    """The child's text with its `column = $n` made `column = ANY($n)`: one call for every key at once."""
    pat = re.compile(r'((?:\b\w+\.)?(?:"' + re.escape(column) + r'"|\b' + re.escape(column) + r'\b)\s*=\s*)\$(\d+)\b')
    m = pat.search(child.query)
    if not m:
        return None
    return child.query[:m.start()] + m.group(1) + f"ANY(${m.group(2)})" + child.query[m.end():]


def _framework_hint(link: Link) -> str:
    pt, ct = link.parent[1], link.child[1]
    if link.direction == "one-to-many":
        return (f"JPA/Hibernate: fetch the {ct} with their {pt} in one query — JPQL `… JOIN FETCH p.<{ct} "
                f"collection> …`, or @EntityGraph(attributePaths = \"<{ct} collection>\") on the repository "
                f"method, or @BatchSize(size = 100) on the collection (one IN query per 100 {pt}).\n"
                f"Spring JDBC: collect the {pt}.{link.parent[2]} values, run the {ct} query once with "
                f"`{link.child[2]} IN (:ids)` (NamedParameterJdbcTemplate) or `= ANY(?)` with a SQL array, "
                f"and group the rows by {link.child[2]}.")
    return (f"JPA/Hibernate: JOIN FETCH the {ct} association in the query that loads {pt} (or "
            f"@EntityGraph / @BatchSize on it).\nSpring JDBC: JOIN {ct} in the {pt} statement "
            f"(`JOIN {ct} ON {ct}.{link.child[2]} = {pt}.{link.parent[2]}`), or load the distinct keys once "
            f"with `{link.child[2]} IN (:ids)`.")


def finding(pair: Pair, span: Span) -> Finding:
    """PG007 for one pair (see docs/rules/PG007.md)."""
    p, c, link = pair.parent, pair.child, pair.link
    calls_share = c.calls / span.total_calls if span.total_calls else 0.0
    time_share = c.total_exec_time_ms / span.total_exec_time_ms if span.total_exec_time_ms else 0.0
    fanout = p.rows / p.calls if p.calls else 0.0
    ps, pt, pc = link.parent
    cs, ct, cc = link.child
    one = one_query_sql(c, cc)
    code = ("-- one query for all the keys instead of one per row:\n" + (one or f"… WHERE {cc} = ANY($1) …") +
            f"\n-- ($1: the array of {pt}.{pc} values the parent statement returned; or JOIN {ct} into it)\n\n"
            + _framework_hint(link))
    confirm = (f"The {link.via} confirms the link." if link.foreign_key else
               "No foreign key links the tables; the link is inferred from the column names.")
    detail = (f"The statement on {ct} filtered by {cc} ran {c.calls:,} times while the statement on {pt} returned "
              f"{p.rows:,} rows in {p.calls:,} calls (ratio {pair.ratio:.2f}, about {fanout:.1f} rows per call), "
              f"over {span.label}: the application runs the {ct} query once per {pt} row. {confirm} "
              f"It is {calls_share:.0%} of all statement calls and {time_share:.1%} of their exec time; each call "
              "also costs a round trip that exec time does not show. One query per parent call removes "
              f"{max(c.calls - p.calls, 0):,} calls.")
    return Finding(
        rule="PG007", name="n-plus-one-queries", area="postgres",
        severity=ruleutil.severity_by_share(calls_share),
        confidence="estimated" if link.foreign_key else "heuristic",
        title=f"N+1 queries: {ct} is read once per {pt} row (~{fanout:.0f} queries per {pt} query)",
        detail=detail, key=f"{ps}.{pt}->{cs}.{ct}({cc})",
        evidence={"statements": [ruleutil.statement_row(_as_row(p), role="parent"),
                                 ruleutil.statement_row(_as_row(c), role="child")],
                  "ratio_child_calls_to_parent_rows": round(pair.ratio, 3),
                  "child_calls_per_parent_call": round(c.calls / p.calls, 2) if p.calls else None,
                  "link": link.via, "direction": link.direction, "span": span.kind, "span_label": span.label,
                  "share_of_calls": round(calls_share, 4), "share_of_exec_time": round(time_share, 4)},
        impact={"metric": "statement_calls_per_hour", "before": round(c.calls / span.hours, 1),
                "after": round(p.calls / span.hours, 1), "estimated": True},
        action={"kind": "code_change", "code": code,
                "summary": f"Load the {ct} rows of all {pt} rows in one query (= ANY / IN, or a JOIN)."},
        references=REFERENCES)


def _as_row(c: Counters) -> dict[str, Any]:
    return {"queryid": c.queryid, "query": c.query, "calls": c.calls, "rows": c.rows,
            "total_exec_time_ms": c.total_exec_time_ms}


def findings(section: dict[str, Any], th: dict[str, float]) -> list[Finding]:
    span = span_of(section)
    return [finding(p, span) for p in find_pairs(section, th, span)]

