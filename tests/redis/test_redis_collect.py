"""The Redis collector against real redis-server processes: the section, ACL users, AUTH, TLS, and faults
(refused, paused, killed mid-window)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import ACL_PASSWORD, CACHE_DATA, PASSWORD, PORT_CLOSED

from advisor import pipeline, sampling
from advisor.config import Settings
from advisor.errors import ConfigError, TargetError
from analyzers import redis as redis_analyzer
from analyzers.redis.keyspace import prefix_stats
from analyzers.redis.source import RedisSource

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "report.schema.json").read_text())


def settings_for(url: str, sample_s: float | None = None, **opts) -> Settings:
    return Settings(targets={"redis": {"url": url, **opts}}, sample_s=sample_s, sample_interval_s=0.5)


def collect(url: str, **opts) -> dict:
    return redis_analyzer.collect(settings_for(url, **opts))


def by_prefix(section: dict) -> dict:
    return {s.prefix: s for s in prefix_stats(section)}


def test_section_of_a_full_small_keyspace(redis_data):
    section = collect(redis_data.url())
    json.dumps(section, allow_nan=False)
    ks = section["keyspace"]
    assert ks["complete"] and ks["keys_sampled"] == ks["dbsize"] == redis_data.client().dbsize()
    assert section["window"]["mode"] == "since_start" and section["errors"] == []
    assert section["config"]["maxmemory"] == "0" and section["config_source"] == "CONFIG GET"
    assert section["server"]["redis_version"]
    stats = by_prefix(section)
    for prefix, (count, has_ttl) in CACHE_DATA.items():
        s = stats[prefix]
        assert s.keys_sampled == count and s.exact and s.keys_estimated == count, prefix
        assert (s.no_ttl_share == 0.0) if has_ttl else (s.no_ttl_share == 1.0), prefix
        assert s.memory_bytes_estimated and s.memory_bytes_error == 0
    products = stats["t1:cache:products::"]
    assert products.spring_cache_name == "products" and products.kind == "spring"
    assert 290 < products.ttl_s.min_s <= 300 and 690 < products.ttl_s.max_s <= 700
    assert products.ttl_s.min_s <= products.ttl_s.p50_s <= products.ttl_s.p90_s <= products.ttl_s.max_s
    assert stats["orders::"].spring_cache_name == "orders"
    assert stats["user:*:"].types == {"hash": 300} and stats["user:*:"].spring_cache_name is None
    assert stats["jobs:"].types == {"stream": 1} and stats["jobs:"].elements_max == 50
    big_hash = stats["big:hash:"].biggest[0]
    assert big_hash.key == "big:hash:1" and big_hash.elements == 30_000 and big_hash.memory_bytes > 1_000_000
    assert stats["big:"].biggest[0].memory_bytes > 2 * 1024 * 1024
    # Binary names are kept apart, printable, and in valid JSON.
    names = {b.key for s in stats.values() for b in s.biggest}
    assert "b'bin:\\xff\\xfe\\x00:k1'" in names and "b'bin:line\\r\\nbreak'" in names
    assert "b'\\x1b[31mred'" in names and "b'\\x00\\x01\\x02'" in names
    assert stats[""].keys_sampled == 52  # plainkey0..49 and the two binary keys without ':'
    assert section["deltas"]["since_start"] is True
    assert redis_analyzer.target_info(section)["keys_sampled"] == ks["keys_sampled"]


def test_bounded_sample_stops_at_its_key_bound_and_says_so(redis_data):
    section = collect(redis_data.url(), scan_max_keys=300)
    ks = section["keyspace"]
    assert ks["keys_sampled"] == 300 and ks["stopped_by"] == "max_keys" and not ks["complete"]
    stats = prefix_stats(section)
    assert sum(s.keys_sampled for s in stats) == 300
    assert all(not s.exact for s in stats)
    result = redis_analyzer.analyze(section, settings_for(redis_data.url()))
    assert any("300 of" in n and "estimates with 95% intervals" in n for n in result.notes)
    assert result.coverage["keys_sampled"] == 300 and result.coverage["stopped_by"] == "max_keys"
    row = result.coverage["prefixes"][0]
    assert row["keys_error"] > 0 and row["memory_bytes_estimated"] > 0 and row["biggest_key"]


def test_redis_py_reader_fallback_gives_the_same_sample(redis_data, monkeypatch):
    """Without redis-py's socket at hand, redis-py's own reader reads the same replies."""
    from analyzers.redis import resp

    def figures(keyspace):
        return {g["prefix"]: (g["keys_sampled"], g["types"], g["no_ttl"], g["memory_sum_bytes"], g["elements_max"])
                for g in keyspace["groups"]}
    fast = collect(redis_data.url())["keyspace"]
    original = resp.Pipe.__init__

    def without_socket(self, connection):
        original(self, connection)
        self.reader = None
    monkeypatch.setattr(resp.Pipe, "__init__", without_socket)
    slow = collect(redis_data.url())["keyspace"]
    assert figures(slow) == figures(fast) and slow["keys_sampled"] == fast["keys_sampled"]
    limited = _acl(redis_data, "t1only")["keyspace"]  # error replies come back as values, too
    assert limited["not_permitted_keys"] == limited["keys_sampled"] - 600


def test_full_scan_ignores_the_bounds(redis_data):
    ks = collect(redis_data.url(), scan_max_keys=10, scan_time_s=0, full_scan="true")["keyspace"]
    assert ks["complete"] and ks["full_scan"] and ks["keys_sampled"] == ks["dbsize"]


def test_pipeline_window_series_and_report_schema(redis_data):
    """`analyze --redis URL --sample 2s` through the pipeline: INFO series over the window, a valid report."""
    st = settings_for(redis_data.url(), sample_s=2.0)
    c = redis_data.client()
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            c.get("t1:cache:products::1")
            c.get("t1:cache:products::missing")
            time.sleep(0.002)
    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        snap, errors = pipeline.collect(st)
    finally:
        stop.set()
        worker.join()
    assert errors == [] and snap["targets"]["redis"]["status"] == "ok"
    section = snap["redis"]
    series = section["series"]
    assert len(series["t_s"]) == 5 and section["window"]["mode"] == "window"
    assert len(series["series"]["redis_keyspace_hits"]) == 5
    assert 'redis_commandstats_calls{cmd="get"}' in series["series"]
    d = section["deltas"]
    assert d["since_start"] is False and d["keyspace_hits"] > 10 and d["keyspace_misses"] > 10
    assert 0.3 < d["hit_ratio"] < 0.7 and d["ops_per_s"] > 0
    report = pipeline.analyze(json.loads(json.dumps(snap)), st)  # as --from-snapshot would
    jsonschema.validate(report, SCHEMA)
    assert {f["rule"] for f in report["findings"]} >= {"CACHE004", "CACHE006", "CACHE007"}


def test_headline(redis_data):
    src = RedisSource(redis_analyzer.conn.parse_target(redis_data.url()), redis_analyzer.limits(settings_for("x")))
    prev = {"redis_total_commands_processed": 100, "redis_keyspace_hits": 10, "redis_keyspace_misses": 10}
    cur = {"redis_total_commands_processed": 1334, "redis_keyspace_hits": 97, "redis_keyspace_misses": 23}
    assert src.headline(prev, cur, 1.0) == "redis 1,234 ops/s hit 87%"
    assert src.headline(None, {"redis_instantaneous_ops_per_sec": 5}, 0.0) == "redis 5 ops/s"
    assert src.headline(None, {}, 0.0) == ""


# --- ACL users ---------------------------------------------------------------------------------------------

def _acl(redis_data, user: str) -> dict:
    return collect(redis_data.url(f"{user}:{ACL_PASSWORD}"))


def test_the_documented_minimal_acl_user_can_do_everything(redis_data):
    from conftest import MINIMAL_ACL
    doc = (Path(__file__).resolve().parents[2] / "docs" / "redis.md").read_text()
    assert f"-@all {MINIMAL_ACL}" in doc
    section = _acl(redis_data, "perfadvisor")
    assert section["not_permitted"] == [] and section["errors"] == []
    assert section["keyspace"]["complete"] and section["info"] and section["config"]["maxmemory"] == "0"
    assert by_prefix(section)["big:hash:"].elements_max == 30_000


def test_user_without_info_gets_the_keyspace_sample(redis_data):
    section = _acl(redis_data, "noinfo")
    assert [e["acl_rule"] for e in section["not_permitted"]] == ["+info"]
    assert section["info"] is None and section["series"]["series"] == {}
    assert section["keyspace"]["complete"] and section["errors"] == []
    result = redis_analyzer.analyze(section, settings_for("x"))
    assert any("INFO not permitted" in n and "+info" in n for n in result.notes)
    assert result.coverage["not_permitted"][0]["command"] == "INFO"
    # CONFIG GET still says maxmemory is 0 on a cache; the size comes from the keyspace sample's MEMORY USAGE.
    (c4,) = [f for f in result.findings if f.rule == "CACHE004"]
    assert c4.evidence["sized_from"].startswith("the keyspace sample") and c4.evidence["sized_from_bytes"] > 5_000_000
    assert ACL_PASSWORD not in json.dumps(section)


def test_user_without_config_falls_back_to_info(redis_data):
    section = _acl(redis_data, "noconfig")
    assert [e["acl_rule"] for e in section["not_permitted"]] == ["+config|get"]
    assert section["config"] == {} and section["config_source"] == "INFO"
    result = redis_analyzer.analyze(section, settings_for("x"))
    cache004 = [f for f in result.findings if f.rule == "CACHE004"]
    assert cache004 and cache004[0].evidence["maxmemory_source"] == "INFO"


def test_user_without_memory_gets_counts_and_ttls(redis_data):
    section = _acl(redis_data, "nomemory")
    assert [e["acl_rule"] for e in section["not_permitted"]] == ["+memory|usage"]
    assert section["keyspace"]["capabilities"]["MEMORY USAGE"] == "not permitted"
    stats = by_prefix(section)
    assert stats["t1:cache:reports::"].no_ttl_share == 1.0 and stats["t1:cache:reports::"].keys_sampled == 200
    assert stats["t1:cache:reports::"].memory_bytes_estimated is None
    result = redis_analyzer.analyze(section, settings_for("x"))
    rules = {f.rule for f in result.findings}
    # Big keys by elements are still found (HLEN is permitted); the 2 MB string needs MEMORY USAGE.
    assert "CACHE006" in rules and [f.key for f in result.findings if f.rule == "CACHE007"] == ["big:hash:"]
    assert any("+memory|usage" in n for n in result.notes)


def test_user_without_scan(redis_data):
    section = _acl(redis_data, "noscan")
    assert [e["acl_rule"] for e in section["not_permitted"]] == ["+scan"]
    assert section["keyspace"]["groups"] == [] and section["keyspace"]["stopped_by"] == "not permitted"
    result = redis_analyzer.analyze(section, settings_for("x"))
    assert any("+scan" in n for n in result.notes)


def test_user_limited_to_some_keys(redis_data):
    section = _acl(redis_data, "t1only")
    ks = section["keyspace"]
    assert ks["not_permitted_keys"] == ks["keys_sampled"] - 600  # only t1:* keys are readable
    stats = by_prefix(section)
    assert stats["t1:cache:reports::"].no_ttl_share == 1.0
    assert stats["user:*:"].types == {"not permitted": 300} and stats["user:*:"].no_ttl_share is None
    notes = redis_analyzer.analyze(section, settings_for("x")).notes
    assert any("outside this ACL user's key patterns" in n for n in notes)


def test_config_renamed_away_and_another_database(redis_server):
    server = redis_server("--rename-command", "CONFIG", "")
    c = server.client()
    c.set("app:cache:a::1", "v", ex=100)
    server.client(db=1).set("other", "v")
    section = collect(server.url())
    (entry,) = section["not_permitted"]
    assert entry["command"] == "CONFIG GET" and entry["reason"] == "unknown command" and entry["acl_rule"] is None
    assert section["config_source"] == "INFO"
    notes = redis_analyzer.analyze(section, settings_for("x")).notes
    assert any("renamed or disabled with rename-command" in n for n in notes)
    assert any("other databases hold keys that were not sampled (db1: 1)" in n for n in notes)


# --- authentication, TLS -------------------------------------------------------------------------------------

def test_auth_required_and_refused(redis_auth):
    url = redis_auth.url()
    with pytest.raises(TargetError) as e:
        collect(url)
    assert str(e.value) == (f"redis {url}: authentication required — put the password in the URL "
                            "(redis://:PASSWORD@host:port/db or redis://USER:PASSWORD@host:port/db)")
    with pytest.raises(TargetError, match=r"authentication refused .* put the right password in the URL") as e:
        collect(redis_auth.url(":wrong-password"))
    assert "wrong-password" not in str(e.value) and "redis://:***@127.0.0.1" in str(e.value)


def test_auth_with_password_never_shows_it(redis_auth):
    st = settings_for(redis_auth.url(f":{PASSWORD}"), sample_s=0.5)
    snap, errors = pipeline.collect(st)
    assert errors == [] and snap["targets"]["redis"]["status"] == "ok"
    report = pipeline.analyze(snap, st)
    text = json.dumps(snap) + json.dumps(report)
    assert PASSWORD not in text and "redis://:***@127.0.0.1:31601/0" in text
    assert by_prefix(snap["redis"])["t2:cache:items::"].keys_sampled == 1


def test_tls(redis_tls):
    server, certs = redis_tls
    url = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={certs['ca']}"
    section = collect(url)
    assert section["tls"] is True and by_prefix(section)["t3:cache:tls::"].keys_sampled == 1
    with pytest.raises(TargetError, match="TLS failed .*ssl_ca_certs"):
        collect(f"rediss://127.0.0.1:{server.port}/0")  # the test CA is not trusted by the system
    assert by_prefix(collect(f"rediss://127.0.0.1:{server.port}/0?ssl_cert_reqs=none"))["t3:cache:tls::"]
    with pytest.raises(TargetError, match="redis redis://127.0.0.1:31602/0: (the server closed|connection)"):
        collect(f"redis://127.0.0.1:{server.port}/0", timeout_s=2)  # plain text to a TLS port


# --- bad input and faults -------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:1/0", "scheme must be redis:// or rediss://"),
    ("redis://127.0.0.1:1/abc", "database number"),
    ("redis://127.0.0.1:99999/0", "Port out of range"),
    ("redis://127.0.0.1:1/0?ssl_ca_certs=x", "only apply to rediss://"),
    ("rediss://127.0.0.1:1/0?sslcareqs=none", "unknown option(s) sslcareqs"),
    ("", "empty"),
])
def test_bad_urls(url, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        redis_analyzer.sources(settings_for(url))


@pytest.mark.parametrize("opts, message", [
    ({"scan_max_keys": 0}, "scan_max_keys"), ({"scan_time_s": "soon"}, "scan_time_s"),
    ({"full_scan": "maybe"}, "full_scan"), ({"timeout_s": -1}, "timeout_s"), ({"scan_max_keys": 1.5}, "whole"),
])
def test_bad_options(opts, message):
    with pytest.raises(ConfigError, match=message):
        redis_analyzer.sources(settings_for("redis://127.0.0.1:1/0", **opts))


def test_connection_refused():
    url = f"redis://:pw@127.0.0.1:{PORT_CLOSED}/0"
    with pytest.raises(TargetError) as e:
        collect(url)
    assert str(e.value) == (f"redis redis://:***@127.0.0.1:{PORT_CLOSED}/0: connection refused — is "
                            f"redis-server running on 127.0.0.1:{PORT_CLOSED}?")
    snap, errors = pipeline.collect(settings_for(url, sample_s=0.5))
    assert snap["targets"]["redis"]["status"] == "error" and "connection refused" in errors[0]


def test_paused_server_times_out(redis_server):
    server = redis_server()
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(TargetError, match=r"no answer within 0.5 s \(timeout_s\)"):
            collect(server.url(), timeout_s=0.5)
        assert time.monotonic() - t0 < 5
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)


def test_server_killed_mid_window_keeps_its_samples(redis_server):
    server = redis_server()
    server.client().set("t4:cache:x::1", "v", ex=100)
    st = settings_for(server.url(), sample_s=3.0)
    threading.Timer(1.2, server.kill).start()
    snap, errors = pipeline.collect(st)
    assert snap["targets"]["redis"]["status"] == "ok"
    section = snap["redis"]
    kept = len(section["series"]["t_s"])
    assert 2 <= kept <= 4
    assert len(errors) == 1 and errors == section["errors"]
    assert errors[0].startswith(f"redis {server.url()}: ")
    assert f"failed 1 s into the window; {kept} sample(s) kept" in errors[0] or \
        f"failed 2 s into the window; {kept} sample(s) kept" in errors[0]
    assert section["keyspace"] is None
    report = pipeline.analyze(snap, st)
    assert report["targets"]["redis"]["status"] == "ok"  # what was sampled is analysed


def test_window_source_directly(redis_data):
    """The Source protocol in a window with another source: both sample on one clock."""
    srcs = redis_analyzer.sources(settings_for(redis_data.url(), scan_max_keys=50))
    window = sampling.run_window(srcs + redis_analyzer.sources(settings_for(redis_data.url())), 1.0, 0.5)
    assert [len(r.samples) for r in window.recordings] == [3, 3]
    assert window.recordings[0].closed["keyspace"]["keys_sampled"] == 50
