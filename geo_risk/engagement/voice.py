"""The community's voice over time: perceptions, topics and engagement benchmarks.

:func:`analyse_voice` turns the canonical consultation records (and perception-survey
respondents read from sources with ``one_row_per_respondent``) into

- ``trends``: the weekly series ``engagement_trends.parquet``, one row per unit (and
  mission-wide, and high-risk units together) x week x indicator, for the last
  ``perceptions.series_weeks`` weeks (>= 26), with value, interval, signal, status
  (shown / suppressed / withheld / no data), target and met;
- ``matrix``: the forecast week's columns for ``admin_matrix.csv`` (means, changes with
  intervals, respondents, topic shares, benchmarks met / not met);
- ``cells``: the perceptions per grid cell where counts allow (``perception_*``,
  :mod:`geo_risk.engagement.perception_cells`);
- ``metadata`` for run.json.

Do no harm: records of reprisal-sensitive units are dropped before any sum (their rows say
"withheld"); every value is suppressed below ``min_count`` records and people with all it
implies; topics are choice words, never free text; no point, id or name is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import RunConfig, SourceConfig
from ..schemas import MODALITIES
from .benchmarks import BENCHMARK_TEXT, benchmark_indicators
from .common import _DONE, SUPPRESSED, WITHHELD
from .perception_cells import perception_cells
from .perceptions import perception_indicators
from .series import weeks_before
from .topics import topic_indicators
from .voice_types import Indicator, Rows

#: Labels of the group rows of the series (``scope`` column).
MISSION, HIGH_RISK = "mission-wide", "high-risk units"
TREND_COLUMNS = ["scope", "admin_pcode", "admin_name", "week", "indicator", "family", "value",
                 "low", "high", "signal", "status", "target", "met"]


@dataclass
class VoiceResult:
    """Perceptions, topics and benchmarks of one run (see module docstring)."""

    trends: pd.DataFrame
    matrix: pd.DataFrame
    topics: list[str] = field(default_factory=list)
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    metadata: dict[str, Any] = field(default_factory=dict)


def split_respondents(consultations: pd.DataFrame | None, sources: tuple[SourceConfig, ...]
                      ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Separate the rows of ``one_row_per_respondent`` sources (perception-survey answers)
    from the engagement records: a respondent is not an engagement.

    Parameters
    ----------
    consultations : pandas.DataFrame or None
        Placed canonical consultation rows (``source_file``). Not modified.
    sources : tuple of SourceConfig
        The config's ``[[consultations]]``.

    Returns
    -------
    tuple
        Engagement records and respondents (None when there are none).
    """
    files = {str(s.path) for s in sources if s.options.get("one_row_per_respondent")}
    if consultations is None or not files:
        return consultations, None
    resp = consultations["source_file"].astype(str).isin(files).to_numpy()
    return (consultations.loc[~resp].reset_index(drop=True) if (~resp).any() else None,
            consultations.loc[resp].reset_index(drop=True))


def _frame(c: pd.DataFrame | None, *, units: pd.Index, week: pd.Timestamp,
           withheld: tuple[str, ...], follow: bool) -> pd.DataFrame:
    """Records before ``week`` outside withheld units, as the numbers the series sum."""
    if c is None or len(c) == 0:
        c = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"),
                          "admin_pcode": pd.Series(dtype=object),
                          "modality": pd.Series(dtype=object),
                          "participants_total": pd.Series(dtype=float)})
    c = c.loc[(c["date"] < week) & ~c["admin_pcode"].astype(str).isin(withheld)]

    def col(name: str, default: Any = np.nan) -> pd.Series:
        return c[name] if name in c.columns else pd.Series(default, index=c.index)

    total = pd.to_numeric(c["participants_total"], errors="coerce").fillna(0).clip(lower=0)
    women = pd.to_numeric(col("participants_women"), errors="coerce").astype(float)
    youth = pd.to_numeric(col("participants_youth"), errors="coerce").astype(float)
    out = pd.DataFrame({
        "date": c["date"].to_numpy("datetime64[ns]"),
        "unit_pos": units.get_indexer(pd.Index(c["admin_pcode"].astype(str))),
        "cell": pd.to_numeric(col("cell", 0), errors="coerce").fillna(0).to_numpy(np.uint64),
        "weeks_ago": weeks_before(c["date"], week),
        "modality": c["modality"].astype(str).to_numpy(),
        "part": total.to_numpy(float),
        "women": women.fillna(0).to_numpy(),
        "women_rec": np.where(women.notna(), total, 0.0),
        "youth": youth.fillna(0).to_numpy(),
        "youth_rec": np.where(youth.notna(), total, 0.0),
        "topics": col("topics", "").fillna("").astype(str).to_numpy(),
        **{k: pd.to_numeric(col(k), errors="coerce").to_numpy(float)
           for k in ("safety_score", "trust_score", "response_hours")
           if k in c.columns},
    })
    if "response_hours" not in out.columns and {"received_at", "responded_at"} <= set(c.columns):
        # the alert log's own times (geo_risk.engagement.alerts reads them the same way);
        # NaN when not answered, so it never counts as answered in time
        took = (pd.to_datetime(c["responded_at"], errors="coerce")
                - pd.to_datetime(c["received_at"], errors="coerce"))
        out["response_hours"] = took.dt.total_seconds().to_numpy(float) / 3600.0
    if follow:
        out["made"] = col("commitments_made", False).fillna(False).astype(bool).to_numpy()
        out["done"] = (col("follow_up_status", "").fillna("").astype(str).str.strip()
                       .str.casefold().isin(_DONE).to_numpy())
        out["due"] = pd.to_datetime(col("follow_up_due", pd.NaT), errors="coerce").to_numpy(
            "datetime64[ns]")
    return out


def analyse_voice(*, matrix: pd.DataFrame, cells: pd.DataFrame,
                  consultations: pd.DataFrame | None, perceptions: pd.DataFrame | None,
                  week: pd.Timestamp, config: RunConfig) -> VoiceResult:
    """Perceptions, topics and benchmarks per unit and week (see module docstring).

    Parameters
    ----------
    matrix : pandas.DataFrame
        The admin matrix (``admin_pcode``, ``admin_name``, ``level``). Not modified.
    cells : pandas.DataFrame
        The grid (``admin_pcode``, ``population``), for inhabitants per unit; with its
        ``cell`` ids also for the perceptions per cell (else those columns are empty).
    consultations, perceptions : pandas.DataFrame or None
        Canonical engagement records and perception-survey respondents.
    week : pandas.Timestamp
        The forecast week's Monday.
    config : RunConfig
        ``min_count``, ``reprisal_sensitive_pcodes``, ``engagement.passive_modalities``,
        ``follow_up_weeks`` and ``voice``.

    Returns
    -------
    VoiceResult
    """
    vc, k = config.voice, config.min_count
    units = pd.Index(matrix["admin_pcode"].astype(str))
    withheld = tuple(config.reprisal_sensitive_pcodes)
    is_withheld = units.isin(withheld)
    level = matrix.get("level", pd.Series("", index=matrix.index)).astype(str).str.lower()
    high_risk = level.isin(vc.benchmarks.high_risk_levels).to_numpy() & ~is_withheld
    S = max(vc.perceptions.series_weeks, 26)
    rows = Rows(units=units.to_numpy(), groups=[~is_withheld, high_risk],
                labels=(MISSION, HIGH_RISK), points=S, k=k)
    rec = _frame(consultations, units=units, week=week, withheld=withheld, follow=True)
    passive = rec["modality"].isin(config.engagement.passive_modalities).to_numpy()
    mission = rec.loc[~passive].reset_index(drop=True)
    alerts = rec.loc[rec["modality"] == "early_warning_alert"].reset_index(drop=True)
    resp = _frame(perceptions, units=units, week=week, withheld=withheld, follow=False)
    obs = pd.concat([rec.loc[rec["modality"].isin(vc.perceptions.modalities)], resp],
                    ignore_index=True)
    pop = (pd.Series(np.nan_to_num(cells["population"].to_numpy(float)))
           .groupby(cells["admin_pcode"].astype(str).to_numpy()).sum()
           .reindex(units).fillna(0).to_numpy())
    inds = perception_indicators(obs=obs, rows=rows, cfg=vc.perceptions, k=k)
    topics, t_inds = topic_indicators(rec=mission, rows=rows, cfg=vc.topics,
                                      period_weeks=vc.perceptions.period_weeks,
                                      confidence=vc.perceptions.confidence)
    inds += t_inds
    inds += benchmark_indicators(rec=mission, alerts=alerts, rows=rows, unit_pop=pop,
                                 high_risk=high_risk, week=week, cfg=vc.benchmarks,
                                 follow_up_weeks=config.follow_up_weeks)
    names = matrix.set_index(matrix["admin_pcode"].astype(str))["admin_name"]
    trends = _long(inds, rows=rows, week=week, withheld=is_withheld, names=names)
    now = trends.loc[(trends["scope"] == "unit") & (trends["week"] == week.to_datetime64())]
    status = now.pivot(index="admin_pcode", columns="indicator", values="status").reindex(units)
    per_cell = perception_cells(
        obs=obs, grid_cells=(cells["cell"].to_numpy(np.uint64) if "cell" in cells.columns
                             else np.zeros(len(cells), dtype=np.uint64)),
        grid_units=cells["admin_pcode"].to_numpy(), units=units,
        unit_shown={c: (status[c] == "shown").to_numpy() for c in status.columns},
        cfg=vc.perceptions, k=k)
    return VoiceResult(trends=trends, matrix=_matrix_columns(trends, units=units, topics=topics),
                       topics=topics, cells=per_cell.set_axis(cells.index),
                       metadata=_meta(vc, k, S, topics, trends))


def _long(inds: list[Indicator], *, rows: Rows, week: pd.Timestamp, withheld: np.ndarray,
          names: pd.Series) -> pd.DataFrame:
    """Indicators (rows x points) as the long series table (one block per indicator).

    The blocks are stacked as numpy arrays and sorted by numpy (stable, on the same keys as
    ``sort_values``) before one DataFrame is made: a frame per indicator spent most of the
    time turning the same text columns into string arrays.
    """
    n_rows, S = len(rows.units) + len(rows.groups), rows.points
    size = n_rows * S
    scope = np.concatenate([np.full(len(rows.units), "unit", dtype=object),
                            np.asarray(rows.labels, dtype=object)])
    pcode = np.concatenate([rows.units.astype(object), np.full(len(rows.groups), "", object)])
    name = np.concatenate([names.reindex(rows.units).fillna("").to_numpy(object),
                           np.asarray(rows.labels, dtype=object)])
    wk = (week - pd.to_timedelta(7 * np.arange(S), unit="D")).to_numpy("datetime64[ns]")
    held = np.concatenate([withheld, np.zeros(len(rows.groups), bool)])[:, None]
    cols: dict[str, list[np.ndarray]] = {c: [] for c in (
        "value", "low", "high", "signal", "status", "met")}
    for ind in inds:  # a loop over indicators (tens), each block vectorised
        shown = ind.shown & ~held
        status = np.where(held, WITHHELD, np.where(shown, "shown", SUPPRESSED)).astype(object)
        if ind.no_data:
            status[:] = np.where(held, WITHHELD, "no data")

        def shape(a: np.ndarray | None, fill: Any = np.nan,
                  shown: np.ndarray = shown) -> np.ndarray:
            if a is None:
                return np.full(size, fill, dtype=object if isinstance(fill, str) else float)
            return np.where(shown, a, fill).ravel()

        cols["value"].append(shape(np.asarray(ind.value, float)))
        cols["low"].append(shape(ind.low))
        cols["high"].append(shape(ind.high))
        cols["signal"].append(shape(ind.signal, "").astype(object))
        cols["status"].append(status.ravel())
        cols["met"].append(np.where(shown, ind.met, np.nan).ravel().astype(float)
                           if ind.met is not None else np.full(size, np.nan))
    n_ind = len(inds)
    ind_names = np.asarray([i.name for i in inds], dtype=object)
    indicator = np.repeat(ind_names, size)
    family = np.repeat(np.asarray([i.family for i in inds], dtype=object), size)
    scope_all = np.tile(np.repeat(scope, S), n_ind)
    pcode_all = np.tile(np.repeat(pcode, S), n_ind)
    week_all = np.tile(wk, n_rows * n_ind)
    # perceptions and topics publish the mission-wide total only (see Rows.shown_mission_only)
    keep = (family == "benchmark") | (scope_all != HIGH_RISK)
    # stable order by indicator, scope, admin_pcode, week: text keys as integer codes that
    # sort as the strings do, made on the short lists and spread as the columns are
    keys = (week_all, np.tile(np.repeat(_codes(pcode), S), n_ind),
            np.tile(np.repeat(_codes(scope), S), n_ind), np.repeat(_codes(ind_names), size))
    idx = np.flatnonzero(keep)
    order = idx[np.lexsort(tuple(k[idx] for k in keys))]
    out = pd.DataFrame({
        "scope": scope_all[order], "admin_pcode": pcode_all[order],
        "admin_name": np.tile(np.repeat(name, S), n_ind)[order], "week": week_all[order],
        "indicator": indicator[order], "family": family[order],
        "value": np.concatenate(cols["value"])[order],
        "low": np.concatenate(cols["low"])[order],
        "high": np.concatenate(cols["high"])[order],
        "signal": np.concatenate(cols["signal"])[order],
        "status": np.concatenate(cols["status"])[order],
        "target": np.repeat(np.asarray([np.nan if i.target is None else float(i.target)
                                        for i in inds], dtype=float), size)[order],
        "met": pd.array(np.concatenate(cols["met"])[order], dtype="Float64").astype("boolean"),
    })
    return out[TREND_COLUMNS]


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer codes that sort as the strings do (code-point order, as pandas sorts)."""
    return np.unique(values, return_inverse=True)[1]


def _matrix_columns(trends: pd.DataFrame, *, units: pd.Index, topics: list[str]
                    ) -> pd.DataFrame:
    """The forecast week's unit values, one column per indicator (and its interval)."""
    now = trends.loc[(trends["scope"] == "unit") & (trends["week"] == trends["week"].max())]
    wide = now.pivot(index="admin_pcode", columns="indicator", values="value").reindex(units)
    out = pd.DataFrame({"admin_pcode": units.to_numpy()})
    for col in ("respondents", "respondents_women_share", "respondents_youth_share"):
        if col in wide.columns:
            out[col] = wide[col].to_numpy()
    # each indicator's rows by position (one grouping, not a scan of the table per indicator)
    rows_of = now.groupby("indicator", sort=False).indices
    pcode = now["admin_pcode"].to_numpy(object)
    value, low, high = (now[c].to_numpy(float) for c in ("value", "low", "high"))
    signal = now["signal"].to_numpy(object)
    for ind in sorted(i for i in wide.columns if i.endswith("_mean") or i.endswith("_change")):
        if ind.startswith("topic_"):
            continue
        rows = rows_of[ind]
        at = pd.Index(pcode[rows]).get_indexer(units)  # as set_index + reindex(units)
        got, take = at >= 0, rows[np.maximum(at, 0)]
        out[ind] = np.where(got, value[take], np.nan)
        if ind.endswith("_change"):
            out[f"{ind}_low"] = np.where(got, low[take], np.nan)
            out[f"{ind}_high"] = np.where(got, high[take], np.nan)
            sig = pd.Series(signal[take]).fillna("").to_numpy(object)
            out[f"{ind}_signal"] = np.where(got, sig, "").astype(object)
    for t in topics:
        out[f"topic_{t}_share"] = wide[f"topic_{t}_share"].to_numpy()
    if topics:
        ch = now.loc[now["indicator"].str.startswith("topic_")
                     & now["indicator"].str.endswith("_change")
                     & now["signal"].isin(["up", "down"])]
        word = (ch["indicator"].str[len("topic_"):-len("_change")] + " "
                + np.where(ch["signal"] == "up", "+", "\u2212")
                + (ch["value"].abs() * 100).round().astype(int).astype(str) + " pp")
        out["topics_changed"] = word.groupby(ch["admin_pcode"]).agg("; ".join).reindex(
            units).fillna("").to_numpy()
    out["perception_change"] = _perception_word(out, now, units)
    out["main_topic"] = _main_topic(out, topics)
    bm = now.loc[now["met"].notna()]
    met = bm.assign(m=bm["met"].astype(bool))
    count = met.groupby("admin_pcode")["m"].agg(["sum", "size"]).reindex(units)
    out["benchmarks_met"] = np.where(count["size"].notna(),
                                     count["sum"].fillna(0).astype("Int64").astype(str) + " of "
                                     + count["size"].fillna(0).astype("Int64").astype(str), "")
    missed = met.loc[~met["m"]]
    out["benchmarks_not_met"] = missed.groupby("admin_pcode")["indicator"].agg(
        "; ".join).reindex(units).fillna("").to_numpy()
    return out


def _perception_word(out: pd.DataFrame, now: pd.DataFrame, units: pd.Index) -> np.ndarray:
    """One word per unit for the map's perception theme: which measures rose or fell beyond
    noise, "no change beyond noise", or "too few respondents" (suppressed or none); empty
    for withheld units (their engagement_status says why)."""
    sig = [c for c in out.columns if c.endswith("_change_signal") and not c.startswith("topic")]
    word = np.full(len(out), "", dtype=object)
    for c in sig:  # a loop over measures
        m = c[: -len("_change_signal")]
        part = np.where(out[c] == "down", f"{m} lower",
                        np.where(out[c] == "up", f"{m} higher", "")).astype(object)
        word = np.where((word != "") & (part != ""), word + ", " + part,
                        np.where(part != "", part, word))
    any_change = (out[sig] != "").any(axis=1) if sig else pd.Series(False, index=out.index)
    resp = now.loc[now["indicator"] == "respondents"].set_index("admin_pcode")["status"]
    held = resp.reindex(units).to_numpy() == WITHHELD
    return np.where(held, "", np.where(word != "", word, np.where(
        any_change, "no change beyond noise", "too few respondents")))


def _main_topic(out: pd.DataFrame, topics: list[str]) -> np.ndarray:
    """The topic most consultations raised this period ("" when suppressed or none)."""
    cols = [f"topic_{t}_share" for t in topics]
    if not cols:
        return np.full(len(out), "", dtype=object)
    shares = out[cols].to_numpy(float)
    ok = np.isfinite(shares).any(axis=1)
    best = np.argmax(np.where(np.isfinite(shares), shares, -1.0), axis=1)
    return np.where(ok, np.asarray(topics, dtype=object)[best], "")


def _meta(vc: Any, k: int, S: int, topics: list[str], trends: pd.DataFrame) -> dict[str, Any]:
    p, b = vc.perceptions, vc.benchmarks
    return {
        "series_weeks": S, "period_weeks": p.period_weeks, "confidence": p.confidence,
        "measures": dict(p.measures), "perception_modalities": list(p.modalities),
        "topics": topics, "benchmark_window_weeks": b.window_weeks,
        "benchmarks": {n: getattr(b, n) for n in BENCHMARK_TEXT
                       if n not in ("follow_up_share", "alert_response_share")}
        | {"follow_up_weeks": b.follow_up_weeks, "follow_up_share": b.follow_up_share,
           "alert_response_hours": b.alert_response_hours,
           "alert_response_share": b.alert_response_share},
        "suppression": (f"every value needs at least {k} records and {k} people in its "
                        "window (responses and respondents for perceptions, records with "
                        "topics, commitments due, alerts); group totals never reveal a "
                        "hidden unit; reprisal-sensitive units are withheld"),
        "change_interval": ("Welch t interval of the difference of period means "
                            "(perceptions); Newcombe hybrid score interval of the difference "
                            "of shares (topics); 'within noise' when it holds 0"),
        "rows": int(len(trends)),
        "modalities": list(MODALITIES),
    }


__all__ = ["HIGH_RISK", "MISSION", "TREND_COLUMNS", "VoiceResult", "analyse_voice",
           "split_respondents"]
