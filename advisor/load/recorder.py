"""The worker side of the histograms: every request Locust reports is recorded, per second of completion and per
endpoint, into an HdrHistogram of successes and one of failures; each second, the seconds that are complete are
drained into one message for the master (advisor/load/node.py sends it with Locust's ``runner.send_message``).

Pure Python (no gevent, no Locust): the node wires it to ``events.request``.

A message (``MESSAGE_TYPE``), JSON-compatible::

    {"v": 1, "final": bool, "clamped": int,
     "seconds": {"<epoch s>": {"<METHOD name>": {"method": str, "name": str, "n_ok": int, "n_fail": int,
                                                   "ok": base64 HdrHistogram | None,
                                                   "fail": base64 HdrHistogram | None}}},
     "process": {"at": epoch s, "cpu_percent": float, "rss_bytes": int, "lag_ms_mean": float,
                 "lag_ms_max": float, "users": int, "host": str, "pid": int}}

Seconds are the worker's wall clock (epoch, whole seconds): workers on several hosts need synchronised clocks,
as Locust's own distributed statistics do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.load import histograms as hg

MESSAGE_TYPE = "perfadvisor_window"
MESSAGE_VERSION = 1


def endpoint_key(method: str | None, name: str) -> str:
    """`GET /api/products/{id}`: the endpoint's key everywhere (Locust's stats key is (name, method))."""
    return f"{method or ''} {name}".strip()


@dataclass
class _Bucket:
    method: str
    name: str
    ok: Any = None
    fail: Any = None
    n_ok: int = 0
    n_fail: int = 0


@dataclass
class Recorder:
    """Per-second, per-endpoint histograms of one process."""

    buckets: dict[int, dict[tuple[str | None, str], _Bucket]] = field(default_factory=dict)
    clamped: int = 0

    def record(self, method: str | None, name: str, response_time_ms: float | None, failed: bool,
               at_s: float) -> None:
        """One request that completed at `at_s` (epoch s). A failure without a response time (Locust reports
        None for some connection errors) is counted but has no latency. Kept short: it runs for every request
        (benchmarks/loadtest_overhead.py measures it)."""
        per_second = self.buckets.get(int(at_s))
        if per_second is None:
            per_second = self.buckets[int(at_s)] = {}
        b = per_second.get((method, name))
        if b is None:
            b = per_second[(method, name)] = _Bucket(method or "", name)
        if failed:
            b.n_fail += 1
            if response_time_ms is None:
                return
            hist = b.fail
            if hist is None:
                hist = b.fail = hg.new_histogram()
        else:
            b.n_ok += 1
            if response_time_ms is None:
                return
            hist = b.ok
            if hist is None:
                hist = b.ok = hg.new_histogram()
        us = int(response_time_ms * 1000.0 + 0.5)
        if hg.LOWEST_US <= us <= hg.HIGHEST_US:
            hist.record_value(us)
        elif not hg.record_ms(hist, response_time_ms):
            self.clamped += 1

    def drain(self, before_s: float | None) -> dict[str, Any]:
        """Removes and returns (encoded) every second that ended before `before_s` (None: every second)."""
        limit = None if before_s is None else int(before_s)
        done = sorted(s for s in self.buckets if limit is None or s < limit)
        out: dict[str, Any] = {}
        for s in done:
            out[str(s)] = {endpoint_key(b.method, b.name): {
                "method": b.method, "name": b.name, "n_ok": b.n_ok, "n_fail": b.n_fail,
                "ok": hg.encode(b.ok) if b.ok is not None else None,
                "fail": hg.encode(b.fail) if b.fail is not None else None} for b in self.buckets.pop(s).values()}
        return out


def message(recorder: Recorder, before_s: float | None, process: dict[str, Any], final: bool) -> dict[str, Any]:
    """The message a worker sends each second (and once more, final, when its users have stopped)."""
    clamped, recorder.clamped = recorder.clamped, 0
    return {"v": MESSAGE_VERSION, "final": final, "clamped": clamped,
            "seconds": recorder.drain(None if final else before_s), "process": process}
