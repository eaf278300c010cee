"""The run directory `perfadvisor loadtest` writes and `perfadvisor compare` reads (design.md, "Run directory").

::

    RUN_DIR/
      run.json          what ran and how: workload, options, host, start/end, versions, machine fingerprint,
                        steady-state window, results per endpoint (and requests recorded by each worker),
                        validity checks (LOAD…), stack window;
                        "status" is "running" until the run ends ("complete" or "interrupted")
      histograms.json   per endpoint (Locust's "METHOD name"), HdrHistograms of successes ("ok") and failures
                        ("fail"), for the steady state and the whole run; base64 V2 encoding, microseconds
      windows.jsonl     one line per second: users, steady flag, and per endpoint the counts and histograms
      timeseries.csv    per second, all endpoints: t_s, users, requests, failures, p50_ms, p95_ms, p99_ms, steady
      endpoints.csv     the same per endpoint (column endpoint)
      generator.csv     per second and generator process: cpu_percent, rss_bytes, lag_ms_mean, lag_ms_max, users
      stack/AREA-N.csv  series sampled from the stack during the run (t_s + one column per series)
      locust/           Locust's own CSVs (stats, stats_history, failures, exceptions)
      logs/             the master's and each local worker's log

t_s is seconds since the second the load started (whole seconds, epoch-aligned bins).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from advisor.errors import InputFileError

RUN_SCHEMA = "perfadvisor.run/1"
RUN_JSON = "run.json"
HISTOGRAMS_JSON = "histograms.json"
WINDOWS_JSONL = "windows.jsonl"
TIMESERIES_CSV = "timeseries.csv"
ENDPOINTS_CSV = "endpoints.csv"
GENERATOR_CSV = "generator.csv"
STACK_DIR = "stack"
LOCUST_DIR = "locust"
LOGS_DIR = "logs"
#: Raw per-worker messages, merged into windows.jsonl and removed when the run ends.
PARTS_JSONL = "parts.jsonl"
MASTER_JSON = "master.json"


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Writes through a temporary file and a rename, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def is_run_dir(path: Path) -> bool:
    return (path / RUN_JSON).is_file()


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(f"{path}: missing; {what}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(f"{path}: cannot read it ({e})") from None
    except json.JSONDecodeError as e:
        raise InputFileError(f"{path}: not valid JSON (line {e.lineno}); the run was cut short or edited") from None
    if not isinstance(doc, dict):
        raise InputFileError(f"{path}: expected a JSON object")
    return doc


def load_run_json(run_dir: Path) -> dict[str, Any]:
    """run.json of a finished run. InputFileError when it is missing, malformed, of another schema or still
    "running" (a run that was killed, or is still going)."""
    doc = read_json(run_dir / RUN_JSON, "not a perfadvisor loadtest run directory")
    if doc.get("schema") != RUN_SCHEMA:
        raise InputFileError(f"{run_dir / RUN_JSON}: schema {doc.get('schema')!r} is not {RUN_SCHEMA!r}")
    status = doc.get("status")
    if status == "running":
        raise InputFileError(f"{run_dir}: the run never finished (run.json says \"running\"): it is still going "
                             "or was killed; run it again")
    if status == "failed":
        raise InputFileError(f"{run_dir}: the run failed before it recorded its results (see its logs/); "
                             "run it again")
    if status not in ("complete", "interrupted"):
        raise InputFileError(f"{run_dir / RUN_JSON}: unknown status {status!r}")
    for key in ("workload", "options", "host", "steady_state", "results", "validity"):
        if key not in doc:
            raise InputFileError(f"{run_dir / RUN_JSON}: no {key!r}; the file is incomplete")
    return doc


def load_histograms(run_dir: Path) -> dict[str, Any]:
    doc = read_json(run_dir / HISTOGRAMS_JSON, "the run directory is incomplete")
    if "steady_state" not in doc or "endpoints" not in doc.get("steady_state", {}):
        raise InputFileError(f"{run_dir / HISTOGRAMS_JSON}: no steady_state.endpoints; the file is incomplete")
    return doc


def iter_windows(run_dir: Path):
    """The lines of windows.jsonl as dicts. InputFileError for a missing file or a line that is not JSON."""
    path = run_dir / WINDOWS_JSONL
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{path}: missing; the run directory is incomplete") from None
    except OSError as e:
        raise InputFileError(f"{path}: cannot read it ({e})") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise InputFileError(f"{path}: line {n} is not JSON; the file was cut short") from None
            if not isinstance(row, dict) or "t_s" not in row or "endpoints" not in row:
                raise InputFileError(f"{path}: line {n} is not a window (needs t_s and endpoints)")
            yield row
