"""Candidate indexes from a statement's text (sqlglot), resolved to tables through aliases and the catalog.

Columns are taken from equality/IN/IS NULL, range (<, <=, >, >=, BETWEEN), join, ORDER BY and GROUP BY
positions. Multi-column candidates are ordered equality → range → sort, the order in which a B-tree can
use them (PostgreSQL docs, 11.3 "Multicolumn Indexes": equality on leading columns, then one inequality).
A function wrapping a column (`lower(email) = $1`) gives an expression candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from advisor.model import IndexSpec
from analyzers.postgres.statements import for_sqlglot, quote_ident, split_direction

#: Widest candidate we propose. Dexter stops at 2 columns; a third (equality, equality, range/sort) is
#: common in ORM queries, so we allow 3. Override: thresholds.postgres.max_index_columns.
MAX_INDEX_COLUMNS = 3

_EQ = (exp.EQ, exp.NullSafeEQ)
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)


@dataclass
class TableUse:
    """How one statement uses one table: the columns (or expressions) in each position, in text order."""

    schema: str
    table: str
    eq: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    join: list[str] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    #: columns searched with LIKE/ILIKE (a B-tree rarely helps; pg_trgm's GIN index does).
    pattern: list[str] = field(default_factory=list)
    #: [(column, operator, [placeholder numbers])] for representative-value EXPLAINs.
    params: list[tuple[str, str, list[int]]] = field(default_factory=list)

    def add(self, bucket: str, col: str) -> None:
        lst = getattr(self, bucket)
        if col not in lst:
            lst.append(col)


@dataclass
class Catalog:
    """The parts of the catalog candidate generation needs.

    columns: {(schema, table): {column: type}}; search_path: schemas tried for unqualified names.
    n_distinct: {(schema, table, column): estimated distinct values (positive count)}.
    """

    columns: dict[tuple[str, str], dict[str, str]]
    search_path: list[str] = field(default_factory=lambda: ["public"])
    n_distinct: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def resolve(self, schema: str | None, name: str) -> tuple[str, str] | None:
        if schema:
            return (schema, name) if (schema, name) in self.columns else None
        for s in self.search_path:
            if (s, name) in self.columns:
                return (s, name)
        return None


class UnparsableStatement(Exception):
    """sqlglot could not parse the statement; the message says why."""


def _conjuncts(e: exp.Expression | None):
    if e is None:
        return
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.And):
        yield from _conjuncts(e.this)
        yield from _conjuncts(e.expression)
    else:
        yield e


def _sources(node: exp.Expression, catalog: Catalog, unresolved: list[str] | None = None,
             ctes: frozenset[str] = frozenset()) -> dict[str, tuple[str, str]]:
    """alias (or table name) → (schema, table) for the tables read directly by this SELECT/UPDATE/DELETE."""
    tables: list[exp.Table] = []
    for key in ("from", "from_", "using"):
        arg = node.args.get(key)
        for t in (arg if isinstance(arg, list) else [arg]):
            if isinstance(t, exp.From):
                t = t.this
            if isinstance(t, exp.Table):
                tables.append(t)
    if isinstance(node, exp.Update | exp.Delete) and isinstance(node.this, exp.Table):
        tables.append(node.this)
    for j in node.args.get("joins") or []:
        if isinstance(j.this, exp.Table):
            tables.append(j.this)
    out = {}
    for t in tables:
        resolved = catalog.resolve(t.db or None, t.name)
        if resolved:
            out[t.alias_or_name] = resolved
        elif unresolved is not None and t.name and t.name not in ctes:
            unresolved.append(f"{t.db}.{t.name}" if t.db else t.name)
    return out


def _column_target(e: exp.Expression, scopes: list[dict[str, tuple[str, str]]], catalog: Catalog):
    """(schema, table, column-or-expression text) when `e` is a column, or a function of exactly one column."""
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.Cast) and isinstance(e.this, exp.Column):
        e = e.this  # col::type compares like the column for our purpose
    cols = list(e.find_all(exp.Column))
    if len(cols) != 1 or e.find(exp.Placeholder, exp.Parameter, exp.Subquery, exp.Select) is not None:
        return None
    col = cols[0]
    table = _resolve_column(col, scopes, catalog)
    if table is None:
        return None
    if e is col:
        return (*table, col.name)
    if not isinstance(e, exp.Func):
        return None
    bare = e.copy()
    for c in list(bare.find_all(exp.Column)):
        c.replace(exp.Column(this=c.this.copy()))  # drop the table qualifier, keep the quoting
    return (*table, bare.sql("postgres", normalize_functions="lower"))


def _resolve_column(col: exp.Column, scopes, catalog: Catalog):
    for sources in reversed(scopes):  # innermost first, then correlated outer scopes
        if col.table:
            if col.table in sources:
                return sources[col.table]
            continue
        owners = [st for st in dict.fromkeys(sources.values()) if col.name in catalog.columns.get(st, {})]
        if len(owners) == 1:
            return owners[0]
        if owners:
            return None
    return None


def _is_bare_placeholder(e: exp.Expression) -> bool:
    while isinstance(e, exp.Paren | exp.Cast):
        e = e.this
    return isinstance(e, exp.Placeholder)


def _placeholders_in(e: exp.Expression, uncast_only: bool = False) -> list[int]:
    nums = []
    for p in e.find_all(exp.Placeholder):
        if uncast_only and isinstance(p.parent, exp.Cast):
            continue
        name = str(p.this or "")
        if name.startswith("p") and name[1:].isdigit():
            nums.append(int(name[1:]))
    return nums


def _classify(pred: exp.Expression, scopes, catalog: Catalog, uses: dict) -> None:
    def use(target):
        return uses.setdefault(target[:2], TableUse(*target[:2]))

    if isinstance(pred, _EQ + _RANGE):
        left, right = _column_target(pred.this, scopes, catalog), _column_target(pred.expression, scopes, catalog)
        if isinstance(pred, _EQ) and left and right and left[:2] != right[:2]:
            use(left).add("join", left[2])
            use(right).add("join", right[2])
            return
        for target, other in ((left, pred.expression), (right, pred.this)):
            if target and not (other.find(exp.Column) and _touches(other, target[:2], scopes, catalog)):
                u = use(target)
                u.add("eq" if isinstance(pred, _EQ) else "range", target[2])
                # A bare placeholder takes a column value; inside arithmetic it only hints at a type.
                if _is_bare_placeholder(other):
                    u.params.append((target[2], type(pred).__name__.lower(), _placeholders_in(other)))
                else:  # explicitly cast placeholders (`now() - $2::interval`) need no type hint
                    u.params.append((target[2], "expr", [n for n in _placeholders_in(other, uncast_only=True)]))
                return
    elif isinstance(pred, exp.In):
        target = _column_target(pred.this, scopes, catalog)
        if target and not pred.args.get("query"):
            use(target).add("eq", target[2])
    elif isinstance(pred, exp.Is):
        target = _column_target(pred.this, scopes, catalog)
        if target:
            use(target).add("eq", target[2])
    elif isinstance(pred, exp.Like | exp.ILike | exp.Escape):
        escape = pred.expression if isinstance(pred, exp.Escape) else None
        if escape is not None:
            pred = pred.this
            if not isinstance(pred, exp.Like | exp.ILike):
                return
        target = _column_target(pred.this, scopes, catalog)
        if target:
            u = use(target)
            u.add("pattern", target[2])
            if _is_bare_placeholder(pred.expression):
                u.params.append((target[2], "like", _placeholders_in(pred.expression)))
            if escape is not None and _is_bare_placeholder(escape):
                u.params.append((target[2], "escape", _placeholders_in(escape)))
    elif isinstance(pred, exp.Between):
        target = _column_target(pred.this, scopes, catalog)
        if target:
            u = use(target)
            u.add("range", target[2])
            u.params.append((target[2], "between",
                             _placeholders_in(pred.args["low"]) + _placeholders_in(pred.args["high"])))


def _touches(e: exp.Expression, table: tuple[str, str], scopes, catalog: Catalog) -> bool:
    return any(_resolve_column(c, scopes, catalog) == table for c in e.find_all(exp.Column))


def _ordered(node: exp.Expression, key: str, scopes, catalog: Catalog):
    """The ORDER BY / GROUP BY expressions as (table, [col]) when they all belong to one table."""
    arg = node.args.get(key)
    if not arg:
        return None
    items = [o.this if isinstance(o, exp.Ordered) else o for o in arg.expressions]
    targets = [_column_target(i, scopes, catalog) for i in items]
    if not targets or any(t is None for t in targets) or len({t[:2] for t in targets}) != 1:
        return None
    cols = []
    for t, o in zip(targets, arg.expressions, strict=True):
        cols.append(t[2] + (" DESC" if isinstance(o, exp.Ordered) and o.args.get("desc") and len(targets) > 1
                            and any(x.args.get("desc") != o.args.get("desc") for x in arg.expressions) else ""))
    return targets[0][:2], cols


def table_uses(query: str, catalog: Catalog, unresolved: list[str] | None = None) -> list[TableUse]:
    """How the statement uses each table it reads. Names that are not tables of the catalog (views,
    set-returning functions, temporary tables) are appended to `unresolved`. Raises UnparsableStatement."""
    try:
        tree = sqlglot.parse_one(for_sqlglot(query), read="postgres")
    except sqlglot.errors.SqlglotError as e:
        raise UnparsableStatement(str(e).splitlines()[0][:200]) from None
    if tree is None:
        raise UnparsableStatement("empty statement")
    uses: dict[tuple[str, str], TableUse] = {}
    ctes = frozenset(c.alias_or_name for c in tree.find_all(exp.CTE))
    _walk(tree, [], catalog, uses, unresolved, ctes)
    if unresolved is not None:
        unresolved[:] = list(dict.fromkeys(unresolved))
    return list(uses.values())


def _walk(node: exp.Expression, scopes, catalog: Catalog, uses: dict, unresolved=None,
          ctes: frozenset[str] = frozenset()) -> None:
    if isinstance(node, exp.Select | exp.Update | exp.Delete):
        scopes = [*scopes, _sources(node, catalog, unresolved, ctes)]
        conds = list(_conjuncts(node.args.get("where").this if node.args.get("where") else None))
        for j in node.args.get("joins") or []:
            conds.extend(_conjuncts(j.args.get("on")))
        for pred in conds:
            _classify(pred, scopes, catalog, uses)
        for key, bucket in (("order", "sort"), ("group", "group")):
            found = _ordered(node, key, scopes, catalog)
            if found:
                u = uses.setdefault(found[0], TableUse(*found[0]))
                for c in found[1]:
                    u.add(bucket, c)
    for child in node.iter_expressions():
        _walk(child, scopes, catalog, uses, unresolved, ctes)


def _by_selectivity(cols: list[str], use: TableUse, catalog: Catalog) -> list[str]:
    # More distinct values first: the most selective equality column leads (pghero/Dexter do the same).
    return sorted(cols, key=lambda c: -catalog.n_distinct.get((use.schema, use.table, c), 0.0))


def column_sql(col: str, use: TableUse, catalog: Catalog) -> str:
    """A TableUse entry as SQL text: a column name quoted as quote_ident() would (keeping a trailing DESC),
    or an expression as sqlglot wrote it."""
    cols = catalog.columns.get((use.schema, use.table), {})
    if col in cols:
        return quote_ident(col)
    if col.endswith(" DESC") and col[:-5] in cols:
        return quote_ident(col[:-5]) + " DESC"
    return col


def candidates_for(use: TableUse, catalog: Catalog, max_columns: int = MAX_INDEX_COLUMNS) -> list[IndexSpec]:
    """Candidate indexes for one table use: singles, then equality → range / equality → sort composites.
    Columns are SQL text (see column_sql)."""
    eq = _by_selectivity(use.eq, use, catalog)
    out: list[tuple[str, ...]] = []

    def add(cols):
        cols = tuple(dict.fromkeys(c for c in cols if c))[:max_columns]
        if cols and cols not in out:
            out.append(cols)

    for c in [*eq, *use.range, *use.join]:
        add([c])
    if eq:
        add(eq)
    for r in use.range[:1]:
        add([*eq, r])
    if use.sort:
        add([*eq, *use.sort])
        if use.range and use.sort[0].split()[0] != use.range[0]:
            add([*eq, use.range[0]])
    if use.group and not use.sort:
        add([*eq, *use.group])
    for j in use.join:
        if eq:
            add([j, *eq])
    return [IndexSpec(use.schema, use.table, tuple(column_sql(c, use, catalog) for c in cols)) for cols in out]


def covered_by_existing(cand: IndexSpec, existing: list[dict]) -> dict | None:
    """The existing index (snapshot dict) that already provides `cand`: a valid, non-partial index of the
    same method on the same table whose key columns start with the candidate's columns."""
    for idx in existing:
        if (idx["schema"], idx["table"]) != (cand.schema, cand.table) or not idx.get("valid", True):
            continue
        if idx.get("predicate") or idx.get("method") != cand.method:
            continue
        keys = [split_direction(k)[0] for k in index_key_parts(idx)]
        if keys[:len(cand.columns)] == [split_direction(c)[0] for c in cand.columns]:
            return idx
    return None


def index_key_parts(idx: dict) -> list[str]:
    """The key columns of an index as written in its definition, with operator class, collation and
    ASC/DESC/NULLS (`email text_pattern_ops`, `id DESC`), parsed from pg_get_indexdef()."""
    definition = idx.get("definition") or ""
    m = re.search(r" USING \w+ \(", definition)
    if not m:
        return list(idx.get("columns") or [])
    parts, depth, quoted, cur = [], 0, False, ""
    for ch in definition[m.end():]:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            if depth == 0:
                break
            depth -= 1
        elif not quoted and ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    parts.append(cur.strip())
    return parts[:len(idx.get("columns") or parts)]
