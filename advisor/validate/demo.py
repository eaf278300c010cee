"""`perfadvisor demo` (and `demo validate`): the validate loop on the bundled sample stack, run natively.

Starts the stack (advisor.stack.native), loads it with the sample workload, analyses the before runs, applies the
advice — the index SQL executed on the throwaway database, the back end restarted with spring.env, Redis and
nginx reloaded with their snippets (`perfadvisor demo reload`, the restart command validate runs) — loads it again,
compares, writes one page, and stops the stack and removes its data (unless --keep), so that the next run starts
from the planted problems again (a database whose indexes were built would have nothing left to fix)."""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from advisor.config import Settings
from advisor.sampling import parse_duration

#: The sample's workload, relative to the checkout.
LOCUSTFILE = Path(__file__).resolve().parents[2] / "sample_workloads" / "shop" / "locustfile.py"


def run_demo(scale: float, run_dir: Path, port_offset: int, keep: bool, think_scale: float, out: Path,
             quiet: bool, load: dict[str, Any], echo: Callable[[str], None] = print):
    """Runs the loop and returns advisor.validate.Outcome. Raises StackError when the stack cannot start,
    ConfigError for a bad option (both before anything is measured)."""
    from advisor.errors import ConfigError
    from advisor.sampling import terminal_progress
    from advisor.stack import Ports, Stack, StackConfig
    from advisor.validate import ValidateOptions, run_validate

    if (out / "validate.json").exists():
        # The demo is made to be run again: the earlier page is kept beside the new one, not refused or replaced.
        when = time.strftime("%Y%m%d-%H%M%S", time.localtime((out / "validate.json").stat().st_mtime))
        kept = out.with_name(f"{out.name}-{when}")
        try:
            out.rename(kept)
        except OSError as e:
            raise ConfigError(f"--out {out}: holds an earlier demo that cannot be moved aside ({e.strerror})") from None
        echo(f"the earlier demo's page is kept in {kept}")
    t0 = time.monotonic()
    ports = Ports().shifted(port_offset)
    stack = Stack(StackConfig(run_dir=run_dir, scale=scale, ports=ports))
    if (run_dir / "state.json").exists() and not stack.status()["running"]:
        # A database an earlier demo changed (its indexes built) would have nothing left to fix: start as shipped.
        stack.down(echo=lambda s: None, purge=True)
    echo(f"[demo · 0 s] starting the sample stack (scale {scale:g}) in {run_dir}")
    u = stack.up(echo=lambda s: echo("  " + s))
    try:
        os.environ["SHOP_SCALE"] = str(scale)
        os.environ["SHOP_THINK_SCALE"] = str(think_scale)
        duration_s = parse_duration(load["duration"])
        redis_url = f"redis://:{stack.redis_password()}@127.0.0.1:{ports.redis}/0"
        settings = Settings(targets={"postgres": {"dsn": u.postgres_dsn}, "actuator": {"urls": [u.actuator]},
                                     "redis": {"url": redis_url},
                                     "frontend": {"bundle": str(stack.cfg.dist), "url": u.frontend}},
                            source="perfadvisor demo", sample_s=duration_s)
        restart = (f"{shlex.quote(sys.executable)} -m advisor.cli demo reload "
                   f"--run-dir {shlex.quote(str(stack.run_dir))}")
        opts = ValidateOptions(
            locustfile=LOCUSTFILE, host=u.frontend.rstrip("/"), out=out, restart=restart,
            health=f"{u.actuator}/health/readiness", runs=load["runs"], users=load["users"],
            spawn_rate=load["spawn_rate"], duration_s=duration_s,
            warmup_s=parse_duration(load["warmup"]) if load.get("warmup") else None, workers=load["workers"],
            execute=True, threshold=load["threshold"], page_url=u.frontend)
        echo(f"[demo · {time.monotonic() - t0:.0f} s] the loop: {opts.runs} run(s) of {opts.users} users × "
             f"{duration_s:g} s per side")
        settings.progress = not quiet
        return run_validate(opts, settings, echo=echo, progress=None if quiet else terminal_progress())
    finally:
        if keep:
            echo(f"the stack keeps running (perfadvisor demo down --run-dir {run_dir})")
        else:
            stack.down(echo=lambda s: None, purge=True)
            echo(f"[demo · {time.monotonic() - t0:.0f} s] stack stopped and its data removed")
