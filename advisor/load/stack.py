"""The stack sampled while the load runs: the sampling sources of every configured analyzer
(advisor.pipeline.sampling_sources) in one window (advisor.sampling.run_window), in a thread beside the load,
stopped when the load ends; each recording is written as CSV under RUN_DIR/stack/."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from advisor import sampling
from advisor.load import rundir as rd


@dataclass
class StackSampler:
    """Runs `sources` ({area: [Source…]}) side by side until `stop()`; `errors` are areas whose sources could
    not even be made ({area: one line})."""

    sources: dict[str, list[Any]]
    errors: dict[str, str] = field(default_factory=dict)
    interval_s: float = sampling.DEFAULT_INTERVAL_S
    window: sampling.Window | None = None
    t0_epoch: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def flat(self) -> list[tuple[str, Any]]:
        return [(area, s) for area, srcs in self.sources.items() for s in srcs]

    def start(self, duration_s: float) -> None:
        """Starts the window (at most `duration_s` long) in a background thread; no-op without sources."""
        if not self.flat:
            return

        def clock() -> float:
            now = time.time()
            if self.t0_epoch is None:  # run_window reads the clock first for its t0, after opening the sources
                self.t0_epoch = now
            return now

        def body() -> None:
            self.window = sampling.run_window([s for _, s in self.flat], duration_s, self.interval_s,
                                              progress=None, stop=self._stop, clock=clock)

        self._thread = threading.Thread(target=body, daemon=True, name="stack-sampling")
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout_s)

    def headline(self) -> str:
        """How many sources sample, for the progress line ('' when none)."""
        return f"stack: {len(self.flat)} source(s)" if self.flat else ""

    def write(self, run_dir: Path, base_epoch_s: int) -> dict[str, Any]:
        """Writes stack/AREA-N-NAME.csv per recording (t_s from the run's base second) and returns run.json's
        "stack" section: {"window", "sources": [{"area","name","file","samples","opened","closed","error"}],
        "errors"}."""
        section: dict[str, Any] = {"window": None, "sources": [], "errors": dict(self.errors)}
        if not self.window:
            return section
        out = run_dir / rd.STACK_DIR
        out.mkdir(exist_ok=True)
        offset = (self.t0_epoch or base_epoch_s) - base_epoch_s
        section["window"] = {**self.window.info(), "offset_s": round(offset, 3)}
        for i, ((area, _src), rec) in enumerate(zip(self.flat, self.window.recordings, strict=True)):
            cols = rec.series()
            name = f"{area}-{i + 1}-{_slug(rec.name)}.csv"
            frame = pd.DataFrame({"t_s": [round(t + offset, 3) for t in cols["t_s"]], **cols["series"]})
            frame.to_csv(out / name, index=False)
            section["sources"].append({"area": area, "name": rec.name, "file": f"{rd.STACK_DIR}/{name}",
                                       "samples": len(rec.samples), "opened": rec.opened, "closed": rec.closed,
                                       "error": rec.error_line()})
        return section


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "source"


def sampler_for(settings) -> StackSampler:
    """The sources of every configured sampling analyzer; none configured gives a sampler that does nothing."""
    from advisor.pipeline import sampling_sources

    if settings is None:
        return StackSampler({})
    sources, failed = sampling_sources(settings)
    return StackSampler(sources, failed, interval_s=settings.sample_interval_s)
