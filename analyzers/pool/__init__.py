"""Work in progress (issue 7): cross-source pool rules."""

from __future__ import annotations

NEEDS = ("__not_yet__",)


def analyze_snapshot(snapshot, settings):
    raise NotImplementedError
