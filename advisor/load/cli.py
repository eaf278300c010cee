"""Click commands of the load test and the comparison (`perfadvisor loadtest`, `perfadvisor compare`). Thin: they
parse, call advisor.load / advisor.compare, print, and set the exit code (0 fine, 1 invalid run or significant
regression, 2 a user-fixable error printed as one line, 130 interrupted)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"perfadvisor: error: {message}", err=True)
    sys.exit(code)


def _duration(flag: str, text: str | None) -> float | None:
    from advisor.sampling import parse_duration
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as e:
        _fail(f"{flag} {e}")
        return None


def register_load_commands(cli) -> None:
    """Adds `loadtest` and `compare` to the `perfadvisor` group."""
    cli.add_command(loadtest)
    cli.add_command(compare)


@click.command()
@click.argument("locustfile", type=click.Path(dir_okay=False))
@click.option("--host", metavar="URL", help="Base URL of the system under test (Locust's --host).")
@click.option("--users", "-u", default=10, type=int, help="Concurrent users.")
@click.option("--spawn-rate", "-r", default=10.0, type=float, help="Users started per second.")
@click.option("--duration", "-t", "duration", default="60s", help="Length of the run: 40s, 2m, 1h30m.")
@click.option("--warmup", default=None, metavar="DURATION",
              help="Excluded from the steady state after the last user started [default: 10% of --duration, "
                   "at most 60s].")
@click.option("--workers", default=None, type=int,
              help="Local worker processes [default: one per core; 0 with --master].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run directory to create.")
@click.option("--master", "as_master", is_flag=True,
              help="Also accept workers from other hosts (they run `loadtest LOCUSTFILE --worker`).")
@click.option("--expect-workers", default=0, type=click.IntRange(min=0),
              help="With --master: remote workers to wait for before starting.")
@click.option("--master-bind-host", default=None,
              help="With --master: interface the master listens on [default: * with --master, else 127.0.0.1].")
@click.option("--master-bind-port", default=None, type=click.IntRange(1, 65535),
              help="Port the master listens on [default: 5557 with --master, else a free port].")
@click.option("--worker", "as_worker", is_flag=True, help="Run one worker for a master on another host.")
@click.option("--master-host", default="127.0.0.1", help="With --worker: the master's address.")
@click.option("--master-port", default=5557, type=click.IntRange(1, 65535), help="With --worker: its port.")
@click.option("--connect-timeout", default="60s", metavar="DURATION",
              help="How long the master waits for its workers.")
@click.option("--actuator", "actuator_urls", multiple=True, metavar="URL",
              help="Spring Boot Actuator base URL to sample during the run (repeatable).")
@click.option("--redis", "redis_url", default=None, metavar="URL", help="Redis to sample during the run.")
@click.option("--pg", "pg_dsn", default=None, metavar="DSN", help="PostgreSQL to sample during the run.")
@click.option("--sample-interval", default="1s", metavar="DURATION", help="Interval of the stack sampling.")
@click.option("--config", "config_path", default="perfadvisor.toml", type=click.Path(dir_okay=False),
              help="perfadvisor.toml: targets, and thresholds of the LOAD rules ([thresholds.load]).")
@click.option("--profile", default=None, help="Named profile of the config file.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
def loadtest(locustfile, host, users, spawn_rate, duration, warmup, workers, out_dir, as_master, expect_workers,
             master_bind_host, master_bind_port, as_worker, master_host, master_port, connect_timeout,
             actuator_urls, redis_url, pg_dsn, sample_interval, config_path, profile, quiet) -> None:
    """Run a Locust workload headless over local worker processes (or several hosts), record per-endpoint
    HdrHistograms, sample the stack, check the run's validity (LOAD rules), and write a run directory.

    Exit codes: 0 a valid run, 1 an invalid run (a LOAD check failed), 2 a bad option, an unreachable host
    or a locustfile that does not import, 130 interrupted (what was recorded is kept)."""
    from advisor.config import build_settings
    from advisor.errors import PerfadvisorError
    from advisor.load import runner
    from advisor.load.stack import sampler_for
    from advisor.sampling import terminal_progress

    try:
        if as_worker:
            sys.exit(runner.run_remote_worker(Path(locustfile), master_host, master_port))
        if not host:
            _fail("--host is required (the base URL of the system under test)")
        if not out_dir:
            _fail("--out is required (the run directory to create)")
        if expect_workers and not as_master:
            _fail("--expect-workers needs --master")
        duration_s = _duration("--duration", duration)
        interval_s = _duration("--sample-interval", sample_interval)
        if not interval_s:
            _fail("--sample-interval must be above 0 s")
        settings = build_settings(
            config_path, profile, config_required=config_path != "perfadvisor.toml",
            target_flags={"actuator": {"urls": list(actuator_urls) or None}, "redis": {"url": redis_url},
                          "postgres": {"dsn": pg_dsn}})
        settings.sample_s = duration_s
        settings.sample_interval_s = interval_s
        opts = runner.LoadOptions(
            locustfile=Path(locustfile), host=host, users=users, spawn_rate=spawn_rate, duration_s=duration_s,
            out=Path(out_dir), workers=workers if workers is not None else (0 if as_master else
                                                                            runner.default_workers()),
            warmup_s=_duration("--warmup", warmup), expect_remote=expect_workers if as_master else 0,
            bind_host=master_bind_host or ("*" if as_master else "127.0.0.1"),
            bind_port=master_bind_port or (runner.DEFAULT_MASTER_PORT if as_master else None),
            connect_timeout_s=_duration("--connect-timeout", connect_timeout))
        sampler = sampler_for(settings)
        for area, message in sampler.errors.items():
            click.echo(f"perfadvisor: warning: {area}: {message} (not sampled)", err=True)
        doc, code = runner.run_loadtest(opts, settings, echo=click.echo,
                                        progress=None if quiet else terminal_progress(), sampler=sampler)
    except PerfadvisorError as e:
        _fail(str(e), e.exit_code)
        return
    for line in runner.summary_lines(doc):
        click.echo(line)
    click.echo(f"run directory: {out_dir}")
    sys.exit(code)


@click.command()
@click.argument("before", type=click.Path(file_okay=False))
@click.argument("after", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", default="perfadvisor-compare", type=click.Path(file_okay=False),
              help="Directory for compare.html, compare.md and compare.json.")
@click.option("--threshold", default="5%", metavar="PCT",
              help="Smallest relative change that counts as improved or regressed.")
@click.option("--alpha", default=0.05, type=click.FloatRange(0.0001, 0.5, min_open=False),
              help="Significance level of the family of endpoints (Holm-corrected).")
@click.option("--slo", "slos", multiple=True, metavar="[ENDPOINT:]METRIC=VALUE",
              help="SLO, repeatable: p95_ms=200, error_rate=1%, apdex_t_ms=500, or per endpoint "
                   "'GET /api/x:p95_ms=300' [default: p95_ms=200, error_rate=1%, apdex_t_ms=500].")
@click.option("--force", is_flag=True, help="Compare runs of different workloads or hosts anyway.")
@click.option("--seed", default=1, type=int, help="Seed of the bootstrap resampling (results are repeatable).")
@click.option("--units", type=click.Choice(("auto", "runs", "windows")), default="auto",
              help="Statistical units: replicate runs (auto with 2+ runs per side) or steady-state windows pooled "
                   "over the runs (more units from few runs; run-to-run variation is not in them).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors and the verdict line.")
def compare(before, after, out_dir, threshold, alpha, slos, force, seed, units, quiet) -> None:
    """Compare two load runs (or two directories of replicate runs): per endpoint p50/p95/p99, throughput and
    error rate with bootstrap 95% intervals, Mann-Whitney tests with Holm correction, verdicts, SLOs and Apdex.

    Exit codes: 0 no significant regression, 1 a significant regression (for CI), 2 bad input: unreadable,
    half-written or mismatched runs, or a side without a valid run (the reports are written; no verdicts)."""
    from advisor.compare import run_compare
    from advisor.errors import PerfadvisorError

    try:
        result = run_compare(Path(before), Path(after), Path(out_dir), threshold=threshold, alpha=alpha,
                             slos=list(slos), force=force, seed=seed, units=units)
    except PerfadvisorError as e:
        _fail(str(e), e.exit_code)
        return
    if not quiet:
        for line in result.console:
            click.echo(line)
    click.echo(result.headline)
    sys.exit(result.exit_code)
