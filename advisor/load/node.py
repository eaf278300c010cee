"""The Locust processes of `perfadvisor loadtest`: ``python -m advisor.load.node master|worker …``.

The orchestrator (advisor/load/runner.py) never imports Locust: importing it monkey-patches the standard library
with gevent, which would turn the orchestrator's sampling threads into greenlets. So the master and every worker
are separate processes built on Locust's library API (``Environment.create_master_runner`` /
``create_worker_runner``), and they talk over Locust's own message channel:

- each worker records every request into per-second HdrHistograms (advisor/load/recorder.py) and sends the
  complete seconds once a second with ``runner.send_message("perfadvisor_window", …)``, together with its own
  CPU (psutil), RSS and event-loop lag; when its users have stopped it sends the rest (``final``) and a last
  Locust statistics report, *before* Locust's ``client_stopped``, so the master has everything when
  ``MasterRunner.stop()`` returns;
- the master (``runner.register_message``) appends each message to ``parts.jsonl`` in the run directory as it
  arrives (nothing is lost on Ctrl-C), keeps a few seconds in memory for the live progress line, and writes
  ``master.json`` and Locust's CSVs at the end.

The master speaks to the orchestrator in JSON lines on stdout::

    {"event": "listening", "port": int, "user_classes": [str, …]}
    {"event": "error", "kind": "locustfile" | "port" | "workers", "message": str}
    {"event": "started", "t0": epoch s}
    {"event": "progress", "t_s": float, "users": int, "rps": float, "p95_ms": float | null,
     "error_share": float | null, "cpu_max_percent": float | null, "workers": int}
    {"event": "done", "interrupted": bool}

SIGTERM (or SIGINT) to the master ends the run early and keeps what was recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

#: Seconds of recent data behind the live p95 and error share.
PROGRESS_WINDOW_S = 10
#: Event-loop lag probe period (s): a greenlet sleeps this long and measures how late it wakes.
LAG_PROBE_S = 0.1


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def load_user_classes(path: str) -> list:
    """The runnable User classes of a locustfile. Raises ImportError/SyntaxError/… from the file, or
    LookupError when it defines no User class."""
    from locust.util.load_locustfile import load_locustfile

    users, _shapes = load_locustfile(os.path.abspath(path))
    if not users:
        raise LookupError("defines no User class (a subclass of locust.User / HttpUser with tasks)")
    return list(users.values())


def _locustfile_error(e: BaseException) -> str:
    if isinstance(e, SyntaxError):
        return f"does not import: SyntaxError at line {e.lineno}: {e.msg}"
    if isinstance(e, LookupError) and not isinstance(e, KeyError | IndexError):
        return str(e)
    return f"does not import: {type(e).__name__}: {e}"


class _LagProbe:
    """How late gevent wakes a sleeping greenlet: the generator's scheduling delay, added to every think time
    and every measured response time when the process is saturated."""

    def __init__(self) -> None:
        self.total_ms = 0.0
        self.max_ms = 0.0
        self.n = 0

    def run(self) -> None:
        import gevent
        while True:
            t = time.perf_counter()
            gevent.sleep(LAG_PROBE_S)
            late_ms = max(0.0, (time.perf_counter() - t - LAG_PROBE_S) * 1000.0)
            self.total_ms += late_ms
            self.max_ms = max(self.max_ms, late_ms)
            self.n += 1

    def take(self) -> tuple[float | None, float | None]:
        mean = self.total_ms / self.n if self.n else None
        peak = self.max_ms if self.n else None
        self.total_ms, self.max_ms, self.n = 0.0, 0.0, 0
        return mean, peak


#: The shortest interval (s) a CPU share is measured over: psutil.Process.cpu_percent(None) compares with its
#: previous call, and over a few ms one scheduler tick reads as hundreds of percent (a final report 2 ms after
#: the last gave 418% on 2 cores, failing LOAD001). psutil's docs ask for at least 0.1 s between calls.
MIN_CPU_INTERVAL_S = 0.5


class _ProcessMeter:
    """This process's CPU share (% of one core) since the previous sample, and its RSS (bytes)."""

    def __init__(self) -> None:
        import psutil
        self.proc = psutil.Process()
        self.proc.cpu_percent(None)
        self._since = time.monotonic()

    def take(self) -> dict[str, Any]:
        """{"at", "cpu_percent", "rss_bytes", "host", "pid"}; cpu_percent is None when the previous sample is
        less than MIN_CPU_INTERVAL_S ago (the interval keeps running to the next sample)."""
        now = time.monotonic()
        cpu = None
        if now - self._since >= MIN_CPU_INTERVAL_S:
            cpu = round(self.proc.cpu_percent(None), 1)
            self._since = now
        return {"at": round(time.time(), 3), "cpu_percent": cpu,
                "rss_bytes": int(self.proc.memory_info().rss), "host": socket.gethostname(), "pid": os.getpid()}


def _watch_parent(parent_pid: int | None, on_gone) -> None:
    """Ends this node when the process that started it is gone (a killed orchestrator leaves no load behind)."""
    import gevent
    if not parent_pid:
        return
    while True:
        gevent.sleep(1.0)
        if os.getppid() != parent_pid:
            on_gone()
            return


# ---------------------------------------------------------------------------------------------- worker


def worker_main(a: argparse.Namespace) -> int:
    import gevent
    from locust import events
    from locust.env import Environment

    from advisor.load.recorder import MESSAGE_TYPE, Recorder, message

    try:
        user_classes = load_user_classes(a.locustfile)
    except BaseException as e:  # noqa: BLE001 - whatever the locustfile raises is the user's to see, in one line
        sys.stderr.write(f"perfadvisor: error: locustfile {a.locustfile}: {_locustfile_error(e)}\n")
        return 2
    env = Environment(user_classes=user_classes, events=events)
    try:
        runner = env.create_worker_runner(a.master_host, a.master_port)
    except ConnectionError:
        sys.stderr.write(f"perfadvisor: error: no master answered at {a.master_host}:{a.master_port}\n")
        return 2
    rec = Recorder()
    meter = _ProcessMeter()
    lag = _LagProbe()

    def on_request(request_type, name, response_time, response_length, exception=None, **_kw):
        rec.record(request_type, name, response_time, exception is not None, time.time())

    def send(final: bool) -> None:
        process = meter.take()
        process["lag_ms_mean"], process["lag_ms_max"] = lag.take()
        process["users"] = runner.user_count
        runner.send_message(MESSAGE_TYPE, message(rec, time.time(), process, final))

    def flusher() -> None:
        while True:
            gevent.sleep(1.0 - (time.time() % 1.0) + 0.02)
            send(False)

    def on_test_stop(environment, **_kw) -> None:
        # Runs inside WorkerRunner.stop(), before the worker answers "client_stopped": the rest of the
        # histograms and a last Locust statistics report reach the master before it considers us stopped.
        send(True)
        data: dict[str, Any] = {}
        environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        runner.send_message("stats", data)

    # PERFADVISOR_RECORDER=off leaves Locust's own statistics alone: only benchmarks/loadtest_overhead.py uses it,
    # to measure what the histograms cost.
    if os.environ.get("PERFADVISOR_RECORDER", "on") != "off":
        events.request.add_listener(on_request)
    events.test_stop.add_listener(on_test_stop)
    for fn in (flusher, lag.run):
        runner.greenlet.spawn(fn)
    gevent.spawn(_watch_parent, a.parent_pid, lambda: runner.quit())
    gevent.signal_handler(signal.SIGTERM, lambda: runner.quit())
    try:
        runner.greenlet.join()
    except KeyboardInterrupt:
        runner.quit()
    return 0


# ---------------------------------------------------------------------------------------------- master


class _Live:
    """Counts of the last seconds, for the progress line only (the run's numbers come from parts.jsonl)."""

    def __init__(self) -> None:
        self.by_second: dict[int, list] = {}  # second → [requests, failures, ok histogram]
        self.cpu: dict[str, float] = {}

    def add(self, node: str, data: dict[str, Any]) -> None:
        from advisor.load import histograms as hg
        for sec, endpoints in data.get("seconds", {}).items():
            row = self.by_second.setdefault(int(sec), [0, 0, hg.new_histogram()])
            for e in endpoints.values():
                row[0] += e["n_ok"] + e["n_fail"]
                row[1] += e["n_fail"]
                if e.get("ok"):
                    row[2].add(hg.decode(e["ok"]))
        proc = data.get("process") or {}
        if proc.get("cpu_percent") is not None:
            self.cpu[node] = proc["cpu_percent"]
        for sec in [s for s in self.by_second if s < time.time() - PROGRESS_WINDOW_S - 2]:
            del self.by_second[sec]

    def line(self, now: float) -> dict[str, Any]:
        from advisor.load import histograms as hg
        last = int(now) - 2  # the last second every worker has surely sent
        recent = [self.by_second[s] for s in range(last - PROGRESS_WINDOW_S + 1, last + 1) if s in self.by_second]
        req = sum(r[0] for r in recent)
        fails = sum(r[1] for r in recent)
        p95 = hg.percentile_ms(hg.merge(r[2] for r in recent), 95) if recent else None
        return {"rps": round(self.by_second.get(last, [0])[0], 1), "p95_ms": p95,
                "error_share": (fails / req) if req else None,
                "cpu_max_percent": max(self.cpu.values()) if self.cpu else None}


def master_main(a: argparse.Namespace) -> int:
    import gevent
    from locust import events, stats
    from locust.env import Environment

    from advisor.load.recorder import MESSAGE_TYPE

    out = Path(a.out)
    try:
        user_classes = load_user_classes(a.locustfile)
    except BaseException as e:  # noqa: BLE001
        emit("error", kind="locustfile", message=f"locustfile {a.locustfile}: {_locustfile_error(e)}")
        return 2
    env = Environment(user_classes=user_classes, host=a.host, events=events, stop_timeout=a.stop_timeout_s)
    try:
        runner = env.create_master_runner(a.bind_host, a.bind_port)
    except SystemExit:
        emit("error", kind="port", message=f"the master port {a.bind_host}:{a.bind_port} is in use; "
                                           "choose another with --master-bind-port")
        return 2
    parts = open(out / "parts.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - closed at the end of the run
    live = _Live()
    facts: dict[str, Any] = {"users_target": a.users, "spawn_rate": a.spawn_rate, "duration_s": a.duration_s,
                             "expect_workers": a.expect_workers, "connects": [], "lost": [],
                             "users": [], "master_process": [], "interrupted": False}
    seen_nodes: dict[str, int] = {}

    def on_window(environment, msg, **_kw) -> None:
        index = runner.get_worker_index(msg.node_id)
        seen_nodes[msg.node_id] = index
        parts.write(json.dumps({"worker": index, **msg.data}, separators=(",", ":")) + "\n")
        live.add(str(index), msg.data)

    def on_connect(client_id, **_kw) -> None:
        facts["connects"].append({"at": round(time.time(), 3), "worker": runner.get_worker_index(client_id)})

    def on_spawning_complete(user_count, **_kw) -> None:
        facts.setdefault("spawn_complete_at", round(time.time(), 3))

    runner.register_message(MESSAGE_TYPE, on_window)
    events.worker_connect.add_listener(on_connect)
    events.spawning_complete.add_listener(on_spawning_complete)
    stopping = {"flag": False}

    def request_stop() -> None:
        stopping["flag"] = True

    gevent.signal_handler(signal.SIGTERM, request_stop)
    gevent.signal_handler(signal.SIGINT, request_stop)
    gevent.spawn(_watch_parent, a.parent_pid, request_stop)
    emit("listening", port=a.bind_port, user_classes=sorted(c.__name__ for c in user_classes))

    deadline = time.time() + a.connect_timeout_s
    while runner.worker_count < a.expect_workers and not stopping["flag"]:
        if time.time() > deadline:
            emit("error", kind="workers", message=f"only {runner.worker_count} of {a.expect_workers} worker(s) "
                                                  f"connected to the master within {a.connect_timeout_s:g} s")
            runner.quit()
            return 2
        gevent.sleep(0.1)
    if stopping["flag"]:
        runner.quit()
        emit("done", interrupted=True)
        return 0

    csv_dir = out / "locust"
    csv_dir.mkdir(exist_ok=True)
    writer = stats.StatsCSVFileWriter(env, stats.PERCENTILES_TO_REPORT, str(csv_dir / "locust"), full_history=True)
    writer_greenlet = gevent.spawn(writer.stats_writer)
    t0 = time.time()
    facts["t0"] = round(t0, 3)
    facts["workers_at_start"] = runner.worker_count
    emit("started", t0=t0)
    starter = gevent.spawn(runner.start, a.users, a.spawn_rate)
    meter = _ProcessMeter()
    connected: set[str] = set(runner.clients.keys())
    while True:
        gevent.sleep(1.0 - (time.time() % 1.0))
        now = time.time()
        facts["users"].append([round(now, 3), runner.user_count])
        facts["master_process"].append(meter.take())
        current = {c.id for c in runner.clients.all if c.state != "missing"}
        for gone in connected - current:
            facts["lost"].append({"at": round(now, 3), "worker": runner.get_worker_index(gone)})
        connected = current
        emit("progress", t_s=round(now - t0, 1), users=runner.user_count, workers=runner.worker_count,
             **live.line(now))
        if stopping["flag"]:
            facts["interrupted"] = True
            break
        if now - t0 >= a.duration_s:
            break
        if runner.worker_count == 0:
            break  # every worker is gone: nothing more can be measured
    facts["stop_at"] = round(time.time(), 3)
    starter.kill(block=True)
    runner.stop()
    gevent.sleep(0.5)  # late "stats" from a worker that stopped as the master did
    gevent.sleep(1.1)  # one more pass of Locust's CSV writer, with the final numbers
    writer_greenlet.kill(block=True)
    writer.close_files()
    facts["end_at"] = round(time.time(), 3)
    facts["locust"] = {"entries": [{"method": e.method or "", "name": e.name, "num_requests": e.num_requests,
                                    "num_failures": e.num_failures} for e in env.stats.entries.values()],
                       "total": {"num_requests": env.stats.total.num_requests,
                                 "num_failures": env.stats.total.num_failures}}
    facts["workers_seen"] = sorted(seen_nodes.values())
    parts.close()
    (out / "master.json").write_text(json.dumps(facts, indent=1))
    for node_id in seen_nodes:  # including workers that re-registered after "stop"
        runner.send_message("quit", client_id=node_id)
    emit("done", interrupted=facts["interrupted"])
    runner.quit()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m advisor.load.node")
    sub = p.add_subparsers(dest="role", required=True)
    m = sub.add_parser("master")
    m.add_argument("--locustfile", required=True)
    m.add_argument("--host", required=True)
    m.add_argument("--users", type=int, required=True)
    m.add_argument("--spawn-rate", type=float, required=True)
    m.add_argument("--duration-s", type=float, required=True)
    m.add_argument("--expect-workers", type=int, required=True)
    m.add_argument("--bind-host", default="127.0.0.1")
    m.add_argument("--bind-port", type=int, required=True)
    m.add_argument("--connect-timeout-s", type=float, default=60.0)
    m.add_argument("--stop-timeout-s", type=float, default=0.0)
    m.add_argument("--out", required=True)
    m.add_argument("--parent-pid", type=int, default=None)
    w = sub.add_parser("worker")
    w.add_argument("--locustfile", required=True)
    w.add_argument("--master-host", default="127.0.0.1")
    w.add_argument("--master-port", type=int, default=5557)
    w.add_argument("--parent-pid", type=int, default=None)
    a = p.parse_args(argv)
    import logging
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return master_main(a) if a.role == "master" else worker_main(a)


if __name__ == "__main__":
    sys.exit(main())
