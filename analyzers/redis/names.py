"""Key names: the prefix group a key belongs to, and a printable form of any key (keys are bytes).

Grouping (docs/redis.md, "Key prefixes"):

1. **Spring Cache** keys ``cacheName::key`` (RedisCacheConfiguration's default CacheKeyPrefix, also behind a
   configured key-prefix such as ``app:cache:``): the group is everything up to and including the *last*
   ``::`` (``app:cache:orders::42`` → ``app:cache:orders::``). The cache-name candidate is the last
   ``:``-separated segment before that ``::`` (``orders``).
2. Otherwise ``:``-separated keys: the group is the key's leading segments without its last one (the last
   segment names the key itself), at most MAX_DEPTH of them, with every *variable-looking* segment (an id:
   digits, a hex/uuid/base64-like token, anything over 32 bytes or not printable) replaced by ``*`` so that
   ``user:1234:profile`` and ``user:99:profile`` share ``user:*:``.
3. A key without ``:`` belongs to the group ``""`` ("no prefix").

Only the first MAX_GROUPS groups seen are kept apart; later new prefixes go to OTHER_GROUP, so that a keyspace
with unbounded prefixes cannot make the snapshot unbounded.
"""

from __future__ import annotations

import re

#: At most this many leading ``:`` segments form a prefix (perfadvisor's choice: ``app:module:entity:``
#: is about as deep as key naming conventions go; deeper segments are mostly ids or field names).
MAX_DEPTH = 3
#: At most this many distinct groups in one keyspace sample.
MAX_GROUPS = 1000
#: The group of keys whose prefix arrived after MAX_GROUPS others.
OTHER_GROUP = "(other prefixes)"
#: A printable key name is cut to this many characters.
MAX_NAME_CHARS = 200

_DIGITS = re.compile(rb"[0-9]+")
_TOKEN = re.compile(rb"[A-Za-z0-9_\-+/=.]+")


def printable(raw: bytes, limit: int = MAX_NAME_CHARS) -> str:
    """A key name that is safe anywhere (JSON, HTML, a terminal): the UTF-8 text itself when it decodes and
    every character is printable, else Python's bytes repr (``b'bin:\\xff\\x00'``). Cut to `limit`
    characters with the total length in bytes appended. Never raises."""
    try:
        text = raw.decode("utf-8")
        shown = text if text.isprintable() else repr(bytes(raw))
    except UnicodeDecodeError:
        shown = repr(bytes(raw))
    if len(shown) > limit:
        shown = f"{shown[:limit]}…({len(raw)} bytes)"
    return shown


def is_variable(segment: bytes) -> bool:
    """A segment that looks like an id rather than a name: digits only; a token of 8+ characters with a
    digit in it (hex ids, UUIDs, base64 session ids); anything over 32 bytes; anything that is not
    printable ASCII."""
    if not segment:
        return False
    if _DIGITS.fullmatch(segment) or len(segment) > 32:
        return True
    if not _TOKEN.fullmatch(segment):
        return not (segment.isascii() and segment.decode("ascii").isprintable())
    return len(segment) >= 8 and any(48 <= b <= 57 for b in segment)


def group_of(key: bytes) -> tuple[bytes, str]:
    """(prefix, kind) of a key: kind "spring" (``…::``), "colon" or "none" (prefix b"")."""
    cut = key.rfind(b"::")
    if cut >= 0:
        head = key[:cut]
        segs = head.split(b":")
        if len(segs) > 1:
            # Normalise the segments before the cache name (a tenant id in a key-prefix), keep the name.
            segs = [b"*" if is_variable(s) else s for s in segs[:-1]] + [segs[-1]]
        return b":".join(segs) + b"::", "spring"
    segs = key.split(b":")
    if len(segs) < 2:
        return b"", "none"
    head = segs[:-1][:MAX_DEPTH]
    return b":".join(b"*" if is_variable(s) else s for s in head) + b":", "colon"


def spring_cache_name(prefix: str) -> str | None:
    """The Spring cache-name candidate of a group prefix: ``app:cache:orders::`` → ``orders``; None when the
    prefix is not a ``::`` prefix or the name is empty."""
    if not prefix.endswith("::"):
        return None
    name = prefix[:-2].rsplit(":", 1)[-1]
    return name or None
