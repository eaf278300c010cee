"""The `perfadvisor` command. Thin: parses options, calls the library, prints, sets the exit code.

Exit codes: 0 success; 1 `--fail-on` threshold reached; 2 a user-fixable error (bad DSN, unreadable file…),
printed as one line. What other analyzers found is still written when one fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from advisor import __version__
from advisor.config import DEFAULT_CONFIG, DEFAULT_OUT, build_settings
from advisor.errors import ConfigError, PerfadvisorError
from advisor.model import SEVERITIES, severity_rank


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"perfadvisor: error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="perfadvisor")
def cli() -> None:
    """Collect evidence from a running web stack and turn it into ranked, evidenced recommendations."""


@cli.command()
@click.option("--pg", "pg_dsn", metavar="DSN",
              help="PostgreSQL connection string (libpq URL or key=value) of the database to analyse "
                   "[default: [targets.postgres] dsn in the config file, else $PERFADVISOR_PG_DSN].")
@click.option("--explain-analyze", "explain_analyze", is_flag=True, default=None,
              help="Also run the workload's SELECT statements once with EXPLAIN ANALYZE (read-only transaction, "
                   "statement_timeout, pg_stats values as parameters) to find row misestimates (PG009).")
@click.option("--bundle", "bundle", metavar="PATH", default=None,
              help="Front-end build: a Vite dist/, a webpack stats.json or a directory of built files.")
@click.option("--frontend-url", metavar="URL", default=None,
              help="URL of the running front end, probed (loopback, with timeouts) for cache headers.")
@click.option("--baseline", metavar="PATH", default=None,
              help="An earlier front-end build to compare the bundle with.")
@click.option("--actuator", "actuator_urls", metavar="URL", multiple=True,
              help="Spring Boot Actuator base URL (e.g. http://127.0.0.1:8081/actuator); repeat it for each "
                   "instance of a service. Header for auth: $PERFADVISOR_ACTUATOR_AUTH_HEADER or "
                   "[targets.actuator] auth_header (never written to a report or log).")
@click.option("--management-port", type=click.IntRange(1, 65535), default=None,
              help="Actuator's management.server.port when it differs from the port in --actuator.")
@click.option("--redis", "redis_url", metavar="URL", default=None,
              help="Redis URL: redis://[user:password@]host:port/db or rediss:// for TLS "
                   "[default: [targets.redis] url, else $PERFADVISOR_REDIS_URL].")
@click.option("--redis-full-scan", is_flag=True, default=None,
              help="SCAN every key instead of a sample bounded by time (10 s) and keys (100,000).")
@click.option("--py-spy", "py_spy", metavar="PID|NAME", multiple=True,
              help="Profile a Python process (pid or process name) with py-spy during the window.")
@click.option("--sample", "sample", metavar="DURATION", default=None,
              help="Sample Actuator, Redis, py-spy (and the database, with --pg) side by side for this long "
                   "(40s, 2m); 0 takes one sample and reads counters since each application started "
                   "[default: 30s when one of them is configured].")
@click.option("--sample-interval", metavar="DURATION", default=None,
              help="Time between two samples of one target [default: 1s].")
@click.option("--compose", "compose_file", metavar="FILE", default=None, type=click.Path(dir_okay=False),
              help="Find the targets in a Docker Compose file: the database DSN, Redis URL, Actuator and front-end "
                   "URLs from its services' ports, environment and secrets (flags, config and environment win).")
@click.option("--service", "compose_services", metavar="NAME", multiple=True,
              help="With --compose: consider only these services (repeatable).")
@click.option("--compose-env-file", "compose_env_files", metavar="FILE", multiple=True,
              help="With --compose: like `docker compose --env-file` [default: .env beside the file].")
@click.option("--compose-profile", "compose_profiles", metavar="NAME", multiple=True,
              help="With --compose: enable this Compose profile (repeatable).")
@click.option("--out", "out_dir", default=DEFAULT_OUT, type=click.Path(file_okay=False),
              help="Directory for report.html, report.md, report.json, report.sarif and snapshot.json.")
@click.option("--config", "config_path", default=DEFAULT_CONFIG, type=click.Path(dir_okay=False),
              help="perfadvisor.toml with targets, thresholds and profiles (optional).")
@click.option("--profile", default=None, help="Named profile of the config file ([profiles.NAME]).")
@click.option("--from-snapshot", "from_snapshot", default=None, type=click.Path(dir_okay=False),
              help="Re-analyse a snapshot.json offline instead of collecting from the targets.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
              help="Exit 1 when a finding of this severity or worse exists (for CI).")
@click.option("--statement-timeout-ms", type=click.IntRange(min=1), default=None,
              help="statement_timeout of every database session perfadvisor opens [default: 5000].")
@click.option("--time-budget", "time_budget_s", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Most time the index advisor may spend (EXPLAIN, what-if costing, selection); when it runs out, "
                   "the report says how far it got [default: 600].")
@click.option("--storage-budget-mb", type=click.FloatRange(min=0), default=None,
              help="Most disk the recommended indexes may take together, in MB [default: no limit].")
@click.option("--baseline-report", "baseline_report", metavar="PATH", default=None,
              help="An earlier report.json (or its directory), e.g. the main branch's: also write diff.md, diff.json "
                   "and diff.html against it (`perfadvisor diff` in one step).")
@click.option("--fail-on-new", type=click.Choice(SEVERITIES), default=None,
              help="With --baseline-report: exit 1 when a finding the baseline did not have is of this severity "
                   "or worse (old findings never fail).")
@click.option("--explain-statement", "explain_statement", metavar="QUERYID", default=None,
              help="Print what the index advisor saw in this statement: its columns by role, the candidates it "
                   "costed, and why it was or was not analysed.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def analyze(pg_dsn, explain_analyze, bundle, frontend_url, baseline, actuator_urls, management_port, redis_url, redis_full_scan,
            py_spy, sample, sample_interval, compose_file, compose_services, compose_env_files, compose_profiles,
            out_dir, config_path, profile, from_snapshot, fail_on, statement_timeout_ms, time_budget_s,
            storage_budget_mb, baseline_report, fail_on_new, explain_statement, quiet) -> None:
    """Collect from the targets, analyse, and write the reports to --out."""
    from advisor import run
    from advisor.sampling import terminal_progress

    try:
        discovered = None
        if compose_file:
            from advisor.compose_targets import discover

            found = discover(compose_file, compose_services, compose_env_files, compose_profiles)
            discovered = found.targets
            if not quiet:
                for line in found.lines():
                    click.echo(line)
        elif compose_services or compose_env_files or compose_profiles:
            raise ConfigError("--service, --compose-env-file and --compose-profile need --compose FILE")
        if fail_on_new and not baseline_report:
            raise ConfigError("--fail-on-new needs --baseline-report PATH (the report to compare with)")
        if baseline_report:
            from advisor.diff import read_report

            read_report(baseline_report)  # a wrong path fails before any collection
        settings = build_settings(
            config_path, profile, config_required=config_path != DEFAULT_CONFIG,
            target_flags={"postgres": {"dsn": pg_dsn, "explain_analyze": explain_analyze},
                          "frontend": {"bundle": bundle, "url": frontend_url, "baseline": baseline},
                          "actuator": {"urls": list(actuator_urls), "management_port": management_port},
                          "redis": {"url": redis_url, "full_scan": redis_full_scan},
                          "profile": {"targets": list(py_spy)}},
            threshold_flags={"postgres": {"storage_budget_mb": storage_budget_mb, "time_budget_s": time_budget_s}},
            statement_timeout_ms=statement_timeout_ms, sample=sample, sample_interval=sample_interval,
            discovered=discovered)
        settings.progress = not quiet
        outcome = run.analyze_command(settings, Path(out_dir), from_snapshot,
                                      echo=(lambda s: None) if quiet else click.echo,
                                      sample_progress=None if quiet else terminal_progress())
    except PerfadvisorError as e:
        _fail(str(e), e.exit_code)
        return
    diff_code = 0
    if baseline_report:
        from advisor.diff.cli import diff_after_analyze

        try:
            diff_code = diff_after_analyze(baseline_report, outcome.report, Path(out_dir), fail_on_new,
                                           echo=(lambda s: None) if quiet else click.echo)
        except PerfadvisorError as e:
            _fail(str(e), e.exit_code)
    if explain_statement:
        _explain_statement(outcome.report, explain_statement)
    if outcome.errors:
        for err in outcome.errors[:-1]:
            click.echo(f"perfadvisor: error: {err}", err=True)
        _fail(outcome.errors[-1])
    if fail_on and any(severity_rank(f["severity"]) <= severity_rank(fail_on)
                       for f in outcome.report["findings"]):
        if not quiet:
            click.echo(f"failing: at least one finding is {fail_on} or worse (--fail-on {fail_on})")
        sys.exit(1)
    sys.exit(diff_code)


def _explain_statement(report: dict, queryid: str) -> None:
    """Prints the index advisor's view of one statement (report.json coverage.postgres.statements[]); exit 2 with
    one line when the report has no such statement."""
    import json

    entries = ((report.get("coverage") or {}).get("postgres") or {}).get("statements") or []
    entry = next((e for e in entries if str(e.get("queryid")) == str(queryid)), None)
    if entry is None:
        _fail(f"--explain-statement {queryid}: no statement with that queryid among the {len(entries)} the "
              "index advisor looked at (pg_stat_statements' queryid, as report.json shows it)")
    click.echo(f"statement {queryid}:")
    for key, value in entry.items():
        if key != "queryid":
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            click.echo(f"  {key}: {shown}")


@cli.command()
def thresholds() -> None:
    """List every threshold, its default and its source (set them in perfadvisor.toml [thresholds.AREA])."""
    from advisor.pipeline import threshold_modules
    rows = [(f"{mod.AREA}.{name}", default, source) for mod in threshold_modules()
            for name, default, source in getattr(mod, "THRESHOLDS", ())]
    width = max((len(r[0]) for r in rows), default=0)
    for name, default, source in rows:
        click.echo(f"{name:<{width}}  {default!s:<10} {source}")


@cli.group(invoke_without_command=True)
@click.pass_context
def demo(ctx) -> None:
    """The bundled samples. Without a subcommand: `demo validate`, the whole loop on the sample stack (start it,
    load it, analyse, apply, load it again, compare, one page)."""
    if ctx.invoked_subcommand is None:
        from advisor.validate.cli import demo_validate

        ctx.invoke(demo_validate)


@demo.command("postgres")
@click.option("--out", "out_dir", default=DEFAULT_OUT, type=click.Path(file_okay=False),
              help="Directory for the reports.")
@click.option("--workdir", default=None, type=click.Path(file_okay=False),
              help="Where the throwaway PostgreSQL cluster lives (deleted at the end unless --keep) "
                   "[default: a new directory under /tmp].")
@click.option("--port", default=24329, type=click.IntRange(1024, 65535),
              help="Loopback port of the cluster (below the ephemeral range, so no client socket holds it).")
@click.option("--scale", default=1.0, type=click.FloatRange(min=0.01),
              help="Seed scale factor; 1.0 gives 1.2M order items.")
@click.option("--keep", is_flag=True, help="Leave the cluster running (prints its DSN) instead of removing it.")
def demo_postgres(out_dir, workdir, port, scale, keep) -> None:
    """Load the bundled pgshop sample into a throwaway PostgreSQL, run its workload, and analyse it."""
    from sample_workloads.pgshop import demo as pgdemo

    try:
        pgdemo.run_demo(Path(out_dir), Path(workdir) if workdir else None, port, scale, keep, echo=click.echo)
    except PerfadvisorError as e:
        _fail(str(e), e.exit_code)


from advisor.stack import register_demo_commands  # noqa: E402

register_demo_commands(demo)

from advisor.load.cli import register_load_commands  # noqa: E402

register_load_commands(cli)

from advisor.diff.cli import register as register_diff  # noqa: E402
from advisor.validate.cli import register as register_validate  # noqa: E402

register_diff(cli)

register_validate(cli, demo)


@cli.command("apply")
@click.argument("report", type=click.Path())
@click.option("--out", "out_dir", default="perfadvisor-apply", type=click.Path(file_okay=False),
              help="Directory for migration.sql, spring.env, application-perfadvisor.properties, redis.conf, "
                   "nginx.conf, code-hints.md and apply.json.")
@click.option("--only", multiple=True, metavar="ID_OR_RULE",
              help="Apply only these findings (a finding id such as PG001:public.orders(customer_id), or a rule "
                   "code such as POOL001); repeatable. [default: every finding above info]")
@click.option("--execute", is_flag=True,
              help="Also run migration.sql against --pg, one statement at a time (nothing runs without it).")
@click.option("--pg", "pg_dsn", metavar="DSN", default=None,
              help="Database for --execute [default: $PERFADVISOR_PG_DSN].")
def apply_cmd(report, out_dir, only, execute, pg_dsn) -> None:
    """Turn a report's findings (REPORT: report.json or its directory) into files to review and commit."""
    import os

    from advisor import apply as ap

    try:
        doc = ap.load_report(report)
        plan = ap.plan(doc, tuple(only))
        if execute and not (pg_dsn or os.environ.get("PERFADVISOR_PG_DSN")):
            raise ConfigError("--execute needs --pg DSN (or PERFADVISOR_PG_DSN): the database to run migration.sql on")
        written = ap.write(plan, doc, Path(out_dir), str(report))
        click.echo(f"{len(plan.used)} finding(s) applied, {len(plan.skipped)} left out; wrote "
                   + ", ".join(str(w) for w in written))
        if execute:
            results = ap.execute(plan, pg_dsn or os.environ["PERFADVISOR_PG_DSN"], echo=click.echo)
            ap.record_execution(Path(out_dir), results)
            failed = [r for r in results if not r.ok]
            if failed:
                _fail(f"{len(failed)} of {len(results)} migration statement(s) failed; the others ran")
    except PerfadvisorError as e:
        _fail(str(e), e.exit_code)


@cli.command("bundle-diff")
@click.argument("old", type=click.Path(exists=True))
@click.argument("new", type=click.Path(exists=True))
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Write bundle-diff.md and bundle-diff.json here [default: print Markdown only].")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON instead of the Markdown.")
@click.option("--fail-on-increase", metavar="N%", default=None,
              help="Exit 1 when initial JS (gzip) grows by more than N percent, e.g. 5%.")
def bundle_diff(old, new, out_dir, as_json, fail_on_increase) -> None:
    """Compare two front-end builds (Vite dist/, webpack stats.json or built files): per-chunk and
    per-package deltas, matched across hashed file names, and the change in initial-load bytes."""
    from analyzers.frontend import cli as fecli

    try:
        code = fecli.bundle_diff(old, new, out_dir, as_json, fail_on_increase, echo=click.echo)
    except PerfadvisorError as e:
        _fail(str(e), e.exit_code)
        return
    sys.exit(code)


def main() -> None:
    """Entry point: click's usage errors are shown as one line too (exit code 2)."""
    try:
        code = cli.main(prog_name="perfadvisor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.ClickException as e:
        _fail(e.format_message().replace("\n", " "), e.exit_code)
        return
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
