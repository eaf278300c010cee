"""Real Python processes for the profile analyzer's tests: each test writes a small script, starts it with
this interpreter and profiles it with the real py-spy (installed with the test extras)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

#: A service that spends its time in one known method (of a class with a non-ASCII name), calling a light
#: function on the side. argv[1]: seconds to run before exiting (0: forever).
HOT = textwrap.dedent('''
    import sys, time

    class Prüfer:
        def invoice_digest(self, text):
            digest = 0
            for ch in text:
                digest = (digest * 31 + ord(ch)) % 2305843009213693951
            return digest

    def light():
        return sum(range(20))

    def main(seconds):
        deadline = time.monotonic() + seconds if seconds else None
        checker = Prüfer()
        document = "invoice line\\n" * 2000
        while deadline is None or time.monotonic() < deadline:
            checker.invoice_digest(document)
            light()

    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
''')

#: A service that waits (like a worker blocked on its queue).
IDLE = "import time\nwhile True:\n    time.sleep(0.2)\n"

#: A service that forbids ptrace by anyone without CAP_SYS_PTRACE (prctl PR_SET_DUMPABLE = 0), as a
#: process of another user or in a container without SYS_PTRACE is to py-spy.
UNDUMPABLE = "import ctypes\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n" + IDLE

#: Characters that must be escaped in XML (and a space and a quote) in the directory of the hot service.
ODD_DIR = "svc <&> \"q'"


class Procs:
    """Starts scripts as real processes and stops every one of them (by PID) at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, code: str, *args: str, subdir: str = "") -> subprocess.Popen:
        d = self.base / subdir if subdir else self.base
        d.mkdir(parents=True, exist_ok=True)
        script = d / name
        script.write_text(code, encoding="utf-8")
        proc = subprocess.Popen([sys.executable, str(script), *args], cwd=d,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started.append(proc)
        wait_running(proc.pid)
        return proc

    def stop(self) -> None:
        for p in self.started:
            if p.poll() is None:
                p.kill()
            p.wait()


def wait_running(pid: int, timeout_s: float = 5.0) -> None:
    """Until the interpreter has started (its command line is readable and it has used some CPU)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).cpu_times().user > 0.02:
                return
        except psutil.Error:
            return
        time.sleep(0.05)


@pytest.fixture(scope="module")
def procs():
    base = Path(tempfile.mkdtemp(prefix="perfadvisor-profile-"))
    p = Procs(base)
    yield p
    p.stop()


@pytest.fixture
def fresh_procs(tmp_path):
    p = Procs(tmp_path)
    yield p
    p.stop()


def unique(stem: str) -> str:
    return f"{stem}_{os.getpid()}_{time.monotonic_ns() % 10**9}"
