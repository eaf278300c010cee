"""The index analysis's time budget and its progress line (issue 11).

The budget is wall-clock seconds from the start of collection: EXPLAINing statements may use a share of it
(collect.EXPLAIN_BUDGET_SHARE), costing index candidates up to COSTING_BUDGET_SHARE, and the selection's
choices the rest (so a run that is out of time while costing still chooses among what it costed). When it runs out the analysis stops at a
clean point and the snapshot says how far it got (statements not EXPLAINed, candidates not costed,
the number of choices made), so a replay makes the same selection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: Costing candidates stops at this share of the budget, leaving the rest to the choices. perfadvisor's
#: choice: on issue 11's benchmark the choices take a small part of the what-if time.
COSTING_BUDGET_SHARE = 0.85


@dataclass
class Budget:
    """started: time.perf_counter() at the start; seconds: the budget (0: none); explain_share: of it for
    EXPLAIN."""

    started: float
    seconds: float
    explain_share: float = 0.5

    def _spent(self, share: float) -> bool:
        return bool(self.seconds) and time.perf_counter() - self.started > self.seconds * share

    def explain_spent(self) -> bool:
        """Has EXPLAINing used its share?"""
        return self._spent(self.explain_share)

    def spent(self, phase: str = "choosing") -> bool:
        """Is the budget of this selection phase ("costing" or "choosing") used?"""
        return self._spent(COSTING_BUDGET_SHARE if phase == "costing" else 1.0)

    def reason(self, what: str) -> str:
        return (f"the time budget ({self.seconds:g} s) ran out {what}; raise it with --time-budget or "
                f"thresholds.postgres.time_budget_s")


@dataclass
class Progress:
    """One redrawn line on a terminal: statements explained, candidates costed, indexes chosen. `show` is a
    no-op without a terminal (advisor.sampling.terminal_progress returns None there) and redraws at most
    every 0.2 s."""

    show_line: Callable[[str], None] | None
    statements: int
    explained: int = 0
    costed: int = 0
    candidates: int = 0
    chosen: int = 0
    _last: float = 0.0

    def show(self, force: bool = False) -> None:
        if self.show_line is None:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        line = f"postgres: {self.explained}/{self.statements} statements explained"
        if self.candidates:
            line += f" · {self.costed}/{self.candidates} candidates costed · {self.chosen} indexes chosen"
        self.show_line(line)

    def selection(self, costed: int, candidates: int, chosen: int) -> None:
        """The selection's callback (select.choose(progress=…))."""
        self.costed, self.candidates, self.chosen = costed, candidates, chosen
        self.show()

    def done(self) -> None:
        if self.show_line is not None:
            self.show_line("")
