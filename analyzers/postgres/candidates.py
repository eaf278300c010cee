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
    #: views ("schema.name") through which the statement reads this table.
    views: list[str] = field(default_factory=list)

    def add(self, bucket: str, col: str) -> None:
        lst = getattr(self, bucket)
        if col not in lst:
            lst.append(col)


@dataclass
class Catalog:
    """The parts of the catalog candidate generation needs.

    columns: {(schema, table): {column: type}} of tables, partitioned tables and materialized views, columns
    in attnum order; search_path: schemas tried for unqualified names.
    n_distinct: {(schema, table, column): estimated distinct values (positive count)}.
    views: {(schema, view): definition (pg_get_viewdef)}; others: {(schema, name): what it is, e.g.
    "a foreign table"} for relations that can carry no index.
    """

    columns: dict[tuple[str, str], dict[str, str]]
    search_path: list[str] = field(default_factory=lambda: ["public"])
    n_distinct: dict[tuple[str, str, str], float] = field(default_factory=dict)
    views: dict[tuple[str, str], str] = field(default_factory=dict)
    others: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, schema: str | None, name: str) -> tuple[str, str] | None:
        return self._find(self.columns, schema, name)

    def _find(self, where: dict, schema: str | None, name: str) -> tuple[str, str] | None:
        if schema:
            return (schema, name) if (schema, name) in where else None
        for s in self.search_path:
            if (s, name) in where:
                return (s, name)
        return None


class UnparsableStatement(Exception):
    """sqlglot could not parse the statement; the message says why."""


#: Nesting of views/CTEs/subqueries followed when resolving a column (a guard against cycles).
_MAX_DEPTH = 16


@dataclass(eq=False)
class Derived:
    """A row source that is not a table: a view's definition, a CTE or a subquery in FROM/JOIN/LATERAL.
    fence: why a predicate outside it cannot reach its base tables (a materialized CTE), else None."""

    query: exp.Expression
    name: str
    kind: str
    fence: str | None = None
    sources: dict | None = None


@dataclass
class _Ctx:
    catalog: Catalog
    unresolved: list[str] | None
    ctes: dict[str, exp.CTE]
    cte_refs: dict[str, int]
    #: predicates that touch a table's column but gave no candidate, with the reason
    skipped: list[str] = field(default_factory=list)
    view_stack: tuple[str, ...] = ()
    walked_views: set[str] = field(default_factory=set)


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


def _source_items(node: exp.Expression) -> list[exp.Expression]:
    items: list[exp.Expression] = []
    for key in ("from", "from_", "using"):
        arg = node.args.get(key)
        for t in (arg if isinstance(arg, list) else [arg]):
            if isinstance(t, exp.From):
                t = t.this
            if isinstance(t, exp.Expression):
                items.append(t)
    if isinstance(node, exp.Update | exp.Delete) and isinstance(node.this, exp.Table):
        items.append(node.this)
    items.extend(j.this for j in node.args.get("joins") or [])
    return items


def _sources(node: exp.Expression, ctx: _Ctx) -> dict[str, tuple[str, str] | Derived]:
    """alias (or table name) → (schema, table) or Derived, for the relations read directly by this
    SELECT/UPDATE/DELETE. What is neither (a set-returning function, a foreign table…) goes to
    ctx.unresolved with what it is."""
    out: dict[str, tuple[str, str] | Derived] = {}
    for t in _source_items(node):
        alias = t.alias_or_name
        if isinstance(t, exp.Lateral | exp.Subquery):
            inner = t.this if isinstance(t, exp.Lateral) else t
            if isinstance(inner, exp.Subquery):
                inner = inner.this
            if isinstance(inner, exp.Query):
                out[alias] = Derived(inner, alias, "subquery")
            elif ctx.unresolved is not None:
                ctx.unresolved.append(f"{alias} (a set-returning function)")
            continue
        if not isinstance(t, exp.Table):
            continue
        if not isinstance(t.this, exp.Identifier):
            if ctx.unresolved is not None:
                fn = t.this.sql("postgres").split("(")[0].lower() if t.this is not None else "?"
                ctx.unresolved.append(f"{fn}() (a set-returning function)")
            continue
        src = _table_source(t, ctx)
        if src is not None:
            out[alias] = src
    return out


def _table_source(t: exp.Table, ctx: _Ctx) -> tuple[str, str] | Derived | None:
    cat, name, schema = ctx.catalog, t.name, t.db or None
    if not schema and name in ctx.ctes:
        cte = ctx.ctes[name]
        mat = cte.args.get("materialized")
        fence = None
        # PostgreSQL 12+ inlines a CTE referenced once unless MATERIALIZED; one referenced more than once is
        # materialized unless NOT MATERIALIZED (docs 7.8.3 "Common Table Expression Materialization").
        if mat is True or (mat is None and ctx.cte_refs.get(name, 0) > 1):
            fence = f"CTE {name} is materialized, so a condition outside it cannot use an index of its tables"
        return Derived(cte.this, name, "cte", fence)
    resolved = cat.resolve(schema, name)
    if resolved:
        return resolved
    view = cat._find(cat.views, schema, name)
    if view:
        try:
            tree = sqlglot.parse_one(for_sqlglot(cat.views[view]), read="postgres")
        except sqlglot.errors.SqlglotError:
            tree = None
        if isinstance(tree, exp.Query):
            return Derived(tree, f"{view[0]}.{view[1]}", "view")
    if ctx.unresolved is not None:
        shown = f"{schema}.{name}" if schema else name
        other = cat._find(cat.others, schema, name)
        if other:
            what = cat.others[other]
        elif schema in ("pg_catalog", "information_schema") or name.startswith("pg_"):
            what = "a system catalog"
        elif view:
            what = "a view whose definition could not be parsed"
        else:
            what = "not in the catalog: a temporary table, or a schema outside the search_path"
        ctx.unresolved.append(f"{shown} ({what})")
    return None


def _inner_sources(d: Derived, ctx: _Ctx) -> dict:
    if d.sources is None:
        q = d.query
        while isinstance(q, exp.Union | exp.Subquery):  # a UNION: its first branch names the columns
            q = q.this
        d.sources = _sources(q, ctx) if isinstance(q, exp.Select) else {}
    return d.sources


def _first_select(q: exp.Expression) -> exp.Select | None:
    while isinstance(q, exp.Union | exp.Subquery):
        q = q.this
    return q if isinstance(q, exp.Select) else None


def _is_star(p: exp.Expression) -> bool:
    return isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))


def _through(src, name: str, ctx: _Ctx, depth: int):
    """(schema, table, column, views) behind output column `name` of a source, or None."""
    if isinstance(src, tuple):
        return (*src, name, ()) if name in ctx.catalog.columns.get(src, {}) else None
    if depth > _MAX_DEPTH or src.fence or not isinstance(src.query, exp.Select):
        if src.fence:
            ctx.skipped.append(src.fence)
        return None  # a UNION's column is several columns: no single index serves it
    q = src.query
    inner = _inner_sources(src, ctx)
    star = False
    for p in q.expressions:
        if _is_star(p):
            star = True
        elif p.alias_or_name == name:
            expr = p.unalias()
            if not isinstance(expr, exp.Column):
                return None
            found = _resolve_column(expr, [inner], ctx, depth + 1)
            break
    else:
        found = _resolve_column(exp.column(name), [inner], ctx, depth + 1) if star else None
    if found and src.kind == "view":
        found = (*found[:3], (src.name, *found[3]))
    return found


def _has_column(src, name: str, ctx: _Ctx, depth: int = 0) -> bool:
    if isinstance(src, tuple):
        return name in ctx.catalog.columns.get(src, {})
    q = _first_select(src.query)
    if q is None or depth > _MAX_DEPTH:
        return False
    for p in q.expressions:
        if p.alias_or_name == name and not _is_star(p):
            return True
    return any(_is_star(p) for p in q.expressions) and any(
        _has_column(s, name, ctx, depth + 1) for s in _inner_sources(src, ctx).values())


def _resolve_column(col: exp.Column, scopes, ctx: _Ctx, depth: int = 0):
    """(schema, table, column, views) of a column reference, through views, CTEs and subqueries."""
    for sources in reversed(scopes):  # innermost first, then correlated outer scopes
        if col.table:
            if col.table in sources:
                return _through(sources[col.table], col.name, ctx, depth)
            continue
        owners = [s for s in {id(s): s for s in sources.values()}.values()
                  if _has_column(s, col.name, ctx, depth)]
        if len(owners) == 1:
            return _through(owners[0], col.name, ctx, depth)
        if owners:
            return None
    return None


def _column_target(e: exp.Expression, scopes, ctx: _Ctx):
    """(schema, table, column-or-expression text, views) when `e` is a column, or a function of exactly one
    column."""
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.Cast) and isinstance(e.this, exp.Column):
        e = e.this  # col::type compares like the column for our purpose
    cols = list(e.find_all(exp.Column))
    if len(cols) != 1 or e.find(exp.Placeholder, exp.Parameter, exp.Subquery, exp.Select) is not None:
        return None
    col = cols[0]
    found = _resolve_column(col, scopes, ctx)
    if found is None:
        return None
    schema, table, name, views = found
    if e is col:
        return (schema, table, name, views)
    if not isinstance(e, exp.Func):
        return None
    bare = e.copy()
    for c in list(bare.find_all(exp.Column)):
        ident = c.this.copy() if name == c.name else exp.to_identifier(name)
        c.replace(exp.Column(this=ident))  # drop the table qualifier, keep the quoting
    return (schema, table, bare.sql("postgres", normalize_functions="lower"), views)


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


def _use(uses: dict, target, ctx: _Ctx) -> TableUse:
    u = uses.setdefault(target[:2], TableUse(*target[:2]))
    for v in (*ctx.view_stack, *target[3]):
        u.add("views", v)
    return u


def _classify(pred: exp.Expression, scopes, ctx: _Ctx, uses: dict, fixed: dict, pairs: list) -> None:
    """Record the columns of one conjunct. fixed: {target: params} of columns equal to a value; pairs:
    column = column across two tables (for carrying equalities across joins)."""
    use = lambda target: _use(uses, target, ctx)  # noqa: E731
    if isinstance(pred, _EQ + _RANGE):
        left, right = _column_target(pred.this, scopes, ctx), _column_target(pred.expression, scopes, ctx)
        if isinstance(pred, _EQ) and left and right and left[:2] != right[:2]:
            use(left).add("join", left[2])
            use(right).add("join", right[2])
            pairs.append((left, right))
            return
        for target, other in ((left, pred.expression), (right, pred.this)):
            if target and not (other.find(exp.Column) and _touches(other, target[:2], scopes, ctx)):
                u = use(target)
                u.add("eq" if isinstance(pred, _EQ) else "range", target[2])
                # A bare placeholder takes a column value; inside arithmetic it only hints at a type.
                if _is_bare_placeholder(other):
                    u.params.append((target[2], type(pred).__name__.lower(), _placeholders_in(other)))
                else:  # explicitly cast placeholders (`now() - $2::interval`) need no type hint
                    u.params.append((target[2], "expr", [n for n in _placeholders_in(other, uncast_only=True)]))
                if isinstance(pred, _EQ) and not other.find(exp.Column):
                    fixed.setdefault(target[:3], (target, _placeholders_in(other) if _is_bare_placeholder(other)
                                                  else []))
                return
    elif isinstance(pred, exp.In):
        target = _column_target(pred.this, scopes, ctx)
        query = pred.args.get("query")
        if target and not query:
            use(target).add("eq", target[2])
            return
        if target and query is not None:  # a semi-join: both sides are looked up by the other
            use(target).add("join", target[2])
            inner = _first_select(query.this if isinstance(query, exp.Subquery) else query)
            if inner is not None and len(inner.expressions) == 1:
                other = _column_target(inner.expressions[0].unalias(), [*scopes, _sources(inner, ctx)], ctx)
                if other:
                    use(other).add("join", other[2])
            return
    elif isinstance(pred, exp.Is):
        target = _column_target(pred.this, scopes, ctx)
        if target:
            use(target).add("eq", target[2])
            return
    elif isinstance(pred, exp.Like | exp.ILike | exp.Escape):
        escape = pred.expression if isinstance(pred, exp.Escape) else None
        if escape is not None:
            pred = pred.this
            if not isinstance(pred, exp.Like | exp.ILike):
                return
        target = _column_target(pred.this, scopes, ctx)
        if target:
            u = use(target)
            u.add("pattern", target[2])
            if _is_bare_placeholder(pred.expression):
                u.params.append((target[2], "like", _placeholders_in(pred.expression)))
            if escape is not None and _is_bare_placeholder(escape):
                u.params.append((target[2], "escape", _placeholders_in(escape)))
            return
    elif isinstance(pred, exp.Between):
        target = _column_target(pred.this, scopes, ctx)
        if target:
            u = use(target)
            u.add("range", target[2])
            u.params.append((target[2], "between",
                             _placeholders_in(pred.args["low"]) + _placeholders_in(pred.args["high"])))
            return
    elif isinstance(pred, exp.Exists | exp.Not | exp.Boolean):
        return  # EXISTS: its subquery is walked as a scope of its own
    _note_skipped(pred, scopes, ctx)


def _note_skipped(pred: exp.Expression, scopes, ctx: _Ctx) -> None:
    """Say why a condition on a table's column gave no candidate (shown when the statement gets none)."""
    if not any(_resolve_column(c, scopes, ctx) for c in pred.find_all(exp.Column)):
        return
    text = re.sub(r"%\(p(\d+)\)s", r"$\1", pred.sql("postgres"))[:80]
    if isinstance(pred, exp.Or):
        why = "an OR of conditions (no single B-tree serves it)"
    elif any(isinstance(p.parent, exp.JSONExtract | exp.JSONExtractScalar | exp.JSONBExtract
                        | exp.JSONBExtractScalar) for p in pred.find_all(exp.Placeholder)):
        why = "filters on a JSON key the normalized text hides (pg_stat_statements replaced the key with $n)"
    elif pred.find(exp.Placeholder) and any(
            isinstance(f, exp.Func) and f.find(exp.Placeholder) and f.find(exp.Column) for f in pred.find_all(exp.Func)):
        why = "an expression whose constants the normalized text hides, so its index cannot be written"
    else:
        why = "not a column or a function of one column compared with a value"
    ctx.skipped.append(f"{text}: {why}")


def _touches(e: exp.Expression, table: tuple[str, str], scopes, ctx: _Ctx) -> bool:
    return any((_resolve_column(c, scopes, ctx) or (None, None))[:2] == table for c in e.find_all(exp.Column))


def _output_item(node: exp.Expression, item: exp.Expression, sources: dict, ctx: _Ctx, prefer_output: bool):
    """An ORDER BY / GROUP BY item with output positions (`ORDER BY 1`, also of `SELECT *`) and output
    aliases (`ORDER BY u`) replaced by the expression behind them (PostgreSQL docs, SELECT "ORDER BY
    Clause": a bare name is an output column name first; for GROUP BY an input column first)."""
    outputs = list(node.expressions) if isinstance(node, exp.Select) else []
    if isinstance(item, exp.Literal) and item.is_int:
        expanded = []
        for p in outputs:
            if _is_star(p):
                for alias, src in sources.items():
                    if isinstance(src, tuple):
                        expanded.extend(exp.column(c, table=alias) for c in ctx.catalog.columns.get(src, {}))
                    else:
                        q = _first_select(src.query)
                        expanded.extend(exp.column(o.alias_or_name, table=alias) for o in (q.expressions if q else [])
                                        if not _is_star(o))
            else:
                expanded.append(p.unalias())
        n = int(item.name)
        return expanded[n - 1] if 1 <= n <= len(expanded) else item
    if isinstance(item, exp.Column) and not item.table:
        aliased = [p.this for p in outputs if isinstance(p, exp.Alias) and p.alias == item.name]
        if aliased and (prefer_output or not any(_has_column(s, item.name, ctx) for s in sources.values())):
            return aliased[0]
    return item


def _ordered(node: exp.Expression, key: str, scopes, ctx: _Ctx):
    """The ORDER BY / GROUP BY expressions as (target, [col]) when they all belong to one table."""
    arg = node.args.get(key)
    if not arg:
        return None
    items = [_output_item(node, o.this if isinstance(o, exp.Ordered) else o, scopes[-1], ctx, key == "order")
             for o in arg.expressions]
    targets = [_column_target(i, scopes, ctx) for i in items]
    if not targets or any(t is None for t in targets) or len({t[:2] for t in targets}) != 1:
        return None
    cols = []
    for t, o in zip(targets, arg.expressions, strict=True):
        cols.append(t[2] + (" DESC" if isinstance(o, exp.Ordered) and o.args.get("desc") and len(targets) > 1
                            and any(x.args.get("desc") != o.args.get("desc") for x in arg.expressions) else ""))
    return targets[0], cols


@dataclass
class Extraction:
    """What table_uses found: the uses, names that are not tables (with what they are), and conditions that
    touch a table's column but gave no candidate (with why)."""

    uses: list[TableUse]
    unresolved: list[str]
    skipped: list[str]


def extract(query: str, catalog: Catalog) -> Extraction:
    """table_uses with its side findings. Raises UnparsableStatement."""
    try:
        tree = sqlglot.parse_one(for_sqlglot(query), read="postgres")
    except sqlglot.errors.SqlglotError as e:
        raise UnparsableStatement(str(e).splitlines()[0][:200]) from None
    if tree is None:
        raise UnparsableStatement("empty statement")
    ctes = {c.alias_or_name: c for c in tree.find_all(exp.CTE)}
    refs: dict[str, int] = {}
    for t in tree.find_all(exp.Table):
        if not t.db and t.name in ctes:
            refs[t.name] = refs.get(t.name, 0) + 1
    ctx = _Ctx(catalog, [], ctes, refs)
    uses: dict[tuple[str, str], TableUse] = {}
    _walk(tree, [], ctx, uses)
    return Extraction(list(uses.values()), list(dict.fromkeys(ctx.unresolved)), list(dict.fromkeys(ctx.skipped)))


def table_uses(query: str, catalog: Catalog, unresolved: list[str] | None = None) -> list[TableUse]:
    """How the statement uses each table it reads, through views, CTEs and subqueries. Names that are not
    tables (set-returning functions, foreign tables, temporary tables) are appended to `unresolved` as
    "name (what it is)". Raises UnparsableStatement."""
    found = extract(query, catalog)
    if unresolved is not None:
        unresolved[:] = list(dict.fromkeys([*unresolved, *found.unresolved]))
    return found.uses


def _carry_equalities(fixed: dict, pairs: list, uses: dict, ctx: _Ctx) -> None:
    """`a.id = $1 AND b.a_id = a.id` makes b.a_id an equality too (the planner derives it from its
    equivalence classes: PostgreSQL src/backend/optimizer/README, "EquivalenceClasses")."""
    changed = True
    while changed:
        changed = False
        for left, right in pairs:
            for a, b in ((left, right), (right, left)):
                if a[:3] in fixed and b[:3] not in fixed:
                    fixed[b[:3]] = (b, fixed[a[:3]][1])
                    u = _use(uses, b, ctx)
                    u.add("eq", b[2])
                    if fixed[a[:3]][1]:
                        u.params.append((b[2], "eq", fixed[a[:3]][1]))
                    changed = True


def _walk(node: exp.Expression, scopes, ctx: _Ctx, uses: dict) -> None:
    if isinstance(node, exp.Select | exp.Update | exp.Delete):
        sources = _sources(node, ctx)
        scopes = [*scopes, sources]
        conds = list(_conjuncts(node.args.get("where").this if node.args.get("where") else None))
        for j in node.args.get("joins") or []:
            conds.extend(_conjuncts(j.args.get("on")))
        fixed: dict = {}
        pairs: list = []
        for pred in conds:
            _classify(pred, scopes, ctx, uses, fixed, pairs)
        _carry_equalities(fixed, pairs, uses, ctx)
        for key, bucket in (("order", "sort"), ("group", "group")):
            found = _ordered(node, key, scopes, ctx)
            if found:
                u = _use(uses, found[0], ctx)
                for c in found[1]:
                    u.add(bucket, c)
        for src in sources.values():  # a view's own conditions apply to its base tables too
            if isinstance(src, Derived) and src.kind == "view" and src.name not in ctx.walked_views \
                    and len(ctx.view_stack) < _MAX_DEPTH:
                ctx.walked_views.add(src.name)
                outer = ctx.view_stack
                ctx.view_stack = (*outer, src.name)
                _walk(src.query, [], ctx, uses)
                ctx.view_stack = outer
    for child in node.iter_expressions():
        if isinstance(child, exp.Returning):
            continue  # RETURNING reads the changed rows; it filters nothing
        _walk(child, scopes, ctx, uses)


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
