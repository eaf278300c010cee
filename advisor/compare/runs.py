"""The two sides of a comparison: BEFORE and AFTER are each a run directory or a directory of run directories
(replicate runs). Reads what advisor/load/rundir.py wrote; refuses half-written runs and runs of different
workloads or hosts (unless forced)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError, InputFileError
from advisor.load import histograms as hg
from advisor.load import rundir as rd

OVERALL = "overall"


@dataclass
class Run:
    path: Path
    doc: dict[str, Any]
    _hists: dict[str, Any] | None = None
    _seconds: dict[str, list[tuple[str | None, int, int]]] | None = None

    @property
    def valid(self) -> bool:
        return bool(self.doc["validity"].get("valid"))

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.doc["validity"].get("checks", []) if c.get("status") == "fail"]

    @property
    def steady_s(self) -> float:
        return float(self.doc["steady_state"].get("duration_s") or 0.0)

    def endpoints(self) -> dict[str, dict[str, Any]]:
        """Steady-state results per endpoint key, plus OVERALL."""
        ss = self.doc["results"]["steady_state"]
        return {**ss.get("endpoints", {}), OVERALL: ss.get("overall", {})}

    def histograms(self) -> dict[str, Any]:
        """Steady-state histograms {key: {"ok": Hist, "fail": Hist, "requests", "failures"}} incl. OVERALL."""
        if self._hists is None:
            doc = rd.load_histograms(self.path)["steady_state"]
            rows = {**(doc.get("endpoints") or {}), OVERALL: doc.get("overall")}
            out = {}
            for key, e in rows.items():
                if not e:
                    continue
                try:
                    out[key] = {"ok": hg.decode(e["ok"]), "fail": hg.decode(e["fail"]),
                                "requests": int(e["requests"]), "failures": int(e["failures"])}
                except (KeyError, TypeError, ValueError) as err:
                    raise InputFileError(f"{self.path / rd.HISTOGRAMS_JSON}: endpoint {key!r} is malformed "
                                         f"({err})") from None
            self._hists = out
        return self._hists

    def seconds(self) -> dict[str, list[tuple[str | None, int, int]]]:
        """Per endpoint (and OVERALL), one (encoded ok histogram | None, n_ok, n_fail) per steady second, in
        order, with empty seconds filled in."""
        if self._seconds is None:
            st = self.doc["steady_state"]
            start, end = st.get("start_s"), st.get("end_s")
            by_t: dict[int, dict[str, Any]] = {}
            for row in rd.iter_windows(self.path):
                if row.get("steady"):
                    by_t[int(row["t_s"])] = row["endpoints"]
            keys = sorted({k for eps in by_t.values() for k in eps})
            out: dict[str, list[tuple[str | None, int, int]]] = {k: [] for k in keys}
            out[OVERALL] = []
            if start is not None and end is not None:
                for t in range(int(start), int(end)):
                    eps = by_t.get(t, {})
                    for k in keys:
                        e = eps.get(k)
                        out[k].append((e.get("ok"), int(e["n_ok"]), int(e["n_fail"])) if e else (None, 0, 0))
                    out[OVERALL].append(("*" if eps else None, sum(int(e["n_ok"]) for e in eps.values()),
                                         sum(int(e["n_fail"]) for e in eps.values())))
            counted = sum(n_ok + n_fail for _enc, n_ok, n_fail in out[OVERALL])
            expected = (self.doc["results"]["steady_state"].get("overall") or {}).get("requests")
            if expected is not None and counted != expected:
                raise InputFileError(f"{self.path / rd.WINDOWS_JSONL}: holds {counted:,} steady-state requests where "
                                     f"run.json counts {expected:,}; the file was cut short or edited")
            self._seconds = out
        return self._seconds

    def second_hist(self, key: str, index: int):
        """The decoded ok histogram of one steady second (OVERALL merges every endpoint of that second)."""
        if key != OVERALL:
            enc = self.seconds()[key][index][0]
            return hg.decode(enc) if enc else None
        hists = [hg.decode(v[index][0]) for k, v in self.seconds().items() if k != OVERALL and v[index][0]]
        return hg.merge(hists) if hists else None


@dataclass
class Side:
    label: str
    path: Path
    runs: list[Run] = field(default_factory=list)

    @property
    def valid_runs(self) -> list[Run]:
        return [r for r in self.runs if r.valid]


def load_side(path: Path, label: str) -> Side:
    """A run directory, or a directory whose sub-directories are run directories. InputFileError otherwise, or
    when any of its runs is half-written."""
    if not path.is_dir():
        raise InputFileError(f"{label} {path}: not a directory")
    if rd.is_run_dir(path):
        dirs = [path]
    else:
        dirs = sorted(p for p in path.iterdir() if p.is_dir() and rd.is_run_dir(p))
        if not dirs:
            raise InputFileError(f"{label} {path}: neither a run directory (no run.json) nor a directory of "
                                 "run directories; point it at `perfadvisor loadtest --out` directories")
    runs = [Run(d, rd.load_run_json(d)) for d in dirs]
    for r in runs:
        if not (r.path / rd.HISTOGRAMS_JSON).is_file():
            raise InputFileError(f"{r.path / rd.HISTOGRAMS_JSON}: missing; the run directory is incomplete")
    return Side(label, path, runs)


def _identity(run: Run) -> dict[str, Any]:
    w = run.doc.get("workload") or {}
    o = run.doc.get("options") or {}
    return {"workload": w.get("sha256"), "locustfile": w.get("locustfile"), "users": o.get("users"),
            "host": run.doc.get("host")}


def check_comparable(before: Side, after: Side, force: bool) -> list[str]:
    """ConfigError when the runs differ in workload (locustfile content), users or host, unless `force`; then
    the differences are returned as notes. Differences in spawn rate or duration are notes only."""
    runs = before.runs + after.runs
    ref = _identity(runs[0])
    problems: list[str] = []
    for r in runs[1:]:
        ident = _identity(r)
        for key in ("workload", "users", "host"):
            if ident[key] != ref[key]:
                what = {"workload": "workload (locustfile content)", "users": "users", "host": "host"}[key]
                shown = (ref["locustfile"], ident["locustfile"]) if key == "workload" else (ref[key], ident[key])
                problems.append(f"{what} differs: {runs[0].path} has {shown[0]!r}, {r.path} has {shown[1]!r}")
    notes = []
    for key in ("spawn_rate", "duration_s", "workers"):
        vals = {(r.doc.get("options") or {}).get(key) for r in runs}
        if len(vals) > 1:
            notes.append(f"options.{key} differs between runs ({', '.join(sorted(map(str, vals)))})")
    if problems and not force:
        raise ConfigError(f"runs are not comparable: {problems[0]}" +
                          (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "") +
                          "; pass --force to compare anyway")
    return [f"forced: {p}" for p in problems] + notes
