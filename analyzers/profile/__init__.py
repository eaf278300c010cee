"""Work in progress (issue 7): the profile analyzer. Until it lands it is never configured."""

from __future__ import annotations

AREA = "profile"
THRESHOLDS: tuple = ()


def configured(settings) -> str | None:
    return "not available yet"
