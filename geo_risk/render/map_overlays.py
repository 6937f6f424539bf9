"""The map page's overlays: admin units, access restrictions, bases and network reach."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_risk.errors import Problem, ValidationError
from geo_risk.render.coverage import simplify_coverage
from geo_risk.render.layers import UNIT_THEMES, bases_in_week
from geo_risk.render.map_checks import (
    _bool_or_missing,
    _category_scale,
    _check_crs,
    _codes,
    _int_or_missing,
    _require,
    _require_geometry,
)
from geo_risk.render.map_encode import _encode_shapes, _outline, _polygon_parts
from geo_risk.render.map_style import _KNOWN_ENGAGEMENT, BOUNDARY_SIMPLIFY_DEG, LEVEL_COLOURS


def _reach_outline(grid: pd.DataFrame, cells: np.ndarray, scale: int) -> dict[str, Any] | None:
    """Outline of the cells reachable from an open base along the network (``access_status``)."""
    if "access_status" not in grid.columns:
        return None
    sel = cells[(grid["access_status"].astype("string") == "reachable").fillna(False).to_numpy()]
    polys = _outline(sel)
    return _encode_shapes(polys, np.zeros(len(polys), dtype=np.int64), 1, scale) | {
        "nCells": int(sel.size)
    }



def _outside_mask(parts: np.ndarray, scale: int) -> dict[str, Any] | None:
    """The world outside the units, as one polygon with the units' outline as holes.

    Coarse display cells (H3 parents) overhang the border; the page paints this mask in the
    background colour over them, so the country keeps its shape at every zoom.
    """
    if len(parts) == 0:
        return None
    try:
        inside = shapely.coverage_union_all(parts)  # simplified as one coverage: edges shared
    except shapely.errors.GEOSException:  # not a clean coverage (overlapping units)
        inside = shapely.union_all(shapely.make_valid(parts))
    holes = [p.exterior for p in shapely.get_parts(inside) if p.geom_type == "Polygon"]
    if not holes:
        return None
    world = shapely.Polygon(shapely.box(-180, -85, 180, 85).exterior, holes)
    return _encode_shapes(np.array([world], dtype=object), np.zeros(1, dtype=np.int64), 1, scale)


def _boundaries_payload(
    boundaries: gpd.GeoDataFrame, scale: int
) -> tuple[dict[str, Any] | None, np.ndarray]:
    if not isinstance(boundaries, gpd.GeoDataFrame):
        raise ValidationError([Problem("boundaries", "boundaries must be a GeoDataFrame")])
    _require(boundaries, "boundaries", ("admin_pcode", "admin_name"))
    _require_geometry(boundaries, "boundaries")
    if len(boundaries) == 0:
        return None, np.zeros((0, 2))
    b = _check_crs(boundaries, "boundaries")
    geoms = np.asarray(b.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    simplified = simplify_coverage(geoms[present], tolerance=BOUNDARY_SIMPLIFY_DEG)
    parts, owner = _polygon_parts(simplified)
    kept = np.flatnonzero(present)
    # Labels sit on the largest part of each unit, on the surface (not the centroid).
    orig_parts, orig_owner = _polygon_parts(geoms[present])
    area = shapely.area(orig_parts)
    biggest = pd.Series(area).groupby(orig_owner).idxmax().to_numpy()
    label_pts = shapely.point_on_surface(orig_parts[biggest])
    label_owner = orig_owner[biggest]
    label_xy = np.full((len(kept), 2), np.nan)
    label_xy[label_owner] = shapely.get_coordinates(label_pts)
    payload: dict[str, Any] = {
        "shapes": _encode_shapes(parts, owner, len(kept), scale),
        "pcode": b["admin_pcode"].astype("string").fillna("").to_numpy(dtype=object)[kept].tolist(),
        "name": b["admin_name"].astype("string").fillna("").to_numpy(dtype=object)[kept].tolist(),
        "label": [
            None if np.isnan(x) else [round(float(y), 4), round(float(x), 4)] for x, y in label_xy
        ],
        "mask": _outside_mask(parts, scale),
    }
    for col, key, known in (("level", "level", LEVEL_COLOURS),
                            ("engagement_status", "engagement", _KNOWN_ENGAGEMENT)):
        if col in b.columns:
            codes, values = _codes(b[col].iloc[kept], tuple(known))
            payload[key] = {
                "codes": codes.tolist(),
                "values": values,
                "colours": _category_scale(values, known),
            }
    themes = _unit_themes(b, kept)
    if themes:
        payload["themes"] = themes
    if "engagements" in b.columns:  # empty where suppressed or withheld: never a count there
        payload["engagements"] = _int_or_missing(b["engagements"].iloc[kept]).tolist()
    if "priority_rank" in b.columns:
        payload["rank"] = _int_or_missing(b["priority_rank"].iloc[kept]).tolist()
    if "top_change" in b.columns:
        payload["topChange"] = (_bool_or_missing(b["top_change"].iloc[kept]) == 1).tolist()
    corners = shapely.bounds(parts)
    xy = np.vstack([corners[:, :2], corners[:, 2:]]) if len(parts) else np.zeros((0, 2))
    return payload, xy


def _unit_themes(b: pd.DataFrame, kept: np.ndarray) -> list[dict[str, Any]]:
    """Category themes of the units (:data:`geo_risk.render.layers.UNIT_THEMES`)."""
    out: list[dict[str, Any]] = []
    for t in UNIT_THEMES:
        if t.column in b.columns:
            codes, values = _codes(b[t.column].iloc[kept], tuple(t.colours))
            if not values:  # no unit has a value (e.g. no alert data): no theme
                continue
            out.append({"key": t.key, "label": t.label, "note": t.note,
                        "codes": codes.tolist(), "values": values,
                        "colours": _category_scale(values, t.colours)})
            if t.detail and t.detail in b.columns:
                out[-1]["detail"] = (b[t.detail].iloc[kept].astype("string").fillna("")
                                     .tolist())
    return out


def _restrictions_payload(
    restrictions: gpd.GeoDataFrame, week: dt.date, scale: int
) -> dict[str, Any] | None:
    if not isinstance(restrictions, gpd.GeoDataFrame):
        raise ValidationError([Problem("restrictions", "restrictions must be a GeoDataFrame")])
    _require(restrictions, "restrictions", ("cause", "severity"))
    _require_geometry(restrictions, "restrictions")
    if len(restrictions) == 0:
        return None
    r = _check_crs(restrictions, "restrictions")
    sev = pd.to_numeric(r["severity"], errors="coerce")
    bad = sev.isna() | ~sev.isin([1, 2, 3])
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError(
            [
                Problem(
                    "restrictions", "severity must be 1, 2 or 3", row=first + 2, column="severity"
                )
            ]
        )
    start = (
        pd.to_datetime(r["start_date"], errors="coerce")
        if "start_date" in r.columns
        else pd.Series(pd.NaT, index=r.index)
    )
    end = (
        pd.to_datetime(r["end_date"], errors="coerce")
        if "end_date" in r.columns
        else pd.Series(pd.NaT, index=r.index)
    )
    week_start = pd.Timestamp(week)
    week_end = week_start + pd.Timedelta(days=6)
    in_force = (start.isna() | (start <= week_end)) & (end.isna() | (end >= week_start))
    geoms = np.asarray(r.geometry.values, dtype=object)
    usable = in_force.to_numpy() & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kept = np.flatnonzero(usable)
    if kept.size == 0:
        return None
    simplified = shapely.simplify(geoms[kept], BOUNDARY_SIMPLIFY_DEG, preserve_topology=True)
    parts, owner = _polygon_parts(simplified)
    dropped = np.setdiff1d(np.arange(kept.size), owner)
    if dropped.size:
        warnings.warn(
            f"restrictions: {dropped.size} restriction(s) are not polygons and are not drawn; "
            "buffer points and lines to areas first",
            UserWarning,
            stacklevel=3,
        )

    def dates(s: pd.Series) -> list[str | None]:
        return [None if pd.isna(v) else v.date().isoformat() for v in s.iloc[kept]]

    ids = (
        r["restriction_id"].astype("string").fillna("").iloc[kept].tolist()
        if "restriction_id" in r.columns
        else [""] * kept.size
    )
    return {
        "shapes": _encode_shapes(parts, owner, kept.size, scale),
        "id": [str(v) for v in ids],
        "cause": [str(v) for v in r["cause"].astype("string").fillna("").iloc[kept]],
        "severity": sev.iloc[kept].astype(int).tolist(),
        "start": dates(start),
        "end": dates(end),
    }


def _bases_payload(
    bases: pd.DataFrame, week: dt.date, reach_km: float | None
) -> list[dict[str, Any]]:
    if not isinstance(bases, pd.DataFrame):
        raise ValidationError([Problem("bases", "bases must be a pandas DataFrame")])
    _require(bases, "bases", ("base_name", "lon", "lat"))
    lon = pd.to_numeric(bases["lon"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    lat = pd.to_numeric(bases["lat"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            [Problem("bases", "lon/lat missing or out of range", row=first + 2, column="lon")]
        )
    b = bases_in_week(bases=bases, week=week, reach_km=reach_km)

    def numbers(col: str) -> list[float | None]:
        if col not in b.columns:
            return [None] * len(b)
        vals = pd.to_numeric(b[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return [None if not np.isfinite(v) or v < 0 else float(v) for v in vals]

    names = b["base_name"].astype("string").fillna("").tolist()
    blat = pd.to_numeric(b["lat"]).to_numpy(dtype="float64")
    blon = pd.to_numeric(b["lon"]).to_numpy(dtype="float64")
    rows = zip(names, blat, blon, numbers("liaison_staff"), numbers("reach_km"), b["open"],
               b["closed_on"], strict=True)
    return [  # tens of bases, not cells
        {"name": str(name), "lat": round(float(y), 5), "lon": round(float(x), 5),
         "staff": None if s is None else round(s), "reachKm": r, "open": bool(o),
         "closed": None if pd.isna(c) else str(c)}
        for name, y, x, s, r, o, c in rows
    ]
