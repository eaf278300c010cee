"""What-if costing with HypoPG: the cost of statements under a set of hypothetical indexes.

Hypothetical indexes live only in this backend's memory; nothing is written to the database. A new
configuration drops the hypothetical indexes it does not hold (hypopg_drop_index) and creates the ones it
lacks; hypopg_reset() runs first and in a finally block (see HypoPG's docs,
https://hypopg.readthedocs.io/en/rel1_stable/usage.html). HypoPG 1.3 supports btree, brin, hash, bloom,
expression and partial indexes, not GIN or GiST.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from advisor.model import IndexSpec
from analyzers.postgres import plans
from analyzers.postgres.statements import OWN_MARKER, is_identifier, quote_ident, split_direction

_WITH_OPCLASS = re.compile(r'(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")\s+[a-z_][a-z0-9_]*_ops')


def create_index_sql(spec: IndexSpec, concurrently: bool = False) -> str:
    """`CREATE INDEX [CONCURRENTLY] ON schema.table [USING method] (cols)`. Columns are SQL text (quoted
    identifiers, optionally with ASC/DESC, or expressions, which get their own parentheses)."""
    cols = ", ".join(c if is_identifier(c) or _WITH_OPCLASS.fullmatch(c)
                     else f"({split_direction(c)[0]}){split_direction(c)[1]}" for c in spec.columns)
    conc = " CONCURRENTLY" if concurrently else ""
    using = f" USING {spec.method}" if spec.method != "btree" else ""
    where = f" WHERE {spec.where}" if spec.where else ""
    return f"CREATE INDEX{conc} ON {quote_ident(spec.schema)}.{quote_ident(spec.table)}{using} ({cols}){where}"


@dataclass
class WhatIfStats:
    """How much what-if work a run did (printed by benchmarks)."""

    explain_calls: int = 0
    explain_time_s: float = 0.0
    #: hypopg_create_index calls (each is a round trip; a configuration change costs one per new index)
    hypo_indexes_created: int = 0
    #: seconds spent creating and dropping hypothetical indexes (the rest of the what-if time)
    hypo_time_s: float = 0.0


@dataclass
class HypoSession:
    """Costs statements on one connection with hypothetical indexes (HypoPG must be created there).

    The session's hypothetical indexes are kept per table: `use_on` makes them exactly a given set on the
    tables a statement reads and leaves the others (an index on a table the statement does not read cannot
    change its plan), so statements on different tables share one state and one round trip (`costs`).
    """

    conn: psycopg.Connection
    specs: dict[str, IndexSpec]
    stats: WhatIfStats = field(default_factory=WhatIfStats)
    sizes_bytes: dict[str, int] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    #: candidate key → the hypothetical index's name (as EXPLAIN shows it) while it exists
    names: dict[str, str] = field(default_factory=dict)
    #: candidate key → the hypothetical index's oid while it exists (for hypopg_drop_index)
    _oids: dict[str, int] = field(default_factory=dict)
    #: (schema, table) → candidate keys whose hypothetical index exists now; None before the first reset
    _on: dict[tuple[str, str], set[str]] | None = None

    def reset(self) -> None:
        self.conn.execute(f"{OWN_MARKER} SELECT hypopg_reset()")
        self._on = {}
        self._oids.clear()

    def table_of(self, key: str) -> tuple[str, str]:
        spec = self.specs[key]
        return (spec.schema, spec.table)

    def state_for(self, config: Iterable[str], tables: Iterable[tuple[str, str]]) -> dict[tuple[str, str], frozenset[str]]:
        """The per-table state that holds exactly `config` on `tables`: {table: keys}."""
        state: dict[tuple[str, str], set[str]] = {t: set() for t in tables}
        for key in config:
            state.setdefault(self.table_of(key), set()).add(key)
        return {t: frozenset(ks) for t, ks in state.items()}

    def use(self, config: Iterable[str]) -> None:
        """Make exactly `config` the hypothetical indexes of the session, on every table."""
        config = frozenset(config)
        self.use_on(self.state_for(config, (self._on or {}).keys()))

    def use_on(self, state: dict[tuple[str, str], frozenset[str]]) -> None:
        """Make the hypothetical indexes on each table of `state` exactly its keys (others are left): drop
        those not in it and create the missing ones. A candidate HypoPG refuses is recorded in `broken` (with
        PostgreSQL's message) and left out: it can then never show a benefit."""
        if self._on is None:
            self.reset()
        if all(self._on.get(t, set()) == (ks - self.broken.keys()) for t, ks in state.items()):
            return
        t0 = time.perf_counter()
        try:
            if not self._switch_at_once(state):
                for t, keys in sorted(state.items()):
                    self._switch(t, keys)
        finally:
            self.stats.hypo_time_s += time.perf_counter() - t0

    def _switch_at_once(self, state: dict[tuple[str, str], frozenset[str]]) -> bool:
        """All the drops and creates of `state` in one round trip. False when HypoPG refused one: the
        session is then reset (HypoPG's changes are not transactional, so the state before the refusal is
        unknown) and the caller goes one index at a time, which finds the refused one."""
        drops, creates = [], []
        for t, keys in sorted(state.items()):
            now = self._on.get(t, set())
            drops += [(t, k) for k in sorted(now - keys)]
            creates += [(t, k) for k in sorted(keys - now - self.broken.keys())]
        parts = [f"{OWN_MARKER} SELECT hypopg_drop_index({int(self._oids[k])})" for _, k in drops]
        parts += [sql.SQL(OWN_MARKER + " SELECT indexrelid, indexname, hypopg_relation_size(indexrelid) "
                          "FROM hypopg_create_index({})").format(sql.Literal(create_index_sql(self.specs[k])))
                  .as_string(self.conn) for _, k in creates]
        if not parts:
            return True
        try:
            with self.conn.cursor() as cur:
                cur.execute("\n;\n".join(parts), prepare=False)
                rows = []
                while True:
                    if cur.pgresult is not None and cur.description:
                        rows.append(cur.fetchone())
                    if not cur.nextset():
                        break
        except psycopg.Error:
            self.reset()
            return False
        for t, k in drops:
            self._on[t].discard(k)
            del self._oids[k]
        for (t, k), row in zip(creates, rows[len(drops):], strict=True):
            self.stats.hypo_indexes_created += 1
            self._oids[k] = row[0]
            self.sizes_bytes.setdefault(k, int(row[2]))
            self.names[k] = row[1]
            self._on.setdefault(t, set()).add(k)
        return True

    def _switch(self, table: tuple[str, str], config: frozenset[str]) -> None:
        now = self._on.setdefault(table, set())
        for key in sorted(now - config):
            self.conn.execute(f"{OWN_MARKER} SELECT hypopg_drop_index(%s)", (self._oids.pop(key),))
            now.discard(key)
        for key in sorted(config - now - self.broken.keys()):
            self.stats.hypo_indexes_created += 1
            try:
                row = self.conn.execute(sql.SQL(OWN_MARKER + " SELECT indexrelid, indexname, "
                                                "hypopg_relation_size(indexrelid) FROM hypopg_create_index({})")
                                        .format(sql.Literal(create_index_sql(self.specs[key])))).fetchone()
            except psycopg.Error as e:
                self.broken[key] = (e.diag.message_primary or str(e)).strip()
                continue
            self._oids[key] = row[0]
            self.sizes_bytes.setdefault(key, int(row[2]))
            self.names[key] = row[1]
            now.add(key)

    def size_bytes(self, key: str) -> int:
        """HypoPG's estimate of the index's size (hypopg_relation_size), bytes."""
        if key not in self.sizes_bytes and key not in self.broken:
            t = self.table_of(key)
            self.use_on({t: frozenset((self._on or {}).get(t, set()) | {key})})
        return self.sizes_bytes.get(key, 0)

    def plan(self, prepared: plans.Prepared, config: Iterable[str],
             values: list[str | None] | None = None) -> dict[str, Any]:
        """The plan with exactly the hypothetical indexes `config` in the session."""
        self.use(config)
        t0 = time.perf_counter()
        try:
            return plans.explain(self.conn, prepared, values)
        finally:
            self.stats.explain_calls += 1
            self.stats.explain_time_s += time.perf_counter() - t0

    def costs(self, state: dict[tuple[str, str], frozenset[str]],
              items: list[tuple[plans.Prepared, list[str | None] | None]]) -> list[float | plans.ExplainError]:
        """Total Cost of each (prepared statement, values) with the hypothetical indexes of `state` on the
        tables the statements read (plans.explain_costs: one round trip)."""
        self.use_on(state)
        t0 = time.perf_counter()
        try:
            return plans.explain_costs(self.conn, items)
        finally:
            self.stats.explain_calls += len(items)
            self.stats.explain_time_s += time.perf_counter() - t0


def hypopg_version(conn: psycopg.Connection) -> str | None:
    """The installed HypoPG version in this database, or None."""
    row = conn.execute(f"{OWN_MARKER} SELECT extversion FROM pg_extension WHERE extname = 'hypopg'").fetchone()
    return row[0] if row else None
