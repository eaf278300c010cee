"""A real sampling source (the protocol of advisor/sampling.py) that reads this machine's /proc: load average and
the CPU time of all processes (jiffies since boot, a counter). Used to test the stack-sampling path of loadtest
without the stack."""

from __future__ import annotations

import os
from pathlib import Path


class ProcSource:
    name = "proc"

    def open(self) -> dict:
        return {"clock_ticks_per_s": os.sysconf("SC_CLK_TCK"), "cpu_count": os.cpu_count()}

    def sample(self) -> dict[str, float]:
        load1 = float(Path("/proc/loadavg").read_text().split()[0])
        cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        busy = sum(int(x) for i, x in enumerate(cpu[:8]) if i not in (3, 4))  # all but idle and iowait
        return {"node_load1": load1, "node_cpu_busy_jiffies_total": float(busy)}

    def close(self) -> dict:
        return {"closed": True}

    def headline(self, prev, cur, dt_s) -> str:
        return f"load {cur['node_load1']:.2f}"
