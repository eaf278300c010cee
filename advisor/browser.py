"""Headless Chromium driven over the Chrome DevTools Protocol (https://chromedevtools.github.io/devtools-protocol/),
through websocket-client: one browser with its own empty profile, one page, commands and the events they cause.

Safe by default: the host resolver answers only for loopback and the hosts the caller allows (every other name
and IP address fails as ERR_NAME_NOT_RESOLVED, so a page cannot reach a third party), and Chromium's own
background traffic (updates, sync, QUIC probes, first-run pages) is off.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable

import websocket

from advisor.errors import TargetError

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--no-default-browser-check")

#: Hosts Chromium may always reach: the loopback interface.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")

#: Seconds Chromium gets to open its DevTools endpoint (a cold start on two busy cores takes 2-5 s).
START_TIMEOUT_S = 30.0

Listener = Callable[[str, dict], None]


def chromium_binary() -> str | None:
    """The path of chromium (Debian), chromium-browser or google-chrome on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def resolver_rules(allow_hosts: Iterable[str] = ()) -> str:
    """The --host-resolver-rules value that leaves only loopback and allow_hosts resolvable.

    The rules apply to IP literals too (checked on Chromium 156), so `http://203.0.113.9/` fails like a name.
    """
    hosts = dict.fromkeys([*LOOPBACK_HOSTS, *(h for h in allow_hosts if h)])
    return ", ".join(["MAP * ~NOTFOUND", *(f"EXCLUDE {h}" for h in hosts)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One headless Chromium with its own empty profile and one page; close() ends it and removes the profile.

    call(method, **params) sends a DevTools command and returns its result; every event that arrives meanwhile
    (or during pump()) goes to each function in `listeners` as (method, params). Raises TargetError when
    Chromium does not start and RuntimeError when a command fails.
    """

    def __init__(self, binary: str, allow_hosts: Iterable[str] = (), domains: Iterable[str] = ("Page",)) -> None:
        self.listeners: list[Listener] = []
        self.profile = tempfile.mkdtemp(prefix="perfadvisor-chromium-")
        self.port = _free_port()
        self.ws = None
        self.proc = subprocess.Popen([binary, *FLAGS, f"--host-resolver-rules={resolver_rules(allow_hosts)}",
                                      f"--user-data-dir={self.profile}", f"--remote-debugging-port={self.port}",
                                      "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self.ws = websocket.create_connection(self._page_ws_url(), timeout=30, suppress_origin=True)
        except (OSError, websocket.WebSocketException) as e:
            self.close()
            raise TargetError(f"{binary}: headless Chromium did not open its DevTools endpoint ({e})") from None
        self._id = 0
        for domain in domains:
            self.call(f"{domain}.enable")

    def _page_ws_url(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            time.sleep(0.2)
        raise OSError(f"exited with {self.proc.returncode}" if self.proc.poll() is not None
                      else f"no page within {START_TIMEOUT_S:.0f} s")

    def call(self, method: str, timeout_s: float = 30.0, **params) -> dict:
        """Sends one command and waits for its answer; events received meanwhile go to the listeners.

        Raises TimeoutError when no answer comes within timeout_s (Page.navigate answers only once the
        server has responded), RuntimeError when the command fails.
        """
        self._id += 1
        msg_id = self._id
        deadline = time.monotonic() + timeout_s
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            self.ws.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise TimeoutError(f"{method}: no answer within {timeout_s:g} s") from None
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._dispatch(msg)

    def pump(self, until: Callable[[], bool], deadline: float, poll_s: float = 0.1) -> bool:
        """Delivers events to the listeners until until() is true (returns True) or time.monotonic() passes
        deadline (returns False). until() is also asked every poll_s seconds when no event arrives."""
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.ws.settimeout(min(poll_s, left))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            self._dispatch(msg)
        return True

    def _dispatch(self, msg: dict) -> None:
        if "method" in msg:
            for listener in self.listeners:
                listener(msg["method"], msg.get("params", {}))

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression in the page (None when it has none)."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return res.get("result", {}).get("value")

    def version(self) -> str:
        """The browser's product string, e.g. 'Chrome/156.0.8078.114' (the new headless mode's)."""
        return self.call("Browser.getVersion").get("product", "")

    def close(self) -> None:
        try:
            if self.ws is not None:
                self.ws.close()
        finally:
            # Chromium's helpers (zygote, renderer) share its process group: end them all.
            for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(wait_s)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
            self.proc.poll()  # reap it if the group was gone before a wait
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
