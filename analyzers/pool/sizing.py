"""Pool-size arithmetic: pure functions, no I/O.

- Little's law (J. D. C. Little, "A Proof for the Queuing Formula L = λW", Operations Research 9(3), 1961):
  the mean number of connections in use is the rate at which connection-usage time accrues,
  L = Δ(hikaricp_connections_usage_seconds_sum) / Δt = λ·W.
- Erlang C (A. K. Erlang, 1917; any queueing text, e.g. Harchol-Balter, "Performance Modeling and Design of
  Computer Systems", 2013, ch. 14): with offered load a = λ·W erlangs and N connections, the probability that
  a request has to wait is C(N, a), and the mean wait is C(N, a)·W/(N − a). The recommended size is the
  smallest N with C(N, a) ≤ the target wait probability: headroom for random bursts that grows like √a
  ("square-root staffing", Halfin & Whitt, Operations Research 29(3), 1981).
- HikariCP, "About Pool Sizing" (github.com/brettwooldridge/HikariCP/wiki/About-Pool-Sizing):
  connections = (core_count × 2) + effective_spindle_count — shown as a cross-check of what the database
  host can serve, never as the answer; and against pool locking (one task holding several connections),
  pool size ≥ Tn × (Cm − 1) + 1 with Tn threads and Cm connections held at once by one task.
"""

from __future__ import annotations

import math


def erlang_c(n: int, a: float) -> float:
    """Probability of waiting in an M/M/n queue with offered load `a` erlangs (1.0 when n ≤ a: the queue
    grows without bound). Computed with the Erlang B recursion, stable for large n."""
    if a <= 0:
        return 0.0
    if n <= a:
        return 1.0
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return n * b / (n - a * (1 - b))


def mean_wait_s(n: int, a: float, hold_s: float) -> float | None:
    """Mean time a request waits for one of `n` connections (M/M/n): C(n, a)·W/(n − a); None when n ≤ a
    (no steady state: the wait grows while the load lasts)."""
    if a <= 0:
        return 0.0
    if n <= a:
        return None
    return erlang_c(n, a) * hold_s / (n - a)


def erlang_size(a: float, wait_probability: float, cap: int = 10_000) -> int:
    """The smallest n ≥ 1 with erlang_c(n, a) ≤ wait_probability (`cap` if none below it)."""
    n = max(1, math.ceil(a))
    while n < cap and erlang_c(n, a) > wait_probability:
        n += 1
    return n


def hikaricp_formula(cores: int | None, spindles: int) -> int | None:
    """HikariCP's ((core_count × 2) + effective_spindle_count) for the database host; None when the number
    of cores is unknown."""
    if not cores:
        return None
    return cores * 2 + spindles


def locking_bound(threads: int, connections_per_task: int) -> int:
    """HikariCP's lower bound against pool-locking deadlock: Tn × (Cm − 1) + 1 (1 when a task holds one
    connection at a time)."""
    if connections_per_task <= 1 or threads <= 0:
        return 1
    return threads * (connections_per_task - 1) + 1


def available_connections(max_connections: int, superuser_reserved: int, reserved: int | None,
                          held_by_others: int) -> int:
    """Connections the application pools may open in total: max_connections minus the slots reserved for
    superusers (superuser_reserved_connections) and for pg_use_reserved_connections (reserved_connections,
    PostgreSQL 16+), minus what other clients hold."""
    return max(0, max_connections - superuser_reserved - (reserved or 0) - held_by_others)


def share_out(wanted: dict[str, tuple[int, int]], available: int) -> dict[str, int]:
    """Scale per-instance pool sizes {pool: (size, instances)} down so that Σ size × instances ≤ available,
    proportionally, each at least 1. Returned unchanged when they fit."""
    total = sum(size * n for size, n in wanted.values())
    if total <= available or total == 0:
        return {p: size for p, (size, _n) in wanted.items()}
    factor = available / total
    return {p: max(1, math.floor(size * factor)) for p, (size, _n) in wanted.items()}
