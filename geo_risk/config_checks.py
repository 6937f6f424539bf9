"""Checks of configuration values shared by :mod:`geo_risk.config` and
:mod:`geo_risk.voice_config` (kept apart so that neither imports the other in a circle)."""

from __future__ import annotations

from typing import Any, Protocol


class Problems(Protocol):
    """Collects configuration problems (:class:`geo_risk.config._Collector`)."""

    def add(self, key: str, message: str) -> None: ...

    def unknown(self, section: str, keys: set[str], known: set[str]) -> None: ...


def number(c: Problems, key: str, value: Any, kind: type, lo: float, hi: float) -> Any:
    """``value`` as ``kind`` when it is a number from ``lo`` to ``hi``; else a problem and None."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or not lo <= value <= hi:
        c.add(key, f"must be a number from {lo} to {hi}, got {value!r}.")
        return None
    return kind(value)
