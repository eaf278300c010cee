"""`perfadvisor loadtest`: runs a Locust workload headless on a master and K worker processes, records
per-endpoint HdrHistograms merged across the workers, samples the stack beside it, and writes the run directory
(advisor/load/rundir.py) with its LOAD… validity checks.

This process only orchestrates (see advisor/load/node.py for why Locust runs in child processes). Ctrl-C asks
the master to stop; what was recorded is kept and run.json says "interrupted". A second Ctrl-C ends the
processes at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from advisor import __version__
from advisor.errors import ConfigError, InputFileError, TargetError
from advisor.load import rundir as rd
from advisor.load.finalize import finalize
from advisor.load.stack import StackSampler

#: Locust's default master port (locust --master-bind-port).
DEFAULT_MASTER_PORT = 5557
#: Seconds to wait for the master to load the locustfile and listen.
MASTER_START_TIMEOUT_S = 60.0
#: Seconds to wait for the master to finish after the load stopped (final reports, CSVs).
MASTER_FINISH_TIMEOUT_S = 120.0
#: Warm-up excluded after the last user started, unless --warmup says otherwise: 10% of the duration, at most
#: this many seconds (perfadvisor's choice; JIT compilers and caches settle in tens of seconds).
MAX_DEFAULT_WARMUP_S = 60.0
#: Exit code of an interrupted run (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class LoadOptions:
    """What `perfadvisor loadtest` was asked for. Durations in seconds. workers: local worker processes;
    expect_remote: workers on other hosts the master waits for (--master)."""

    locustfile: Path
    host: str
    users: int
    spawn_rate: float
    duration_s: float
    out: Path
    workers: int
    warmup_s: float | None = None
    expect_remote: int = 0
    bind_host: str = "127.0.0.1"
    bind_port: int | None = None
    connect_timeout_s: float = 60.0
    stop_timeout_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def warmup(self) -> float:
        return self.warmup_s if self.warmup_s is not None else min(MAX_DEFAULT_WARMUP_S, 0.1 * self.duration_s)

    @property
    def expect_workers(self) -> int:
        return self.workers + self.expect_remote


def default_workers() -> int:
    """One local worker per core (Locust's advice: one process per core)."""
    return max(1, os.cpu_count() or 1)


def redact_url(url: str) -> str:
    """The URL with any password shown as ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_options(o: LoadOptions) -> None:
    """ConfigError / InputFileError for options that cannot work, before anything starts."""
    if o.users < 1:
        raise ConfigError(f"--users {o.users}: must be at least 1")
    if o.spawn_rate <= 0:
        raise ConfigError(f"--spawn-rate {o.spawn_rate:g}: must be above 0 users/s")
    if o.duration_s <= 0:
        raise ConfigError("--duration: must be longer than 0 s")
    if o.expect_workers < 1:
        raise ConfigError("no workers: give --workers N (local) or --expect-workers N with --master")
    if o.warmup_s is not None and o.warmup_s < 0:
        raise ConfigError("--warmup: must not be negative")
    if not o.locustfile.is_file():
        raise InputFileError(f"locustfile {o.locustfile}: not found")
    if o.locustfile.suffix != ".py":
        raise InputFileError(f"locustfile {o.locustfile}: not a .py file")
    parts = urlsplit(o.host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--host {redact_url(o.host)}: expected an http:// or https:// URL with a host name")
    if (o.out / rd.RUN_JSON).exists():
        raise ConfigError(f"--out {o.out}: already holds a run (run.json); choose a new directory")


def check_host(url: str, timeout_s: float = 5.0) -> None:
    """TargetError when nothing accepts a TCP connection at the URL's host and port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise TargetError(f"--host {redact_url(url)}: cannot connect to {parts.hostname}:{port} ({reason}); "
                          "is the service running?") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def machine_fingerprint() -> dict[str, Any]:
    """Where the generator ran: enough to tell two machines (or a busy one) apart."""
    import psutil
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "cpu_model": model, "cpu_count_logical": os.cpu_count(),
            "cpu_count_physical": psutil.cpu_count(logical=False),
            "memory_bytes": psutil.virtual_memory().total,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def workload_fingerprint(path: Path, user_classes: list[str]) -> dict[str, Any]:
    data = path.read_bytes()
    return {"locustfile": path.name, "path": str(path.resolve()), "sha256": hashlib.sha256(data).hexdigest(),
            "user_classes": user_classes}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Processes:
    """The master and local workers, each in its own session so a terminal's Ctrl-C reaches only us."""

    def __init__(self, out: Path) -> None:
        self.logs = out / rd.LOGS_DIR
        self.logs.mkdir(exist_ok=True)
        self.master: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.lines: queue.Queue = queue.Queue()
        self._files: list[Any] = []

    def _log(self, name: str):
        fh = (self.logs / f"{name}.log").open("ab")
        self._files.append(fh)
        return fh

    def start_master(self, args: list[str]) -> None:
        self.master = subprocess.Popen([sys.executable, "-m", "advisor.load.node", "master", *args],
                                       stdout=subprocess.PIPE, stderr=self._log("master"), stdin=subprocess.DEVNULL,
                                       start_new_session=True, text=True, bufsize=1, env=_child_env())

        def pump() -> None:
            assert self.master and self.master.stdout
            for line in self.master.stdout:
                try:
                    self.lines.put(json.loads(line))
                except json.JSONDecodeError:
                    continue  # stray output of a locustfile's print(); the log has it
            self.lines.put({"event": "exit"})

        threading.Thread(target=pump, daemon=True, name="master-output").start()

    def start_worker(self, n: int, args: list[str]) -> None:
        self.workers.append(subprocess.Popen([sys.executable, "-m", "advisor.load.node", "worker", *args],
                                             stdout=self._log(f"worker-{n}"), stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True, env=_child_env()))

    def next_event(self, timeout_s: float) -> dict[str, Any] | None:
        try:
            return self.lines.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def signal_master(self, sig: int) -> None:
        if self.master and self.master.poll() is None:
            self.master.send_signal(sig)

    def end(self, grace_s: float = 5.0) -> None:
        """Waits for every process to exit (the master tells the workers to quit), then ends those left."""
        procs = [p for p in [self.master, *self.workers] if p]
        deadline = time.monotonic() + grace_s
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            alive = [p for p in procs if p.poll() is None]
            for p in alive:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            for p in alive:
                try:
                    p.wait(wait_s)
                except subprocess.TimeoutExpired:
                    pass
        for fh in self._files:
            fh.close()


def _child_env() -> dict[str, str]:
    """The children import advisor from the same place as this process, wherever the working directory is."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@dataclass
class Progress:
    """The last progress event of the master, as one terminal line."""

    total_s: float
    users_target: int
    event: dict[str, Any] = field(default_factory=dict)

    def line(self, extra: str = "") -> str:
        e = self.event
        p95 = f"{e['p95_ms']:.1f} ms" if e.get("p95_ms") is not None else "–"
        err = f"{100 * e['error_share']:.1f}%" if e.get("error_share") is not None else "–"
        cpu = f"{e['cpu_max_percent']:.0f}%" if e.get("cpu_max_percent") is not None else "–"
        parts = [f"{e.get('t_s', 0):5.0f}/{self.total_s:.0f} s", f"users {e.get('users', 0)}/{self.users_target}",
                 f"{e.get('rps', 0):,.1f} req/s", f"p95 {p95}", f"errors {err}", f"generator CPU {cpu}",
                 f"workers {e.get('workers', 0)}"]
        return " · ".join(parts + ([extra] if extra else []))


def run_loadtest(o: LoadOptions, settings=None, echo: Callable[[str], None] = print,
                 progress: Callable[[str], None] | None = None,
                 sampler: StackSampler | None = None) -> tuple[dict[str, Any], int]:
    """Runs the load and writes the run directory. Returns (run.json document, exit code: 0 valid, 1 invalid,
    130 interrupted). Raises PerfadvisorError (exit 2) for a bad option, an unreachable host, a locustfile that
    does not import, workers that never connect or an occupied master port.

    echo: plain lines (start, summary); progress: a live-line callback (advisor.sampling.terminal_progress) or
    None for a line every 10 s through echo."""
    check_options(o)
    if settings is not None:
        from advisor.load.rules import check_thresholds
        check_thresholds(settings)
    check_host(o.host)
    o.out.mkdir(parents=True, exist_ok=True)
    if not os.access(o.out, os.W_OK):
        raise ConfigError(f"--out {o.out}: not writable")
    for stale in (rd.PARTS_JSONL, rd.MASTER_JSON):
        (o.out / stale).unlink(missing_ok=True)
    sampler = sampler or StackSampler({})
    port = o.bind_port or free_port(o.bind_host if o.bind_host not in ("*", "0.0.0.0") else "127.0.0.1")
    doc: dict[str, Any] = {
        "schema": rd.RUN_SCHEMA, "status": "running",
        "tool": {"name": "perfadvisor", "version": __version__},
        "versions": {"locust": _version("locust"), "hdrhistogram": _version("hdrhistogram"),
                     "python": platform.python_version()},
        "workload": workload_fingerprint(o.locustfile, []),
        "options": {"users": o.users, "spawn_rate": o.spawn_rate, "duration_s": o.duration_s,
                    "warmup_s": o.warmup, "workers": o.workers, "expect_remote_workers": o.expect_remote,
                    "mode": "distributed" if o.expect_remote else "local", "master_bind_port": port,
                    "stop_timeout_s": o.stop_timeout_s, **o.extra},
        "host": redact_url(o.host), "started_at": _now(), "ended_at": None,
        "machine": machine_fingerprint(),
    }
    rd.write_json(o.out / rd.RUN_JSON, doc)
    procs = _Processes(o.out)
    interrupted = False
    try:
        procs.start_master(["--locustfile", str(o.locustfile.resolve()), "--host", o.host, "--users", str(o.users),
                            "--spawn-rate", str(o.spawn_rate), "--duration-s", str(o.duration_s),
                            "--expect-workers", str(o.expect_workers), "--bind-host", o.bind_host,
                            "--bind-port", str(port), "--connect-timeout-s", str(o.connect_timeout_s),
                            "--stop-timeout-s", str(o.stop_timeout_s), "--out", str(o.out.resolve()),
                            "--parent-pid", str(os.getpid())])
        # Workers start beside the master (their imports take as long as its): Locust's ZeroMQ socket delivers
        # their "client_ready" once the master listens.
        for n in range(1, o.workers + 1):
            procs.start_worker(n, ["--locustfile", str(o.locustfile.resolve()), "--master-host", "127.0.0.1",
                                   "--master-port", str(port), "--parent-pid", str(os.getpid())])
        listening = _wait_listening(procs, o)
        doc["workload"] = workload_fingerprint(o.locustfile, listening.get("user_classes", []))
        echo(f"load: {o.users} users at {o.spawn_rate:g}/s for {o.duration_s:g} s against {redact_url(o.host)}, "
             f"{o.expect_workers} worker(s)" + (f"; sampling {sampler.headline()}" if sampler.flat else ""))
        interrupted = _drive(procs, o, sampler, echo, progress)
    except BaseException:
        sampler.stop()
        procs.signal_master(signal.SIGTERM)
        procs.end(grace_s=2.0)
        _mark(o.out, doc, "failed")
        raise
    sampler.stop()
    procs.end()
    if progress:
        progress("")
    try:
        facts = finalize(o.out, o.warmup, threshold=(lambda name, default: settings.threshold("load", name, default))
                         if settings is not None else None)
    except InputFileError:
        _mark(o.out, doc, "failed")
        raise
    doc.update(facts)
    doc["stack"] = sampler.write(o.out, int(facts["t0_epoch"]))
    doc["status"] = "interrupted" if interrupted or facts["interrupted"] else "complete"
    doc["ended_at"] = _now()
    doc["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    rd.write_json(o.out / rd.RUN_JSON, doc)
    code = EXIT_INTERRUPTED if doc["status"] == "interrupted" else (0 if doc["validity"]["valid"] else 1)
    return doc, code


def _mark(out: Path, doc: dict[str, Any], status: str) -> None:
    doc["status"] = status
    doc["ended_at"] = _now()
    rd.write_json(out / rd.RUN_JSON, doc)


def _wait_listening(procs: _Processes, o: LoadOptions) -> dict[str, Any]:
    deadline = time.monotonic() + MASTER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        ev = procs.next_event(0.5)
        if ev is None:
            continue
        if ev["event"] == "listening":
            return ev
        if ev["event"] == "error":
            raise (InputFileError if ev.get("kind") == "locustfile" else TargetError)(ev["message"])
        if ev["event"] == "exit":
            break
    tail = _tail(procs.logs / "master.log")
    raise TargetError(f"the Locust master did not start ({tail or 'no output'}); see {procs.logs / 'master.log'}")


def _tail(path: Path) -> str:
    try:
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _drive(procs: _Processes, o: LoadOptions, sampler: StackSampler, echo, progress) -> bool:
    """Follows the master until it is done. Returns True when the run was interrupted (Ctrl-C)."""
    state = Progress(o.duration_s, o.users)
    interrupted = False
    last_plain = 0.0
    finish_deadline: float | None = None
    while True:
        try:
            ev = procs.next_event(0.5)
            if ev is None:
                if finish_deadline and time.monotonic() > finish_deadline:
                    raise TargetError("the Locust master did not finish within "
                                      f"{MASTER_FINISH_TIMEOUT_S:g} s after the stop; see {procs.logs}")
                continue
            kind = ev["event"]
            if kind == "error":
                raise TargetError(ev["message"])
            if kind == "started":
                sampler.start(o.duration_s)
            elif kind == "progress":
                state.event = ev
                line = state.line(sampler.headline())
                if progress:
                    progress(line)
                elif time.monotonic() - last_plain >= 10:
                    echo(line)
                    last_plain = time.monotonic()
                if ev.get("t_s", 0) >= o.duration_s and finish_deadline is None:
                    finish_deadline = time.monotonic() + MASTER_FINISH_TIMEOUT_S
            elif kind == "done":
                return interrupted or bool(ev.get("interrupted"))
            elif kind == "exit":
                raise TargetError(f"the Locust master ended unexpectedly ({_tail(procs.logs / 'master.log')}); "
                                  f"see {procs.logs / 'master.log'}")
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            echo("\nstopping (Ctrl-C again to end at once); what was recorded is kept")
            sampler.stop(timeout_s=0)
            procs.signal_master(signal.SIGTERM)
            finish_deadline = time.monotonic() + MASTER_FINISH_TIMEOUT_S


def run_remote_worker(locustfile: Path, master_host: str, master_port: int) -> int:
    """`loadtest --worker`: one worker process for a master on another host; returns its exit code."""
    if not locustfile.is_file():
        raise InputFileError(f"locustfile {locustfile}: not found")
    proc = subprocess.Popen([sys.executable, "-m", "advisor.load.node", "worker", "--locustfile",
                             str(locustfile.resolve()), "--master-host", master_host, "--master-port",
                             str(master_port), "--parent-pid", str(os.getpid())], env=_child_env(),
                            start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            return EXIT_INTERRUPTED


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """What the console shows at the end: overall numbers, each check that did not pass, the verdict."""
    ss = doc["results"]["steady_state"]["overall"]

    def ms(v):
        return f"{v:,.1f} ms" if v is not None else "–"

    lines = [f"steady state {doc['steady_state']['duration_s']:.0f} s: {ss['requests']:,} requests, "
             f"{(ss['rps'] or 0):,.1f} req/s, p50 {ms(ss['p50_ms'])}, p95 {ms(ss['p95_ms'])}, "
             f"p99 {ms(ss['p99_ms'])}, errors {100 * (ss['error_share'] or 0):.2f}%"]
    for c in doc["validity"]["checks"]:
        if c["status"] != "pass":
            lines.append(f"{c['status'].upper()} {c['rule']} {c['name']}: {c['title']}")
    lc = doc["results"].get("locust_counts", {})
    if lc and not lc.get("agree"):
        lines.append(f"note: histogram counts differ from Locust's ({lc.get('histogram_total_requests')} vs "
                     f"{lc.get('locust_total_requests')})")
    lines.append(("run is VALID" if doc["validity"]["valid"] else "run is INVALID (compare will not give it a "
                  "verdict)") + f"; status {doc['status']}")
    return lines


