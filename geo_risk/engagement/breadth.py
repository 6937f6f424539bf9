"""Breadth: who the mission hears from. Towns against the rest of a unit, and leaders against
community members, women's and youth groups (a documented proxy from topics and sizes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import EngagementConfig

#: Engagement kinds of the breadth proxy (first match wins, in this order).
BREADTH = ("women_groups", "youth_groups", "leaders", "community")
_LEADER_TOPICS = ("leaders", "leader", "elders", "chiefs", "authorities", "local_authorities")
_WOMEN_TOPICS = ("women", "gender", "women_groups")
_YOUTH_TOPICS = ("youth", "youth_groups")


def _breadth_kind(mp: pd.DataFrame, ec: EngagementConfig) -> np.ndarray:
    """Kind of each mission engagement for the breadth proxy (see ``BREADTH``)."""
    if mp.empty:
        return np.zeros(0, dtype=object)
    exploded = mp["topics"].str.replace(r"[,;/]", " ", regex=True).str.split().explode()

    def has(words: tuple[str, ...]) -> np.ndarray:
        return (exploded.isin(words).groupby(level=0).any().reindex(mp.index)
                .fillna(False).to_numpy(bool))

    total = mp["part"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(mp["women_rec"] > 0, mp["women"] / mp["women_rec"], np.nan)
        y = np.where(mp["youth_rec"] > 0, mp["youth"] / mp["youth_rec"], np.nan)
    meeting = mp["modality"].isin(["community_meeting", "consultation"]).to_numpy()
    return np.select(
        [has(_WOMEN_TOPICS) | (w >= 0.8), has(_YOUTH_TOPICS) | (y >= 0.8),
         has(_LEADER_TOPICS) | (meeting & (total <= ec.leader_max_participants) & (w < 0.2))],
        list(BREADTH[:3]), BREADTH[3]).astype(object)



def breadth(rec_p: pd.DataFrame, pos_p: np.ndarray, *, units: np.ndarray,
            cell_admin: np.ndarray | pd.Index, pop: np.ndarray, area_km2: np.ndarray,
            unit_pop: np.ndarray, shown: np.ndarray, ec: EngagementConfig
            ) -> tuple[pd.DataFrame, dict[str, int | float]]:
    """Town engagement share against town population share, and the breadth-kind shares.

    Shares are published only where ``shown`` (the unit's profile may be published).
    """
    populated = pop > 0
    density = pop / np.maximum(area_km2, 1e-9)
    top_cell = pd.Series(pop).groupby(cell_admin).transform("max").to_numpy()
    town = populated & ((pop >= top_cell) | (density >= ec.town_density_km2))
    is_m = rec_p["mission"].to_numpy() > 0
    mp, mp_pos = rec_p.loc[is_m], pos_p[is_m]
    located = mp_pos >= 0
    in_town = np.zeros(len(mp), bool)
    in_town[located] = town[mp_pos[located]]
    loc_u = mp.loc[located].groupby("admin_pcode").size().reindex(units).fillna(0)
    town_u = mp.loc[in_town].groupby("admin_pcode").size().reindex(units).fillna(0)
    town_pop = pd.Series(pop * town).groupby(cell_admin).sum().reindex(units).fillna(0)
    out = pd.DataFrame(index=range(len(units)))
    with np.errstate(invalid="ignore", divide="ignore"):
        out["town_engagement_share"] = np.where(
            shown & (loc_u > 0), np.round(town_u / loc_u, 3), np.nan)
        out["town_population_share"] = np.round(town_pop.to_numpy() / unit_pop, 3)
    kind = _breadth_kind(mp, ec)
    kinds = (pd.DataFrame({"u": mp["admin_pcode"].to_numpy(), "kind": kind}).value_counts()
             .unstack(fill_value=0).reindex(index=units, columns=list(BREADTH)).fillna(0)
             if len(mp) else pd.DataFrame(0, index=units, columns=list(BREADTH)))
    tot = kinds.sum(axis=1).to_numpy()
    for b in BREADTH:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"share_{b}"] = np.where(shown & (tot > 0),
                                         np.round(kinds[b].to_numpy() / tot, 3), np.nan)
    totals = {"in_town": int(in_town.sum()), "located": int(located.sum()),
              "town_pop": float((pop * town).sum()), "pop": float(pop.sum())}
    return out, totals
