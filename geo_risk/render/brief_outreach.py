"""The brief's sections on early-warning alerts and their response, women's participation and
who engaged (:mod:`geo_risk.engagement.outreach`), rendered from ``brief_outreach.html.j2``.

Only aggregated, suppression-safe values of the matrix and the outreach tables reach the page;
the template escapes every text (unit and base names included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from geo_risk.render.brief_format import (
    _missing,
    _num,
    _records,
    _share,
    _Table,
    _table,
    _unit,
)
from geo_risk.render.templating import Markup, render
from geo_risk.schemas import COMPONENTS

if TYPE_CHECKING:
    from geo_risk.config import RunConfig
    from geo_risk.engagement.outreach import OutreachResult

__all__ = ["outreach_sections"]

#: Rows of the per-unit tables shown (the matrix has them all).
MAX_UNITS = 12


def _words(value: Any) -> str:
    return "" if _missing(value) else str(value).replace("_", " ")


def _alerts(matrix: pd.DataFrame, out: OutreachResult, config: RunConfig) -> dict[str, Any]:
    meta = out.metadata.get("alerts", {})
    ac = config.alerts
    m = meta.get("mission", {})
    within = f"{ac.response_within_hours:g} h"
    if m.get("status") == "shown":
        count = "" if m.get("alerts") is None else f"{_num(m.get('alerts'))} received; "
        lead = (f"Alerts of the last {ac.window_days} days, mission-wide: {count}"
                f"{_share(m.get('responded_share'))} answered, median response "
                f"{_num(m.get('median_response_hours'), 1)} h, "
                f"{_share(m.get('within_hours_share'))} answered within {within}.")
    else:
        lead = (f"Fewer than {config.min_count} alerts in the last {ac.window_days} days: no "
                "response figure is shown.")
    gaps = matrix.loc[matrix["alert_network_gap"].astype("boolean").fillna(False)
                      .to_numpy(bool)].sort_values("expected_incident_cells", ascending=False)
    base = out.alert_response
    rows = [[_words(r["base"]), _num(r["alerts"]), _share(r["responded_share"]),
             _num(r["median_response_hours"], 1), _share(r["within_hours_share"])]
            if r["status"] == "shown" else [_words(r["base"]), "suppressed", "", "", ""]
            for r in base.to_dict("records") if r["base"] != "mission"]
    bases = (_table(["Base", "Alerts", "Answered", "Median response (h)", f"Within {within}"],
                    rows, numeric=(1, 2, 3, 4)) if rows else None)
    shown = matrix.loc[matrix["alerts_recent"].notna()].sort_values("alerts_recent",
                                                                    ascending=False)
    units = None
    if len(shown):
        units = _table(["Unit", "Alerts", "Kinds of threat", "Answered", "Median (h)",
                        f"Within {within}"],
                       [[_unit(r["admin_name"], r["admin_pcode"]), _num(r["alerts_recent"]),
                         r["alert_types"] or "\u2014", _share(r["alerts_responded_share"]),
                         _num(r["alert_response_median_hours"], 1),
                         _share(r["alerts_within_hours_share"])]
                        for r in _records(shown.head(MAX_UNITS), [
                            "admin_name", "admin_pcode", "alerts_recent", "alert_types",
                            "alerts_responded_share", "alert_response_median_hours",
                            "alerts_within_hours_share"])],
                       numeric=(1, 3, 4, 5))
    if not meta.get("alert_data", True):
        lead = ("This run has no early-warning alert and no focal-point registry: alert "
                "response and network coverage are unknown.")
    return {"lead": lead, "known": meta.get("alert_data", True),
            "gaps": [_unit(r["admin_name"], r["admin_pcode"])
                                   for r in _records(gaps, ["admin_name", "admin_pcode"])],
            "channel_weeks": ac.channel_weeks, "bases": bases, "units": units,
            "method": str(meta.get("method", "")).capitalize() + "."}


def _gender(matrix: pd.DataFrame, out: OutreachResult, config: RunConfig) -> dict[str, Any]:
    g = out.gender_bases
    meta = out.metadata.get("gender", {})
    sentences = []
    without = meta.get("bases_without_female_staff", [])
    if meta.get("bases_recorded", 0) == 0:
        sentences.append("The base table does not record female liaison staff "
                         "(female_liaison_staff).")
    elif without:
        sentences.append(f"{len(without)} of {len(g)} open bases have no female liaison "
                         f"staff: {', '.join(without)}.")
    else:
        sentences.append("Every open base has female liaison staff.")
    nw = matrix.loc[matrix.get("no_women", pd.Series(pd.NA, index=matrix.index))
                    .astype("boolean").fillna(False).to_numpy(bool)]
    weeks = config.engagement.profile_weeks
    if len(nw):
        parts = []
        for r in _records(nw.sort_values("admin_name"), [  # a handful of units
                "main_base", "main_base_female_staff", "admin_name", "admin_pcode"]):
            serve = _words(r.get("main_base")) or "no base in reach"
            staff = r.get("main_base_female_staff")
            tag = (" (no female liaison staff)" if not _missing(staff) and staff == 0 else "")
            parts.append(f"{_words(r['admin_name'])} ({r['admin_pcode']}), served by {serve}"
                         f"{tag}")
        sentences.append(f"Units where the mission reached no women in the last {weeks} "
                         f"weeks: {'; '.join(parts)}.")
    else:
        sentences.append(f"No unit shown has gone without women taking part in the last {weeks}"
                         " weeks.")
    table: _Table | None = None
    if len(g):
        table = _table(["Base", "Liaison staff", "Of whom women", "Engagements",
                        "Women's share", "Units with no women reached"],
                       [[r["base_name"], _num(r["liaison_staff"]),
                         _num(r["female_liaison_staff"]), _num(r["engagements"]),
                         _share(r["women_share"]), r["units_no_women_names"] or "\u2014"]
                        for r in g.to_dict("records")], numeric=(1, 2, 3, 4))
    return {"sentences": sentences, "bases": table}


def _components(matrix: pd.DataFrame, out: OutreachResult, config: RunConfig
                ) -> dict[str, Any]:
    meta = out.metadata.get("components", {})
    sentences = []
    by = meta.get("mission_by_component", {})
    if by:
        sentences.append(f"Mission engagements of the last {config.engagement_weeks} weeks by "
                         "component (units shown): " + ", ".join(
                             f"{_words(c)} {n}" for c, n in by.items()) + ".")
    visits = matrix.loc[matrix["leadership_visit"].astype("boolean").fillna(False)
                        .to_numpy(bool)]
    if len(visits):
        sentences.append("Leadership town-hall visits in the window: " + ", ".join(
            f"{_words(r['admin_name'])} ({r['admin_pcode']})"
            for r in _records(visits, ["admin_name", "admin_pcode"])) + ".")
    cols = [f"engaged_by_{c}" for c in COMPONENTS]
    keep = [c for c in ("admin_name", "admin_pcode", "main_component", *cols)
            if c in matrix.columns]  # the columns read below, not the whole matrix
    shown = matrix.loc[matrix["main_component"].fillna("").astype(str) != "", keep]
    if shown.empty:
        return {"sentences": sentences, "units": None}
    shown = shown.assign(_total=shown[cols].sum(axis=1))
    shown = shown.sort_values("_total", ascending=False).head(MAX_UNITS)
    units = _table(["Unit", "Main component", *(_words(c).capitalize() for c in COMPONENTS)],
                   [[_unit(r["admin_name"], r["admin_pcode"]), _words(r["main_component"]),
                     *(_num(r[c]) for c in cols)] for r in shown.to_dict("records")],
                   numeric=tuple(range(2, 2 + len(COMPONENTS))))
    return {"sentences": sentences, "units": units}


def outreach_sections(*, matrix: pd.DataFrame, outreach: OutreachResult | None,
                      config: RunConfig) -> Markup:
    """The three brief sections (alerts and response, women's participation, who engaged).

    Parameters
    ----------
    matrix : pandas.DataFrame
        The admin matrix with the outreach columns.
    outreach : OutreachResult or None
        The week's outreach tables; None gives no section.
    config : RunConfig
        ``min_count``, ``engagement_weeks``, ``[alerts]``, ``[engagement]``.

    Returns
    -------
    markupsafe.Markup
        The sections' HTML (every value escaped by the template).
    """
    if outreach is None or "alert_status" not in matrix.columns:
        return Markup("")
    return Markup(render("brief_outreach.html.j2", k=config.min_count,
                         alerts=_alerts(matrix, outreach, config),
                         gender=_gender(matrix, outreach, config),
                         components=_components(matrix, outreach, config)))
