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
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from advisor.config import redact_dsn
from advisor.errors import ConfigError, InputFileError

AREAS = ("postgres", "redis", "actuator", "frontend")
SECRETS_DIR = "/run/secrets"
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379}
#: Spring Boot's defaults: server.port 8080, management.endpoints.web.base-path /actuator
#: (https://docs.spring.io/spring-boot/reference/actuator/monitoring.html).
SPRING_DEFAULT_PORT = 8080
ACTUATOR_BASE_PATH = "/actuator"
#: Container ports a web server is most often published from, in order of preference.
HTTP_PORTS = (80, 8080, 8000, 3000, 5173, 4173)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMAGE_KINDS = {
    "postgres": ("postgres", "postgis", "timescaledb", "pgvector"),
    "redis": ("redis", "valkey", "keydb", "dragonfly"),
    "frontend": ("nginx", "httpd", "apache", "caddy", "openresty"),
    "spring": ("spring", "spring-boot"),
}
#: Images whose names contain a database's name but are tools around it, not the server.
_NOT_A_SERVER = ("exporter", "commander", "insight", "admin", "backup", "operator", "sentinel")


# ---------------------------------------------------------------------------------------------------------
# What is returned


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


# ---------------------------------------------------------------------------------------------------------
# Interpolation and env files


def interpolate(text: str, env: Mapping[str, str], where: str = "compose file") -> str:
    """Compose's variable substitution of one string (see the module docstring for the forms).

    Raises ConfigError for ${VAR:?msg} / ${VAR?msg} with VAR unset (or empty, with the colon) and for a
    malformed reference such as `${}` or an unclosed `${`; `where` names the input in the message."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        nxt = text[j + 1:j + 2]
        if nxt == "$":
            out.append("$")
            i = j + 2
        elif nxt == "{":
            value, i = _braced(text, j + 2, env, where)
            out.append(value)
        else:
            m = _NAME.match(text, j + 1)
            if m:
                out.append(env.get(m.group(0), ""))
                i = m.end()
            else:  # a lone $ is kept, as Compose does
                out.append("$")
                i = j + 1
    return "".join(out)


def _braced(text: str, start: int, env: Mapping[str, str], where: str) -> tuple[str, int]:
    """Parses ${NAME[op arg]} from just after `${`; returns the substituted text and the index after `}`."""
    m = _NAME.match(text, start)
    if not m:
        raise ConfigError(f"{where}: invalid interpolation at {_excerpt(text, start - 2)!r}: "
                          "a variable name must follow '${'")
    name, k = m.group(0), m.end()
    if text.startswith("}", k):
        return env.get(name, ""), k + 1
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(op, k):
            break
    else:
        raise ConfigError(f"{where}: invalid interpolation {_excerpt(text, start - 2)!r} "
                          "(expected ${NAME}, ${NAME:-default}, ${NAME:?error} or ${NAME:+value})")
    end = _closing_brace(text, k + len(op), where)
    raw_arg = text[k + len(op):end]
    value = env.get(name)
    is_set = value is not None and (value != "" or not op.startswith(":"))
    if op.endswith("-"):
        result = value if is_set else interpolate(raw_arg, env, where)
    elif op.endswith("+"):
        result = interpolate(raw_arg, env, where) if is_set else ""
    else:  # ? / :?
        if not is_set:
            msg = interpolate(raw_arg, env, where) or "required"
            raise ConfigError(f"{where}: variable {name} is not set: {msg} (set it in the environment or an "
                              "--env-file)")
        result = value
    return result or "", end + 1


def _closing_brace(text: str, i: int, where: str) -> int:
    """Index of the `}` closing a ${…} whose argument starts at i (nested ${…} and $$ skipped)."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "$" and text.startswith("$$", i):
            i += 2
            continue
        if c == "$" and text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise ConfigError(f"{where}: unclosed '${{' in {_excerpt(text, 0)!r}")


def _excerpt(text: str, at: int) -> str:
    return text[max(at, 0):max(at, 0) + 40]


def parse_env_file(path: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file as Compose reads them: `export KEY=…`, # comments (also after an
    unquoted value, preceded by a space), '…' literal, "…" with \\n \\t \\" \\\\ escapes; unquoted and "…" values
    are interpolated with the keys read so far over `env`. Raises InputFileError naming path:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(f"env file {path}: cannot read it ({e.__class__.__name__}: {e})") from None
    out: dict[str, str] = {}
    base = dict(env or {})
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _NAME.fullmatch(key):
            raise InputFileError(f"env file {path}:{lineno}: expected KEY=VALUE, got {raw.strip()[:40]!r}")
        out[key] = _env_value(value.strip(), {**base, **out}, f"env file {path}:{lineno}")
    return out


def _env_value(value: str, env: Mapping[str, str], where: str) -> str:
    if value[:1] == "'":
        end = value.find("'", 1)
        if end < 0:
            raise InputFileError(f"{where}: unterminated single quote")
        return value[1:end]
    if value[:1] == '"':
        chars, i = [], 1
        while i < len(value):
            c = value[i]
            if c == "\\" and i + 1 < len(value):
                chars.append({"n": "\n", "t": "\t", "r": "\r"}.get(value[i + 1], value[i + 1]))
                i += 2
                continue
            if c == '"':
                return interpolate("".join(chars), env, where)
            chars.append(c)
            i += 1
        raise InputFileError(f"{where}: unterminated double quote")
    value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
    return interpolate(value, env, where)


def _interpolate_tree(node: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, where)
    if isinstance(node, list):
        return [_interpolate_tree(v, env, where) for v in node]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env, where) for k, v in node.items()}
    return node


# ---------------------------------------------------------------------------------------------------------
# Ports


@dataclass(frozen=True)
class PortBinding:
    """One published container port. host_ip "" is every interface. published None: the engine picks the
    host port, from `published_range` (first, last) when one is given (one port per replica), else any."""

    target: int
    published: int | None
    host_ip: str = ""
    protocol: str = "tcp"
    published_range: tuple[int, int] | None = None


def parse_ports(spec: Any, where: str) -> list[PortBinding]:
    """A service's `ports` entry (short string/number or long mapping) as one binding per container port;
    ranges ("8000-8002:80-82") become one binding per pair. Raises InputFileError for a malformed entry."""
    if isinstance(spec, bool):
        raise InputFileError(f"{where}: port {spec!r} is not a port")
    if isinstance(spec, int):
        return [PortBinding(_port(spec, where), None)]
    if isinstance(spec, dict):
        return _long_port(spec, where)
    if not isinstance(spec, str):
        raise InputFileError(f"{where}: port {spec!r} must be a string, a number or a mapping")
    text, _, proto = spec.strip().partition("/")
    host_ip = ""
    if text.startswith("["):  # [::1]:8080:80
        close = text.find("]")
        if close < 0:
            raise InputFileError(f"{where}: port {spec!r}: unclosed '['")
        host_ip, text = text[1:close], text[close + 1:].lstrip(":")
        parts = text.split(":")
    else:
        parts = text.split(":")
        if len(parts) == 3:
            host_ip, parts = parts[0], parts[1:]
        elif len(parts) > 3:
            raise InputFileError(f"{where}: port {spec!r}: expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT")
    if len(parts) == 1:
        published_text, target_text = "", parts[0]
    else:
        published_text, target_text = parts
    return _pairs(published_text, target_text, host_ip, proto or "tcp", f"{where}: port {spec!r}")


def _long_port(spec: dict, where: str) -> list[PortBinding]:
    if "target" not in spec:
        raise InputFileError(f"{where}: port {spec!r} has no `target`")
    published = spec.get("published")
    return _pairs("" if published in (None, "") else str(published), str(spec["target"]),
                  str(spec.get("host_ip") or ""), str(spec.get("protocol") or "tcp"), f"{where}: port {spec!r}")


def _pairs(published_text: str, target_text: str, host_ip: str, proto: str, where: str) -> list[PortBinding]:
    targets = _range(target_text, where)
    if not published_text:
        return [PortBinding(t, None, host_ip, proto) for t in targets]
    published = _range(published_text, where)
    if len(published) == len(targets):
        return [PortBinding(t, p, host_ip, proto) for t, p in zip(targets, published, strict=True)]
    if len(targets) == 1:  # a range of host ports for one container port: the engine picks one per replica
        return [PortBinding(targets[0], None, host_ip, proto, (published[0], published[-1]))]
    raise InputFileError(f"{where}: {len(published)} host ports for {len(targets)} container ports")


def _range(text: str, where: str) -> list[int]:
    lo, sep, hi = text.strip().partition("-")
    try:
        a = int(lo)
        b = int(hi) if sep else a
    except ValueError:
        raise InputFileError(f"{where}: {text!r} is not a port or a port range") from None
    if b < a:
        raise InputFileError(f"{where}: range {text!r} ends before it starts")
    return [_port(p, where) for p in range(a, b + 1)]


def _port(p: int, where: str) -> int:
    if not 0 < p < 65536:
        raise InputFileError(f"{where}: {p} is not a port (1-65535)")
    return p


# ---------------------------------------------------------------------------------------------------------
# Services


@dataclass(frozen=True)
class Service:
    """One service of the compose file, normalised: its environment (env_file under environment), ports,
    secrets (path in the container → (value or None, where it came from)) and what its image looks like."""

    name: str
    image: str
    base_images: tuple[str, ...]  # the image, else the final base of its Dockerfile (build-only services)
    environment: dict[str, str]
    ports: tuple[PortBinding, ...]
    command: tuple[str, ...]  # the command's arguments (a string command split as a shell would)
    network_mode: str
    replicas: int
    secrets: dict[str, tuple[str | None, str]] = field(repr=False)
    aliases: tuple[str, ...] = ()


def _load(path: Path, env_files: Sequence[Path], environ: Mapping[str, str]) -> tuple[dict, dict[str, str]]:
    if not path.is_file():
        raise InputFileError(f"compose file {path}: not found")
    files = list(env_files) or ([path.parent / ".env"] if (path.parent / ".env").is_file() else [])
    file_env: dict[str, str] = {}
    for f in files:
        if not Path(f).is_file():
            raise InputFileError(f"env file {f}: not found")
        file_env.update(parse_env_file(Path(f), {**file_env, **environ}))
    env = {**file_env, **environ}  # the shell environment wins, as in Compose
    try:
        raw = _yaml_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(f"compose file {path}: cannot read it ({e})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict):
        raise InputFileError(f"compose file {path}: no `services:` mapping at the top level")
    return _interpolate_tree(raw, env, f"compose file {path}"), env


def _yaml_load(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputFileError(f"compose file: not valid YAML{at} ({getattr(e, 'problem', None) or e})") from None


def _env_list(value: Any, environ: Mapping[str, str], where: str) -> dict[str, str]:
    """`environment` as a mapping; KEY without a value takes it from the environment (dropped when unset)."""
    if value is None:
        return {}
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            if v is None:
                if str(k) in environ:
                    out[str(k)] = environ[str(k)]
            else:
                out[str(k)] = _scalar(v)
        return out
    if isinstance(value, list):
        for item in value:
            key, sep, val = str(item).partition("=")
            if sep:
                out[key] = val
            elif key in environ:
                out[key] = environ[key]
        return out
    raise InputFileError(f"{where}: `environment` must be a list or a mapping")


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _service_env(name: str, svc: dict, project_dir: Path, environ: Mapping[str, str], where: str) -> dict[str, str]:
    env: dict[str, str] = {}
    files = svc.get("env_file") or []
    for entry in [files] if isinstance(files, (str, dict)) else files:
        path, required = (entry.get("path"), entry.get("required", True)) if isinstance(entry, dict) else (entry, True)
        p = (project_dir / str(path)).resolve()
        if not p.is_file():
            if required:
                raise InputFileError(f"{where}: service {name}: env_file {path} not found")
            continue
        env.update(parse_env_file(p, environ))
    env.update(_env_list(svc.get("environment"), environ, f"{where}: service {name}"))
    return env


def _service_secrets(name: str, svc: dict, top: dict, project_dir: Path, env: Mapping[str, str],
                     where: str) -> dict[str, tuple[str | None, str]]:
    """Path in the container → (value, description) for each secret the service mounts; value None when it
    cannot be read (external, missing file), with the reason in the description. Values are never logged."""
    out: dict[str, tuple[str | None, str]] = {}
    for entry in svc.get("secrets") or []:
        source = entry.get("source") if isinstance(entry, dict) else str(entry)
        target = (entry.get("target") if isinstance(entry, dict) else None) or source
        path = target if str(target).startswith("/") else f"{SECRETS_DIR}/{target}"
        spec = top.get(source)
        if not isinstance(spec, dict):
            out[path] = (None, f"secret {source!r} is not defined at the top level of the compose file")
        elif spec.get("file"):
            f = (project_dir / os.path.expanduser(str(spec["file"]))).resolve()
            try:
                out[path] = (f.read_text(encoding="utf-8").rstrip("\r\n"), f"secret {source!r} (file {spec['file']})")
            except (OSError, UnicodeDecodeError) as e:
                out[path] = (None, f"secret {source!r}: cannot read {spec['file']} ({e.__class__.__name__})")
        elif spec.get("environment"):
            var = str(spec["environment"])
            out[path] = ((env[var], f"secret {source!r} (variable {var})") if var in env
                         else (None, f"secret {source!r}: variable {var} is not set"))
        else:
            out[path] = (None, f"secret {source!r} is external: its value is not in the compose project")
    return out


def _services(doc: dict, project_dir: Path, env: Mapping[str, str], where: str) -> dict[str, Service]:
    top_secrets = doc.get("secrets") or {}
    out = {}
    for name, svc in doc["services"].items():
        if not isinstance(svc, dict):
            raise InputFileError(f"{where}: service {name} is not a mapping")
        s_env = _service_env(name, svc, project_dir, env, where)
        ports: list[PortBinding] = []
        for p in svc.get("ports") or []:
            ports.extend(parse_ports(p, f"{where}: service {name}"))
        command = svc.get("command") or ()
        deploy = svc.get("deploy") or {}
        replicas = deploy.get("replicas") if isinstance(deploy, dict) else None
        aliases = []
        nets = svc.get("networks")
        if isinstance(nets, dict):
            for n in nets.values():
                if isinstance(n, dict):
                    aliases.extend(str(a) for a in n.get("aliases") or [])
        out[name] = Service(
            name=name, image=str(svc.get("image") or ""),
            base_images=_base_images(svc, project_dir, env),
            environment=s_env, ports=tuple(ports), command=_args(command),
            network_mode=str(svc.get("network_mode") or ""),
            replicas=_int(replicas if replicas is not None else svc.get("scale"), 1),
            secrets=_service_secrets(name, svc, top_secrets, project_dir, env, where),
            aliases=tuple(aliases + ([str(svc["container_name"])] if svc.get("container_name") else [])
                          + ([str(svc["hostname"])] if svc.get("hostname") else [])))
    return out


def _args(command: Any) -> tuple[str, ...]:
    if isinstance(command, list):
        return tuple(map(str, command))
    try:
        return tuple(shlex.split(str(command)))
    except ValueError:  # unbalanced quotes: Compose would refuse it too; words are good enough to look at
        return tuple(str(command).split())


def _option(args: Sequence[str], *names: str) -> str | None:
    """The value of `--name VALUE`, `--name=VALUE` or `-c name=VALUE` style options in a command."""
    for i, a in enumerate(args):
        for name in names:
            if a == name and i + 1 < len(args):
                return args[i + 1]
            if name.endswith("=") and a.startswith(name):
                return a[len(name):]
    return None


def _int(v: Any, default: int) -> int:
    try:
        return max(int(v), 0)
    except (TypeError, ValueError):
        return default


def _base_images(svc: dict, project_dir: Path, env: Mapping[str, str]) -> tuple[str, ...]:
    """The service's image, and for a built service the final stage's base from its Dockerfile (ARG defaults
    and build args resolved), so that `build: ./db` with `FROM postgres:15` is recognised."""
    images = [str(svc["image"])] if svc.get("image") else []
    build = svc.get("build")
    if build is None:
        return tuple(images)
    if isinstance(build, str):
        build = {"context": build}
    context = str(build.get("context") or ".")
    if "://" in context or context.startswith("git@"):
        return tuple(images)
    dockerfile = project_dir / context / str(build.get("dockerfile") or "Dockerfile")
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return tuple(images)
    args = _env_list(build.get("args"), env, "build args")
    base = final_base_image(text, args)
    return tuple(images + ([base] if base else []))


def final_base_image(dockerfile: str, build_args: Mapping[str, str] | None = None) -> str | None:
    """The image the final stage of a Dockerfile starts from, following stage names (FROM build AS …) and
    resolving ${ARG}s declared before the first FROM (their defaults, overridden by build_args)."""
    args: dict[str, str] = {}
    stages: dict[str, str] = {}
    last = None
    for line in _dockerfile_lines(dockerfile):
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and last is None:
            k, sep, v = rest.strip().partition("=")
            args[k.strip()] = (build_args or {}).get(k.strip(), v.strip().strip('"') if sep else "")
        elif word == "FROM":
            tokens = [t for t in rest.split() if not t.startswith("--")]
            if not tokens:
                continue
            image = interpolate(tokens[0], {**args, **(build_args or {})}, "Dockerfile")
            image = stages.get(image.lower(), image)
            if len(tokens) >= 3 and tokens[1].upper() == "AS":
                stages[tokens[2].lower()] = image
            last = image
    return last


def _dockerfile_lines(text: str) -> Iterable[str]:
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") and not buf:
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        yield (buf + line).strip()
        buf = ""


def _image_kind(image: str) -> str | None:
    """'postgres' / 'redis' / 'frontend' / 'spring' from an image reference's repository name, or None."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()
    if any(w in name for w in _NOT_A_SERVER):
        return None
    return next((kind for kind, words in _IMAGE_KINDS.items() if any(w in name for w in words)), None)


# ---------------------------------------------------------------------------------------------------------
# Recognising services


def _kinds(svc: Service) -> dict[str, str]:
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


def _published(svc: Service, target: int) -> tuple[list[str], str | None]:
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


def _secret_value(svc: Service, path: str) -> tuple[str | None, str]:
    if path in svc.secrets:
        return svc.secrets[path]
    return None, f"{path} is not one of service {svc.name}'s secrets"


def _from_env_or_file(svc: Service, names: Sequence[str]) -> tuple[str | None, str | None]:
    """The value of the first NAME set (or NAME_FILE, read through the service's secrets); (value, how)."""
    for name in names:
        if name in svc.environment:
            return svc.environment[name], f"variable {name}"
        file_var = f"{name}_FILE"
        if file_var in svc.environment:
            value, how = _secret_value(svc, svc.environment[file_var])
            return value, f"{file_var} → {how}"
    return None, None


def _configtree(svc: Service, prop: str) -> tuple[str | None, str | None]:
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


# ---------------------------------------------------------------------------------------------------------
# References from applications to services


@dataclass(frozen=True)
class _Ref:
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


def app_refs(app: Service) -> list[_Ref]:
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
            pw, how = _from_env_or_file(app, [f"{prefix}PASSWORD"])
            if pw is None and not how:
                pw, how = _configtree(app, prefix.lower().replace("_", ".") + "password")
        refs.append(_Ref(app.name, m.group("host") if m else value, _int(port, 0) or None, database or None,
                         user or None, pw, how))
    return refs


def _first(env: Mapping[str, str], prefix: str, suffixes: Sequence[str]) -> str | None:
    return next((env[prefix + s] for s in suffixes if env.get(prefix + s)), None)


def _referenced(candidates: list[Service], refs: list[_Ref]) -> list[Service]:
    names = {r.host for r in refs}
    return [s for s in candidates if s.name in names or names & set(s.aliases)]


def _refs_to(svc: Service, refs: list[_Ref]) -> list[_Ref]:
    return [r for r in refs if r.host == svc.name or r.host in svc.aliases]


# ---------------------------------------------------------------------------------------------------------
# One area each


def _choose(label: str, candidates: list[Service], refs: list[_Ref],
            all_names: Sequence[str]) -> tuple[Service | None, str | None]:
    if not candidates:
        return None, f"no service looks like {label} among {', '.join(all_names) or '(none)'}"
    if len(candidates) == 1:
        return candidates[0], None
    linked = _referenced(candidates, refs)
    if len(linked) == 1:
        return linked[0], None
    names = ", ".join(s.name for s in candidates)
    return None, f"several {label} services ({names}) and no application points at exactly one: choose with --service"


def _postgres(services: list[Service], kinds: dict[str, dict[str, str]], refs: list[_Ref],
              all_names: Sequence[str]) -> Missing | tuple[Found, dict[str, Any]]:
    cands = [s for s in services if "postgres" in kinds[s.name]]
    svc, why = _choose("PostgreSQL", cands, refs, all_names)
    if svc is None:
        return Missing("postgres", why or "")
    port = _pg_port(svc)
    addrs, why = _published(svc, port)
    if not addrs:
        return Missing("postgres", f"{why} (publish it, e.g. ports: [\"127.0.0.1:{port}:{port}\"], or pass --pg)")
    how = [f"recognised by {kinds[svc.name]['postgres']}; published on {addrs[0]}"]
    warnings = []
    user, _ = _from_env_or_file(svc, ["POSTGRES_USER", "POSTGRESQL_USERNAME"])
    password, pw_how = _from_env_or_file(svc, ["POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD"])
    database, _ = _from_env_or_file(svc, ["POSTGRES_DB", "POSTGRESQL_DATABASE"])
    app_refs = _refs_to(svc, refs)
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
    return _int(_option(args, "-p", "port=", "--port="), 0) or DEFAULT_PORTS["postgres"]


def _redis(services: list[Service], kinds: dict[str, dict[str, str]], refs: list[_Ref],
           all_names: Sequence[str]) -> Missing | tuple[Found, dict[str, Any]]:
    cands = [s for s in services if "redis" in kinds[s.name]]
    svc, why = _choose("Redis", cands, refs, all_names)
    if svc is None:
        return Missing("redis", why or "")
    port = _int(_option(svc.command, "--port"), 0) or DEFAULT_PORTS["redis"]
    addrs, why = _published(svc, port)
    if not addrs:
        return Missing("redis", f"{why} (publish it, e.g. ports: [\"127.0.0.1:{port}:{port}\"], or pass --redis)")
    how = [f"recognised by {kinds[svc.name]['redis']}; published on {addrs[0]}"]
    password, pw_how = _redis_password(svc, _refs_to(svc, refs))
    warnings = []
    if password is not None:
        how.append(f"password from {pw_how}")
    elif pw_how:
        warnings.append(pw_how)
    url = f"redis://{':' + quote(password, safe='') + '@' if password else ''}{addrs[0]}/0"
    return Found("redis", (svc.name,), redact_dsn(url), tuple(how), tuple(warnings)), {"url": url}


def _redis_password(svc: Service, refs: list[_Ref]) -> tuple[str | None, str | None]:
    if svc.environment.get("ALLOW_EMPTY_PASSWORD", "").lower() == "yes":
        return None, None
    pw, how = _from_env_or_file(svc, ["REDIS_PASSWORD"])
    if pw is not None or how:
        return pw, how
    pw = _option(svc.command, "--requirepass")
    if pw is not None and "$" not in pw:
        return pw, "--requirepass in the command"
    # A password the command reads from a secret, e.g. --requirepass "$(cat /run/secrets/NAME)".
    m = re.search(re.escape(SECRETS_DIR) + r"/([\w.-]+)", " ".join(svc.command))
    if m:
        return _secret_value(svc, f"{SECRETS_DIR}/{m.group(1)}")
    for r in refs:
        if r.password is not None:
            return r.password, f"{r.app}'s {r.password_how}"
    return None, None


def _actuator(services: list[Service], kinds: dict[str, dict[str, str]], all_names: Sequence[str],
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
        addrs, why = _published(s, port)
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
    server_port = _int(env.get("SERVER_PORT"), SPRING_DEFAULT_PORT) or SPRING_DEFAULT_PORT
    mgmt = env.get("MANAGEMENT_SERVER_PORT")
    base = "/" + env.get("MANAGEMENT_ENDPOINTS_WEB_BASEPATH", ACTUATOR_BASE_PATH).strip("/")
    if mgmt and _int(mgmt, 0) and _int(mgmt, 0) != server_port:
        prefix = env.get("MANAGEMENT_SERVER_BASEPATH", "").strip("/")
        return _int(mgmt, 0), (f"/{prefix}" if prefix else "") + base
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


def _frontend(services: list[Service], kinds: dict[str, dict[str, str]],
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
    addrs, why = _published(svc, port)
    if not addrs:
        return Missing("frontend", f"{why}; pass --frontend-url")
    url = f"http://{addrs[0]}/"
    return Found("frontend", (svc.name,), url, (f"recognised by {kinds[svc.name]['frontend']}; port {port}",)), \
        {"url": url}


# ---------------------------------------------------------------------------------------------------------
# Entry point


def discover(compose_file: str | Path, services: Sequence[str] = (), env_files: Sequence[str | Path] = (),
             profiles: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> Discovery:
    """Finds the PostgreSQL DSN, Redis URL, Actuator URLs and front-end URL of a compose project.

    services: restrict discovery to these (a named service is considered even when its profile is not
    enabled). env_files: like `docker compose --env-file` (default: .env beside the compose file). profiles:
    enabled profiles, added to COMPOSE_PROFILES. environ: the shell environment (default os.environ).
    Raises InputFileError / ConfigError (see the module docstring). Reads secret files; never logs them."""
    path = Path(compose_file)
    environ = dict(os.environ if environ is None else environ)
    doc, env = _load(path, [Path(f) for f in env_files], environ)
    where = f"compose file {path}"
    project_dir = path.resolve().parent
    all_services = _services(doc, project_dir, env, where)
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
    kinds = {s.name: _kinds(s) for s in all_services.values()}
    # Applications anywhere in the project may point at the database or Redis, even when not chosen.
    apps = [s for s in all_services.values() if s.name not in inactive or s.name in services]
    refs = [r for app in apps for r in app_refs(app)]
    results = [_postgres(chosen, kinds, refs, names),
               _redis(chosen, kinds, refs, names),
               _actuator(chosen, kinds, names, explicit=bool(services)),
               _frontend(chosen, kinds, names)]
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
