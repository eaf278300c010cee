"""`perfadvisor demo up|down|status|reload`: the sample stack natively (the default) or in containers
(`--engine docker`, advisor.stack.docker)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from advisor.errors import PerfadvisorError
from advisor.stack.config import DEFAULT_RUN_DIR, SOURCE_DIR, Ports, StackConfig

ENGINES = ("native", "docker")
DEFAULT_SCALE = 1.0


def register_demo_commands(demo) -> None:
    """Adds `up`, `down`, `status` and `reload` to the `perfadvisor demo` click group."""
    import click

    run_dir_opt = click.option("--run-dir", default=lambda: os.environ.get("PERFADVISOR_STACK_DIR", DEFAULT_RUN_DIR),
                               show_default=DEFAULT_RUN_DIR, type=click.Path(file_okay=False),
                               help="Where logs, pids, secrets and data live [env PERFADVISOR_STACK_DIR] "
                                    "(native engine).")
    engine_opt = click.option("--engine", type=click.Choice(ENGINES), default="native", show_default=True,
                              help="native: local packages, one process per service; docker: the Compose "
                                   "file compose/docker-compose.yml on a Docker engine.")
    source_opt = click.option("--source", default=str(SOURCE_DIR), show_default=True,
                              type=click.Path(file_okay=False), help="The compose/ directory of a perfadvisor checkout.")
    env_file_opt = click.option("--env-file", "env_file", default="env/dev.env", show_default=True,
                                help="Compose env file, relative to --source (docker engine): env/staging.env "
                                     "for the staging settings.")
    project_opt = click.option("--project", default="perfadvisor-shop", show_default=True,
                               help="Compose project name (docker engine): two stacks side by side need two "
                                    "names and --port-offset.")
    port_offset_opt = click.option("--port-offset", default=0, show_default=True, type=click.IntRange(0, 1000),
                                   help="Added to every port (postgres 25432, redis 26379, backend 18080, "
                                        "actuator 18081, nginx 18088).")

    def _fail(e: PerfadvisorError) -> None:
        click.echo(f"perfadvisor: error: {e}", err=True)
        sys.exit(e.exit_code)

    def _compose_stack(engine_args: dict):
        from advisor.stack.docker import ComposeConfig, ComposeStack

        return ComposeStack(ComposeConfig(**engine_args))

    @demo.command("up")
    @engine_opt
    @run_dir_opt
    @click.option("--scale", default=None, type=click.FloatRange(min=0.001),
                  help="Seed scale factor: 1.0 is 500k orders and 1.5M order items [default: 1.0; docker: the "
                       "env file's SEED_SCALE].")
    @port_offset_opt
    @source_opt
    @env_file_opt
    @project_opt
    @click.option("--build/--no-build", default=True, show_default=True,
                  help="Build the jar and the front end (docker: the images) when they are missing.")
    @click.option("--bases", type=click.Choice(("auto", "official", "debian")), default="auto", show_default=True,
                  help="docker: build FROM the official images, or FROM Debian stand-ins made by "
                       "compose/bases/build.sh where no registry can be reached (auto: debian when they exist).")
    @click.option("--install/--no-install", default=True, show_default=True,
                  help="apt-get install missing system packages (as root; native engine).")
    def demo_up(engine, run_dir, scale, port_offset, source, env_file, project, build, bases, install) -> None:
        """Start the sample shop on loopback: PostgreSQL, Redis, back end, worker and nginx."""
        from advisor.stack.native import Stack

        ports = Ports().shifted(port_offset)
        try:
            if engine == "docker":
                st = _compose_stack({"source_dir": Path(source), "env_file": env_file, "ports": ports,
                                     "project": project, "scale": scale, "build": None if build else False,
                                     "bases": bases}).up(echo=click.echo)
                for area, shown in st["urls"].items():
                    click.echo(f"  {area:<10}  {shown}")
                click.echo(f"passwords: the files under {Path(source) / 'secrets'} that {env_file} names\n"
                           f"analyse it with: perfadvisor analyze --compose {Path(source) / 'docker-compose.yml'}\n"
                           "stop it with: perfadvisor demo down --engine docker"
                           + ("" if project == "perfadvisor-shop" else f" --project {project}"))
                return
            cfg = StackConfig(run_dir=Path(run_dir), scale=DEFAULT_SCALE if scale is None else scale, ports=ports,
                              source_dir=Path(source), build=build, install=install)
            u = Stack(cfg).up(echo=click.echo)
        except PerfadvisorError as e:
            _fail(e)
            return
        click.echo(f"  front end   {u.frontend}\n  API         {u.api}\n  prometheus  {u.prometheus}\n"
                   f"  postgres    {u.postgres_dsn}\n  redis       {u.redis} (password in "
                   f"{Path(run_dir) / 'secrets' / 'redis-password'})\n"
                   "stop it with: perfadvisor demo down"
                   + ("" if run_dir == DEFAULT_RUN_DIR else f" --run-dir {run_dir}"))

    @demo.command("down")
    @engine_opt
    @run_dir_opt
    @source_opt
    @env_file_opt
    @project_opt
    @click.option("--purge", is_flag=True, help="Also delete the database, logs and secrets (native: the run "
                                                "directory; docker: the project's volumes).")
    def demo_down(engine, run_dir, source, env_file, project, purge) -> None:
        """Stop exactly what `demo up` started."""
        from advisor.stack.native import Stack

        try:
            if engine == "docker":
                _compose_stack({"source_dir": Path(source), "env_file": env_file, "project": project}).down(
                    echo=click.echo, purge=purge)
            else:
                Stack(StackConfig(run_dir=Path(run_dir))).down(echo=click.echo, purge=purge)
        except PerfadvisorError as e:
            _fail(e)

    @demo.command("reload")
    @run_dir_opt
    @click.option("--apply-dir", default=lambda: os.environ.get("PERFADVISOR_APPLY_DIR", ""),
                  type=click.Path(file_okay=False), show_default="$PERFADVISOR_APPLY_DIR",
                  help="What `perfadvisor apply --out DIR` wrote [env PERFADVISOR_APPLY_DIR, which `perfadvisor "
                       "validate` sets for its --restart command].")
    def demo_reload(run_dir, apply_dir) -> None:
        """Make the running native stack use an apply directory: Redis CONFIG SET from redis.conf, nginx reloaded
        with nginx.conf's snippets merged into its server block, the back end restarted with spring.env.
        migration.sql is not run (apply --execute runs it)."""
        from advisor.stack.config import StackError
        from advisor.stack.native import Stack

        try:
            if not apply_dir:
                raise StackError("no apply directory: pass --apply-dir DIR or set PERFADVISOR_APPLY_DIR (write one "
                                 "with `perfadvisor apply REPORT --out DIR`)")
            done = Stack(StackConfig(run_dir=Path(run_dir))).apply_changes(Path(apply_dir), echo=lambda s: None)
        except PerfadvisorError as e:
            _fail(e)
            return
        for service, what in done.items():
            if "skipped" in what:
                shown = f"nothing applied: {what['skipped']}"
            elif service == "backend":
                shown = (f"restarted in {what['ready_s']:.0f} s with " if what["restarted"]
                         else "unchanged, already runs with ") + ", ".join(what["applied"])
            elif service == "nginx":
                shown = "reloaded with " + ", ".join(what["applied"])
            else:
                shown = "CONFIG SET " + "; CONFIG SET ".join(what["applied"])
            click.echo(f"{service:<9} {shown}")

    @demo.command("status")
    @engine_opt
    @run_dir_opt
    @source_opt
    @env_file_opt
    @project_opt
    @port_offset_opt
    @click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
    def demo_status(engine, run_dir, source, env_file, project, port_offset, as_json) -> None:
        """Show which services of the sample stack run, their ports and URLs. Exit 1 when none runs."""
        from advisor.stack.native import Stack

        try:
            if engine == "docker":
                st = _compose_stack({"source_dir": Path(source), "env_file": env_file, "project": project,
                                     "ports": Ports().shifted(port_offset)}).status()
            else:
                st = Stack(StackConfig(run_dir=Path(run_dir))).status()
        except PerfadvisorError as e:
            _fail(e)
            return
        if as_json:
            click.echo(json.dumps(st, indent=2))
        elif not any(s.get("running") for s in st["services"].values()) and engine == "docker":
            click.echo(f"no containers of the Compose project {st['project']} are running")
        elif not st["services"]:
            click.echo(f"no stack in {st['run_dir']}")
        else:
            for name, s in st["services"].items():
                pid = s.get("pid") or (_postmaster_pid(st.get("run_dir")) if name == "postgres" and s["running"]
                                       else None)
                shown_pid = f"pid={pid}" if pid else ("pid=– (container)" if engine == "docker" else "pid=–")
                extra = " ".join(f"{k}={v}" for k, v in s.items() if k not in ("running", "pid") and v is not None)
                click.echo(f"{name:<9} {'running' if s['running'] else 'stopped':<8} {shown_pid:<10} {extra}")
            for area, shown in st.get("urls", {}).items() if engine == "docker" else ():
                click.echo(f"  {area:<10}  {shown}")
            applied = st.get("applied") or {}
            if applied.get("backend_env") or applied.get("nginx_snippet"):
                env = ", ".join(f"{k}={v}" for k, v in applied["backend_env"].items())
                click.echo(f"applied   by demo reload: {env or 'no back-end settings'}"
                           + (f"; nginx snippets {applied['nginx_snippet']}" if applied.get("nginx_snippet") else ""))
        sys.exit(0 if st["running"] else 1)


def _postmaster_pid(run_dir: str | None) -> int | None:
    """The PostgreSQL postmaster's pid of a native stack, for `demo status`: the first line of postmaster.pid in
    the data directory state.json names (PostgreSQL writes its pid there while it runs). None when unknown."""
    try:
        state = json.loads((Path(run_dir) / "state.json").read_text(encoding="utf-8"))
        first = (Path(state["postgres_datadir"]) / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0]
        return int(first)
    except (OSError, ValueError, KeyError, TypeError):
        return None
