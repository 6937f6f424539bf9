"""Simplifying admin boundaries for drawing without opening gaps or overlaps between them.

Boundaries form a *coverage*: neighbouring units share their borders. Simplifying each polygon
on its own (Douglas-Peucker) moves a shared border differently on each side, so neighbours
overlap and gaps open (about 22 km² of overlap on the real South Sudan counties at 0.002°).
:func:`shapely.coverage_simplify` (GEOS CoverageSimplifier) simplifies every shared edge once,
so it stays shared. Overlapping layers such as access restrictions are not a coverage and are
simplified polygon by polygon by their callers.
"""

from __future__ import annotations

import numpy as np
import shapely


def simplify_coverage(geoms: np.ndarray, *, tolerance: float) -> np.ndarray:
    """Simplify polygons that tile an area, keeping shared borders shared.

    Parameters
    ----------
    geoms
        Array of (multi)polygons, none missing or empty (filter them first).
    tolerance
        Simplification distance in the geometries' units (degrees for EPSG:4326); GEOS uses
        its square as the Visvalingam-Whyatt area threshold.

    Returns
    -------
    numpy.ndarray
        The simplified geometries, one per input, in the same order. Units that would shrink
        to nothing keep their original shape.
    """
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return geoms
    out = np.asarray(shapely.coverage_simplify(geoms, tolerance), dtype=object)
    lost = shapely.is_empty(out) | ~shapely.is_valid(out)
    out[lost] = geoms[lost]
    return out


__all__ = ["simplify_coverage"]
