"""Work in progress (issue 7): the actuator analyzer. Until it lands it is never configured."""

from __future__ import annotations

AREA = "actuator"
THRESHOLDS: tuple = ()


def configured(settings) -> str | None:
    return "not available yet"
