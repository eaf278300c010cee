"""A compose file loaded the way Compose reads it: env files, interpolation, and each service normalised
(environment over env_file, ports, command, replicas, secrets read from their files, the Dockerfile's base)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.compose_targets.interpolation import interpolate, interpolate_tree, parse_env_file
from advisor.compose_targets.ports import PortBinding, parse_ports
from advisor.errors import InputFileError

SECRETS_DIR = "/run/secrets"


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


def load_project(path: Path, env_files: Sequence[Path], environ: Mapping[str, str]) -> tuple[dict, dict[str, str]]:
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
    return interpolate_tree(raw, env, f"compose file {path}"), env


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


def load_services(doc: dict, project_dir: Path, env: Mapping[str, str], where: str) -> dict[str, Service]:
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
            replicas=to_int(replicas if replicas is not None else svc.get("scale"), 1),
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


def option_value(args: Sequence[str], *names: str) -> str | None:
    """The value of `--name VALUE`, `--name=VALUE` or `-c name=VALUE` style options in a command."""
    for i, a in enumerate(args):
        for name in names:
            if a == name and i + 1 < len(args):
                return args[i + 1]
            if name.endswith("=") and a.startswith(name):
                return a[len(name):]
    return None


def to_int(v: Any, default: int) -> int:
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
