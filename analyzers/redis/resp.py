"""RESP2 on a redis-py connection, for the keyspace sample's pipelines: commands packed here and replies read
straight from the connection's socket (redis-py packs each command through several Python layers and parses
each reply the same way; for 3 commands × 1M keys that is most of the time). Without the socket (a redis-py
that hides it) redis-py's own reader is used. AUTH, SELECT and TLS stay redis-py's: the connection is its."""

from __future__ import annotations

from typing import Any


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


def pack(*args: bytes) -> bytes:
    """One command in RESP2 (an array of bulk strings)."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


class RespError(Exception):
    """An error reply (``-NOPERM …``) read from the raw pipeline; returned in place of a value, not raised."""


class RespReader:
    """Reads replies from a socket: SCAN replies (`scan_reply`), and single-line replies (`lines`), which is
    what every per-key command here answers: simple strings (``+string`` → bytes), integers (``:168`` → int),
    errors (``-NOPERM …`` → RespError) and the null bulk string (``$-1`` → None). Anything else raises
    ConnectionError (the connection is then dropped, never reused)."""

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
        simple = _SIMPLE.get
        return [int(x[1:]) if x[:1] == b":" else (simple(x) or _decode_line(x)) for x in raw]

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
    find, size = buf.find, len(buf)

    def line(pos: int) -> tuple[bytes, int]:
        end = find(b"\r\n", pos)
        if end < 0:
            raise IndexError
        return buf[pos:end], end + 2

    def bulks(pos: int, count: int) -> tuple[list[bytes], int]:
        out = []
        for _ in range(count):  # inlined: this runs once per key
            end = find(b"\r\n", pos)
            if end < 0:
                raise IndexError
            if buf[pos:pos + 1] != b"$":
                raise ConnectionError(f"unexpected reply to SCAN: {buf[pos:pos + 40]!r}")
            start = end + 2
            stop = start + int(buf[pos + 1:end])
            if stop + 2 > size:
                raise IndexError
            out.append(buf[start:stop])
            pos = stop + 2
        return out, pos

    head, pos = line(0)
    if head[:1] == b"-":
        return RespError(head[1:].decode("utf-8", "replace")), pos
    if head != b"*2":
        raise ConnectionError(f"unexpected reply to SCAN: {head[:40]!r}")
    cursor, pos = bulks(pos, 1)
    head, pos = line(pos)
    if head[:1] != b"*":
        raise ConnectionError(f"unexpected reply to SCAN: {head[:40]!r}")
    keys, pos = bulks(pos, int(head[1:]))
    return (int(cursor[0]), keys), pos


#: Simple-string replies decoded by lookup (TYPE's answers).
_SIMPLE = {b"+" + t: t for t in (b"string", b"hash", b"list", b"set", b"zset", b"stream", b"none")}


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
    """Sends packed commands on one redis-py connection and reads their replies, in order. Several batches
    may be in flight: the caller reads exactly the replies it sent, in the order it sent them."""

    def __init__(self, connection) -> None:
        self.connection = connection
        sock = getattr(connection, "_sock", None)
        # redis-py keeps the connected socket in `_sock`; reading it directly is ~2× faster than its reader.
        self.reader = RespReader(sock) if sock is not None and hasattr(sock, "recv") else None

    def send(self, chunks: list[bytes]) -> None:
        self.connection.send_packed_command([b"".join(chunks)])

    def read(self, replies: int) -> list[Any]:
        """The next `replies` single-line replies (errors as RespError values)."""
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

    def read_scan(self) -> tuple[int, list[bytes]]:
        """The next reply, a SCAN reply. Raises redis' NoPermissionError/ResponseError on an error reply."""
        import redis

        if self.reader is None:
            cur, keys = self.connection.read_response(disable_decoding=True)
            return int(cur), [bytes(k) for k in keys]
        reply = self.reader.scan_reply()
        if isinstance(reply, RespError):
            text = str(reply)
            if text.startswith("NOPERM"):
                raise redis.exceptions.NoPermissionError(text.removeprefix("NOPERM").strip())
            raise redis.exceptions.ResponseError(text)
        return reply


def scan_command(cursor: int, count: int) -> bytes:
    return pack(b"SCAN", str(cursor).encode(), b"COUNT", str(count).encode())
