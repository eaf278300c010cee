"""Fixtures for the Actuator tests.

`actuator_server`: a real HTTP server on loopback that answers with scrapes recorded from real Spring Boot
applications (tests/fixtures/actuator, see its README) — and, for faults a running application will not
produce on demand (401/403 from Spring Security, an HTML login page, a stalled answer), with the answer such
a fault gives. `sections`: snapshot sections recorded by the collector from the running sample stack.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "actuator"
#: Ports of these tests (31400-31599 belong to the Actuator tests).
SERVER_PORT = 31460

TEXT_004 = "text/plain;version=0.0.4;charset=utf-8"
OPENMETRICS = "application/openmetrics-text;version=1.0.0;charset=utf-8"
JSON_V3 = "application/vnd.spring-boot.actuator.v3+json"


@dataclass
class Answer:
    status: int = 200
    content_type: str = JSON_V3
    body: bytes = b""
    delay_s: float = 0.0


def recorded(app: str, name: str) -> bytes:
    return (FIXTURES / app / name).read_bytes()


def app_routes(app: str, base: str = "/actuator", openmetrics: bool = False) -> dict[str, Answer]:
    """Routes that answer as the recorded application did (prometheus, configprops, env where recorded;
    404 with Spring's JSON error for what was not exposed)."""
    d = FIXTURES / app
    routes: dict[str, Answer] = {}
    if openmetrics:
        routes[f"{base}/prometheus"] = Answer(200, OPENMETRICS, recorded(app, "openmetrics.txt"))
    else:
        routes[f"{base}/prometheus"] = Answer(200, TEXT_004, recorded(app, "prometheus.txt"))
    for name in ("configprops", "env", "metrics"):
        if (d / f"{name}.json").exists():
            routes[f"{base}/{name}"] = Answer(200, JSON_V3, recorded(app, f"{name}.json"))
    return routes


class _Handler(BaseHTTPRequestHandler):
    server_version = "recorded-actuator"

    def do_GET(self):  # noqa: N802 - http.server's name
        srv = self.server
        srv.requests.append({"path": self.path, "headers": dict(self.headers)})
        ans = srv.routes.get(self.path)
        if ans is None:
            ans = Answer(404, "application/json", json.dumps(
                {"timestamp": "2026-01-01T00:00:00.000+00:00", "status": 404, "error": "Not Found",
                 "path": self.path.split("?")[0]}).encode())
        if ans.delay_s:
            time.sleep(ans.delay_s)
        try:
            self.send_response(ans.status)
            self.send_header("Content-Type", ans.content_type)
            self.send_header("Content-Length", str(len(ans.body)))
            self.end_headers()
            self.wfile.write(ans.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):  # quiet
        pass


class RecordedActuator:
    """A loopback HTTP server; `routes` maps a path (with its query) to an Answer and can change any time."""

    def __init__(self, port: int) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.httpd.requests = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def routes(self) -> dict[str, Answer]:
        return self.httpd.routes

    @property
    def requests(self) -> list[dict]:
        return self.httpd.requests

    def serve(self, routes: dict[str, Answer]) -> None:
        self.httpd.routes = dict(routes)
        self.httpd.requests = []

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def _server():
    srv = RecordedActuator(SERVER_PORT)
    yield srv
    srv.close()


@pytest.fixture
def actuator_server(_server):
    _server.serve({})
    yield _server
    _server.serve({})


@pytest.fixture(scope="session")
def sections():
    """name → the recorded {"actuator": section, "postgres_activity": {...}} (shop-sections/*.json)."""
    return {p.stem: json.loads(p.read_text()) for p in (FIXTURES / "shop-sections").glob("*.json")}
