"""The RESP2 reader and packer of the keyspace sample: replies split anywhere, binary keys, the fast paths
against the exact ones (hypothesis), and a real server answering the packed commands."""

from __future__ import annotations

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.redis.resp import (
    RespError,
    RespReader,
    ScanReply,
    _bulks_exact,
    commands,
    decode,
    decode_ints,
    decode_simple,
    pack,
    parse_scan,
)


class _Sock:
    """A socket that hands out the given bytes in pieces of `piece` bytes (replies split across reads)."""

    def __init__(self, data: bytes, piece: int) -> None:
        self.data, self.piece = data, piece

    def recv(self, _n: int) -> bytes:
        out, self.data = self.data[:self.piece], self.data[self.piece:]
        return out


def scan_bytes(cursor: int, keys: list[bytes]) -> bytes:
    c = str(cursor).encode()
    return (b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(c), c, len(keys))
            + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys))


@pytest.mark.parametrize("piece", [1, 3, 7, 1 << 16])
def test_reader_with_replies_split_anywhere(piece):
    keys = [b"a", b"bin\r\n\x00key", b"", b"$dollar", b"x" * 300]
    lines = b"+string\r\n:-1\r\n:168\r\n$-1\r\n-NOPERM no permissions to access one of the keys\r\n"
    data = scan_bytes(17, keys) + lines + b"-NOPERM this user has no permissions to run the 'scan' command\r\n"
    r = RespReader(_Sock(data, piece))
    reply = r.scan_reply()
    assert (reply.cursor, reply.keys, reply.section) == (17, keys, None)  # CR LF and "$" keys: exact path
    got = list(map(decode, r.lines(5)))
    assert got[:4] == [b"string", -1, 168, None] and isinstance(got[4], RespError)
    assert isinstance(r.scan_reply(), RespError)


def test_fast_scan_path_keeps_the_section():
    keys = [b"app:cache:x::1", b"", b"bin:\xff\x00", b"k" * 1000]
    buf = scan_bytes(0, keys) + b"+PONG\r\n"
    reply, used = parse_scan(buf)
    assert reply.keys == keys and reply.cursor == 0 and buf[used:] == b"+PONG\r\n"
    assert reply.section == b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)
    assert parse_scan(scan_bytes(5, []))[0] == ScanReply(5, [], b"")


KEYS = st.lists(st.one_of(st.binary(max_size=12), st.sampled_from([b"$", b"\r\n", b"$3\r\nabc", b"a\r\n$1\r\nb",
                                                                   b"\r", b"\n$", b":"])), max_size=12)


@settings(max_examples=200, deadline=None)
@given(KEYS, st.integers(0, 2**64 - 1))
def test_fuzz_scan_fast_and_exact_paths_agree(keys, cursor):
    buf = scan_bytes(cursor, keys)
    reply, used = parse_scan(buf)
    assert reply.keys == keys and reply.cursor == cursor and used == len(buf)
    exact, _ = _bulks_exact(buf, len(buf) - len(b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)), len(keys))
    assert exact == keys
    for cut in range(len(buf)):  # every prefix of the reply is incomplete, never wrong
        with pytest.raises(IndexError):
            parse_scan(buf[:cut])
    # The commands made from the section are byte for byte the ones made key by key.
    prefix, suffix = b"*5\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n", b"$7\r\nSAMPLES\r\n$1\r\n5\r\n"
    if reply.section is not None:
        assert commands(prefix, keys, suffix, reply.section) == commands(prefix, keys, suffix)
    assert commands(prefix, keys, suffix) == b"".join(
        pack(b"MEMORY", b"USAGE", k, b"SAMPLES", b"5") for k in keys)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(-2, 10**12).map(lambda i: b":%d" % i),
                          st.sampled_from([b"$-1", b"-NOPERM no permissions to access one of the keys",
                                           b"-ERR x:1"]))))
def test_fuzz_int_column_decoder(lines):
    def norm(v):
        return ("error", str(v)) if isinstance(v, RespError) else v
    assert list(map(norm, decode_ints(lines))) == [norm(decode(line)) for line in lines]


def test_decoders_reject_garbage():
    assert decode_simple([b"+string", b"+hash", b"+weird", b"-ERR no"])[:3] == [b"string", b"hash", b"weird"]
    for bad in (b"", b"*1", b"$3", b":1-2", b"?"):
        with pytest.raises(ConnectionError):
            decode(bad)
    with pytest.raises(ConnectionError):
        decode_ints([b":1", b":1-2"])
    with pytest.raises(ConnectionError):
        RespReader(_Sock(b"", 10)).lines(1)


def test_packed_commands_on_a_real_server(redis_data):
    """What the sample sends, sent to redis-server: one reply per key, in order."""
    c = redis.Redis(host="127.0.0.1", port=redis_data.port, protocol=2)
    conn = c.connection_pool.get_connection()
    try:
        keys = [b"t1:cache:products::1", b"bin:\xff\xfe\x00:k1", b"no-such-key", b"big:hash:1"]
        conn.send_packed_command([commands(b"*2\r\n$4\r\nTYPE\r\n", keys) + pack(b"HLEN", b"big:hash:1")])
        reader = RespReader(conn._sock)
        assert decode_simple(reader.lines(4)) == [b"string", b"string", b"none", b"hash"]
        assert decode_ints(reader.lines(1)) == [30_000]
    finally:
        c.connection_pool.release(conn)
        c.close()
