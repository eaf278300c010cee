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
#: Candidates whose first costs are asked of the oracle together (before any choice, each alone): enough to
#: fill round trips with statements of different tables, few enough that a time budget is checked often.
PREFETCH_CANDIDATES = 256


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
    #: how many times the selection asked the cost oracle (memo hits included); grows linearly with
    #: independent tables (tests/test_pg_scale.py)
    cost_lookups: int = 0
    #: candidates never costed because out_of_time() said so while costing them (in key order)
    uncosted: list[str] = field(default_factory=list)
    #: the number of choices made when out_of_time() stopped the greedy; None: it was not stopped
    stopped_after: int | None = None


class _Groups:
    """Tables that statements join, in connected groups (union-find). A choice on one group cannot change a
    cost in another, so bounds are kept per group and costs asked under the chosen indexes on the
    statement's own tables only: the work then grows with the real interactions, not with the workload's
    square (issue 11)."""

    def __init__(self, stmts: list[StatementRef], cands: list[CandidateRef]):
        self.parent: dict[tuple[str, str], tuple[str, str]] = {}
        for c in cands:
            self.parent.setdefault(c.table, c.table)
        for s in stmts:
            first, *rest = sorted(s.tables) or [None]
            if first is None:
                continue
            self.parent.setdefault(first, first)
            for t in rest:
                self.parent.setdefault(t, t)
                self._union(first, t)

    def find(self, t: tuple[str, str]) -> tuple[str, str]:
        root = t
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[t] != root:  # path compression
            self.parent[t], t = root, self.parent[t]
        return root

    def _union(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


class _Chosen:
    """The chosen indexes by table. A statement's configuration is the chosen indexes it could use: on the
    tables it reads and entered by a column it uses (`relevant`, the same rule that credits a gain), so a
    choice only makes new configurations for the statements it can change."""

    def __init__(self, served: dict[str, list[StatementRef]]):
        self.chosen: set[str] = set()
        #: statement key → the candidates it could use (the inverse of `served`)
        self.usable: dict[str, list[str]] = {}
        for key, stmts in served.items():
            for s in stmts:
                self.usable.setdefault(s.key, []).append(key)

    def add(self, key: str) -> None:
        self.chosen.add(key)

    def remove(self, key: str) -> None:
        self.chosen.discard(key)

    def keys(self) -> frozenset[str]:
        return frozenset(self.chosen)

    def for_statement(self, s: StatementRef) -> frozenset[str]:
        return frozenset(k for k in self.usable.get(s.key, ()) if k in self.chosen)


class _Counted:
    """The cost oracle with a call counter (Selection.cost_lookups). An oracle with a `prefetch(requests)`
    method (a list of (statement key, config)) is told the costs about to be asked, so it can get them in
    one round trip; a replay has none."""

    def __init__(self, cost: CostFn):
        self.cost, self.calls = cost, 0
        self._prefetch = getattr(cost, "prefetch", None)

    def __call__(self, key: str, config: frozenset[str]) -> float:
        self.calls += 1
        return self.cost(key, config)

    def prefetch(self, requests: list[tuple[str, frozenset[str]]]) -> None:
        if self._prefetch is not None and requests:
            self._prefetch(requests)


def _weighted_gain(c: CandidateRef, chosen: _Chosen, served: dict[str, list[StatementRef]],
                   cost: _Counted, current: dict[str, float]) -> tuple[float, dict[str, tuple[float, float]]]:
    asks = [(s, chosen.for_statement(s) | {c.key}) for s in served[c.key]]
    cost.prefetch([(s.key, config) for s, config in asks])
    per: dict[str, tuple[float, float]] = {}
    gain = 0.0
    for s, config in asks:
        after = cost(s.key, config)
        per[s.key] = (current[s.key], after)
        gain += s.calls * max(0.0, current[s.key] - after)
    return gain, per


def _qualifies(per: dict[str, tuple[float, float]], min_savings_pct: float) -> bool:
    return any(before > 0 and (before - after) / before * 100 >= min_savings_pct for before, after in per.values())


def choose(stmts: list[StatementRef], cands: list[CandidateRef], cost: CostFn,
           size_bytes: Callable[[str], int] | None = None, budget_bytes: int | None = None,
           min_savings_pct: float = MIN_COST_SAVINGS_PCT, max_indexes: int = MAX_NEW_INDEXES,
           out_of_time: Callable[[str], bool] | None = None,
           progress: Callable[[int, int, int], None] | None = None) -> Selection:
    """Choose indexes for the whole workload.

    cost(statement key, config) → planner cost with exactly the hypothetical indexes `config`, which holds
    only indexes the statement could use: on tables it reads (one on another table cannot change its plan),
    entered by a column it uses (`relevant`). cost.prefetch(requests), when the oracle has it, is called
    with the (statement key, config) pairs about to be asked, so a live oracle can batch its EXPLAINs.
    size_bytes(candidate key) → estimated size, needed only with a budget_bytes.
    Deterministic for the same inputs (ties broken by candidate key), so a replay asks for the same costs.
    The result equals a greedy that re-costs every candidate after every choice (tests/test_pg_scale.py);
    cost calls grow with the statements and the choices within each group of joined tables.
    out_of_time("costing") → True stops costing new candidates (they are listed in `uncosted`);
    out_of_time("choosing") → True stops making choices (their number is `stopped_after`); a replay passes the costed candidates and that many as max_indexes.
    progress(candidates costed, candidates, indexes chosen) is called as the work goes.
    """
    cost = _Counted(cost)
    sel = Selection()
    by_key = {c.key: c for c in cands}
    groups = _Groups(stmts, cands)
    cost.prefetch([(s.key, frozenset()) for s in stmts])
    sel.baseline = {s.key: cost(s.key, frozenset()) for s in stmts}
    current = dict(sel.baseline)
    by_table: dict[tuple[str, str], list[StatementRef]] = {}
    for s in stmts:
        for t in sorted(s.tables):
            by_table.setdefault(t, []).append(s)
    # the statements each candidate could change (relevant), once: asked after every choice
    served = {c.key: [s for s in by_table.get(c.table, ()) if relevant(c, s)] for c in cands}
    chosen = _Chosen(served)
    heap = []
    ordered = sorted(cands, key=lambda c: c.key)
    for i, c in enumerate(ordered):
        if out_of_time is not None and out_of_time("costing"):
            sel.uncosted = [c.key for c in ordered[i:]]
            break
        if i % PREFETCH_CANDIDATES == 0:  # candidates on different tables share round trips
            cost.prefetch([(s.key, frozenset({d.key})) for d in ordered[i:i + PREFETCH_CANDIDATES]
                           for s in served[d.key]])
        gain, _ = _weighted_gain(c, chosen, served, cost, current)
        if gain > 0:
            heap.append((-gain, c.key, 0))
        if progress is not None:
            progress(i + 1, len(ordered), 0)
    heapq.heapify(heap)
    used_bytes = 0
    n_chosen = 0
    # bumps whenever a choice is made in the group; a bound from an older version of its group is stale
    version: dict[tuple[str, str], int] = {}
    while heap and n_chosen < max_indexes:
        if out_of_time is not None and out_of_time("choosing"):
            sel.stopped_after = n_chosen
            break
        neg, key, ver = heapq.heappop(heap)
        c = by_key[key]
        group = groups.find(c.table)
        if ver != version.get(group, 0):
            gain, _ = _weighted_gain(c, chosen, served, cost, current)
            if gain > 0:
                heapq.heappush(heap, (-gain, key, version.get(group, 0)))
            continue
        gain, per = _weighted_gain(c, chosen, served, cost, current)
        if not _qualifies(per, min_savings_pct):
            sel.rejected[key] = f"cuts no statement's cost by {min_savings_pct:g}% or more"
            continue
        if budget_bytes is not None and size_bytes is not None and used_bytes + size_bytes(key) > budget_bytes:
            sel.rejected[key] = "over the storage budget"
            continue
        chosen.add(key)
        n_chosen += 1
        used_bytes += size_bytes(key) if size_bytes and budget_bytes is not None else 0
        version[group] = version.get(group, 0) + 1
        if progress is not None:
            progress(len(ordered) - len(sel.uncosted), len(ordered), n_chosen)
        for s_key, (_, after) in per.items():
            current[s_key] = after
    _prune(chosen, groups, served, by_key, cost, min_savings_pct, sel)
    sel.chosen = sorted(chosen.keys())
    cost.prefetch([(s.key, chosen.for_statement(s)) for s in stmts])
    sel.final = {s.key: cost(s.key, chosen.for_statement(s)) for s in stmts}
    for key in sel.chosen:
        chosen.remove(key)
        attributed = {}
        asks = [(s, chosen.for_statement(s)) for s in served[key]]
        cost.prefetch([(s.key, config) for s, config in asks])
        for s, config in asks:
            without = cost(s.key, config)
            if without > sel.final[s.key]:
                attributed[s.key] = (without, sel.final[s.key])
        sel.attributed[key] = attributed
        chosen.add(key)
    sel.cost_lookups = cost.calls
    return sel


def _prune(chosen: _Chosen, groups: _Groups, served, by_key, cost: _Counted, min_savings_pct: float,
           sel: Selection) -> None:
    """Drop an index that a later choice made redundant (it no longer qualifies given all the others).

    Group by group: a drop can only change the qualification of indexes in its own group, so this is the
    same as re-checking every chosen index after every drop, in key order."""
    in_group: dict[tuple[str, str], list[str]] = {}
    for key in sorted(chosen.keys()):
        in_group.setdefault(groups.find(by_key[key].table), []).append(key)
    for keys in in_group.values():
        changed = True
        while changed:
            changed = False
            for key in keys:
                asks = [(s, chosen.for_statement(s)) for s in served[key]]
                cost.prefetch([(s.key, with_all - {key}) for s, with_all in asks])
                per = {s.key: (cost(s.key, with_all - {key}), cost(s.key, with_all)) for s, with_all in asks}
                if not _qualifies(per, min_savings_pct):
                    chosen.remove(key)
                    keys.remove(key)
                    sel.rejected[key] = "made redundant by the other chosen indexes"
                    changed = True
                    break
