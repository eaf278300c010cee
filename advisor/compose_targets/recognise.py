"""What a service is (PostgreSQL, Redis, a Spring Boot application, a web server), where it is published on
this machine, its secrets and settings, and which services an application's environment points at."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from advisor.compose_targets.services import Service, to_int

_IMAGE_KINDS = {
    "postgres": ("postgres", "postgis", "timescaledb", "pgvector"),
    "redis": ("redis", "valkey", "keydb", "dragonfly"),
    "frontend": ("nginx", "httpd", "apache", "caddy", "openresty"),
    "spring": ("spring", "spring-boot"),
}
#: Images whose names contain a database's name but are tools around it, not the server.
_NOT_A_SERVER = ("exporter", "commander", "insight", "admin", "backup", "operator", "sentinel")


def _image_kind(image: str) -> str | None:
    """'postgres' / 'redis' / 'frontend' / 'spring' from an image reference's repository name, or None."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()
    if any(w in name for w in _NOT_A_SERVER):
        return None
    return next((kind for kind, words in _IMAGE_KINDS.items() if any(w in name for w in words)), None)


def kinds_of(svc: Service) -> dict[str, str]:
    """Kind → the signal it was recognised by."""
    for i, image in enumerate(svc.base_images):
        kind = _image_kind(image)
        if kind:
            return {kind: f"image {image}" if i == 0 and svc.image else f"its Dockerfile's base {image}"}
    # An application's env_file often names the database's variables too (POSTGRES_PASSWORD_FILE for
    # interpolation): Spring's variables say "application" first.
    keys = sorted(svc.environment)
    spring = [k for k in keys if k.startswith(("SPRING_", "MANAGEMENT_"))]
    if spring:
        return {"spring": f"variable {spring[0]}"}
    pg = [k for k in keys if k.startswith(("POSTGRES_", "POSTGRESQL_"))]
    return {"postgres": f"variable {pg[0]}"} if pg else {}


def published_addresses(svc: Service, target: int) -> tuple[list[str], str | None]:
    """host:port addresses on which the container port is reachable from this machine (one per replica), or
    no address and the reason."""
    if svc.network_mode == "host":
        return [f"127.0.0.1:{target}"], None
    b = next((b for b in svc.ports if b.target == target and b.protocol == "tcp"), None)
    if b is None:
        return [], f"service {svc.name} does not publish port {target}"
    host = _host(b.host_ip)
    if b.published is not None:
        return [f"{host}:{b.published}"], None
    if b.published_range and svc.replicas > 1:
        # The engine gives each replica the lowest free port of the range, so a fresh project has them in order.
        first, last = b.published_range
        return [f"{host}:{p}" for p in range(first, min(last, first + svc.replicas - 1) + 1)], None
    picked = f"one of {b.published_range[0]}-{b.published_range[1]}" if b.published_range else "a host port"
    return [], (f"service {svc.name} publishes port {target} on {picked} the engine picks: see "
                f"`docker compose port {svc.name} {target}`")


def _host(host_ip: str) -> str:
    if host_ip in ("", "0.0.0.0"):  # noqa: S104 (published on every interface: loopback reaches it)
        return "127.0.0.1"
    if host_ip in ("::", "::1"):
        return "[::1]"
    return f"[{host_ip}]" if ":" in host_ip else host_ip


def secret_value(svc: Service, path: str) -> tuple[str | None, str]:
    if path in svc.secrets:
        return svc.secrets[path]
    return None, f"{path} is not one of service {svc.name}'s secrets"


def value_or_file(svc: Service, names: Sequence[str]) -> tuple[str | None, str | None]:
    """The value of the first NAME set (or NAME_FILE, read through the service's secrets); (value, how)."""
    for name in names:
        if name in svc.environment:
            return svc.environment[name], f"variable {name}"
        file_var = f"{name}_FILE"
        if file_var in svc.environment:
            value, how = secret_value(svc, svc.environment[file_var])
            return value, f"{file_var} → {how}"
    return None, None


def configtree_value(svc: Service, prop: str) -> tuple[str | None, str | None]:
    """A Spring property from a `configtree:` import of the service's secrets (SPRING_CONFIG_IMPORT)."""
    imports = svc.environment.get("SPRING_CONFIG_IMPORT", "")
    for item in imports.split(","):
        item = item.strip().removeprefix("optional:")
        if item.startswith("configtree:"):
            path = item[len("configtree:"):].rstrip("/") + "/" + prop
            if path in svc.secrets:
                value, how = svc.secrets[path]
                return value, f"Spring configtree {path} → {how}"
    return None, None


@dataclass(frozen=True)
class Ref:
    """An application's pointer at a service: host (a service name or alias), port, database, user, password."""

    app: str
    host: str
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = None
    password_how: str | None = None


_URL = re.compile(r"(?:jdbc:)?(?P<scheme>postgres(?:ql)?|rediss?)://(?:(?P<user>[^:@/]*)(?::(?P<pw>[^@/]*))?@)?"
                  r"(?P<host>[^:/?@]+)(?::(?P<port>\d+))?(?:/(?P<db>[^?]*))?")


def app_refs(app: Service) -> list[Ref]:
    """Where an application points: every variable whose value is a postgres://, jdbc:postgresql:// or
    redis:// URL, and every *HOST variable; credentials from the same prefix (X_URL / X_HOST beside X_USERNAME or
    X_USER, X_PASSWORD or X_PASSWORD_FILE, X_PORT, X_DATABASE / X_DB / X_NAME), or from a Spring configtree
    secret of the same property (SPRING_DATASOURCE_URL → spring.datasource.password)."""
    refs = []
    env = app.environment
    for var, value in env.items():
        m = _URL.match(value)
        if m:
            prefix = var[:-3] if var.endswith("URL") else var + "_"
        elif var.endswith("HOST") and value and "/" not in value:
            prefix = var[:-4]
        else:
            continue
        user = (unquote(m.group("user")) if m and m.group("user") else None) \
            or _first(env, prefix, ("USERNAME", "USER"))
        port = (m.group("port") if m else None) or _first(env, prefix, ("PORT",))
        database = (unquote(m.group("db")) if m and m.group("db") else None) \
            or _first(env, prefix, ("DATABASE", "DB", "NAME"))
        if m and m.group("pw"):
            pw, how = unquote(m.group("pw")), f"variable {var}"
        else:
            pw, how = value_or_file(app, [f"{prefix}PASSWORD"])
            if pw is None and not how:
                pw, how = configtree_value(app, prefix.lower().replace("_", ".") + "password")
        refs.append(Ref(app.name, m.group("host") if m else value, to_int(port, 0) or None, database or None,
                         user or None, pw, how))
    return refs


def _first(env: Mapping[str, str], prefix: str, suffixes: Sequence[str]) -> str | None:
    return next((env[prefix + s] for s in suffixes if env.get(prefix + s)), None)


def referenced(candidates: list[Service], refs: list[Ref]) -> list[Service]:
    names = {r.host for r in refs}
    return [s for s in candidates if s.name in names or names & set(s.aliases)]


def refs_to(svc: Service, refs: list[Ref]) -> list[Ref]:
    return [r for r in refs if r.host == svc.name or r.host in svc.aliases]
