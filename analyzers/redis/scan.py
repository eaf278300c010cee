"""The bounded keyspace sample: SCAN (never KEYS), then TYPE, PTTL and MEMORY USAGE of every key returned,
grouped by prefix (analyzers.redis.names), aggregated as it goes so memory stays bounded.

Bounds: it stops at `scan_time_s` or after `scan_max_keys` keys, whichever comes first, unless `full_scan`
(then the whole database is scanned). SCAN returns keys in hash-table order, which does not depend on the
key names, so a bounded scan is a sample of the keyspace (analyzers.redis.keyspace turns it into
estimates with their error). SCAN may return a key twice while the table is resized; duplicates are dropped.

Speed: per batch of SCAN's keys, the per-key commands go out as one pipeline packed here (redis-py packs
each command through several Python layers) and their replies, one line each, are read straight from the
connection's socket; without that socket (a redis-py that hides it) redis-py's reader is used. Both run on
the connection redis-py opened, so AUTH, SELECT and TLS are redis-py's. benchmarks/redis_keyspace.py
compares it with `redis-cli --memkeys`.

Read-only: SCAN, TYPE, PTTL, MEMORY USAGE and the length commands change nothing (TYPE, PTTL and MEMORY
USAGE do not update a key's LRU/LFU clock; TYPE and PTTL do count in INFO's keyspace_hits/misses, which is
why the sample runs after the window's last INFO sample).
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

#: SCAN's COUNT hint: keys examined per call. Larger means fewer round trips; each SCAN call and the
#: pipeline after it hold the server for roughly 1 ms per 1000 keys (benchmarks/redis_keyspace.py).
SCAN_COUNT = 1000
#: MEMORY USAGE … SAMPLES n: nested values sampled for aggregates (Redis' own default is 5).
MEMORY_SAMPLES = 5
#: Per group, TTLs kept for the quantiles (a uniform reservoir sample beyond this, Vitter's algorithm R).
TTL_RESERVOIR = 10_000
#: Key heads (a key without its last segment) whose group is remembered.
HEAD_CACHE = 100_000
#: The biggest keys kept per group and overall.
BIGGEST_PER_GROUP = 5
BIGGEST_OVERALL = 20
#: Element-count command per type (redis-cli --bigkeys uses the same).
LENGTH_COMMAND = {"hash": "HLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD", "stream": "XLEN"}
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


class RespError(Exception):
    """An error reply (``-NOPERM …``) read from the raw pipeline; returned in place of a value, not raised."""


# --- RESP2 packing and reading --------------------------------------------------------------------------

def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


def pack(*args: bytes) -> bytes:
    """One command in RESP2 (an array of bulk strings)."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


class RespReader:
    """Reads single-line RESP2 replies from a socket, which is what every per-key command here answers:
    simple strings (``+string`` → bytes), integers (``:168`` → int), errors (``-NOPERM …`` → RespError) and
    the null bulk string (``$-1`` → None). Anything else raises ConnectionError (the connection is then
    dropped, never reused)."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.rest = b""

    def lines(self, n: int) -> list[Any]:
        """The next n replies."""
        raw = self.rest.split(b"\r\n")
        rest = raw.pop()
        while len(raw) < n:
            data = self.sock.recv(1 << 18)
            if not data:
                raise ConnectionError("Connection closed by server.")
            parts = (rest + data).split(b"\r\n")
            rest = parts.pop()
            raw.extend(parts)
        if len(raw) > n:  # more than asked for was received: keep it for the next read
            rest = b"\r\n".join(raw[n:] + [rest])
            del raw[n:]
        self.rest = rest
        return [_decode_line(line) for line in raw]

    def scan_reply(self) -> tuple[int, list[bytes]] | RespError:
        """SCAN's reply: (next cursor, keys); keys are read by length, so any bytes (CR LF too) are fine."""
        buf = self.rest
        while True:
            try:
                parsed, used = _parse_scan(buf)
            except IndexError:  # incomplete: read more
                data = self.sock.recv(1 << 18)
                if not data:
                    raise ConnectionError("Connection closed by server.") from None
                buf += data
                continue
            self.rest = buf[used:]
            return parsed


def _parse_scan(buf: bytes) -> tuple[tuple[int, list[bytes]] | RespError, int]:
    """Parse one SCAN reply at the start of `buf`: (value, bytes used). Raises IndexError when `buf` holds
    only part of it, ConnectionError when it is not a SCAN reply."""
    def line(pos: int) -> tuple[bytes, int]:
        end = buf.find(b"\r\n", pos)
        if end < 0:
            raise IndexError
        return buf[pos:end], end + 2

    def bulk(pos: int) -> tuple[bytes, int]:
        head, pos = line(pos)
        if head[:1] != b"$":
            raise ConnectionError(f"unexpected reply to SCAN: {head[:40]!r}")
        end = pos + int(head[1:])
        if len(buf) < end + 2:
            raise IndexError
        return buf[pos:end], end + 2

    head, pos = line(0)
    if head[:1] == b"-":
        return RespError(head[1:].decode("utf-8", "replace")), pos
    if head != b"*2":
        raise ConnectionError(f"unexpected reply to SCAN: {head[:40]!r}")
    cursor, pos = bulk(pos)
    count, pos = line(pos)
    if count[:1] != b"*":
        raise ConnectionError(f"unexpected reply to SCAN: {count[:40]!r}")
    keys = []
    for _ in range(int(count[1:])):
        key, pos = bulk(pos)
        keys.append(key)
    return (int(cursor), keys), pos


def _decode_line(line: bytes) -> Any:
    kind = line[:1]
    if kind == b":":
        return int(line[1:])
    if kind == b"+":
        return line[1:]
    if kind == b"-":
        return RespError(line[1:].decode("utf-8", "replace"))
    if line == b"$-1":
        return None
    raise ConnectionError(f"unexpected reply from the server: {line[:40]!r}")


class Pipe:
    """Sends packed commands on one redis-py connection and reads exactly as many replies."""

    def __init__(self, connection) -> None:
        self.connection = connection
        sock = getattr(connection, "_sock", None)
        # redis-py keeps the connected socket in `_sock`; reading it directly is ~2× faster than its reader.
        self.reader = RespReader(sock) if sock is not None and hasattr(sock, "recv") else None

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SCAN call on this connection. Raises redis' NoPermissionError/ResponseError on an error reply."""
        import redis

        if self.reader is not None:
            self.connection.send_packed_command([pack(b"SCAN", str(cursor).encode(), b"COUNT", str(count).encode())])
            reply = self.reader.scan_reply()
            if isinstance(reply, RespError):
                text = str(reply)
                cls = redis.exceptions.NoPermissionError if text.startswith("NOPERM") else redis.exceptions.ResponseError
                raise cls(text.removeprefix("NOPERM ").strip())
            return reply
        self.connection.send_command("SCAN", cursor, "COUNT", count)
        cur, keys = self.connection.read_response(disable_decoding=True)
        return int(cur), [bytes(k) for k in keys]

    def run(self, payload: list[bytes], replies: int) -> list[Any]:
        self.connection.send_packed_command([b"".join(payload)])
        if self.reader is not None:
            return self.reader.lines(replies)
        import redis

        out: list[Any] = []
        for _ in range(replies):
            try:
                out.append(self.connection.read_response(disable_decoding=True))
            except redis.exceptions.ResponseError as e:  # an error reply belongs to its command
                out.append(RespError(str(e)))
        return out


# --- aggregation --------------------------------------------------------------------------------------

@dataclass
class _Group:
    prefix: bytes
    kind: str
    keys: int = 0
    types: Counter = field(default_factory=Counter)
    ttl_known: int = 0
    no_ttl: int = 0
    ttl_seen: int = 0
    ttls: list[float] = field(default_factory=list)
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

    def add_ttl(self, ttl_s: float, rng: random.Random) -> None:
        self.ttl_seen += 1
        if len(self.ttls) < TTL_RESERVOIR:
            self.ttls.append(ttl_s)
        else:
            j = rng.randrange(self.ttl_seen)
            if j < TTL_RESERVOIR:
                self.ttls[j] = ttl_s


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


def _push(heap: list, size: int, entry: dict[str, Any], seq: int) -> None:
    item = (entry["memory_bytes"] or 0, seq, entry)
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item[0] > heap[0][0]:
        heapq.heapreplace(heap, item)


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

    def _command_refused(self, reply: Any) -> bool:
        """An error reply that refuses the command itself (not one key)."""
        if not isinstance(reply, RespError):
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
        seen: set[int] = set()
        sampled = 0
        cursor = 0
        stopped_by = "complete"
        scan_refused = False
        connection = self.client.connection_pool.get_connection()
        try:
            pipe = Pipe(connection)
            while True:
                try:
                    cursor, keys = pipe.scan(cursor, lim.count)
                except Exception as e:
                    if conn_mod.is_not_permitted(e):
                        self._refuse("the keyspace sample (key prefixes, TTLs, memory, big keys)", "SCAN", e)
                        scan_refused = True
                        stopped_by = "not permitted"
                        break
                    raise
                cursor = int(cursor)
                fresh = []
                for k in keys:
                    h = hash(k)
                    if h not in seen:
                        seen.add(h)
                        fresh.append(bytes(k))
                if not lim.full_scan and sampled + len(fresh) > lim.scan_max_keys:
                    fresh = fresh[:lim.scan_max_keys - sampled]
                if fresh:
                    self._batch(pipe, fresh)
                    sampled += len(fresh)
                if cursor == 0:
                    break
                if not lim.full_scan:
                    if sampled >= lim.scan_max_keys:
                        stopped_by = "max_keys"
                        break
                    if self.clock() - t0 >= lim.scan_time_s:
                        stopped_by = "time"
                        break
        except BaseException:
            # A half-read pipeline would desynchronise the connection: never give it back to the pool.
            connection.disconnect()
            raise
        finally:
            self.client.connection_pool.release(connection)
        dbsize = self._dbsize()
        elapsed = self.clock() - t0
        section = {
            "db": self.target.db, "dbsize": dbsize, "dbsize_before": dbsize_before,
            "keys_sampled": sampled, "complete": stopped_by == "complete", "full_scan": lim.full_scan,
            "stopped_by": stopped_by, "scan_time_s": round(elapsed, 3),
            "limits": {"scan_time_s": lim.scan_time_s, "scan_max_keys": lim.scan_max_keys},
            "count_hint": lim.count, "memory_samples": lim.memory_samples,
            "vanished_keys": self.vanished, "not_permitted_keys": self.not_permitted_keys,
            "groups_capped": len(self.groups) > MAX_GROUPS,
            "capabilities": {c: ("not permitted" if c in self.refused else "ok")
                             for c in ("SCAN", "TYPE", "PTTL", "MEMORY USAGE")},
            "groups": [self._group_dict(g) for g in self._sorted_groups()],
            "biggest": [e for _, _, e in sorted(self.biggest, key=lambda x: (-x[0], x[1]))],
        }
        if scan_refused:
            section["groups"] = []
        return section, list(self.refused.values())

    def _sorted_groups(self) -> list[_Group]:
        return sorted(self.groups.values(), key=lambda g: (-g.memory_sum, -g.keys, g.prefix))

    def _group(self, key: bytes) -> _Group:
        # group_of depends only on the key without its last segment (its "head"): memoise on that, since
        # most keys of a prefix share it (``cache::<id>``, ``key:<id>``).
        cut = key.rfind(b"::")
        head = (1, key[:cut]) if cut >= 0 else (0, key[:key.rfind(b":")] if b":" in key else None)
        g = self.heads.get(head)
        if g is not None:
            return g
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

    def _batch(self, pipe: Pipe, keys: list[bytes]) -> None:
        want = tuple(c for c in PER_KEY if c not in self.refused)
        template = b"".join(PER_KEY[c] for c in want)
        samples = str(self.limits.memory_samples).encode()
        per = len(want)
        if not per:
            rows = [(k, None, None, None) for k in keys]
        else:
            # MEMORY USAGE is last in PER_KEY, so its SAMPLES value is the template's last argument.
            tail = (len(samples), samples) if "MEMORY USAGE" in want else ()
            payload = [template % ((len(k), k) * per + tail) for k in keys]
            replies = pipe.run(payload, per * len(keys))
            cols = {c: replies[i::per] for i, c in enumerate(want)}
            for c, values in cols.items():
                if any(type(v) is RespError for v in values):
                    cols[c] = self._drop_refused(c, values)
            none = [None] * len(keys)
            rows = list(zip(keys, cols.get("TYPE", none), cols.get("PTTL", none), cols.get("MEMORY USAGE", none),
                            strict=True))
        lengths = self._lengths(pipe, rows)
        memory_refused = "MEMORY USAGE" in self.refused
        for (k, t, pttl, mem), elements in zip(rows, lengths, strict=True):
            self._add(k, t, pttl, mem, elements, memory_refused)

    def _drop_refused(self, command: str, values: list[Any]) -> list[Any]:
        """Replies of one command for a batch: when the server refuses the command itself, record it and
        return Nones; errors about single keys (ACL key patterns) stay."""
        for v in values:
            if self._command_refused(v):
                self._refuse(CAPABILITY[command], command, v)
                return [None] * len(values)
        return values

    def _lengths(self, pipe: Pipe, rows: list[tuple]) -> list[int | None]:
        """Element counts of the collection keys of a batch (one more pipeline; strings need none)."""
        asks: list[tuple[int, str]] = []
        for i, row in enumerate(rows):
            t = row[1]
            if t is not None and t != b"string" and type(t) is bytes:
                command = LENGTH_COMMAND.get(t.decode("ascii", "replace"))
                if command and command not in self.refused:
                    asks.append((i, command))
        out: list[int | None] = [None] * len(rows)
        if not asks:
            return out
        replies = pipe.run([pack(c.encode(), rows[i][0]) for i, c in asks], len(asks))
        for (i, command), reply in zip(asks, replies, strict=True):
            if type(reply) is int:
                out[i] = reply
            elif self._command_refused(reply):
                self._refuse(CAPABILITY["lengths"], command, reply)
        return out

    def _add(self, key: bytes, t: Any, pttl: Any, mem: Any, elements: int | None, memory_refused: bool) -> None:
        g = self._group(key)
        g.keys += 1
        if type(t) is RespError or type(pttl) is RespError or type(mem) is RespError:
            # ACL key patterns (~pattern) that do not cover this key: its name counts, nothing else.
            self.not_permitted_keys += 1
            g.not_permitted += 1
            g.types["not permitted"] += 1
            return
        if t == b"none" or pttl == -2 or (mem is None and not memory_refused):
            self.vanished += 1  # expired or deleted between SCAN and the lookup
            g.vanished += 1
            g.types["vanished"] += 1
            return
        type_name = TYPE_NAMES.get(t) or (t.decode("ascii", "replace") if type(t) is bytes else "unknown")
        g.types[type_name] += 1
        ttl_s = None
        if pttl is not None:
            g.ttl_known += 1
            if pttl == -1:
                g.no_ttl += 1
            else:
                ttl_s = round(pttl / 1000.0, 3)
                g.add_ttl(ttl_s, self.rng)
        if mem is not None:
            g.memory_known += 1
            g.memory_sum += mem
            g.memory_sumsq += mem * mem
            if mem > g.memory_max:
                g.memory_max = mem
        if elements is not None and (g.elements_max is None or elements > g.elements_max):
            g.elements_max = elements
        size = mem or 0
        enters = (len(g.biggest) < BIGGEST_PER_GROUP or size > g.biggest[0][0]
                  or len(self.biggest) < BIGGEST_OVERALL or size > self.biggest[0][0]
                  or (elements is not None and (g.by_elements is None or elements > g.by_elements["elements"])))
        if not enters:
            return
        self.seq += 1
        entry = {"key": printable(key), "prefix": printable(g.prefix), "type": type_name, "memory_bytes": mem,
                 "ttl_s": ttl_s, "elements": elements}
        _push(g.biggest, BIGGEST_PER_GROUP, entry, self.seq)
        _push(self.biggest, BIGGEST_OVERALL, entry, self.seq)
        if elements is not None and (g.by_elements is None or elements > g.by_elements["elements"]):
            g.by_elements = entry

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
            "ttl_s": ttl_summary(g.ttls), "ttl_sampled": g.ttl_seen,
            "memory_known": g.memory_known, "memory_sum_bytes": g.memory_sum,
            "memory_sumsq_bytes2": g.memory_sumsq, "memory_max_bytes": g.memory_max if g.memory_known else None,
            "elements_max": g.elements_max, "biggest": biggest,
        }
