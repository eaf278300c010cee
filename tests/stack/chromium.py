"""A page as a user sees it, for the stack and report tests: advisor.browser's headless Chromium, plus what
its console and network reported while the page rendered, its visible text and a probe's value."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from advisor import browser
from advisor.browser import chromium_binary

__all__ = ["Browser", "PageResult", "chromium_binary"]


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


class Browser(browser.Browser):
    """advisor.browser.Browser that records console errors, exceptions and error log entries per open()."""

    def __init__(self, binary: str) -> None:
        super().__init__(binary, domains=("Runtime", "Log", "Page"))
        self.result = PageResult()
        self._loaded = False
        self.listeners.append(self._event)

    def _event(self, method: str, p: dict) -> None:
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
            if self._loaded and self.evaluate(f"Boolean({ready_js})") is True:
                break
            self.pump(lambda: False, min(deadline, time.monotonic() + 0.2))
        else:
            raise TimeoutError(f"{url}: {ready_js} not true within {timeout_s} s; errors {self.result.errors}")
        # late console errors (a failed fetch after render)
        self.pump(lambda: False, time.monotonic() + 1.0)
        self.result.text = self.evaluate("document.body.innerText") or ""
        if probe_js:
            self.result.probe = self.evaluate(probe_js)
        return self.result
