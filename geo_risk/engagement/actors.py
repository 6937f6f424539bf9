"""Armed actors active per admin unit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import _in_window

#: Incident actors that are not armed actors (ACLED names for civilians, protesters, rioters).
_NOT_ARMED = r"^\s*(?:civilians|protesters|rioters)\b"


def actors_table(*, incidents: pd.DataFrame, week: pd.Timestamp, weeks: int) -> pd.DataFrame:
    """Armed actors active per admin unit in the ``weeks`` before ``week``.

    Actors are taken from ``actor1`` and ``actor2``; civilians, protesters and rioters are not
    armed actors and are left out. ``civilian_targeting`` counts the incidents where the actor
    was the perpetrator (``actor1``) of civilian targeting.

    Returns
    -------
    pandas.DataFrame
        ``admin_pcode``, ``actor``, ``incidents``, ``civilian_targeting``; sorted by unit,
        then most incidents.
    """
    cols = ["admin_pcode", "actor", "incidents", "civilian_targeting"]
    inc = incidents.loc[_in_window(incidents["date"], week, weeks)]
    if inc.empty:
        return pd.DataFrame(columns=cols)
    ev = np.arange(len(inc))
    civ = inc["civilian_targeting"].to_numpy(bool)
    long = pd.DataFrame({
        "event": np.concatenate([ev, ev]),
        "admin_pcode": np.tile(inc["admin_pcode"].astype(str).to_numpy(), 2),
        "actor": np.concatenate([inc["actor1"].fillna("").astype(str).to_numpy(),
                                 inc["actor2"].fillna("").astype(str).to_numpy()]),
        "civ": np.concatenate([civ, np.zeros(len(inc), bool)]),
    })
    long["actor"] = long["actor"].str.strip()
    long = long.loc[(long["actor"] != "")
                    & ~long["actor"].str.contains(_NOT_ARMED, case=False, regex=True)]
    g = long.groupby(["admin_pcode", "actor"]).agg(incidents=("event", "nunique"),
                                                   civilian_targeting=("civ", "sum"))
    out = g.reset_index().sort_values(["admin_pcode", "incidents", "actor"],
                                      ascending=[True, False, True]).reset_index(drop=True)
    out["incidents"] = out["incidents"].astype(int)
    out["civilian_targeting"] = out["civilian_targeting"].astype(int)
    return out[cols]

