"""Follow-up of commitments made to communities, judged against each commitment's own due
date where the form gives one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import _in_window, _nullable


def follow_up(rec: pd.DataFrame, *, units: np.ndarray, week: pd.Timestamp,
              lookback_weeks: int, follow_up_weeks: int, overdue_share: float,
              shown: np.ndarray) -> pd.DataFrame:
    """Commitments, overdue commitments and the overdue flag per unit.

    A commitment made in the last ``lookback_weeks`` is *due* on its own ``due`` date when
    recorded, else ``follow_up_weeks`` after it was made; it is *overdue* when due before the
    forecast week and not done. A unit is flagged when at least ``overdue_share`` of its due
    commitments are overdue (one late commitment among many followed up is not a pattern).
    Nothing is published where ``shown`` is false (suppressed or withheld engagement).
    """
    fu = rec.loc[_in_window(rec["date"], week, lookback_weeks) & rec["made"]]
    default_due = fu["date"] + pd.Timedelta(weeks=follow_up_weeks)
    due_date = pd.Series(fu["due"].to_numpy("datetime64[ns]"), index=fu.index)
    due = due_date.where(due_date.notna(), default_due)
    is_due = (due < week).to_numpy()
    late = is_due & ~fu["done"].to_numpy()
    g = pd.DataFrame({"u": fu["admin_pcode"].to_numpy(), "made": 1, "due": is_due,
                      "late": late}).groupby("u").sum().reindex(units).fillna(0)
    made, n_due, n_late = (g[c].to_numpy(float) for c in ("made", "due", "late"))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_due > 0, n_late / np.where(n_due > 0, n_due, 1), 0.0)
    flag = (n_late > 0) & (share >= overdue_share)
    return pd.DataFrame({
        "commitments": np.where(shown, made, np.nan),
        "commitments_due": np.where(shown, n_due, np.nan),
        "commitments_overdue": np.where(shown, n_late, np.nan),
        "follow_up_overdue": _nullable(flag, shown).array,
    })
