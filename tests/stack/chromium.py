"""Headless Chromium driven over the DevTools protocol (websocket-client), to load a page as a user would
and collect what its console and network reported. Only loopback URLs; the flags keep Chromium from
reaching out (this machine has no network beyond the package registries)."""

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
from dataclasses import dataclass, field

import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--no-default-browser-check"]


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass
class PageResult:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    text: str = ""
    probe: object = None

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.exceptions + self.log_errors


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One headless Chromium with its own empty profile; close() ends it and removes the profile."""

    def __init__(self, binary: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="perfadvisor-chromium-")
        self.port = _free_port()
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--remote-debugging-port={self.port}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    self.ws_url = pages[0]["webSocketDebuggerUrl"]
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("headless Chromium did not start its DevTools endpoint")
            time.sleep(0.2)
        self.ws = websocket.create_connection(self.ws_url, timeout=30, suppress_origin=True)
        self._id = 0
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(method)

    def call(self, method: str, **params) -> dict:
        self._id += 1
        msg_id = self._id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg: dict) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.result.console_errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                                       for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.result.exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.result.log_errors.append(f"{e.get('text')} {e.get('url', '')}".strip())
        elif method == "Page.loadEventFired":
            self._loaded = True

    def open(self, url: str, ready_js: str, timeout_s: float = 20.0, probe_js: str | None = None) -> PageResult:
        """Loads url, waits for the load event and until ready_js is truthy, then for late errors.

        Returns what the console and network reported, the page's visible text and probe_js's value.
        """
        self.result = PageResult()
        self._loaded = False
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.call("Runtime.evaluate", expression=f"Boolean({ready_js})", returnByValue=True)
            if self._loaded and value.get("result", {}).get("value") is True:
                break
            time.sleep(0.2)
        else:
            raise TimeoutError(f"{url}: {ready_js} not true within {timeout_s} s; errors {self.result.errors}")
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:  # late console errors (a failed fetch after render)
            self.call("Runtime.evaluate", expression="1")
            time.sleep(0.1)
        text = self.call("Runtime.evaluate", expression="document.body.innerText", returnByValue=True)
        self.result.text = text.get("result", {}).get("value", "")
        if probe_js:
            self.result.probe = self.call("Runtime.evaluate", expression=probe_js,
                                          returnByValue=True).get("result", {}).get("value")
        return self.result

    def close(self) -> None:
        try:
            if getattr(self, "ws", None):
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
            shutil.rmtree(self.profile, ignore_errors=True)
