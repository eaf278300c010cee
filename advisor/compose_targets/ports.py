"""A service's `ports`: short syntax ("127.0.0.1:15432:5432", ranges, "[::1]:80:80/tcp") and long syntax
({target, published, host_ip, protocol}), per the Compose specification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advisor.errors import InputFileError


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
