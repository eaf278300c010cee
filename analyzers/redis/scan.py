"""The bounded keyspace sample: SCAN (never KEYS), then TYPE, PTTL and MEMORY USAGE of every key returned
(and HLEN/LLEN/SCARD/ZCARD/XLEN of collections), grouped by prefix (analyzers.redis.names) and aggregated as
it goes, so memory stays bounded.

Bounds: it stops at `scan_time_s` or after `scan_max_keys` keys, whichever comes first (checked after every
batch), unless `full_scan` (then the whole database is scanned). SCAN returns keys in hash-table order, which
does not depend on the key names, so a bounded scan is a sample of the keyspace (analyzers.redis.keyspace
turns it into estimates with their error). SCAN may return a key twice while the table is resized;
duplicates are dropped.

Speed: each batch's per-key commands go out as one pipeline (analyzers.redis.resp), together with the next
SCAN and the element counts of the previous batch's collections; the previous batch is aggregated while
the server works on them, so the client and the server do not take turns. benchmarks/redis_keyspace.py
compares it with `redis-cli --memkeys`.

Read-only: none of these commands changes a key or its LRU/LFU clock; TYPE and PTTL do count in INFO's
keyspace_hits/misses, which is why the sample runs after the window's last INFO sample.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby, repeat
from operator import mul
from typing import Any

from analyzers.redis import conn as conn_mod
from analyzers.redis.names import MAX_GROUPS, OTHER_GROUP, group_of, printable, spring_cache_name
from analyzers.redis.resp import Pipe, RespError, ScanReply, commands, pack, scan_command

#: SCAN's COUNT hint: keys examined per call. Larger means fewer round trips; one batch's pipeline holds the
#: server for about 1 ms per 1000 keys (benchmarks/redis_keyspace.py).
SCAN_COUNT = 1000
#: MEMORY USAGE … SAMPLES n: nested values sampled for aggregates (Redis' own default is 5).
MEMORY_SAMPLES = 5
#: Per group, TTLs kept for the quantiles; beyond this a uniform reservoir sample (Li's algorithm L,
#: ACM TOMS 20(4), 1994).
TTL_RESERVOIR = 10_000
#: Key heads (a key without its last segment) whose group is remembered.
HEAD_CACHE = 100_000
#: The biggest keys kept per group and overall.
BIGGEST_PER_GROUP = 5
BIGGEST_OVERALL = 20
#: Element-count command per type (redis-cli --bigkeys uses the same).
LENGTH_COMMAND = {b"hash": "HLEN", b"list": "LLEN", b"set": "SCARD", b"zset": "ZCARD", b"stream": "XLEN"}
#: The per-key commands in RESP2: (what comes before the key, the decoder of their replies); MEMORY USAGE's
#: SAMPLES argument follows the key.
PER_KEY = {
    "TYPE": (b"*2\r\n$4\r\nTYPE\r\n", "simple"),
    "PTTL": (b"*2\r\n$4\r\nPTTL\r\n", "int"),
    "MEMORY USAGE": (b"*5\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n", "int"),
}
#: What is missing when the server refuses a command.
CAPABILITY = {"TYPE": "key types", "PTTL": "TTLs (keys without a TTL)",
              "MEMORY USAGE": "memory per prefix and big keys", "lengths": "element counts of big keys"}
TYPE_NAMES = {b"string": "string", b"hash": "hash", b"list": "list", b"set": "set", b"zset": "zset",
              b"stream": "stream"}


@dataclass(frozen=True)
class Limits:
    """Bounds of one keyspace sample."""

    scan_time_s: float = 10.0
    scan_max_keys: int = 100_000
    full_scan: bool = False
    count: int = SCAN_COUNT
    memory_samples: int = MEMORY_SAMPLES


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile (the smallest value with at least q of the values at or below it)."""
    if not sorted_values:
        raise ValueError("no values")
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def ttl_summary(values: list[float]) -> dict[str, float] | None:
    """{"min", "p50", "p90", "max"} of TTLs in seconds; None when there are none."""
    if not values:
        return None
    v = sorted(values)
    return {"min": v[0], "p50": quantile(v, 0.5), "p90": quantile(v, 0.9), "max": v[-1]}


@dataclass(eq=False)  # identity: groups are compared and hashed as objects
class _Group:
    prefix: bytes
    kind: str
    keys: int = 0
    types: Counter = field(default_factory=Counter)
    ttl_known: int = 0
    no_ttl: int = 0
    ttl_seen: int = 0
    ttls_ms: list[int] = field(default_factory=list)
    memory_known: int = 0
    memory_sum: int = 0
    memory_sumsq: int = 0
    memory_max: int = 0
    elements_max: int | None = None
    not_permitted: int = 0
    vanished: int = 0
    biggest: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    #: The key with the most elements, kept even when smaller in bytes than the `biggest` ones.
    by_elements: dict[str, Any] | None = None
    # algorithm L's state once the reservoir is full: W and the (1-based) position of the next TTL taken
    _w: float = 0.0
    _next: int = 0

    def add_ttls(self, values: list[int], rng: random.Random) -> None:
        """Offer TTLs (ms) to the reservoir: all are kept up to TTL_RESERVOIR, then a uniform sample."""
        room = TTL_RESERVOIR - len(self.ttls_ms)
        if room > 0:
            self.ttls_ms.extend(values[:room])
            self.ttl_seen += min(room, len(values))
            values = values[room:]
            if len(self.ttls_ms) == TTL_RESERVOIR:
                self._w = math.exp(math.log(rng.random()) / TTL_RESERVOIR)
                self._next = self.ttl_seen + int(math.log(rng.random()) / math.log(1 - self._w)) + 1
        end = self.ttl_seen + len(values)
        while values and self._next <= end:
            self.ttls_ms[rng.randrange(TTL_RESERVOIR)] = values[self._next - self.ttl_seen - 1]
            self._w *= math.exp(math.log(rng.random()) / TTL_RESERVOIR)
            self._next += int(math.log(rng.random()) / math.log(1 - self._w)) + 1
        self.ttl_seen = end


@dataclass(eq=False)
class _Batch:
    """The keys of one SCAN call and, once read, their TYPE/PTTL/MEMORY USAGE replies (parallel lists)."""

    keys: list[bytes]
    want: tuple[str, ...]
    #: the SCAN reply's key section when `keys` are all of that reply's keys (resp.commands)
    section: bytes | None = None
    types: list[Any] = field(default_factory=list)
    pttls: list[Any] = field(default_factory=list)
    mems: list[Any] = field(default_factory=list)
    #: (index, length command) of the collections whose element count was asked for
    asks: list[tuple[int, str]] = field(default_factory=list)
    #: [(group, indexes of its keys)], and the biggest-key entries made from this batch (by index)
    grouping: list[tuple[_Group, list[int]]] = field(default_factory=list)
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: keys left out of the aggregates (not permitted by ACL key patterns, or vanished)
    skipped: set[int] = field(default_factory=set)


def _push(heap: list, size: int, entry: dict[str, Any], seq: int) -> None:
    item = (entry["memory_bytes"] or 0, seq, entry)
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item[0] > heap[0][0]:
        heapq.heapreplace(heap, item)


def _type_name(t: Any) -> str:
    return TYPE_NAMES.get(t) or (t.decode("ascii", "replace") if type(t) is bytes else "unknown")


class KeyspaceSampler:
    """One keyspace sample of the client's database. `run()` returns the snapshot's "keyspace" dict
    (docs/redis.md) and the capabilities the server refused (conn.not_permitted records)."""

    def __init__(self, client, target: conn_mod.RedisTarget, limits: Limits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.target = target
        self.limits = limits
        self.clock = clock
        self.groups: dict[bytes, _Group] = {}
        self.heads: dict[int, dict[bytes, _Group]] = {0: {}, 1: {}, 2: {}}
        self.cached_heads = 0
        self.biggest: list = []
        self.refused: dict[str, dict[str, Any]] = {}
        self.rng = random.Random(0)
        self.seq = 0
        self.vanished = 0
        self.not_permitted_keys = 0

    # capabilities ---------------------------------------------------------------------------------------
    def _refuse(self, capability: str, command: str, error: Any) -> None:
        if command not in self.refused:
            self.refused[command] = conn_mod.not_permitted(capability, command, error, self.target)

    @staticmethod
    def _command_refused(reply: Any) -> bool:
        """An error reply that refuses the command itself (not one key)."""
        if type(reply) is not RespError:
            return False
        low = str(reply).lower()
        return "no permissions to run" in low or "unknown command" in low

    def _dbsize(self) -> int | None:
        try:
            return int(self.client.execute_command("DBSIZE"))
        except Exception as e:
            if conn_mod.is_not_permitted(e):
                self._refuse("the database's key count (estimates use INFO keyspace instead)", "DBSIZE", e)
                return self._dbsize_from_info()
            raise

    def _dbsize_from_info(self) -> int | None:
        from analyzers.redis.info import parse_info
        try:
            info = parse_info(self.client.execute_command("INFO", "keyspace").decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - INFO may be refused too; then the total is unknown
            return None
        stats = info.get("keyspace", {}).get(f"db{self.target.db}")
        return int(stats["keys"]) if isinstance(stats, dict) and isinstance(stats.get("keys"), int) else 0

    # the scan ------------------------------------------------------------------------------------------------
    def run(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        lim = self.limits
        t0 = self.clock()
        dbsize_before = self._dbsize()
        sampled, stopped_by = 0, "complete"
        connection = self.client.connection_pool.get_connection()
        try:
            pipe = Pipe(connection)
            pipe.send([scan_command(0, lim.count)])
            try:
                reply = pipe.read_scan()
            except Exception as e:
                if not conn_mod.is_not_permitted(e):
                    raise
                self._refuse("the keyspace sample (key prefixes, TTLs, memory, big keys)", "SCAN", e)
                reply, stopped_by = ScanReply(0, []), "not permitted"
            seen: set[int] = set()
            prev: _Batch | None = None
            while True:
                fresh = self._fresh(reply.keys, seen)
                more = reply.cursor != 0
                if not lim.full_scan and len(fresh) > lim.scan_max_keys - sampled:
                    fresh = fresh[:max(0, lim.scan_max_keys - sampled)]
                    more, stopped_by = False, "max_keys"  # even on SCAN's last call: keys were left out
                sampled += len(fresh)
                if more and not lim.full_scan:
                    if sampled >= lim.scan_max_keys:
                        more, stopped_by = False, "max_keys"
                    elif self.clock() - t0 >= lim.scan_time_s:
                        more, stopped_by = False, "time"
                batch = None
                if fresh:
                    batch = _Batch(fresh, tuple(c for c in PER_KEY if c not in self.refused),
                                   reply.section if fresh is reply.keys else None)
                # One write: the previous batch's element counts, this batch's per-key commands, the next SCAN.
                chunks = self._length_commands(prev) if prev else []
                if batch:
                    chunks += self._per_key_commands(batch)
                if more:
                    chunks.append(scan_command(reply.cursor, lim.count))
                if chunks:
                    pipe.send(chunks)
                if prev:
                    self._aggregate(prev)  # while the server works on what was just sent
                    if prev.asks:
                        self._apply_lengths(prev, pipe.read(len(prev.asks), "int"))
                if batch:
                    self._read_batch(batch, pipe)
                if more:
                    reply = pipe.read_scan()
                prev = batch
                if not more:
                    break
            if prev:
                chunks = self._length_commands(prev)
                if chunks:
                    pipe.send(chunks)
                self._aggregate(prev)
                if prev.asks:
                    self._apply_lengths(prev, pipe.read(len(prev.asks), "int"))
        except BaseException:
            # Replies still in flight would desynchronise the connection: never give it back to the pool.
            connection.disconnect()
            raise
        finally:
            self.client.connection_pool.release(connection)
        return self._section(dbsize_before, sampled, stopped_by, self.clock() - t0), list(self.refused.values())

    @staticmethod
    def _fresh(keys: list[bytes], seen: set[int]) -> list[bytes]:
        """`keys` without those SCAN already returned (possible while the hash table is resized)."""
        hashes = list(map(hash, keys))
        if seen.isdisjoint(hashes) and len(set(hashes)) == len(hashes):
            seen.update(hashes)
            return keys  # the usual case
        fresh = []
        for k, h in zip(keys, hashes, strict=True):
            if h not in seen:
                seen.add(h)
                fresh.append(k)
        return fresh

    def _section(self, dbsize_before: int | None, sampled: int, stopped_by: str, elapsed: float) -> dict[str, Any]:
        lim = self.limits
        refused_scan = stopped_by == "not permitted"
        return {
            "db": self.target.db, "dbsize": self._dbsize(), "dbsize_before": dbsize_before,
            "keys_sampled": sampled, "complete": stopped_by == "complete", "full_scan": lim.full_scan,
            "stopped_by": stopped_by, "scan_time_s": round(elapsed, 3),
            "limits": {"scan_time_s": lim.scan_time_s, "scan_max_keys": lim.scan_max_keys},
            "count_hint": lim.count, "memory_samples": lim.memory_samples,
            "vanished_keys": self.vanished, "not_permitted_keys": self.not_permitted_keys,
            "groups_capped": len(self.groups) >= MAX_GROUPS,
            "capabilities": {c: ("not permitted" if c in self.refused else "ok")
                             for c in ("SCAN", "TYPE", "PTTL", "MEMORY USAGE")},
            "groups": [] if refused_scan else [self._group_dict(g) for g in sorted(
                self.groups.values(), key=lambda g: (-g.memory_sum, -g.keys, g.prefix))],
            "biggest": [e for _, _, e in sorted(self.biggest, key=lambda x: (-x[0], x[1]))],
        }

    # one batch: commands and replies -----------------------------------------------------------------------
    def _per_key_commands(self, b: _Batch) -> list[bytes]:
        """TYPE of every key, then PTTL of every key, then MEMORY USAGE of every key (those not refused)."""
        samples = str(self.limits.memory_samples).encode()
        suffix = {"MEMORY USAGE": b"$7\r\nSAMPLES\r\n$%d\r\n%s\r\n" % (len(samples), samples)}
        return [commands(PER_KEY[c][0], b.keys, suffix.get(c, b""), b.section) for c in b.want]

    def _read_batch(self, b: _Batch, pipe: Pipe) -> None:
        none = [None] * len(b.keys)
        cols = {}
        for c in b.want:
            values = pipe.read(len(b.keys), PER_KEY[c][1])
            cols[c] = self._drop_refused(c, values) if RespError in set(map(type, values)) else values
        b.types, b.pttls, b.mems = cols.get("TYPE", none), cols.get("PTTL", none), cols.get("MEMORY USAGE", none)

    def _drop_refused(self, command: str, values: list[Any]) -> list[Any]:
        """Replies of one command for a batch: when the server refuses the command itself, record it and
        return Nones; errors about single keys (ACL key patterns) stay."""
        for v in values:
            if self._command_refused(v):
                self._refuse(CAPABILITY[command], command, v)
                return [None] * len(values)
        return values

    def _length_commands(self, b: _Batch) -> list[bytes]:
        """The element-count commands for the batch's collection keys (strings need none); sets b.asks."""
        b.asks = [(i, LENGTH_COMMAND[t]) for i, t in enumerate(b.types)
                  if t in LENGTH_COMMAND and LENGTH_COMMAND[t] not in self.refused]
        return [pack(c.encode(), b.keys[i]) for i, c in b.asks]

    def _apply_lengths(self, b: _Batch, replies: list[Any]) -> None:
        group_at = {i: g for g, idx in b.grouping for i in idx}
        for (i, command), n in zip(b.asks, replies, strict=True):
            if type(n) is not int:
                if self._command_refused(n):
                    self._refuse(CAPABILITY["lengths"], command, n)
                continue
            g = group_at.get(i)
            if g is None or i in b.skipped:  # a key that vanished or was not permitted
                continue
            if g.elements_max is None or n > g.elements_max:
                g.elements_max = n
            entry = b.entries.get(i)
            if entry is not None:
                entry["elements"] = n
            if g.by_elements is None or n > g.by_elements["elements"]:
                g.by_elements = entry or self._entry(b, i, g)
                g.by_elements["elements"] = n

    # aggregation --------------------------------------------------------------------------------------------
    def _group(self, key: bytes, kind: int, head: bytes) -> _Group:
        """The group of `key`, whose head (the key without its last segment) is `head`: cut at ``::``
        (kind 1), at ``:`` (kind 0), or no ``:`` (kind 2, head b""). group_of depends only on that, and most
        keys of a prefix share it (``cache::<id>``, ``key:<id>``), so the answer is remembered per head."""
        prefix, group_kind = group_of(key)
        g = self.groups.get(prefix)
        if g is None:
            if len(self.groups) >= MAX_GROUPS:
                prefix, group_kind = OTHER_GROUP.encode(), "other"
                g = self.groups.get(prefix)
            if g is None:
                g = self.groups[prefix] = _Group(prefix, group_kind)
        if self.cached_heads < HEAD_CACHE:
            self.heads[kind][head] = g
            self.cached_heads += 1
        return g

    def _groups_of(self, keys: list[bytes]) -> list[tuple[_Group, list[int]]]:
        """The batch's keys by group: [(group, indexes of its keys)]. Whole-batch C loops (map, zip, sort,
        groupby) when all keys are of one form (all ``…::…``, or all with ``:``), else key by key."""
        cuts = list(map(bytes.rfind, keys, repeat(b"::")))
        kind: int | None = 1
        if min(cuts) < 0:
            kind = None
            if max(cuts) < 0:
                cuts = list(map(bytes.rfind, keys, repeat(b":")))
                kind = 0 if min(cuts) >= 0 else None
        if kind is None:
            return self._groups_key_by_key(keys)
        head = keys[0][:cuts[0]]
        if cuts.count(cuts[0]) == len(keys) and all(map(bytes.startswith, keys, repeat(head))):
            # the usual case: one head for the whole batch (``cache::<id>``, ``key:<id>``)
            g = self.heads[kind].get(head) or self._group(keys[0], kind, head)
            return [(g, list(range(len(keys))))]
        heads = list(map(bytes.__getitem__, keys, map(slice, cuts)))
        cache, slow = self.heads[kind], self._group
        key_of = dict(zip(heads, keys, strict=True))  # a key per head: the group depends only on the head
        of_head = {h: cache.get(h) or slow(k, kind, h) for h, k in key_of.items()}
        if len(of_head) == 1:
            return [(next(iter(of_head.values())), list(range(len(keys))))]
        by_group: dict[int, tuple[_Group, list[int]]] = {}
        for h, idx in groupby(sorted(range(len(keys)), key=heads.__getitem__), key=heads.__getitem__):
            g = of_head[h]
            by_group.setdefault(id(g), (g, []))[1].extend(idx)
        return list(by_group.values())

    def _groups_key_by_key(self, keys: list[bytes]) -> list[tuple[_Group, list[int]]]:
        by_group: dict[int, tuple[_Group, list[int]]] = {}
        for i, k in enumerate(keys):
            cut = k.rfind(b"::")
            if cut >= 0:
                kind, head = 1, k[:cut]
            else:
                cut = k.rfind(b":")
                kind, head = (0, k[:cut]) if cut >= 0 else (2, b"")
            g = self.heads[kind].get(head) or self._group(k, kind, head)
            by_group.setdefault(id(g), (g, []))[1].append(i)
        return list(by_group.values())

    def _aggregate(self, b: _Batch) -> None:
        memory_refused = "MEMORY USAGE" in self.refused
        b.grouping = self._groups_of(b.keys)
        for g, idx in b.grouping:
            self._add(g, b, idx, memory_refused)

    def _add(self, g: _Group, b: _Batch, idx: list[int], memory_refused: bool) -> None:
        """Adds the batch's keys at `idx` (all of one group) to the group."""
        g.keys += len(idx)
        if len(idx) == len(b.keys):
            types, pttls, mems = b.types, b.pttls, b.mems
        else:
            types, pttls, mems = [b.types[i] for i in idx], [b.pttls[i] for i in idx], [b.mems[i] for i in idx]
        kinds = set(map(type, types)) | set(map(type, pttls)) | set(map(type, mems))
        if RespError in kinds or b"none" in types or -2 in pttls or (None in mems and not memory_refused):
            # The rare path: keys outside the ACL user's key patterns (only their names count), and keys that
            # expired or were deleted between SCAN and the lookup.
            keep = []
            for i, t, p, m in zip(idx, types, pttls, mems, strict=True):
                if type(t) is RespError or type(p) is RespError or type(m) is RespError:
                    self.not_permitted_keys += 1
                    g.not_permitted += 1
                    g.types["not permitted"] += 1
                elif t == b"none" or p == -2 or (m is None and not memory_refused):
                    self.vanished += 1
                    g.vanished += 1
                    g.types["vanished"] += 1
                else:
                    keep.append(i)
                    continue
                b.skipped.add(i)
            idx = keep
            types, pttls, mems = [b.types[i] for i in idx], [b.pttls[i] for i in idx], [b.mems[i] for i in idx]
        if not idx:
            return
        for t, c in Counter(types).items():
            g.types[_type_name(t)] += c
        if pttls[0] is not None:
            g.ttl_known += len(pttls)
            no_ttl = pttls.count(-1)
            g.no_ttl += no_ttl
            if no_ttl < len(pttls):
                g.add_ttls([p for p in pttls if p >= 0], self.rng)
        if mems[0] is not None:
            g.memory_known += len(mems)
            g.memory_sum += sum(mems)
            g.memory_sumsq += sum(map(mul, mems, mems))
            g.memory_max = max(g.memory_max, max(mems))
        self._offer_biggest(g, b, idx, mems)

    def _offer_biggest(self, g: _Group, b: _Batch, idx: list[int], mems: list[Any]) -> None:
        """Offers the largest keys (by MEMORY USAGE) among `idx` to the group's and the overall lists."""
        sizes = mems if mems[0] is not None else [0] * len(mems)
        floor = min(g.biggest[0][0] if len(g.biggest) >= BIGGEST_PER_GROUP else -1,
                    self.biggest[0][0] if len(self.biggest) >= BIGGEST_OVERALL else -1)
        if max(sizes) <= floor:
            return  # the usual case once the lists are full: nothing in this batch is bigger
        top = heapq.nlargest(BIGGEST_OVERALL, range(len(idx)), key=sizes.__getitem__)
        for j in sorted(j for j in top if sizes[j] > floor):
            entry = self._entry(b, idx[j], g)
            self.seq += 1
            _push(g.biggest, BIGGEST_PER_GROUP, entry, self.seq)
            _push(self.biggest, BIGGEST_OVERALL, entry, self.seq)

    def _entry(self, b: _Batch, i: int, g: _Group) -> dict[str, Any]:
        """The biggest-key record of key i of the batch (elements are filled in when their count arrives)."""
        entry = b.entries.get(i)
        if entry is None:
            p = b.pttls[i]
            entry = b.entries[i] = {
                "key": printable(b.keys[i]), "prefix": printable(g.prefix), "type": _type_name(b.types[i]),
                "memory_bytes": b.mems[i], "ttl_s": round(p / 1000.0, 3) if p is not None and p >= 0 else None,
                "elements": None}
        return entry

    def _group_dict(self, g: _Group) -> dict[str, Any]:
        prefix = printable(g.prefix)
        biggest = [e for _, _, e in sorted(g.biggest, key=lambda x: (-x[0], x[1]))]
        if g.by_elements is not None and not any(e is g.by_elements for e in biggest):
            biggest.append(g.by_elements)
        return {
            "prefix": prefix, "kind": g.kind,
            "spring_cache_name": spring_cache_name(prefix) if g.kind == "spring" else None,
            "keys_sampled": g.keys, "types": dict(g.types), "not_permitted_keys": g.not_permitted,
            "vanished_keys": g.vanished, "ttl_known": g.ttl_known, "no_ttl": g.no_ttl,
            "ttl_s": ttl_summary([ms / 1000.0 for ms in g.ttls_ms]), "ttl_sampled": g.ttl_seen,
            "memory_known": g.memory_known, "memory_sum_bytes": g.memory_sum,
            "memory_sumsq_bytes2": g.memory_sumsq, "memory_max_bytes": g.memory_max if g.memory_known else None,
            "elements_max": g.elements_max, "biggest": biggest,
        }
