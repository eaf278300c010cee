"""Parse a Prometheus exposition (text 0.0.4 or OpenMetrics 1.0) into plain samples.

Real Spring Boot output varies and all of it is accepted: label sets ending in ``,}`` (Micrometer before 1.13,
i.e. Spring Boot 2.x to 3.2) or ``}`` (Boot 3.3+, Prometheus client 1.x); counters typed with or without the
``_total`` suffix; ``_created`` series (simpleclient 0.10+ writes them in both formats); histogram buckets next
to percentile gauges (``quantile`` label); ``# EOF`` in OpenMetrics. prometheus_client's parsers do the work
(text: ``prometheus_client.parser``, OpenMetrics: ``prometheus_client.openmetrics.parser``); anything they or
we reject becomes an ExpositionError, never another exception.

Series keys are written in Prometheus text form, labels sorted by name: ``name{a="x",b="y"}`` (values escaped
as the text format does: backslash, double quote, newline), ``name`` when there are no labels.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from advisor.errors import TargetError


class ExpositionError(TargetError):
    """The text is not a Prometheus/OpenMetrics exposition (or not one we can read)."""


@dataclass(frozen=True)
class Sample:
    """One line of an exposition: the sample's name (``cache_gets_total``, ``…_bucket``), its labels, its
    value, and the type of its family (counter, gauge, histogram, summary, unknown, …)."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    family_type: str

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


#: Content types that mean OpenMetrics (Spring Boot answers it to `Accept: application/openmetrics-text`).
OPENMETRICS_TYPE = "application/openmetrics-text"

_HTML = re.compile(rb"^\s*(<!doctype html|<html|<head|<body)", re.I)


def is_openmetrics(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";")[0].strip().lower() == OPENMETRICS_TYPE


def looks_like_html(body: bytes) -> bool:
    """True when the body is an HTML page (a login form, a proxy's error page) rather than metrics."""
    return bool(_HTML.match(body[:512]))


@dataclass(frozen=True)
class Parsed:
    """The samples of one exposition, and a note when it needed the lenient reading (else None)."""

    samples: list[Sample]
    note: str | None = None


def parse(text: str, content_type: str | None = None, where: str = "exposition") -> Parsed:
    """All samples of `text`, parsed as OpenMetrics when `content_type` says so, else as text 0.0.4.

    Real OpenMetrics output is not always valid OpenMetrics: Micrometer before 1.13 writes percentile gauges
    inside a histogram family, which the strict OpenMetrics parser rejects ("Clashing name"). Such text is
    read again with the lenient text-format parser, and `note` says so.

    Raises ExpositionError (naming `where`) for text that is not an exposition (the parser's complaint) and
    for an empty body. Non-finite values (NaN, ±Inf) are kept as floats.
    """
    if not text.strip():
        raise ExpositionError(f"{where}: the response is empty")
    note = None
    if is_openmetrics(content_type):
        if not text.rstrip().endswith("# EOF"):
            raise ExpositionError(f"{where}: OpenMetrics text without the final '# EOF' (cut short?)")
        try:
            samples = _samples(text, openmetrics=True)
        except ExpositionError as strict:
            try:
                samples = _samples(text, openmetrics=False)
            except ExpositionError:
                raise ExpositionError(f"{where}: not a Prometheus exposition ({strict})") from None
            note = f"{where}: OpenMetrics that the strict parser rejects ({strict}); read leniently"
    else:
        try:
            samples = _samples(text, openmetrics=False)
        except ExpositionError as e:
            raise ExpositionError(f"{where}: not a Prometheus exposition ({e})") from None
    if not samples and not only_comments(text):
        raise ExpositionError(f"{where}: no metric samples in the response")
    return Parsed(samples, note)


def _samples(text: str, openmetrics: bool) -> list[Sample]:
    """prometheus_client's parser over `text`; any exception it raises becomes ExpositionError(detail)."""
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    out: list[Sample] = []
    try:
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                name = str(s.name)
                if name.endswith("_total_total"):  # the text parser re-suffixes OpenMetrics counter samples
                    name = name[:-6]
                labels = tuple(sorted((str(k), str(v)) for k, v in s.labels.items()))
                out.append(Sample(name, labels, float(s.value), str(fam.type)))
    except Exception as e:  # noqa: BLE001 - the parsers raise ValueError, IndexError, KeyError, TypeError…
        lines = str(e).strip().splitlines()
        raise ExpositionError(lines[0][:120] if lines else type(e).__name__) from None
    return out


_SAMPLE_LINE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?\s+\S+")


def check_lines(text: str, where: str = "exposition", lines: int = 5) -> None:
    """A cheap check that `text` looks like an exposition (its first sample lines are ``name{…} value``),
    for text whose lines are filtered before parsing. Raises ExpositionError like parse() would."""
    if not text.strip():
        raise ExpositionError(f"{where}: the response is empty")
    seen = 0
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not _SAMPLE_LINE.match(stripped):
            raise ExpositionError(f"{where}: not a Prometheus exposition (a line reads {stripped[:60]!r})")
        seen += 1
        if seen >= lines:
            return


def only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


# --- series keys -----------------------------------------------------------------------------------------

_ESC = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_KEY = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$', re.S)
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?', re.S)


def series_key(name: str, labels: dict[str, str] | tuple[tuple[str, str], ...] = ()) -> str:
    """``name{a="x",b="y"}`` with labels sorted by name (``name`` alone without labels)."""
    items = sorted(labels.items() if isinstance(labels, dict) else labels)
    if not items:
        return name
    return name + "{" + ",".join(f'{k}="{str(v).translate(_ESC)}"' for k, v in items) + "}"


def parse_key(key: str) -> tuple[str, dict[str, str]]:
    """Inverse of series_key: (name, labels). Raises ValueError for a key series_key cannot have written."""
    m = _KEY.match(key)
    if not m:
        raise ValueError(f"not a series key: {key!r}")
    name, body = m.group(1), m.group(2)
    labels: dict[str, str] = {}
    if body:
        pos = 0
        for pm in _PAIR.finditer(body):
            if pm.start() != pos:
                raise ValueError(f"not a series key: {key!r}")
            labels[pm.group(1)] = _unescape(pm.group(2))
            pos = pm.end()
        if pos != len(body):
            raise ValueError(f"not a series key: {key!r}")
    return name, labels


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def finite(x: float | None) -> bool:
    return x is not None and not math.isnan(x) and not math.isinf(x)
