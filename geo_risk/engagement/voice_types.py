"""Small shared types of the voice series: the rows (units, then group totals) and one
indicator's values over the series weeks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .series import suppress


@dataclass(frozen=True)
class Rows:
    """The rows of every series: ``n_units`` admin units, then one row per group total.

    ``groups`` are boolean unit masks (mission-wide, high-risk units), ``labels`` their
    names; ``points`` series weeks (0 = the forecast week); ``k`` = ``min_count``.
    """

    units: np.ndarray
    groups: list[np.ndarray]
    labels: tuple[str, ...]
    points: int
    k: int

    @property
    def n_units(self) -> int:
        return len(self.units)

    def with_groups(self, arr: np.ndarray) -> np.ndarray:
        """(units, points, m) sums -> (units + groups, points, m) with the group totals."""
        extra = [arr[np.asarray(g, bool)].sum(0, keepdims=True) for g in self.groups]
        return np.concatenate([arr, *extra], axis=0)

    def shown(self, unit_shown: np.ndarray, arr: np.ndarray) -> np.ndarray:
        """Unit rows as suppressed, group rows shown when their own first two sums (records,
        people) reach ``k``."""
        g = arr[self.n_units:]
        return np.concatenate([unit_shown, (g[:, :, 0] >= self.k) & (g[:, :, 1] >= self.k)])

    def shown_mission_only(self, arr: np.ndarray) -> np.ndarray:
        """Shown rows when only the mission-wide total is published (perceptions, topics):
        units suppressed against that total alone, the other group rows never shown (each
        further published total would hide more units). ``arr``: (units + groups, points,
        m) sums whose first two measures are records and people."""
        u = self.n_units
        out = self.shown(suppress(n=arr[:u, :, 0], part=arr[:u, :, 1], k=self.k,
                                  groups=self.groups[:1]), arr)
        out[u + 1:] = False
        return out


@dataclass(frozen=True)
class Indicator:
    """One indicator over rows x series weeks; ``shown`` False = suppressed (value hidden).

    ``low``/``high``/``signal``: interval and its reading, for changes. ``target``/``met``:
    for benchmarks (``met`` is NaN where not applicable or not shown).
    """

    name: str
    family: str
    value: np.ndarray
    shown: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    signal: np.ndarray | None = None
    target: float | None = None
    met: np.ndarray | None = None
    applies: np.ndarray | None = None  # rows the target applies to (None = all)
    no_data: bool = False  # the input has no field for it (e.g. no alert response times)


__all__ = ["Indicator", "Rows"]
