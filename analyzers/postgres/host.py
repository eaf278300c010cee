"""Facts about the database server's machine, taken only when it is this machine (a loopback or Unix-socket
connection): its memory and CPU count, and whether the data directory sits on a rotating disk.

The settings rules (PG014) and the work_mem scope of PG008 use these; when the server is elsewhere nothing is
guessed and the rules that need them say so. A container on this machine sees the machine's memory unless it
has a memory limit, which is not visible from outside: the snapshot says where the numbers come from.

Snapshot: ``snapshot["postgres"]["host"]``::

    {"local": true, "memory_bytes": 25275355136, "cpu_count": 2, "data_directory_rotational": false | null,
     "source": "this machine (the server is reached over loopback)"}
    {"local": false, "source": "the server is not on this machine: memory and disk type unknown"}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_LOOPBACK = ("127.", "localhost", "::1")


def is_local(host: str | None) -> bool:
    """True for a Unix socket directory (an absolute path), an empty host (libpq's default socket) or a
    loopback address."""
    host = host or ""
    return host == "" or host.startswith("/") or host.startswith(_LOOPBACK)


def memory_bytes() -> int | None:
    """Physical memory of this machine (POSIX sysconf), None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def rotational(path: str | None, sys_root: Path = Path("/sys/dev/block")) -> bool | None:
    """Whether the block device holding `path` rotates (Linux /sys/dev/block/MAJ:MIN/queue/rotational, or its
    parent device's for a partition). None when the path or the device is not visible (a container's overlay
    file system, another OS)."""
    if not path:
        return None
    try:
        dev = os.stat(path).st_dev
    except OSError:
        return None
    node = sys_root / f"{os.major(dev)}:{os.minor(dev)}"
    for cand in (node / "queue" / "rotational", node / ".." / "queue" / "rotational"):
        try:
            return cand.resolve().read_text().strip() == "1"
        except OSError:
            continue
    return None


def facts(host: str | None, data_directory: str | None) -> dict[str, Any]:
    """The ``host`` part of the postgres section (see the module docstring)."""
    if not is_local(host):
        return {"local": False, "source": "the server is not on this machine: memory and disk type unknown"}
    return {"local": True, "memory_bytes": memory_bytes(), "cpu_count": os.cpu_count(),
            "data_directory_rotational": rotational(data_directory),
            "source": "this machine (the server is reached over loopback or a Unix socket; a container's "
                      "memory limit is not visible from here)"}
