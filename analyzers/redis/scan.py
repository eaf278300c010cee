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
from typing import Any

from analyzers.redis import conn as conn_mod
from analyzers.redis.names import MAX_GROUPS, OTHER_GROUP, group_of, printable, spring_cache_name
from analyzers.redis.resp import Pipe, RespError, pack, scan_command

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
#: The per-key commands, packed as RESP2 templates (%d/%s: the key's length and the key; then SAMPLES' n).
PER_KEY = {
    "TYPE": b"*2\r\n$4\r\nTYPE\r\n$%d\r\n%s\r\n",
    "PTTL": b"*2\r\n$4\r\nPTTL\r\n$%d\r\n%s\r\n",
    "MEMORY USAGE": b"*5\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n$%d\r\n%s\r\n$7\r\nSAMPLES\r\n$%d\r\n%s\r\n",
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
    types: list[Any] = field(default_factory=list)
    pttls: list[Any] = field(default_factory=list)
    mems: list[Any] = field(default_factory=list)
    #: (index, length command) of the collections whose element count was asked for
    asks: list[tuple[int, str]] = field(default_factory=list)
    #: index → its group, and the biggest-key entries made from this batch
    groups: dict[int, _Group] = field(default_factory=dict)
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)


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
        self.heads: dict[tuple[int, bytes | None], _Group] = {}
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
                cursor, keys = pipe.read_scan()
            except Exception as e:
                if not conn_mod.is_not_permitted(e):
                    raise
                self._refuse("the keyspace sample (key prefixes, TTLs, memory, big keys)", "SCAN", e)
                cursor, keys, stopped_by = 0, [], "not permitted"
            seen: set[int] = set()
            prev: _Batch | None = None
            while True:
                fresh = self._fresh(keys, seen)
                if not lim.full_scan:
                    fresh = fresh[:max(0, lim.scan_max_keys - sampled)]
                sampled += len(fresh)
                more = cursor != 0
                if more and not lim.full_scan:
                    if sampled >= lim.scan_max_keys:
                        more, stopped_by = False, "max_keys"
                    elif self.clock() - t0 >= lim.scan_time_s:
                        more, stopped_by = False, "time"
                batch = _Batch(fresh, tuple(c for c in PER_KEY if c not in self.refused)) if fresh else None
                # One write: the previous batch's element counts, this batch's per-key commands, the next SCAN.
                chunks = self._length_commands(prev) if prev else []
                if batch and batch.want:
                    chunks.append(self._per_key_payload(batch))
                if more:
                    chunks.append(scan_command(cursor, lim.count))
                if chunks:
                    pipe.send(chunks)
                if prev:
                    self._aggregate(prev)  # while the server works on what was just sent
                    if prev.asks:
                        self._apply_lengths(prev, pipe.read(len(prev.asks)))
                if batch:
                    self._read_batch(batch, pipe.read(len(batch.keys) * len(batch.want)) if batch.want else [])
                if more:
                    cursor, keys = pipe.read_scan()
                prev = batch
                if not more:
                    break
            if prev:
                chunks = self._length_commands(prev)
                if chunks:
                    pipe.send(chunks)
                self._aggregate(prev)
                if prev.asks:
                    self._apply_lengths(prev, pipe.read(len(prev.asks)))
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
    def _per_key_payload(self, b: _Batch) -> bytes:
        template = b"".join(PER_KEY[c] for c in b.want)
        per = len(b.want)
        # MEMORY USAGE is last in PER_KEY, so its SAMPLES value is the template's last argument.
        samples = str(self.limits.memory_samples).encode()
        tail = (len(samples), samples) if "MEMORY USAGE" in b.want else ()
        return b"".join([template % ((len(k), k) * per + tail) for k in b.keys])

    def _read_batch(self, b: _Batch, replies: list[Any]) -> None:
        per = len(b.want)
        none = [None] * len(b.keys)
        cols = {c: replies[i::per] for i, c in enumerate(b.want)} if per else {}
        for c, values in cols.items():
            if RespError in set(map(type, values)):
                cols[c] = self._drop_refused(c, values)
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
        for (i, command), n in zip(b.asks, replies, strict=True):
            if type(n) is not int:
                if self._command_refused(n):
                    self._refuse(CAPABILITY["lengths"], command, n)
                continue
            g = b.groups.get(i)
            if g is None:  # a key that vanished or was not permitted
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
    def _group(self, key: bytes, head: tuple[int, bytes | None]) -> _Group:
        """The group of `key`; `head` is the key without its last segment (and whether it was cut at ``::``):
        group_of depends only on that, and most keys of a prefix share it (``cache::<id>``, ``key:<id>``),
        so the answer is remembered per head."""
        prefix, kind = group_of(key)
        g = self.groups.get(prefix)
        if g is None:
            if len(self.groups) >= MAX_GROUPS:
                prefix, kind = OTHER_GROUP.encode(), "other"
                g = self.groups.get(prefix)
            if g is None:
                g = self.groups[prefix] = _Group(prefix, kind)
        if len(self.heads) < HEAD_CACHE:
            self.heads[head] = g
        return g

    def _groups_of(self, keys: list[bytes]) -> list[tuple[_Group, list[int]]]:
        """The batch's keys by group: [(group, indexes of its keys)]."""
        heads, slow = self.heads, self._group
        gs = []
        for k in keys:
            cut = k.rfind(b"::")
            if cut >= 0:
                head = (1, k[:cut])
            else:
                cut = k.rfind(b":")
                head = (0, k[:cut] if cut >= 0 else None)
            gs.append(heads.get(head) or slow(k, head))
        if gs and gs.count(gs[0]) == len(gs):
            return [(gs[0], list(range(len(gs))))]  # the usual case: one prefix in the batch
        by_group: dict[int, tuple[_Group, list[int]]] = {}
        for i, g in enumerate(gs):
            by_group.setdefault(id(g), (g, []))[1].append(i)
        return list(by_group.values())

    def _aggregate(self, b: _Batch) -> None:
        memory_refused = "MEMORY USAGE" in self.refused
        for g, idx in self._groups_of(b.keys):
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
            idx = keep
            types, pttls, mems = [b.types[i] for i in idx], [b.pttls[i] for i in idx], [b.mems[i] for i in idx]
        if not idx:
            return
        for i in idx:
            b.groups[i] = g
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
            g.memory_sumsq += sum([m * m for m in mems])
            g.memory_max = max(g.memory_max, max(mems))
        self._offer_biggest(g, b, idx, mems)

    def _offer_biggest(self, g: _Group, b: _Batch, idx: list[int], mems: list[Any]) -> None:
        """Offers the largest keys (by MEMORY USAGE) among `idx` to the group's and the overall lists."""
        sizes = [m or 0 for m in mems]
        floor = min(g.biggest[0][0] if len(g.biggest) >= BIGGEST_PER_GROUP else -1,
                    self.biggest[0][0] if len(self.biggest) >= BIGGEST_OVERALL else -1)
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
