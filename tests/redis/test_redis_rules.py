"""CACHE004–CACHE009 on real servers set up each way, a fixed server without false alarms, thresholds, and the
estimates of a bounded sample against the truth of a full scan."""

from __future__ import annotations

import threading
import time

import redis

from advisor import pipeline
from advisor.config import Settings
from analyzers import redis as redis_analyzer
from analyzers.redis.keyspace import prefix_stats
from analyzers.redis.rules import THRESHOLDS


def run(url: str, sample_s: float | None = None, thresholds: dict | None = None, during=None, **opts):
    """(findings by rule, section, AreaResult) of collect + analyze; `during` runs in a thread while the
    window samples."""
    st = Settings(targets={"redis": {"url": url, **opts}}, thresholds={"redis": thresholds or {}},
                  sample_s=sample_s, sample_interval_s=0.5)
    stop = threading.Event()
    worker = threading.Thread(target=during, args=(stop,)) if during else None
    if worker:
        worker.start()
    try:
        section = redis_analyzer.collect(st) if sample_s is None else pipeline.collect(st)[0]["redis"]
    finally:
        stop.set()
        if worker:
            worker.join()
    result = redis_analyzer.analyze(section, st)
    found: dict[str, list] = {}
    for f in result.findings:
        found.setdefault(f.rule, []).append(f)
    return found, section, result


def test_planted_keyspace(redis_data):
    found, section, _ = run(redis_data.url())
    assert set(found) == {"CACHE004", "CACHE006", "CACHE007"}
    (c4,) = found["CACHE004"]
    assert c4.severity == "high" and c4.confidence == "verified" and c4.key == "maxmemory"
    # keys without a TTL that are not cache entries (hashes, a stream) share the instance → volatile-lru;
    # used_memory is a few MB, so the floor of 64 MB applies.
    assert c4.action["redis_conf"] == ["maxmemory 64mb", "maxmemory-policy volatile-lru"]
    assert c4.action["kind"] == "config" and c4.action["where"] == "redis.conf or CONFIG SET"
    assert c4.evidence["maxmemory"] == 0 and c4.evidence["sizing_confidence"] == "heuristic"
    assert "`jobs:` (stream)" in c4.detail and "t1:cache:reports::" in c4.detail
    assert [f.key for f in found["CACHE006"]] == ["t1:cache:reports::"]
    assert "cache `reports`" in found["CACHE006"][0].title and found["CACHE006"][0].severity == "medium"
    assert sorted(f.key for f in found["CACHE007"]) == ["big:", "big:hash:"]
    ids = sorted(f.id for fs in found.values() for f in fs)
    again, _, _ = run(redis_data.url())
    assert sorted(f.id for fs in again.values() for f in fs) == ids  # stable ids across runs


def _cache_only(c: redis.Redis, n: int = 200, ttl: bool = True) -> None:
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"app:cache:items::{i}", "v" * 100, ex=600 if ttl else None)
        p.set(f"catalog::{i}", "c" * 100, ex=300 if ttl else None)
    p.execute()


def test_fixed_server_has_no_findings(redis_server):
    server = redis_server("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    c = server.client()
    _cache_only(c)
    c.set("app:cache:items::stale", "v")  # 1 of 201 without a TTL: under no_ttl_min_share

    def reads(stop):
        while not stop.is_set():
            c.get("app:cache:items::1")
            time.sleep(0.005)
    found, section, result = run(server.url(), sample_s=1.0, during=reads)
    assert found == {}, [f.title for fs in found.values() for f in fs]
    assert section["deltas"]["keyspace_hits"] > 0
    # The same keys, all without a TTL, are flagged (allkeys eviction: low).
    found, _, _ = run(server.url(), thresholds={"no_ttl_min_share": 0.001})
    assert [(f.key, f.severity) for f in found["CACHE006"]] == [("app:cache:items::", "low")]


def test_key_bound_below_one_scan_call_is_not_complete(redis_server):
    server = redis_server()
    _cache_only(server.client(), n=100)  # 200 keys: one SCAN call returns them all
    _, section, _ = run(server.url(), scan_max_keys=50)
    ks = section["keyspace"]
    assert ks["keys_sampled"] == 50 and ks["stopped_by"] == "max_keys" and not ks["complete"]
    assert not any(s.exact for s in prefix_stats(section))


def test_data_store_without_ttls_gets_no_maxmemory_advice(redis_server):
    server = redis_server()
    c = server.client()
    for i in range(50):
        c.hset(f"account:{i}", mapping={"balance": i})
    found, _, result = run(server.url())
    assert found == {}
    assert any("nothing sampled looks like a cache" in n for n in result.notes)


def test_only_cache_keys_get_allkeys_lru(redis_server):
    server = redis_server()
    _cache_only(server.client())
    found, _, _ = run(server.url())
    (c4,) = found["CACHE004"]
    assert c4.action["redis_conf"][1] == "maxmemory-policy allkeys-lru" and c4.severity == "medium"
    # A bigger dataset is sized from used_memory with headroom.
    found, _, _ = run(server.url(), thresholds={"maxmemory_min_mb": 0, "maxmemory_headroom_share": 1.0})
    used = found["CACHE004"][0].evidence["used_memory"]
    mb = int(found["CACHE004"][0].action["redis_conf"][0].split()[1].removesuffix("mb"))
    assert mb % 16 == 0 and used * 2 / 2**20 <= mb < used * 2 / 2**20 + 16


def _fill_until_oom(c: redis.Redis) -> int:
    refused = 0
    for i in range(20_000):
        try:
            c.set(f"app:cache:fill::{i}", "x" * 1000, ex=3600)
        except redis.exceptions.OutOfMemoryError:
            refused += 1
            if refused >= 3:
                break
    return refused


def test_noeviction_near_maxmemory(redis_server):
    server = redis_server("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    assert _fill_until_oom(server.client()) == 3
    found, _, _ = run(server.url())
    (c5,) = found["CACHE005"]
    assert c5.severity == "high" and c5.action["redis_conf"] == ["maxmemory-policy allkeys-lru"]
    (c9,) = found["CACHE009"]
    assert c9.severity == "high" and c9.evidence["oom_errors"] == 3 and c9.evidence["used_share_of_maxmemory"] > 0.9
    assert c9.action["redis_conf"][0].startswith("maxmemory ")
    assert "CACHE004" not in found


def test_volatile_policy_with_cache_keys_without_ttl(redis_server):
    server = redis_server("--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru")
    c = server.client()
    _cache_only(c, ttl=False)
    found, _, _ = run(server.url())
    (c5,) = found["CACHE005"]
    assert c5.action["redis_conf"] == ["maxmemory-policy allkeys-lru"]  # nothing but cache keys here
    c.xadd("app:events", {"k": "v"})  # now a stream shares the instance: allkeys-lru would evict it
    found, _, _ = run(server.url())
    (c5,) = found["CACHE005"]
    assert c5.action["kind"] == "code_change" and "CACHE006" in c5.detail


def test_evictions_in_the_window(redis_server):
    server = redis_server("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
    c = server.client()

    def writes(stop):
        i = 0
        while not stop.is_set():
            c.set(f"app:cache:pages::{i}", "p" * 2000, ex=3600)
            i += 1
    found, section, _ = run(server.url(), sample_s=1.5, during=writes)
    (c8,) = found["CACHE008"]
    assert section["deltas"]["evicted_keys"] > 0 and c8.evidence["evicted_keys"] == section["deltas"]["evicted_keys"]
    assert c8.severity == "medium" and "more than expired" in c8.title
    assert c8.action["redis_conf"] == ["maxmemory 64mb"]
    assert "CACHE009" not in found  # a full allkeys-lru cache that evicts works as designed


def test_threshold_overrides_and_listing(redis_data):
    found, _, _ = run(redis_data.url(), thresholds={"big_key_bytes": 50 * 2**20, "big_key_elements": 100_000})
    assert "CACHE007" not in found
    assert {name for name, _, _ in THRESHOLDS} == {name for name, _, _ in redis_analyzer.THRESHOLDS}
    assert all(isinstance(source, str) and source for _, _, source in THRESHOLDS)
    pipeline.check_thresholds(Settings(thresholds={"redis": {"big_key_bytes": 10}}))


def test_bounded_sample_estimates_cover_the_truth(redis_server):
    """60,000 keys in three prefixes; a 6,000-key sample estimates each prefix's keys and memory within its
    interval (checked at 99.9%: 3.29 standard errors, so the test fails by chance about once in 1,000 runs
    per figure)."""
    server = redis_server("--enable-debug-command", "yes")
    c = server.client()
    for prefix, count, size in (("alpha", 30_000, 100), ("beta", 20_000, 400), ("gamma", 10_000, 1500)):
        c.execute_command("DEBUG", "POPULATE", count, prefix, size)
    _, full, _ = run(server.url(), full_scan=True)
    truth = {s.prefix: s for s in prefix_stats(full)}
    assert truth["alpha:"].keys_sampled == 30_000 and truth["alpha:"].exact
    _, sample, _ = run(server.url(), scan_max_keys=6000)
    assert sample["keyspace"]["keys_sampled"] == 6000
    widen = 3.29 / 1.96
    for s in prefix_stats(sample):
        t = truth[s.prefix]
        assert not s.exact and s.keys_estimated_low <= s.keys_estimated <= s.keys_estimated_high
        assert abs(s.keys_estimated - t.keys_sampled) <= widen * s.keys_estimated_error, s.prefix
        assert abs(s.memory_bytes_estimated - t.memory_bytes_sampled) <= widen * s.memory_bytes_error, s.prefix
