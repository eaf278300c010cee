"""Processes the native runner starts: spawning each in its own session, stopping exactly the process it
started (pid and start time, so a reused pid is never signalled), ports, HTTP probes and log tails."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from advisor.stack.config import STOP_TIMEOUT_S, StackError


def _proc_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


@dataclass(frozen=True)
class Proc:
    """A process `up` started: its pid and start time, so `down` never signals a reused pid."""

    name: str
    pid: int
    start_ticks: int

    def alive(self) -> bool:
        return _proc_start_ticks(self.pid) == self.start_ticks

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """Signals the process group the process leads, waits, then SIGKILLs it. True if it had been running."""
        if not self.alive():
            return False
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + timeout_s
        while self.alive() and time.monotonic() < deadline:
            _reap(self.pid)
            time.sleep(0.1)
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while self.alive() and time.monotonic() < deadline + 5:
                _reap(self.pid)
                time.sleep(0.1)
        _reap(self.pid)
        return True


def _reap(pid: int) -> None:
    """Collects an exited child of ours (tests run `up` in-process), so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _spawn(name: str, argv: list[str], log: Path, env: dict[str, str], cwd: Path | None = None) -> Proc:
    """Starts argv in its own session (so its whole process group can be stopped), output to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                             cwd=cwd, start_new_session=True)
    ticks = None
    for _ in range(50):
        ticks = _proc_start_ticks(p.pid)
        if ticks is not None:
            break
        time.sleep(0.01)
    if ticks is None:
        raise StackError(f"{name} exited at once; see {log}")
    return Proc(name, p.pid, ticks)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_port(port: int, proc: Proc | None, log: Path, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise StackError(f"{what} exited during start-up; last lines of {log}:\n{_tail(log)}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise StackError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s; see {log}")


def _http_get(url: str, timeout_s: float = 3.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:  # noqa: S310 (loopback URLs we built)
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _answers(url: str) -> bool:
    try:
        return _http_get(url, 2)[0] == 200
    except OSError:
        return False
