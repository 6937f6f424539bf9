"""Who engaged: coverage split by mission component, and leadership visits.

Engagement records carry the mission ``component`` (civil affairs, military, police, human
rights, leadership visit; see :mod:`geo_risk.readers.engagement_fields`) when the export has it.
Per admin unit, over the run's ``engagement_weeks``: the mission's own engagements by
component (``engaged_by_<component>``), the leading component, and whether a leadership
visit (a town hall by the mission's leadership) took place.

Do no harm: figures only for units whose engagement is shown (at least ``min_count``
engagements and participants, not reprisal-sensitive); a component's count below
``min_count`` is blank, and when the blanked counts of a unit add up to less than
``min_count`` the next smallest count is blanked too, so no hidden count follows from the
unit total. A leadership visit is a public mission event: it is flagged (yes/no) for shown
units, its count only from ``min_count`` on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..schemas import COMPONENTS
from .common import _in_window, _nullable

LEADERSHIP = "leadership_visit"
COMPONENT_COLUMNS = [f"engaged_by_{c}" for c in COMPONENTS]


def _blank_small(counts: np.ndarray, k: int) -> np.ndarray:
    """Counts below ``k`` blanked, plus the smallest shown one where the blanked add to < k."""
    out = counts.astype(float)
    small = (counts > 0) & (counts < k)
    out[small] = np.nan
    hidden = np.where(small, counts, 0).sum(1)
    fix = (hidden > 0) & (hidden < k) & (small.sum(1) < counts.shape[1])
    if fix.any():
        shown_vals = np.where(np.isnan(out) | (counts == 0), np.inf, out)
        col = shown_vals.argmin(1)
        rows = np.flatnonzero(fix & np.isfinite(shown_vals.min(1)))
        out[rows, col[rows]] = np.nan
    return out


def component_view(*, consultations: pd.DataFrame | None, units: np.ndarray,
                   shown: np.ndarray, week: pd.Timestamp, weeks: int, k: int,
                   passive: tuple[str, ...], withheld: frozenset[str]
                   ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Engagements by component per unit, the leading component and leadership visits.

    Parameters
    ----------
    consultations : pandas.DataFrame or None
        Placed canonical records (``date``, ``admin_pcode``, ``modality``, optional
        ``component``). Not modified.
    units : numpy.ndarray
        P-codes of the matrix rows.
    shown : numpy.ndarray
        Units whose engagement is shown (``engagement_status == "engaged"``).
    week : pandas.Timestamp
        Monday of the forecast week.
    weeks : int
        The engagement window.
    k : int
        ``min_count``.
    passive : tuple of str
        Modalities that come from communities (not counted as mission engagement).
    withheld : frozenset of str
        Reprisal-sensitive P-codes (dropped before counting).

    Returns
    -------
    tuple
        Unit columns (``admin_pcode``, :data:`COMPONENT_COLUMNS`, ``main_component``,
        ``leadership_visit``, ``leadership_visits``, ``who_engaged`` (the map theme:
        "leadership visit" where there was one, else the main component)) and mission-wide
        figures: the sum of the counts shown per unit (for the brief and run.json).
    """
    n_units = len(units)
    counts = np.zeros((n_units, len(COMPONENTS)))
    recorded = 0
    if consultations is not None and len(consultations) and "component" in consultations:
        c = consultations
        keep = (_in_window(c["date"], week, weeks) & ~c["modality"].astype(str).isin(passive)
                .to_numpy() & ~c["admin_pcode"].astype(str).isin(list(withheld)).to_numpy())
        comp = c.loc[keep, "component"].fillna("").astype(str)
        recorded = int((comp != "").sum())
        tab = pd.crosstab(c.loc[keep, "admin_pcode"].astype(str), comp)
        tab = tab.reindex(index=units, columns=list(COMPONENTS)).fillna(0)
        counts = tab.to_numpy(float)
    counts = np.where(shown[:, None], counts, 0.0)
    shown_counts = _blank_small(counts, k)
    total = counts.sum(1)
    lead = np.asarray(COMPONENTS, dtype=object)[counts.argmax(1)]
    out = pd.DataFrame(np.where(shown[:, None], shown_counts, np.nan), columns=COMPONENT_COLUMNS)
    out.insert(0, "admin_pcode", units)
    out["main_component"] = np.where(shown & (total > 0), lead, "")
    li = COMPONENTS.index(LEADERSHIP)
    out["leadership_visit"] = _nullable(counts[:, li] > 0, shown).array
    out["leadership_visits"] = np.where(shown & (counts[:, li] >= k), counts[:, li], np.nan)
    # the map theme: a leadership town hall in the window stands out, else the main component
    out["who_engaged"] = np.where(shown & (counts[:, li] > 0), "leadership visit",
                                  np.char.replace(out["main_component"].to_numpy(str), "_", " "))
    mission = np.nansum(np.where(shown[:, None], shown_counts, np.nan), axis=0)  # shown only
    meta = {
        "records_with_component": recorded,
        "mission_by_component": {c: int(v) for c, v in zip(COMPONENTS, mission, strict=True)
                                 if v >= k},
        "units_with_leadership_visit": int((shown & (counts[:, li] > 0)).sum()),
    }
    return out, meta


__all__ = ["COMPONENT_COLUMNS", "LEADERSHIP", "component_view"]
