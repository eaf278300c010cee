"""RESP2 on a redis-py connection, for the keyspace sample's pipelines: commands packed here and replies read
straight from the connection's socket. redis-py packs and parses each command through several Python layers;
for four commands × 1M keys that was most of the time, so the hot paths here work on whole batches with
bytes.join/split/replace and map (C loops), each checked and with an exact per-item fallback:

- a SCAN reply whose keys hold no CR LF and do not start with ``$`` is split in one call and checked against
  the lengths in the reply; the per-key commands of such a batch are made with one bytes.replace on the reply's
  own key section (``keys_section``);
- a column of integer replies is parsed with one split and map(int) once it is checked to hold only digits,
  ``-`` and ``:``.

Without the socket (a redis-py that hides it) redis-py's own reader is used. AUTH, SELECT and TLS stay
redis-py's: the connection is its.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CRLF = b"\r\n"


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


def pack(*args: bytes) -> bytes:
    """One command in RESP2 (an array of bulk strings)."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


def scan_command(cursor: int, count: int) -> bytes:
    return pack(b"SCAN", str(cursor).encode(), b"COUNT", str(count).encode())


def commands(prefix: bytes, keys: list[bytes], suffix: bytes = b"", section: bytes | None = None) -> bytes:
    """`prefix + bulk(key) + suffix` for every key, concatenated: one command per key (prefix holds the array
    header and the command name, suffix any arguments after the key). `section`, when given, must be
    b"".join(bulk(k) for k in keys) with no key holding CR LF or starting with ``$`` (ScanReply.section):
    then the whole batch is made by one replace."""
    if not keys:
        return b""
    if section is not None:
        return prefix + section.replace(CRLF + b"$", CRLF + suffix + prefix + b"$") + suffix
    return b"".join([prefix + b"$%d\r\n%s\r\n" % (len(k), k) + suffix for k in keys])


class RespError(Exception):
    """An error reply (``-NOPERM …``) read from the raw pipeline; returned in place of a value, not raised."""


@dataclass
class ScanReply:
    """SCAN's reply. `section` is the reply's key section (every key as a bulk string, concatenated) when no
    key holds CR LF or starts with ``$`` — see `commands` — else None."""

    cursor: int
    keys: list[bytes]
    section: bytes | None = None


class RespReader:
    """Reads replies from a socket: SCAN replies (`scan_reply`) and single-line replies (`lines`), which is
    what every per-key command here answers: simple strings (``+string``), integers (``:168``), errors
    (``-NOPERM …``) and the null bulk string (``$-1``). Anything else raises ConnectionError (the connection
    is then dropped, never reused)."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.rest = b""

    def _recv(self) -> bytes:
        data = self.sock.recv(1 << 18)
        if not data:
            raise ConnectionError("Connection closed by server.")
        return data

    def lines(self, n: int) -> list[bytes]:
        """The next n replies, undecoded (each one line without its CR LF)."""
        raw = self.rest.split(CRLF)
        rest = raw.pop()
        while len(raw) < n:
            parts = (rest + self._recv()).split(CRLF)
            rest = parts.pop()
            raw.extend(parts)
        if len(raw) > n:  # more than asked for was received: keep it for the next read
            rest = CRLF.join(raw[n:] + [rest])
            del raw[n:]
        self.rest = rest
        return raw

    def scan_reply(self) -> ScanReply | RespError:
        """The next reply, a SCAN reply; keys are any bytes (CR LF too)."""
        buf = self.rest
        while True:
            try:
                parsed, used = parse_scan(buf)
            except IndexError:  # incomplete: read more
                buf += self._recv()
                continue
            self.rest = buf[used:]
            return parsed


def _line(buf: bytes, pos: int) -> tuple[bytes, int]:
    end = buf.find(CRLF, pos)
    if end < 0:
        raise IndexError
    return buf[pos:end], end + 2


def _bulks_exact(buf: bytes, pos: int, count: int) -> tuple[list[bytes], int]:
    """`count` bulk strings from `pos`, each read by its length (keys may hold any bytes)."""
    out = []
    find, size = buf.find, len(buf)
    for _ in range(count):
        end = find(CRLF, pos)
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


_DIGITS = b"0123456789"


def _bulks_fast(buf: bytes, pos: int, count: int) -> tuple[list[bytes], int, bytes] | None:
    """Like _bulks_exact, with one split, when no key holds CR LF or starts with ``$``; None when that cannot
    be shown (then the caller reads them exactly). Raises IndexError when `buf` is incomplete."""
    parts = buf[pos:].split(CRLF, 2 * count)
    if len(parts) <= 2 * count:
        raise IndexError
    heads, keys = parts[0:2 * count:2], parts[1:2 * count:2]
    joined = b"".join(heads)
    if joined.count(b"$") != count or joined.translate(None, b"$" + _DIGITS):
        return None
    try:
        if list(map(len, keys)) != list(map(int, joined[1:].split(b"$"))):
            return None
    except ValueError:  # a "$" without digits
        return None
    end = len(buf) - len(parts[-1])
    section = buf[pos:end]
    if section.count(CRLF + b"$") != count - 1:  # a key starting with "$" would break `commands`
        return None
    return keys, end, section


def parse_scan(buf: bytes) -> tuple[ScanReply | RespError, int]:
    """Parse one SCAN reply at the start of `buf`: (value, bytes used). Raises IndexError when `buf` holds
    only part of it, ConnectionError when it is not a SCAN reply."""
    head, pos = _line(buf, 0)
    if head[:1] == b"-":
        return RespError(head[1:].decode("utf-8", "replace")), pos
    if head != b"*2":
        raise ConnectionError(f"unexpected reply to SCAN: {head[:40]!r}")
    cursor, pos = _bulks_exact(buf, pos, 1)
    head, pos = _line(buf, pos)
    if head[:1] != b"*" or not head[1:].isdigit():
        raise ConnectionError(f"unexpected reply to SCAN: {head[:40]!r}")
    count = int(head[1:])
    fast = _bulks_fast(buf, pos, count) if count else ([], pos, b"")
    if fast is not None:
        keys, end, section = fast
        return ScanReply(int(cursor[0]), keys, section), end
    keys, end = _bulks_exact(buf, pos, count)
    return ScanReply(int(cursor[0]), keys, None), end


#: Simple-string replies decoded by lookup (TYPE's answers).
_SIMPLE = {b"+" + t: t for t in (b"string", b"hash", b"list", b"set", b"zset", b"stream", b"none")}


def decode(line: bytes) -> Any:
    """One single-line reply: bytes (simple string), int, None (null bulk) or RespError."""
    kind = line[:1]
    if kind == b":":
        try:
            return int(line[1:])
        except ValueError:
            raise ConnectionError(f"unexpected reply from the server: {line[:40]!r}") from None
    if kind == b"+":
        return line[1:]
    if kind == b"-":
        return RespError(line[1:].decode("utf-8", "replace"))
    if line == b"$-1":
        return None
    raise ConnectionError(f"unexpected reply from the server: {line[:40]!r}")


def decode_ints(lines: list[bytes]) -> list[Any]:
    """A column of replies that are mostly integers (PTTL, MEMORY USAGE, HLEN …), decoded."""
    if not lines:
        return []
    joined = b"\n".join(lines)
    if (joined.startswith(b":") and joined.count(b":") == len(lines)
            and joined.count(b"\n:") == len(lines) - 1 and not joined.translate(None, b":-\n" + _DIGITS)):
        try:
            return list(map(int, joined[1:].split(b"\n:")))
        except ValueError:  # e.g. ":1-2": let decode say what is wrong
            pass
    return list(map(decode, lines))


def decode_simple(lines: list[bytes]) -> list[Any]:
    """A column of replies that are mostly simple strings (TYPE), decoded."""
    out = list(map(_SIMPLE.get, lines))
    if None in out:
        out = [v if v is not None else decode(line) for v, line in zip(out, lines, strict=True)]
    return out


class Pipe:
    """Sends packed commands on one redis-py connection and reads their replies, in order. Several batches
    may be in flight: the caller reads exactly the replies it sent, in the order it sent them."""

    def __init__(self, connection) -> None:
        self.connection = connection
        sock = getattr(connection, "_sock", None)
        # redis-py keeps the connected socket in `_sock`; reading it directly is much faster than its reader.
        self.reader = RespReader(sock) if sock is not None and hasattr(sock, "recv") else None

    def send(self, chunks: list[bytes]) -> None:
        self.connection.send_packed_command([b"".join(chunks)])

    def read(self, replies: int, column: str = "any") -> list[Any]:
        """The next `replies` single-line replies, decoded (errors as RespError values). column "int" or
        "simple" says what most of them are, for the fast decoders."""
        if self.reader is not None:
            lines = self.reader.lines(replies)
            if column == "int":
                return decode_ints(lines)
            if column == "simple":
                return decode_simple(lines)
            return list(map(decode, lines))
        import redis

        out: list[Any] = []
        for _ in range(replies):
            try:
                out.append(self.connection.read_response(disable_decoding=True))
            except redis.exceptions.ResponseError as e:  # an error reply belongs to its command
                out.append(RespError(str(e)))
        return out

    def read_scan(self) -> ScanReply:
        """The next reply, a SCAN reply. Raises redis' NoPermissionError/ResponseError on an error reply."""
        import redis

        if self.reader is None:
            cur, keys = self.connection.read_response(disable_decoding=True)
            return ScanReply(int(cur), [bytes(k) for k in keys])
        reply = self.reader.scan_reply()
        if isinstance(reply, RespError):
            text = str(reply)
            if text.startswith("NOPERM"):
                raise redis.exceptions.NoPermissionError(text.removeprefix("NOPERM").strip())
            raise redis.exceptions.ResponseError(text)
        return reply
