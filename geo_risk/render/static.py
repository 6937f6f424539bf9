"""A static PNG of the weekly risk map, for documents that cannot hold HTML.

The picture uses the same probability classes and colours as the interactive map's legend
(:data:`geo_risk.render.map.RISK_BREAKS`, :data:`~geo_risk.render.map.RISK_COLOURS`) and the
same rounding (:func:`~geo_risk.render.map.quantise_probability`), so a cell has the same colour
in both. The hexagons come from one vectorised ``h3ronpy`` call and each class is drawn as *one*
compound path: Agg fills a path's shared edges without seams, so no dissolve is needed and
drawing stays cheap (about 2 s for 30,000 cells, including the PNG encoding). The image is
written as an 8-bit palette PNG that keeps the legend colours exact (about 160 KB).

Text from data (title, admin and base names) is drawn with matplotlib's math parsing switched
off, so ``$`` and ``\\`` in a name are printed as they are.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from geo_risk.errors import Problem, ValidationError
from geo_risk.render.coverage import simplify_coverage
from geo_risk.render.map import (
    BOUNDARY_SIMPLIFY_DEG,
    NO_DATA_COLOUR,
    RISK_BREAKS,
    RISK_COLOURS,
    _cells_array,
    _outline,
    _polygon_parts,
    _wkb_array_to_shapely,
    format_probability,
    quantise_probability,
)

__all__ = ["SEVERITY_COLOURS", "SEVERITY_TEXT", "render_png", "risk_class_labels", "write_png"]

#: Restriction outline/hatch colour per severity (1 low, 2 medium, 3 high), as in ``map.js``.
SEVERITY_COLOURS = {1: "#9c7400", 2: "#d9480f", 3: "#7a0019"}
SEVERITY_TEXT = {1: "low", 2: "medium", 3: "high"}
_BACKGROUND = "#eef0ec"
_BASE_COLOUR = "#1d3b8f"
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


def _class_of(risk: np.ndarray) -> np.ndarray:
    """Legend class of each probability, exactly as ``map.js`` (``classOf``) picks it."""
    q = quantise_probability(risk)
    breaks = np.round(np.asarray(RISK_BREAKS) * 1e4).astype(np.int64)
    cls = np.searchsorted(breaks, q, side="right")
    return np.where(q < 0, -1, cls)


def risk_class_labels() -> list[str]:
    units = [round(b * 1e4) for b in RISK_BREAKS]
    out = [f"< {format_probability(units[0])}"]
    out += [
        f"{format_probability(a)} \u2013 {format_probability(b)}"
        for a, b in zip(units[:-1], units[1:], strict=True)
    ]
    out.append(f"\u2265 {format_probability(units[-1])}")
    return out


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
) -> bytes:
    """Draw the weekly risk grid as a PNG image.

    Parameters
    ----------
    grid : pandas.DataFrame
        ``cell`` (H3, uint64 or hex string) and ``risk`` (0-1); optional ``restricted``
        (cells drawn hatched when no ``restrictions`` are given). Other columns are ignored.
    title : str
        Map title (plain text).
    week : datetime.date
        Forecast week (its Monday).
    synthetic : bool
        Adds a SYNTHETIC DATA label to the title and the image.
    boundaries : geopandas.GeoDataFrame, optional
        Admin units (``admin_name``, geometry), drawn as outlines with names.
    restrictions : geopandas.GeoDataFrame, optional
        Access restrictions in force (``severity`` 1-3, geometry), drawn hatched by severity.
    bases : pandas.DataFrame, optional
        ``base_name``, ``lon``, ``lat``.
    h3_resolution : int, optional
        Shown in the caption.
    width_in, dpi : float, int
        Figure width in inches and resolution; the height follows the area's shape.

    Returns
    -------
    bytes
        The PNG file.

    Raises
    ------
    geo_risk.errors.ValidationError
        When the grid lacks ``cell`` or ``risk`` or has no rows.
    """
    cells, risk = _check(grid)
    if isinstance(week, dt.datetime):
        week = week.date()
    cls_of_poly = _class_of(risk)
    classes = np.unique(cls_of_poly)
    # One hexagon per cell, in one vectorised call; each class becomes one compound path,
    # which Agg fills without seams between neighbours (no dissolve needed).
    polygons = _wkb_array_to_shapely(h3v.cells_to_wkb_polygons(cells))

    b = _to_4326(boundaries)
    r = _to_4326(restrictions)
    allxy = shapely.bounds(polygons)
    west, south = allxy[:, 0].min(), allxy[:, 1].min()
    east, north = allxy[:, 2].max(), allxy[:, 3].max()
    if b is not None:
        bw, bs, be, bn = b.total_bounds
        west, south, east, north = min(west, bw), min(south, bs), max(east, be), max(north, bn)
    pad_x, pad_y = 0.02 * (east - west), 0.02 * (north - south)
    west, east, south, north = west - pad_x, east + pad_x, south - pad_y, north + pad_y
    aspect = 1 / max(np.cos(np.radians((south + north) / 2)), 0.05)

    map_w = 0.70  # share of the figure width the map may use
    map_h_in = width_in * map_w * (north - south) * aspect / max(east - west, 1e-9)
    height_in = float(np.clip(map_h_in + 1.3, 5.0, 1.6 * width_in))
    fig = Figure(figsize=(width_in, height_in), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)  # no pyplot, no global backend
    top = 1 - 0.95 / height_in
    bottom = 0.45 / height_in
    ax = fig.add_axes((0.015, bottom, map_w, top - bottom))
    ax.set_facecolor(_BACKGROUND)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(aspect, adjustable="box", anchor="NW")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#9a9d97")
        spine.set_linewidth(0.8)

    # Risk classes: one compound path per class.
    for c in classes:
        colour = NO_DATA_COLOUR if c < 0 else RISK_COLOURS[int(c)]
        _add_path(ax, polygons[cls_of_poly == c], facecolor=colour, edgecolor=colour,
                  linewidth=0.25, zorder=1)

    # Access: restrictions in force hatched by severity (or restricted cells).
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
            _add_path(ax, parts, facecolor="none", edgecolor=SEVERITY_COLOURS[s],
                      hatch="////", linewidth=0.9, zorder=3)
            severities.append(s)
    restricted_cells = False
    if not severities and "restricted" in grid.columns:
        flag = pd.to_numeric(grid["restricted"], errors="coerce").fillna(0).to_numpy() != 0
        if flag.any():
            _add_path(ax, _outline(cells[flag]), facecolor="none", edgecolor="#262626",
                      hatch="////", linewidth=0.7, zorder=3)
            restricted_cells = True

    # Admin boundaries and names.
    name_labels: list[Text] = []
    if b is not None:
        geoms = np.asarray(b.geometry.values, dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        parts, _ = _polygon_parts(simplify_coverage(geoms[ok], tolerance=BOUNDARY_SIMPLIFY_DEG))
        boundary_path = _compound_path(parts)
        if boundary_path is not None:
            ax.add_artist(PathPatch(boundary_path, facecolor="none", edgecolor="#2b2b2b",
                                   linewidth=0.6, zorder=4))
        if "admin_name" in b.columns:
            orig, orig_owner = _polygon_parts(geoms[ok])
            area = shapely.area(orig)
            biggest = pd.Series(area).groupby(orig_owner).idxmax()
            pts = shapely.get_coordinates(shapely.point_on_surface(orig[biggest.to_numpy()]))
            names = b["admin_name"].astype("string").fillna("").to_numpy(dtype=object)[ok]
            unit_area = pd.Series(area).groupby(orig_owner).sum().to_numpy()
            for i in np.argsort(-unit_area, kind="stable"):  # biggest units win overlaps
                name = str(names[biggest.index[i]])
                if not name:
                    continue
                name_labels.append(_text(ax, pts[i, 0], pts[i, 1], name, fontsize=7,
                                         ha="center", va="center", color="#1c1c1c",
                                         path_effects=_HALO, zorder=6, clip_on=True))

    # Bases.
    base_labels: list[Text] = []
    base_spots: list[list[tuple[float, float, str, str]]] = []
    base_xy = np.zeros((0, 2))
    if bases is not None and len(bases) and {"base_name", "lon", "lat"} <= set(bases.columns):
        lon = pd.to_numeric(bases["lon"], errors="coerce").to_numpy(dtype="float64")
        lat = pd.to_numeric(bases["lat"], errors="coerce").to_numpy(dtype="float64")
        ok = np.isfinite(lon) & np.isfinite(lat)
        base_xy = np.column_stack([lon[ok], lat[ok]])
        ax.scatter(lon[ok], lat[ok], s=30, marker="o", color=_BASE_COLOUR, edgecolor="white",
                   linewidth=1.2, zorder=7)
        dx, dy = 0.012 * (east - west), 0.012 * (north - south)
        for name, x, y in zip(bases["base_name"].astype("string").fillna("")[ok], lon[ok],
                              lat[ok], strict=True):  # tens of bases, not cells
            base_labels.append(_text(ax, x + dx, y, str(name), fontsize=7.5, ha="left",
                                     va="center", color=_BASE_COLOUR, fontweight="bold",
                                     path_effects=_HALO, zorder=8, clip_on=True))
            base_spots.append([(x + dx, y, "left", "center"), (x - dx, y, "right", "center"),
                               (x, y + dy, "center", "bottom"), (x, y - dy, "center", "top")])
    _scale_bar(ax, west, south, east, north)

    # Title block.
    week_end = week + dt.timedelta(days=6)
    _text(fig, 0.015, 1 - 0.22 / height_in, title, fontsize=14, fontweight="bold",
          va="top", ha="left", color="#1c1c1c")
    res_text = f", H3 resolution {h3_resolution} cells" if h3_resolution is not None else ""
    fig.text(0.015, 1 - 0.56 / height_in,
             f"Forecast week {week.isoformat()} to {week_end.isoformat()}: probability of at "
             f"least one incident per cell{res_text}",
             fontsize=9, va="top", ha="left", color="#444")
    if synthetic:
        fig.text(0.985, 1 - 0.22 / height_in, "SYNTHETIC DATA", fontsize=11, fontweight="bold",
                 color="white", va="top", ha="right",
                 bbox={"boxstyle": "square,pad=0.35", "facecolor": "#c8102e", "edgecolor": "none"})
        ax.text(0.5, 0.985, "SYNTHETIC DATA \u2014 not real events", transform=ax.transAxes,
                ha="center", va="top", fontsize=8, fontweight="bold", color="white", zorder=9,
                bbox={"boxstyle": "square,pad=0.3", "facecolor": "#c8102e", "edgecolor": "none"})
    fig.text(0.015, 0.16 / height_in,
             "Low values where access is restricted may mean incidents were not reported, "
             "not that the area is safe. Generated by geo-risk.",
             fontsize=7.5, color="#555", ha="left", va="bottom")

    # Legend: same classes and colours as the interactive map.
    labels = risk_class_labels()
    handles: list[Patch | Line2D] = [
        Patch(facecolor=RISK_COLOURS[i], edgecolor="#888", linewidth=0.4, label=labels[i])
        for i in range(len(RISK_COLOURS) - 1, -1, -1)
    ]
    if (classes < 0).any():
        handles.append(Patch(facecolor=NO_DATA_COLOUR, edgecolor="#888", linewidth=0.4,
                             label="no data"))
    legend_ax = fig.add_axes((map_w + 0.03, bottom, 1 - map_w - 0.045, top - bottom))
    legend_ax.axis("off")
    leg = legend_ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=8.5,
                           title="Probability of \u22651 incident\nnext week",
                           title_fontsize=9, alignment="left", handlelength=1.6,
                           handleheight=1.1, borderaxespad=0)
    legend_ax.add_artist(leg)
    extra: list[Patch | Line2D] = []
    for s in sorted(severities, reverse=True):
        extra.append(Patch(facecolor="none", edgecolor=SEVERITY_COLOURS[s], hatch="////",
                           label=f"Restricted access ({SEVERITY_TEXT[s]})"))
    if restricted_cells:
        extra.append(Patch(facecolor="none", edgecolor="#262626", hatch="////",
                           label="Inaccessible cells"))
    if b is not None:
        extra.append(Line2D([], [], color="#2b2b2b", linewidth=0.9, label="Admin boundary"))
    if base_labels:
        extra.append(Line2D([], [], marker="o", linestyle="none", markersize=6,
                            markerfacecolor=_BASE_COLOUR, markeredgecolor="white",
                            label="Mission base"))
    renderer = canvas.get_renderer()
    if extra:
        # The first legend's size (no draw needed) places the second under it.
        box = leg.get_window_extent(renderer).transformed(legend_ax.transAxes.inverted())
        legend_ax.legend(handles=extra, loc="upper left", bbox_to_anchor=(0, box.y0 - 0.03),
                         frameon=False, fontsize=8.5, title="Other layers",
                         title_fontsize=9,
                         alignment="left", handlelength=1.6, handleheight=1.1, borderaxespad=0)

    ax.apply_aspect()  # final axes box, so label extents are measured where they are drawn
    taken = [Bbox.from_extents(px - 5, py - 5, px + 5, py + 5)
             for px, py in ax.transData.transform(base_xy)] if len(base_xy) else []
    _place_labels(renderer, base_labels, taken, base_spots)
    _place_labels(renderer, name_labels, taken)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    exact = [*RISK_COLOURS, NO_DATA_COLOUR, *SEVERITY_COLOURS.values(), _BASE_COLOUR]
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
    uniq, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    must = np.isin(uniq, np.array([int(c.lstrip("#"), 16) for c in exact], dtype=np.uint32))
    palette = uniq[np.lexsort((-counts, ~must))[:256]]

    def channels(p: np.ndarray) -> np.ndarray:
        return np.stack([(p >> 16) & 255, (p >> 8) & 255, p & 255], axis=-1).astype(np.int32)

    colours, pal = channels(uniq), channels(palette)
    nearest = np.empty(len(uniq), dtype=np.uint8)
    for start in range(0, len(uniq), 4096):  # blocks of distinct colours, not pixels
        block = colours[start : start + 4096]
        nearest[start : start + 4096] = ((block[:, None, :] - pal[None]) ** 2).sum(-1).argmin(1)
    image = Image.frombytes("P", (w, h), nearest[inverse.ravel()].tobytes())
    image.putpalette(pal.astype(np.uint8).ravel().tolist())
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True, pnginfo=_png_info())
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
