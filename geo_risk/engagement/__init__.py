"""Engagement gaps, access and do no harm: the communities at risk the mission is not hearing
from, the ones it cannot reach, and where engaging could expose people to reprisals.

One entry point, :func:`analyse_engagement`, turns the scored week (cells and admin matrix)
plus the canonical consultation, incident, base and restriction tables into:

- coverage per H3 cell and per admin unit over the last ``engagement_weeks``: engagements by
  modality, people reached per 1,000 inhabitants, share of women and of youth, weeks since the
  mission last engaged, distinct teams. Records that carry only an admin unit (``cell == 0``)
  are spread over that unit's populated cells by population (never put on its centroid);
- gap flags (never engaged, no women, no youth, stale, under-engaged, commitments without
  follow-up) and an under-engaged score (risk percentile x engagement-rate gap);
- access: cells inside restrictions in force, cells cut off (every route from every base
  within reach crosses a restriction: along a road/path network when one is given, else along
  the straight line) and cells outside every base's reach; per base, the people and the risk
  within its reach and its engagements per liaison staff member;
- breadth (towns vs the rest; leaders vs community members, women's and youth groups, by a
  documented proxy) and reprisal exposure (recent civilian targeting where the mission engaged);
- the armed actors active per admin unit, and the ranked priority list for next week.

Do no harm
----------
Every table returned is meant to be shareable. Engagement appears only aggregated to cells and
admin units holding at least ``min_count`` engagements *and* ``min_count`` participants; below
that the numbers are empty and the status says ``"suppressed"``. Units listed in
``reprisal_sensitive_pcodes`` show no engagement information at all (``"withheld"``); their
records are dropped before any aggregation, so they cannot be recovered by differencing
(base totals leave them out too). Every value derived from the records (counts, rates,
recency, shares, commitments, follow-up, breadth, reprisal exposure, reasons in words) is
empty wherever the unit or cell is suppressed or withheld; a cell of a shown unit is also
suppressed when the unit total minus its shown cells would give a hidden cell away; base
totals count only records of shown units. No output holds a record's coordinates, date, id,
team member or any personal field.

One module per concern: :mod:`.coverage`, :mod:`.gaps`, :mod:`.access` (access and reach),
:mod:`.breadth`, :mod:`.follow_up`, :mod:`.reprisal`, :mod:`.actors`, :mod:`.priorities`,
:mod:`.matrix_html`; this module ties them together.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config import RunConfig
from ..errors import ConfigError
from ..index import cell_centres
from .access import (
    ACCESS,
    Network,
    base_table,
    cell_access,
    network_from_lines,
    open_bases,
    reach_pairs,
    read_network,
    unit_access,
)
from .actors import actors_table
from .breadth import breadth
from .common import (
    _SUMS,
    SUPPRESSED,
    WITHHELD,
    _in_window,
    _nullable,
    _records,
    spread_weights,
)
from .coverage import (
    _distinct_teams,
    _per_cell,
    cell_coverage,
    cell_status,
    complementary,
    unit_columns,
    unit_coverage,
)
from .follow_up import follow_up
from .gaps import cell_under_engaged, gap_text, unit_flags
from .matrix_html import matrix_html
from .priorities import (
    PRIORITY_COLUMNS,
    PRIORITY_METHOD,
    cell_priorities,
    unit_priorities,
)
from .reprisal import EXPOSURE, reprisal_exposure


@dataclass
class EngagementResult:
    """Shareable engagement, access and do-no-harm tables for one week.

    Attributes
    ----------
    cells
        One row per grid cell, aligned with the grid: coverage, access, reprisal columns.
    admin
        One row per admin unit (``admin_pcode`` + columns to join onto the matrix).
    bases
        One row per base open in the week: reach, risk inside it, engagements per staff.
    priorities
        Ranked admin units, then the top cells, for next week's engagement.
    actors
        Armed actors active per admin unit in the window.
    metadata
        Thresholds, ranking method and summary figures (for ``run.json``).
    """

    cells: pd.DataFrame
    admin: pd.DataFrame
    bases: pd.DataFrame
    priorities: pd.DataFrame
    actors: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)


def _last_mission(rec: pd.DataFrame, pos: np.ndarray, *, n: int, cell_admin: pd.Index,
                  weight: np.ndarray) -> np.ndarray:
    """Date of the last mission engagement reaching each cell (located or spread)."""
    mission = rec["mission"].to_numpy() > 0
    located = mission & (pos >= 0)
    last = (rec.loc[located].groupby(pos[located])["date"].max().reindex(range(n))
            .to_numpy("datetime64[ns]"))
    spread = (rec.loc[mission & (pos < 0)].groupby("admin_pcode")["date"].max()
              .reindex(cell_admin).to_numpy("datetime64[ns]"))
    return np.fmax(last, np.where(weight > 0, spread, np.datetime64("NaT")))


def _suppress_unit_derived(adm: pd.DataFrame) -> pd.DataFrame:
    """Blank every engagement-derived value of units not shown (the one final guard)."""
    hidden = adm["engagement_status"].isin([SUPPRESSED, WITHHELD]).to_numpy()
    keep = {"admin_pcode", "engagement_status", "never_engaged", "under_engaged",
            "town_population_share", "restricted_weeks_max", "cut_off_population",
            "out_of_reach_population", "out_of_reach_share", "access_status"}
    out = adm.copy()
    for col in out.columns.difference(list(keep)):
        if out[col].dtype == np.float64:  # what Series.mask gives, without its overhead
            out[col] = np.where(hidden, np.nan, out[col].to_numpy())
        else:
            out[col] = out[col].mask(hidden)
    return out


def analyse_engagement(*, cells: pd.DataFrame, matrix: pd.DataFrame,
                       consultations: pd.DataFrame | None, incidents: pd.DataFrame,
                       bases: pd.DataFrame | None, restrictions: gpd.GeoDataFrame | None,
                       week: pd.Timestamp, config: RunConfig,
                       network: Network | None = None) -> EngagementResult:
    """Coverage, gaps, access, reach, breadth, reprisal exposure, actors and priorities.

    Parameters
    ----------
    cells
        The scored grid (one row per cell): ``cell``, ``admin_pcode``, ``admin_name``,
        ``risk``, ``population``, ``area_km2``, ``restricted``, ``restricted_weeks``; optional
        ``trend``, ``risk_band``.
    matrix
        The admin matrix: ``admin_pcode``, ``admin_name``, ``level``, ``likelihood``,
        ``likelihood_label``, ``expected_incident_cells``, ``risk_score``; optional
        ``trend``, ``level_change``, ``level_prev``.
    consultations, incidents, bases
        Canonical tables as placed by the pipeline (``cell`` 0 = admin level only).
    restrictions
        Restrictions in force in the week.
    week
        Monday of the forecast week; only data dated before it is used.
    config
        Run configuration (``engagement_weeks``, ``min_count``, ``follow_up_weeks``,
        ``base_reach_km``, ``reprisal_sensitive_pcodes``, ``network``, ``[engagement]``).
    network
        An already built network (otherwise read from ``config.network`` when set).

    Returns
    -------
    EngagementResult

    Raises
    ------
    ConfigError
        When a reprisal-sensitive P-code is not in the boundaries (a typo would otherwise
        publish what should be withheld).
    """
    units = matrix["admin_pcode"].astype(str).to_numpy()
    withheld = frozenset(config.reprisal_sensitive_pcodes)
    unknown = sorted(withheld - set(units))
    if unknown:
        raise ConfigError(f"reprisal_sensitive_pcodes: {unknown} not in the boundaries file; "
                          "fix the P-codes (engagement there would otherwise be published).")
    if network is None and config.network is not None:
        network = read_network(config.network)
    rec = _records(consultations, week=week, withheld=withheld,
                   passive=config.engagement.passive_modalities)
    cell_ids = cells["cell"].to_numpy(np.uint64)
    pos = pd.Index(cell_ids).get_indexer(rec["cell"].to_numpy(np.uint64))
    pos = np.where(rec["cell"].to_numpy(np.uint64) > 0, pos, -1)
    st = _State(cells=cells, matrix=matrix, rec=rec, pos=pos, units=units,
                withheld=withheld, week=week, config=config)
    cell_out, adm, meta = st.coverage()
    acc = st.access(cell_out, adm, bases, restrictions, network)
    adm = st.admin_details(adm, incidents, cell_out)
    adm = _suppress_unit_derived(adm)
    adm["engagement_gaps"] = gap_text(adm, k=config.min_count,
                                      stale_weeks=config.engagement.stale_weeks,
                                      follow_up_weeks=config.follow_up_weeks,
                                      profile_weeks=config.engagement.profile_weeks)
    shown_units = set(units[adm["engagement_status"].to_numpy() == "engaged"])
    rec_w = rec.loc[st.in_w & rec["admin_pcode"].isin(shown_units).to_numpy()]
    base_tab = base_table(acc["obases"], pairs=acc["pairs"], pop=st.pop, risk=st.risk,
                          restricted=st.restricted, rec_w=rec_w, k=config.min_count,
                          reach_km=config.base_reach_km)
    staff = pd.Series(pd.to_numeric(acc["obases"].get("liaison_staff", pd.Series(dtype=float)),
                                    errors="coerce").fillna(0).to_numpy(float),
                      index=acc["obases"].get("base_name", pd.Series(dtype=str)).astype(str))
    staff = staff[~staff.index.duplicated()]
    prio = pd.concat([
        unit_priorities(matrix=matrix, adm=adm, cells=cells, cell_out=cell_out,
                        risk_pct=st.stats["risk_pct"], rate_pct=st.stats["rate_pct"],
                        withheld=st.u_withheld, staff=staff, config=config),
        cell_priorities(cells=cells, cell_out=cell_out, staff=staff, config=config),
    ], ignore_index=True)[PRIORITY_COLUMNS]
    rank = prio.loc[prio["kind"] == "admin unit"].set_index("admin_pcode")["rank"]
    adm["priority_rank"] = rank.reindex(units).to_numpy()
    actors = actors_table(incidents=incidents, week=week, weeks=config.engagement_weeks)
    meta.update(acc["meta"])
    meta.update(_shares(adm, cell_out))
    return EngagementResult(cells=cell_out, admin=adm, bases=base_tab, priorities=prio,
                            actors=actors, metadata=meta)


def _shares(adm: pd.DataFrame, cell_out: pd.DataFrame) -> dict[str, Any]:
    """Share of units (and cells) each flag marks: the figures README reports."""
    def share(col: str, frame: pd.DataFrame) -> float:
        v = frame[col]
        if v.dtype == object or str(v.dtype) == "string":
            v = v.astype("string").str.startswith("exposed")
        return round(float(v.fillna(False).astype(bool).mean()), 3) if len(v) else 0.0

    return {"flag_shares": {
        **{f"units_{c}": share(c, adm) for c in (
            "never_engaged", "stale", "no_women", "no_youth", "under_engaged",
            "follow_up_overdue", "reprisal_exposure")},
        "cells_under_engaged": share("under_engaged", cell_out)}}


class _State:
    """The week's inputs, aligned once, and the steps of :func:`analyse_engagement`."""

    def __init__(self, *, cells: pd.DataFrame, matrix: pd.DataFrame, rec: pd.DataFrame,
                 pos: np.ndarray, units: np.ndarray, withheld: frozenset[str],
                 week: pd.Timestamp, config: RunConfig) -> None:
        self.cells, self.matrix, self.rec, self.pos = cells, matrix, rec, pos
        self.units, self.week, self.config = units, week, config
        self.k, self.W, self.ec = config.min_count, config.engagement_weeks, config.engagement
        self.cell_admin = cells["admin_pcode"].astype(str).to_numpy(dtype=object)
        # The same keys as a string Index, made once: grouping or reindexing by the object
        # array made pandas convert its 26k strings again at every call.
        self.cell_key = pd.Index(self.cell_admin)
        self.cell_unit = pd.Index(units).get_indexer(self.cell_key)  # -1: not a matrix unit
        self.pop = np.nan_to_num(cells["population"].to_numpy(float), nan=0.0)
        self.risk = cells["risk"].to_numpy(float)
        self.restricted = cells["restricted"].to_numpy(bool)
        self.cell_withheld = self.cell_key.isin(list(withheld))
        self.u_withheld = np.isin(units, list(withheld))
        self.weight = spread_weights(cell_admin=self.cell_key, population=self.pop)
        self.in_w = _in_window(rec["date"], week, self.W)
        self.in_p = _in_window(rec["date"], week, self.ec.profile_weeks)
        self.unit_pop = (pd.Series(self.pop).groupby(self.cell_key).sum().reindex(units)
                         .fillna(0).to_numpy())
        self.stats: dict[str, Any] = {}

    def coverage(self) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
        """Cell and unit coverage, gap flags and under-engaged cells."""
        rec, k, n = self.rec, self.k, len(self.cells)
        rec_w, pos_w = rec.loc[self.in_w].reset_index(drop=True), self.pos[self.in_w]
        cw = _per_cell(rec_w, pos_w, cell_admin=self.cell_key, weight=self.weight,
                       columns=_SUMS)
        teams_c, teams_u = _distinct_teams(rec_w, pos_w, cell_admin=self.cell_key,
                                           weight=self.weight)
        u = unit_coverage(rec, units=self.units, in_w=self.in_w, in_p=self.in_p,
                          withheld=self.u_withheld, unit_pop=self.unit_pop, k=k,
                          week=self.week)
        self.u = u
        unit_shown = self._to_cells(np.asarray(u.shown, bool), False).astype(bool)
        status = cell_status(n=cw["n"].to_numpy(), part=cw["part"].to_numpy(), k=k,
                             withheld=self.cell_withheld, unit_shown=unit_shown)
        status = complementary(status=status, n=cw["n"].to_numpy(),
                               cell_admin=self.cell_key,
                               unit_total=pd.Series(u.window["n"].to_numpy(), index=self.units)
                               .where(u.shown), k=k)
        last = _last_mission(rec, self.pos, n=n, cell_admin=self.cell_key,
                             weight=self.weight)
        cell_out = cell_coverage(cw, status=status, pop=self.pop, last=last, teams=teams_c,
                                 week=self.week)
        adm = unit_columns(u, units=self.units, unit_pop=self.unit_pop, teams=teams_u)
        expected = self.matrix["expected_incident_cells"].to_numpy(float)
        flags, self.stats = unit_flags(u, expected=expected, withheld=self.u_withheld,
                                       ec=self.ec)
        adm = pd.concat([adm, flags], axis=1)
        self.units_flagged = int(flags["under_engaged"].fillna(False).astype(bool).sum())
        under_c, score_c, risk_cut = cell_under_engaged(
            risk=self.risk, pop=self.pop, cell_mission=cw["mission"].to_numpy(),
            cell_admin=self.cell_key, cell_withheld=self.cell_withheld, units=self.units,
            unit_rate=self.stats["rate"], median_rate=self.stats["median_rate"], k=k,
            quantile=self.ec.cell_risk_quantile)
        cell_out["under_engaged"] = _nullable(under_c, ~self.cell_withheld).array
        cell_out["under_engaged_score"] = score_c
        # the reason per unit, then spread to the cells as references to those few strings
        # (a fixed-width numpy text array of 26k cells was slow to turn into a column)
        ustatus = np.asarray(u.status, dtype=object)
        other = "its unit engaged at or below the median rate"
        lead = (f"among the riskiest {100 * (1 - self.ec.cell_risk_quantile):.0f}% of "
                "cells this week "
                f"and low engagement: fewer than {k} mission engagements in {self.W} weeks, ")
        reason_u = np.array([lead + w for w in np.where(
            np.isin(ustatus, ["never engaged", "not engaged", SUPPRESSED]),
            "its unit " + ustatus.astype(str), other).tolist()], dtype=object)
        cell_out["under_engaged_reason"] = np.where(
            under_c, self._to_cells(reason_u, lead + other), "").astype(object)
        meta = self._meta(risk_cut, int(under_c.sum()))
        return cell_out, adm, meta

    def _to_cells(self, per_unit: np.ndarray, fill: Any) -> np.ndarray:
        """A value per matrix unit as a value per cell (``fill`` where the cell's unit is not
        in the matrix), as ``Series(per_unit, index=units).reindex(cell_admin)`` gives it."""
        cu = self.cell_unit
        if not len(per_unit):  # no unit: every cell takes ``fill``
            return np.full(len(cu), fill, dtype=object)
        return np.where(cu >= 0, per_unit[np.maximum(cu, 0)], fill)

    def access(self, cell_out: pd.DataFrame, adm: pd.DataFrame, bases: pd.DataFrame | None,
               restrictions: gpd.GeoDataFrame | None, network: Network | None
               ) -> dict[str, Any]:
        """Cell access, nearest base, unit access; adds columns to ``cell_out``/``adm``."""
        lat, lon = cell_centres(self.cells["cell"].to_numpy(np.uint64))
        obases = open_bases(bases, self.week)
        ca = cell_access(lon=lon, lat=lat, restricted=self.restricted, obases=obases,
                         reach_km=self.config.base_reach_km, restrictions=restrictions,
                         network=network)
        cell_out["access_status"] = ca.status
        cell_out["nearest_base"] = ca.nearest_base
        cell_out["nearest_base_km"] = ca.nearest_base_km
        ua = unit_access(units=self.units, cell_admin=self.cell_key, pop=self.pop,
                         access=ca.status, restricted=self.restricted,
                         restricted_weeks=self.cells["restricted_weeks"].to_numpy(float))
        for col in ua.columns.drop("admin_pcode"):
            adm[col] = ua[col].to_numpy()
        meta = {"access": {
            "reach_km": self.config.base_reach_km,
            "measured": "along the network" if network is not None else "straight line",
            "network_nodes": network.n_nodes if network is not None else 0,
            "open_bases": int(len(obases)),
            "cells": {a: int((ca.status == a).sum()) for a in ACCESS},
            "population": {a: round(float(self.pop[ca.status == a].sum())) for a in ACCESS},
        }}
        return {"obases": obases, "pairs": ca.pairs, "meta": meta}

    def admin_details(self, adm: pd.DataFrame, incidents: pd.DataFrame,
                      cell_out: pd.DataFrame) -> pd.DataFrame:
        """Follow-up, breadth and reprisal exposure per unit (and reprisal per cell)."""
        u, ec = self.u, self.ec
        fu = follow_up(self.rec, units=self.units, week=self.week,
                       lookback_weeks=ec.follow_up_lookback_weeks,
                       follow_up_weeks=self.config.follow_up_weeks,
                       overdue_share=ec.follow_up_overdue_share, shown=u.profile_shown)
        br, _ = breadth(self.rec.loc[self.in_p], self.pos[self.in_p], units=self.units,
                        cell_admin=self.cell_key, pop=self.pop,
                        area_km2=self.cells["area_km2"].to_numpy(float),
                        unit_pop=self.unit_pop, shown=u.profile_shown, ec=ec)
        cell_exp, unit_exp, rmeta = reprisal_exposure(
            self.rec, self.pos, incidents, units=self.units, n_cells=len(self.cells),
            week=self.week, weeks=self.W, days=ec.reprisal_window_days,
            km=ec.reprisal_distance_km)
        shown_c = cell_out["coverage_status"].isin(["engaged", "not engaged"]).to_numpy()
        cell_out["reprisal_exposure"] = pd.Series(cell_exp, dtype="string").where(
            shown_c, pd.NA).array
        adm = pd.concat([adm, fu, br], axis=1)
        adm["reprisal_exposure"] = pd.Series(unit_exp, dtype="string").where(
            np.isin(u.status, ["engaged", "not engaged", "never engaged"]), pd.NA).array
        self.reprisal_meta = rmeta
        return adm

    def _meta(self, risk_cut: float, cells_flagged: int) -> dict[str, Any]:
        ec, k, W, s = self.ec, self.k, self.W, self.stats
        return {
            "window_weeks": W, "profile_weeks": ec.profile_weeks, "min_count": k,
            "suppression": (
                f"engagement shown only where a cell or unit holds at least {k} engagements "
                f"and {k} participants; below: '{SUPPRESSED}', and every value derived from "
                "the records is empty; cells of a shown unit are suppressed when the unit "
                "total minus its shown cells would identify a hidden cell; base totals count "
                "only records of shown units"),
            "reprisal_sensitive_pcodes_withheld": int(self.u_withheld.sum()),
            "admin_level_records_spread": "over the unit's cells by population share",
            "passive_modalities": list(ec.passive_modalities),
            "under_engaged": {
                "method": ("unit flagged when expected incident cells >= the "
                           f"{ec.under_engaged_risk_quantile:g} quantile of units and mission "
                           f"engagements per 100,000 people over {ec.profile_weeks} weeks <= "
                           f"{ec.under_engaged_ratio:g} x the median of engaged units"),
                "risk_threshold_expected_incident_cells": round(s["risk_q"], 4),
                "median_rate_per_100k": round(s["median_rate"], 4),
                "rate_threshold_per_100k": round(s["rate_cut"], 4),
                "score": ("percentile rank of expected incident cells x (1 - percentile rank "
                          "of the engagement rate); 1 = highest risk and least engaged"),
                "cell_method": (f"cell flagged when its risk >= the {ec.cell_risk_quantile:g}"
                                f" quantile of populated cells ({risk_cut:.4f}), fewer than {k}"
                                f" mission engagements reach it in {W} weeks, and its unit is"
                                " engaged at no more than the median rate"),
                "units_flagged": self.units_flagged,
                "cells_flagged": cells_flagged,
            },
            "stale_weeks": ec.stale_weeks,
            "follow_up": (f"commitments made in the last {ec.follow_up_lookback_weeks} weeks, "
                          "due on their own due date where recorded, else "
                          f"{self.config.follow_up_weeks} weeks after; flagged when at least "
                          f"{ec.follow_up_overdue_share:g} of the due ones are not done"),
            "breadth_proxy": (
                "towns = most populous cell of each unit and cells of at least "
                f"{ec.town_density_km2:g} people/km² (located records only); kinds of mission "
                "engagement: women_groups (topic women/gender or >= 80% women), youth_groups "
                "(topic youth or >= 80% youth), leaders (topic leaders/elders/chiefs/"
                f"authorities, or a meeting/consultation of at most "
                f"{ec.leader_max_participants} people with under 20% women), community"),
            "reprisal_exposure": (
                f"civilian targeting within {ec.reprisal_window_days} days after and "
                f"{ec.reprisal_distance_km:g} km of a mission engagement in the last {W} "
                "weeks (same unit when either has no point); rising = matched incidents of "
                "the last 4 weeks above the weekly rate of the rest of the window"),
            "priority": PRIORITY_METHOD,
        }


__all__ = [
    "ACCESS",
    "EXPOSURE",
    "PRIORITY_COLUMNS",
    "SUPPRESSED",
    "WITHHELD",
    "EngagementResult",
    "Network",
    "actors_table",
    "analyse_engagement",
    "matrix_html",
    "network_from_lines",
    "open_bases",
    "reach_pairs",
    "read_network",
    "spread_weights",
]
