"""Boundaries simplified for the map and PNG stay a coverage: neighbours neither overlap nor
part."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import SHARED_DATA

from geo_risk.render.coverage import simplify_coverage
from geo_risk.render.map import BOUNDARY_SIMPLIFY_DEG

SSD = SHARED_DATA / "boundaries" / "ssd_admbnda_adm2_imwg_nbs_20180817.shp"


def overlap_km2(geoms: np.ndarray) -> float:
    """Total area shared by pairs of polygons (equal-area CRS), in km²."""
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    pair = a < b
    inter = shapely.intersection(geoms[a[pair]], geoms[b[pair]])
    return float(gpd.GeoSeries(inter, crs=4326).to_crs("EPSG:6933").area.sum() / 1e6)


def two_units_with_a_wiggly_border() -> np.ndarray:
    """Two units sharing one meandering border (a river-like line, 401 vertices)."""
    rng = np.random.default_rng(1)
    y = np.linspace(0.0, 1.0, 401)
    x = 0.5 + 0.05 * np.sin(7 * y) + np.cumsum(rng.normal(0.0, 0.0015, len(y)))
    border = list(zip(x, y, strict=True))
    west = shapely.Polygon([(0, 0), *border, (0, 1)])
    east = shapely.Polygon([(1, 0), (1, 1), *border[::-1]])
    return np.array([west, east], dtype=object)


def test_coverage_simplify_keeps_a_shared_border_shared() -> None:
    units = two_units_with_a_wiggly_border()
    assert overlap_km2(units) < 1e-6
    each_alone = shapely.simplify(units, 0.002, preserve_topology=True)
    simplified = simplify_coverage(units, tolerance=0.002)
    assert shapely.get_num_coordinates(simplified).sum() < shapely.get_num_coordinates(units).sum()
    assert overlap_km2(each_alone) > 0.05  # the old way: the two sides move apart
    assert overlap_km2(simplified) < 1e-6
    # and no gap opens: together they still cover the square
    union = shapely.union_all(simplified)
    assert union.area == pytest.approx(1.0, rel=1e-9)


def test_simplify_coverage_of_nothing_is_nothing() -> None:
    assert simplify_coverage(np.array([], dtype=object), tolerance=0.002).size == 0


@pytest.mark.realdata
@pytest.mark.skipif(not SSD.exists(), reason="../shared/data not present")
def test_real_south_sudan_counties_do_not_overlap_after_simplification() -> None:
    counties = gpd.read_file(SSD).to_crs(4326)
    geoms = np.asarray(counties.geometry.values, dtype=object)
    simplified = simplify_coverage(geoms, tolerance=BOUNDARY_SIMPLIFY_DEG)
    assert len(simplified) == len(geoms) == 79
    assert shapely.is_valid(simplified).all()
    assert shapely.get_num_coordinates(simplified).sum() < 0.5 * shapely.get_num_coordinates(
        geoms).sum()
    old = shapely.simplify(geoms, BOUNDARY_SIMPLIFY_DEG, preserve_topology=True)
    assert overlap_km2(old) > 10.0  # ~22 km² with polygon-by-polygon simplification
    assert overlap_km2(simplified) < 0.01  # the source file itself has ~1e-5 km²
    # the country keeps its area: no gaps open between neighbours
    total = gpd.GeoSeries(geoms, crs=4326).to_crs("EPSG:6933").area.sum()
    kept = gpd.GeoSeries(simplified, crs=4326).to_crs("EPSG:6933").area.sum()
    assert kept == pytest.approx(total, rel=1e-3)
