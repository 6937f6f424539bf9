"""What the maps draw at country zoom: coarser display cells and classes that follow the data.

On a real, sparse country nearly every cell has the same tiny probability and the few hot
cells are specks: a map coloured cell by cell in absolute classes is one pale colour. Both
maps therefore

* aggregate the grid to **display tiers**, the H3 parents of the cells at up to
  :data:`TIER_DEPTH` coarser resolutions. A parent's value is the **sum of its cells'
  probabilities** (the expected number of cells with an incident, about the expected
  incidents while probabilities are small), coloured as a density (per 1,000 km² of mapped
  cells, so a parent cut by the border compares fairly). With fixed classes a parent shows
  its **highest cell probability** instead, so absolute classes keep their meaning.
  ``map.js`` and :mod:`geo_risk.render.static` pick the tier by the size a display cell has
  on screen (:func:`pick_tier`, :data:`TIER_MIN_PX`): the whole map at country zoom, full
  resolution once cells are big enough to see;
* colour by **data classes** (:func:`relative_breaks`): cut points at the values above which
  lie the top 1 %, 3 %, 10 %, 25 % and 50 % of the mapped area this week (tied values are
  never split, so a class can hold more). A sparse country and a dense one both read at a
  glance; the legend gives the absolute values of each cut and the share of the area each
  class covers. ``classes="fixed"`` keeps the absolute probability classes of
  :data:`~geo_risk.render.map_style.RISK_BREAKS`;
* mark the **hot cells** (:func:`hot_cells`): the highest-probability cells, drawn as markers
  at every zoom, so a single hot cell never disappears into its parent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pyarrow as pa
import shapely

from geo_risk.errors import Problem, ValidationError
from geo_risk.render.map_encode import _encode_shapes, quantise_probability
from geo_risk.render.map_style import RISK_BREAKS, RISK_COLOURS

from ..arrays import unique_inverse

__all__ = [
    "CLASS_MODES",
    "HOT_CELLS",
    "RELATIVE_COLOURS",
    "RELATIVE_SHARES",
    "TIER_DEPTH",
    "TIER_MIN_PX",
    "FULL_MIN_PX",
    "Classes",
    "Tier",
    "build_tiers",
    "detail_cells",
    "display_payload",
    "full_classes",
    "fine_probability",
    "cell_width_km",
    "fixed_classes",
    "hot_cells",
    "pick_tier",
    "quantise_expected",
    "relative_breaks",
    "tier_polygons",
]

#: ``"data"``: classes from this week's distribution; ``"fixed"``: absolute probabilities.
CLASS_MODES = ("data", "fixed")
#: Top shares of the mapped area that bound the data classes (darkest class first).
RELATIVE_SHARES = (0.01, 0.03, 0.10, 0.25, 0.50)
#: Data-class colours, palest (the lowest class) to darkest; the same ramp as the fixed classes.
RELATIVE_COLOURS = ("#fff7d1", "#fed070", "#f88b3a", "#ec5f2e", "#d3362b", "#6b0a2e")
#: Display tiers go down to this many resolutions below the grid's.
TIER_DEPTH = 4
#: A tier is kept only with at least this many display cells, and at most this many (a finer
#: tier would make the file big and the first paint slow; the map then goes to full resolution).
TIER_MIN_ITEMS, TIER_MAX_ITEMS = 6, 60_000
#: A coarse display cell must be at least this wide on screen (px) to be used at a zoom ...
TIER_MIN_PX = 24.0
#: ... and full-resolution cells are drawn once they are this wide.
FULL_MIN_PX = 10.0
#: Number of hot cells marked at every zoom.
HOT_CELLS = 10


def fine_probability(p: np.ndarray) -> np.ndarray:
    """Probabilities at two significant digits in units of 1e-8, for data classes.

    :func:`~geo_risk.render.map_encode.quantise_probability` keeps steps of 0.01 percentage
    points below 1 %: on a sparse map nearly every cell would tie at one step, and data
    classes could not tell them apart.
    """
    return quantise_expected(np.asarray(p, dtype="float64") * 1e4)


def quantise_expected(x: np.ndarray) -> np.ndarray:
    """Round non-negative sums to two significant digits, in units of 1e-4 (int64; NaN -> -1).

    Parameters
    ----------
    x : numpy.ndarray
        Sums of probabilities (may exceed 1).

    Returns
    -------
    numpy.ndarray of int64
    """
    arr = np.asarray(x, dtype="float64")
    units = np.nan_to_num(arr, nan=0.0) * 1e4
    with np.errstate(divide="ignore"):
        digits = np.floor(np.log10(np.maximum(units, 1.0)))
    step = 10.0 ** np.maximum(digits - 1, 0)
    out = np.round(units / step) * step
    return np.where(np.isnan(arr), -1, out).astype(np.int64)


@dataclass(frozen=True)
class Classes:
    """Class cut points (in the units of the values they classify) and their colours.

    ``breaks[i]`` is the lower bound of class ``i + 1``; ``shares[i]`` the share of the
    mapped area in class ``i`` this week (data classes only, else empty).
    """

    mode: str
    breaks: tuple[int, ...]
    colours: tuple[str, ...]
    shares: tuple[float, ...] = ()

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Class of each value (``-1`` for missing, i.e. negative, values), as ``map.js``."""
        v = np.asarray(values, dtype=np.int64)
        cls = np.searchsorted(np.asarray(self.breaks, dtype=np.int64), v, side="right")
        return np.where(v < 0, -1, cls)


def fixed_classes() -> Classes:
    """The absolute probability classes (units of 1e-4)."""
    return Classes("fixed", tuple(round(b * 1e4) for b in RISK_BREAKS), RISK_COLOURS)


def relative_breaks(*, values: np.ndarray, weights: np.ndarray | None = None,
                    shares: Sequence[float] = RELATIVE_SHARES) -> Classes:
    """Data classes: cut points above which lie the top ``shares`` of the area.

    Parameters
    ----------
    values : numpy.ndarray of int
        Quantised values (negative = missing, ignored).
    weights : numpy.ndarray, optional
        Area of each value's display cell (default: equal areas).
    shares : sequence of float
        Top shares of the area, increasing (default :data:`RELATIVE_SHARES`).

    Returns
    -------
    Classes
        At most ``len(shares) + 1`` classes. Ties are never split: a cut falling inside a run
        of equal values is moved to that value, and cuts at the lowest value are dropped, so
        every class holds some area; the lowest class always takes the palest colour.
    """
    v = np.asarray(values, dtype=np.int64)
    w = np.ones(v.size) if weights is None else np.asarray(weights, dtype="float64")
    ok = v >= 0
    v, w = v[ok], w[ok]
    if v.size == 0:
        return Classes("data", (), RELATIVE_COLOURS[:1], (1.0,))
    order = np.argsort(-v, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    pos = np.searchsorted(cum, np.asarray(shares, dtype="float64") - 1e-12, side="left")
    cuts = v[order][np.minimum(pos, v.size - 1)]
    breaks = np.unique(cuts[cuts > v.min()])
    n = breaks.size + 1
    colours = (RELATIVE_COLOURS[0], *RELATIVE_COLOURS[len(RELATIVE_COLOURS) - n + 1:])
    cls = np.searchsorted(breaks, v, side="right")
    area = np.bincount(cls, weights=w, minlength=n) / w.sum()
    return Classes("data", tuple(int(b) for b in breaks), colours,
                   tuple(round(float(a), 4) for a in area))


def cell_width_km(resolution: int) -> float:
    """Typical width (km) of an H3 cell at ``resolution`` (from its average area)."""
    area = 4.357449416078383e6 / 7.0**resolution  # mean hexagon area, km2 (res 0 = 4.36 M)
    return float(np.sqrt(2 * area / np.sqrt(3)))  # flat-to-flat width of a regular hexagon


def pick_tier(*, tiers: Sequence[int], resolution: int, km_per_px: float) -> int:
    """The display resolution for a map scale (what ``map.js`` does on every zoom).

    Full resolution once its cells are :data:`FULL_MIN_PX` wide; else the finest tier whose
    cells are :data:`TIER_MIN_PX` wide; else the coarsest tier.

    Parameters
    ----------
    tiers : sequence of int
        Available coarse resolutions.
    resolution : int
        The grid's resolution.
    km_per_px : float
        Map scale.

    Returns
    -------
    int
        A resolution, ``resolution`` itself for full resolution.
    """
    if not tiers or cell_width_km(resolution) / km_per_px >= FULL_MIN_PX:
        return resolution
    for r in sorted(tiers, reverse=True):
        if cell_width_km(r) / km_per_px >= TIER_MIN_PX:
            return r
    return min(tiers)


@dataclass(frozen=True)
class Tier:
    """One coarse display tier: parent cells and their values this week and past weeks."""

    resolution: int
    parents: np.ndarray  # uint64, in rows south to north, each west to east
    value: np.ndarray  # quantised: expected per 1,000 km2 (data) or highest probability (fixed)
    total: np.ndarray  # quantised sum of the cells' probabilities this week
    hist: np.ndarray  # weeks x parents, same units; -1 missing
    top: np.ndarray  # highest cell probability (quantised) this week
    top_cell: np.ndarray  # row of the grid holding that cell
    n_cells: np.ndarray  # grid cells in each parent
    classes: Classes


def build_tiers(*, cells: np.ndarray, risk: np.ndarray, hist: np.ndarray, resolution: int,
                mode: str, cell_area_km2: float) -> list[Tier]:
    """Aggregate the grid to each useful coarse resolution (coarsest first).

    Parameters
    ----------
    cells : numpy.ndarray of uint64
        Grid cells at ``resolution``.
    risk : numpy.ndarray of float
        Probability of each cell this week.
    hist : numpy.ndarray of int64
        Past weeks x cells, quantised probabilities (-1 missing).
    resolution : int
        The cells' resolution.
    mode : str
        ``"data"`` or ``"fixed"`` (see the module notes).
    cell_area_km2 : float
        Mean area of a grid cell (for densities).

    Returns
    -------
    list of Tier
        Tiers with between ``TIER_MIN_ITEMS`` and ``TIER_MAX_ITEMS`` display cells.
    """
    if mode not in CLASS_MODES:
        raise ValidationError([Problem("map", f"classes must be one of {list(CLASS_MODES)}",
                                       column="classes")])
    out: list[Tier] = []
    for r in range(max(0, resolution - TIER_DEPTH), resolution):
        parent = np.asarray(h3ronpy.change_resolution(cells, r)).astype(np.uint64)
        parents, inv = unique_inverse(parent)
        if not TIER_MIN_ITEMS <= parents.size <= TIER_MAX_ITEMS:
            continue
        # Row by row, west to east: neighbours follow each other, so the page's shape stream
        # codes each hexagon as a near-zero change of the one before.
        xy = pa.table(h3v.cells_to_coordinates(parents))
        row = np.round(xy.column("lat").to_numpy() / (0.75 * cell_width_km(r) / 111.32))
        order = np.lexsort((xy.column("lng").to_numpy(), row))
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        parents, inv = parents[order], rank[inv.ravel()]
        n_cells = np.bincount(inv, minlength=parents.size)
        order = np.lexsort((-risk, inv))  # per parent, its highest cell first
        first = np.r_[0, np.cumsum(n_cells)[:-1]]
        top_cell = order[first]
        top = quantise_probability(risk[top_cell])
        total = np.bincount(inv, weights=risk, minlength=parents.size)
        per_1000 = 1000.0 / (n_cells * cell_area_km2)
        if mode == "data":
            value = quantise_expected(total * per_1000)
            past = np.where(hist < 0, 0, hist) / 1e4
            miss = np.stack([np.bincount(inv, weights=(h < 0), minlength=parents.size)
                             for h in hist]) if hist.size else np.zeros((0, parents.size))
            hv = np.stack([quantise_expected(np.bincount(inv, weights=p, minlength=parents.size)
                                             * per_1000)
                           for p in past]) if hist.size else np.zeros((0, parents.size), np.int64)
            hv = np.where(miss == n_cells, -1, hv)  # a week with no value for any of its cells
            classes = relative_breaks(values=value, weights=n_cells)
        else:
            value = top
            hv = np.full((hist.shape[0], parents.size), -1, dtype=np.int64)
            for w in range(hist.shape[0]):  # one vectorised pass per past week (<= 26)
                np.maximum.at(hv[w], inv, hist[w])
            classes = fixed_classes()
        out.append(Tier(r, parents, value, quantise_expected(total), hv.astype(np.int64), top,
                        top_cell, n_cells, classes))
    return out


def tier_polygons(tier: Tier) -> np.ndarray:
    """One hexagon per display cell (shapely polygons, in ``tier.parents`` order)."""
    wkb = h3v.cells_to_wkb_polygons(tier.parents)
    return np.asarray(shapely.from_wkb(pa.array(wkb).to_numpy(zero_copy_only=False)))


def hot_cells(*, risk: np.ndarray, n: int = HOT_CELLS) -> np.ndarray:
    """Rows of the ``n`` highest-probability cells, highest first.

    Only cells clearly above the country's typical cell are hot: above the median and above
    the 99th percentile's half, so a flat map marks none.

    Parameters
    ----------
    risk : numpy.ndarray
        Probability per cell.
    n : int
        At most this many.

    Returns
    -------
    numpy.ndarray of int64
    """
    r = np.asarray(risk, dtype="float64")
    if r.size == 0:
        return np.empty(0, dtype=np.int64)
    k = min(n, r.size)
    top = np.argpartition(-r, k - 1)[:k]
    top = top[np.argsort(-r[top], kind="stable")]
    floor = max(float(np.median(r)), 0.5 * float(np.quantile(r, 0.99)))
    return top[r[top] > floor].astype(np.int64)


def classes_payload(c: Classes) -> dict[str, Any]:
    """What ``map.js`` needs to colour and explain a set of classes."""
    return {"mode": c.mode, "breaks": list(c.breaks), "colours": list(c.colours),
            "shares": list(c.shares)}


def display_payload(*, cells: np.ndarray, risk: np.ndarray, hist: np.ndarray,
                    admin: np.ndarray, resolution: int, mode: str, scale: int
                    ) -> dict[str, Any]:
    """The page's display tiers, full-resolution classes and hot cells (see module notes).

    Parameters
    ----------
    cells, risk, hist, resolution, mode
        As for :func:`build_tiers`.
    admin : numpy.ndarray of int
        Index of each cell's admin unit in the page's admin table.
    scale : int
        Vertex quantisation of the page (:func:`geo_risk.render.map_encode._coord_scale`).

    Returns
    -------
    dict
        ``tiers`` (coarsest first), ``full`` (classes of the cell probabilities), ``hot``,
        ``tierMinPx``, ``fullMinPx``, ``fullWidthKm``.
    """
    q = quantise_probability(risk)
    full, _ = full_classes(risk=risk, mode=mode)
    tiers = []
    cell_area = float(np.asarray(h3ronpy.cells_area_km2(cells[:1000])).mean())
    for t in build_tiers(cells=cells, risk=risk, hist=hist, resolution=resolution, mode=mode,
                         cell_area_km2=cell_area):
        polys = tier_polygons(t)
        tiers.append({
            "res": t.resolution,
            "widthKm": round(cell_width_km(t.resolution), 3),
            "areaKm2": round(float(np.asarray(h3ronpy.cells_area_km2(t.parents[:500])).mean()), 1),
            "shapes": _encode_shapes(polys, np.arange(len(polys)), len(polys), scale),
            "v": t.value.tolist(),
            "hist": [row.tolist() for row in t.hist],
            "top": t.top.tolist(),
            "topAdmin": admin[t.top_cell].tolist(),
            "n": t.n_cells.tolist(),
            "classes": classes_payload(t.classes),
        })
    hot = hot_cells(risk=risk)
    coords = pa.table(h3v.cells_to_coordinates(cells[hot]))
    lat = coords.column("lat").to_numpy()
    lng = coords.column("lng").to_numpy()
    return {
        "mode": mode,
        "tiers": tiers,
        "full": classes_payload(full),
        "fullWidthKm": round(cell_width_km(resolution), 3),
        "tierMinPx": TIER_MIN_PX,
        "fullMinPx": FULL_MIN_PX,
        "hot": [{"lat": round(float(a), 5), "lon": round(float(b), 5), "p": int(p),
                 "admin": int(u)} for a, b, p, u in zip(lat, lng, q[hot], admin[hot],
                                                        strict=True)],  # <= HOT_CELLS rows
    }


def full_classes(*, risk: np.ndarray, mode: str) -> tuple[Classes, np.ndarray]:
    """Classes of the cells at full resolution and each cell's value in their units."""
    if mode == "fixed":
        q = quantise_probability(risk)
        return fixed_classes(), q
    fine = fine_probability(risk)
    return relative_breaks(values=fine), fine


#: Grids with more cells than this draw only their :data:`DETAIL_CELLS` highest-probability
#: cells at full resolution (see :func:`detail_cells`) ...
LARGE_GRID_CELLS = 300_000
#: ... and this many cells are drawn.
DETAIL_CELLS = 40_000


def detail_cells(*, risk: np.ndarray) -> np.ndarray:
    """Which cells the page draws at full resolution (boolean mask).

    Every cell of a grid up to :data:`LARGE_GRID_CELLS` cells. A larger grid (a continent)
    draws only its :data:`DETAIL_CELLS` highest-probability cells; everywhere else the page
    shows the finest display tier's hexagons under them, even when zoomed in (issue 15: a
    continent in one file of at most 3 MB; the file then grows with the detailed cells, not
    the area). The parents are built from every cell, so no risk is lost from the totals.

    Parameters
    ----------
    risk : numpy.ndarray
        This week's probability per cell.

    Returns
    -------
    numpy.ndarray of bool
    """
    n = risk.size
    keep = np.ones(n, dtype=bool)
    if n > LARGE_GRID_CELLS:
        keep[:] = False
        keep[np.argpartition(-risk, DETAIL_CELLS - 1)[:DETAIL_CELLS]] = True
    return keep
