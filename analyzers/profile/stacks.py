"""Collapsed stacks (py-spy ``--format raw``, Brendan Gregg's folded format) → functions and a frame tree.

One line per distinct stack: frames from the root to the leaf separated by ``;``, a space, and the number
of samples in which that stack was seen::

    <module> (app.py:40);main (app.py:31);checksum (app.py:12) 214

py-spy writes a frame as ``function (file:line)`` where line is the line executing in that frame; with
``--subprocesses`` each stack starts with ``process PID:"command line"`` frames. Command lines can hold
secrets, so those frames are replaced by ``process PID (script)`` while parsing and never kept.

perfadvisor runs py-spy with ``--full-filenames`` so that library code can be told from the application's:
a file under ``site-packages/``, ``dist-packages/`` or ``lib/pythonX.Y/`` (the standard library), or a
``<frozen …>`` module, is *library* code and shown by its package path (``json/encoder.py``); any other
file is the application's and keeps its full path (``/app/shop_worker.py``). For a hot library function
the application frame that called it most (its *caller*) is what the user can change.

Self samples of a function: samples in which it is the leaf (on CPU itself: a flame graph's "plateau").
Total (inclusive) samples: samples in which it is anywhere on the stack, counted once per sample even when
it recurses. Functions are keyed by (function, file); line numbers are merged and the most-sampled line is
reported.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from analyzers.profile.targets import command_label

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$", re.S)
_PROCESS = re.compile(r'^process (?P<pid>\d+):"(?P<cmd>.*)"$', re.S)
_PROCESS_START = re.compile(r'^process \d+:"')
#: Frame labels longer than this are cut (a generated function name must not bloat the snapshot).
MAX_LABEL_CHARS = 300
#: The frame tree keeps this many frames from the root; deeper frames (deep recursion) are merged into
#: their ancestor at that depth, so drawing it never nears Python's recursion limit.
MAX_TREE_DEPTH = 200


_LIBRARY = (re.compile(r"^.*?[/\\](?:site|dist)-packages[/\\](?P<rest>.+)$"),
            re.compile(r"^.*?[/\\]lib[/\\](?:python|pypy)\d+(?:\.\d+)?[/\\](?P<rest>.+)$", re.I))


def shorten(path: str) -> tuple[str, bool]:
    """(file as shown, is library code) for a frame's file name; see the module docstring."""
    for pattern in _LIBRARY:
        m = pattern.match(path)
        if m:
            return m.group("rest"), True
    return path, path.startswith("<frozen")


@dataclass(frozen=True)
class Frame:
    """One stack frame. `file` and `line` are None when py-spy gave none (a process frame, a native
    frame without symbols); `library` is True for library code (see the module docstring)."""

    function: str
    file: str | None = None
    line: int | None = None
    library: bool = False

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.function, self.file)


@dataclass(frozen=True)
class FunctionStats:
    """Samples of one function over a profile; `line` is its most-sampled line (self samples first).
    `caller` (library functions with self samples): {"function", "file", "line", "samples"} of the
    application frame nearest below it in the most of its self samples, or None."""

    function: str
    file: str | None
    line: int | None
    self_samples: int
    total_samples: int
    library: bool = False
    caller: dict | None = None

    @property
    def module(self) -> str | None:
        return module_of(self.file)

    def to_dict(self) -> dict:
        return {"function": self.function, "file": self.file, "line": self.line, "module": self.module,
                "library": self.library, "caller": self.caller,
                "self_samples": self.self_samples, "total_samples": self.total_samples}


def module_of(file: str | None) -> str | None:
    """A dotted module name from py-spy's shortened file name: ``shop/orders.py`` → ``shop.orders``,
    ``pkg/__init__.py`` → ``pkg``; pseudo-files (``<string>``) and absolute paths give their last part."""
    if not file:
        return None
    if file.startswith("<"):
        return file
    path = file.replace("\\", "/")
    if path.startswith("/"):
        path = path.rsplit("/", 1)[-1]
    if path.endswith(".py"):
        path = path[:-3]
    if path.endswith("/__init__"):
        path = path[: -len("/__init__")]
    return path.replace("/", ".") or file


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def parse_frame(text: str) -> Frame:
    """A Frame from py-spy's text; a process frame comes back as ``process PID (script)`` without its
    arguments. Never raises."""
    m = _PROCESS.match(text)
    if m:
        label = command_label(m.group("cmd").split())
        return Frame(_cut(f"process {m.group('pid')} ({label})" if label else f"process {m.group('pid')}"))
    m = _FRAME.match(text)
    if m and m.group("file"):
        line = m.group("line")
        file, library = shorten(m.group("file"))
        return Frame(_cut(m.group("function") or "<unknown>"), _cut(file),
                     int(line) if line and len(line) < 10 else None, library)
    return Frame(_cut(text or "<unknown>"))


def _split_frames(stack: str) -> list[str]:
    """Split on ``;`` but keep a process frame whole when its command line holds ``;``."""
    frames: list[str] = []
    pending: str | None = None
    for seg in stack.split(";"):
        if pending is not None:
            pending += ";" + seg
            if seg.endswith('"'):
                frames.append(pending)
                pending = None
            continue
        if _PROCESS_START.match(seg) and not seg.endswith('"'):
            pending = seg
            continue
        frames.append(seg)
    if pending is not None:
        frames.append(pending)
    return frames


@dataclass(frozen=True)
class Parsed:
    """Parsed collapsed-stack text: (frames root→leaf, samples) per line, and how many lines were not
    stacks (kept out; a truncated last line, a stray message)."""

    stacks: tuple[tuple[tuple[Frame, ...], int], ...]
    bad_lines: int

    @property
    def samples(self) -> int:
        return sum(n for _, n in self.stacks)


def parse_collapsed(text: str) -> Parsed:
    """Parse py-spy ``--format raw`` output (any folded-stack text). Lines that are not ``STACK COUNT`` with
    a non-negative whole COUNT are counted in `bad_lines`. Never raises."""
    stacks: list[tuple[tuple[Frame, ...], int]] = []
    bad = 0
    # Only "\n" ends a line: str.splitlines() would also split on \x1c-\x1e, \x85, \u2028… inside a name.
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        stack, sep, count = line.rpartition(" ")
        if not sep or not stack or not count.isascii() or not count.isdigit() or len(count) > 15:
            bad += 1
            continue
        n = int(count)
        if n == 0:
            continue
        stacks.append((tuple(parse_frame(f) for f in _split_frames(stack)), n))
    return Parsed(tuple(stacks), bad)


def functions(stacks: Iterable[tuple[tuple[Frame, ...], int]]) -> list[FunctionStats]:
    """Every function's self and total samples, most self samples first (then most total, then name)."""
    self_n: Counter = Counter()
    total_n: Counter = Counter()
    self_lines: dict[tuple, Counter] = defaultdict(Counter)
    lines: dict[tuple, Counter] = defaultdict(Counter)
    callers: dict[tuple, Counter] = defaultdict(Counter)
    library: set[tuple] = set()
    for frames, n in stacks:
        if not frames:
            continue
        leaf = frames[-1]
        self_n[leaf.key] += n
        if leaf.line is not None:
            self_lines[leaf.key][leaf.line] += n
        if leaf.library:
            app = next((f for f in reversed(frames[:-1]) if f.file is not None and not f.library), None)
            if app is not None:
                callers[leaf.key][(app.function, app.file, app.line)] += n
        for f in frames:
            if f.line is not None:
                lines[f.key][f.line] += n
            if f.library:
                library.add(f.key)
        for key in {f.key for f in frames}:
            total_n[key] += n
    out = []
    for key, total in total_n.items():
        best = self_lines.get(key) or lines.get(key)
        line = min(best.items(), key=lambda kv: (-kv[1], kv[0]))[0] if best else None
        caller = None
        if callers.get(key):
            (c_func, c_file, c_line), c_n = min(callers[key].items(),
                                                key=lambda kv: (-kv[1], kv[0][0], kv[0][1], kv[0][2] or 0))
            caller = {"function": c_func, "file": c_file, "line": c_line, "samples": c_n}
        out.append(FunctionStats(key[0], key[1], line, self_n.get(key, 0), total, key in library, caller))
    out.sort(key=lambda f: (-f.self_samples, -f.total_samples, f.function, f.file or ""))
    return out


def top(stats: list[FunctionStats], n: int, by: str = "self") -> list[FunctionStats]:
    """The `n` functions with the most `by` ("self" or "total") samples."""
    field = "self_samples" if by == "self" else "total_samples"
    ranked = sorted(stats, key=lambda f: (-getattr(f, field), f.function, f.file or ""))
    return [f for f in ranked[:n] if getattr(f, field) > 0]


# A frame tree node in the snapshot: [function, file, samples, [children…]] (lists keep JSON small).
Node = list


def frame_tree(stacks: Iterable[tuple[tuple[Frame, ...], int]], min_share: float, max_frames: int) -> Node:
    """The flame graph's data: frames merged by (function, file) along each path from the root, pruned to
    nodes holding at least `min_share` of all samples, then to the `max_frames` largest (a node always
    outweighs its children, so parents stay), and to MAX_TREE_DEPTH levels. Root: ``["all", None, total, children]``; children sorted by
    name, as flamegraph.pl does, so the same profile always draws the same picture."""
    root: dict = {"n": 0, "c": {}}
    for frames, n in stacks:
        root["n"] += n
        node = root
        for f in frames[:MAX_TREE_DEPTH]:
            node = node["c"].setdefault(f.key, {"n": 0, "c": {}})
            node["n"] += n
    total = root["n"]
    floor = max(1, min_share * total) if total else 1
    ranked: list[tuple[int, int, int]] = []  # (-samples, depth, id) of every node above the floor

    def walk(node: dict, depth: int) -> None:
        for child in node["c"].values():
            if child["n"] >= floor:
                ranked.append((-child["n"], depth, id(child)))
                walk(child, depth + 1)
    walk(root, 0)
    keep = {i for _, _, i in sorted(ranked)[:max_frames]}

    def build(key: tuple, node: dict) -> Node:
        kids = [build(k, c) for k, c in sorted(node["c"].items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
                if id(c) in keep]
        return [key[0], key[1], node["n"], kids]
    return build(("all", None), root)


def tree_frames(tree: Node) -> int:
    """Number of nodes below the root of a frame tree."""
    return sum(1 + tree_frames(c) for c in tree[3])
