"""Parsing real scrapes (Spring Boot 3.5 and 2.7, text and OpenMetrics, Micrometer's and HikariCP's own names)
and fuzzing the parser: arbitrary text gives samples or an ExpositionError, never another exception."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzers.actuator import exposition, names
from analyzers.actuator.exposition import ExpositionError, parse, parse_key, series_key
from analyzers.actuator.source import cache_names, exposition_style
from tests.actuator.conftest import FIXTURES, OPENMETRICS, TEXT_004


def scrape(app: str, openmetrics: bool = False) -> names.Canonical:
    text = (FIXTURES / app / ("openmetrics.txt" if openmetrics else "prometheus.txt")).read_text()
    return names.canonical(parse(text, OPENMETRICS if openmetrics else TEXT_004).samples)


def raw_value(app: str, line_start: str) -> float:
    """The value of the first line of the recorded text scrape that starts with `line_start`."""
    for line in (FIXTURES / app / "prometheus.txt").read_text().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in the recording")


@pytest.mark.parametrize("openmetrics", [False, True])
def test_boot35_scrape_gives_every_pool_cache_and_route_series(openmetrics):
    c = scrape("boot35-shop", openmetrics)
    v = c.values
    assert v['hikaricp_connections_max{pool="shop"}'] == 2.0
    assert v['hikaricp_connections_pending{pool="shop"}'] == raw_value(
        "boot35-shop", 'hikaricp_connections_pending{application="shop-backend",pool="shop"}')
    assert v['hikaricp_connections_acquire_seconds_count{pool="shop"}'] > 0
    # histogram buckets are kept with their le label, the application label is dropped
    assert any(k.startswith('hikaricp_connections_acquire_seconds_bucket{le="') for k in v)
    assert v['cache_gets_total{cache="products",cache_manager="cacheManager",result="hit"}'] == raw_value(
        "boot35-shop", 'cache_gets_total{application="shop-backend",cache="products",cache_manager="cacheManager",'
                       'name="products",result="hit"}')
    assert 'cache_gets_total{cache="products",cache_manager="cacheManager",result="pending"}' in v
    routes = {parse_key(k)[1]["uri"] for k in v if k.startswith("http_server_requests_seconds_count{")}
    assert "/api/products/{id}" in routes and len(routes) == 8
    assert {"jvm_threads_live_threads", "process_cpu_usage", "process_uptime_seconds"} <= set(v)
    assert c.namings["hikaricp"] == {"micrometer"}
    assert cache_names(v) == ["categories", "products"]


def test_boot35_text_and_openmetrics_agree():
    assert scrape("boot35-shop").values.keys() == scrape("boot35-shop", openmetrics=True).values.keys()


def test_boot27_trailing_comma_label_sets_and_percentile_gauges_beside_buckets():
    text = (FIXTURES / "boot27-catalog" / "prometheus.txt").read_text()
    assert ',} ' in text  # the recording really has Boot 2's label sets
    v = scrape("boot27-catalog").values
    assert v['hikaricp_connections_max{pool="main"}'] == 4.0
    sel = 'method="GET",status="200",uri="/items/{id}"'
    assert series_key("http_server_requests_seconds", {"method": "GET", "status": "200", "uri": "/items/{id}",
                                                        "quantile": "0.95"}) in v
    assert any(k.startswith("http_server_requests_seconds_bucket{") and 'uri="/items/{id}"' in k for k in v)
    assert v[f"http_server_requests_seconds_count{{{sel}}}"] == raw_value(
        "boot27-catalog", 'http_server_requests_seconds_count{application="boot27-catalog",exception="None",'
                          'method="GET",outcome="SUCCESS",status="200",uri="/items/{id}",}')
    assert exposition_style(text, TEXT_004).startswith("trailing-comma")


def test_boot27_hikaricp_own_names_are_renamed_and_converted_to_seconds():
    # Pool "reporting" uses HikariCP's own PrometheusMetricsTracker: nanoseconds and milliseconds summaries.
    v = scrape("boot27-catalog").values
    nanos = raw_value("boot27-catalog", 'hikaricp_connection_acquired_nanos_sum{pool="reporting",}')
    assert v['hikaricp_connections_acquire_seconds_sum{pool="reporting"}'] == pytest.approx(nanos * 1e-9)
    millis = raw_value("boot27-catalog", 'hikaricp_connection_usage_millis_sum{pool="reporting",}')
    assert v['hikaricp_connections_usage_seconds_sum{pool="reporting"}'] == pytest.approx(millis / 1000)
    assert 'hikaricp_connections_timeout_total{pool="reporting"}' in v
    assert not any("_created" in k for k in v)  # simpleclient's _created series are not kept
    assert scrape("boot27-catalog").namings["hikaricp"] == {"micrometer", "hikaricp"}


def test_hikaricp_tracker_gauges_map_to_micrometer_names():
    v = scrape("boot27-catalog-hikaricp-tracker").values
    assert v['hikaricp_connections_max{pool="main"}'] == raw_value(
        "boot27-catalog-hikaricp-tracker", 'hikaricp_max_connections{pool="main",}')
    assert 'hikaricp_connections_pending{pool="main"}' in v
    assert 'hikaricp_connections_active{pool="main"}' in v


def test_boot27_openmetrics_that_the_strict_parser_rejects_is_read_leniently():
    text = (FIXTURES / "boot27-catalog" / "openmetrics.txt").read_text()
    parsed = parse(text, OPENMETRICS, where="scrape")
    assert parsed.note and "Clashing name" in parsed.note
    assert names.canonical(parsed.samples).values.keys() == scrape("boot27-catalog").values.keys()


def test_counter_without_total_suffix_and_untyped_series():
    text = ("# TYPE cache_gets counter\n"
            'cache_gets{cache="a",result="hit"} 3\n'
            'cache_puts{cache="a"} 2\n'
            'hikaricp_connections_active{pool="p",} 1\n')
    v = names.canonical(parse(text, TEXT_004).samples).values
    assert v == {'cache_gets_total{cache="a",result="hit"}': 3.0, 'cache_puts_total{cache="a"}': 2.0,
                 'hikaricp_connections_active{pool="p"}': 1.0}


def test_labels_that_are_dropped_add_up_and_max_series_take_the_maximum():
    text = ('http_server_requests_seconds_count{uri="/a",method="GET",status="200",exception="X"} 2\n'
            'http_server_requests_seconds_count{uri="/a",method="GET",status="200",exception="None"} 3\n'
            'http_server_requests_seconds_max{uri="/a",method="GET",status="200",exception="X"} 0.5\n'
            'http_server_requests_seconds_max{uri="/a",method="GET",status="200",exception="None"} 0.2\n')
    v = names.canonical(parse(text, TEXT_004).samples).values
    assert v['http_server_requests_seconds_count{method="GET",status="200",uri="/a"}'] == 5
    assert v['http_server_requests_seconds_max{method="GET",status="200",uri="/a"}'] == 0.5


def test_nan_values_are_missing_not_zero():
    v = names.canonical(parse("process_cpu_usage NaN\njvm_threads_live_threads 12\n", TEXT_004).samples).values
    assert "process_cpu_usage" not in v and v["jvm_threads_live_threads"] == 12


@pytest.mark.parametrize("text,ctype,fragment", [
    ("", TEXT_004, "empty"),
    ("<html><body>login</body></html>", TEXT_004, "not a Prometheus exposition"),
    ('{"names": ["a"]}', TEXT_004, "not a Prometheus exposition"),
    ("a 1\n", OPENMETRICS, "# EOF"),
])
def test_bad_text_is_one_error(text, ctype, fragment):
    with pytest.raises(ExpositionError, match=fragment):
        parse(text, ctype, where="http://x/actuator/prometheus")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=400), st.sampled_from([None, TEXT_004, OPENMETRICS]))
def test_fuzz_arbitrary_text_gives_samples_or_exposition_error(text, ctype):
    try:
        parsed = parse(text, ctype)
    except ExpositionError as e:
        assert str(e).startswith("exposition: ")
        return
    for s in parsed.samples:
        assert isinstance(s.value, float)
    names.canonical(parsed.samples)


_REAL_LINES = (FIXTURES / "boot27-catalog" / "prometheus.txt").read_text().splitlines()[:400]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.sampled_from(_REAL_LINES), max_size=30),
       st.lists(st.tuples(st.integers(0, 29), st.integers(0, 200), st.text(max_size=3)), max_size=5))
def test_fuzz_mutated_real_lines(lines, edits):
    for i, pos, junk in edits:
        if lines and i < len(lines):
            lines[i] = lines[i][:pos] + junk + lines[i][pos:]
    try:
        parsed = parse("\n".join(lines), TEXT_004)
    except ExpositionError:
        return
    names.canonical(parsed.samples)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
       st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
                       st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20), max_size=4))
def test_series_keys_round_trip(_name, labels):
    key = series_key("metric_name", labels)
    assert parse_key(key) == ("metric_name", labels)


def test_parse_key_rejects_what_series_key_cannot_write():
    with pytest.raises(ValueError):
        parse_key('x{a="1" b="2"}')
    with pytest.raises(ValueError):
        parse_key("1bad")


def test_finite():
    assert exposition.finite(1.0) and not exposition.finite(math.nan) and not exposition.finite(None)


@pytest.mark.parametrize("app", ["boot35-shop", "boot27-catalog", "boot27-catalog-hikaricp-tracker"])
def test_prefilter_keeps_exactly_the_kept_series(app):
    text = (FIXTURES / app / "prometheus.txt").read_text()
    full = names.canonical(parse(text, TEXT_004).samples).values
    assert names.canonical(parse(names.prefilter(text), TEXT_004).samples).values == full
    no_buckets = names.canonical(parse(names.prefilter(text, buckets=False), TEXT_004).samples).values
    assert no_buckets == {k: v for k, v in full.items() if not k.split("{")[0].endswith("_bucket")}
    assert len(names.prefilter(text, buckets=False)) < len(text) / 2


@given(st.text(max_size=300))
def test_check_lines_raises_only_exposition_error(text):
    try:
        exposition.check_lines(text)
    except ExpositionError:
        pass
