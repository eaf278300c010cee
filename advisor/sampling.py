"""One sampling window that every time-series collector shares (design.md, "One sampling window").

`analyze --sample 60s` and `loadtest` sample the stack over time. Each collector that samples is a *source*
(below); `run_window` runs all of them side by side, one thread each, on one clock: sample k of every source
is taken at ``t0 + k × interval_s``, so the series line up. A source that fails keeps what it sampled, its
error (with the time it happened) is recorded, and the other sources go on.

A source::

    name: str                         # shown in progress lines and errors; never holds a secret
    open() -> dict                    # facts taken once before the window (configured values, versions)
    sample() -> dict[str, float]      # one sample: series key → number (a gauge, or a counter's total)
    close() -> dict                   # facts taken once after the window (a keyspace sample, a profile)
    headline(prev, cur, dt_s) -> str  # a few words for the live progress line ("" for none)

`open`, `sample` and `close` raise PerfadvisorError (or OSError) for a failure the user can act on. A series
key is a metric name with its labels in Prometheus text form (``hikaricp_connections_pending{pool="x"}``);
a sample may omit a key (a series that appeared later): it is stored as null.

`--sample 0` takes one sample per source (mode "since_start"): the analysis then reads counters as totals
since the application started, and says so.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from advisor.errors import PerfadvisorError

#: Default interval between two samples of one source (s); issue 7: "Interval 1 s by default".
DEFAULT_INTERVAL_S = 1.0
#: Default length of the window when a sampling target is configured and --sample is not given (s).
DEFAULT_WINDOW_S = 30.0


class Source(Protocol):
    name: str

    def open(self) -> dict[str, Any]: ...

    def sample(self) -> dict[str, float]: ...

    def close(self) -> dict[str, Any]: ...

    def headline(self, prev: dict[str, float] | None, cur: dict[str, float], dt_s: float) -> str: ...


@dataclass
class Recording:
    """What one source produced. `t_s[i]` is the time of `samples[i]` in seconds from the window's start;
    `error` is {"phase": "open"|"sample"|"close", "at_s": float, "message": str} or None."""

    name: str
    opened: dict[str, Any] = field(default_factory=dict)
    t_s: list[float] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)
    closed: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    def series(self) -> dict[str, Any]:
        """Columnar form for the snapshot: {"t_s": [...], "series": {key: [value or None, ...]}}."""
        keys: dict[str, None] = {}
        for s in self.samples:
            keys.update(dict.fromkeys(s))
        return {"t_s": [round(t, 3) for t in self.t_s],
                "series": {k: [s.get(k) for s in self.samples] for k in keys}}

    def error_line(self) -> str | None:
        """One line for the user: which source failed, when and why; None when it did not fail."""
        if not self.error:
            return None
        when = "before the window" if self.error["phase"] == "open" else (
            "after the window" if self.error["phase"] == "close" else
            f"{self.error['at_s']:.0f} s into the window ({len(self.samples)} sample(s) kept)")
        return f"{self.name}: failed {when}: {self.error['message']}"


@dataclass
class Window:
    """The shared window: when it ran and how, and one Recording per source (in the order given)."""

    mode: str  # "window" or "since_start"
    interval_s: float
    duration_s: float
    started_at: str
    recordings: list[Recording]
    interrupted: bool = False

    def info(self) -> dict[str, Any]:
        """The window's description stored in each sampled section of the snapshot."""
        return {"mode": self.mode, "interval_s": self.interval_s, "duration_s": round(self.duration_s, 3),
                "started_at": self.started_at, "interrupted": self.interrupted}


def parse_duration(text: str | float | int) -> float:
    """Seconds in Locust's forms: ``40``, ``40s``, ``2m``, ``1h30m``, ``1.5s``. Raises ValueError with the text
    when it is none of these or negative."""
    import re

    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"{text!r} is negative")
        return float(text)
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?", s)
    if not s or not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration (e.g. 40s, 2m, 1h30m)")
    h, mi, se = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + se


def _fail(rec: Recording, phase: str, at_s: float, e: BaseException) -> None:
    msg = str(e) if isinstance(e, PerfadvisorError) else f"{type(e).__name__}: {e}"
    rec.error = {"phase": phase, "at_s": round(at_s, 3), "message": " ".join(msg.split()) or type(e).__name__}


def run_window(sources: Sequence[Source], duration_s: float, interval_s: float = DEFAULT_INTERVAL_S,
               progress: Callable[[str], None] | None = None, stop: threading.Event | None = None,
               clock: Callable[[], float] = time.monotonic) -> Window:
    """Open every source, sample all of them every `interval_s` for `duration_s` (0: one sample each), close
    them, and return the Window. Never raises for a source's failure: it is in that Recording's `error`.

    progress: called about once a second with one line (elapsed/total and each source's headline); pass None
    for silence (e.g. when stdout is not a terminal). Ctrl-C (KeyboardInterrupt) or `stop` ends the window
    early; what was sampled is kept and `interrupted` is set.
    """
    if interval_s <= 0:
        raise ValueError("interval_s must be > 0")
    recs = [Recording(name=s.name) for s in sources]
    stop = stop or threading.Event()

    def opener(i: int) -> None:
        try:
            recs[i].opened = sources[i].open() or {}
        except Exception as e:  # noqa: BLE001 - any failure of one source is recorded, the others go on
            _fail(recs[i], "open", 0.0, e)

    _all(opener, len(sources))
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = clock()
    n = 1 if duration_s <= 0 else int(duration_s / interval_s + 1e-9) + 1

    def sampler(i: int) -> None:
        rec, src = recs[i], sources[i]
        if rec.error:
            return
        for k in range(n):
            wait = t0 + k * interval_s - clock()
            if wait > 0 and stop.wait(wait):
                return
            if stop.is_set():
                return
            at = clock() - t0
            try:
                values = src.sample()
            except Exception as e:  # noqa: BLE001
                _fail(rec, "sample", at, e)
                return
            rec.t_s.append(at)
            rec.samples.append(dict(values))

    threads = [threading.Thread(target=sampler, args=(i,), daemon=True, name=f"sample-{i}")
               for i in range(len(sources))]
    for t in threads:
        t.start()
    interrupted = False
    prev_for_headline: list[tuple[dict[str, float] | None, float]] = [(None, 0.0)] * len(recs)
    try:
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(timeout=1.0)
            if progress:
                progress(_progress_line(sources, recs, prev_for_headline, clock() - t0, duration_s))
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        for t in threads:
            t.join(timeout=5.0)
    interrupted = interrupted or stop.is_set()
    elapsed = clock() - t0

    def closer(i: int) -> None:
        if recs[i].error and recs[i].error["phase"] == "open":
            return
        try:
            recs[i].closed = sources[i].close() or {}
        except Exception as e:  # noqa: BLE001
            if not recs[i].error:
                _fail(recs[i], "close", elapsed, e)

    _all(closer, len(sources))
    return Window(mode="since_start" if n == 1 else "window", interval_s=interval_s,
                  duration_s=elapsed if n > 1 else 0.0, started_at=started_at, recordings=recs,
                  interrupted=interrupted)


def _all(fn: Callable[[int], None], count: int) -> None:
    """fn(0) … fn(count-1) side by side (opening and closing many targets should not add up their latency)."""
    threads = [threading.Thread(target=fn, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _progress_line(sources: Sequence[Source], recs: list[Recording],
                   prev: list[tuple[dict[str, float] | None, float]], elapsed_s: float, total_s: float) -> str:
    parts = [f"sampling {min(elapsed_s, total_s):4.0f}/{total_s:.0f} s"]
    for i, (src, rec) in enumerate(zip(sources, recs, strict=True)):
        if rec.error:
            parts.append(f"{src.name}: failed")
            continue
        if not rec.samples:
            continue
        cur, at = rec.samples[-1], rec.t_s[-1]
        before, before_at = prev[i]
        try:
            text = src.headline(before, cur, at - before_at if before is not None else 0.0)
        except Exception:  # noqa: BLE001 - a headline is decoration; never let it stop the window
            text = ""
        if text:
            parts.append(text)
        prev[i] = (cur, at)
    return " · ".join(parts)


def terminal_progress(stream=None) -> Callable[[str], None] | None:
    """A progress callback that redraws one line on a terminal, or None when `stream` is not a terminal
    (CI logs stay quiet)."""
    stream = stream or sys.stdout
    if not getattr(stream, "isatty", lambda: False)():
        return None

    def show(line: str) -> None:
        stream.write("\r\x1b[2K" + line[:200])
        stream.flush()
    return show
