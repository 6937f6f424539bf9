"""Why a cell is red, in words an analyst can repeat in a briefing.

Feature contributions (TreeSHAP log-odds from the model) are summed per *group* of related
features, and the top groups that raise the risk are phrased with the real counts behind them
("12 incidents within ~5 km in the last 4 weeks"), not with model internals. All vectorised:
one string operation per group, not per cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: (feature-name prefix, group) in matching order.
GROUPS = (
    ("events_own", "own"),
    ("events_ring", "nearby"),
    ("civilian_", "civilian"),
    ("fatalities_", "fatalities"),
    ("battles_", "battles"),
    ("remote_", "remote"),
    ("alerts_", "alerts"),
    ("insecure_", "insecure"),
    ("log_weeks_since_last", "recency"),
    ("hist_event_week_rate", "history"),
    ("admin_events", "admin"),
    ("admin_all", "admin"),
    ("admin_nbr", "admin"),
    ("restrict", "access"),
    ("log_pop_density", "population"),
    ("log_base_distance_km", "base"),
)


def feature_group(name: str) -> str | None:
    for prefix, group in GROUPS:
        if name.startswith(prefix):
            return group
    return None


def _int(s: pd.Series) -> pd.Series:
    return s.fillna(0).round().astype(int).astype(str)


def phrases(facts: pd.DataFrame, *, nearby_km: float, min_count: int) -> pd.DataFrame:
    """One phrase per group for every row of ``facts`` (see :func:`describe` for columns)."""
    km = f"{nearby_km:.0f}"
    f = facts
    insecure = f["insecure_12w"].fillna(0)
    out = pd.DataFrame(index=f.index)
    out["own"] = (_int(f["incidents_4w"]) + " incidents in this cell in the last 4 weeks, "
                  + _int(f["incidents_52w"]) + " in the last year")
    out["nearby"] = _int(f["nearby_4w"]) + f" incidents within ~{km} km in the last 4 weeks"
    out["civilian"] = (_int(f["civilian_12w"]) + f" attacks on civilians within ~{km} km in "
                       "the last 12 weeks")
    out["fatalities"] = (_int(f["fatalities_12w"]) + f" people killed within ~{km} km in the "
                         "last 12 weeks")
    out["battles"] = _int(f["battles_12w"]) + f" armed clashes within ~{km} km in 12 weeks"
    out["remote"] = (_int(f["remote_12w"]) + f" explosions/remote attacks within ~{km} km in "
                     "12 weeks")
    out["alerts"] = (_int(f["alerts_8w"]) + f" early-warning alerts within ~{km} km in the "
                     "last 8 weeks")
    # A count of a few consultations could point at the people who spoke: below k, no number.
    out["insecure"] = np.where(insecure >= min_count,
                               _int(insecure) + " consultations nearby reported insecurity "
                               "(last 12 weeks)",
                               "consultations nearby reported insecurity (last 12 weeks)")
    weeks = f["weeks_since_last"].fillna(520)
    out["recency"] = np.where(weeks >= 520, "no incident here on record",
                              "last incident here " + _int(weeks) + " weeks ago")
    out["history"] = ("incidents here in " + (100 * f["event_week_rate"]).round(1).astype(str)
                      + "% of weeks on record")
    out["admin"] = (f["admin_name"].astype(str) + ": " + _int(f["admin_26w"])
                    + " incidents in the last 26 weeks")
    out["access"] = ("access restriction in force for " + _int(f["restricted_weeks"])
                     + " weeks")
    out["population"] = _int(f["population"]) + " people live in this cell"
    out["base"] = _int(f["base_km"]) + " km from the nearest open base"
    return out


def describe(contributions: pd.DataFrame, facts: pd.DataFrame, *, top: int = 3,
             nearby_km: float = 5.0, min_count: int = 5) -> pd.Series:
    """Top ``top`` reasons raising each row's risk, joined with "; ".

    Parameters
    ----------
    contributions
        Rows x features, log-odds contributions.
    facts
        Same rows; columns incidents_4w, incidents_52w, nearby_4w, civilian_12w,
        fatalities_12w, battles_12w, remote_12w, alerts_8w, insecure_12w, weeks_since_last,
        event_week_rate, admin_name, admin_26w, restricted_weeks, population, base_km.
    """
    if contributions.empty:
        return pd.Series("", index=contributions.index, dtype=object)
    groups = pd.Series({c: feature_group(c) for c in contributions.columns}).dropna()
    by_group = contributions[groups.index].T.groupby(groups.to_numpy()).sum().T
    text = phrases(facts, nearby_km=nearby_km, min_count=min_count)[by_group.columns]
    values = by_group.to_numpy()
    order = np.argsort(-values, axis=1)[:, :top]
    rows = np.arange(len(values))[:, None]
    chosen = np.take_along_axis(text.to_numpy(dtype=object), order, axis=1)
    positive = values[rows, order] > 0.05  # ignore reasons that barely move the odds
    parts = np.where(positive, chosen, "")
    joined = pd.Series(["; ".join(p for p in row if p) for row in parts], index=facts.index)
    return joined
