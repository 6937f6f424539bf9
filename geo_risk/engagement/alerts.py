"""Early-warning alerts as a live layer: what came in, how fast the mission answered, and where
the alert network has holes.

Alerts are engagement records of modality ``early_warning_alert`` (an SMS or call log read as
a consultation source; its response fields are mapped in the config, see
:mod:`geo_risk.readers.engagement_fields`). Everything here is aggregated:

* per admin unit, over the last ``[alerts] window_days``: alerts, the kinds of threat reported,
  the share answered, the median response time and the share answered within
  ``response_within_hours``;
* per responding base (:func:`alert_response_stats`, also mission-wide): the same response
  figures;
* alert-network coverage: a unit has a *channel* when an alert came from it or a registered
  focal point was active there in the last ``channel_weeks``; a populated unit among the
  riskiest (``high_risk_quantile`` of expected incident cells) without one is a *network gap*.

Do no harm: no sender, number, name, point, id or time of a single alert is output. A unit's
alert figures are shown only when it holds at least ``min_count`` alerts in the window (else
``suppressed``); reprisal-sensitive units are ``withheld`` (their alerts dropped before any
count). Alert types are named only with at least ``min_count`` alerts each. A base's alerts
are never attributed to units in any output; the mission-wide count is left out when exactly
one unit is suppressed (the total minus the shown units would give it away).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..readers.engagement_fields import responded
from .common import SUPPRESSED, WITHHELD, _nullable

ALERT_MODALITY = "early_warning_alert"
#: Values of the unit column ``alert_status`` (the map theme), in legend order.
ALERT_STATUSES = ("network gap", "no channel", "channel, no alert", SUPPRESSED,
                  "alerts, answered in time", "alerts, slow or unanswered", WITHHELD)
#: ``alert_status`` says "answered in time" when at least this share was.
IN_TIME_SHARE = 0.5
STAT_COLUMNS = ["alerts", "responded", "responded_share", "median_response_hours",
                "within_hours_share", "status"]


def alert_records(consultations: pd.DataFrame | None, *, week: pd.Timestamp, days: int,
                  withheld: Sequence[str] = ()) -> pd.DataFrame:
    """Alerts received in the ``days`` before ``week`` outside withheld units.

    Returns one row per alert with ``date``, ``admin_pcode``, ``cell`` (0 when placed by unit
    only), ``alert_type``, ``base`` (the responding base, else the record's team),
    ``responded`` (bool) and ``hours`` (response time; NaN when not answered or either time
    is unknown). No id, point or sender field is kept.
    """
    cols = ["date", "admin_pcode", "cell", "alert_type", "base", "responded", "hours"]
    if consultations is None or consultations.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    c = consultations
    start = week - pd.Timedelta(days=days)
    keep = ((c["modality"].astype(str) == ALERT_MODALITY) & (c["date"] < week)
            & (c["date"] >= start) & ~c["admin_pcode"].astype(str).isin(list(withheld)))
    c = c.loc[keep]

    def opt(name: str, dtype: str = "object") -> pd.Series:
        if name in c.columns:
            return c[name]
        return pd.Series(pd.NaT if dtype == "datetime64[ns]" else "", index=c.index,
                         dtype=dtype)

    recv = pd.to_datetime(opt("received_at", "datetime64[ns]"), errors="coerce")
    resp = pd.to_datetime(opt("responded_at", "datetime64[ns]"), errors="coerce")
    answer = opt("response").fillna("").astype(str)
    base = opt("response_base").fillna("").astype(str).str.strip()
    team = opt("team").fillna("").astype(str).str.strip()
    hours = (resp - recv).dt.total_seconds().to_numpy(float) / 3600.0
    alert_type = opt("alert_type").fillna("").astype(str).str.strip()
    return pd.DataFrame({
        "date": c["date"].to_numpy(),
        "admin_pcode": c["admin_pcode"].astype(str).to_numpy(),
        "cell": (c["cell"].to_numpy(np.uint64) if "cell" in c.columns
                 else np.zeros(len(c), np.uint64)),
        "alert_type": alert_type.where(alert_type != "", "unspecified").to_numpy(),
        "base": base.where(base != "", team).to_numpy(),
        "responded": responded(answer, resp),
        "hours": hours,
    })


def _stats(rec: pd.DataFrame, key: np.ndarray, *, within_hours: float, k: int
           ) -> pd.DataFrame:
    """Response figures per value of ``key`` (suppressed below ``k`` alerts)."""
    hours = rec["hours"].to_numpy(float)
    timed = np.isfinite(hours)
    # Alerts with a known received time: answered late or never count as not in time.
    known = timed | ~rec["responded"].to_numpy(bool)
    f = pd.DataFrame({"key": key, "n": 1.0, "resp": rec["responded"].to_numpy(float),
                      "timed": timed.astype(float), "known": known.astype(float),
                      "within": (timed & (hours <= within_hours)).astype(float),
                      "hours": np.where(timed, hours, np.nan)})
    g = f.groupby("key", sort=True)
    s = g[["n", "resp", "timed", "known", "within"]].sum()
    med = g["hours"].median()
    shown = s["n"] >= k
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "alerts": s["n"].where(shown),
            "responded": s["resp"].where(shown),
            "responded_share": (s["resp"] / s["n"]).round(3).where(shown),
            "median_response_hours": med.round(1).where(shown & (s["timed"] >= k)),
            "within_hours_share": (s["within"] / s["known"]).round(3).where(
                shown & (s["known"] >= k)),
            "status": np.where(shown, "shown", SUPPRESSED),
        }, index=s.index)
    return out


def alert_response_stats(*, consultations: pd.DataFrame | None, week: pd.Timestamp,
                         window_days: int = 28, within_hours: float = 24.0,
                         min_count: int = 5, by: str = "base",
                         withheld: Sequence[str] = (),
                         records: pd.DataFrame | None = None) -> pd.DataFrame:
    """Response to early-warning alerts per base, per admin unit or mission-wide.

    Parameters
    ----------
    consultations : pandas.DataFrame or None
        Canonical engagement records as placed by the pipeline (alerts are those of modality
        ``early_warning_alert``; ``received_at``, ``responded_at``, ``response``,
        ``response_base`` optional). Not modified.
    week : pandas.Timestamp
        Monday of the week; alerts of the ``window_days`` before it count.
    window_days : int
        Look-back in days.
    within_hours : float
        A response within this many hours counts as in time.
    min_count : int
        Groups with fewer alerts show no figure (``status`` "suppressed").
    by : {"base", "admin_pcode", "mission"}
        Group by responding base (else the record's team), by admin unit, or not at all.
    withheld : sequence of str
        Reprisal-sensitive P-codes: their alerts are dropped before any count.
    records : pandas.DataFrame, optional
        :func:`alert_records` of these ``consultations``, ``week``, ``window_days`` and
        ``withheld``, when already read (one read for several groupings).

    Returns
    -------
    pandas.DataFrame
        One row per group: the group column (``base``, ``admin_pcode`` or ``scope``), then
        ``alerts``, ``responded``, ``responded_share``, ``median_response_hours`` (of answered
        alerts with both times known), ``within_hours_share`` (of alerts with a known received
        time; unanswered ones count as late) and ``status``.

    Examples
    --------
    >>> stats = alert_response_stats(consultations=None, week=pd.Timestamp("2026-01-05"))
    >>> list(stats.columns)[:2]
    ['base', 'alerts']
    """
    if by not in ("base", "admin_pcode", "mission"):
        raise ValueError("by must be 'base', 'admin_pcode' or 'mission'")
    rec = (alert_records(consultations, week=week, days=window_days, withheld=withheld)
           if records is None else records)
    name = "scope" if by == "mission" else by
    key = (np.full(len(rec), "mission", dtype=object) if by == "mission"
           else rec[by].astype(str).to_numpy())
    if by == "base":
        key = np.where(key == "", "(no base recorded)", key)
    out = _stats(rec, key, within_hours=within_hours, k=min_count)
    return out.rename_axis(name).reset_index()[[name, *STAT_COLUMNS]]


def _since(rec: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """The alerts of :func:`alert_records` dated ``start`` or later (as read from there)."""
    if rec.empty:
        return rec
    return rec.loc[(rec["date"] >= start).to_numpy()].reset_index(drop=True)


def _type_text(rec: pd.DataFrame, units: np.ndarray, k: int) -> np.ndarray:
    """"type (n); type (n)" per unit: only types with at least ``k`` alerts, most first."""
    if rec.empty:
        return np.full(len(units), "", dtype=object)
    n = rec.groupby(["admin_pcode", "alert_type"]).size().rename("n").reset_index()
    n = n.loc[n["n"] >= k].sort_values(["admin_pcode", "n", "alert_type"],
                                       ascending=[True, False, True])
    n["t"] = n["alert_type"].astype(str) + " (" + n["n"].astype(int).astype(str) + ")"
    text = n.groupby("admin_pcode")["t"].agg("; ".join)
    return text.reindex(units).fillna("").to_numpy(object)


def unit_alerts(*, consultations: pd.DataFrame | None, focal_points: pd.DataFrame | None,
                units: np.ndarray, unit_pop: np.ndarray, expected: np.ndarray,
                withheld: np.ndarray, week: pd.Timestamp, window_days: int,
                within_hours: float, channel_weeks: int, high_risk_quantile: float,
                min_count: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Alert figures, channel and network gap per admin unit (aligned with ``units``).

    Parameters
    ----------
    consultations, focal_points : pandas.DataFrame or None
        Placed canonical tables (``admin_pcode``); not modified.
    units, unit_pop, expected, withheld : numpy.ndarray
        P-codes, population, expected incident cells, reprisal-sensitive flag per unit.
    week : pandas.Timestamp
        Monday of the forecast week.
    window_days, within_hours, channel_weeks, high_risk_quantile, min_count
        See :class:`geo_risk.config.AlertsConfig` and ``min_count``.

    Returns
    -------
    tuple
        The unit columns (``admin_pcode``, ``alert_summary`` (the figures in words, for the
        map's tooltip), ``alerts_recent``, ``alert_types``,
        ``alerts_responded_share``, ``alert_response_median_hours``,
        ``alerts_within_hours_share``, ``alert_channel``, ``alert_network_gap``,
        ``alert_status``; channel, gap and status empty when the run has neither an alert
        nor a focal-point registry) and summary figures for run.json and the brief.
    """
    k = min_count
    held = list(units[withheld])
    # one read over the longer of the two windows, then each window's rows (same rows, order)
    both = alert_records(consultations, week=week, days=max(window_days, 7 * channel_weeks),
                         withheld=held)
    rec = _since(both, week - pd.Timedelta(days=window_days))
    stats = _stats(rec, rec["admin_pcode"].astype(str).to_numpy(), within_hours=within_hours,
                   k=k).reindex(units)
    n_all = rec.groupby("admin_pcode").size().reindex(units).fillna(0).to_numpy()
    chan_rec = _since(both, week - pd.Timedelta(weeks=channel_weeks))
    has_alert = np.isin(units, chan_rec["admin_pcode"].unique())
    active_fp = np.zeros(len(units), dtype=bool)
    if focal_points is not None and len(focal_points):
        fp = focal_points
        since = week - pd.Timedelta(weeks=channel_weeks)
        live = ((fp["registered"] < week) & (fp["ended"].isna() | (fp["ended"] >= since)))
        active_fp = np.isin(units, fp.loc[live, "admin_pcode"].astype(str).unique())
    channel = has_alert | active_fp
    # Without any alert log or focal-point registry nothing is known about channels.
    known = focal_points is not None or (
        consultations is not None and (consultations["modality"].astype(str)
                                       == ALERT_MODALITY).any())
    # without population data every unit counts as populated
    populated = unit_pop > 0 if (unit_pop > 0).any() else np.ones(len(units), dtype=bool)
    risky = expected >= np.quantile(expected, high_risk_quantile) if len(expected) else expected
    gap = populated & risky & ~channel & ~withheld
    shown = stats["status"].to_numpy() == "shown"
    in_time = stats["within_hours_share"].to_numpy(float) >= IN_TIME_SHARE
    gap &= known
    status = np.select(
        [withheld, ~np.full(len(units), known), gap, ~channel, n_all == 0, ~shown, in_time],
        [WITHHELD, "", "network gap", "no channel", "channel, no alert", SUPPRESSED,
         "alerts, answered in time"], "alerts, slow or unanswered").astype(object)
    def pct(v: pd.Series) -> np.ndarray:
        x = v.to_numpy(float)
        return np.where(np.isnan(x), "n/a", np.char.mod("%.0f%%", np.nan_to_num(100 * x)))

    summary = np.where(
        shown, np.char.mod("%d alerts in ", np.nan_to_num(stats["alerts"].to_numpy(float)))
        + f"{window_days} days, " + pct(stats["responded_share"]) + " answered, "
        + pct(stats["within_hours_share"]) + f" within {within_hours:g} h", "")
    out = pd.DataFrame({
        "admin_pcode": units,
        "alert_summary": summary.astype(object),
        "alerts_recent": stats["alerts"].to_numpy(float),
        "alert_types": np.where(shown, _type_text(rec, units, k), ""),
        "alerts_responded_share": stats["responded_share"].to_numpy(float),
        "alert_response_median_hours": stats["median_response_hours"].to_numpy(float),
        "alerts_within_hours_share": stats["within_hours_share"].to_numpy(float),
        "alert_channel": _nullable(channel, ~withheld & known).array,
        "alert_network_gap": _nullable(gap, ~withheld & known).array,
        "alert_status": status,
    })
    suppressed_units = int(((n_all > 0) & ~shown & ~withheld).sum())
    mission = _stats(rec, np.full(len(rec), "mission", dtype=object),
                     within_hours=within_hours, k=k)
    m = mission.iloc[0].to_dict() if len(mission) else {}
    if suppressed_units == 1:  # the total minus the shown units would give that unit away
        m["alerts"] = m["responded"] = np.nan
    meta = {
        "alert_data": bool(known),
        "window_days": window_days, "response_within_hours": within_hours,
        "channel_weeks": channel_weeks, "high_risk_quantile": high_risk_quantile,
        "mission": {key: (None if isinstance(v, float) and np.isnan(v) else v)
                    for key, v in m.items()},
        "units_with_channel": int(channel[~withheld].sum()),
        "populated_units_without_channel": int((populated & ~channel & ~withheld).sum()
                                               if known else 0),
        "network_gap_units": int(gap.sum()),
        "method": (f"alerts of the last {window_days} days; channel = an alert or an active "
                   f"registered focal point in the last {channel_weeks} weeks; network gap = "
                   "populated unit without a channel whose expected incident cells are at or "
                   f"above the {high_risk_quantile:g} quantile of units; response in time = "
                   f"within {within_hours:g} hours of the alert being received"),
    }
    return out, meta


__all__ = ["ALERT_MODALITY", "ALERT_STATUSES", "alert_records", "alert_response_stats",
           "unit_alerts"]
