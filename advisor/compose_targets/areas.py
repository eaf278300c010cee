"""One target per area from the recognised services: the PostgreSQL DSN, the Redis URL, the Actuator URLs
and the front-end URL, each with how it was found, or why it could not be."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from advisor.compose_targets.recognise import (
    Ref,
    published_addresses,
    referenced,
    refs_to,
    secret_value,
    value_or_file,
)
from advisor.compose_targets.services import SECRETS_DIR, Service, option_value, to_int
from advisor.config import redact_dsn

DEFAULT_PORTS = {"postgres": 5432, "redis": 6379}
#: Spring Boot's defaults: server.port 8080, management.endpoints.web.base-path /actuator
#: (https://docs.spring.io/spring-boot/reference/actuator/monitoring.html).
SPRING_DEFAULT_PORT = 8080
ACTUATOR_BASE_PATH = "/actuator"
#: Container ports a web server is most often published from, in order of preference.
HTTP_PORTS = (80, 8080, 8000, 3000, 5173, 4173)


@dataclass(frozen=True)
class Found:
    """A target found: the area, the service(s) it came from, and how (one line each, no secret)."""

    area: str
    services: tuple[str, ...]
    shown: str  # the DSN/URL(s) with any password as ***
    how: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Missing:
    """An area with no target, why, and what to do."""

    area: str
    reason: str


def _choose(label: str, candidates: list[Service], refs: list[Ref],
            all_names: Sequence[str]) -> tuple[Service | None, str | None]:
    if not candidates:
        return None, f"no service looks like {label} among {', '.join(all_names) or '(none)'}"
    if len(candidates) == 1:
        return candidates[0], None
    linked = referenced(candidates, refs)
    if len(linked) == 1:
        return linked[0], None
    names = ", ".join(s.name for s in candidates)
    return None, f"several {label} services ({names}) and no application points at exactly one: choose with --service"


def postgres_target(services: list[Service], kinds: dict[str, dict[str, str]], refs: list[Ref],
              all_names: Sequence[str]) -> Missing | tuple[Found, dict[str, Any]]:
    cands = [s for s in services if "postgres" in kinds[s.name]]
    svc, why = _choose("PostgreSQL", cands, refs, all_names)
    if svc is None:
        return Missing("postgres", why or "")
    port = _pg_port(svc)
    addrs, why = published_addresses(svc, port)
    if not addrs:
        return Missing("postgres", f"{why} (publish it, e.g. ports: [\"127.0.0.1:{port}:{port}\"], or pass --pg)")
    how = [f"recognised by {kinds[svc.name]['postgres']}; published on {addrs[0]}"]
    warnings = []
    user, _ = value_or_file(svc, ["POSTGRES_USER", "POSTGRESQL_USERNAME"])
    password, pw_how = value_or_file(svc, ["POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD"])
    database, _ = value_or_file(svc, ["POSTGRES_DB", "POSTGRESQL_DATABASE"])
    app_refs = refs_to(svc, refs)
    if user is None and app_refs and app_refs[0].user:  # no superuser named: use the application's role
        r = app_refs[0]
        user, password, pw_how = r.user, r.password, (f"{r.app}'s {r.password_how}" if r.password_how else None)
        how.append(f"user {user} from service {r.app}")
    user = user or "postgres"
    if app_refs and app_refs[0].database:
        database = app_refs[0].database
        how.append(f"database {database} from service {app_refs[0].app}")
    database = database or user
    if password is None and svc.environment.get("POSTGRES_HOST_AUTH_METHOD") != "trust":
        warnings.append(f"no password found for user {user}" + (f" ({pw_how})" if pw_how else "")
                        + ": pass --pg with one, or set PGPASSWORD")
    elif password is not None:
        how.append(f"password from {pw_how}")
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    dsn = f"postgresql://{auth}@{addrs[0]}/{quote(database, safe='')}"
    return Found("postgres", (svc.name,), redact_dsn(dsn), tuple(how), tuple(warnings)), {"dsn": dsn}


def _pg_port(svc: Service) -> int:
    """postgres -p N, -c port=N or --port=N in the command; else 5432."""
    args = [a for a in svc.command if a != "-c"]  # `-c port=N` → `port=N`
    return to_int(option_value(args, "-p", "port=", "--port="), 0) or DEFAULT_PORTS["postgres"]


def redis_target(services: list[Service], kinds: dict[str, dict[str, str]], refs: list[Ref],
           all_names: Sequence[str]) -> Missing | tuple[Found, dict[str, Any]]:
    cands = [s for s in services if "redis" in kinds[s.name]]
    svc, why = _choose("Redis", cands, refs, all_names)
    if svc is None:
        return Missing("redis", why or "")
    port = to_int(option_value(svc.command, "--port"), 0) or DEFAULT_PORTS["redis"]
    addrs, why = published_addresses(svc, port)
    if not addrs:
        return Missing("redis", f"{why} (publish it, e.g. ports: [\"127.0.0.1:{port}:{port}\"], or pass --redis)")
    how = [f"recognised by {kinds[svc.name]['redis']}; published on {addrs[0]}"]
    password, pw_how = _redis_password(svc, refs_to(svc, refs))
    warnings = []
    if password is not None:
        how.append(f"password from {pw_how}")
    elif pw_how:
        warnings.append(pw_how)
    url = f"redis://{':' + quote(password, safe='') + '@' if password else ''}{addrs[0]}/0"
    return Found("redis", (svc.name,), redact_dsn(url), tuple(how), tuple(warnings)), {"url": url}


def _redis_password(svc: Service, refs: list[Ref]) -> tuple[str | None, str | None]:
    if svc.environment.get("ALLOW_EMPTY_PASSWORD", "").lower() == "yes":
        return None, None
    pw, how = value_or_file(svc, ["REDIS_PASSWORD"])
    if pw is not None or how:
        return pw, how
    pw = option_value(svc.command, "--requirepass")
    if pw is not None and "$" not in pw:
        return pw, "--requirepass in the command"
    # A password the command reads from a secret, e.g. --requirepass "$(cat /run/secrets/NAME)".
    m = re.search(re.escape(SECRETS_DIR) + r"/([\w.-]+)", " ".join(svc.command))
    if m:
        return secret_value(svc, f"{SECRETS_DIR}/{m.group(1)}")
    for r in refs:
        if r.password is not None:
            return r.password, f"{r.app}'s {r.password_how}"
    return None, None


def actuator_target(services: list[Service], kinds: dict[str, dict[str, str]], all_names: Sequence[str],
              explicit: bool) -> Missing | tuple[Found, dict[str, Any]]:
    cands = [s for s in services if "spring" in kinds[s.name]]
    if not cands:
        return Missing("actuator", "no Spring Boot service (SPRING_* / MANAGEMENT_* variables or a Spring image) "
                                   f"among {', '.join(all_names) or '(none)'}: pass --actuator URL")
    groups: dict[str, list[Service]] = {}
    for s in cands:
        groups.setdefault(s.image or s.name, []).append(s)
    if len(groups) > 1 and not explicit:
        names = "; ".join(", ".join(s.name for s in g) for g in groups.values())
        return Missing("actuator", f"several Spring Boot applications ({names}): choose one with --service "
                                   "(replicas of one image are taken together)")
    urls, how, problems = [], [], []
    chosen = [s for g in groups.values() for s in g]
    for s in chosen:
        port, base = _management(s)
        addrs, why = published_addresses(s, port)
        if not addrs:
            problems.append(f"{why} (the management port; publish it or pass --actuator)")
            continue
        urls.extend(f"http://{a}{base}" for a in addrs)
        how.append(f"{s.name}: recognised by {kinds[s.name]['spring']}; management port {port}")
    if not urls:
        return Missing("actuator", "; ".join(problems))
    return (Found("actuator", tuple(s.name for s in chosen), ", ".join(urls), tuple(how), tuple(problems)),
            {"urls": urls})


def _management(svc: Service) -> tuple[int, str]:
    """Management port and Actuator base path, from Spring's relaxed-binding environment variables and
    SPRING_APPLICATION_JSON (https://docs.spring.io/spring-boot/reference/actuator/monitoring.html)."""
    env = dict(svc.environment)
    try:
        app_json = json.loads(env.get("SPRING_APPLICATION_JSON") or "{}")
    except ValueError:
        app_json = {}
    flat = _flatten(app_json) if isinstance(app_json, dict) else {}
    for prop, var in (("management.server.port", "MANAGEMENT_SERVER_PORT"), ("server.port", "SERVER_PORT"),
                      ("management.endpoints.web.base-path", "MANAGEMENT_ENDPOINTS_WEB_BASEPATH"),
                      ("management.server.base-path", "MANAGEMENT_SERVER_BASEPATH"),
                      ("server.servlet.context-path", "SERVER_SERVLET_CONTEXTPATH")):
        if prop in flat and var not in env:
            env[var] = str(flat[prop])
    for var in list(env):  # MANAGEMENT_ENDPOINTS_WEB_BASE_PATH and …BASEPATH both bind base-path
        env.setdefault(var.replace("BASE_PATH", "BASEPATH").replace("CONTEXT_PATH", "CONTEXTPATH"), env[var])
    server_port = to_int(env.get("SERVER_PORT"), SPRING_DEFAULT_PORT) or SPRING_DEFAULT_PORT
    mgmt = env.get("MANAGEMENT_SERVER_PORT")
    base = "/" + env.get("MANAGEMENT_ENDPOINTS_WEB_BASEPATH", ACTUATOR_BASE_PATH).strip("/")
    if mgmt and to_int(mgmt, 0) and to_int(mgmt, 0) != server_port:
        prefix = env.get("MANAGEMENT_SERVER_BASEPATH", "").strip("/")
        return to_int(mgmt, 0), (f"/{prefix}" if prefix else "") + base
    context = env.get("SERVER_SERVLET_CONTEXTPATH", "").strip("/")
    return server_port, (f"/{context}" if context else "") + base


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def frontend_target(services: list[Service], kinds: dict[str, dict[str, str]],
              all_names: Sequence[str]) -> Missing | tuple[Found, dict[str, Any]]:
    cands = [s for s in services if "frontend" in kinds[s.name]]
    svc, why = _choose("a web server (nginx, httpd, caddy)", cands, [], all_names)
    if svc is None:
        return Missing("frontend", f"{why}; pass --frontend-url")
    published = [b for b in svc.ports if b.protocol == "tcp"]
    targets = [b.target for b in published]
    port = next((p for p in HTTP_PORTS if p in targets), targets[0] if len(set(targets)) == 1 else None)
    if svc.network_mode == "host":
        port = port or 80
    if port is None:
        return Missing("frontend", f"service {svc.name} publishes no HTTP port ({', '.join(map(str, targets)) or 'none'}): "
                                   "pass --frontend-url")
    addrs, why = published_addresses(svc, port)
    if not addrs:
        return Missing("frontend", f"{why}; pass --frontend-url")
    url = f"http://{addrs[0]}/"
    return Found("frontend", (svc.name,), url, (f"recognised by {kinds[svc.name]['frontend']}; port {port}",)), \
        {"url": url}
