"""Which processes to profile: PIDs, or names and patterns matched with psutil.

A target is a PID (``1234``) or a name. A name matches a process when it equals, or matches as a shell
pattern (``fnmatch``: ``*``, ``?``, ``[…]``), the process name, one of its command-line arguments, the base
name of one (``shop_worker.py`` matches ``python /app/shop_worker.py``) or that base name without ``.py``;
failing that, when it occurs in the joined command line. Only the strongest kind of match that found
anything counts, so ``worker`` does not also pick every process that merely mentions "worker".

Only processes running Python are kept (an executable named ``python…``/``pypy…``, or ``libpython`` mapped
into the process, as in uWSGI); perfadvisor's own process and its ancestors never match.

Command lines can hold secrets (``--password=…``), so nothing here returns one: a process is shown as its
name and the base name of its script or module (:func:`command_label`).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Any

import psutil

from advisor.errors import ConfigError, TargetError

#: At most this many processes are profiled per name (a pre-fork server can have dozens of workers; each
#: profile costs the target a little and the report a flame graph). perfadvisor's convention.
MAX_PROCESSES_PER_TARGET = 8

_PYTHON_EXE = re.compile(r"^(python|pypy)[0-9.]*[a-z]?$", re.I)
# Interpreter options that take a value in the next argument (python --help).
_OPTIONS_WITH_VALUE = {"-W", "-X", "-Q", "--check-hash-based-pycs"}


@dataclass(frozen=True)
class Match:
    """A process chosen for profiling. `label` is safe to show (no arguments); `how` says why it was
    chosen ("pid", "process name", "command-line argument", "command line")."""

    target: str
    pid: int
    name: str
    label: str
    how: str


def parse_targets(value: Any) -> list[str]:
    """The `targets` option as a list of strings: a list of PIDs/names, one PID (int), or a text of PIDs and
    names separated by commas or whitespace. Raises ConfigError for anything else or an empty list."""
    if isinstance(value, bool):
        raise ConfigError(f"targets.profile.targets: {value!r} is not a PID or a process name")
    if isinstance(value, int):
        items: list[Any] = [value]
    elif isinstance(value, str):
        items = [p for p in re.split(r"[,\s]+", value) if p]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ConfigError(f"targets.profile.targets: {value!r} is not a list of PIDs or process names")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str) or not str(item).strip():
            raise ConfigError(f"targets.profile.targets: {item!r} is not a PID or a process name")
        if isinstance(item, int) and item <= 0:
            raise ConfigError(f"targets.profile.targets: {item} is not a valid PID (must be > 0)")
        out.append(str(item).strip())
    if not out:
        raise ConfigError("targets.profile.targets: empty; give a PID or a process name (--py-spy)")
    return out


def command_label(args: list[str]) -> str:
    """The base name of the script or module a Python command line runs, without any argument values:
    ``["/usr/bin/python3", "-u", "/app/w.py", "--password=x"]`` → ``"w.py"``; ``-m pkg.mod`` → ``"pkg.mod"``;
    ``-c …`` → ``"-c"``; the interpreter's own base name when there is no script."""
    if not args:
        return ""
    rest = iter(args[1:])
    for a in rest:
        if a in ("-m", "-c"):
            return (os.path.basename(next(rest, "")) or a) if a == "-m" else "-c"
        if a.startswith("-m") and len(a) > 2:
            return a[2:]
        if a in _OPTIONS_WITH_VALUE:
            next(rest, None)
            continue
        if a.startswith("-"):
            continue
        return os.path.basename(a) or a
    return os.path.basename(args[0]) or args[0]


def describe(proc: psutil.Process) -> tuple[str, str]:
    """(process name, label) of a process; the label is `command_label` of its command line, or the name
    when the command line cannot be read. Raises psutil.NoSuchProcess when it is gone."""
    name = proc.name()
    try:
        args = proc.cmdline()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        args = []
    is_python = bool(args) and _PYTHON_EXE.match(os.path.basename(args[0]) or "")
    return name, (command_label(args) if is_python else os.path.basename(args[0]) if args else name) or name


def is_python(proc: psutil.Process) -> bool:
    """True when the process runs a Python interpreter (see the module docstring)."""
    try:
        names = [proc.name()]
        try:
            names.append(os.path.basename(proc.exe()))
        except (psutil.AccessDenied, OSError):
            pass
        if any(_PYTHON_EXE.match(n) for n in names if n):
            return True
        return any("libpython" in os.path.basename(m.path) for m in proc.memory_maps(grouped=True))
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
        return False


def _own_lineage() -> set[int]:
    pids = {os.getpid()}
    try:
        pids.update(p.pid for p in psutil.Process().parents())
    except psutil.Error:
        pass
    return pids


def _strength(pattern: str, name: str, args: list[str]) -> int:
    """3: the process name; 2: an argument or its base name (with or without .py); 1: a substring of the
    command line; 0: no match."""
    def hit(text: str) -> bool:
        return text == pattern or (any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(text, pattern))

    if hit(name):
        return 3
    for a in args:
        base = os.path.basename(a)
        if hit(a) or hit(base) or (base.endswith(".py") and hit(base[:-3])):
            return 2
    return 1 if pattern in " ".join(args) else 0


def resolve(target: str, subprocesses: bool = False,
            limit: int = MAX_PROCESSES_PER_TARGET) -> tuple[list[Match], list[str]]:
    """The processes `target` names and one-line notes (several matches, some left out). A PID is taken as
    given (py-spy says if it is not Python). Raises TargetError when nothing matches.

    With `subprocesses`, a match whose ancestor also matched is dropped (py-spy --subprocesses follows it
    from the ancestor)."""
    if target.isdigit():
        pid = int(target)
        try:
            name, label = describe(psutil.Process(pid))
        except psutil.NoSuchProcess:
            raise TargetError(f"py-spy target {pid}: no process with PID {pid} (is it running, and in this "
                              "PID namespace? In Compose give perfadvisor `pid: \"service:NAME\"`)") from None
        except psutil.AccessDenied:
            name, label = "?", "?"
        return [Match(target, pid, name, label, "pid")], []
    found: dict[int, list[tuple[psutil.Process, int]]] = {}
    own = _own_lineage()
    looked = 0
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        looked += 1
        if proc.pid in own:
            continue
        s = _strength(target, proc.info.get("name") or "", proc.info.get("cmdline") or [])
        if s:
            found.setdefault(s, []).append((proc, s))
    if not found:
        raise TargetError(f"py-spy target {target!r}: no process matches it by name or command line "
                          f"({looked} processes looked at); give a PID or a name shown by `ps -ef`")
    best = found[max(found)]
    python = [p for p, _ in best if is_python(p)]
    if not python:
        names = sorted({p.info.get("name") or "?" for p, _ in best})
        raise TargetError(f"py-spy target {target!r}: matches {len(best)} process(es) ({', '.join(names[:5])}) "
                          "but none runs Python")
    notes: list[str] = []
    if subprocesses:
        pids = {p.pid for p in python}
        kept = []
        for p in python:
            try:
                if not any(a.pid in pids for a in p.parents()):
                    kept.append(p)
            except psutil.Error:
                kept.append(p)
        if len(kept) < len(python):
            notes.append(f"py-spy target {target!r}: {len(python) - len(kept)} matching child process(es) are "
                         "profiled through their parent (--subprocesses)")
        python = kept
    python.sort(key=lambda p: p.pid)
    if len(python) > limit:
        notes.append(f"py-spy target {target!r}: {len(python)} processes match; profiled the first {limit} by "
                     f"PID, left out {', '.join(str(p.pid) for p in python[limit:])}")
        python = python[:limit]
    elif len(python) > 1:
        notes.append(f"py-spy target {target!r}: {len(python)} processes match; each is profiled")
    how = {3: "process name", 2: "command-line argument", 1: "command line"}[max(found)]
    matches = []
    for p in python:
        try:
            name, label = describe(p)
        except psutil.NoSuchProcess:
            continue
        matches.append(Match(target, p.pid, name, label, how))
    if not matches:
        raise TargetError(f"py-spy target {target!r}: the matching processes exited before profiling began")
    return matches, notes
