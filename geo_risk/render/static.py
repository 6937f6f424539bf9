"""A static PNG of the weekly risk map, for briefings and documents that cannot hold HTML.

The main map shows the risk as ``map.html`` shows it at the same scale
(:mod:`geo_risk.render.static_risk`): at country scale coarser H3 parents by expected
incidents per 1,000 km² in classes that follow this week's data, clipped to the country, the
hottest cells ringed, and a call-out at full resolution for a small unit with many expected
incidents. Given admin units with their matrix columns (:func:`geo_risk.render.layers.unit_layers`),
it boxes the top units' names with their priority number and shows the matrix levels and top
changes as an inset; bases are drawn open (with their reach) or closed (greyed, with the close
date). Labels never overlap: the units with the most expected incidents are placed first, then
the other names; a base label takes a free side of its marker or is left out.

Each class is drawn as *one* compound path: Agg fills a path's shared edges without seams, so
no dissolve is needed and drawing stays cheap. The image is written as an 8-bit palette PNG
that keeps the legend colours exact (about 150 KB).

Text from data (title, admin and base names) is drawn with matplotlib's math parsing switched
off, so ``$`` and ``\\`` in a name are printed as they are.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from geo_risk.arrays import unique_inverse
from geo_risk.errors import Problem, ValidationError
from geo_risk.render.coverage import simplify_coverage
from geo_risk.render.layers import TOP_PRIORITIES, bases_in_week
from geo_risk.render.map_checks import _cells_array
from geo_risk.render.map_encode import (
    _outline,
    _polygon_parts,
    risk_class_labels,
)
from geo_risk.render.map_style import (
    BOUNDARY_SIMPLIFY_DEG,
    LEVEL_COLOURS,
    NO_DATA_COLOUR,
    RISK_COLOURS,
    SEVERITY_COLOURS,
    SEVERITY_TEXT,
)
from geo_risk.render.map_tiers import cell_width_km
from geo_risk.render.static_risk import (
    display_for,
    draw_callout,
    draw_display,
    draw_hot,
    legend_handles,
    legend_title,
    outline_path,
    top_units,
)

__all__ = [
    "SEVERITY_COLOURS",
    "SEVERITY_TEXT",
    "draw_map_figure",
    "render_png",
    "risk_class_labels",
    "write_png",
]

_BACKGROUND = "#eef0ec"
_BASE_COLOUR = "#1d3b8f"
_CLOSED_COLOUR = "#7a7a7a"
_CHANGE_COLOUR = "#5b1f8f"
_HALO = [patheffects.withStroke(linewidth=2.6, foreground="white")]


def _compound_path(polygons: np.ndarray) -> MplPath | None:
    """All polygons (with holes) as one matplotlib path; holes follow the nonzero rule."""
    polygons = shapely.normalize(np.asarray(polygons, dtype=object))  # shells CW, holes CCW
    if polygons.size == 0:
        return None
    rings = shapely.get_rings(polygons)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    if len(xy) == 0:
        return None
    codes = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
    starts = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    ends = np.r_[starts[1:], len(xy)] - 1
    codes[starts] = MplPath.MOVETO
    codes[ends] = MplPath.CLOSEPOLY
    return MplPath(xy, codes)


def _add_path(ax: Axes, polygons: np.ndarray, **style: object) -> None:
    path = _compound_path(polygons)
    if path is not None:
        # add_artist, not add_patch: the limits are set already, and add_patch would walk
        # every vertex of every hexagon to update them.
        ax.add_artist(PathPatch(path, **style))


def _text(ax: Axes | Figure, x: float, y: float, s: str, **kw: object) -> Text:
    """Text from data: never parsed as mathtext."""
    return ax.text(x, y, str(s), parse_math=False, **kw)  # type: ignore[arg-type]


def _nice_km(span_km: float) -> float:
    target = span_km / 5
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if step >= target:
            return float(step)
    return 1000.0


def _scale_bar(ax: Axes, west: float, south: float, east: float, north: float) -> None:
    mid_lat = (south + north) / 2
    km_per_deg = 111.32 * max(np.cos(np.radians(mid_lat)), 0.05)
    km = _nice_km((east - west) * km_per_deg)
    length = km / km_per_deg
    x0 = west + 0.03 * (east - west)
    y0 = south + 0.035 * (north - south)
    h = 0.008 * (north - south)
    ax.add_patch(Rectangle((x0, y0), length / 2, h, facecolor="#222", edgecolor="#222", lw=0.6))
    ax.add_patch(
        Rectangle((x0 + length / 2, y0), length / 2, h, facecolor="white", edgecolor="#222", lw=0.6)
    )
    ax.text(x0, y0 + 2.2 * h, "0", fontsize=6.5, ha="center", path_effects=_HALO)
    ax.text(x0 + length, y0 + 2.2 * h, f"{km:g} km", fontsize=6.5, ha="center", path_effects=_HALO)


def _place_labels(
    renderer: Any,
    labels: Sequence[Text],
    placed: list[Bbox],
    candidates: Sequence[Sequence[tuple[float, float, str, str]]] | None = None,
) -> None:
    """Hide labels that would overlap anything placed before them (order = priority).

    ``candidates`` gives, per label, positions ``(x, y, ha, va)`` to try in turn; the first
    that fits is kept. ``placed`` (boxes already taken) grows as labels are placed.
    """
    ax = labels[0].axes if labels else None
    ax_box = ax.get_window_extent(renderer) if ax is not None else None
    for i, t in enumerate(labels):
        options = candidates[i] if candidates is not None else [
            (*t.get_position(), t.get_horizontalalignment(), t.get_verticalalignment())]
        for x, y, ha, va in options:
            t.update({"position": (x, y), "horizontalalignment": ha,
                      "verticalalignment": va})
            box = t.get_window_extent(renderer).expanded(1.06, 1.12)
            inside = ax_box is None or (
                box.x0 >= ax_box.x0 and box.x1 <= ax_box.x1 and box.y0 >= ax_box.y0
                and box.y1 <= ax_box.y1
            )
            if inside and not any(box.overlaps(p) for p in placed):
                placed.append(box)
                break
        else:
            t.set_visible(False)


def _check(grid: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(grid, pd.DataFrame):
        raise ValidationError([Problem("grid", "grid must be a pandas DataFrame")])
    missing = [c for c in ("cell", "risk") if c not in grid.columns]
    if missing:
        raise ValidationError([Problem("grid", "required column is missing", column=c)
                               for c in missing])
    if len(grid) == 0:
        raise ValidationError([Problem("grid", "grid has no rows; nothing to draw")])
    cells = _cells_array(grid["cell"])
    if cells is None:
        raise ValidationError([Problem("grid", "cell must hold H3 indexes", column="cell")])
    risk = pd.to_numeric(grid["risk"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return cells, risk


def _to_4326(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if gdf is None or len(gdf) == 0:
        return None
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        return gdf.to_crs(4326)
    return gdf


@dataclass
class _Canvas:
    """The figure being drawn and what later steps need to know about it."""

    fig: Figure
    canvas: FigureCanvasAgg
    ax: Axes
    extent: tuple[float, float, float, float]  # west, south, east, north
    height_in: float
    map_w: float
    top: float
    bottom: float
    name_labels: list[Text] = field(default_factory=list)
    name_spots: list[list[tuple[float, float, str, str]]] = field(default_factory=list)
    base_labels: list[Text] = field(default_factory=list)
    base_spots: list[list[tuple[float, float, str, str]]] = field(default_factory=list)
    marks_xy: list[tuple[float, float]] = field(default_factory=list)
    legend: list[Patch | Line2D] = field(default_factory=list)


def _has(frame: pd.DataFrame | None, col: str) -> bool:
    return frame is not None and col in frame.columns and bool(frame[col].notna().any())


def _canvas(polygons: np.ndarray, b: gpd.GeoDataFrame | None, *, width_in: float, dpi: int,
            levels: bool) -> _Canvas:
    """Figure and map axes sized to the area (EPSG:4326 with a cos(latitude) aspect)."""
    allxy = shapely.bounds(polygons)
    west, south = allxy[:, 0].min(), allxy[:, 1].min()
    east, north = allxy[:, 2].max(), allxy[:, 3].max()
    if b is not None:
        bw, bs, be, bn = b.total_bounds
        west, south, east, north = min(west, bw), min(south, bs), max(east, be), max(north, bn)
    pad_x, pad_y = 0.02 * (east - west), 0.02 * (north - south)
    west, east, south, north = west - pad_x, east + pad_x, south - pad_y, north + pad_y
    aspect = 1 / max(np.cos(np.radians((south + north) / 2)), 0.05)
    map_w = 0.68 if levels else 0.70  # share of the figure width the map may use
    map_h_in = width_in * map_w * (north - south) * aspect / max(east - west, 1e-9)
    # The legend column holds the risk classes, the matrix levels, the other layers and the
    # levels inset: give it room even when the area is wide and flat.
    height_in = float(np.clip(map_h_in + 1.3, 7.8 if levels else 5.0, 1.6 * width_in))
    fig = Figure(figsize=(width_in, height_in), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)  # no pyplot, no global backend
    top = 1 - 0.95 / height_in
    bottom = 0.45 / height_in
    ax = fig.add_axes((0.015, bottom, map_w, top - bottom))
    _map_axes(ax, (west, south, east, north), aspect)
    return _Canvas(fig, canvas, ax, (west, south, east, north), height_in, map_w, top, bottom)


def _map_axes(ax: Axes, extent: tuple[float, float, float, float], aspect: float) -> None:
    west, south, east, north = extent
    ax.set_facecolor(_BACKGROUND)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(aspect, adjustable="box", anchor="NW")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#9a9d97")
        spine.set_linewidth(0.8)


def _draw_access(c: _Canvas, r: gpd.GeoDataFrame | None, grid: pd.DataFrame,
                 cells: np.ndarray) -> None:
    """Restrictions in force hatched by severity (or restricted cells)."""
    severities: list[int] = []
    if r is not None and "severity" in r.columns:
        sev = pd.to_numeric(r["severity"], errors="coerce").fillna(2).clip(1, 3).astype(int)
        geoms = np.asarray(r.geometry.values, dtype=object)
        for s in (1, 2, 3):
            sel = geoms[(sev == s).to_numpy()]
            sel = sel[~(shapely.is_missing(sel) | shapely.is_empty(sel))]
            if sel.size == 0:
                continue
            parts, _ = _polygon_parts(shapely.simplify(sel, BOUNDARY_SIMPLIFY_DEG))
            _add_path(c.ax, parts, facecolor="none", edgecolor=SEVERITY_COLOURS[s],
                      hatch="////", linewidth=0.9, zorder=3)
            severities.append(s)
    for s in sorted(severities, reverse=True):
        c.legend.append(Patch(facecolor="none", edgecolor=SEVERITY_COLOURS[s], hatch="////",
                              label=f"Restricted access ({SEVERITY_TEXT[s]})"))
    if not severities and "restricted" in grid.columns:
        flag = pd.to_numeric(grid["restricted"], errors="coerce").fillna(0).to_numpy() != 0
        if flag.any():
            _add_path(c.ax, _outline(cells[flag]), facecolor="none", edgecolor="#262626",
                      hatch="////", linewidth=0.7, zorder=3)
            c.legend.append(Patch(facecolor="none", edgecolor="#262626", hatch="////",
                                  label="Inaccessible cells"))


def _draw_levels(ax: Axes, b: gpd.GeoDataFrame) -> list[Patch | Line2D]:
    """Unit fill by matrix level, and the top changes outlined; returns their legend."""
    geoms = np.asarray(b.geometry.values, dtype=object)
    level = b["level"].astype("string").str.strip().str.lower().fillna("")
    handles: list[Patch | Line2D] = []
    for name, colour in LEVEL_COLOURS.items():
        sel = (level == name).to_numpy() & ~shapely.is_missing(geoms)
        if sel.any():
            parts, _ = _polygon_parts(simplify_coverage(geoms[sel],
                                                        tolerance=BOUNDARY_SIMPLIFY_DEG))
            _add_path(ax, parts, facecolor=colour, edgecolor=colour, linewidth=0.3, zorder=1)
        handles.append(Patch(facecolor=colour, edgecolor="#888", linewidth=0.4, label=name))
    rest = ~level.isin(list(LEVEL_COLOURS)).to_numpy() & ~shapely.is_missing(geoms)
    if rest.any():
        parts, _ = _polygon_parts(geoms[rest])
        _add_path(ax, parts, facecolor=NO_DATA_COLOUR, edgecolor=NO_DATA_COLOUR, zorder=1)
        handles.append(Patch(facecolor=NO_DATA_COLOUR, edgecolor="#888", label="no level"))
    if _has(b, "top_change"):
        top = b["top_change"].fillna(False).astype(bool).to_numpy() & ~shapely.is_missing(geoms)
        if top.any():
            parts, _ = _polygon_parts(geoms[top])
            _add_path(ax, parts, facecolor="none", edgecolor=_CHANGE_COLOUR, linewidth=2.2,
                      linestyle=(0, (3, 1.5)), zorder=5)
        handles.append(Line2D([], [], color=_CHANGE_COLOUR, linewidth=2.2, linestyle="--",
                              label="Top change: risk rising most"))
    if _has(b, "priority_rank"):
        handles.append(Patch(facecolor="white", edgecolor="#1c1c1c", linewidth=0.9,
                             label=f"1\u2013{TOP_PRIORITIES} priority for engagement"))
    return handles


def _draw_units(c: _Canvas, b: gpd.GeoDataFrame, top: Sequence[str] = ()) -> None:
    """Unit outlines and names; the top priority units' names carry their rank, boxed.

    The units with the most expected incidents (``top``, P-codes, highest first) are placed
    first and drawn bold, so they are labelled whatever their size.
    """
    geoms = np.asarray(b.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    parts, _ = _polygon_parts(simplify_coverage(geoms[ok], tolerance=BOUNDARY_SIMPLIFY_DEG))
    path = _compound_path(parts)
    if path is not None:
        c.ax.add_artist(PathPatch(path, facecolor="none", edgecolor="#2b2b2b", linewidth=0.6,
                                  zorder=4))
    c.legend.append(Line2D([], [], color="#2b2b2b", linewidth=0.9, label="Admin boundary"))
    if "admin_name" not in b.columns:
        return
    orig, orig_owner = _polygon_parts(geoms[ok])
    area = shapely.area(orig)
    biggest = pd.Series(area).groupby(orig_owner).idxmax()
    pts = shapely.get_coordinates(shapely.point_on_surface(orig[biggest.to_numpy()]))
    names = b["admin_name"].astype("string").fillna("").to_numpy(dtype=object)[ok]
    rank = (pd.to_numeric(b["priority_rank"], errors="coerce").to_numpy(dtype="float64")[ok]
            if "priority_rank" in b.columns else np.full(int(ok.sum()), np.nan))
    unit_area = pd.Series(area).groupby(orig_owner).sum().to_numpy()
    dy = 0.008 * (c.extent[3] - c.extent[1])
    top_rank = np.where(rank[biggest.index] <= TOP_PRIORITIES, rank[biggest.index], np.inf)
    pcodes = (b["admin_pcode"].astype("string").fillna("").to_numpy(dtype=object)[ok]
              if "admin_pcode" in b.columns else np.full(int(ok.sum()), "", dtype=object))
    risk_pos = {p: k for k, p in enumerate(top)}
    risk_rank = np.array([risk_pos.get(p, np.inf) for p in pcodes[biggest.index]])  # <= units
    # Units with the most expected incidents first, then ranked units (their numbers must
    # show), then the biggest units win overlaps.
    for i in np.lexsort((-unit_area, top_rank, risk_rank)):
        unit = biggest.index[i]
        name = str(names[unit])
        if not name:
            continue
        style: dict[str, Any] = {"fontsize": 7, "color": "#1c1c1c", "path_effects": _HALO}
        if np.isfinite(risk_rank[i]):
            style |= {"fontsize": 7.6, "fontweight": "bold"}
        if np.isfinite(top_rank[i]):
            name = f"{int(top_rank[i])}  {name}"
            style = {"fontsize": 7.2, "fontweight": "bold", "color": "#1c1c1c",
                     "bbox": {"boxstyle": "round,pad=0.22", "facecolor": "white",
                              "edgecolor": "#1c1c1c", "linewidth": 0.8}}
        x, y = pts[i]
        c.name_labels.append(_text(c.ax, x, y, name, ha="center", va="center", zorder=6,
                                   clip_on=True, **style))
        # On its point, else just above or below it (a base marker may sit on the point).
        c.name_spots.append([(x, y, "center", "center"), (x, y + dy, "center", "bottom"),
                             (x, y - dy, "center", "top")])


def _draw_bases(c: _Canvas, bases: pd.DataFrame, week: dt.date) -> None:
    """Open bases (blue, with their reach), closed ones greyed with their close date."""
    lon = pd.to_numeric(bases["lon"], errors="coerce").to_numpy(dtype="float64")
    lat = pd.to_numeric(bases["lat"], errors="coerce").to_numpy(dtype="float64")
    b = bases_in_week(bases=bases.loc[np.isfinite(lon) & np.isfinite(lat)], week=week)
    if b.empty:
        return
    x = pd.to_numeric(b["lon"]).to_numpy(dtype="float64")
    y = pd.to_numeric(b["lat"]).to_numpy(dtype="float64")
    is_open = b["open"].to_numpy(dtype=bool)
    reach = pd.to_numeric(b["reach_km"], errors="coerce").to_numpy(dtype="float64")
    for xi, yi, km in zip(x, y, reach, strict=True):  # tens of bases, not cells
        if np.isfinite(km) and km > 0:
            dlat = km / 111.32
            c.ax.add_artist(Ellipse((xi, yi), 2 * dlat / max(np.cos(np.radians(yi)), 0.05),
                                    2 * dlat, facecolor=(0.11, 0.23, 0.56, 0.05),
                                    edgecolor=_BASE_COLOUR, linestyle=(0, (4, 3)),
                                    linewidth=0.9, zorder=5))
    c.ax.scatter(x[is_open], y[is_open], s=30, marker="o", color=_BASE_COLOUR,
                 edgecolor="white", linewidth=1.2, zorder=7)
    c.ax.scatter(x[~is_open], y[~is_open], s=22, marker="o", color="white",
                 edgecolor=_CLOSED_COLOUR, linewidth=1.2, zorder=7)
    west, south, east, north = c.extent
    dx, dy = 0.012 * (east - west), 0.012 * (north - south)
    names = b["base_name"].astype("string").fillna("").tolist()
    for name, xi, yi, o, closed in zip(names, x, y, is_open, b["closed_on"], strict=True):
        text = str(name) if o else f"{name} (closed {closed})"
        c.base_labels.append(_text(c.ax, xi + dx, yi, text, fontsize=7.5 if o else 6.8,
                                   ha="left", va="center",
                                   color=_BASE_COLOUR if o else _CLOSED_COLOUR,
                                   fontweight="bold" if o else "normal",
                                   fontstyle="normal" if o else "italic",
                                   path_effects=_HALO, zorder=8, clip_on=True))
        c.base_spots.append([(xi + dx, yi, "left", "center"), (xi - dx, yi, "right", "center"),
                             (xi, yi + dy, "center", "bottom"), (xi, yi - dy, "center", "top")])
        c.marks_xy.append((xi, yi))
    if is_open.any():
        c.legend.append(Line2D([], [], marker="o", linestyle="none", markersize=6,
                               markerfacecolor=_BASE_COLOUR, markeredgecolor="white",
                               label="Mission base, open"))
    if np.isfinite(reach).any():
        c.legend.append(Patch(facecolor=(0.11, 0.23, 0.56, 0.05), edgecolor=_BASE_COLOUR,
                              linestyle="--", label="Base reach"))
    if (~is_open).any():
        c.legend.append(Line2D([], [], marker="o", linestyle="none", markersize=5.5,
                               markerfacecolor="white", markeredgecolor=_CLOSED_COLOUR,
                               label="Base closed before this week"))


def _draw_reach_cells(c: _Canvas, grid: pd.DataFrame, cells: np.ndarray) -> None:
    """Reach along a road network: the outline of the grid's reachable cells."""
    sel = (grid["access_status"].astype("string") == "reachable").fillna(False).to_numpy()
    if sel.any():
        _add_path(c.ax, _outline(cells[sel]), facecolor=(0.11, 0.23, 0.56, 0.05),
                  edgecolor=_BASE_COLOUR, linestyle=(0, (4, 3)), linewidth=0.9, zorder=5)
        c.legend.append(Patch(facecolor=(0.11, 0.23, 0.56, 0.05), edgecolor=_BASE_COLOUR,
                              linestyle="--", label="Reachable along the road network"))


def _title_block(c: _Canvas, *, title: str, week: dt.date, synthetic: bool, levels: bool,
                 h3_resolution: int | None) -> None:
    fig, h = c.fig, c.height_in
    week_end = week + dt.timedelta(days=6)
    _text(fig, 0.015, 1 - 0.22 / h, title, fontsize=14, fontweight="bold", va="top",
          ha="left", color="#1c1c1c")
    res_text = f", H3 resolution {h3_resolution} cells" if h3_resolution is not None else ""
    what = ("where the risk is (legend); inset: admin risk level from the matrix; boxed "
            "numbers: priority for engagement" if levels else
            f"where the risk is{res_text}")
    fig.text(0.015, 1 - 0.56 / h, f"Forecast week {week.isoformat()} to {week_end.isoformat()}: "
             f"{what}", fontsize=8.5 if levels else 9, va="top", ha="left", color="#444")
    if synthetic:
        fig.text(0.985, 1 - 0.22 / h, "SYNTHETIC DATA", fontsize=11, fontweight="bold",
                 color="white", va="top", ha="right",
                 bbox={"boxstyle": "square,pad=0.35", "facecolor": "#c8102e", "edgecolor": "none"})
        c.ax.text(0.5, 0.985, "SYNTHETIC DATA \u2014 not real events", transform=c.ax.transAxes,
                  ha="center", va="top", fontsize=8, fontweight="bold", color="white", zorder=9,
                  bbox={"boxstyle": "square,pad=0.3", "facecolor": "#c8102e", "edgecolor": "none"})
    fig.text(0.015, 0.16 / h,
             "Low values where access is restricted may mean incidents were not reported, "
             "not that the area is safe. Generated by geo-risk.",
             fontsize=7.5, color="#555", ha="left", va="bottom")


def _legends(c: _Canvas, first: list[Patch | Line2D], first_title: str,
             middle: tuple[list[Patch | Line2D], str] | None = None) -> float:
    """The legend column: the main theme, then the other layers under it.

    Returns the bottom of the lowest legend, as a fraction of the figure height.
    """
    legend_ax = c.fig.add_axes((c.map_w + 0.03, c.bottom, 1 - c.map_w - 0.045, c.top - c.bottom))
    legend_ax.axis("off")
    kw: dict[str, Any] = {"loc": "upper left", "frameon": False, "fontsize": 8.5,
                          "title_fontsize": 9, "alignment": "left", "handlelength": 1.6,
                          "handleheight": 1.1, "borderaxespad": 0}
    renderer = c.canvas.get_renderer()
    leg = legend_ax.legend(handles=first, title=first_title, **kw)
    legend_ax.add_artist(leg)
    if middle is not None:
        box = leg.get_window_extent(renderer).transformed(legend_ax.transAxes.inverted())
        leg = legend_ax.legend(handles=middle[0], bbox_to_anchor=(0, box.y0 - 0.03),
                               title=middle[1], **kw)
        legend_ax.add_artist(leg)
    if c.legend:
        # The first legend's size (no draw needed) places the second under it.
        box = leg.get_window_extent(renderer).transformed(legend_ax.transAxes.inverted())
        leg = legend_ax.legend(handles=c.legend, bbox_to_anchor=(0, box.y0 - 0.03),
                               title="Other layers", **kw)
    return float(leg.get_window_extent(renderer).transformed(c.fig.transFigure.inverted()).y0)


def _levels_inset(c: _Canvas, inset: Axes, top: float) -> None:
    """Place the small map of the units' matrix levels in the legend column, under ``top``."""
    west, south, east, north = c.extent
    aspect = 1 / max(np.cos(np.radians((south + north) / 2)), 0.05)
    width = 1 - c.map_w - 0.045
    fig_w, fig_h = c.fig.get_size_inches()
    height = width * fig_w * (north - south) * aspect / max(east - west, 1e-9) / fig_h
    room = top - 0.35 / fig_h - c.bottom
    height = max(min(height, room), 0.08)
    inset.set_position((c.map_w + 0.03, top - 0.35 / fig_h - height, width, height))
    _map_axes(inset, c.extent, aspect)
    inset.set_title("Admin risk level (matrix)", fontsize=8, loc="left", pad=3)


def draw_map_figure(
    *,
    grid: pd.DataFrame,
    title: str,
    week: dt.date,
    synthetic: bool,
    boundaries: gpd.GeoDataFrame | None = None,
    restrictions: gpd.GeoDataFrame | None = None,
    bases: pd.DataFrame | None = None,
    h3_resolution: int | None = None,
    width_in: float = 9.0,
    dpi: int = 170,
    classes: str = "data",
) -> Figure:
    """Draw the briefing map as a matplotlib figure (what :func:`render_png` encodes).

    The main map shows the risk as ``map.html`` shows it at the same scale
    (:mod:`geo_risk.render.static_risk`): at country scale coarser H3 parents by expected
    incidents per 1,000 km², in classes that follow this week's data, the hottest cells ringed,
    the units with the most expected incidents labelled first and in bold, and a call-out at
    full resolution for such a unit that is small on the map (a capital). With a ``level``
    column on ``boundaries`` (see :func:`geo_risk.render.layers.unit_layers`) the matrix levels
    and top changes are an inset under the legends, and the names of the top
    :data:`~geo_risk.render.layers.TOP_PRIORITIES` units carry their ``priority_rank``, boxed.
    Parameters are those of :func:`render_png`.

    Returns
    -------
    matplotlib.figure.Figure
        The drawn figure (with an Agg canvas), labels already placed without overlaps.
    """
    cells, risk = _check(grid)
    if isinstance(week, dt.datetime):
        week = week.date()
    res = int(h3_resolution if h3_resolution is not None
              else np.asarray(h3ronpy.cells_resolution(cells[:1]))[0])
    # The cells' centres, padded by a cell, and the units give the extent.
    xy = pa.table(h3v.cells_to_coordinates(cells))
    lon, lat = xy.column("lng").to_numpy(), xy.column("lat").to_numpy()
    pad = cell_width_km(res) / 111.32
    extent = shapely.box(lon.min() - pad, lat.min() - pad, lon.max() + pad, lat.max() + pad)
    b = _to_4326(boundaries)
    levels = b is not None and _has(b, "level")
    c = _canvas(np.array([extent], dtype=object), b, width_in=width_in, dpi=dpi, levels=levels)
    west, south, east, north = c.extent
    km_per_px = ((east - west) * 111.32 * max(np.cos(np.radians((south + north) / 2)), 0.05)
                 / (width_in * c.map_w * dpi))
    # The display tier map.html would show at this scale; each class is one compound path,
    # which Agg fills without seams between neighbours (no dissolve needed).
    d = display_for(cells=cells, risk=risk, resolution=res, mode=classes, km_per_px=km_per_px)
    draw_display(c.ax, d, outline_path(b))
    first, first_title = legend_handles(d), legend_title(d)
    hot = draw_hot(c.ax, cells, risk)
    if hot is not None:
        c.legend.append(hot)
    inset = c.fig.add_axes((0, 0, 0.01, 0.01)) if levels and b is not None else None
    middle = None
    if inset is not None and b is not None:  # placed under the legends once they are drawn
        middle = (_draw_levels(inset, b), "Admin risk level\n(risk-assessment matrix)")
    _draw_access(c, _to_4326(restrictions), grid, cells)
    top = top_units(grid=grid, risk=risk)
    if b is not None:
        _draw_units(c, b, top)
    if bases is not None and len(bases) and {"base_name", "lon", "lat"} <= set(bases.columns):
        _draw_bases(c, bases, week)
        if "reach_km" not in bases.columns and "access_status" in grid.columns:
            _draw_reach_cells(c, grid, cells)
    _scale_bar(c.ax, *c.extent)
    _title_block(c, title=title, week=week, synthetic=synthetic, levels=levels,
                 h3_resolution=h3_resolution)
    legends_bottom = _legends(c, first, first_title, middle)
    if inset is not None:
        _levels_inset(c, inset, top=legends_bottom - 0.1 / c.height_in)
    c.ax.apply_aspect()  # final axes box, so label extents are measured where they are drawn
    renderer = c.canvas.get_renderer()
    taken = [Bbox.from_extents(px - 5, py - 5, px + 5, py + 5)
             for px, py in c.ax.transData.transform(np.asarray(c.marks_xy).reshape(-1, 2))]
    callout = None if b is None else draw_callout(c.ax, b=b, top=top, cells=cells, risk=risk,
                                                  mode=classes)
    if callout is not None:
        taken.append(c.ax.child_axes[-1].get_window_extent(renderer))
    # Unit names first: a base label takes a free side of its marker or is hidden, never a name.
    _place_labels(renderer, c.name_labels, taken, c.name_spots)
    _place_labels(renderer, c.base_labels, taken, c.base_spots)
    return c.fig


def render_png(
    *,
    grid: pd.DataFrame,
    title: str,
    week: dt.date,
    synthetic: bool,
    boundaries: gpd.GeoDataFrame | None = None,
    restrictions: gpd.GeoDataFrame | None = None,
    bases: pd.DataFrame | None = None,
    h3_resolution: int | None = None,
    width_in: float = 9.0,
    dpi: int = 170,
    classes: str = "data",
) -> bytes:
    """Draw the weekly map as a PNG image for briefings (see :func:`draw_map_figure`).

    Parameters
    ----------
    grid : pandas.DataFrame
        ``cell`` (H3, uint64 or hex string) and ``risk`` (0-1); optional ``restricted``
        (cells drawn hatched when no ``restrictions`` are given) and ``access_status`` (with
        bases lacking ``reach_km``: reach is drawn as the outline of the reachable cells).
        Other columns are ignored.
    title : str
        Map title (plain text).
    week : datetime.date
        Forecast week (its Monday).
    synthetic : bool
        Adds a SYNTHETIC DATA label to the title and the image.
    boundaries : geopandas.GeoDataFrame, optional
        Admin units (``admin_name``, geometry), drawn as outlines with names; optional
        ``level``, ``priority_rank``, ``top_change`` (the briefing layout).
    restrictions : geopandas.GeoDataFrame, optional
        Access restrictions in force (``severity`` 1-3, geometry), drawn hatched by severity.
    bases : pandas.DataFrame, optional
        ``base_name``, ``lon``, ``lat``; optional ``open_date``, ``close_date`` (a base
        closed before the week is drawn greyed with its close date, one not yet open is not
        drawn) and ``reach_km`` (a dashed circle around each open base).
    h3_resolution : int, optional
        Shown in the caption (default: read from the cells).
    width_in, dpi : float, int
        Figure width in inches and resolution; the height follows the area's shape.
    classes : {"data", "fixed"}
        Colour classes from this week's data (default) or the absolute probability classes
        of ``map.html`` (:mod:`geo_risk.render.map_tiers`).

    Returns
    -------
    bytes
        The PNG file.

    Raises
    ------
    geo_risk.errors.ValidationError
        When the grid lacks ``cell`` or ``risk`` or has no rows.
    """
    fig = draw_map_figure(grid=grid, title=title, week=week, synthetic=synthetic,
                          boundaries=boundaries, restrictions=restrictions, bases=bases,
                          h3_resolution=h3_resolution, width_in=width_in, dpi=dpi,
                          classes=classes)
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    exact = [*RISK_COLOURS, NO_DATA_COLOUR, *SEVERITY_COLOURS.values(), _BASE_COLOUR,
             *LEVEL_COLOURS.values()]
    return _palette_png(rgb, exact=exact)


def _palette_png(rgb: np.ndarray, *, exact: Sequence[str]) -> bytes:
    """Encode an RGB image as an 8-bit palette PNG (about a third of the size).

    The palette holds every colour in ``exact`` that the image uses (so legend classes keep
    their exact colour), then the most frequent other colours; every other pixel (anti-aliased
    edges) takes the nearest palette colour.
    """
    h, w, _ = rgb.shape
    packed = (
        (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    ).ravel()
    # Through pandas' hash table (geo_risk.arrays): the same sorted colours and codes as
    # np.unique(return_inverse, return_counts), several times faster on ~2.5M pixels.
    uniq, inverse = unique_inverse(packed)
    counts = np.bincount(inverse, minlength=len(uniq))
    must = np.isin(uniq, np.array([int(c.lstrip("#"), 16) for c in exact], dtype=np.uint32))
    palette = uniq[np.lexsort((-counts, ~must))[:256]]

    def channels(p: np.ndarray) -> np.ndarray:
        return np.stack([(p >> 16) & 255, (p >> 8) & 255, p & 255], axis=-1).astype(np.int32)

    colours, pal = channels(uniq), channels(palette)
    # Squared distance minus the colour's own |c|² (same argmin): |p|² - 2 c·p as one matrix
    # product. All terms are integers below 2**53, so float64 is exact and ties (first palette
    # entry wins) are those of the plain per-channel sum.
    p = pal.astype(np.float64)
    p2, c = (p * p).sum(1), colours.astype(np.float64)
    nearest = np.empty(len(uniq), dtype=np.uint8)
    for start in range(0, len(uniq), 4096):  # blocks of distinct colours, not pixels
        block = c[start : start + 4096]
        nearest[start : start + 4096] = (p2[None, :] - 2.0 * (block @ p.T)).argmin(1)
    image = Image.frombytes("P", (w, h), nearest[inverse].tobytes())
    image.putpalette(pal.astype(np.uint8).ravel().tolist())
    buf = io.BytesIO()
    # zlib's default level: on a country's map (1530 x 1326) 0.04 s for 179 KB, where
    # optimize=True (level 9) took 0.30 s for 168 KB, on the weekly run's critical path.
    image.save(buf, format="PNG", compress_level=6, pnginfo=_png_info())
    return buf.getvalue()


def _png_info() -> PngInfo:
    info = PngInfo()
    info.add_text("Software", "geo-risk")
    return info


def write_png(path: str | os.PathLike[str], **kwargs: object) -> Path:
    """Render the static map (see :func:`render_png`) and write it.

    Parameters
    ----------
    path : str or os.PathLike
        Output file, e.g. ``out/map.png``; parent folders are created.
    **kwargs
        Keyword arguments of :func:`render_png`.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    data = render_png(**kwargs)  # type: ignore[arg-type]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
