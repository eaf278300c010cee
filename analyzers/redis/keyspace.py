"""Per-prefix figures of the keyspace sample, with their sampling error. A pure function of the snapshot's
redis section; the cross-source cache rules read Redis' keys through `prefix_stats` only.

Units: counts of keys, TTLs in seconds, memory in bytes (MEMORY USAGE: the key, its value and allocator
overhead; with SAMPLES n, an estimate for aggregates from n nested values).

Estimates. A bounded SCAN returns keys in hash-table order, independent of their names, so the n keys
sampled out of N (DBSIZE) are treated as a simple random sample without replacement:

- keys under a prefix: N × k/n, with a 95% Wilson score interval on the share k/n (Wilson 1927; Agresti &
  Coull 1998, "Approximate is better than exact for interval estimation of binomial proportions"), its z
  scaled by the finite-population correction √((N−n)/(N−1)) so that a complete scan has no error;
- memory under a prefix: the domain total N/n × Σ y (y = a key's MEMORY USAGE, 0 for keys of other
  prefixes) with standard error N·√((1−n/N)·s²/n), s² the sample variance of y over all n keys
  (Cochran, *Sampling Techniques*, 3rd ed. 1977, §2.13 on domains of study); the interval is ±1.96 SE,
  never below the bytes actually measured;
- the share of keys without a TTL: Wilson interval over the prefix's keys whose TTL was read.

Keys under a prefix whose memory could not be read (an ACL key pattern that does not cover them) are
counted with the prefix's mean; keys that vanished between SCAN and the lookup count in the key estimate
(they were keys when scanned) but not in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: z for a two-sided 95% interval.
Z95 = 1.959964


@dataclass(frozen=True)
class TtlSummary:
    """TTLs (s) of a prefix's sampled keys that have one (nearest-rank quantiles)."""

    min_s: float
    p50_s: float
    p90_s: float
    max_s: float

    def to_dict(self) -> dict[str, float]:
        return {"min": self.min_s, "p50": self.p50_s, "p90": self.p90_s, "max": self.max_s}


@dataclass(frozen=True)
class BigKey:
    """One of the biggest keys: its printable name (binary names as a bytes repr), type, MEMORY USAGE in
    bytes, TTL in s (None: never expires or unknown) and element count (collections; None for strings)."""

    key: str
    type: str
    memory_bytes: int | None
    ttl_s: float | None
    elements: int | None


@dataclass(frozen=True)
class PrefixStats:
    """Figures for one key prefix (analyzers.redis.names).

    prefix: the group (``app:cache:orders::``, ``user:*:``, ``""`` for keys without ``:``);
    kind: "spring" (``…::``), "colon", "none" or "other" (prefixes past the sample's group cap);
    spring_cache_name: for a ``::`` prefix, the last ``:`` segment before it (``orders``), else None;
    keys_sampled; keys_estimated (keys under the prefix in the whole database) with its 95% interval
    keys_estimated_low/high and keys_estimated_error (the larger half-width);
    share: keys_sampled / all keys sampled; types: {type: keys sampled};
    ttl_s: TTL summary over sampled keys with a TTL (None when none has one, or PTTL was refused);
    keys_with_ttl, no_ttl_keys: sampled keys with / without a TTL;
    no_ttl_share (None without PTTL) with no_ttl_share_low/high;
    memory_bytes_sampled: MEMORY USAGE summed over the sampled keys (None without MEMORY USAGE);
    memory_bytes_estimated with memory_bytes_low/high and memory_bytes_error (the larger half-width);
    mean_key_bytes; elements_max (largest element count of a collection key sampled);
    biggest: the largest keys sampled, by MEMORY USAGE (plus the one with most elements);
    exact: the scan covered the whole database (no sampling error).
    """

    prefix: str
    kind: str
    spring_cache_name: str | None
    keys_sampled: int
    keys_estimated: float
    keys_estimated_low: float
    keys_estimated_high: float
    keys_estimated_error: float
    share: float
    types: dict[str, int]
    ttl_s: TtlSummary | None
    keys_with_ttl: int
    no_ttl_keys: int
    no_ttl_share: float | None
    no_ttl_share_low: float | None
    no_ttl_share_high: float | None
    memory_bytes_sampled: int | None
    memory_bytes_estimated: float | None
    memory_bytes_low: float | None
    memory_bytes_high: float | None
    memory_bytes_error: float | None
    mean_key_bytes: float | None
    elements_max: int | None
    biggest: tuple[BigKey, ...]
    exact: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (report coverage, evidence)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["ttl_s"] = self.ttl_s.to_dict() if self.ttl_s else None
        d["biggest"] = [vars(b) for b in self.biggest]
        return d


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (low, high) for a proportion k/n; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if k <= 0 else max(0.0, centre - half)
    high = 1.0 if k >= n else min(1.0, centre + half)
    return low, high


def fpc_z(n: int, total: int, z: float = Z95) -> float:
    """z scaled by the finite-population correction √((N−n)/(N−1)); 0 once the sample covers N."""
    if total <= 1 or n >= total:
        return 0.0
    return z * math.sqrt((total - n) / (total - 1))


def domain_total(sum_y: float, sumsq_y: float, n: int, total: int) -> tuple[float, float | None]:
    """(estimate, standard error) of a domain total from a simple random sample of n out of `total` units:
    sum_y and sumsq_y are Σy and Σy² over the sampled units in the domain (units outside count as y = 0).
    The SE is None when n < 2 (Cochran 1977, §2.13)."""
    if n <= 0:
        return 0.0, None
    estimate = total / n * sum_y
    if n < 2:
        return estimate, None
    s2 = max(0.0, (sumsq_y - sum_y * sum_y / n) / (n - 1))
    f = min(1.0, n / total) if total > 0 else 1.0
    return estimate, total * math.sqrt((1 - f) * s2 / n)


def _ttl(d: dict[str, Any] | None) -> TtlSummary | None:
    if not d:
        return None
    return TtlSummary(float(d["min"]), float(d["p50"]), float(d["p90"]), float(d["max"]))


def _big(e: dict[str, Any]) -> BigKey:
    return BigKey(str(e["key"]), str(e.get("type") or "unknown"), e.get("memory_bytes"), e.get("ttl_s"),
                  e.get("elements"))


def population(keyspace: dict[str, Any]) -> tuple[int, int, bool]:
    """(n keys sampled, N keys in the database, whether N is known). N falls back to n without DBSIZE."""
    n = int(keyspace.get("keys_sampled") or 0)
    dbsize = keyspace.get("dbsize")
    if isinstance(dbsize, int) and not isinstance(dbsize, bool) and dbsize >= 0:
        return n, max(dbsize, 0), True
    return n, n, False


def group_stats(g: dict[str, Any], n: int, total: int, total_known: bool = True) -> PrefixStats:
    """PrefixStats of one group dict of the snapshot's keyspace sample (see module docstring for the
    estimates); without a known total (DBSIZE and INFO refused) the figures are the sample's own and
    `exact` is False. Raises KeyError/TypeError on a malformed group."""
    k = int(g["keys_sampled"])
    share = k / n if n else 0.0
    z = fpc_z(n, total)
    lo_p, hi_p = wilson(k, n, z) if z > 0 else (share, share)
    keys_est = total * share
    keys_lo, keys_hi = total * lo_p, total * hi_p
    keys_lo = max(keys_lo, float(k)) if total >= k else keys_lo

    ttl_known, no_ttl = int(g.get("ttl_known") or 0), int(g.get("no_ttl") or 0)
    if ttl_known:
        no_share = no_ttl / ttl_known
        nlo, nhi = wilson(no_ttl, ttl_known)
    else:
        no_share = nlo = nhi = None

    mem_known = int(g.get("memory_known") or 0)
    mem_sampled = mem_est = mem_lo = mem_hi = mem_err = mean = None
    if mem_known:
        mem_sampled = int(g["memory_sum_bytes"])
        with_value = max(k - int(g.get("vanished_keys") or 0), mem_known)
        scale = with_value / mem_known
        mean = mem_sampled / mem_known
        est, se = domain_total(mem_sampled * scale, float(g["memory_sumsq_bytes2"]) * scale, n, total)
        mem_est = est
        if se is None:
            mem_lo = mem_hi = est
        else:
            mem_lo, mem_hi = max(float(mem_sampled), est - Z95 * se), est + Z95 * se
        mem_err = max(est - mem_lo, mem_hi - est)
    return PrefixStats(
        prefix=str(g["prefix"]), kind=str(g.get("kind") or "colon"),
        spring_cache_name=g.get("spring_cache_name"), keys_sampled=k, keys_estimated=keys_est,
        keys_estimated_low=keys_lo, keys_estimated_high=keys_hi,
        keys_estimated_error=max(keys_est - keys_lo, keys_hi - keys_est), share=share,
        types={str(t): int(c) for t, c in (g.get("types") or {}).items()}, ttl_s=_ttl(g.get("ttl_s")),
        keys_with_ttl=ttl_known - no_ttl, no_ttl_keys=no_ttl, no_ttl_share=no_share, no_ttl_share_low=nlo,
        no_ttl_share_high=nhi, memory_bytes_sampled=mem_sampled, memory_bytes_estimated=mem_est,
        memory_bytes_low=mem_lo, memory_bytes_high=mem_hi, memory_bytes_error=mem_err, mean_key_bytes=mean,
        elements_max=g.get("elements_max"), biggest=tuple(_big(e) for e in g.get("biggest") or []),
        exact=z == 0.0 and total_known,
    )


def prefix_stats(section: dict[str, Any]) -> list[PrefixStats]:
    """PrefixStats of every key prefix in the redis section's keyspace sample, largest estimated memory
    first (then most keys). [] when there is no keyspace sample (SCAN refused, the server failed, or the
    database is empty). Raises KeyError/TypeError/ValueError on a malformed section (the pipeline reports
    that as a malformed snapshot)."""
    keyspace = section.get("keyspace")
    if not keyspace:
        return []
    n, total, known = population(keyspace)
    stats = [group_stats(g, n, total, known) for g in keyspace.get("groups") or []]
    return sorted(stats, key=lambda s: (-(s.memory_bytes_estimated or 0.0), -s.keys_estimated, s.prefix))
