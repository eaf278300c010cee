"""A real HTTP server on loopback whose latency the test sets: each route answers after a delay drawn from a
log-normal distribution (median and spread given per route) and fails a given share of its requests with 500.
The routes can be changed while it runs, so a test can shift one endpoint's latency between two load runs."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Route:
    median_ms: float
    sigma: float = 0.25  # log-normal shape: 0.25 gives p95 ≈ 1.5 × median
    error_share: float = 0.0

    def delay_s(self, rng: random.Random) -> float:
        return self.median_ms / 1000.0 * math.exp(rng.gauss(0.0, self.sigma))


class DelayServer:
    def __init__(self, port: int, routes: dict[str, Route], admin: dict | None = None) -> None:
        """admin: {path: callable()} answered at once with 204 (a test's restart command calls them)."""
        self.routes = dict(routes)
        self.admin = dict(admin or {})
        self.count = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = urlsplit(self.path).path
                if path in server.admin:
                    server.admin[path]()
                    self._answer(204, b"")
                    return
                route = server.routes.get(path)
                rng = random.Random()
                with server._lock:
                    server.count += 1
                if route is None:
                    self._answer(404, b"no such route")
                    return
                time.sleep(route.delay_s(rng))
                if rng.random() < route.error_share:
                    self._answer(500, b"planted failure")
                else:
                    self._answer(200, b'{"ok": true}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that hung up (Locust stops its users mid-request): not the test's concern

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 512
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> DelayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def set_route(self, path: str, route: Route) -> None:
        self.routes = {**self.routes, path: route}
