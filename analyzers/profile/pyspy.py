"""ProfileSource: `py-spy record` on one process for the sampling window (advisor/sampling.py's Source).

open() starts ``py-spy record --pid PID --rate R --format raw --output FILE --nonblocking`` and waits until
it says it is sampling (or fails: the failure is one line with its fix). sample() reads the process's CPU
time and resident memory with psutil (Prometheus client names: ``process_cpu_seconds_total``,
``process_resident_memory_bytes``; summed over its children with --subprocesses). close() stops py-spy
with SIGINT (it then writes the collapsed stacks) and turns them into the profile (see `profile_from`).

``--full-filenames`` lets stacks.py tell library code from the application's (see there).
``--nonblocking`` keeps py-spy from pausing the target on every sample (py-spy's README: lower overhead,
at the price of an occasional torn stack); a service in production should not stall for a profile.

One `py-spy record` writes one format. Raw (collapsed) stacks carry everything: the top functions are
counted from them and the flame graph is drawn from them (flamegraph.py), so one run gives both.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from advisor.errors import TargetError
from analyzers.profile import stacks
from analyzers.profile.targets import Match

#: py-spy's default sampling rate (Hz), `py-spy record --help`.
DEFAULT_RATE_HZ = 100
#: How long py-spy may take to attach (it retries while the interpreter's state is not yet readable).
ATTACH_TIMEOUT_S = 15.0
#: How long py-spy may take to write its output after SIGINT.
STOP_TIMEOUT_S = 20.0
#: With `--sample 0` there is no window, and a profile has no "since start" counters: profile this long.
SINCE_START_PROFILE_S = 5.0
#: Functions kept in the snapshot: the top N by self samples and the top N by total samples.
KEEP_FUNCTIONS = 50
YAMA_PTRACE_SCOPE = "/proc/sys/kernel/yama/ptrace_scope"

_SAMPLES = re.compile(r"Samples: (\d+) Errors: (\d+)")
_STOPPED = re.compile(r"Stopped sampling because (.+)")


def ptrace_fix(scope_path: str = YAMA_PTRACE_SCOPE, euid: int | None = None) -> str:
    """The fix for "may not read the process's memory", for this machine: Compose/Docker need
    SYS_PTRACE; Yama's ptrace_scope (kernel docs, admin-guide/LSM/Yama) 1 allows only descendants, 2 only
    CAP_SYS_PTRACE, 3 nobody until reboot."""
    euid = os.geteuid() if euid is None else euid
    fix = ("run perfadvisor as root or as the process's user; in a container add the capability "
           "(Compose: `cap_add: [SYS_PTRACE]`, docker run: `--cap-add SYS_PTRACE`)")
    try:
        scope = int(Path(scope_path).read_text().strip())
    except (OSError, ValueError):
        return fix
    if scope == 3:
        return "kernel.yama.ptrace_scope is 3: ptrace is disabled until the next reboot; " + fix
    if scope in (1, 2) and euid != 0:
        return (f"kernel.yama.ptrace_scope is {scope}: run perfadvisor as root (with CAP_SYS_PTRACE) or set "
                "`sysctl kernel.yama.ptrace_scope=0`; " + fix)
    return fix


def explain_failure(stderr: str, pid: int, label: str) -> str:
    """One line for py-spy's error output (its first "Error:" line and cause), with the fix where known."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = " ".join(lines)
    head = next((ln.removeprefix("Error:").strip() for ln in lines if ln.startswith("Error")),
                lines[0] if lines else "no error message")
    who = f"process {pid} ({label})"
    if re.search(r"permission denied|operation not permitted|os error (1|13)\b", text, re.I):
        return f"py-spy may not read the memory of {who} (ptrace): {ptrace_fix()}"
    if re.search(r"check that the process is running|no such process|os error 3\b", text, re.I):
        return f"{who} no longer exists (py-spy: {head})"
    if re.search(r"failed to find python version|python interpreter|not a python", text, re.I):
        return f"{who} does not look like a Python process (py-spy: {head})"
    return f"py-spy failed on {who}: {head[:200]}"


class ProfileSource:
    """One process profiled by py-spy over the window. See the module docstring; options as in
    analyzers.profile (rate_hz, subprocesses, py_spy: the executable's name or path); `notes` (how the
    process was chosen) are passed on in open()'s result."""

    def __init__(self, match: Match, rate_hz: int = DEFAULT_RATE_HZ, subprocesses: bool = False,
                 py_spy: str = "py-spy", min_profile_s: float = 0.0, tree_min_share: float = 0.002,
                 tree_max_frames: int = 1000, notes: tuple[str, ...] = ()) -> None:
        self.match = match
        self.notes = notes
        self.rate_hz = rate_hz
        self.subprocesses = subprocesses
        self.py_spy = py_spy
        self.min_profile_s = min_profile_s
        self.tree_min_share = tree_min_share
        self.tree_max_frames = tree_max_frames
        self.name = f"py-spy {match.pid} ({match.label})"
        self._proc: subprocess.Popen | None = None
        self._dir: Path | None = None
        self._t0 = 0.0
        self._cpu0: float | None = None
        self._ended: float | None = None

    @property
    def _who(self) -> str:
        return f"process {self.match.pid} ({self.match.label})"

    def _exe(self) -> str:
        exe = shutil.which(self.py_spy)
        if not exe:
            raise TargetError(f"py-spy: {self.py_spy!r} is not installed or not executable; `pip install py-spy` "
                              "(or set [targets.profile] py_spy to its path)")
        return exe

    def open(self) -> dict[str, Any]:
        exe = self._exe()
        if not psutil.pid_exists(self.match.pid):
            raise TargetError(f"{self._who} no longer exists")
        version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        self._dir = Path(tempfile.mkdtemp(prefix="perfadvisor-pyspy-"))
        cmd = [exe, "record", "--pid", str(self.match.pid), "--rate", str(self.rate_hz), "--format", "raw",
               "--output", str(self._dir / "profile.txt"), "--nonblocking", "--full-filenames"]
        if self.subprocesses:
            cmd.append("--subprocesses")
        with open(self._dir / "stdout.txt", "wb") as out, open(self._dir / "stderr.txt", "wb") as err:
            # Its own session: a Ctrl-C on the terminal must not stop py-spy before close() asks it to.
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        self._wait_attached()
        self._t0 = time.monotonic()
        self._cpu0 = self._cpu_now()
        return {"pid": self.match.pid, "process": self.match.name, "label": self.match.label,
                "target": self.match.target, "matched_by": self.match.how, "notes": list(self.notes),
                "py_spy": {"version": version.removeprefix("py-spy ").strip() or None, "rate_hz": self.rate_hz,
                           "subprocesses": self.subprocesses, "nonblocking": True}}

    def _read(self, name: str) -> str:
        try:
            return (self._dir / name).read_text(encoding="utf-8", errors="replace") if self._dir else ""
        except OSError:
            return ""

    def _wait_attached(self) -> None:
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                message = explain_failure(self._read("stderr.txt"), self.match.pid, self.match.label)
                self._cleanup()
                raise TargetError(message)
            if "Sampling process" in self._read("stdout.txt"):
                return
            time.sleep(0.05)

    def _usage(self) -> tuple[float, int]:
        """(CPU seconds, resident bytes) of the process (and its children with --subprocesses). Raises
        psutil.NoSuchProcess (or ZombieProcess) when it has exited."""
        proc = psutil.Process(self.match.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped by its parent
            raise psutil.ZombieProcess(self.match.pid)
        procs = [proc] + (proc.children(recursive=True) if self.subprocesses else [])
        cpu, rss = 0.0, 0
        for p in procs:
            try:
                t = p.cpu_times()
                cpu += t.user + t.system
                rss += p.memory_info().rss
            except psutil.NoSuchProcess:
                if p is proc:
                    raise
        return cpu, rss

    def sample(self) -> dict[str, float]:
        try:
            cpu, rss = self._usage()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            self._ended = time.monotonic()  # py-spy stopped sampling here too
            raise TargetError(f"{self._who} exited; its profile up to then is kept") from None
        if self._proc is not None and self._proc.poll() is not None:
            raise TargetError("py-spy stopped: " + explain_failure(self._read("stderr.txt"), self.match.pid,
                                                                   self.match.label))
        return {"process_cpu_seconds_total": round(cpu, 3), "process_resident_memory_bytes": rss}

    def _cpu_now(self) -> float | None:
        try:
            return self._usage()[0]
        except psutil.Error:
            return None

    def headline(self, prev: dict[str, float] | None, cur: dict[str, float], dt_s: float) -> str:
        if not prev or dt_s <= 0:
            return ""
        cpu = (cur.get("process_cpu_seconds_total", 0) - prev.get("process_cpu_seconds_total", 0)) / dt_s
        return f"{self.match.label} {cpu:.0%} CPU"

    def close(self) -> dict[str, Any]:
        if self._proc is None:
            return {}
        try:
            rest = self.min_profile_s - (time.monotonic() - self._t0)
            if rest > 0 and self._proc.poll() is None:
                time.sleep(rest)
            cpu1 = self._cpu_now()
            cpu_s = round(cpu1 - self._cpu0, 3) if cpu1 is not None and self._cpu0 is not None else None
            # The profile covers the time until py-spy was told to stop, or until the process was seen gone.
            elapsed = (self._ended or time.monotonic()) - self._t0
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                raise TargetError(f"py-spy on {self._who} did not stop within {STOP_TIMEOUT_S:.0f} s of SIGINT; "
                                  "no profile") from None
            out = self._dir / "profile.txt"
            if not out.exists():
                raise TargetError("py-spy wrote no profile: " + explain_failure(
                    self._read("stderr.txt"), self.match.pid, self.match.label))
            text = out.read_text(encoding="utf-8", errors="replace")
            prof = profile_from(text, self._read("stdout.txt"), elapsed, self.rate_hz, self.tree_min_share,
                                self.tree_max_frames)
            return {"profile": {**prof, "cpu_seconds": cpu_s}}
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def profile_from(collapsed: str, py_spy_stdout: str, duration_s: float, rate_hz: int,
                 tree_min_share: float, tree_max_frames: int) -> dict[str, Any]:
    """The snapshot's profile of one process from py-spy's raw output and its own report line.

    Shape: {"duration_s", "rate_hz", "expected_samples" (duration × rate: sampling instants per thread),
    "samples" (thread-samples in which Python code ran: idle threads are not recorded), "py_spy_samples",
    "py_spy_errors" (py-spy's own count; None if it printed none), "stopped_because", "bad_lines",
    "distinct_stacks", "function_count", "functions" [FunctionStats.to_dict(), top KEEP_FUNCTIONS by self
    and by total samples], "frame_tree" (stacks.frame_tree), "frame_tree_min_share"}. ProfileSource.close
    adds "cpu_seconds": the process's CPU time while py-spy ran (None when it exited before the end)."""
    parsed = stacks.parse_collapsed(collapsed)
    funcs = stacks.functions(parsed.stacks)
    keep = {id(f) for f in stacks.top(funcs, KEEP_FUNCTIONS, "self") + stacks.top(funcs, KEEP_FUNCTIONS, "total")}
    m = _SAMPLES.search(py_spy_stdout)
    stopped = _STOPPED.search(py_spy_stdout)
    return {"duration_s": round(duration_s, 3), "rate_hz": rate_hz,
            "expected_samples": round(duration_s * rate_hz), "samples": parsed.samples,
            "py_spy_samples": int(m.group(1)) if m else None, "py_spy_errors": int(m.group(2)) if m else None,
            "stopped_because": stopped.group(1).strip() if stopped else None,
            "bad_lines": parsed.bad_lines, "distinct_stacks": len(parsed.stacks), "function_count": len(funcs),
            "functions": [f.to_dict() for f in funcs if id(f) in keep],
            "frame_tree": stacks.frame_tree(parsed.stacks, tree_min_share, tree_max_frames),
            "frame_tree_min_share": tree_min_share}
