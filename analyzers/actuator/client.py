"""HTTP GETs against one Actuator, read-only, with a timeout, and every failure as one line.

The URL shown in messages never holds a password (advisor.config.redact_dsn turns ``user:pw@`` into
``user:***@``) and the auth header is never shown, logged or stored: it lives only in the Endpoint object
while collecting.

Failures (all TargetError, message ``Actuator URL: what happened; the fix``):

- 404: the endpoint is not exposed (NotExposed; the fix names management.endpoints.web.exposure.include);
- 401/403: the auth header is missing or refused (AuthRefused);
- a timeout, a refused connection, a name that does not resolve, any other HTTP status;
- an HTML page where JSON or metrics were expected (a login page or a proxy's error page).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from advisor.config import redact_dsn
from advisor.errors import ConfigError, TargetError
from analyzers.actuator.exposition import looks_like_html

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_BASE_PATH = "/actuator"
#: Most bytes read from one response (a scrape of a large app is a few MB).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Endpoint id → what to add to management.endpoints.web.exposure.include (and any other prerequisite).
EXPOSE_HINT = {
    "prometheus": "add prometheus to management.endpoints.web.exposure.include (and depend on "
                  "io.micrometer:micrometer-registry-prometheus)",
    "metrics": "add metrics to management.endpoints.web.exposure.include",
    "configprops": "add configprops to management.endpoints.web.exposure.include",
    "env": "add env to management.endpoints.web.exposure.include",
}


class NotExposed(TargetError):
    """The endpoint answered 404: it is not exposed (or the base path is wrong)."""


class AuthRefused(TargetError):
    """401/403: the auth header is missing or was refused."""


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Endpoint:
    """One Actuator: `base` is the URL up to and including the base path (``http://h:8081/actuator``), without
    user info; `display` the same for messages (user, never a password); headers hold the auth header."""

    base: str
    display: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_auth(self) -> bool:
        return bool(self.headers)


def parse_auth_header(text: str | None) -> dict[str, str]:
    """``"Authorization: Bearer xyz"`` → {"Authorization": "Bearer xyz"}. Raises ConfigError (without the
    value) for text that is not ``Name: value``."""
    if not text:
        return {}
    name, sep, value = str(text).partition(":")
    if not sep or not name.strip() or not value.strip() or any(c in name for c in " \t\r\n"):
        raise ConfigError("[targets.actuator] auth_header must be 'Header-Name: value', e.g. "
                          "'Authorization: Bearer …' (the value is not shown)")
    if any(c in value for c in "\r\n"):
        raise ConfigError("[targets.actuator] auth_header must be one line (the value is not shown)")
    return {name.strip(): value.strip()}


def endpoint(url: str, base_path: str = DEFAULT_BASE_PATH, management_port: int | None = None,
             timeout_s: float = DEFAULT_TIMEOUT_S, auth_header: str | None = None) -> Endpoint:
    """The Endpoint of `url`: an application URL (``http://h:8080``, then base_path is appended), or an
    Actuator URL that already ends in base_path. `management_port` replaces the URL's port. User info in the
    URL (``http://user:pw@h``) becomes HTTP basic authentication unless an auth header is given.

    Raises ConfigError for a URL that is not http(s)://HOST[:PORT][/path], a bad port or a bad auth header.
    """
    shown = redact_dsn(str(url))
    parts = urlsplit(str(url).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Actuator URL {shown}: expected http(s)://HOST:PORT[/actuator]")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"Actuator URL {shown}: invalid port") from None
    if management_port is not None:
        if isinstance(management_port, bool) or not isinstance(management_port, int) \
                or not 0 < management_port < 65536:
            raise ConfigError(f"[targets.actuator] management_port {management_port!r}: expected a port number")
        port = management_port
    headers = parse_auth_header(auth_header)
    if parts.username is not None and not headers:
        raw = f"{parts.username}:{parts.password or ''}"
        from urllib.parse import unquote
        raw = unquote(raw)
        headers = {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host + (f":{port}" if port else "")
    bp = "/" + (base_path or "").strip("/") if (base_path or "").strip("/") else ""
    path = parts.path.rstrip("/")
    if not path or (bp and not path.endswith(bp)):
        path = path + bp
    base = urlunsplit((parts.scheme, netloc, path, "", ""))
    user = (parts.username + (":***" if parts.password else "") + "@") if parts.username else ""
    display = urlunsplit((parts.scheme, user + netloc, path, "", ""))
    return Endpoint(base=base, display=display, timeout_s=float(timeout_s), headers=headers)


def get(ep: Endpoint, path: str, accept: str = "*/*", expect: str = "json") -> Response:
    """GET base + path. `expect` is "json" or "metrics": an HTML page instead is an error. Raises the
    TargetError subclasses of the module docstring."""
    url = ep.base + path
    where = f"Actuator {ep.display}{path}"
    req = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "perfadvisor", **ep.headers})
    endpoint_id = path.strip("/").split("/")[0].split("?")[0]
    try:
        with _opener().open(req, timeout=ep.timeout_s) as r:
            body = r.read(MAX_BODY_BYTES)
            ctype = r.headers.get("Content-Type", "")
            status = r.status
    except urllib.error.HTTPError as e:
        raise _http_error(e.code, where, endpoint_id, ep) from None
    except TimeoutError:
        raise TargetError(f"{where}: no answer within {ep.timeout_s:g} s (raise [targets.actuator] "
                          "timeout_s, or check that the application is not stuck)") from None
    except urllib.error.URLError as e:
        raise TargetError(f"{where}: {_reason(e.reason, ep)}") from None
    except (ConnectionError, OSError) as e:
        raise TargetError(f"{where}: {_reason(e, ep)}") from None
    except http.client.HTTPException as e:  # a cut-off or malformed answer (IncompleteRead, BadStatusLine…)
        raise TargetError(f"{where}: the answer was cut off or malformed ({type(e).__name__}; did the "
                          "application stop?)") from None
    if "html" in ctype.lower() or looks_like_html(body):
        raise TargetError(f"{where}: answered with an HTML page, not {expect} (a login page or a proxy? "
                          "check the URL, base_path and management_port)")
    return Response(status, ctype, body)


def get_json(ep: Endpoint, path: str) -> Any:
    """GET and decode JSON. TargetError for a body that is not JSON."""
    r = get(ep, path, accept="application/json", expect="JSON")
    try:
        return json.loads(r.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TargetError(f"Actuator {ep.display}{path}: the answer is not JSON "
                          f"(Content-Type {r.content_type or 'missing'})") from None


def metric_path(name: str, tags: dict[str, str] | None = None) -> str:
    """``/metrics/{name}?tag=k:v&tag=…`` with each part URL-encoded."""
    query = "&".join("tag=" + quote(f"{k}:{v}", safe=":") for k, v in sorted((tags or {}).items()))
    return f"/metrics/{quote(name, safe='.')}" + (f"?{query}" if query else "")


def _opener() -> urllib.request.OpenerDirector:
    # Redirects are followed (a login redirect then shows up as HTML); proxies come from the environment.
    return urllib.request.build_opener()


def _http_error(code: int, where: str, endpoint_id: str, ep: Endpoint) -> TargetError:
    if code == 404:
        hint = EXPOSE_HINT.get(endpoint_id, "check the URL and base_path")
        return NotExposed(f"{where}: answered 404, the endpoint is not exposed; {hint}")
    if code in (401, 403):
        if ep.has_auth:
            return AuthRefused(f"{where}: answered {code}, the auth header was refused (the header is not "
                               "shown; check [targets.actuator] auth_header or $PERFADVISOR_ACTUATOR_AUTH_HEADER)")
        return AuthRefused(f"{where}: answered {code}, authentication is required; set [targets.actuator] "
                           "auth_header or $PERFADVISOR_ACTUATOR_AUTH_HEADER (e.g. 'Authorization: Bearer …')")
    return TargetError(f"{where}: answered HTTP {code}")


def _reason(reason: Any, ep: Endpoint) -> str:
    host = urlsplit(ep.base).netloc
    if isinstance(reason, TimeoutError):
        return (f"no answer within {ep.timeout_s:g} s (raise [targets.actuator] timeout_s, or check that the "
                "application is not stuck)")
    if isinstance(reason, ConnectionRefusedError):
        return (f"connection refused: nothing listens on {host} (is the application running? is Actuator on "
                "another port: management.server.port / --management-port?)")
    if isinstance(reason, http.client.RemoteDisconnected | ConnectionResetError):
        return f"{host} closed the connection without an answer (did the application stop?)"
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve the host of {host} ({reason.strerror})"
    text = getattr(reason, "strerror", None) or str(reason)
    return f"cannot connect ({redact_dsn(text)})"
