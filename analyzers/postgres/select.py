"""Workload-wide choice of indexes: greedy by weighted benefit, under a storage budget.

The benefit of an index is Σ calls × (cost without it − cost with it) over the statements on its table,
given the indexes already chosen: statements weighted by calls × cost, so that one index serving several
statements beats several narrow ones. This is the greedy step of AutoAdmin (Chaudhuri & Narasayya,
"An Efficient, Cost-Driven Index Selection Tool for Microsoft SQL Server", VLDB 1997) with lazy
re-evaluation of upper bounds (Minoux's accelerated greedy, 1978), since benefits only shrink as indexes
are added. The planner's costs come from an oracle, so this module is pure: live (HypoPG) during collection,
replayed from the snapshot during `--from-snapshot`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

#: An index is kept only if it cuts some statement's cost by at least this share. Dexter's default
#: (--min-cost-savings-pct 50, https://github.com/ankane/dexter#options). Override:
#: thresholds.postgres.min_cost_savings_pct.
MIN_COST_SAVINGS_PCT = 50.0
#: At most this many new indexes per run (each one slows writes). Override: thresholds.postgres.max_new_indexes.
MAX_NEW_INDEXES = 10

CostFn = Callable[[str, frozenset[str]], float]


@dataclass(frozen=True)
class StatementRef:
    """A statement to optimise: its key, weight (calls) and the tables it reads, as (schema, table)."""

    key: str
    calls: int
    tables: frozenset[tuple[str, str]]
    #: (schema, table, column) the statement filters, joins, sorts or groups on; None: any may matter.
    columns: frozenset[tuple[str, str, str]] | None = None


@dataclass(frozen=True)
class CandidateRef:
    """A candidate index: its key, table and leading column (a B-tree is only entered by its lead)."""

    key: str
    table: tuple[str, str]
    lead: str | None = None


def relevant(c: CandidateRef, s: StatementRef) -> bool:
    """Could the candidate change this statement's plan? Only if the statement reads its table and uses its
    leading column (PostgreSQL docs 11.3: a multicolumn B-tree is efficient only with a constraint on the
    leading column; skip scans arrive in PostgreSQL 18)."""
    if c.table not in s.tables:
        return False
    return s.columns is None or c.lead is None or (*c.table, c.lead) in s.columns


@dataclass
class Selection:
    """The chosen indexes and, for each, its own attributed benefit.

    attributed[c] = {statement key: (cost with all chosen but c, cost with all chosen)}: what this index
    alone adds on top of the others. baseline[s] = cost with no new index; final[s] = with all chosen.
    rejected[c] = why a candidate that had a benefit was not chosen ("budget", "below min savings").
    """

    chosen: list[str] = field(default_factory=list)
    attributed: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


def _weighted_gain(c: CandidateRef, chosen: frozenset[str], stmts: dict[tuple[str, str], list[StatementRef]],
                   cost: CostFn, current: dict[str, float]) -> tuple[float, dict[str, tuple[float, float]]]:
    per: dict[str, tuple[float, float]] = {}
    gain = 0.0
    for s in stmts.get(c.table, ()):
        if not relevant(c, s):
            continue
        after = cost(s.key, chosen | {c.key})
        per[s.key] = (current[s.key], after)
        gain += s.calls * max(0.0, current[s.key] - after)
    return gain, per


def _qualifies(per: dict[str, tuple[float, float]], min_savings_pct: float) -> bool:
    return any(before > 0 and (before - after) / before * 100 >= min_savings_pct for before, after in per.values())


def choose(stmts: list[StatementRef], cands: list[CandidateRef], cost: CostFn,
           size_bytes: Callable[[str], int] | None = None, budget_bytes: int | None = None,
           min_savings_pct: float = MIN_COST_SAVINGS_PCT, max_indexes: int = MAX_NEW_INDEXES) -> Selection:
    """Choose indexes for the whole workload.

    cost(statement key, config) → planner cost with exactly the hypothetical indexes `config`.
    size_bytes(candidate key) → estimated size, needed only with a budget_bytes.
    Deterministic for the same inputs (ties broken by candidate key), so a replay asks for the same costs.
    """
    sel = Selection()
    chosen: frozenset[str] = frozenset()
    sel.baseline = {s.key: cost(s.key, chosen) for s in stmts}
    current = dict(sel.baseline)
    by_key = {c.key: c for c in cands}
    by_table: dict[tuple[str, str], list[StatementRef]] = {}
    for s in stmts:
        for t in sorted(s.tables):
            by_table.setdefault(t, []).append(s)
    heap = []
    for c in sorted(cands, key=lambda c: c.key):
        gain, _ = _weighted_gain(c, chosen, by_table, cost, current)
        if gain > 0:
            heap.append((-gain, c.key, 0))
    heapq.heapify(heap)
    used_bytes = 0
    version = 0  # bumps whenever `chosen` changes; a bound from an older version is stale
    while heap and len(chosen) < max_indexes:
        neg, key, ver = heapq.heappop(heap)
        c = by_key[key]
        if ver != version:
            gain, _ = _weighted_gain(c, chosen, by_table, cost, current)
            if gain > 0:
                heapq.heappush(heap, (-gain, key, version))
            continue
        gain, per = _weighted_gain(c, chosen, by_table, cost, current)
        if not _qualifies(per, min_savings_pct):
            sel.rejected[key] = f"cuts no statement's cost by {min_savings_pct:g}% or more"
            continue
        if budget_bytes is not None and size_bytes is not None and used_bytes + size_bytes(key) > budget_bytes:
            sel.rejected[key] = "over the storage budget"
            continue
        chosen = chosen | {key}
        used_bytes += size_bytes(key) if size_bytes and budget_bytes is not None else 0
        version += 1
        for s_key, (_, after) in per.items():
            current[s_key] = after
    chosen = _prune(chosen, by_table, by_key, cost, min_savings_pct, sel)
    sel.chosen = sorted(chosen)
    sel.final = {s.key: cost(s.key, chosen) for s in stmts}
    for key in sel.chosen:
        without = chosen - {key}
        sel.attributed[key] = {s.key: (cost(s.key, without), sel.final[s.key])
                               for s in by_table.get(by_key[key].table, ())
                               if relevant(by_key[key], s) and cost(s.key, without) > sel.final[s.key]}
    return sel


def _prune(chosen: frozenset[str], by_table, by_key, cost: CostFn, min_savings_pct: float,
           sel: Selection) -> frozenset[str]:
    """Drop an index that a later choice made redundant (it no longer qualifies given all the others)."""
    changed = True
    while changed:
        changed = False
        for key in sorted(chosen):
            without = chosen - {key}
            per = {s.key: (cost(s.key, without), cost(s.key, chosen)) for s in by_table.get(by_key[key].table, ())
                   if relevant(by_key[key], s)}
            if not _qualifies(per, min_savings_pct):
                chosen = without
                sel.rejected[key] = "made redundant by the other chosen indexes"
                changed = True
                break
    return chosen
