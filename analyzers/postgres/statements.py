"""Normalized statements as pg_stat_statements stores them: placeholders, typed literals, kinds.

pg_stat_statements replaces constants by `$n`, including typed literals (`interval '1 day'` → `interval $2`),
which PREPARE rejects; we rewrite those to `$2::interval` (see design.md, "Pitfalls").
"""

from __future__ import annotations

import re

# Type names that can precede a literal in SQL's `type 'string'` syntax.
# Source: PostgreSQL docs, 4.1.2.7 "Constants of Other Types" (type 'string').
_TYPED_LITERAL = re.compile(
    r"\b(interval|timestamptz|timestamp(?:\s+with(?:out)?\s+time\s+zone)?|date|time(?:tz)?|numeric|"
    r"bigint|integer|int[248]?|smallint|real|double\s+precision|float[48]?|boolean|bool|text|varchar|uuid|"
    r"jsonb?|inet|cidr|money|bytea)\s+\$(\d+)\b",
    re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\$(\d+)\b")
_LEADING_COMMENTS = re.compile(r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*", re.DOTALL)

#: Marker on every statement perfadvisor itself sends, so its own work is never part of the workload.
OWN_MARKER = "/* perfadvisor */"

# First keyword → kind. EXPLAIN can cost SELECT, INSERT … SELECT, UPDATE, DELETE (and MERGE).
_EXPLAINABLE = {"select", "with", "update", "delete", "insert", "table", "values"}


#: pg_stat_statements replaces the field of `extract(year FROM col)` with a placeholder, `EXTRACT($2 FROM col)`,
#: which no PREPARE accepts (the grammar wants a keyword there). `date_part($2, col)` is the same function
#: call in function syntax (PostgreSQL docs 9.9.1: "date_part is the traditional Postgres equivalent to
#: extract"), so the statement can be prepared and costed (issue 11).
_EXTRACT_PARAM = re.compile(r"\bextract\s*\(\s*\$(\d+)\s+from\s+", re.IGNORECASE)


def rewrite_typed_literals(query: str) -> str:
    """`interval $2` → `$2::interval`, `timestamptz $4` → `$4::timestamptz`, `extract($2 from col)` →
    `date_part($2, col)`; the rest unchanged."""
    query = _EXTRACT_PARAM.sub(lambda m: f"date_part(${m.group(1)}, ", query)
    return _TYPED_LITERAL.sub(lambda m: f"${m.group(2)}::{m.group(1)}", query)


def placeholders(query: str) -> list[int]:
    """Sorted distinct placeholder numbers ($n) outside string literals and comments."""
    return sorted({int(n) for n in _PLACEHOLDER.findall(_strip_literals(query))})


def param_count(query: str) -> int:
    """PREPARE needs as many parameters as the highest $n."""
    found = placeholders(query)
    return max(found) if found else 0


def _strip_literals(query: str) -> str:
    query = re.sub(r"'(?:[^']|'')*'", "''", query)
    return re.sub(r"/\*.*?\*/|--[^\n]*", " ", query, flags=re.DOTALL)


def first_keyword(query: str) -> str:
    body = _LEADING_COMMENTS.sub("", query)
    m = re.match(r"\(*\s*([A-Za-z]+)", body)
    return m.group(1).lower() if m else ""


#: Utility commands named by two words (CREATE INDEX, ALTER TABLE, …), as in the SQL command reference.
_TWO_WORD = {"create", "drop", "alter", "refresh", "reset", "lock", "grant", "revoke", "comment", "release",
             "start", "prepare", "commit", "rollback"}


def utility_type(query: str) -> str:
    """The command of a utility statement, upper case, as the PostgreSQL SQL command reference names it:
    "BEGIN", "SET", "COPY", "CREATE INDEX", "ALTER TABLE" (a second word for CREATE, DROP, ALTER, …;
    OR REPLACE, UNIQUE, TEMP and CONCURRENTLY are skipped). "" for an empty text."""
    body = _LEADING_COMMENTS.sub("", query)
    words = re.findall(r"[A-Za-z_]+", body[:200])
    if not words:
        return ""
    first = words[0].upper()
    if words[0].lower() not in _TWO_WORD or len(words) < 2:
        return first
    rest = [w.upper() for w in words[1:] if w.upper() not in
            {"OR", "REPLACE", "UNIQUE", "TEMP", "TEMPORARY", "UNLOGGED", "CONCURRENTLY", "GLOBAL", "LOCAL"}]
    second = rest[0] if rest else ""
    # COMMIT/ROLLBACK PREPARED and PREPARE TRANSACTION are commands of their own; COMMIT WORK is COMMIT
    if first in {"COMMIT", "ROLLBACK", "PREPARE", "RELEASE", "START"} and second not in {"PREPARED", "TRANSACTION"}:
        return first
    return f"{first} {second}".strip()


def kind(query: str) -> str:
    """"explainable" for DML/queries that EXPLAIN can cost, else "utility" (BEGIN, SET, DDL, COPY, …)."""
    return "explainable" if first_keyword(query) in _EXPLAINABLE else "utility"


def is_own(query: str) -> bool:
    """True for statements perfadvisor sent (its catalog queries, PREPARE/EXPLAIN of the workload)."""
    q = query.lstrip()
    return q.startswith(OWN_MARKER) or bool(re.match(r"(?i)(PREPARE|EXPLAIN[^;]*EXECUTE|DEALLOCATE)\s+\(?\s*"
                                                     r"(\(.*?\)\s*)?(EXECUTE\s+)?perfadvisor_", q))


def for_sqlglot(query: str) -> str:
    """The statement with `$n` written as `:pn`, which sqlglot's tokenizer never mistakes for a $tag$ quote."""
    return _PLACEHOLDER.sub(lambda m: f":p{m.group(1)}", rewrite_typed_literals(query))


# Keywords that quote_ident() quotes: pg_get_keywords() WHERE catcode <> 'U' on PostgreSQL 15.
_QUOTED_KEYWORDS = frozenset("""
all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both case cast
char character check coalesce collate collation column concurrently constraint create cross current_catalog
current_date current_role current_schema current_time current_timestamp current_user dec decimal default deferrable
desc distinct do else end except exists extract false fetch float for foreign freeze from full grant greatest group
grouping having ilike in initially inner inout int integer intersect interval into is isnull join lateral leading
least left like limit localtime localtimestamp national natural nchar none normalize not notnull null nullif numeric
offset on only or order out outer overlaps overlay placing position precision primary real references returning
right row select session_user setof similar smallint some substring symmetric table tablesample then time timestamp
to trailing treat trim true union unique user using values varchar variadic verbose when where window with
xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
""".split())
_SIMPLE_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")
_DIRECTION = re.compile(r"\s+(ASC|DESC)$", re.IGNORECASE)


def quote_ident(name: str) -> str:
    """PostgreSQL's quote_ident(): double-quote a name unless it is lower-case simple and not a keyword."""
    if _SIMPLE_IDENT.fullmatch(name) and name not in _QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def split_direction(column_sql: str) -> tuple[str, str]:
    """`created_at DESC` → ("created_at", " DESC"); `"User Id"` → ('"User Id"', "")."""
    if column_sql.endswith('"'):
        return column_sql, ""
    m = _DIRECTION.search(column_sql)
    return (column_sql[:m.start()], " " + m.group(1).upper()) if m else (column_sql, "")


def is_identifier(column_sql: str) -> bool:
    """True for a (possibly quoted) column name, False for an expression such as lower(email)."""
    text = split_direction(column_sql)[0]
    return bool(_SIMPLE_IDENT.fullmatch(text)) or bool(re.fullmatch(r'"(?:[^"]|"")+"', text))
