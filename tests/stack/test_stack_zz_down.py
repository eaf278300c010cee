"""Runs last (file order): `down` stops exactly what `up` started and leaves no process behind."""

from __future__ import annotations

import socket
import time

from advisor.stack import State


def test_down_leaves_no_process_behind(stack):
    state = State.load(stack.stack.state_file)
    procs = dict(state.procs)
    assert set(procs) == {"redis", "backend", "worker", "nginx"}
    assert all(p.alive() for p in procs.values())
    pg_pid = int((stack.run_dir / "pgdata" / "postmaster.pid").read_text().split()[0])

    stopped = stack.stack.down(echo=print)

    assert sorted(stopped) == sorted([*procs, "postgres"])
    assert not any(p.alive() for p in procs.values())
    time.sleep(0.5)
    for pid in [p.pid for p in procs.values()] + [pg_pid]:
        try:
            status = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        assert status == "Z", f"pid {pid} still running"
    for port in (stack.ports.postgres, stack.ports.redis, stack.ports.backend, stack.ports.management,
                 stack.ports.nginx):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert stack.stack.status()["running"] is False
    assert stack.stack.down(echo=print) == []
