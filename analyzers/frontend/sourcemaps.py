"""Attribute the minified bytes of a built file to the source files its source map names.

The method is source-map-explorer's: every generated segment (a run of generated columns that starts a
mapping) is charged to the source of that mapping until the next segment on the same line; bytes before the
first segment of a line, lines without mappings, segments without a source and line breaks go to
``UNMAPPED``. Columns in source maps count UTF-16 code units (Source Map Revision 3 spec), so lines holding
non-ASCII characters are converted to UTF-8 byte offsets: the result adds up to the file's size on disk.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from pathlib import Path
from typing import Any

from advisor.errors import InputFileError

UNMAPPED = "[unmapped]"

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_MAP_URL = re.compile(rb"//[#@]\s*sourceMappingURL=([^\s'\"]+)\s*$")


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


def load_map(path: Path) -> dict[str, Any]:
    """Parse a source map file. Raises InputFileError (naming the file) when it is unreadable, not JSON,
    or not a version-3 map with `sources` and `mappings`."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as e:
        raise InputFileError(f"source map {path}: cannot read it ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(f"source map {path}: not valid JSON ({e})") from None
    check_map(data, str(path))
    return data


def check_map(data: Any, name: str) -> None:
    """Raise InputFileError unless `data` is a usable version-3 source map."""
    if not isinstance(data, dict):
        raise InputFileError(f"source map {name}: not a JSON object")
    if "sections" in data:
        raise InputFileError(f"source map {name}: indexed source maps (\"sections\") are not supported; "
                             "build with a flat source map")
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


def attribute(code: bytes, smap: dict[str, Any], name: str = "<bundle>") -> dict[str, int]:
    """Bytes of `code` per source (as named in `smap["sources"]`, with `sourceRoot` prefixed), plus
    UNMAPPED. The values add up to len(code). Raises InputFileError for a malformed `mappings` string."""
    check_map(smap, name)
    root = smap.get("sourceRoot") or ""
    if root and not root.endswith("/"):
        root += "/"
    sources = [root + (s or "") for s in smap["sources"]]
    text = code.decode("utf-8", "surrogateescape")  # byte-exact round trip, even for invalid UTF-8
    lines = text.split("\n")
    counts = [0] * (len(sources) + 1)  # last slot: unmapped
    unmapped_slot = len(sources)
    b64 = _B64
    src = 0
    nsrc = len(sources)
    mapping_lines = smap["mappings"].split(";")
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
                    slot = src if 0 <= src < nsrc else unmapped_slot
                else:
                    slot = unmapped_slot
                if col < 0:
                    raise InputFileError(f"source map {name}: negative generated column in \"mappings\" "
                                         f"(line {li + 1})")
                if ascii_line:
                    pos = col if col <= line_bytes else line_bytes
                else:
                    pos = offsets[col] if col < len(offsets) else line_bytes
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
