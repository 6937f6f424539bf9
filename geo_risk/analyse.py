"""Analysis of a scored week: recent activity, engagement, access, and the admin risk matrix."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .config import MatrixConfig
from .features import CellGrid, WeeklyEvents, week_index
from .index import cell_centres

#: Probability bands shown in the map and grid (upper bounds, last is open).
RISK_BANDS = ((0.01, "very low"), (0.05, "low"), (0.15, "medium"), (0.35, "high"),
              (np.inf, "very high"))
LEVELS = ("low", "medium", "high", "critical")
#: Words for the 1..5 likelihood and impact scores of the matrix.
LIKELIHOOD_LABELS = ("rare", "unlikely", "possible", "likely", "almost certain")
IMPACT_LABELS = ("minimal", "minor", "moderate", "major", "severe")
#: What set a unit's impact score (the first of equal scores wins), for ``impact_driver``.
IMPACT_DRIVERS = ("people exposed", "civilian targeting", "fatalities")


def likelihood_scale(p: np.ndarray | pd.Series | float, *,
                     bins: tuple[float, ...] = (0.1, 0.3, 0.6, 0.9)
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Likelihood score (1..5) and word for a probability of at least one incident.

    The one place probabilities become words, so the word beside a probability never
    contradicts it: with the default ``bins`` rare < 0.10 <= unlikely < 0.30 <= possible
    < 0.60 <= likely < 0.90 <= almost certain. Monotone in ``p``; feed it any probability of
    >= 1 incident (a unit aggregate of cells today, a calibrated unit forecast later).

    Examples
    --------
    >>> likelihood_scale(np.array([0.05, 0.4, 0.95]))[1].tolist()
    ['rare', 'possible', 'almost certain']
    """
    score = np.searchsorted(np.asarray(bins, float), np.asarray(p, float), side="right") + 1
    return score, np.asarray(LIKELIHOOD_LABELS, dtype=object)[score - 1]


def likelihood_legend(bins: tuple[float, ...] = (0.1, 0.3, 0.6, 0.9)) -> str:
    """The likelihood scale in words with its probability ranges (for legends and notes)."""
    edges = [0.0, *bins, 1.0]
    return "; ".join(f"{w} {edges[i]:.0%}\u2013{edges[i + 1]:.0%}"
                     for i, w in enumerate(LIKELIHOOD_LABELS))


def risk_band(p: np.ndarray) -> np.ndarray:
    edges = np.array([b for b, _ in RISK_BANDS[:-1]])
    names = np.array([n for _, n in RISK_BANDS], dtype=object)
    return names[np.searchsorted(edges, np.asarray(p), side="right")]


def window_per_cell(events: WeeklyEvents, n: int, *, week: int, size: int,
                    column: str = "events") -> np.ndarray:
    """Dense per-cell sum of ``column`` over the ``n`` weeks before ``week``."""
    return events.window_sum(n, end_week=week, size=size, column=column)


def restrictions_in_force(restrictions: gpd.GeoDataFrame | None, week: pd.Timestamp
                          ) -> gpd.GeoDataFrame | None:
    """Restrictions in force at any time during the week starting ``week``."""
    if restrictions is None or restrictions.empty:
        return restrictions
    end_of_week = week + pd.Timedelta(days=6)
    active = (restrictions["start_date"] <= end_of_week) & (
        restrictions["end_date"].isna() | (restrictions["end_date"] >= week))
    return restrictions.loc[active].copy()


def cell_access(grid: CellGrid, restrictions: gpd.GeoDataFrame | None, week: pd.Timestamp
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: restricted (centre inside a restriction in force) and weeks in force."""
    n = len(grid)
    restricted = np.zeros(n, dtype=bool)
    weeks_in_force = np.zeros(n, dtype=np.int64)
    if restrictions is None or restrictions.empty:
        return restricted, weeks_in_force
    lat, lon = cell_centres(grid.cells)
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    cell_idx, r_idx = restrictions.sindex.query(pts, predicate="within")
    if len(cell_idx):
        restricted[cell_idx] = True
        since = week_index(restrictions["start_date"].to_numpy()[r_idx])
        now = int(week_index(np.array([week], dtype="datetime64[D]"))[0])
        longest = pd.Series(now - since).groupby(cell_idx).max()
        weeks_in_force[longest.index.to_numpy()] = np.maximum(longest.to_numpy(), 0) + 1
    return restricted, weeks_in_force


def engagement_per_cell(grid: CellGrid, consultations: pd.DataFrame | None, *,
                        week: pd.Timestamp, weeks: int, min_count: int) -> pd.DataFrame:
    """Engagements and people reached per cell over the ``weeks`` before ``week``.

    Counts below ``min_count`` (engagements or participants) are suppressed: the published
    value is NaN and the status says "suppressed", so a single meeting is never traceable.
    """
    n = len(grid)
    out = pd.DataFrame({"engagements": np.zeros(n), "participants": np.zeros(n)})
    if consultations is not None and len(consultations):
        c = consultations
        recent = (c["date"] < week) & (c["date"] >= week - pd.Timedelta(weeks=weeks)) & (
            c["cell"] > 0)
        c = c.loc[recent]
        pos, found = grid.positions(c["cell"].to_numpy())
        out["engagements"] = np.bincount(pos[found], minlength=n).astype(float)
        out["participants"] = np.bincount(pos[found], weights=c["participants_total"]
                                          .to_numpy(float)[found], minlength=n)
    small = (out["engagements"] > 0) & ((out["engagements"] < min_count)
                                        | (out["participants"] < min_count))
    status = np.where(out["engagements"] == 0, "not engaged",
                      np.where(small, "suppressed", "engaged"))
    published = out["engagements"].where(~small & (out["engagements"] > 0), np.nan)
    published = published.where(out["engagements"] > 0, 0.0)
    return pd.DataFrame({"engagements_12w": published.to_numpy(),
                         "engagement_status": status})


def _score(values: np.ndarray, bins: tuple[float, ...]) -> np.ndarray:
    return np.searchsorted(np.asarray(bins), values, side="right") + 1


@dataclass(frozen=True)
class MatrixBins:
    """The cut points a run used for the matrix's likelihood and impact scores."""

    source: str  # "data" or "fixed"
    likelihood: tuple[float, ...]
    exposure: tuple[float, ...]
    civilian: tuple[float, ...]
    level_cuts: tuple[int, ...]
    quantiles: tuple[float, ...] = ()
    fatalities: tuple[float, ...] = (1.0, 5.0, 20.0, 50.0)

    def as_dict(self) -> dict[str, Any]:
        """For run.json."""
        return {"bins": self.source, "bin_quantiles": list(self.quantiles),
                "likelihood_bins": [round(x, 4) for x in self.likelihood],
                "exposure_bins": [round(x, 1) for x in self.exposure],
                "civilian_bins": [round(x, 2) for x in self.civilian],
                "fatality_bins": [round(x, 2) for x in self.fatalities],
                "level_cuts": list(self.level_cuts)}


def _cuts(values: np.ndarray, quantiles: tuple[float, ...], *, floor: float,
          fallback: tuple[float, ...], ceiling: float = np.inf, step: float = 0.0
          ) -> tuple[float, ...]:
    """Strictly increasing quantile cut points of ``values`` (``fallback`` without data)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2 * len(quantiles):
        return tuple(float(x) for x in fallback)
    q = np.maximum(np.quantile(v, quantiles), floor)
    for i in range(1, len(q)):  # a handful of cut points
        q[i] = max(q[i], q[i - 1] * 1.05 + 1e-9, q[i - 1] + step)
    return tuple(float(x) for x in np.minimum(q, ceiling))


def window_history(incidents: pd.DataFrame, *, week: pd.Timestamp, values: np.ndarray,
                   weeks: int = 260, window: int = 12) -> np.ndarray:
    """Per-unit sums of ``values`` (one per incident: 1 for a count, fatalities...) in every
    ``window``-week span ending in the ``weeks`` weeks before ``week``: the past unit-weeks
    with a positive sum, for data-driven impact bins (no incident on or after ``week``)."""
    now = int(week_index(np.array([week], dtype="datetime64[D]"))[0])
    w = week_index(incidents["date"].to_numpy())
    v = np.nan_to_num(np.asarray(values, float))
    keep = (w < now) & (w >= now - weeks - window) & (v > 0)
    code, _ = pd.factorize(incidents["admin_pcode"].to_numpy()[keep])
    if not len(code):
        return np.zeros(0)
    n_weeks, k = weeks + window, int(code.max()) + 1
    dense = np.bincount((w[keep] - (now - n_weeks)) * k + code, weights=v[keep],
                        minlength=n_weeks * k)
    c = np.vstack([np.zeros((1, k)), np.cumsum(dense.reshape(n_weeks, k), axis=0)])
    rolled = c[window:] - c[:-window]
    return rolled[rolled > 0]


def civilian_history(incidents: pd.DataFrame, *, week: pd.Timestamp, weeks: int = 260,
                     window: int = 12) -> np.ndarray:
    """Civilian-targeting incidents per unit in past ``window``-week spans (see
    :func:`window_history`)."""
    return window_history(incidents, week=week, weeks=weeks, window=window,
                          values=incidents["civilian_targeting"].to_numpy(bool).astype(float))


def fatality_history(incidents: pd.DataFrame, *, week: pd.Timestamp, weeks: int = 260,
                     window: int = 12) -> np.ndarray:
    """Reported fatalities per unit in past ``window``-week spans (see :func:`window_history`)."""
    return window_history(incidents, week=week, weeks=weeks, window=window,
                          values=incidents["fatalities"].to_numpy(float))


def matrix_bins(cfg: MatrixConfig, *, past_likelihood: np.ndarray | None = None,
                exposure: np.ndarray | None = None, civilian: np.ndarray | None = None,
                fatalities: np.ndarray | None = None) -> MatrixBins:
    """The likelihood and impact cut points of this run.

    With ``cfg.bins == "fixed"`` (or no data) the configured lists. With ``"data"``, quantiles
    ``cfg.bin_quantiles`` of: the past unit-weeks' out-of-fold forecast probabilities
    (``past_likelihood``; so the busiest units sit in the upper likelihood scores whatever the
    country's base rate), the units' expected people exposed this week (``exposure``, units
    with any), and the past unit-weeks' 12-week civilian-targeting counts (``civilian``, those
    with any), and the past unit-weeks' 12-week fatalities (``fatalities``, those with any).
    Cut points are strictly increasing; likelihood words stay monotone in the
    probability (:func:`likelihood_scale` with these bins).
    """
    q = tuple(cfg.bin_quantiles)
    if cfg.bins != "data":
        return MatrixBins("fixed", tuple(cfg.likelihood_bins), tuple(cfg.exposure_bins),
                          tuple(cfg.civilian_bins), tuple(cfg.level_cuts),
                          fatalities=tuple(cfg.fatality_bins))
    exp = np.asarray(exposure if exposure is not None else [], float)
    return MatrixBins(
        "data",
        _cuts(np.asarray(past_likelihood if past_likelihood is not None else [], float), q,
              floor=0.005, fallback=cfg.likelihood_bins, ceiling=0.999),
        _cuts(exp[exp > 0], q, floor=1.0, fallback=cfg.exposure_bins),
        _cuts(np.asarray(civilian if civilian is not None else [], float), q, floor=1.0,
              fallback=cfg.civilian_bins, step=1.0),
        tuple(cfg.level_cuts), q,
        _cuts(np.asarray(fatalities if fatalities is not None else [], float), q, floor=1.0,
              fallback=cfg.fatality_bins, step=1.0))


def unit_exposure(cells: pd.DataFrame) -> pd.Series:
    """Expected people exposed per unit: sum over its cells of population x probability."""
    return (cells["risk"] * cells["population"].fillna(0)).groupby(cells["admin_pcode"]).sum()


def admin_matrix(*, cells: pd.DataFrame, admin: gpd.GeoDataFrame, incidents: pd.DataFrame,
                 week: pd.Timestamp, cfg: MatrixConfig, units: pd.DataFrame | None = None,
                 bins: MatrixBins | None = None) -> pd.DataFrame:
    """The predictive risk-assessment matrix: one row per admin unit.

    ``cells`` has admin_pcode, risk, risk_prev, population, restricted. Likelihood is the
    probability of at least one incident in the unit next week: the unit-level forecast
    in ``units`` (admin_pcode, likelihood, expected_incidents, likelihood_prev,
    expected_incidents_prev; see :mod:`geo_risk.unit_forecast`), else
    ``1 - prod(1 - p_cell)`` (cells taken as independent, over-confident for busy units).
    Its score and word come from :func:`likelihood_scale` on ``bins`` (default: the fixed
    bins of ``cfg``). ``expected_incidents`` is the forecast number of incidents; the sum
    of cell probabilities is the expected number of *cells with an incident*
    (``expected_incident_cells``). Impact is the largest of the exposed-population,
    civilian-targeting and 12-week fatalities scores (``impact_driver`` names it; without a
    population raster the exposure score stays at its lowest, so lethal violence still counts);
    the level comes from likelihood x impact. Change since last week is read on scales that
    do not saturate (see :func:`change_measures`).
    """
    if bins is None:
        bins = matrix_bins(replace(cfg, bins="fixed"))
    c = cells.assign(
        log_q=np.log1p(-np.clip(cells["risk"], 0, 1 - 1e-12)),
        log_q_prev=np.log1p(-np.clip(cells["risk_prev"].fillna(0), 0, 1 - 1e-12)),
        exposed=cells["risk"] * cells["population"].fillna(0),
        exposed_prev=cells["risk_prev"].fillna(0) * cells["population"].fillna(0),
        restricted_pop=cells["population"].fillna(0) * cells["restricted"],
    )
    g = c.groupby("admin_pcode").agg(
        n_cells=("risk", "size"),
        log_q=("log_q", "sum"),
        log_q_prev=("log_q_prev", "sum"),
        expected_incident_cells=("risk", "sum"),
        expected_prev=("risk_prev", "sum"),
        population=("population", "sum"),
        exposed_population=("exposed", "sum"),
        exposed_prev=("exposed_prev", "sum"),
        restricted_cells=("restricted", "sum"),
        restricted_population=("restricted_pop", "sum"),
    )
    inc = incidents.loc[incidents["date"] < week]
    wk = pd.Series(week_index(inc["date"].to_numpy()), index=inc.index)
    now = int(week_index(np.array([week], dtype="datetime64[D]"))[0])
    w = wk.to_numpy()
    recent = pd.DataFrame({
        "admin_pcode": inc["admin_pcode"].to_numpy(),
        "incidents_4w": w >= now - 4,
        "incidents_prev_4w": (w >= now - 8) & (w < now - 4),
        "incidents_before_52w": (w >= now - 56) & (w < now - 4),
        "civilian_targeting_12w": (w >= now - 12) & inc["civilian_targeting"].to_numpy(bool),
        "fatalities_12w": np.where(w >= now - 12, inc["fatalities"].to_numpy(float), 0.0),
    }).groupby("admin_pcode").sum()
    g = g.join(recent, how="left").fillna({k: 0 for k in recent.columns})
    likelihood = -np.expm1(g["log_q"].to_numpy())
    likelihood_prev = -np.expm1(g["log_q_prev"].to_numpy())
    expected = expected_prev = np.full(len(g), np.nan)
    if units is not None:
        u = units.set_index("admin_pcode").reindex(g.index)
        likelihood = u["likelihood"].fillna(pd.Series(likelihood, index=g.index)).to_numpy()
        likelihood_prev = u["likelihood_prev"].fillna(
            pd.Series(likelihood_prev, index=g.index)).to_numpy()
        expected = u["expected_incidents"].to_numpy(float)
        expected_prev = u["expected_incidents_prev"].to_numpy(float)

    def level(lik: np.ndarray, exposed: np.ndarray, civ: np.ndarray, dead: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ls, _ = likelihood_scale(lik, bins=bins.likelihood)
        imp = impact_scores(exposed, civ, dead).max(axis=1)
        rs = ls * imp
        lv = np.asarray(LEVELS, dtype=object)[np.searchsorted(np.asarray(bins.level_cuts), rs,
                                                              side="left")]
        return ls, imp, rs, lv

    def impact_scores(exposed: np.ndarray, civ: np.ndarray, dead: np.ndarray) -> np.ndarray:
        return np.column_stack([_score(exposed, bins.exposure), _score(civ, bins.civilian),
                                _score(dead, bins.fatalities)])

    civ = g["civilian_targeting_12w"].to_numpy(float)
    dead = g["fatalities_12w"].to_numpy(float)
    ls, imp, rs, lv = level(likelihood, g["exposed_population"].to_numpy(), civ, dead)
    _, _, rs_prev, lv_prev = level(likelihood_prev, g["exposed_prev"].to_numpy(), civ, dead)
    parts = impact_scores(g["exposed_population"].to_numpy(), civ, dead)
    driver = np.where(imp > 1, np.asarray(IMPACT_DRIVERS, dtype=object)[parts.argmax(axis=1)],
                      "")
    rank = {name: i for i, name in enumerate(LEVELS)}
    move = np.sign(pd.Series(lv).map(rank).to_numpy() - pd.Series(lv_prev).map(rank).to_numpy())
    out = pd.DataFrame({
        "admin_pcode": g.index.to_numpy(),
        "likelihood": likelihood.round(4),
        "likelihood_score": ls,
        "likelihood_label": likelihood_scale(likelihood, bins=bins.likelihood)[1],
        "impact_score": imp,
        "impact_label": np.asarray(IMPACT_LABELS, dtype=object)[imp - 1],
        "impact_driver": driver,
        "risk_score": rs,
        "level": lv,
        "level_prev": lv_prev,
        "level_change": np.select([move > 0, move < 0], ["up", "down"], "same"),
        "likelihood_prev": likelihood_prev.round(4),
        "likelihood_change": (likelihood - likelihood_prev).round(4),
        "expected_incidents": expected.round(3),
        "expected_incidents_prev": expected_prev.round(3),
        "expected_incident_cells": g["expected_incident_cells"].to_numpy().round(3),
        "expected_incident_cells_prev": g["expected_prev"].to_numpy().round(3),
        "population": g["population"].to_numpy().round(0),
        "exposed_population": g["exposed_population"].to_numpy().round(0),
        "incidents_4w": g["incidents_4w"].to_numpy().astype(int),
        "incidents_prev_4w": g["incidents_prev_4w"].to_numpy().astype(int),
        "incidents_baseline_4w": (g["incidents_before_52w"].to_numpy() / 13).round(2),
        "civilian_targeting_12w": civ.astype(int),
        "fatalities_12w": g["fatalities_12w"].to_numpy().astype(int),
        "restricted_share": (g["restricted_cells"] / g["n_cells"]).to_numpy().round(3),
        "restricted_population": g["restricted_population"].to_numpy().round(0),
    })
    out = pd.concat([out, change_measures(out)], axis=1)
    names = admin[["admin_pcode", "admin_name"]]
    out = names.merge(out, on="admin_pcode", how="left")
    order = out["level"].map({v: i for i, v in enumerate(LEVELS)}).fillna(-1)
    return (out.assign(_o=order).sort_values(["_o", "risk_score", "likelihood"],
                                             ascending=False).drop(columns="_o")
            .reset_index(drop=True))


def change_measures(m: pd.DataFrame, *, min_score: float = 0.5) -> pd.DataFrame:
    """How much a unit changed this week, on scales that do not saturate, with the reason.

    ``change_score`` = log2((incidents_4w + 1) / (incidents_baseline_4w + 1)) (reported
    incidents of the last 4 weeks against the unit's own 4-week average of the 52 weeks
    before) + log2((E + 0.1) / (E_prev + 0.1)) (expected cells with incidents this week
    against last week's forecast). A probability near 1 cannot rise, a count can: a surge
    from 3 to 52 incidents scores about +4 whatever the probability did. ``change_reason``
    names the parts that moved by at least half a doubling (``min_score``).
    """
    c4 = m["incidents_4w"].to_numpy(float)
    base = m["incidents_baseline_4w"].to_numpy(float)
    e, e_prev = (m["expected_incident_cells"].to_numpy(float),
                 m["expected_incident_cells_prev"].to_numpy(float))
    r_inc = np.log2((c4 + 1) / (base + 1))
    r_exp = np.log2((e + 0.1) / (np.nan_to_num(e_prev) + 0.1))
    inc_txt = np.char.mod("incidents %d in the last 4 weeks vs ", c4.astype(int)).astype(object) \
        + np.char.mod("%.1f usual", base).astype(object)
    exp_txt = np.char.mod("expected cells with incidents %.1f", np.nan_to_num(e_prev)).astype(
        object) + np.char.mod(" \u2192 %.1f", e).astype(object)
    first = np.where(np.abs(r_inc) >= min_score, inc_txt, "")
    second = np.where(np.abs(r_exp) >= min_score, exp_txt, "")
    reason = np.where((first != "") & (second != ""), first + "; " + second, first + second)
    return pd.DataFrame({"change_score": np.round(r_inc + r_exp, 3),
                         "change_reason": reason.astype(object)}, index=m.index)


TRENDS = ("new", "intensifying", "persistent", "diminishing", "sporadic", "none")


def _trend_labels(c4: np.ndarray, prev12: np.ndarray, before52: np.ndarray,
                  weeks8: np.ndarray) -> np.ndarray:
    """Space-time trend class from recent counts (first matching rule wins).

    new: events in the last 4 weeks after none in the 52 weeks before them;
    intensifying: >= 3 events in the last 4 weeks at >= 1.5x the weekly rate of the 12 weeks
    before; persistent: events in at least 4 of the last 8 weeks; diminishing: the last 4
    weeks at <= half the rate of the 12 before; sporadic: anything else with events in the
    last year; none: no event in the last year.
    """
    rate4, rate12 = c4 / 4.0, prev12 / 12.0
    last_year = c4 + before52 > 0
    return np.select(
        [(c4 > 0) & (before52 == 0),
         (c4 >= 3) & (rate4 >= 1.5 * rate12),
         weeks8 >= 4,
         (prev12 > 0) & (rate4 <= 0.5 * rate12),
         last_year],
        list(TRENDS[:5]), "none").astype(object)


def trend_class(events: WeeklyEvents, *, week: int, size: int) -> np.ndarray:
    """Trend class per cell for the forecast week (history before ``week`` only)."""
    c4 = events.window_sum(4, end_week=week, size=size)
    prev12 = events.window_sum(16, end_week=week, size=size) - c4
    before52 = events.window_sum(56, end_week=week, size=size) - c4
    pos, vals = events.window(8, end_week=week)
    weeks8 = np.bincount(pos[vals > 0], minlength=size)
    return _trend_labels(c4, prev12, before52, weeks8)


def admin_trend(incidents: pd.DataFrame, *, admin: gpd.GeoDataFrame, week: int) -> pd.DataFrame:
    """Trend class per admin unit, from all its incidents (admin-precision ones included)."""
    w = week_index(incidents["date"].to_numpy())
    keep = (w < week) & (w >= week - 56)
    df = pd.DataFrame({"admin_pcode": incidents["admin_pcode"].to_numpy()[keep], "w": w[keep]})
    codes = pd.Categorical(df["admin_pcode"], categories=admin["admin_pcode"])
    k = len(admin)
    c = codes.codes
    ok = c >= 0
    c, ww = c[ok], df["w"].to_numpy()[ok]

    def count(lo: int, hi: int) -> np.ndarray:
        m = (ww >= week - hi) & (ww < week - lo)
        return np.bincount(c[m], minlength=k).astype(float)

    c4 = count(0, 4)
    recent = (ww >= week - 8)
    weeks8 = pd.DataFrame({"c": c[recent], "w": ww[recent]}).drop_duplicates()
    n8 = np.bincount(weeks8["c"].to_numpy(), minlength=k)
    return pd.DataFrame({"admin_pcode": admin["admin_pcode"].to_numpy(),
                         "trend": _trend_labels(c4, count(4, 16), count(4, 56), n8)})
