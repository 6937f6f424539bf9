"""Gap flags: never engaged, stale, no women or youth heard, and under-engaged units and
cells (high risk *and* low engagement), with the reasons in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..config import EngagementConfig
from .common import SUPPRESSED, WITHHELD, _fmt, _join_text, _nullable, _pct_rank
from .coverage import UnitCoverage


def unit_flags(u: UnitCoverage, *, expected: np.ndarray, withheld: np.ndarray,
               ec: EngagementConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Gap flags and the under-engaged score per unit.

    Under-engaged: expected incident cells at or above the ``under_engaged_risk_quantile`` of
    units and mission engagements per 100,000 people at most ``under_engaged_ratio`` x the
    median of engaged units. A unit whose engagement is suppressed counts as engaged at the
    lowest rate (its small count is never used), so its flags and score reveal nothing more
    than its status already does.
    """
    suppressed = u.status == SUPPRESSED
    rate = np.where(suppressed, 0.0, u.rate)
    risk_q = float(np.quantile(expected, ec.under_engaged_risk_quantile))
    engaged_rates = rate[~withheld & (rate > 0)]
    median_rate = float(np.median(engaged_rates)) if len(engaged_rates) else 0.0
    rate_cut = ec.under_engaged_ratio * median_rate
    under = ~withheld & (expected >= risk_q) & (np.nan_to_num(rate, nan=np.inf) <= rate_cut)
    risk_pct = _pct_rank(expected)
    rate_pct = _pct_rank(np.nan_to_num(rate, nan=0.0), ~withheld)
    never = ~withheld & ~u.ever
    stale_raw = ~never & (np.nan_to_num(u.since, nan=np.inf) > ec.stale_weeks)
    can_say = u.profile_shown | u.profile_quiet
    up = u.profile
    flags = pd.DataFrame({
        "never_engaged": _nullable(never, ~withheld).array,
        "no_women": _nullable(up["women"].to_numpy() <= 0,
                              u.profile_shown & (up["women_rec"].to_numpy() > 0)).array,
        "no_youth": _nullable(up["youth"].to_numpy() <= 0,
                              u.profile_shown & (up["youth_rec"].to_numpy() > 0)).array,
        "stale": _nullable(stale_raw, ~never & can_say).array,
        "under_engaged": _nullable(under, ~withheld).array,
        "under_engaged_score": np.where(withheld, np.nan, np.round(risk_pct * (1 - rate_pct), 3)),
    })
    stats = {"risk_q": risk_q, "median_rate": median_rate, "rate_cut": rate_cut,
             "risk_pct": risk_pct, "rate_pct": rate_pct, "rate": rate}
    return flags, stats


def cell_under_engaged(*, risk: np.ndarray, pop: np.ndarray, cell_mission: np.ndarray,
                       cell_admin: np.ndarray | pd.Index, cell_withheld: np.ndarray,
                       units: np.ndarray,
                       unit_rate: np.ndarray, median_rate: float, k: int,
                       quantile: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Cells at high risk *and* low engagement.

    High risk: at or above the ``quantile`` of populated cells. Low engagement: fewer than
    ``k`` mission engagements reach the cell (located or spread from its unit) *and* its unit
    is engaged at no more than the median rate of engaged units (never, not, or barely
    engaged units included). Returns the flag, a score (risk percentile x (1 - unit rate
    percentile)) and the risk threshold.
    """
    populated = pop > 0
    risk_cut = float(np.quantile(risk[populated], quantile)) if populated.any() else np.inf
    rate = pd.Series(np.nan_to_num(unit_rate, nan=0.0), index=units)
    cell_rate = rate.reindex(cell_admin).fillna(0.0).to_numpy()
    low_unit = cell_rate <= median_rate
    under = (populated & (risk >= risk_cut) & (cell_mission < k) & low_unit & ~cell_withheld)
    score = _pct_rank(risk, populated) * (1 - _pct_rank(cell_rate, populated & ~cell_withheld))
    return under, np.where(cell_withheld, np.nan, np.round(score, 3)), risk_cut


def gap_text(adm: pd.DataFrame, *, k: int, stale_weeks: int, follow_up_weeks: int,
             profile_weeks: int) -> np.ndarray:
    """Engagement gaps in words (only what the published columns already say)."""
    def flag(col: str) -> np.ndarray:
        return adm[col].fillna(False).to_numpy(bool)

    overdue = adm["commitments_overdue"].to_numpy(float)
    since = adm["weeks_since_engagement"].to_numpy(float)
    rate = adm["engagements_per_100k"].to_numpy(float)
    return _join_text([
        np.where(adm["engagement_status"] == WITHHELD,
                 "engagement withheld (reprisal-sensitive area)", ""),
        np.where(flag("never_engaged"), "never engaged", ""),
        np.where(flag("stale") & ~flag("never_engaged"),
                 np.where(np.isnan(since),
                          f"no mission engagement in the last {stale_weeks} weeks",
                          _fmt("no mission engagement for %d weeks", np.nan_to_num(since))),
                 ""),
        np.where(flag("under_engaged"),
                 np.where(np.isnan(rate), "under-engaged for its risk",
                          _fmt("under-engaged for its risk (%.1f mission engagements per "
                               f"100,000 people in {profile_weeks} weeks)",
                               np.nan_to_num(rate))), ""),
        np.where(flag("no_women"), "no women heard", ""),
        np.where(flag("no_youth"), "no youth heard", ""),
        np.where(flag("follow_up_overdue"),
                 _fmt("%d commitment(s) past due without follow-up", np.nan_to_num(overdue))
                 + f" (due date, else {follow_up_weeks} weeks)", ""),
        np.where(adm["engagement_status"] == SUPPRESSED,
                 f"fewer than {k} engagements or participants recently (details suppressed)",
                 ""),
    ])
