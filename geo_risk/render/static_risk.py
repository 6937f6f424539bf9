"""The risk layer of ``map.png``: what ``map.html`` shows at the same scale, drawn with Agg.

The picture picks the display tier the interactive map would pick for the figure's scale
(:func:`geo_risk.render.map_tiers.pick_tier`): at country scale the cells' H3 parents,
coloured by expected incidents per 1,000 km² in classes that follow this week's data (or
the highest cell probability with fixed classes), clipped to the country's outline. The
hottest cells are ringed. A unit that is small on the page but among the highest in
expected incidents (a capital) gets a call-out: an inset at full resolution, linked to its
place on the map.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from geo_risk.render.map_encode import _wkb_array_to_shapely, format_probability
from geo_risk.render.map_style import NO_DATA_COLOUR
from geo_risk.render.map_tiers import (
    Classes,
    build_tiers,
    fine_probability,
    fixed_classes,
    hot_cells,
    pick_tier,
    quantise_probability,
    relative_breaks,
    tier_polygons,
)

__all__ = ["Display", "class_labels", "display_for", "draw_callout", "draw_display",
           "draw_hot", "top_units"]

#: Units ranked by expected incidents whose names are always tried first and drawn bold.
TOP_UNITS = 5
#: A top unit smaller than this share of the mapped area gets a call-out inset.
CALLOUT_MAX_AREA_SHARE = 0.01


@dataclass(frozen=True)
class Display:
    """What the risk layer draws: polygons with a class each, and how to explain them."""

    polygons: np.ndarray
    cls: np.ndarray
    classes: Classes
    resolution: int  # display resolution (the grid's own when at full resolution)
    full: bool
    area_km2: float  # of one display cell


def display_for(*, cells: np.ndarray, risk: np.ndarray, resolution: int, mode: str,
                km_per_px: float) -> Display:
    """The display tier for a map scale and its classes (as ``map.html`` at that scale).

    Parameters
    ----------
    cells, risk : numpy.ndarray
        Grid cells (uint64) and their probabilities.
    resolution : int
        The cells' resolution.
    mode : {"data", "fixed"}
        Class mode (:mod:`geo_risk.render.map_tiers`).
    km_per_px : float
        Scale of the picture.

    Returns
    -------
    Display
    """
    cell_area = float(np.asarray(h3ronpy.cells_area_km2(cells[:1000])).mean())
    tiers = build_tiers(cells=cells, risk=risk, hist=np.empty((0, cells.size), np.int64),
                        resolution=resolution, mode=mode, cell_area_km2=cell_area)
    r = pick_tier(tiers=[t.resolution for t in tiers], resolution=resolution,
                  km_per_px=km_per_px)
    if r == resolution:
        q = quantise_probability(risk) if mode == "fixed" else fine_probability(risk)
        classes = fixed_classes() if mode == "fixed" else relative_breaks(values=q)
        polygons = _wkb_array_to_shapely(h3v.cells_to_wkb_polygons(cells))
        return Display(polygons, classes.classify(q), classes, r, True, cell_area)
    tier = next(t for t in tiers if t.resolution == r)
    area = float(np.asarray(h3ronpy.cells_area_km2(tier.parents[:500])).mean())
    return Display(tier_polygons(tier), tier.classes.classify(tier.value), tier.classes, r,
                   False, area)


def class_labels(d: Display) -> list[str]:
    """Legend text of each class, lowest first, with the share of the area it covers."""
    b = d.classes.breaks

    def fmt(u: int) -> str:
        if d.classes.mode == "fixed":
            return format_probability(u)
        if d.full:  # fine probabilities, units of 1e-8
            return f"{float(f'{u / 1e6:.2g}'):g}%"
        return f"{float(f'{u / 1e4:.2g}'):g}"

    out = []
    for i in range(len(b) + 1):
        text = (f"< {fmt(b[0])}" if b else "all") if i == 0 else (
            f"\u2265 {fmt(b[-1])}" if i == len(b) else f"{fmt(b[i - 1])} \u2013 {fmt(b[i])}")
        if len(d.classes.shares) == len(b) + 1:
            share = 100 * d.classes.shares[i]
            text += f" ({share:.1f}% of area)" if share < 1 else f" ({share:.0f}% of area)"
        out.append(text)
    return out


def legend_title(d: Display) -> str:
    """Title of the risk legend for this display."""
    if d.full:
        return "Probability of \u22651 incident\nnext week, per cell" + (
            "\n(classes from this week's data)" if d.classes.mode == "data" else "")
    if d.classes.mode == "fixed":
        return (f"Highest cell probability per\nhexagon of \u2248{d.area_km2:,.0f} km\u00b2")
    return ("Expected incidents per 1,000 km\u00b2\n"
            f"(hexagons of \u2248{d.area_km2:,.0f} km\u00b2;\nclasses from this week's data)")


def legend_handles(d: Display) -> list[Patch | Line2D]:
    """Legend entries of the risk layer, highest class first."""
    labels = class_labels(d)
    handles: list[Patch | Line2D] = [
        Patch(facecolor=d.classes.colours[i], edgecolor="#888", linewidth=0.4, label=labels[i])
        for i in range(len(d.classes.colours) - 1, -1, -1)]
    if (d.cls < 0).any():
        handles.append(Patch(facecolor=NO_DATA_COLOUR, edgecolor="#888", linewidth=0.4,
                             label="no data"))
    return handles


def _compound(polygons: np.ndarray) -> MplPath | None:
    from geo_risk.render.static import _compound_path

    return _compound_path(polygons)


def draw_display(ax: Axes, d: Display, clip: MplPath | None) -> None:
    """One compound path per class, clipped to the country's outline (``clip``)."""
    for c in np.unique(d.cls):
        colour = NO_DATA_COLOUR if c < 0 else d.classes.colours[int(c)]
        path = _compound(d.polygons[d.cls == c])
        if path is None:
            continue
        patch = PathPatch(path, facecolor=colour, edgecolor=colour, linewidth=0.25, zorder=1)
        ax.add_artist(patch)
        if clip is not None:
            patch.set_clip_path(clip, ax.transData)


def outline_path(b: gpd.GeoDataFrame | None) -> MplPath | None:
    """The units' union as one path (for clipping the display cells), or None."""
    if b is None or len(b) == 0:
        return None
    geoms = np.asarray(b.geometry.values, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if geoms.size == 0:
        return None
    union = shapely.union_all(shapely.make_valid(shapely.simplify(geoms, 0.002)))
    polys = shapely.get_parts(union)
    polys = polys[shapely.get_type_id(polys) == 3]
    return _compound(polys)


def draw_hot(ax: Axes, cells: np.ndarray, risk: np.ndarray) -> Line2D | None:
    """Ring the hottest cells (as ``map.html`` does); returns their legend entry."""
    hot = hot_cells(risk=risk)
    if hot.size == 0:
        return None
    t = pa.table(h3v.cells_to_coordinates(cells[hot]))
    ax.scatter(t.column("lng").to_numpy(), t.column("lat").to_numpy(), s=26, marker="o",
               facecolor=(1, 1, 1, 0), edgecolor="#111", linewidth=1.3, zorder=6)
    return Line2D([], [], marker="o", linestyle="none", markersize=5.5, markerfacecolor="none",
                  markeredgecolor="#111",
                  label=f"Hot cell (top {hot.size} probabilities)")


def top_units(*, grid: pd.DataFrame, risk: np.ndarray, n: int = TOP_UNITS) -> list[str]:
    """P-codes of the ``n`` units with the most expected incidents (sum of cell risk)."""
    if "admin_pcode" not in grid.columns:
        return []
    s = pd.Series(risk).groupby(grid["admin_pcode"].astype("string").to_numpy()).sum()
    return [str(p) for p in s.sort_values(ascending=False, kind="stable").index[:n]]


def draw_callout(ax: Axes, *, b: gpd.GeoDataFrame, top: list[str], cells: np.ndarray,
                 risk: np.ndarray, mode: str) -> str | None:
    """An inset at full resolution for the first top unit that is small on the map.

    Returns the unit's name (None when no top unit is small).
    """
    if "admin_pcode" not in b.columns or not top:
        return None
    pcode = b["admin_pcode"].astype("string").to_numpy()
    area = shapely.area(np.asarray(b.geometry.values, dtype=object))
    total = float(np.nansum(area))
    small = [p for p in top if p in set(pcode)
             and float(area[pcode == p].sum()) < CALLOUT_MAX_AREA_SHARE * total]
    if not small:
        return None
    unit = b.loc[pcode == small[0]]
    west, south, east, north = unit.total_bounds
    pad = 0.35 * max(east - west, north - south)
    west, south, east, north = west - pad, south - pad, east + pad, north + pad
    t = pa.table(h3v.cells_to_coordinates(cells))
    lon, lat = t.column("lng").to_numpy(), t.column("lat").to_numpy()
    near = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if not near.any():
        return None
    q = quantise_probability(risk) if mode == "fixed" else fine_probability(risk)
    cell_classes = fixed_classes() if mode == "fixed" else relative_breaks(values=q)
    polys = _wkb_array_to_shapely(h3v.cells_to_wkb_polygons(cells[near]))
    d = Display(polys, cell_classes.classify(q[near]), cell_classes, 0, True, 0.0)
    x0, y0, x1, y1 = ax.get_xlim()[0], ax.get_ylim()[0], ax.get_xlim()[1], ax.get_ylim()[1]
    inset = ax.inset_axes((0.74, 0.02, 0.25, 0.25))
    inset.set_xlim(west, east)
    inset.set_ylim(south, north)
    inset.set_aspect(1 / max(np.cos(np.radians((south + north) / 2)), 0.05), adjustable="box")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_facecolor("#eef0ec")
    draw_display(inset, d, None)
    edge = _compound(shapely.get_parts(np.asarray(unit.geometry.values, dtype=object)))
    if edge is not None:
        inset.add_artist(PathPatch(edge, facecolor="none", edgecolor="#111", linewidth=1.1,
                                   zorder=4))
    name = str(unit["admin_name"].iloc[0]) if "admin_name" in unit.columns else small[0]
    inset.set_title(f"{name}: cell probabilities", fontsize=7, pad=2,
                    fontweight="bold")
    inset.title.set_parse_math(False)
    ax.indicate_inset_zoom(inset, edgecolor="#111", linewidth=0.9)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return name
