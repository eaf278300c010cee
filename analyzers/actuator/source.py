"""ActuatorSource: one Spring Boot Actuator as a sampling source (advisor/sampling.py's Source protocol).

open()   scrapes once (to learn the format, the cache names and whether /actuator/prometheus is exposed; else
         it prepares the /actuator/metrics fallback), and reads /actuator/configprops and /actuator/env when
         they are exposed. Returns the facts described in ``open``'s docstring.
sample() one scrape → {canonical series key: value} (names.py); raises TargetError (one line, URL redacted)
         when the target fails, so the window keeps what was sampled before.
close()  the HikariCP namings seen during the window.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.errors import TargetError
from analyzers.actuator import client, exposition, metrics_api, names, props
from analyzers.actuator.exposition import parse_key

#: What we ask /actuator/prometheus for: the text format 0.0.4 (its label sets tell Boot 2.x–3.2 from 3.3+, and
#: it is what every Micrometer version writes validly); Spring Boot answers OpenMetrics when that is listed at
#: all, whatever its q, so it is not listed. Whatever comes back is parsed by its Content-Type.
ACCEPT_TEXT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"
_TRAILING_COMMA = re.compile(r',\}\s+\S', re.M)


class ActuatorSource:
    """One Actuator base URL. `instance` names it in the snapshot (host:port, no user info)."""

    def __init__(self, ep: client.Endpoint, instance: str) -> None:
        self.ep = ep
        self.instance = instance
        self.name = f"actuator {instance}"
        self.mode: str | None = None
        self._queries: list[metrics_api.Query] = []
        self._namings: dict[str, set[str]] = {}
        self._parse_notes: list[str] = []
        self._samples_taken = 0
        # The last successful scrape (text, content type): its histogram buckets are read once, in close().
        self._last: tuple[str, str | None] | None = None

    # -- the Source protocol ------------------------------------------------------------------------------

    def open(self) -> dict[str, Any]:
        """{"url": display URL, "endpoint": "prometheus"|"metrics", "format": content type or
        "actuator-metrics-json", "exposed": {"prometheus", "metrics", "configprops", "env": bool|None},
        "exposition_style": str|None, "configured": props.extract(...), "notes": [str]}.

        Raises TargetError when neither /actuator/prometheus nor /actuator/metrics answers, or the first
        scrape fails (401/403, timeout, HTML, refused…)."""
        facts: dict[str, Any] = {"url": self.ep.display, "endpoint": None, "format": None,
                                 "exposed": {"prometheus": None, "metrics": None, "configprops": None,
                                             "env": None},
                                 "exposition_style": None, "notes": []}
        try:
            resp = client.get(self.ep, "/prometheus", accept=ACCEPT_TEXT, expect="metrics")
            self.mode = "prometheus"
            facts["exposed"]["prometheus"] = True
            facts["format"] = resp.content_type or "text/plain (no Content-Type)"
            text = resp.text()
            first = self._canonical(text, resp.content_type)
            facts["exposition_style"] = exposition_style(text, resp.content_type)
        except client.NotExposed as e:
            facts["exposed"]["prometheus"] = False
            try:
                self._queries, notes = metrics_api.discover(self.ep)
            except client.NotExposed:
                facts["exposed"]["metrics"] = False
                raise TargetError(f"Actuator {self.ep.display}: neither /prometheus nor /metrics is exposed; "
                                  f"{client.EXPOSE_HINT['prometheus']}") from None
            self.mode = "metrics"
            facts["exposed"]["metrics"] = True
            facts["format"] = "actuator-metrics-json"
            facts["notes"].append(f"{e}; read /actuator/metrics/{{name}} with tag filters instead "
                                  "(no percentiles)")
            facts["notes"].extend(notes)
            first = metrics_api.sample(self.ep, self._queries)
        facts["endpoint"] = self.mode
        caches = cache_names(first)
        configprops = self._optional("/configprops", facts)
        env = self._optional("/env", facts)
        facts["configured"] = props.extract(configprops, env, caches)
        return facts

    def sample(self) -> dict[str, float]:
        """One scrape. Histogram buckets (most of a scrape's lines) are read only in the first sample and, for
        the last one, in close(): a window percentile needs nothing in between, and parsing them every second
        would triple the sampler's CPU time."""
        if self.mode == "metrics":
            return metrics_api.sample(self.ep, self._queries)
        resp = client.get(self.ep, "/prometheus", accept=ACCEPT_TEXT, expect="metrics")
        text = resp.text()
        values = self._canonical(text, resp.content_type, buckets=self._samples_taken == 0)
        self._samples_taken += 1
        self._last = (text, resp.content_type)
        return values

    def close(self) -> dict[str, Any]:
        """{"namings": {family: [naming]}, "notes": [str], "last_buckets": {bucket key: value}} — the
        buckets of the last successful sample (absent in the /actuator/metrics fallback)."""
        out: dict[str, Any] = {"namings": {fam: sorted(n) for fam, n in sorted(self._namings.items())},
                               "notes": list(self._parse_notes)}
        if self._last is not None:
            values = self._canonical(*self._last, buckets=True)
            out["last_buckets"] = {k: v for k, v in values.items() if _is_bucket(k)}
        return out

    def headline(self, prev: dict[str, float] | None, cur: dict[str, float], dt_s: float) -> str:
        return headline(prev, cur)

    # -- helpers ------------------------------------------------------------------------------------------

    def _canonical(self, text: str, content_type: str | None, buckets: bool = True) -> dict[str, float]:
        where = f"Actuator {self.ep.display}/prometheus"
        if not exposition.is_openmetrics(content_type):
            # Lines of series that are not kept never reach the parser (most of its time is spent on labels).
            exposition.check_lines(text, where)
            text = names.prefilter(text, buckets)
            if exposition.only_comments(text):
                return {}
        parsed = exposition.parse(text, content_type, where=where)
        if parsed.note and parsed.note not in self._parse_notes:
            self._parse_notes.append(parsed.note)
        c = names.canonical(parsed.samples)
        for fam, namings in c.namings.items():
            self._namings.setdefault(fam, set()).update(namings)
        return c.values

    def _optional(self, path: str, facts: dict[str, Any]) -> Any:
        """A JSON endpoint we can do without: None (with a note) when not exposed, refused or failing."""
        key = path.strip("/")
        try:
            data = client.get_json(self.ep, path)
        except client.NotExposed:
            facts["exposed"][key] = False
            facts["notes"].append(f"/actuator{path} is not exposed, configured values from it are unknown; "
                                  f"{client.EXPOSE_HINT[key]}")
            return None
        except TargetError as e:
            facts["exposed"][key] = False
            facts["notes"].append(f"{e} (configured values from it are unknown)")
            return None
        facts["exposed"][key] = True
        return data


def _is_bucket(key: str) -> bool:
    return key.split("{", 1)[0].endswith("_bucket")


def cache_names(values: dict[str, float]) -> list[str]:
    """Cache names from the `cache` label of cache_gets_total/cache_puts_total keys."""
    found: set[str] = set()
    for key in values:
        if key.startswith(("cache_gets_total{", "cache_puts_total{")):
            found.add(parse_key(key)[1].get("cache", ""))
    return sorted(c for c in found if c)


def exposition_style(text: str, content_type: str | None) -> str | None:
    """What the text tells of the Micrometer behind it: label sets ending in ``,}`` were written by
    Micrometer before 1.13 (Spring Boot 2.x to 3.2); Boot 3.3+ (Prometheus client 1.x) writes ``}``."""
    if exposition.is_openmetrics(content_type):
        return None
    if _TRAILING_COMMA.search(text):
        return "trailing-comma label sets (Micrometer before 1.13: Spring Boot 2.x to 3.2)"
    if "{" in text:
        return "label sets without a trailing comma (Micrometer 1.13+ / Prometheus client 1.x: Spring Boot 3.3+)"
    return None


def boot_version(generation: str | None, style: str | None) -> tuple[str | None, list[str]]:
    """Spring Boot version range from configprops' generation ("2.x"/"3.x") and the exposition style."""
    evidence = []
    old = bool(style and style.startswith("trailing"))
    new = bool(style and style.startswith("label sets without"))
    if style:
        evidence.append(style)
    if generation == "2.x":
        return "2.x", evidence
    if generation == "3.x":
        return ("3.3 or later" if new else "3.0 to 3.2" if old else "3.x"), evidence
    if new:
        return "3.3 or later", evidence
    if old:
        return "2.x to 3.2", evidence
    return None, evidence


def headline(prev: dict[str, float] | None, cur: dict[str, float]) -> str:
    """``pool shop active 2/2 pending 7 · products hit 4%`` (at most two pools and one cache; a cache's hit
    ratio over the last interval, so only from the second sample on)."""
    parts = []
    for key in sorted(k for k in cur if k.startswith("hikaricp_connections_active{"))[:2]:
        pool = parse_key(key)[1].get("pool", "?")
        sel = key[len("hikaricp_connections_active"):]
        mx = cur.get("hikaricp_connections_max" + sel)
        pend = cur.get("hikaricp_connections_pending" + sel)
        text = f"pool {pool} active {cur[key]:g}" + (f"/{mx:g}" if mx is not None else "")
        parts.append(text + (f" pending {pend:g}" if pend is not None else ""))
    if prev:
        best: tuple[float, str, float] | None = None
        by_cache: dict[str, list[float]] = {}
        for key, v in cur.items():
            if key.startswith("cache_gets_total{") and key in prev:
                labels = parse_key(key)[1]
                res = labels.get("result")
                if res in ("hit", "miss"):
                    d = max(0.0, v - prev[key])
                    acc = by_cache.setdefault(labels.get("cache", "?"), [0.0, 0.0])
                    acc[0 if res == "hit" else 1] += d
        for cache, (hits, misses) in by_cache.items():
            if hits + misses > 0 and (best is None or hits + misses > best[0]):
                best = (hits + misses, cache, hits / (hits + misses))
        if best:
            parts.append(f"{best[1]} hit {best[2]:.0%}")
    return " · ".join(parts)
