"""What the maps (``map.html`` and ``map.png``) draw besides the grid, decided in one place.

* :func:`bases_in_week`: which bases are open in the forecast week and which are closed (a base
  closed before the week is drawn greyed with its close date, never as open; a base not yet
  open is not drawn), with each open base's reach.
* :func:`top_rising_units`: the admin units marked as top changes (the brief's "risk rising"
  rule: the level went up, or ``change_score`` is at least :data:`TOP_CHANGE_MIN_SCORE`).
* :func:`unit_layers`: the admin units with the matrix columns the maps show (level,
  engagement coverage, priority rank, top change), so the engagement theme agrees with
  ``admin_matrix.csv``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = [
    "TOP_CHANGE_MIN_SCORE",
    "TOP_CHANGES",
    "TOP_PRIORITIES",
    "UNIT_COLUMNS",
    "UNIT_THEMES",
    "UnitTheme",
    "bases_in_week",
    "top_rising_units",
    "unit_layers",
]

#: Units marked as top changes: at most this many ...
TOP_CHANGES = 8
#: ... whose level rose or whose ``change_score`` is at least this (as in the brief).
TOP_CHANGE_MIN_SCORE = 0.5
#: Priority numbers are drawn on this many units (``priority_rank`` 1..N).
TOP_PRIORITIES = 10


@dataclass(frozen=True)
class UnitTheme:
    """A map theme that colours admin units by a category column of the matrix.

    ``colours`` gives the legend order and colour of known values (lower case); other values
    get spare colours. map.html lists the theme when the unit layer has ``column``; the
    tooltip adds the unit's ``detail`` text (a column of the matrix) when there is one.
    """

    key: str
    column: str
    label: str
    note: str
    colours: Mapping[str, str]
    detail: str | None = None


#: Category themes of admin units (all values aggregated and suppression-safe).
UNIT_THEMES = (
    UnitTheme("alerts", "alert_status", "Early-warning alerts and network (admin units)",
              "alerts of the recent window and whether they were answered in time; units "
              "without an alert channel (network gap: among the riskiest); small counts "
              "suppressed",
              {"network gap": "#b2182b", "no channel": "#f4a582",
               "channel, no alert": "#d1e5f0", "suppressed": "#9a9a9a",
               "alerts, answered in time": "#2166ac", "alerts, slow or unanswered": "#e08214",
               "withheld": "#6f6f6f"}, detail="alert_summary"),
    UnitTheme("component", "who_engaged", "Who engaged (mission component)",
              "leadership town-hall visits in the window, else the component with most "
              "engagements; only where engagement is shown",
              {"leadership visit": "#e6ab02", "civil affairs": "#1b9e77",
               "military": "#7570b3", "police": "#386cb0", "human rights": "#e7298a",
               "other": "#a6761d"}),
    # The community's voice (geo_risk.engagement.voice).
    UnitTheme("perception", "perception_change", "Perceived safety / trust change (admin units)",
              "last period vs the one before; only changes beyond noise; small samples "
              "suppressed",
              {"no change beyond noise": "#cfe3cf", "too few respondents": "#d4d4d4",
               "safety lower": "#c8553d", "trust lower": "#e08a3a",
               "safety higher": "#2b8a4b", "trust higher": "#5aa6d6"}),
    UnitTheme("topic", "main_topic", "Main concern raised (admin units)",
              "topic most consultations raised this period; small counts suppressed", {}),
)
#: Matrix columns the maps read from the unit layer (all aggregated and suppression-safe).
UNIT_COLUMNS = ("level", "engagement_status", "engagements", "priority_rank", "top_change",
                "change_reason", *(t.column for t in UNIT_THEMES),
                *(t.detail for t in UNIT_THEMES if t.detail))


def bases_in_week(*, bases: pd.DataFrame, week: dt.date, reach_km: float | None = None
                  ) -> pd.DataFrame:
    """The bases to draw for the week starting ``week``, each marked open or closed.

    A base is open when it opened by the end of the week and did not close before the week
    began (the rule of :func:`geo_risk.engagement.access.open_bases`). A base closed before
    the week is kept with ``open = False`` and ``closed_on`` (drawn greyed, with no reach); a
    base that opens after the week is dropped.

    Parameters
    ----------
    bases : pandas.DataFrame
        ``base_name``, ``lon``, ``lat``; optional ``open_date``, ``close_date``,
        ``liaison_staff``, ``reach_km``. Not modified.
    week : datetime.date
        The forecast week's Monday.
    reach_km : float, optional
        Reach of every open base without its own ``reach_km``.

    Returns
    -------
    pandas.DataFrame
        A copy with ``open`` (bool), ``closed_on`` (ISO date or None) and ``reach_km``
        (NaN for closed bases).
    """
    start = pd.Timestamp(week)
    end = start + pd.Timedelta(days=6)
    n = len(bases)

    def dates(col: str) -> pd.Series:
        if col not in bases.columns:
            return pd.Series(pd.NaT, index=bases.index, dtype="datetime64[ns]")
        return pd.to_datetime(bases[col], errors="coerce")

    opened, closed = dates("open_date"), dates("close_date")
    started = (opened.isna() | (opened <= end)).to_numpy(dtype=bool)
    is_open = (closed.isna() | (closed >= start)).to_numpy(dtype=bool)
    out = bases.loc[started].copy()
    out["open"] = is_open[started]
    out["closed_on"] = [None if o or pd.isna(c) else c.date().isoformat()
                        for o, c in zip(out["open"], closed[started], strict=True)]  # tens of bases
    own = (pd.to_numeric(out["reach_km"], errors="coerce") if "reach_km" in out.columns
           else pd.Series(np.nan, index=out.index))
    default = np.nan if reach_km is None else float(reach_km)
    out["reach_km"] = own.fillna(default).where(out["open"])
    assert len(out) <= n
    return out.reset_index(drop=True)


def top_rising_units(*, matrix: pd.DataFrame, n: int = TOP_CHANGES) -> list[str]:
    """P-codes of the units whose risk rose most since last week (the brief's rule).

    Parameters
    ----------
    matrix : pandas.DataFrame
        The admin matrix: ``admin_pcode``; optional ``change_score``, ``level_change``.
    n : int
        At most this many units.

    Returns
    -------
    list of str
        P-codes, largest change first.
    """
    if "admin_pcode" not in matrix.columns or matrix.empty:
        return []
    score = (pd.to_numeric(matrix["change_score"], errors="coerce")
             if "change_score" in matrix.columns else pd.Series(np.nan, index=matrix.index))
    up = ((matrix["level_change"].astype("string").str.lower() == "up").fillna(False)
          if "level_change" in matrix.columns else pd.Series(False, index=matrix.index))
    frame = pd.DataFrame({"p": matrix["admin_pcode"].astype(str), "s": score,
                          "u": up.astype(int)})
    frame = frame[(frame["u"] == 1) | (frame["s"] >= TOP_CHANGE_MIN_SCORE)]
    frame = frame.sort_values(["s", "u"], ascending=False, kind="stable").head(n)
    return frame["p"].tolist()


def unit_layers(*, boundaries: gpd.GeoDataFrame, matrix: pd.DataFrame) -> gpd.GeoDataFrame:
    """The admin units with the matrix columns both maps draw (:data:`UNIT_COLUMNS`).

    Parameters
    ----------
    boundaries : geopandas.GeoDataFrame
        ``admin_pcode``, ``admin_name``, geometry. Not modified.
    matrix : pandas.DataFrame
        The admin matrix (``admin_matrix.csv``): ``admin_pcode`` and any of ``level``,
        ``engagement_status``, ``engagements`` (empty where suppressed or withheld),
        ``priority_rank``, ``change_score``, ``level_change``, ``change_reason``.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``boundaries`` with those columns and ``top_change`` (bool).
    """
    by = matrix.drop_duplicates("admin_pcode").set_index("admin_pcode")
    out = boundaries.copy()
    key = out["admin_pcode"]
    for col in ("level", "engagement_status", "engagements", "priority_rank", "change_reason",
                *(t.column for t in UNIT_THEMES), *(t.detail for t in UNIT_THEMES if t.detail)):
        if col in by.columns:
            out[col] = key.map(by[col]).to_numpy()
    if "engagement_status" in out.columns and "engagements" in out.columns:
        hidden = out["engagement_status"].astype("string").str.lower().isin(
            ["suppressed", "withheld"]).fillna(True)
        shown = ~hidden
        out["engagements"] = pd.to_numeric(out["engagements"], errors="coerce").where(shown)
    out["top_change"] = key.astype(str).isin(top_rising_units(matrix=matrix)).to_numpy()
    return out
