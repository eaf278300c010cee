"""Targets from a Docker Compose file: `perfadvisor analyze --compose FILE [--service NAME …]`.

    discover(compose_file, services=(), env_files=(), profiles=(), environ=None) -> Discovery

Discovery.targets has an entry for each area found, in the shape of perfadvisor.toml's [targets.*]::

    {"postgres": {"dsn": "postgresql://shop:PASSWORD@127.0.0.1:25432/shop"},
     "redis": {"url": "redis://:PASSWORD@127.0.0.1:26379/0"},
     "actuator": {"urls": ["http://127.0.0.1:18081/actuator", …]},   # one per instance of one application
     "frontend": {"url": "http://127.0.0.1:18088/"}}

Passwords are read from the secret files the services use (or their environment), so never print `targets`:
Discovery.lines() says what was found and what was not, with every password shown as ***.

What is followed (the Compose specification, https://github.com/compose-spec/compose-spec/blob/main/spec.md,
and Compose's own docs for env files and profiles, https://docs.docker.com/compose/how-tos/environment-variables/):
- interpolation of every value: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error},
  ${VAR:+replacement}, ${VAR+replacement}, nesting, and $$ for a literal $; the shell environment wins over
  the --env-file files (or PROJECT_DIR/.env when none is given);
- profiles: a service with `profiles` is considered only when one is enabled (`profiles` argument or
  COMPOSE_PROFILES) or it is named with --service;
- `environment` (list or mapping) over `env_file` (string, list, or {path, required}), env files in dotenv
  syntax (KEY=VALUE, `export`, quotes, comments);
- ports in short syntax ("5432", "127.0.0.1:25432:5432", "8000-8002:8080-8082", "[::1]:80:80/tcp") and long
  syntax ({target, published, host_ip, protocol}), `network_mode: host`, `deploy.replicas` / `scale` with a
  published range;
- secrets: a service's `secrets` (short or long syntax, target /run/secrets/NAME) resolved to the top-level
  `file` or `environment`; *_FILE variables and Spring's `configtree:` import read through them.

How a service is recognised (each found target says which signal it used):
- PostgreSQL: its image (or its Dockerfile's final base) is postgres / postgis / timescaledb / …, or it has
  POSTGRES_* / POSTGRESQL_* variables; port 5432 unless its command sets `-p` or `-c port=`.
- Redis: its image is redis / valkey / keydb (not an exporter or a UI); port 6379 unless `--port`.
- Spring Boot Actuator: SPRING_* / MANAGEMENT_* variables (or a Spring image); the management port is
  MANAGEMENT_SERVER_PORT, else SERVER_PORT, else 8080; base path MANAGEMENT_ENDPOINTS_WEB_BASE_PATH or /actuator.
- Front end: an nginx / httpd / caddy / openresty image (or Dockerfile base), its published HTTP port.
When several services fit, the one an application's environment points at wins (SPRING_DATASOURCE_URL,
DATABASE_URL, SPRING_DATA_REDIS_HOST, REDIS_URL, …); several Spring services of one image are instances of one
application. Otherwise the area is reported as ambiguous with the candidates, to choose with --service.

Errors: InputFileError for a missing or malformed compose or env file; ConfigError for --service naming no
service and for a ${VAR:?error} whose variable is unset.

Modules: interpolation.py (variables, env files), ports.py, services.py (the file loaded and each service
normalised), recognise.py (what a service is, where it is published, what points at it), areas.py (one target
per area).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.compose_targets.areas import (
    Found,
    Missing,
    actuator_target,
    frontend_target,
    postgres_target,
    redis_target,
)
from advisor.compose_targets.interpolation import interpolate, parse_env_file
from advisor.compose_targets.ports import PortBinding, parse_ports
from advisor.compose_targets.recognise import app_refs, kinds_of
from advisor.compose_targets.services import final_base_image, load_project, load_services
from advisor.errors import ConfigError

AREAS = ("postgres", "redis", "actuator", "frontend")


@dataclass(frozen=True)
class Discovery:
    """What discover() found in one compose file (see the module docstring for `targets`)."""

    compose_file: str
    project: str
    services: tuple[str, ...]  # the services considered
    inactive: tuple[str, ...]  # services left out because none of their profiles is enabled
    targets: dict[str, dict[str, Any]] = field(repr=False)  # holds passwords: never in a repr or log
    found: tuple[Found, ...]
    missing: tuple[Missing, ...]

    def lines(self) -> list[str]:
        """A human summary, safe to print and log: every password is ***."""
        out = [f"compose file {self.compose_file} (project {self.project}): "
               f"services {', '.join(self.services) or '(none)'}"
               + (f"; not enabled (profiles): {', '.join(self.inactive)}" if self.inactive else "")]
        for f in self.found:
            out.append(f"  {f.area:<9} {f.shown}  (service {', '.join(f.services)})")
            out.extend(f"            {h}" for h in f.how)
            out.extend(f"            warning: {w}" for w in f.warnings)
        for m in self.missing:
            out.append(f"  {m.area:<9} not found: {m.reason}")
        return out


def discover(compose_file: str | Path, services: Sequence[str] = (), env_files: Sequence[str | Path] = (),
             profiles: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> Discovery:
    """Finds the PostgreSQL DSN, Redis URL, Actuator URLs and front-end URL of a compose project.

    services: restrict discovery to these (a named service is considered even when its profile is not
    enabled). env_files: like `docker compose --env-file` (default: .env beside the compose file). profiles:
    enabled profiles, added to COMPOSE_PROFILES. environ: the shell environment (default os.environ).
    Raises InputFileError / ConfigError (see the module docstring). Reads secret files; never logs them."""
    path = Path(compose_file)
    environ = dict(os.environ if environ is None else environ)
    doc, env = load_project(path, [Path(f) for f in env_files], environ)
    where = f"compose file {path}"
    project_dir = path.resolve().parent
    all_services = load_services(doc, project_dir, env, where)
    unknown = [s for s in services if s not in all_services]
    if unknown:
        raise ConfigError(f"--service {unknown[0]}: no such service in {path} "
                          f"(services: {', '.join(all_services) or 'none'})")
    enabled = set(profiles) | {p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    inactive = [n for n, s in doc["services"].items()
                if s.get("profiles") and not (set(map(str, s["profiles"])) & enabled | {"*"} & enabled)
                and n not in services]
    names = list(services) or [n for n in all_services if n not in inactive]
    chosen = [all_services[n] for n in names]
    kinds = {s.name: kinds_of(s) for s in all_services.values()}
    # Applications anywhere in the project may point at the database or Redis, even when not chosen.
    apps = [s for s in all_services.values() if s.name not in inactive or s.name in services]
    refs = [r for app in apps for r in app_refs(app)]
    results = [postgres_target(chosen, kinds, refs, names),
               redis_target(chosen, kinds, refs, names),
               actuator_target(chosen, kinds, names, explicit=bool(services)),
               frontend_target(chosen, kinds, names)]
    targets: dict[str, dict[str, Any]] = {}
    found, missing = [], []
    for r in results:
        if isinstance(r, Missing):
            missing.append(r)
        else:
            f, target = r
            found.append(f)
            targets[f.area] = target
    project = str(doc.get("name") or env.get("COMPOSE_PROJECT_NAME") or project_dir.name)
    return Discovery(compose_file=str(path), project=project, services=tuple(names), inactive=tuple(inactive),
                     targets=targets, found=tuple(found), missing=tuple(missing))


__all__ = ["AREAS", "Discovery", "Found", "Missing", "PortBinding", "discover", "final_base_image", "interpolate",
           "parse_env_file", "parse_ports"]
