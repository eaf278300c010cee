"""Attribute the minified bytes of a built file to the source files its source map names.

The method is source-map-explorer's: every generated segment (a run of generated columns that starts a
mapping) is charged to the source of that mapping until the next segment on the same line. What no source
owns goes to named buckets, as source-map-explorer names them: ``UNMAPPED`` (bytes before the first segment
of a line, lines without mappings, line breaks), ``NO_SOURCE`` (segments that map to no source: one-field
segments, or a source index outside `sources`) and ``SOURCE_MAPPING_URL`` (the trailing
``//# sourceMappingURL=`` comment). Columns in source maps count UTF-16 code units (Source Map Revision 3
spec), so lines holding non-ASCII characters are converted to UTF-8 byte offsets: the result adds up to the
file's size on disk.

Indexed maps (`sections`, spec section "Index map") are flattened into one map first (`flatten`). A map
whose mappings reach beyond the file (a line past its last line, or a column past a line's end) was made
for another file: `attribute` raises MapMismatchError, the check source-map-explorer calls "border checks".
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from pathlib import Path
from typing import Any

from advisor.errors import InputFileError

UNMAPPED = "[unmapped]"
NO_SOURCE = "[no source]"
SOURCE_MAPPING_URL = "[sourceMappingURL]"
#: every bucket name; none is a module path (they start with "[")
BUCKETS = (UNMAPPED, NO_SOURCE, SOURCE_MAPPING_URL)


class MapMismatchError(InputFileError):
    """The source map's mappings reach beyond its file: it was made for another build of the file."""


_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_MAP_URL = re.compile(rb"//[#@]\s*sourceMappingURL=([^\s'\"]+)\s*$")
# the comment as the last line of a built file (JS `//#`, CSS `/*#`, legacy `//@`)
_MAP_URL_COMMENT = re.compile(r"[ \t]*(?://|/\*)[#@]\s*sourceMappingURL=[^\n]*\n?$")


def find_map(js_path: Path) -> Path | None:
    """The source map of a built file: the `sourceMappingURL` comment's target, else `<file>.map`."""
    try:
        with js_path.open("rb") as fh:
            fh.seek(max(0, js_path.stat().st_size - 512))
            tail = fh.read()
    except OSError:
        return None
    m = _MAP_URL.search(tail.rstrip())
    if m:
        url = m.group(1).decode("utf-8", "replace")
        if not url.startswith("data:"):
            candidate = js_path.parent / url.split("?")[0]
            if candidate.is_file():
                return candidate
    candidate = js_path.with_name(js_path.name + ".map")
    return candidate if candidate.is_file() else None


# An inline map as the file's last line: `//# sourceMappingURL=data:application/json;base64,…` (JS) or the
# `/*# … */` form (CSS); charset parameters allowed (Source Map Revision 3, "Linking through inline
# annotations").
_INLINE = re.compile(rb"(?:\r?\n)?[ \t]*(?://|/\*)[#@]\s*sourceMappingURL=data:([^,\s]*),([^\s*]*)\s*(?:\*/)?\s*$")


def split_inline_map(data: bytes) -> tuple[bytes, bytes]:
    """(the file without its inline source map comment, the comment with the line break before it);
    (data, b"") when the file has no `sourceMappingURL=data:` comment as its last line."""
    idx = data.rfind(b"sourceMappingURL=data:")
    if idx < 0:
        return data, b""
    start = data.rfind(b"\n", 0, idx)
    start = 0 if start < 0 else start
    if start > 0 and data[start - 1:start] == b"\r":
        start -= 1
    m = _INLINE.match(data, start)
    if m is None or m.end() != len(data):
        return data, b""
    return data[:start], data[start:]


def inline_map(data: bytes, name: str = "<bundle>") -> dict[str, Any] | None:
    """The source map inline in a built file (base64 or URL-encoded `data:` URL), or None when there is none
    or it cannot be decoded (then the file is treated as having no map)."""
    import base64
    import urllib.parse

    _, comment = split_inline_map(data)
    if not comment:
        return None
    m = _INLINE.match(comment)
    if m is None:
        return None
    meta, payload = m.group(1).decode("ascii", "replace"), m.group(2)
    try:
        raw = base64.b64decode(payload) if meta.endswith(";base64") else \
            urllib.parse.unquote_to_bytes(payload.decode("ascii"))
        smap = json.loads(raw)
        check_map(smap, name)
    except (ValueError, UnicodeDecodeError, InputFileError):
        return None
    return smap


def load_map(path: Path) -> dict[str, Any]:
    """Parse a source map file. Raises InputFileError (naming the file) when it is unreadable, not JSON,
    or not a version-3 map with `sources` and `mappings`."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as e:
        raise InputFileError(f"source map {path}: cannot read it ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(f"source map {path}: not valid JSON ({e})") from None
    if isinstance(data, dict) and "sections" in data:
        data = flatten(data, str(path))
    check_map(data, str(path))
    return data


def check_map(data: Any, name: str) -> None:
    """Raise InputFileError unless `data` is a usable flat version-3 source map."""
    if not isinstance(data, dict):
        raise InputFileError(f"source map {name}: not a JSON object")
    if "sections" in data:
        raise InputFileError(f"source map {name}: an indexed map (\"sections\"); flatten() it first")
    if not isinstance(data.get("sources"), list) or not isinstance(data.get("mappings"), str):
        raise InputFileError(f"source map {name}: \"sources\" (a list) or \"mappings\" (a string) is missing")
    if not all(isinstance(s, str) or s is None for s in data["sources"]):
        raise InputFileError(f"source map {name}: \"sources\" holds something other than strings")


def _utf8_offsets(line: str) -> list[int]:
    """UTF-16 column → UTF-8 byte offset, for one line."""
    widths: list[int] = []
    for ch in line:
        o = ord(ch)
        if o < 0x80 or 0xDC80 <= o <= 0xDCFF:  # ASCII, or an undecodable byte kept by surrogateescape
            widths.append(1)
        elif o < 0x800:
            widths.append(2)
        elif o < 0x10000:
            widths.append(3)
        else:  # a surrogate pair in UTF-16: two columns, four bytes
            widths.extend((4, 0))
    return [0, *accumulate(widths)]


def _vlq_line(mline: str, name: str, li: int) -> list[list[int]]:
    """The segments of one `mappings` line, each a list of 1, 4 or 5 VLQ-decoded (relative) values."""
    out = []
    for seg in mline.split(","):
        if not seg:
            continue
        vals: list[int] = []
        value = shift = 0
        try:
            for ch in seg:
                d = _B64[ch]
                value += (d & 31) << shift
                if d & 32:
                    shift += 5
                    continue
                vals.append(-(value >> 1) if value & 1 else value >> 1)
                value = shift = 0
        except KeyError:
            raise InputFileError(f"source map {name}: invalid character in \"mappings\" "
                                 f"(line {li + 1}, segment {seg[:20]!r})") from None
        if shift or not vals:
            raise InputFileError(f"source map {name}: truncated VLQ in \"mappings\" (line {li + 1})")
        out.append(vals)
    return out


def _vlq(n: int) -> str:
    v = (-n << 1) | 1 if n < 0 else n << 1
    out = []
    while True:
        d = v & 31
        v >>= 5
        out.append(_B64_CHARS[d | (32 if v else 0)])
        if not v:
            return "".join(out)


_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def flatten(index_map: dict[str, Any], name: str = "<map>") -> dict[str, Any]:
    """An indexed source map (`{"sections": [{"offset": {"line", "column"}, "map": {...}}]}`, Source Map
    Revision 3, "Index map") as one flat map: sources and names concatenated, every segment moved by its
    section's offset and re-encoded. Raises InputFileError for a section that is malformed or refers to
    its map by `url` (not supported: the map must be embedded)."""
    sections = index_map.get("sections")
    if not isinstance(sections, list):
        raise InputFileError(f"source map {name}: \"sections\" is not a list")
    sources: list[str | None] = []
    contents: list[str | None] = []
    names: list[str] = []
    lines: list[list[list[int]]] = []  # absolute [gen col, src, line, col, name?] per generated line
    for si, sec in enumerate(sections):
        off = sec.get("offset") if isinstance(sec, dict) else None
        if not isinstance(off, dict) or not all(isinstance(off.get(k), int) and not isinstance(off.get(k), bool)
                                                and off[k] >= 0 for k in ("line", "column")):
            raise InputFileError(f"source map {name}: section {si} has no valid \"offset\" {{line, column}}")
        sub = sec.get("map")
        if sub is None and "url" in sec:
            raise InputFileError(f"source map {name}: section {si} points to another file by \"url\"; only "
                                 "sections with an embedded \"map\" are supported")
        if isinstance(sub, dict) and "sections" in sub:
            sub = flatten(sub, name)
        check_map(sub, f"{name} (section {si})")
        src_base, name_base = len(sources), len(names)
        sources.extend(sub["sources"])
        sc = sub.get("sourcesContent") if isinstance(sub.get("sourcesContent"), list) else []
        contents.extend((list(sc) + [None] * len(sub["sources"]))[:len(sub["sources"])])
        sub_names = sub.get("names") if isinstance(sub.get("names"), list) else []
        names.extend(n if isinstance(n, str) else "" for n in sub_names)
        src = oline = ocol = nm = 0
        for li, mline in enumerate(sub["mappings"].split(";")):
            col = 0
            gline = off["line"] + li
            while len(lines) <= gline:
                lines.append([])
            for vals in _vlq_line(mline, name, li):
                col += vals[0]
                seg = [col + (off["column"] if li == 0 else 0)]
                if len(vals) >= 4:
                    src, oline, ocol = src + vals[1], oline + vals[2], ocol + vals[3]
                    seg += [src + src_base, oline, ocol]
                    if len(vals) >= 5:
                        nm += vals[4]
                        seg.append(nm + name_base)
                lines[gline].append(seg)
    prev = [0, 0, 0, 0]  # src, line, col, name: relative across the whole map
    out_lines = []
    for segs in lines:
        prev_col = 0
        parts = []
        for seg in sorted(segs, key=lambda x: x[0]):
            text = _vlq(seg[0] - prev_col)
            prev_col = seg[0]
            for i in range(1, len(seg)):
                text += _vlq(seg[i] - prev[i - 1])
                prev[i - 1] = seg[i]
            parts.append(text)
        out_lines.append(",".join(parts))
    flat = {"version": 3, "sources": sources, "names": names, "mappings": ";".join(out_lines)}
    if any(c is not None for c in contents):
        flat["sourcesContent"] = contents
    if isinstance(index_map.get("file"), str):
        flat["file"] = index_map["file"]
    return flat


def _split_url_comment(text: str) -> tuple[str, str]:
    """(code, trailing sourceMappingURL comment with its line break) of a built file's text."""
    idx = text.rfind("sourceMappingURL=", max(0, len(text) - 4096))
    if idx < 0:
        return text, ""
    start = text.rfind("\n", 0, idx) + 1
    if _MAP_URL_COMMENT.match(text, start) is None:
        return text, ""
    return text[:start], text[start:]


def attribute(code: bytes, smap: dict[str, Any], name: str = "<bundle>") -> dict[str, int]:
    """Bytes of `code` per source (as named in `smap["sources"]`, with `sourceRoot` prefixed), plus the
    buckets UNMAPPED, NO_SOURCE and SOURCE_MAPPING_URL where non-zero. The values add up to len(code).
    An indexed map is flattened first. Raises InputFileError for a malformed `mappings` string and
    MapMismatchError when the mappings reach beyond `code` (a map of another file)."""
    if isinstance(smap, dict) and "sections" in smap:
        smap = flatten(smap, name)
    check_map(smap, name)
    root = smap.get("sourceRoot") or ""
    if root and not root.endswith("/"):
        root += "/"
    sources = [root + (s or "") for s in smap["sources"]]
    text = code.decode("utf-8", "surrogateescape")  # byte-exact round trip, even for invalid UTF-8
    text, url_comment = _split_url_comment(text)
    lines = text.split("\n")
    nsrc = len(sources)
    counts = [0] * (nsrc + 2)  # slot nsrc: unmapped, nsrc + 1: no source
    unmapped_slot = nsrc
    no_source_slot = nsrc + 1
    b64 = _B64
    src = 0
    mapping_lines = smap["mappings"].split(";")
    if len(mapping_lines) > len(lines) and any(mapping_lines[len(lines):]):
        last = max(i for i, m in enumerate(mapping_lines) if m) + 1
        raise MapMismatchError(f"source map {name} does not belong to its file: its mappings reach line "
                               f"{last}, the file has {len(lines)} line(s)")
    for li, line in enumerate(lines):
        ascii_line = line.isascii()
        line_bytes = len(line) if ascii_line else len(line.encode("utf-8", "surrogateescape"))
        offsets = None if ascii_line else _utf8_offsets(line)
        mline = mapping_lines[li] if li < len(mapping_lines) else ""
        prev_pos = 0
        prev_slot = unmapped_slot
        col = 0
        if mline:
            for seg in mline.split(","):
                if not seg:
                    continue
                # decode the first two VLQ fields: generated column delta, source index delta
                vals = [0, 0]
                n = value = shift = 0
                try:
                    for ch in seg:
                        d = b64[ch]
                        value += (d & 31) << shift
                        if d & 32:
                            shift += 5
                            continue
                        vals[n] = -(value >> 1) if value & 1 else value >> 1
                        n += 1
                        if n == 2:
                            break
                        value = shift = 0
                except KeyError:
                    raise InputFileError(f"source map {name}: invalid character in \"mappings\" "
                                         f"(line {li + 1}, segment {seg[:20]!r})") from None
                if n == 0:
                    raise InputFileError(f"source map {name}: truncated VLQ in \"mappings\" (line {li + 1})")
                col += vals[0]
                if n == 2:
                    src += vals[1]
                    slot = src if 0 <= src < nsrc else no_source_slot
                else:
                    slot = no_source_slot
                if col < 0:
                    raise InputFileError(f"source map {name}: negative generated column in \"mappings\" "
                                         f"(line {li + 1})")
                if ascii_line:
                    if col > line_bytes:
                        raise MapMismatchError(f"source map {name} does not belong to its file: line {li + 1} "
                                               f"is {line_bytes} columns long, the map has a mapping at "
                                               f"column {col}")
                    pos = col
                elif col < len(offsets):
                    pos = offsets[col]
                else:
                    raise MapMismatchError(f"source map {name} does not belong to its file: line {li + 1} "
                                           f"is {len(offsets) - 1} columns long, the map has a mapping at "
                                           f"column {col}")
                if pos > prev_pos:
                    counts[prev_slot] += pos - prev_pos
                    prev_pos = pos
                prev_slot = slot
        counts[prev_slot] += line_bytes - prev_pos
        if li < len(lines) - 1:
            counts[unmapped_slot] += 1  # the line break
    out: dict[str, int] = {}
    for i, s in enumerate(sources):
        if counts[i]:
            out[s] = out.get(s, 0) + counts[i]
    if counts[unmapped_slot]:
        out[UNMAPPED] = counts[unmapped_slot]
    if counts[no_source_slot]:
        out[NO_SOURCE] = counts[no_source_slot]
    if url_comment:
        out[SOURCE_MAPPING_URL] = len(url_comment.encode("utf-8", "surrogateescape"))
    return out


def sources_content(smap: dict[str, Any]) -> dict[str, str]:
    """source name (with sourceRoot) → its original text, for the sources the map embeds."""
    root = smap.get("sourceRoot") or ""
    if root and not root.endswith("/"):
        root += "/"
    contents = smap.get("sourcesContent") or []
    out = {}
    for s, c in zip(smap.get("sources", []), contents, strict=False):
        if isinstance(c, str) and s is not None:
            out[root + s] = c
    return out
