"""A page's first load as a user's browser does it: headless Chromium (advisor.browser), measured through the
DevTools Network and Page domains, first view (empty cache) and repeat view (the same profile, navigated again),
the way WebPageTest reports the two (https://docs.webpagetest.org/getting-started/#first-view-and-repeat-view).

measure() gives a before or an after; compare_loads() sets two of them side by side for `perfadvisor validate`
(the effect of an nginx snippet: gzip shrinks the first view, `Cache-Control: immutable` empties the repeat view).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from advisor.browser import Browser, chromium_binary
from advisor.config import redact_dsn
from advisor.errors import ConfigError, TargetError

#: Seconds without network activity after the load event before a view counts as finished (late fetches
#: of lazy chunks and data still count). Lighthouse waits for a 5 s quiet window on real networks; on
#: loopback a request answers in milliseconds, so half a second is ample.
NETWORK_QUIET_S = 0.5

#: The metrics compare_loads() sets side by side: (view, field, unit).
COMPARED = (("first_view", "transferred_bytes", "bytes"), ("first_view", "load_ms", "ms"),
            ("repeat_view", "transferred_bytes", "bytes"), ("repeat_view", "load_ms", "ms"))

VIEW_METRICS = ("transferred_bytes", "decoded_bytes", "request_count", "dom_content_loaded_ms", "load_ms")

# Navigation Timing Level 2 (https://www.w3.org/TR/navigation-timing-2/): times in ms from the navigation's
# startTime (0), i.e. from navigation start.
_NAV_TIMING_JS = ("(() => { const n = performance.getEntriesByType('navigation')[0];"
                  " return n ? [n.domContentLoadedEventStart, n.loadEventStart] : null; })()")


@dataclass(frozen=True)
class Request:
    """One HTTP request of a view.

    transferred_bytes: Network.loadingFinished encodedDataLength (bytes over the wire, headers included; 0 when
    the cache answered without the network; a redirect's hops are added). decoded_bytes: the sum of
    Network.dataReceived dataLength (the body after Content-Encoding is undone). from_cache: served from the
    memory or disk cache without a network round trip (a 304 revalidation is not from_cache). status: the
    response's HTTP status as the page saw it (a 304 revalidation reports the cached 200, as
    Network.responseReceived does), 0 when there was no response. content_encoding and cache_control: the response headers,
    None when absent. error: the net error of a failed request (net::ERR_NAME_NOT_RESOLVED for a host
    Chromium may not reach), else None.
    """

    url: str
    status: int
    mime_type: str
    transferred_bytes: int
    decoded_bytes: int
    from_cache: bool
    content_encoding: str | None
    cache_control: str | None
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class View:
    """One page view: totals over its http(s) requests until the network was quiet after the load event.

    transferred_bytes and decoded_bytes: sums of the requests' (see Request); request_count: how many
    http(s) requests (data: and blob: URLs are not requests); dom_content_loaded_ms and load_ms: Navigation
    Timing's domContentLoadedEventStart and loadEventStart, ms from navigation start.
    """

    transferred_bytes: int
    decoded_bytes: int
    request_count: int
    dom_content_loaded_ms: float
    load_ms: float
    requests: tuple[Request, ...]

    def to_dict(self) -> dict:
        return {**{m: getattr(self, m) for m in VIEW_METRICS}, "requests": [r.to_dict() for r in self.requests]}


@dataclass(frozen=True)
class PageLoadResult:
    """`loads` first views (each in a fresh profile) and the repeat view that followed each one.

    to_dict() -> {"url": str (password as ***), "browser": "Chrome/156.…", "loads": int,
    "first_view": {"median": {metric: number}, "runs": [View.to_dict(), …]}, "repeat_view": {same}},
    metric in VIEW_METRICS; a median of an even number of runs is the mean of the middle two.
    """

    url: str
    browser: str
    first_view: tuple[View, ...]
    repeat_view: tuple[View, ...]

    def median(self, view: str, metric: str) -> float:
        return statistics.median(getattr(v, metric) for v in getattr(self, view))

    def to_dict(self) -> dict:
        return {"url": redact_dsn(self.url), "browser": self.browser, "loads": len(self.first_view),
                **{view: {"median": {m: self.median(view, m) for m in VIEW_METRICS},
                          "runs": [v.to_dict() for v in getattr(self, view)]}
                   for view in ("first_view", "repeat_view")}}


class _Recorder:
    """Collects the Network and Page events of one navigation (a Browser listener)."""

    def __init__(self) -> None:
        self.requests: dict[str, dict] = {}
        self.in_flight: set[str] = set()
        self.loaded = False
        self.last_event = time.monotonic()

    def __call__(self, method: str, p: dict) -> None:
        if method == "Page.loadEventFired":
            self.loaded = True
            self.last_event = time.monotonic()
            return
        rid = p.get("requestId")
        if not method.startswith("Network.") or (rid not in self.requests and method != "Network.requestWillBeSent"):
            return
        self.last_event = time.monotonic()
        if method == "Network.requestWillBeSent":
            self._sent(rid, p)
        elif method == "Network.requestServedFromCache":
            self.requests[rid]["from_cache"] = True
        elif method == "Network.responseReceived":
            self._response(rid, p["response"])
        elif method == "Network.dataReceived":
            self.requests[rid]["decoded_bytes"] += p.get("dataLength", 0)
        elif method == "Network.loadingFinished":
            self.requests[rid]["transferred_bytes"] += int(p.get("encodedDataLength", 0))
            self.in_flight.discard(rid)
        elif method == "Network.loadingFailed":
            self.requests[rid]["error"] = p.get("errorText") or "failed"
            self.in_flight.discard(rid)

    def _sent(self, rid: str, p: dict) -> None:
        url = p["request"]["url"]
        if not url.startswith(("http://", "https://")):
            return
        entry = self.requests.setdefault(rid, {"url": url, "status": 0, "mime_type": "", "transferred_bytes": 0,
                                               "decoded_bytes": 0, "from_cache": False, "headers": {}})
        if "redirectResponse" in p:  # a hop of the same request: its bytes count, the final URL is reported
            entry["transferred_bytes"] += int(p["redirectResponse"].get("encodedDataLength", 0))
            entry["url"] = url
        self.in_flight.add(rid)

    def _response(self, rid: str, r: dict) -> None:
        entry = self.requests[rid]
        entry.update(status=r.get("status", 0), mime_type=r.get("mimeType", ""),
                     headers={k.lower(): v for k, v in r.get("headers", {}).items()})
        if r.get("fromDiskCache") or r.get("fromPrefetchCache") or r.get("fromServiceWorker"):
            entry["from_cache"] = True

    def quiet(self) -> bool:
        return self.loaded and not self.in_flight and time.monotonic() - self.last_event >= NETWORK_QUIET_S


def _request(e: dict) -> Request:
    h = e["headers"]
    return Request(url=e["url"], status=e["status"], mime_type=e["mime_type"],
                   transferred_bytes=e["transferred_bytes"], decoded_bytes=e["decoded_bytes"],
                   from_cache=e["from_cache"], content_encoding=h.get("content-encoding"),
                   cache_control=h.get("cache-control"), error=e.get("error"))


def _view(browser: Browser, url: str, timeout_s: float) -> View:
    """Navigates to url and records the view; TargetError when it does not load or not within timeout_s."""
    shown = redact_dsn(url)
    rec = _Recorder()
    browser.listeners[:] = [rec]
    deadline = time.monotonic() + timeout_s
    try:
        nav = browser.call("Page.navigate", timeout_s=timeout_s, url=url)
    except TimeoutError:
        raise TargetError(f"{shown}: the page did not finish loading within {timeout_s:g} s "
                          "(no response to the page's own request)") from None
    if nav.get("errorText"):
        raise TargetError(f"{shown}: the page did not load ({nav['errorText']})")
    if not browser.pump(rec.quiet, deadline):
        raise TargetError(f"{shown}: the page did not finish loading within {timeout_s:g} s "
                          f"(load event {'fired' if rec.loaded else 'not fired'}, {len(rec.in_flight)} requests open)")
    doc = rec.requests.get(nav.get("loaderId", ""))
    if doc is None or doc.get("error") or doc["status"] >= 400:
        why = (doc or {}).get("error") or f"HTTP {(doc or {}).get('status', '?')}"
        raise TargetError(f"{shown}: the page did not load ({why})")
    timing = browser.evaluate(_NAV_TIMING_JS) or [math.nan, math.nan]
    requests = tuple(_request(e) for e in rec.requests.values())
    return View(transferred_bytes=sum(r.transferred_bytes for r in requests),
                decoded_bytes=sum(r.decoded_bytes for r in requests), request_count=len(requests),
                dom_content_loaded_ms=round(timing[0], 1), load_ms=round(timing[1], 1), requests=requests)


def _blank(browser: Browser) -> None:
    """Leaves the page for about:blank and waits for its load event, so that the next navigation starts from
    an empty page (a same-URL navigation would be treated as a reload, which revalidates)."""
    done = []
    browser.listeners[:] = [lambda method, _p: method == "Page.loadEventFired" and done.append(1)]
    browser.call("Page.navigate", url="about:blank")
    browser.pump(lambda: bool(done), time.monotonic() + 5)


def check_url(url: str) -> str:
    """The URL's host; TargetError unless url is http(s) with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"{redact_dsn(url)}: only http:// and https:// URLs with a host can be measured")
    return f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname


def measure(url: str, loads: int = 3, timeout_s: float = 30) -> PageLoadResult:
    """Loads url `loads` times in headless Chromium: each time a first view in a fresh, empty profile, then a
    repeat view in the same profile (via about:blank, as a user coming back), and returns them all.

    Chromium may reach only loopback and url's host (advisor.browser.resolver_rules): third-party requests
    fail and count as requests with status 0. timeout_s bounds each view (navigation start to a quiet network).
    Raises TargetError (one line naming url) when Chromium is missing, the URL is not http(s), the page does
    not load (a net error such as ERR_CONNECTION_REFUSED, or an HTTP status >= 400) or a view times out;
    ConfigError when loads < 1.
    """
    host = check_url(url)
    if loads < 1:
        raise ConfigError(f"page loads: {loads} is not a number of loads (at least 1)")
    binary = chromium_binary()
    if binary is None:
        raise TargetError("chromium not found: apt-get install chromium")
    first, repeat, product = [], [], ""
    for _ in range(loads):
        with Browser(binary, allow_hosts=[host], domains=("Page", "Network")) as b:
            product = product or b.version()
            first.append(_view(b, url, timeout_s))
            _blank(b)
            repeat.append(_view(b, url, timeout_s))
    return PageLoadResult(url=url, browser=product, first_view=tuple(first), repeat_view=tuple(repeat))


def _compare_metric(before: list[float], after: list[float]) -> dict:
    b_med, a_med = statistics.median(before), statistics.median(after)
    lower, higher = max(after) < min(before), min(after) > max(before)
    m, n = len(before), len(after)
    return {"before_median": b_med, "after_median": a_med,
            "relative_change": (a_med - b_med) / b_med if b_med else None,
            "before_values": before, "after_values": after,
            "beyond_spread": lower or higher,
            "direction": "lower" if lower else "higher" if higher else "within spread",
            # Exact chance, if nothing changed, that all after values fall on one side of all before values.
            "chance_if_no_change": min(1.0, 2 * math.factorial(m) * math.factorial(n) / math.factorial(m + n))}


def compare_loads(before: dict, after: dict) -> dict:
    """Sets two PageLoadResult.to_dict() side by side, metric by metric.

    Returns {"url_before", "url_after", "spread_rule": str, "metrics": {name: {"view", "unit", "before_median",
    "after_median", "relative_change" ((after - before) / before, None when before is 0), "before_values",
    "after_values", "beyond_spread": bool, "direction": "lower" | "higher" | "within spread",
    "chance_if_no_change": float}}} for name in first_view_transferred_bytes, first_view_load_ms,
    repeat_view_transferred_bytes, repeat_view_load_ms.

    The spread rule is a small-sample rule, not a significance test: a change is "beyond the spread" when every
    after value lies below the lowest before value, or every one above the highest. If the loads were
    exchangeable (nothing changed), the chance of that is 2·m!·n!/(m+n)! for m before and n after loads (the
    exact probability of a Mann-Whitney U of 0 either way): 0.1 for 3 and 3, 0.008 for 5 and 5, 1 for 1 and 1.
    So with the default 3 loads it says the runs do not overlap; it cannot reach the 5% level. Byte counts on
    loopback barely vary, so for them a non-overlap is a real difference; load times vary with the machine.
    Raises KeyError on a dict that is not PageLoadResult.to_dict() output.
    """
    metrics = {}
    for view, field, unit in COMPARED:
        values = [[run[field] for run in side[view]["runs"]] for side in (before, after)]
        metrics[f"{view}_{field}"] = {"view": view, "unit": unit, **_compare_metric(*values)}
    return {"url_before": before["url"], "url_after": after["url"],
            "spread_rule": "beyond_spread: every after value is outside the before range on the same side "
                           "(small-sample rule, not a significance test; see chance_if_no_change)",
            "metrics": metrics}
