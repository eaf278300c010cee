"""The Redis target: its URL, a redis-py client, and one-line errors for everything a user can get wrong.

URL forms (redis-py's, https://redis.readthedocs.io/en/stable/connections.html#redis.Redis.from_url)::

    redis://[[user]:password@]host[:port][/db]
    rediss://…                        TLS; the server's certificate is verified against the system CAs unless
                                      ?ssl_ca_certs=/path/ca.pem (or ?ssl_cert_reqs=none) says otherwise

The password is never shown: every message and the snapshot carry the URL through advisor.config.redact_dsn,
and any text from the server or the client library is scrubbed of the password before it is kept.
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from advisor.config import redact_dsn
from advisor.errors import ConfigError, TargetError

#: Default for target option `timeout_s`: connect and per-command socket timeout (s). Long enough for INFO on
#: a busy server, short enough that a hung server ends the run quickly.
DEFAULT_TIMEOUT_S = 5.0
#: URL query options passed on to redis-py (TLS settings); anything else is a ConfigError (a typo would
#: otherwise be silently ignored).
TLS_QUERY_OPTIONS = ("ssl_ca_certs", "ssl_cert_reqs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname")

#: The ACL rule a user needs for each command perfadvisor runs (https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/).
ACL_RULES = {
    "INFO": "+info", "CONFIG GET": "+config|get", "DBSIZE": "+dbsize", "SCAN": "+scan", "TYPE": "+type",
    "PTTL": "+pttl", "MEMORY USAGE": "+memory|usage", "HLEN": "+hlen", "LLEN": "+llen", "SCARD": "+scard",
    "ZCARD": "+zcard", "XLEN": "+xlen",
}


@dataclass(frozen=True)
class RedisTarget:
    """A parsed, validated target. `shown` is the URL with its password as *** (safe to print)."""

    url: str
    shown: str
    host: str
    port: int
    db: int
    tls: bool
    username: str | None
    password: str | None
    timeout_s: float

    def scrub(self, text: str) -> str:
        """`text` with the password (and its URL-encoded form) replaced by ***."""
        text = " ".join(str(text).split())
        for secret in {self.password, _raw_password(self.url)} - {None, ""}:
            text = text.replace(secret, "***")
        return text


def _raw_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def parse_target(url: Any, timeout_s: Any = None) -> RedisTarget:
    """Validate a Redis URL. Raises ConfigError naming the URL (password hidden) and what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("redis URL: empty; expected redis://[user:password@]host:port/db or rediss://…")
    url = url.strip()
    shown = redact_dsn(url)
    where = f"redis URL {shown}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"{where}: {e} (expected redis://[user:password@]host:port/db)") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(f"{where}: the scheme must be redis:// or rediss:// (TLS)")
    if not parts.hostname:
        raise ConfigError(f"{where}: no host (expected redis://host:port/db)")
    path = parts.path.strip("/")
    if path and not re.fullmatch(r"[0-9]{1,9}", path):
        raise ConfigError(f"{where}: the path must be a database number such as /0, not /{path}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    db_text = path or query.pop("db", "") or "0"
    if not re.fullmatch(r"[0-9]{1,9}", db_text):
        raise ConfigError(f"{where}: db {db_text!r} must be a whole number")
    db = int(db_text)
    unknown = sorted(set(query) - set(TLS_QUERY_OPTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)} (known: {', '.join(TLS_QUERY_OPTIONS)})")
    if query and parts.scheme != "rediss":
        raise ConfigError(f"{where}: {', '.join(sorted(query))} only apply to rediss:// (TLS) URLs")
    return RedisTarget(url=url, shown=shown, host=parts.hostname, port=port or 6379, db=db,
                       tls=parts.scheme == "rediss", username=unquote(parts.username) if parts.username else None,
                       password=unquote(parts.password) if parts.password else None,
                       timeout_s=parse_timeout(timeout_s, where))


def parse_timeout(value: Any, where: str) -> float:
    if value is None or value == "":
        return DEFAULT_TIMEOUT_S
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: timeout_s {value!r} is not a number of seconds") from None
    if not t > 0 or t != t or t == float("inf"):
        raise ConfigError(f"{where}: timeout_s {value!r} must be a positive number of seconds")
    return t


def client(target: RedisTarget):
    """A redis-py client (RESP2, bytes replies, no automatic retries: a failure is reported, not hidden).
    INFO replies stay raw text so that analyzers.redis.info parses them. Connecting is lazy."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    kwargs: dict[str, Any] = {"protocol": 2, "socket_timeout": target.timeout_s,
                              "socket_connect_timeout": target.timeout_s, "retry": Retry(NoBackoff(), 0)}
    if target.tls:
        query = dict(parse_qsl(urlsplit(target.url).query))
        if query.get("ssl_cert_reqs", "").lower() == "none" and "ssl_check_hostname" not in query:
            # Python's ssl refuses CERT_NONE together with hostname checking.
            kwargs["ssl_check_hostname"] = False
    c = redis.Redis.from_url(target.url, **kwargs)
    c.set_response_callback("INFO", lambda response, **_: response)
    return c


_PERM_CMD = re.compile(r"permissions? to run the '([^']+)' command")


def acl_rule_from_error(message: str, command: str) -> str:
    """The ACL rule a NOPERM message asks for: "+config|get" from "…no permissions to run the 'config|get'
    command"; the rule of `command` (ACL_RULES) when the message names none."""
    m = _PERM_CMD.search(message)
    if m:
        return "+" + m.group(1).lower()
    return ACL_RULES.get(command, "+" + command.lower().replace(" ", "|"))


def not_permitted(capability: str, command: str, error: BaseException | str, target: RedisTarget) -> dict[str, Any]:
    """The snapshot's record of a capability the server refused: {"capability", "command", "acl_rule",
    "reason", "message"}. `reason` is "acl" (NOPERM), "unknown command" (renamed or disabled with
    rename-command) or "error"."""
    message = target.scrub(str(error))
    low = message.lower()
    if "no permissions" in low or "noperm" in low:
        reason, rule = "acl", acl_rule_from_error(message, command)
    elif "unknown command" in low:
        reason, rule = "unknown command", None
    else:
        reason, rule = "error", None
    return {"capability": capability, "command": command, "acl_rule": rule, "reason": reason,
            "message": message[:300]}


def describe_not_permitted(entry: dict[str, Any]) -> str:
    """One line for the user, e.g. "CONFIG GET not permitted (add the ACL rule +config|get): …"."""
    if entry.get("reason") == "acl":
        return (f"{entry['command']} not permitted for this user, so {entry['capability']} is missing "
                f"(add the ACL rule {entry['acl_rule']})")
    if entry.get("reason") == "unknown command":
        return (f"{entry['command']} is unknown to the server (renamed or disabled with rename-command), so "
                f"{entry['capability']} is missing")
    return f"{entry['command']} failed ({entry['message']}), so {entry['capability']} is missing"


def is_not_permitted(e: BaseException) -> bool:
    """A reply that refuses one command (ACL NOPERM, or a command renamed away) rather than the connection."""
    import redis

    if isinstance(e, redis.exceptions.NoPermissionError):
        return True
    return isinstance(e, redis.exceptions.ResponseError) and (
        "unknown command" in str(e).lower() or "no permissions" in str(e).lower())


def target_error(e: BaseException, target: RedisTarget) -> TargetError:
    """A one-line TargetError for a failure talking to the server: refused, authentication, TLS, timeout,
    lost connection. Names the URL (password hidden) and the fix where known."""
    import redis

    where = f"redis {target.shown}"
    msg = target.scrub(str(e))
    low = msg.lower()
    addr = f"{target.host}:{target.port}"
    if isinstance(e, redis.exceptions.AuthenticationError) or "noauth" in low or "wrongpass" in low:
        if "called without any password configured" in low:
            return TargetError(f"{where}: a password was given but the server has none configured for this "
                               "user — remove it from the URL or check the port")
        if "authentication required" in low or "noauth" in low:
            return TargetError(f"{where}: authentication required — put the password in the URL "
                               "(redis://:PASSWORD@host:port/db or redis://USER:PASSWORD@host:port/db)")
        return TargetError(f"{where}: authentication refused (wrong user or password, or the user is "
                           "disabled) — put the right password in the URL")
    if isinstance(e, ssl.SSLError) or "ssl" in low or "certificate" in low or "tls" in low:
        hint = ("give the server's CA with ?ssl_ca_certs=/path/ca.pem in the URL (or ?ssl_cert_reqs=none to skip "
                "verification)" if "verify" in low or "certificate" in low else
                "is TLS enabled on that port (tls-port), and is it the TLS port?")
        return TargetError(f"{where}: TLS failed ({msg}) — {hint}")
    if isinstance(e, redis.exceptions.TimeoutError | socket.timeout | TimeoutError):
        return TargetError(f"{where}: no answer within {target.timeout_s:g} s (timeout_s) — is the server "
                           "busy or paused? raise [targets.redis] timeout_s if it is just slow")
    if "connection refused" in low:
        return TargetError(f"{where}: connection refused — is redis-server running on {addr}?")
    if "name or service not known" in low or "nodename nor servname" in low or "temporary failure in name" in low:
        return TargetError(f"{where}: host {target.host!r} not found")
    if isinstance(e, redis.exceptions.BusyLoadingError):
        return TargetError(f"{where}: the server is loading its dataset into memory; try again when it is done")
    if isinstance(e, redis.exceptions.ConnectionError | ConnectionError | OSError):
        if "closed by server" in low or "reset by peer" in low or "broken pipe" in low or "eof" in low:
            return TargetError(f"{where}: the server closed the connection ({msg})")
        return TargetError(f"{where}: connection failed ({msg})")
    if isinstance(e, redis.exceptions.ResponseError):
        return TargetError(f"{where}: the server answered with an error: {msg}")
    return TargetError(f"{where}: {type(e).__name__}: {msg}")
