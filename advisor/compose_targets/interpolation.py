"""Compose's variable interpolation and env files (dotenv syntax), as Compose reads them
(https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from advisor.errors import ConfigError, InputFileError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
            m = NAME.match(text, j + 1)
            if m:
                out.append(env.get(m.group(0), ""))
                i = m.end()
            else:  # a lone $ is kept, as Compose does
                out.append("$")
                i = j + 1
    return "".join(out)


def _braced(text: str, start: int, env: Mapping[str, str], where: str) -> tuple[str, int]:
    """Parses ${NAME[op arg]} from just after `${`; returns the substituted text and the index after `}`."""
    m = NAME.match(text, start)
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
        if not sep or not NAME.fullmatch(key):
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


def interpolate_tree(node: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, where)
    if isinstance(node, list):
        return [interpolate_tree(v, env, where) for v in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env, where) for k, v in node.items()}
    return node
