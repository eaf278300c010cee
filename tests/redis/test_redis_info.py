"""The INFO parser (recorded real output and hypothesis fuzzing), the sampled series and window deltas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.redis.info import (
    InfoParseError,
    counter_increase,
    parse_info,
    sample_values,
    window_deltas,
)

RECORDED = Path(__file__).parent / "data" / "info-all-7.0.15.txt"


def test_recorded_info_sections_and_values():
    info = parse_info(RECORDED.read_text())
    assert info["server"]["redis_version"] == "7.0.15"
    assert info["memory"]["maxmemory"] == 0
    assert info["memory"]["maxmemory_policy"] == "noeviction"
    assert isinstance(info["memory"]["mem_fragmentation_ratio"], float)
    assert info["keyspace"]["db0"] == {"keys": 1000002, "expires": 0, "avg_ttl": 0}
    assert info["commandstats"]["cmdstat_get"]["calls"] == 2
    assert info["commandstats"]["cmdstat_get"]["usec_per_call"] == 4.5
    assert info["latencystats"]["latency_percentiles_usec_get"]["p99.9"] == 5.023
    assert info["errorstats"]["errorstat_NOPERM"] == {"count": 4}
    # An empty value stays text; a k=v-looking value outside the list sections is not split.
    assert info["server"]["config_file"] == ""


def test_sample_values_are_numbers_with_prometheus_keys():
    values = sample_values(parse_info(RECORDED.read_text()))
    assert values["redis_maxmemory"] == 0
    assert values["redis_used_memory"] > 0
    assert values['redis_commandstats_calls{cmd="get"}'] == 2
    assert values['redis_commandstats_usec{cmd="get"}'] == 9
    assert values['redis_latencystats_usec{cmd="get",p="p99"}'] == 5.023
    assert values['redis_db_keys{db="db0"}'] == 1000002
    assert values['redis_errorstat_count{error="ERR"}'] == 65
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values.values())
    json.dumps(values, allow_nan=False)


def test_parser_edge_cases():
    assert parse_info("a:1\r\n")[""] == {"a": 1}
    info = parse_info("# Keyspace\ndb0:keys=1,expires=x\nbad line\n# Stats\nnan_field:nan\nbig:1e999\n")
    assert info["keyspace"]["db0"] == {"keys": 1, "expires": "x"}
    assert info["stats"] == {"nan_field": "nan", "big": "1e999"}  # never NaN/inf: the snapshot is JSON
    assert parse_info("# Commandstats\ncmdstat_x:calls\n")["commandstats"]["cmdstat_x"] == "calls"
    with pytest.raises(InfoParseError):
        parse_info("# Server\n\nno fields here\n")
    with pytest.raises(TypeError):
        parse_info(b"a:1")  # type: ignore[arg-type]


INFO_LINE = st.one_of(
    st.text(max_size=40),
    st.builds(lambda k, v: f"{k}:{v}", st.text(max_size=15), st.text(max_size=30)),
    st.builds(lambda k, v: f"{k}:{v}", st.sampled_from(["db0", "cmdstat_get", "latency_percentiles_usec_x",
                                                         "errorstat_OOM", "slave0", "used_memory"]),
              st.lists(st.builds(lambda a, b: f"{a}={b}", st.text(max_size=6), st.text(max_size=8)),
                       max_size=4).map(",".join)),
    st.sampled_from(["# Keyspace", "# Commandstats", "# Latencystats", "# Errorstats", "# Replication",
                     "# Memory", "#", "# "]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(INFO_LINE, max_size=30).map("\r\n".join))
def test_fuzz_info_like_text_parses_or_raises_the_documented_error(text):
    try:
        info = parse_info(text)
    except InfoParseError:
        return
    json.dumps(info, allow_nan=False)  # only JSON-compatible values
    json.dumps(sample_values(info), allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_arbitrary_text(text):
    try:
        sample_values(parse_info(text))
    except InfoParseError:
        pass


def _section(t_s, series, mode="window"):
    return {"window": {"mode": mode}, "series": {"t_s": t_s, "series": series}}


def test_window_deltas_over_a_window_with_a_restart():
    sec = _section([0.0, 1.0, 2.0, 3.0], {
        "redis_keyspace_hits": [100, 190, 10, 40],      # restarted between 1 s and 2 s
        "redis_keyspace_misses": [10, 20, 5, 10],
        "redis_evicted_keys": [0, 0, 0, 0],
        "redis_expired_keys": [5, None, 7, 9],
        "redis_total_commands_processed": [1000, 1600, 300, 900],
        "redis_uptime_in_seconds": [500, 501, 1, 2],
    })
    d = window_deltas(sec)
    assert d["keyspace_hits"] == 90 + 10 + 30
    assert d["keyspace_misses"] == 10 + 5 + 5
    assert d["hit_ratio"] == pytest.approx(130 / 150)
    assert d["expired_keys"] == 4
    assert d["evicted_keys"] == 0
    assert d["ops_per_s"] == pytest.approx((600 + 300 + 600) / 3.0)
    assert d["restarts"] == 1 and d["since_start"] is False and d["window_s"] == 3.0


def test_window_deltas_since_start_and_without_info():
    d = window_deltas(_section([0.0], {"redis_keyspace_hits": [80], "redis_keyspace_misses": [20],
                                       "redis_total_commands_processed": [3600],
                                       "redis_uptime_in_seconds": [3600]}, mode="since_start"))
    assert d["since_start"] and d["keyspace_hits"] == 80 and d["hit_ratio"] == 0.8 and d["ops_per_s"] == 1.0
    empty = window_deltas(_section([], {}))
    assert empty["hit_ratio"] is None and empty["keyspace_hits"] is None and empty["samples"] == 0
    no_lookups = window_deltas(_section([0, 1], {"redis_keyspace_hits": [5, 5], "redis_keyspace_misses": [1, 1]}))
    assert no_lookups["hit_ratio"] is None and no_lookups["keyspace_hits"] == 0


def test_counter_increase_needs_two_numbers():
    assert counter_increase([None, 3]) is None
    assert counter_increase([1, True, 4]) == 3  # booleans are not numbers here
