"""Numbers and shapes for the map page: probability rounding, compact vertex streams.

Vertices are quantised to integers (1e-4 degrees, about 11 m, at resolution <= 8), delta
encoded, zig-zag + varint packed and base64 encoded; ``map.js`` rebuilds the polygons.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from geo_risk.render.map_style import RISK_BREAKS


def quantise_probability(p: np.ndarray | pd.Series | Sequence[float]) -> np.ndarray:
    """Round probabilities to the precision the map displays, in units of 1e-4.

    Two significant digits: steps of 0.01 percentage points below 1 %, 0.1 pp below 10 %,
    1 pp above. NaN becomes -1.

    Parameters
    ----------
    p : array-like of float
        Probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray of int64
        Rounded values in units of 1e-4 (``1234`` is 12.34 %), -1 where ``p`` is NaN.
    """
    arr = np.asarray(p, dtype="float64")
    step = np.where(arr < 0.01, 1.0, np.where(arr < 0.1, 10.0, 100.0))
    units = np.round(np.nan_to_num(arr, nan=0.0) * 1e4 / step) * step
    return np.where(np.isnan(arr), -1, units).astype(np.int64)


def format_probability(units: int) -> str:
    """Format a value from :func:`quantise_probability` the way the page does.

    Parameters
    ----------
    units : int
        Probability in units of 1e-4; negative means missing.

    Returns
    -------
    str
        E.g. ``"0.42%"``, ``"3.4%"``, ``"27%"``, ``"<0.01%"`` or ``"n/a"``.
    """
    if units < 0:
        return "n/a"
    if units == 0:
        return "<0.01%"
    pct = units / 100
    if pct < 1:
        return f"{pct:.2f}%"
    if pct < 10:
        return f"{pct:.1f}%"
    return f"{pct:.0f}%"


def risk_class_labels() -> list[str]:
    """Legend text of the fixed probability classes (:data:`RISK_BREAKS`), lowest first."""
    units = [round(b * 1e4) for b in RISK_BREAKS]
    out = [f"< {format_probability(units[0])}"]
    out += [
        f"{format_probability(a)} \u2013 {format_probability(b)}"
        for a, b in zip(units[:-1], units[1:], strict=True)
    ]
    out.append(f"\u2265 {format_probability(units[-1])}")
    return out


def _coord_scale(resolution: int) -> int:
    """Integer units per degree for vertex quantisation (about 1/100 of a cell edge)."""
    return 10_000 if resolution <= 8 else 100_000 if resolution <= 11 else 1_000_000


def _varint_b64(values: np.ndarray) -> str:
    """Pack non-negative integers as LEB128 varints, base64 encoded."""
    v = np.asarray(values, dtype=np.uint64)
    if v.size == 0:
        return ""
    nbytes = np.ones(v.size, dtype=np.int64)
    rest = v >> np.uint64(7)
    while rest.any():
        nbytes += rest > 0
        rest >>= np.uint64(7)
    out = np.zeros(int(nbytes.sum()), dtype=np.uint8)
    pos = np.concatenate(([0], np.cumsum(nbytes)[:-1]))
    rest = v.copy()
    for k in range(int(nbytes.max())):
        live = nbytes > k
        byte = (rest[live] & np.uint64(0x7F)).astype(np.uint8)
        byte |= np.where(nbytes[live] > k + 1, 0x80, 0).astype(np.uint8)
        out[pos[live] + k] = byte
        rest >>= np.uint64(7)
    return base64.b64encode(out.tobytes()).decode("ascii")


def _rle_varint_b64(values: np.ndarray) -> str:
    """Run-length encode as (value, run length) varint pairs, base64 encoded."""
    v = np.asarray(values, dtype=np.int64)
    if v.size == 0:
        return ""
    starts = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    runs = np.diff(np.append(starts, v.size))
    return _varint_b64(np.column_stack([v[starts], runs]).ravel())


def _zigzag(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d, dtype=np.int64)
    return ((d << 1) ^ (d >> 63)).astype(np.uint64)


#: Rings up to this many vertices whose predecessor has the same count (single hexagons, in
#: practice) are coded relative to that predecessor's shape: second-order deltas near zero.
_SHAPE_RING_MAX = 12


def _canonical_starts(q: np.ndarray, verts_per_ring: np.ndarray) -> np.ndarray:
    """Rotate each small ring to start at the vertex pointing closest to a common direction.

    H3 gives neighbouring hexagons' vertices in the same cyclic order but from different
    starting vertices; starting all of them at the same corner makes :func:`_ring_deltas`'
    second-order steps near zero. The direction is the grid's own hexagon orientation (a
    vertex direction, found from all 6-vertex rings), so the choice is never a near tie.
    """
    starts = np.cumsum(verts_per_ring) - verts_per_ring
    hexes = np.flatnonzero(verts_per_ring == 6)
    if hexes.size == 0:
        return q
    pts = q[starts[hexes][:, None] + np.arange(6)].astype("float64")
    rel = pts - pts.mean(axis=1, keepdims=True)
    ang6 = 6 * np.arctan2(rel[..., 1], rel[..., 0])
    phi = np.arctan2(np.sin(ang6).sum(), np.cos(ang6).sum()) / 6
    phi0 = phi + (np.pi / 3) * np.round((np.pi / 2 - phi) / (np.pi / 3))
    out = q.copy()
    for length in np.unique(
        verts_per_ring[(verts_per_ring >= 3) & (verts_per_ring <= _SHAPE_RING_MAX)]
    ):
        rings = np.flatnonzero(verts_per_ring == length)  # one pass per ring length, not per ring
        idx = starts[rings][:, None] + np.arange(length)
        pts = q[idx].astype("float64")
        rel = pts - pts.mean(axis=1, keepdims=True)
        off = np.angle(np.exp(1j * (np.arctan2(rel[..., 1], rel[..., 0]) - phi0)))
        k = np.argmin(np.abs(off), axis=1)
        out[idx] = q[starts[rings][:, None] + (np.arange(length) + k[:, None]) % length]
    return out


def _ring_deltas(q: np.ndarray, verts_per_ring: np.ndarray) -> np.ndarray:
    """Integer deltas for interleaved vertices ``q`` (N x 2), as ``map.js`` decodes them.

    A ring's first vertex is relative to the previous ring's first vertex; each later vertex
    is relative to the vertex before it, minus the same step of the previous ring when both
    rings have the same small vertex count (neighbouring hexagons are near-identical).
    """
    n_rings = verts_per_ring.size
    starts = np.cumsum(verts_per_ring) - verts_per_ring
    ring_of = np.repeat(np.arange(n_rings), verts_per_ring)
    pos = np.arange(len(q)) - starts[ring_of]
    d1 = np.empty_like(q)
    d1[1:] = q[1:] - q[:-1]
    first = pos == 0
    prev_start = np.concatenate(([-1], starts[:-1]))
    ps = prev_start[ring_of[first]]
    d1[first] = q[first] - np.where((ps >= 0)[:, None], q[np.maximum(ps, 0)], 0)
    same = np.zeros(n_rings, dtype=bool)
    same[1:] = (verts_per_ring[1:] == verts_per_ring[:-1]) & (verts_per_ring[1:] <= _SHAPE_RING_MAX)
    second = same[ring_of] & ~first
    idx = np.flatnonzero(second)
    d = d1.copy()
    d[idx] = d1[idx] - d1[idx - verts_per_ring[ring_of[idx]]]
    return d


def _encode_shapes(
    polygons: np.ndarray, item_of_polygon: np.ndarray, n_items: int, scale: int
) -> dict[str, Any]:
    """Encode polygons (sorted by item) as compact varint streams the page decodes.

    ``p``: polygons per item, ``r``: rings per polygon and ``v``: vertices per ring (closing
    vertex dropped), both run-length encoded (mostly 1 and 6 when cells are drawn one by
    one), ``c``: zig-zag integer lon/lat deltas (see :func:`_ring_deltas`).
    """
    polygons = np.asarray(polygons, dtype=object)
    polys_per_item = np.bincount(item_of_polygon.astype(np.int64), minlength=n_items)
    if polygons.size == 0:
        return {"n": n_items, "p": _varint_b64(polys_per_item), "r": "", "v": "", "c": ""}
    rings, ring_poly = shapely.get_rings(polygons, return_index=True)
    rings_per_poly = np.bincount(ring_poly, minlength=polygons.size)
    xy, vert_ring = shapely.get_coordinates(rings, return_index=True)
    verts_per_ring = np.bincount(vert_ring, minlength=rings.size)
    keep = np.ones(len(xy), dtype=bool)
    nonempty = verts_per_ring > 0
    keep[(np.cumsum(verts_per_ring) - 1)[nonempty]] = False
    xy = xy[keep]
    verts_per_ring = verts_per_ring - nonempty
    q = _canonical_starts(np.round(xy * scale).astype(np.int64), verts_per_ring)
    deltas = _ring_deltas(q, verts_per_ring).ravel()
    return {
        "n": n_items,
        "p": _varint_b64(polys_per_item),
        "r": _rle_varint_b64(rings_per_poly),
        "v": _rle_varint_b64(verts_per_ring),
        "c": _varint_b64(_zigzag(deltas)),
    }


def _wkb_array_to_shapely(arr: Any) -> np.ndarray:
    return np.asarray(shapely.from_wkb(pa.array(arr).to_numpy(zero_copy_only=False)))


def _dissolve_groups(cells_sorted: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outline each group of cells (``cells_sorted`` grouped, ``counts`` per group).

    Returns polygons and the group of each polygon, sorted by group.
    """
    ends = np.cumsum(counts)
    starts = ends - counts
    parts: list[pa.Array] = []
    owners: list[np.ndarray] = []
    single = counts == 1
    if single.any():
        # One cell: its hexagon, in one vectorised call.
        parts.append(pa.array(h3v.cells_to_wkb_polygons(cells_sorted[starts[single]])))
        owners.append(np.flatnonzero(single))
    multi = np.flatnonzero(~single)
    for gi in multi:  # one call per group, not per cell
        parts.append(pa.array(h3v.cells_to_wkb_polygons(cells_sorted[starts[gi] : ends[gi]],
                                                        link_cells=True)))
    if multi.size:
        owners.append(np.repeat(multi, [len(p) for p in parts[-multi.size:]]))
    if not parts:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    # WKB to shapely once for all groups, not once per group.
    wkb = pa.chunked_array(parts).to_numpy()
    # h3o's linking returns polygons, holes and ring starts in no fixed order: normalise them
    # and sort each group's polygons by position, so the same grid always gives the same page.
    polygons = shapely.normalize(np.asarray(shapely.from_wkb(wkb)))
    owner = np.concatenate(owners).astype(np.int64)
    bounds = shapely.bounds(polygons)
    order = np.lexsort((bounds[:, 0], bounds[:, 1], owner))
    return polygons[order], owner[order]


def _outline(cells: np.ndarray) -> np.ndarray:
    """The outline of a set of cells as polygons (deterministic order)."""
    if cells.size == 0:
        return np.empty(0, dtype=object)
    polygons, _ = _dissolve_groups(np.sort(cells), np.array([cells.size], dtype=np.int64))
    return polygons


def _polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explode (multi)polygons into polygons; non-polygonal parts are dropped."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    is_poly = shapely.get_type_id(parts) == 3
    parts, owner = parts[is_poly], owner[is_poly]
    nonempty = ~shapely.is_empty(parts)
    return parts[nonempty], owner[nonempty].astype(np.int64)



def _json_for_script(obj: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )

