"""Environment files: the `KEY=VALUE` format `docker compose --env-file` and systemd's `EnvironmentFile=` read.

perfadvisor writes spring.env in this format (`perfadvisor apply`) and reads it back to restart a service with it
(`perfadvisor demo reload`). The reader accepts what both consumers read the same way, and rejects with the
file and line named what they would read differently:

- one `KEY=VALUE` per line; blank lines and lines starting with `#` (or `;`, systemd) are skipped;
  whitespace around the key and the value is dropped;
- KEY: letters, digits, `_`, `.` and `-`, not starting with a digit;
- VALUE: as written, or in single quotes (taken literally) or double quotes (`\\"`, `\\\\`, `\\$`, `\\n`, `\\t`
  unescaped), followed by nothing but an optional `# comment`;
- the last of two lines with the same key wins (both consumers do this).

Rejected: a line without `=`, an empty or malformed key, an unterminated quote, text after a closing quote,
an unquoted value containing ` #` (Compose reads a comment there, systemd part of the value), `export KEY=…`
(a shell form systemd does not read) and a trailing backslash (systemd continues the line, Compose does not).
`${VAR}` is never expanded (systemd does not; quote it with single quotes for Compose).

Sources: Docker docs, "Set environment variables … Use the env_file attribute / .env file syntax";
systemd.exec(5), EnvironmentFile=.
"""

from __future__ import annotations

import re
from pathlib import Path

from advisor.errors import InputFileError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ESCAPES = {'"': '"', "\\": "\\", "$": "$", "n": "\n", "t": "\t"}


def parse_env_file(path: str | Path) -> dict[str, str]:
    """{KEY: VALUE} of an env file, in file order (the last value of a repeated key). Raises InputFileError
    naming the file (and line: `spring.env:3`) when it cannot be read or a line is malformed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise InputFileError(f"env file {p}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise InputFileError(f"env file {p}: not UTF-8 text") from None
    return parse_env_text(text, str(p))


def parse_env_text(text: str, name: str = "env file") -> dict[str, str]:
    """parse_env_file on a string; `name` is used in error messages."""
    out: dict[str, str] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        try:
            key, value = _parse_line(line)
        except ValueError as e:
            raise InputFileError(f"{name}:{no}: {e} (expected KEY=VALUE)") from None
        out.pop(key, None)  # a repeated key moves to where it was last set
        out[key] = value
    return out


def _parse_line(line: str) -> tuple[str, str]:
    if line.startswith("export ") or line.startswith("export\t"):
        raise ValueError("`export` is a shell form systemd's EnvironmentFile does not read; remove it")
    if "=" not in line:
        raise ValueError(f"no '=' in {_shown(line)}")
    key, _, rest = line.partition("=")
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise ValueError(f"{_shown(key) if key else 'an empty name'} is not a variable name "
                         "(letters, digits, _ . -; not starting with a digit)")
    rest = rest.strip()
    if rest[:1] in ("'", '"'):
        value, after = _quoted(rest)
        after = after.strip()
        if after and not after.startswith("#"):
            raise ValueError(f"text after the closing quote of {key}: {_shown(after)}")
        return key, value
    if rest.endswith("\\"):
        raise ValueError(f"the value of {key} ends with a backslash (systemd joins the next line, Compose does "
                         "not); quote the value")
    if re.search(r"\s#", rest):
        raise ValueError(f"the value of {key} contains ' #' (Docker Compose reads a comment there, systemd part "
                         "of the value); quote the value")
    return key, rest


def _quoted(rest: str) -> tuple[str, str]:
    """(value, what follows the closing quote) of a value starting with a quote character."""
    quote, out, i = rest[0], [], 1
    while i < len(rest):
        ch = rest[i]
        if ch == quote:
            return "".join(out), rest[i + 1:]
        if ch == "\\" and quote == '"' and i + 1 < len(rest):
            nxt = rest[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ValueError(f"unterminated {quote} quote in {_shown(rest)}")


def format_env_line(key: str, value: str) -> str:
    """One `KEY=VALUE` line that parse_env_text reads back as (key, value): plain when the value is safe
    unquoted, else double-quoted with escapes. Raises ValueError for a key that is not a variable name or a
    value with a line break (which no env-file consumer reads the same way)."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"{key!r} is not a variable name")
    if len((value + "x").splitlines()) != 1:
        raise ValueError(f"the value of {key} spans lines")
    plain = (value == value.strip() and value[:1] not in ("'", '"') and not value.endswith("\\")
             and not re.search(r"\s#", value) and "$" not in value)
    if plain:
        return f"{key}={value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\t", "\\t")
    return f'{key}="{escaped}"'


def _shown(s: str, limit: int = 60) -> str:
    return repr(s if len(s) <= limit else s[:limit - 1] + "…")
