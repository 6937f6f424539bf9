"""Alerts and their response, the gender view and who engaged, for one week, in one call.

:func:`analyse_outreach` runs after :func:`geo_risk.engagement.analyse_engagement` (it reads
the units' engagement status, ``no_women`` flag and the cells' nearest base) and returns unit
columns to join onto the matrix plus two shareable tables: ``alert_response.csv`` (response
per responding base and mission-wide) and ``gender_bases.csv`` (per open base). See
:mod:`.alerts`, :mod:`.gender` and :mod:`.components` for the rules and the do-no-harm notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import RunConfig
from .access import open_bases
from .alerts import alert_records, alert_response_stats, unit_alerts
from .common import _in_window, _records
from .components import component_view
from .gender import gender_view, main_base


@dataclass
class OutreachResult:
    """Unit columns and tables of :func:`analyse_outreach` (all shareable).

    Attributes
    ----------
    admin
        One row per matrix unit: ``admin_pcode`` and the columns to join onto the matrix.
    alert_response
        Response to alerts per responding base, then a mission-wide row (``base`` "mission").
    gender_bases
        Per open base: liaison staff (female), engagements, women's share, units with no
        women reached that it serves.
    metadata
        Summary figures and methods (run.json ``parameters.outreach``; the brief).
    """

    admin: pd.DataFrame
    alert_response: pd.DataFrame
    gender_bases: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)


def analyse_outreach(*, cells: pd.DataFrame, matrix: pd.DataFrame,
                     consultations: pd.DataFrame | None, focal_points: pd.DataFrame | None,
                     bases: pd.DataFrame | None, week: pd.Timestamp,
                     config: RunConfig) -> OutreachResult:
    """Alert layer, response times, alert-network gaps, gender view and components.

    Parameters
    ----------
    cells : pandas.DataFrame
        The scored grid with the engagement columns (``admin_pcode``, ``population``,
        ``nearest_base``).
    matrix : pandas.DataFrame
        The admin matrix with the engagement columns (``admin_pcode``, ``admin_name``,
        ``expected_incident_cells``, ``engagement_status``, ``no_women``).
    consultations, focal_points, bases : pandas.DataFrame or None
        Canonical tables as placed by the pipeline. Not modified.
    week : pandas.Timestamp
        Monday of the forecast week.
    config : RunConfig
        ``min_count``, ``engagement_weeks``, ``reprisal_sensitive_pcodes``, ``[alerts]``,
        ``[engagement]``.

    Returns
    -------
    OutreachResult
    """
    k, ac, ec = config.min_count, config.alerts, config.engagement
    units = matrix["admin_pcode"].astype(str).to_numpy()
    withheld_set = frozenset(config.reprisal_sensitive_pcodes)
    withheld = np.isin(units, list(withheld_set))
    cell_admin = cells["admin_pcode"].astype(str).to_numpy(object)
    pop = np.nan_to_num(cells["population"].to_numpy(float))
    unit_pop = pd.Series(pop).groupby(cell_admin).sum().reindex(units).fillna(0).to_numpy()
    expected = pd.to_numeric(matrix["expected_incident_cells"], errors="coerce").fillna(0)
    al, alert_meta = unit_alerts(
        consultations=consultations, focal_points=focal_points, units=units, unit_pop=unit_pop,
        expected=expected.to_numpy(float), withheld=withheld, week=week,
        window_days=ac.window_days, within_hours=ac.response_within_hours,
        channel_weeks=ac.channel_weeks, high_risk_quantile=ac.high_risk_quantile, min_count=k)
    alerts = alert_records(consultations, week=week, days=ac.window_days,
                           withheld=sorted(withheld_set))  # read once for both groupings
    response = pd.concat([
        alert_response_stats(consultations=consultations, week=week,
                             window_days=ac.window_days, within_hours=ac.response_within_hours,
                             min_count=k, by="base", withheld=sorted(withheld_set),
                             records=alerts),
        alert_response_stats(consultations=consultations, week=week,
                             window_days=ac.window_days, within_hours=ac.response_within_hours,
                             min_count=k, by="mission", withheld=sorted(withheld_set),
                             records=alerts)
        .rename(columns={"scope": "base"}),
    ], ignore_index=True)
    if alert_meta["mission"].get("alerts") is None:  # see unit_alerts: no giveaway total
        response.loc[response["base"] == "mission", ["alerts", "responded"]] = np.nan

    status = matrix["engagement_status"].astype(str).to_numpy()
    shown = status == "engaged"
    comp, comp_meta = component_view(
        consultations=consultations, units=units, shown=shown, week=week,
        weeks=config.engagement_weeks, k=k, passive=ec.passive_modalities,
        withheld=withheld_set)

    rec = _records(consultations, week=week, withheld=withheld_set,
                   passive=ec.passive_modalities)
    rec = rec.loc[_in_window(rec["date"], week, ec.profile_weeks)]
    obases = open_bases(bases, week) if bases is not None else pd.DataFrame(
        {"base_name": pd.Series(dtype=str), "liaison_staff": pd.Series(dtype=float)})
    nearest = (cells["nearest_base"].to_numpy(object) if "nearest_base" in cells.columns
               else np.full(len(cells), "", dtype=object))
    unit_base = main_base(cell_admin=cell_admin, nearest_base=nearest, pop=pop, units=units)
    profile_shown = set(units[(status == "engaged") | matrix.get(
        "no_women", pd.Series(False, index=matrix.index)).notna().to_numpy()])
    gender_tab, gender_units, gender_meta = gender_view(
        rec=rec, adm=matrix[["admin_pcode"]].assign(no_women=matrix.get("no_women")),
        obases=obases, unit_base=unit_base,
        names=matrix.set_index("admin_pcode")["admin_name"], shown_units=profile_shown, k=k)

    gender_units.loc[withheld, ["main_base", "main_base_female_staff"]] = [None, np.nan]
    admin = al.merge(comp, on="admin_pcode").merge(gender_units, on="admin_pcode")
    meta = {"alerts": alert_meta, "components": comp_meta, "gender": gender_meta}
    return OutreachResult(admin=admin, alert_response=response, gender_bases=gender_tab,
                          metadata=meta)


__all__ = ["OutreachResult", "analyse_outreach"]
