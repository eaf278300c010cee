"""`perfadvisor validate` (the loop on a stack the user runs) and `perfadvisor demo` / `demo validate` (the same
loop on the bundled sample stack, natively). Thin: parse, call advisor.validate, print, exit."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from advisor.errors import PerfadvisorError


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"perfadvisor: error: {message}", err=True)
    sys.exit(code)


def _finish(outcome, out: Path) -> None:
    click.echo(outcome.headline)
    click.echo(f"page: {out / 'index.html'} (and index.md, validate.json)")
    sys.exit(outcome.exit_code)


def load_options(users: int = 10, duration: str = "60s"):
    """The load options validate and the demo share (the demo has its own defaults)."""
    opts = [
        click.option("--runs", default=2, show_default=True, type=click.IntRange(1, 20),
                     help="Load runs per side (replicates)."),
        click.option("--users", "-u", default=users, show_default=True, type=click.IntRange(min=1),
                     help="Concurrent Locust users."),
        click.option("--spawn-rate", "-r", default=10.0, show_default=True, type=float, help="Users started per second."),
        click.option("--duration", "-t", default=duration, show_default=True, help="Length of each run: 40s, 2m."),
        click.option("--warmup", default=None, metavar="DURATION",
                     help="Excluded from each run's steady state [default: 10% of --duration]."),
        click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
                     help="Local Locust worker processes."),
        click.option("--threshold", default="5%", show_default=True, metavar="PCT",
                     help="Smallest relative change that counts (compare, and each recommendation's metric)."),
        click.option("--out", "out_dir", default="perfadvisor-validate", show_default=True,
                     type=click.Path(file_okay=False), help="Directory for index.html, validate.json and all runs."),
        click.option("--quiet", "-q", is_flag=True, help="No live progress line."),
    ]

    def decorate(f):
        for opt in reversed(opts):
            f = opt(f)
        return f
    return decorate


@click.command()
@click.option("--workload", "locustfile", required=True, type=click.Path(dir_okay=False),
              help="The Locust workload (locustfile.py).")
@click.option("--host", required=True, metavar="URL", help="Base URL of the system under test.")
@click.option("--restart", "restart_cmd", metavar="CMD", default=None,
              help="Shell command that restarts the services with the applied settings; it gets "
                   "PERFADVISOR_APPLY_DIR (e.g. docker compose --env-file \"$PERFADVISOR_APPLY_DIR/spring.env\" "
                   "up -d backend). Without it, settings are written but not in effect.")
@click.option("--health", metavar="URL", default=None,
              help="URL that answers 2xx once the restarted stack is ready [default: any answer from --host].")
@click.option("--health-timeout", default="180s", show_default=True, metavar="DURATION",
              help="How long the restarted stack may take to answer --health.")
@click.option("--execute", is_flag=True, help="Run migration.sql against --pg (lock_timeout, one statement at a time).")
@click.option("--only", multiple=True, metavar="ID_OR_RULE", help="Apply only these findings (repeatable).")
@click.option("--pg", "pg_dsn", metavar="DSN", default=None, help="PostgreSQL to sample and analyse.")
@click.option("--actuator", "actuator_urls", multiple=True, metavar="URL",
              help="Spring Boot Actuator base URL (repeatable, one per instance).")
@click.option("--redis", "redis_url", default=None, metavar="URL", help="Redis to sample and analyse.")
@click.option("--bundle", default=None, metavar="PATH", help="The front-end build to analyse.")
@click.option("--frontend-url", default=None, metavar="URL",
              help="The served front end: its headers are analysed and its first page load measured in headless "
                   "Chromium before and after.")
@click.option("--config", "config_path", default="perfadvisor.toml", type=click.Path(dir_okay=False),
              help="perfadvisor.toml: targets and thresholds.")
@click.option("--profile", default=None, help="Named profile of the config file.")
@load_options()
def validate(locustfile, host, restart_cmd, health, health_timeout, execute, only, pg_dsn, actuator_urls, redis_url, bundle,
             frontend_url, config_path, profile, runs, users, spawn_rate, duration, warmup, workers, threshold,
             out_dir, quiet) -> None:
    """Prove the advice on a running stack: load runs before, analysis, apply, restart, load runs after,
    comparison, and one page (OUT/index.html) saying what each applied recommendation changed.

    Exit codes: 0 no significant regression, 1 a significant regression, 2 bad input or a step that failed
    (what was measured before it is kept), 130 interrupted."""
    from advisor.config import build_settings

    try:
        settings = build_settings(
            config_path, profile, config_required=config_path != "perfadvisor.toml",
            target_flags={"postgres": {"dsn": pg_dsn}, "actuator": {"urls": list(actuator_urls) or None},
                          "redis": {"url": redis_url}, "frontend": {"bundle": bundle, "url": frontend_url}})
        opts = _options(settings, Path(locustfile), host, Path(out_dir), runs, users, spawn_rate, duration, warmup,
                        workers, threshold, restart=restart_cmd, health=health, execute=execute, only=tuple(only),
                        health_timeout=health_timeout,
                        page_url=frontend_url or settings.target("frontend").get("url"))
        outcome = _run(opts, settings, quiet)
    except PerfadvisorError as e:
        _fail(str(e), e.exit_code)
        return
    _finish(outcome, Path(out_dir))


def _options(settings, locustfile: Path, host: str, out: Path, runs, users, spawn_rate, duration, warmup, workers,
             threshold, health_timeout="180s", **kw):
    from advisor.errors import ConfigError
    from advisor.sampling import parse_duration
    from advisor.validate import ValidateOptions

    try:
        duration_s = parse_duration(duration)
        warmup_s = parse_duration(warmup) if warmup is not None else None
        health_timeout_s = parse_duration(health_timeout)
    except ValueError as e:
        raise ConfigError(f"--duration/--warmup/--health-timeout: {e}") from None
    if not locustfile.is_file():
        raise ConfigError(f"--workload {locustfile}: not found")
    settings.sample_s = duration_s
    return ValidateOptions(locustfile=locustfile, host=host, out=out, runs=runs, users=users, spawn_rate=spawn_rate,
                           duration_s=duration_s, warmup_s=warmup_s, workers=workers, threshold=threshold,
                           health_timeout_s=health_timeout_s, **kw)


def _run(opts, settings, quiet: bool):
    from advisor.sampling import terminal_progress
    from advisor.validate import run_validate

    settings.progress = not quiet
    return run_validate(opts, settings, echo=click.echo, progress=None if quiet else terminal_progress())


def register(cli, demo) -> None:
    """Adds `validate` to the perfadvisor group and `validate` to the demo group (also what plain `perfadvisor
    demo` runs)."""
    cli.add_command(validate)
    demo.add_command(demo_validate)


@click.command("validate")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seed scale of the sample database (1.0: 500k orders).")
@click.option("--run-dir", default="/tmp/perfadvisor-demo-stack", show_default=True, type=click.Path(file_okay=False),
              help="Where the demo stack keeps its data and logs.")
@click.option("--port-offset", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Added to every port of the stack.")
@click.option("--keep", is_flag=True, help="Leave the stack running afterwards (stop it with perfadvisor demo down).")
@click.option("--think-scale", default=0.04, show_default=True, type=float,
              help="SHOP_THINK_SCALE of the workload: pauses between a user's requests × this.")
@load_options(users=40, duration="60s")
def demo_validate(scale, run_dir, port_offset, keep, think_scale, runs, users, spawn_rate, duration, warmup, workers,
                  threshold, out_dir, quiet) -> None:
    """The whole loop on the sample stack: start it natively, load it, analyse, apply (indexes built, back end
    restarted with spring.env, Redis and nginx reloaded), load it again, compare, and write one page."""
    from advisor.validate.demo import run_demo

    try:
        outcome = run_demo(scale=scale, run_dir=Path(run_dir), port_offset=port_offset, keep=keep,
                           think_scale=think_scale, out=Path(out_dir), quiet=quiet,
                           load=dict(runs=runs, users=users, spawn_rate=spawn_rate, duration=duration, warmup=warmup,
                                     workers=workers, threshold=threshold), echo=click.echo)
    except PerfadvisorError as e:
        _fail(str(e), e.exit_code)
        return
    _finish(outcome, Path(out_dir))
