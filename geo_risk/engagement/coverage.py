"""Coverage: engagements per cell and per admin unit, with suppression applied once, here,
to every value derived from the records (counts, rates, recency, shares, teams)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schemas import MODALITIES
from .common import _SUMS, SUPPRESSED, WITHHELD, _weeks_since


def _per_cell(rec: pd.DataFrame, pos: np.ndarray, *, cell_admin: np.ndarray | pd.Index,
              weight: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Sum record measures per cell: located records in their cell, the others spread over
    their unit's cells by ``weight`` (aggregated per unit first: linear in records + cells)."""
    n = len(cell_admin)
    point = pos >= 0
    located = (rec.loc[point, columns].groupby(pos[point]).sum()
               .reindex(range(n), fill_value=0.0))
    per_unit = rec.loc[~point, columns].groupby(rec.loc[~point, "admin_pcode"]).sum()
    spread = per_unit.reindex(cell_admin).fillna(0.0).to_numpy() * weight[:, None]
    return pd.DataFrame(located.to_numpy() + spread, columns=columns)


def _distinct_teams(rec: pd.DataFrame, pos: np.ndarray, *, cell_admin: np.ndarray | pd.Index,
                    weight: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    """Distinct teams per cell (located records in the cell, plus the unit's admin-level
    records where they are spread) and per unit."""
    n = len(cell_admin)
    has = rec["team"].to_numpy() != ""
    point = (pos >= 0) & has
    pp = pd.DataFrame({"pos": pos[point], "team": rec["team"].to_numpy()[point]}
                      ).drop_duplicates()
    ap = rec.loc[(pos < 0) & has, ["admin_pcode", "team"]].drop_duplicates()
    own = np.bincount(pp["pos"].to_numpy(np.int64), minlength=n).astype(float)
    unit_teams = ap.groupby("admin_pcode").size()
    spread = unit_teams.reindex(cell_admin).fillna(0).to_numpy() * (weight > 0)
    pp = pp.assign(admin_pcode=np.asarray(pd.Index(cell_admin)[pp["pos"].to_numpy(np.int64)]))
    both = pp.merge(ap, on=["admin_pcode", "team"])
    both = both.loc[weight[both["pos"].to_numpy(np.int64)] > 0]
    overlap = np.bincount(both["pos"].to_numpy(np.int64), minlength=n)
    per_unit = rec.loc[has, ["admin_pcode", "team"]].drop_duplicates().groupby(
        "admin_pcode").size()
    return own + spread - overlap, per_unit



def cell_status(*, n: np.ndarray, part: np.ndarray, k: int, withheld: np.ndarray,
                unit_shown: np.ndarray) -> np.ndarray:
    """Coverage status of each cell: withheld, not engaged, suppressed or engaged.

    A cell is shown ("engaged") only when it holds at least ``k`` engagements and ``k``
    participants *and* its unit is shown: a cell of a suppressed unit would reveal the unit.
    """
    return np.select(
        [withheld, n <= 0, (n < k) | (part < k) | ~unit_shown],
        [WITHHELD, "not engaged", SUPPRESSED], "engaged").astype(object)


def complementary(*, status: np.ndarray, n: np.ndarray, cell_admin: np.ndarray | pd.Index,
                  unit_total: pd.Series, k: int) -> np.ndarray:
    """Suppress every cell of a unit whose hidden remainder could be recovered.

    Where a unit's total is published, the unit total minus its shown cells is what its
    hidden cells hold. When that remainder is positive and below ``k``, or sits in a single
    hidden cell, it identifies that cell: then no cell of the unit is shown.
    """
    shown = status == "engaged"
    hidden = ~shown & (n > 0)
    frame = pd.DataFrame({"u": cell_admin, "shown_n": np.where(shown, n, 0.0),
                          "hidden": hidden})
    g = frame.groupby("u").agg(shown_n=("shown_n", "sum"), hidden=("hidden", "sum"))
    rest = unit_total.reindex(g.index).fillna(0.0).to_numpy() - g["shown_n"].to_numpy()
    risky = (g["shown_n"].to_numpy() > 0) & (rest > 1e-9) & ((rest < k) | (g["hidden"] <= 1))
    bad = set(g.index[risky])
    return np.where(shown & pd.Index(cell_admin).isin(list(bad)), SUPPRESSED, status
                    ).astype(object)


def cell_coverage(cw: pd.DataFrame, *, status: np.ndarray, pop: np.ndarray,
                  last: np.ndarray, teams: np.ndarray, week: pd.Timestamp) -> pd.DataFrame:
    """The published coverage columns of each cell (empty unless its status is engaged)."""
    shown = status == "engaged"
    out = pd.DataFrame({"coverage_status": status})
    out["coverage_engagements"] = np.where(shown, cw["n"].round(1), np.nan)
    for m in MODALITIES:
        out[f"coverage_{m}"] = np.where(shown, cw[f"m_{m}"].round(1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["coverage_reached_per_1000"] = np.where(
            shown & (pop > 0), (cw["part"] / pop * 1000).round(2), np.nan)
        out["coverage_women_share"] = np.where(
            shown & (cw["women_rec"] > 0), (cw["women"] / cw["women_rec"]).round(3), np.nan)
        out["coverage_youth_share"] = np.where(
            shown & (cw["youth_rec"] > 0), (cw["youth"] / cw["youth_rec"]).round(3), np.nan)
    out["coverage_weeks_since"] = np.where(shown, _weeks_since(last, week), np.nan)
    out["coverage_teams"] = np.where(shown, teams, np.nan)
    return out


@dataclass
class UnitCoverage:
    """Per admin unit: status, what may be published, and the raw measures (internal)."""

    status: np.ndarray  # withheld / never engaged / not engaged / suppressed / engaged
    shown: np.ndarray  # window counts may be published
    profile_shown: np.ndarray  # profile-window values (rate, recency, shares) may be published
    profile_quiet: np.ndarray  # no record at all in the profile window
    ever: np.ndarray
    window: pd.DataFrame  # sums over the coverage window
    profile: pd.DataFrame  # sums over the profile window
    since: np.ndarray  # weeks since the last mission engagement (raw)
    rate: np.ndarray  # mission engagements per 100k over the profile window (raw)


def unit_coverage(rec: pd.DataFrame, *, units: np.ndarray, in_w: np.ndarray,
                  in_p: np.ndarray, withheld: np.ndarray, unit_pop: np.ndarray, k: int,
                  week: pd.Timestamp) -> UnitCoverage:
    """Status and measures per unit.

    Values over the longer profile window are published only where the unit's own status is
    "engaged" (or it had no record at all in the coverage window) *and* the profile window
    holds at least ``k`` engagements and participants: a unit shown as suppressed publishes
    nothing derived from its records.
    """
    uw = rec.loc[in_w].groupby("admin_pcode")[_SUMS].sum().reindex(units).fillna(0.0)
    up = rec.loc[in_p].groupby("admin_pcode")[_SUMS].sum().reindex(units).fillna(0.0)
    ever = rec.groupby("admin_pcode").size().reindex(units).fillna(0).to_numpy() > 0
    mission = rec["mission"].to_numpy() > 0
    last = (rec.loc[mission].groupby("admin_pcode")["date"].max().reindex(units)
            .to_numpy("datetime64[ns]"))
    nw, partw = uw["n"].to_numpy(), uw["part"].to_numpy()
    status = np.select(
        [withheld, ~ever, nw <= 0, (nw < k) | (partw < k)],
        [WITHHELD, "never engaged", "not engaged", SUPPRESSED], "engaged").astype(object)
    shown = status == "engaged"
    n_p, part_p = up["n"].to_numpy(), up["part"].to_numpy()
    # the older part of the profile window (profile minus coverage window) must not be a
    # small count either, or differencing the two windows would give it away
    older_n, older_p = n_p - nw, part_p - partw
    profile_shown = (~withheld & (n_p >= k) & (part_p >= k)
                     & np.isin(status, ["engaged", "not engaged"])
                     & ((older_n <= 0) | ((older_n >= k) & (older_p >= k))))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(unit_pop > 0, up["mission"].to_numpy()
                        / np.where(unit_pop > 0, unit_pop, 1) * 1e5, np.nan)
    return UnitCoverage(status=status, shown=shown, profile_shown=profile_shown,
                        profile_quiet=~withheld & (n_p <= 0), ever=ever, window=uw,
                        profile=up, since=_weeks_since(last, week), rate=rate)


def unit_columns(u: UnitCoverage, *, units: np.ndarray, unit_pop: np.ndarray,
                 teams: pd.Series) -> pd.DataFrame:
    """The published coverage columns per unit (empty where not shown)."""
    uw, shown = u.window, u.shown
    adm = pd.DataFrame({"admin_pcode": units, "engagement_status": u.status})
    adm["engagements"] = np.where(shown, uw["n"].to_numpy(), np.nan)
    for m in MODALITIES:
        adm[f"engagements_{m}"] = np.where(shown, uw[f"m_{m}"].to_numpy(), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        adm["reached_per_1000"] = np.where(shown & (unit_pop > 0),
                                           np.round(uw["part"] / unit_pop * 1000, 2), np.nan)
        adm["women_share"] = np.where(shown & (uw["women_rec"] > 0),
                                      np.round(uw["women"] / uw["women_rec"], 3), np.nan)
        adm["youth_share"] = np.where(shown & (uw["youth_rec"] > 0),
                                      np.round(uw["youth"] / uw["youth_rec"], 3), np.nan)
    adm["weeks_since_engagement"] = np.where(u.profile_shown, u.since, np.nan)
    adm["teams"] = np.where(shown, teams.reindex(units).fillna(0).to_numpy(), np.nan)
    adm["engagements_per_100k"] = np.where(u.profile_shown, np.round(u.rate, 2), np.nan)
    return adm
