"""The Redis-only cache rules: pure functions of the redis snapshot section. See docs/rules/CACHE00x.md.

CACHE004 no-maxmemory · CACHE005 eviction-policy-on-cache · CACHE006 cache-keys-without-ttl ·
CACHE007 big-keys · CACHE008 cache-evictions · CACHE009 memory-near-maxmemory.

(CACHE001–003 are the cross-source cache rules in analyzers/cache.)
"""

from __future__ import annotations

import math
from typing import Any

from advisor.config import Settings
from advisor.fmt import fmt_bytes
from advisor.model import Finding
from analyzers.redis.facts import ServerFacts, cache_evidence, data_prefixes, is_cache_prefix
from analyzers.redis.keyspace import PrefixStats

AREA = "redis"
MIB = 1024 * 1024

#: (name, default, source) of every threshold; perfadvisor.toml [thresholds.redis] overrides them.
THRESHOLDS = (
    ("maxmemory_headroom_share", 0.5,
     "perfadvisor's choice: room for the cache to grow 50% past the used_memory measured before it evicts"),
    ("maxmemory_min_mb", 64, "perfadvisor's choice: a floor so a nearly empty cache is not capped at a few MB"),
    ("maxmemory_host_share", 0.75,
     "AWS ElastiCache reserves 25% of a node's memory (reserved-memory-percent) for fork copy-on-write, "
     "buffers and fragmentation"),
    ("no_ttl_min_share", 0.05, "perfadvisor's choice: one key in twenty of a cache prefix without a TTL"),
    ("big_key_bytes", 1_048_576,
     "1 MB: the common big-key line for one key (e.g. Alibaba Cloud / Huawei DCS big-key guidance); redis-cli "
     "--bigkeys/--memkeys report the biggest keys without a line"),
    ("big_key_elements", 5_000, "Huawei DCS / Alibaba Cloud big-key guidance: more than 5,000 elements"),
    ("maxmemory_used_share", 0.9,
     "cloud alarms on memory at 80-90% of the limit (AWS ElastiCache monitoring best practices)"),
    ("min_evicted_keys", 1, "any eviction in the window: evicted_keys counts keys removed under maxmemory"),
)

REF_EVICTION = "https://redis.io/docs/latest/develop/reference/eviction/"
REF_MEMORY = "https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/memory-optimization/"
REF_EXPIRE = "https://redis.io/docs/latest/commands/expire/"
REF_SPRING = "https://docs.spring.io/spring-boot/reference/io/caching.html#io.caching.provider.redis"
REF_BIGKEYS = "https://redis.io/docs/latest/develop/tools/cli/#scan-for-big-keys-and-memory-usage"
REF_UNLINK = "https://redis.io/docs/latest/commands/unlink/"


def label(prefix: str) -> str:
    """A prefix as shown and as a finding key: the group of keys without ``:`` is "(no prefix)"."""
    return prefix or "(no prefix)"


def _t(settings: Settings, name: str) -> Any:
    default = next(d for n, d, _ in THRESHOLDS if n == name)
    return settings.threshold(AREA, name, default)


def config_action(lines: list[str]) -> dict[str, Any]:
    """The action for redis.conf lines: {"kind": "config", "redis_conf": [...], "where": …, "config_set":
    the same lines as CONFIG SET commands (they do not persist without CONFIG REWRITE)}."""
    return {"kind": "config", "redis_conf": lines, "where": "redis.conf or CONFIG SET",
            "config_set": ["CONFIG SET " + line for line in lines]}


def recommend_maxmemory_mb(base_bytes: int, settings: Settings, host_bytes: int | None) -> tuple[int, str]:
    """(N MB, how it was computed): base × (1 + maxmemory_headroom_share), rounded up to a multiple of 16 MB,
    at least maxmemory_min_mb, at most maxmemory_host_share of the host's memory (INFO total_system_memory)."""
    headroom = float(_t(settings, "maxmemory_headroom_share"))
    floor_mb = int(_t(settings, "maxmemory_min_mb"))
    need_mb = base_bytes * (1 + headroom) / MIB
    mb = max(floor_mb, int(math.ceil(need_mb / 16.0)) * 16)
    how = (f"{fmt_bytes(base_bytes)} × {1 + headroom:g} ({headroom:.0%} headroom) = {need_mb:,.1f} MB, rounded up "
           f"to a multiple of 16 MB, at least {floor_mb} MB")
    if host_bytes:
        share = float(_t(settings, "maxmemory_host_share"))
        cap_mb = int(host_bytes * share / MIB) // 16 * 16
        if 0 < cap_mb < mb:
            how += (f"; capped at {share:.0%} of the host's {fmt_bytes(host_bytes)} (total_system_memory) = "
                    f"{cap_mb} MB: the cache needs more memory than this host should give it")
            mb = cap_mb
        else:
            how += f"; within {share:.0%} of the host's {fmt_bytes(host_bytes)} (in a container, check its limit)"
    return mb, how


def recommended_policy(stats: list[PrefixStats], facts: ServerFacts) -> tuple[str, str]:
    """(policy, why) from Redis' eviction guidance (REF_EVICTION): allkeys-lru when every key is a cache entry,
    volatile-lru when keys without a TTL that are not cache entries share the instance."""
    data = data_prefixes(stats)
    if data:
        names = ", ".join(f"`{label(s.prefix)}`" + (" (stream)" if s.types.get("stream") else "")
                          for s in data[:5])
        return "volatile-lru", (f"keys without a TTL that are not cache entries share this instance ({names}); "
                                "volatile-lru evicts only keys with a TTL, so they are never evicted")
    if not stats and facts.db_keys and (facts.db_expires or 0) < facts.db_keys:
        return "volatile-lru", ("some keys have no TTL and the keyspace was not sampled, so they may be data "
                                "rather than cache entries; volatile-lru never evicts them")
    return "allkeys-lru", "every key sampled is a cache entry; allkeys-lru evicts the least recently used ones"


def _no_ttl_cache(stats: list[PrefixStats]) -> list[PrefixStats]:
    return [s for s in stats if is_cache_prefix(s) and s.no_ttl_keys > 0]


def _near_share(facts: ServerFacts) -> float | None:
    if not facts.maxmemory_bytes or facts.used_memory_bytes is None:
        return None
    return facts.used_memory_bytes / facts.maxmemory_bytes


def cache004_no_maxmemory(facts: ServerFacts, stats: list[PrefixStats], settings: Settings
                          ) -> tuple[list[Finding], list[str]]:
    """maxmemory 0 on a server used as a cache. Verified (the value read); the size is a heuristic."""
    if facts.maxmemory_bytes != 0:
        return [], []
    why = cache_evidence(facts, stats)
    if not why:
        return [], ["Redis has no maxmemory, but nothing sampled looks like a cache (no TTLs, no Spring Cache "
                    "keys): no maxmemory advice for a data store"]
    used, used_from = facts.used_memory_bytes, "used_memory"
    if used is None:  # INFO not permitted: the keyspace sample's MEMORY USAGE, scaled to the database
        used = int(sum(s.memory_bytes_estimated or 0 for s in stats))
        used_from = "the keyspace sample's estimated MEMORY USAGE (INFO not permitted)"
    mb, how = recommend_maxmemory_mb(used, settings, facts.total_system_memory_bytes)
    policy, policy_why = recommended_policy(stats, facts)
    unbounded = _no_ttl_cache(stats)
    severity = "high" if unbounded or not facts.db_expires else "medium"
    detail = (f"maxmemory is 0 ({facts.maxmemory_source}): Redis never evicts and grows until the host or "
              f"container runs out of memory and the process is killed, taking the whole cache (and any data "
              f"beside it) with it. The server is used as a cache: {'; '.join(why)}. Memory in use "
              f"({used_from}): {fmt_bytes(used)}. Size (heuristic): {how}. Policy: {policy}, because {policy_why}.")
    if unbounded:
        detail += (f" {len(unbounded)} cache prefix(es) hold keys without a TTL "
                   f"({', '.join('`' + label(s.prefix) + '`' for s in unbounded[:5])}): "
                   + ("with volatile-lru they are never evicted either — give them a TTL (CACHE006)."
                      if policy == "volatile-lru" else "allkeys-lru evicts them under the limit; see CACHE006."))
    if facts.persistence:
        detail += (" RDB/AOF persistence is on: a fork can need up to twice used_memory while it writes, so "
                   "keep the host's memory above maxmemory accordingly.")
    lines = [f"maxmemory {mb}mb", f"maxmemory-policy {policy}"]
    return [Finding(
        rule="CACHE004", name="no-maxmemory", area=AREA, severity=severity, confidence="verified",
        title=f"Redis has no maxmemory: set maxmemory {mb}mb with {policy}",
        detail=detail, key="maxmemory",
        evidence={**facts.evidence(), "cache_evidence": why, "sized_from": used_from, "sized_from_bytes": used,
                  "recommended_maxmemory_mb": mb, "sizing": how,
                  "sizing_confidence": "heuristic", "recommended_policy": policy, "policy_reason": policy_why,
                  "prefixes_without_ttl": [s.prefix for s in unbounded]},
        action=config_action(lines), references=(REF_EVICTION, REF_MEMORY))], []


def cache005_eviction_policy(facts: ServerFacts, stats: list[PrefixStats], settings: Settings) -> list[Finding]:
    """noeviction on a cache, or a volatile-* policy while cache keys without a TTL exist (when maxmemory
    is 0, CACHE004 sets the policy with the limit)."""
    policy = facts.maxmemory_policy
    if not facts.maxmemory_bytes or not policy or not cache_evidence(facts, stats):
        return []
    near = _near_share(facts)
    near_line = float(_t(settings, "maxmemory_used_share"))
    unbounded = _no_ttl_cache(stats)
    rec, rec_why = recommended_policy(stats, facts)
    if policy == "noeviction":
        severity = "high" if (near is not None and near >= near_line) or facts.oom_errors else "medium"
        detail = (f"maxmemory-policy is noeviction with maxmemory {fmt_bytes(facts.maxmemory_bytes)}: once "
                  "used_memory reaches the limit Redis refuses every write with an OOM error, so the cache "
                  f"stops taking new entries and the application's cache puts fail. Use {rec}: {rec_why}.")
        if near is not None:
            detail += f" used_memory is {near:.0%} of maxmemory now."
        lines = [f"maxmemory-policy {rec}"]
        title = f"maxmemory-policy noeviction on a cache: use {rec}"
    elif policy.startswith("volatile-") and unbounded:
        severity = "medium"
        names = ", ".join(f"`{label(s.prefix)}`" for s in unbounded[:5])
        detail = (f"maxmemory-policy is {policy}: only keys with a TTL can be evicted, but cache keys without a "
                  f"TTL exist under {names}. They stay until deleted, and once they fill maxmemory nothing can be "
                  "evicted and writes fail with OOM.")
        if rec == "allkeys-lru":
            detail += " Every key sampled is a cache entry, so allkeys-lru is safe here."
            lines = ["maxmemory-policy allkeys-lru"]
        else:
            detail += f" Switching to allkeys-lru would evict data keys too ({rec_why}): give the cache keys a TTL (CACHE006)."
            lines = []
        title = f"maxmemory-policy {policy} cannot evict cache keys without a TTL"
    else:
        return []
    action = config_action(lines) if lines else {
        "kind": "code_change", "summary": "Give the cache keys a TTL (see CACHE006) so that "
        f"{policy} can evict them", "snippet": "spring.cache.redis.time-to-live=<duration>"}
    return [Finding(
        rule="CACHE005", name="eviction-policy-on-cache", area=AREA, severity=severity, confidence="verified",
        title=title, detail=detail, key="maxmemory-policy",
        evidence={**facts.evidence(), "used_share_of_maxmemory": near, "oom_errors": facts.oom_errors,
                  "prefixes_without_ttl": [s.prefix for s in unbounded], "recommended_policy": rec},
        action=action, references=(REF_EVICTION,))]


def _count(s: PrefixStats, what: str = "keys") -> str:
    if s.exact:
        return f"{s.keys_estimated:,.0f} {what}"
    return (f"≈{s.keys_estimated:,.0f} {what} (95%: {s.keys_estimated_low:,.0f}–{s.keys_estimated_high:,.0f}, "
            f"from {s.keys_sampled:,} sampled)")


def cache006_keys_without_ttl(facts: ServerFacts, stats: list[PrefixStats], settings: Settings) -> list[Finding]:
    """Per cache prefix (Spring ``name::`` or a prefix where some keys have a TTL): keys that never expire."""
    min_share = float(_t(settings, "no_ttl_min_share"))
    policy = facts.maxmemory_policy or "unknown"
    evicts = bool(facts.maxmemory_bytes) and policy.startswith("allkeys-")
    out = []
    for s in stats:
        if not is_cache_prefix(s) or not s.no_ttl_keys or s.no_ttl_share is None or s.no_ttl_share < min_share:
            continue
        name = f" (cache `{s.spring_cache_name}`)" if s.spring_cache_name else ""
        est_no_ttl = s.keys_estimated * s.no_ttl_share
        detail = (f"{s.no_ttl_keys:,} of {s.keys_with_ttl + s.no_ttl_keys:,} sampled keys under `{label(s.prefix)}`{name} "
                  f"have no TTL (PTTL -1; {s.no_ttl_share:.0%}, 95%: {s.no_ttl_share_low:.0%}–"
                  f"{s.no_ttl_share_high:.0%}); the prefix holds {_count(s)}, so about {est_no_ttl:,.0f} keys "
                  "never expire. A cache entry without a TTL is served until something deletes it — stale after "
                  "the data behind it changes — and ")
        detail += ("is only removed when memory runs out (allkeys eviction)." if evicts else
                   "is never removed by Redis here ("
                   + (f"maxmemory {fmt_bytes(facts.maxmemory_bytes)}, policy {policy}" if facts.maxmemory_bytes
                      else "no maxmemory") + "), so the prefix grows without bound.")
        if s.kind == "spring":
            detail += (" Spring Boot's spring.cache.redis.time-to-live applies to every Redis cache unless the "
                       "application configures caches one by one (RedisCacheManagerBuilderCustomizer); the "
                       "cross-source TTL rule suggests a value when Actuator metrics are given.")
            snippet = ("spring.cache.redis.time-to-live=<duration>   # every Redis cache\n"
                       "# or for this cache only, in a RedisCacheManagerBuilderCustomizer:\n"
                       f"# builder.withCacheConfiguration(\"{s.spring_cache_name or 'name'}\", "
                       "config.entryTtl(<duration>))")
            summary = f"Give the cache {s.spring_cache_name or s.prefix} a time-to-live"
        else:
            snippet = "SET key value EX <seconds>   # or EXPIRE key <seconds> right after writing"
            summary = f"Write the keys under {label(s.prefix)} with a TTL"
        out.append(Finding(
            rule="CACHE006", name="cache-keys-without-ttl", area=AREA,
            severity="low" if evicts else "medium", confidence="verified",
            title=f"{_count(s, 'keys')} under `{label(s.prefix)}`{name}: {s.no_ttl_share:.0%} never expire",
            detail=detail, key=label(s.prefix),
            evidence={"prefix": s.to_dict(), "maxmemory": facts.maxmemory_bytes, "maxmemory_policy": policy},
            action={"kind": "code_change", "summary": summary, "snippet": snippet},
            references=(REF_EXPIRE, REF_SPRING) if s.kind == "spring" else (REF_EXPIRE,)))
    return out


def cache007_big_keys(stats: list[PrefixStats], settings: Settings) -> list[Finding]:
    """Per prefix: sampled keys at or over big_key_bytes (MEMORY USAGE) or big_key_elements."""
    max_bytes, max_elems = int(_t(settings, "big_key_bytes")), int(_t(settings, "big_key_elements"))
    out = []
    for s in stats:
        big = [b for b in s.biggest if (b.memory_bytes or 0) >= max_bytes or (b.elements or 0) >= max_elems]
        if not big:
            continue
        huge = any((b.memory_bytes or 0) >= 10 * max_bytes or (b.elements or 0) >= 10 * max_elems for b in big)
        listed = "; ".join(f"`{b.key}` ({b.type}, {fmt_bytes(b.memory_bytes)}"
                           + (f", {b.elements:,} elements" if b.elements is not None else "") + ")" for b in big[:5])
        detail = (f"Big keys under `{label(s.prefix)}`: {listed}. Thresholds: {fmt_bytes(max_bytes)} or {max_elems:,} "
                  "elements. Reading, writing, evicting or deleting a big key blocks Redis' single thread for "
                  "as long as it takes (DEL of a large collection, HGETALL, SMEMBERS), moves that much over the "
                  "network on every cache hit, and an eviction frees it all at once.")
        if s.kind == "spring" or is_cache_prefix(s):
            detail += " For a cache: cache smaller units (one entry per item rather than a whole list or page)."
        out.append(Finding(
            rule="CACHE007", name="big-keys", area=AREA, severity="medium" if huge else "low",
            confidence="verified",
            title=f"{len(big)} big key(s) under `{label(s.prefix)}` (largest "
                  f"{fmt_bytes(max((b.memory_bytes or 0) for b in big))})",
            detail=detail, key=label(s.prefix),
            evidence={"prefix": s.prefix, "big_keys": [vars(b) for b in big], "big_key_bytes": max_bytes,
                      "big_key_elements": max_elems, "keys_sampled": s.keys_sampled},
            action={"kind": "code_change", "summary": "Split big values into smaller keys (or cache per item); "
                    "iterate collections with HSCAN/SSCAN/ZSCAN instead of reading them whole; delete with UNLINK",
                    "snippet": "lazyfree-lazy-eviction yes\nlazyfree-lazy-user-del yes   # free big values off "
                    "the main thread"},
            references=(REF_BIGKEYS, REF_UNLINK)))
    return out


def cache008_evictions(facts: ServerFacts, settings: Settings) -> list[Finding]:
    """Keys evicted under maxmemory during the window (since start in since_start mode)."""
    d = facts.deltas
    evicted = d.get("evicted_keys")
    if evicted is None or evicted < int(_t(settings, "min_evicted_keys")):
        return []
    expired = d.get("expired_keys") or 0.0
    since = d.get("since_start")
    when = ("since the server started" if since else f"in the {d.get('window_s') or 0:.0f} s window")
    dominant = evicted >= expired
    severity = "low" if since else ("medium" if dominant else "low")
    base = facts.maxmemory_bytes or facts.used_memory_bytes or 0
    mb, how = recommend_maxmemory_mb(base, settings, facts.total_system_memory_bytes)
    hit = d.get("hit_ratio")
    detail = (f"{evicted:,.0f} keys were evicted {when} (evicted_keys) against {expired:,.0f} that expired "
              f"(expired_keys): maxmemory {fmt_bytes(facts.maxmemory_bytes or 0)} "
              f"({facts.maxmemory_policy or 'unknown policy'}) pushes entries out "
              + ("before their TTL ends, so memory, not the TTL, decides how long an entry lives. "
                 if dominant else "besides the ones that expire. ")
              + (f"Hit ratio {hit:.1%}. " if hit is not None else "")
              + f"A larger maxmemory (heuristic: {how}) keeps more entries if the host has the memory; check "
              "evicted_keys and the hit ratio again after the change.")
    return [Finding(
        rule="CACHE008", name="cache-evictions", area=AREA, severity=severity, confidence="verified",
        title=f"{evicted:,.0f} keys evicted {when}" + (" — more than expired" if dominant else ""),
        detail=detail, key="evicted_keys",
        evidence={**facts.evidence(), "evicted_keys": evicted, "expired_keys": expired, "hit_ratio": hit,
                  "since_start": since, "window_s": d.get("window_s"), "recommended_maxmemory_mb": mb,
                  "sizing": how, "sizing_confidence": "heuristic"},
        action=config_action([f"maxmemory {mb}mb"]), references=(REF_EVICTION,))]


def cache009_memory_near_maxmemory(facts: ServerFacts, settings: Settings) -> list[Finding]:
    """used_memory at or over maxmemory_used_share of maxmemory where eviction cannot make room for every
    write (noeviction, a volatile-* policy) or writes were already refused (OOM errors)."""
    near = _near_share(facts)
    line = float(_t(settings, "maxmemory_used_share"))
    policy = facts.maxmemory_policy or "unknown"
    oom = facts.oom_errors or 0
    if near is None or near < line:
        return []
    if policy.startswith("allkeys-") and not oom:
        return []  # a full cache that evicts is working as designed (CACHE008 reports the evictions)
    mb, how = recommend_maxmemory_mb(facts.used_memory_bytes or 0, settings, facts.total_system_memory_bytes)
    severity = "high" if oom or policy == "noeviction" else "medium"
    detail = (f"used_memory reached {fmt_bytes(facts.used_memory_bytes)}, {near:.0%} of maxmemory "
              f"{fmt_bytes(facts.maxmemory_bytes)} (threshold {line:.0%}), with maxmemory-policy {policy}. ")
    detail += (f"{oom:,.0f} writes were refused with OOM errors (errorstat_OOM). " if oom else "")
    detail += ("Under noeviction every write fails once the limit is reached. " if policy == "noeviction" else
               "Only keys with a TTL can be evicted; when they are not enough, writes fail with OOM. ")
    detail += f"Raise maxmemory (heuristic: {how}) or let eviction make room (CACHE005)."
    return [Finding(
        rule="CACHE009", name="memory-near-maxmemory", area=AREA, severity=severity, confidence="verified",
        title=f"Redis memory at {near:.0%} of maxmemory with {policy}",
        detail=detail, key="maxmemory",
        evidence={**facts.evidence(), "used_share_of_maxmemory": near, "oom_errors": oom,
                  "recommended_maxmemory_mb": mb, "sizing": how, "sizing_confidence": "heuristic"},
        action=config_action([f"maxmemory {mb}mb"]), references=(REF_EVICTION, REF_MEMORY))]


def findings(facts: ServerFacts, stats: list[PrefixStats], settings: Settings) -> tuple[list[Finding], list[str]]:
    """Every Redis-only finding, and notes."""
    out, notes = cache004_no_maxmemory(facts, stats, settings)
    out += cache005_eviction_policy(facts, stats, settings)
    out += cache006_keys_without_ttl(facts, stats, settings)
    out += cache007_big_keys(stats, settings)
    out += cache008_evictions(facts, settings)
    out += cache009_memory_near_maxmemory(facts, settings)
    return out, notes
