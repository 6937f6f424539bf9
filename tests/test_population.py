"""Population per admin unit and per H3 cell: rasters in any CRS, and per-admin tables."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from conftest import SHARED_DATA, write_boundaries, write_population
from rasterio.transform import from_origin
from shapely.geometry import box

from geo_risk.config import BoundariesConfig
from geo_risk.errors import InputFileError, MissingInputError
from geo_risk.index import cell_areas_km2, cover_cells, neighbour_pairs
from geo_risk.population import (
    population_per_cell,
    read_population_table,
    spread_over_cells,
    zonal_population,
)
from geo_risk.readers import read_boundaries


@pytest.fixture()
def admin(tmp_path: Path) -> gpd.GeoDataFrame:
    p = write_boundaries(tmp_path / "b.gpkg")
    return read_boundaries(BoundariesConfig(path=p, layer="adm2", pcode_column="ADM2_PCODE",
                                            name_column="ADM2_EN"))


R_KM = 6371.0072  # authalic radius: areas below are those of an equal-area projection


def density(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A smooth population density (people per km²): a town near (30.4E, 5.6N) on a plain."""
    return 20.0 + 800.0 * np.exp(-(((lon - 30.4) / 0.08) ** 2 + ((lat - 5.6) / 0.06) ** 2))


def write_wgs84_twin(path: Path, res: float = 1 / 120) -> Path:
    """WorldPop-style raster: people per 30-arc-second pixel over 29.9-31.1E, 4.9-6.1N."""
    n = int(round(1.2 / res))
    lon = 29.9 + (np.arange(n) + 0.5) * res
    lat = 6.1 - (np.arange(n) + 0.5) * res
    top, bottom = np.radians(lat + res / 2), np.radians(lat - res / 2)
    pix_km2 = R_KM**2 * np.radians(res) * (np.sin(top) - np.sin(bottom))
    people = density(lon[None, :], lat[:, None]) * pix_km2[:, None]
    people[:6, :6] = -99999  # a nodata corner, outside the units
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float64",
                       crs="EPSG:4326", nodata=-99999,
                       transform=from_origin(29.9, 6.1, res, res)) as dst:
        dst.write(people, 1)
    return path


def write_mollweide_twin(path: Path, res_m: float = 400.0) -> Path:
    """GHS-POP-style raster (ESRI:54009, 400 m pixels) of the same density and area."""
    corners = gpd.GeoSeries([box(29.9, 4.9, 31.1, 6.1)], crs=4326).to_crs("ESRI:54009")
    x0, y0, x1, y1 = corners.total_bounds
    w, h = int((x1 - x0) // res_m), int((y1 - y0) // res_m)
    xs = x0 + (np.arange(w) + 0.5) * res_m
    ys = y1 - (np.arange(h) + 0.5) * res_m
    gx, gy = np.meshgrid(xs, ys)
    pts = gpd.GeoSeries(gpd.points_from_xy(gx.ravel(), gy.ravel()), crs="ESRI:54009")
    ll = pts.to_crs(4326)
    people = (density(ll.x.to_numpy(), ll.y.to_numpy()) * (res_m / 1000) ** 2).reshape(h, w)
    people[-3:, -3:] = np.nan  # NaN as Meta/HRSL rasters write "no data"
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float64",
                       crs="ESRI:54009", nodata=np.nan,
                       transform=from_origin(x0, y1, res_m, res_m)) as dst:
        dst.write(people, 1)
    return path


def test_mollweide_raster_gives_the_totals_of_its_wgs84_twin(
        tmp_path: Path, admin: gpd.GeoDataFrame) -> None:
    wgs84 = write_wgs84_twin(tmp_path / "worldpop.tif")
    moll = write_mollweide_twin(tmp_path / "ghs_pop.tif")
    per_unit_4326 = zonal_population(path=wgs84, areas=admin.geometry)
    per_unit_moll = zonal_population(path=moll, areas=admin.geometry)
    np.testing.assert_allclose(per_unit_moll, per_unit_4326, rtol=0.005)
    assert per_unit_4326.sum() == pytest.approx(per_unit_moll.sum(), rel=0.005)
    cells = cover_cells(admin, resolution=7)["cell"].to_numpy()
    per_cell_4326 = population_per_cell(path=wgs84, cells=cells)
    per_cell_moll = population_per_cell(path=moll, cells=cells)
    assert per_cell_moll.sum() == pytest.approx(per_cell_4326.sum(), rel=0.005)
    # the town's cells agree too, not only the totals
    town = per_cell_4326 > np.quantile(per_cell_4326, 0.99)
    np.testing.assert_allclose(per_cell_moll[town], per_cell_4326[town], rtol=0.02)


def test_cells_share_the_raster_without_loss_or_double_count(
        tmp_path: Path, admin: gpd.GeoDataFrame) -> None:
    path = write_population(tmp_path / "pop.tif")  # 10 people per 30" pixel over 30-31E, 5-6N
    inner = cover_cells(admin, resolution=7)["cell"].to_numpy()
    _, ring, _ = neighbour_pairs(inner, k=1)  # one ring more: every pixel is under a cell
    cells = np.union1d(inner, ring)
    per_cell = population_per_cell(path=path, cells=cells)
    assert per_cell.sum() == pytest.approx(10 * 120 * 120, rel=1e-9)
    # cells by centre (the scored grid) hold all but the people of the outer half-cells
    scored = np.isin(cells, inner)
    assert 0.98 < per_cell[scored].sum() / (10 * 120 * 120) < 1.0
    per_unit = zonal_population(path=path, areas=admin.geometry)
    assert per_unit.sum() == pytest.approx(10 * 120 * 120, rel=1e-9)
    assert per_unit == pytest.approx(np.full(len(admin), 10 * 120 * 120 / len(admin)))


def test_nodata_is_no_one_and_a_unit_smaller_than_a_pixel_gets_its_share(
        tmp_path: Path) -> None:
    path = tmp_path / "merc.tif"
    x0, y0, res = 3339584.72, 669141.06, 1000.0  # ~30E, ~6N, 1 km pixels in Web Mercator
    data = np.full((20, 20), 5.0, dtype=np.float32)
    data[:10, :10] = -1
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1,
                       dtype="float32", crs="EPSG:3857", nodata=-1,
                       transform=from_origin(x0, y0, res, res)) as dst:
        dst.write(data, 1)
    whole = gpd.GeoSeries([box(x0, y0 - 20 * res, x0 + 20 * res, y0)], crs=3857).to_crs(4326)
    # a quarter of one pixel, in the raster's CRS; and a polygon off the raster
    quarter = gpd.GeoSeries([box(x0 + 15 * res, y0 - 15.5 * res, x0 + 15.5 * res, y0 - 15 * res),
                             box(0, 0, 10, 10)], crs=3857).to_crs(4326)
    out = zonal_population(path=path, areas=pd.concat([whole, quarter], ignore_index=True))
    assert out[0] == pytest.approx(5.0 * 300, rel=1e-3)  # 400 pixels minus 100 nodata
    assert out[1] == pytest.approx(5.0 / 4, rel=1e-3)
    assert out[2] == 0.0


def test_population_raster_errors_name_the_file(tmp_path: Path,
                                                admin: gpd.GeoDataFrame) -> None:
    with pytest.raises(MissingInputError, match="not found"):
        zonal_population(path=tmp_path / "none.tif", areas=admin.geometry)
    not_raster = write_boundaries(tmp_path / "b.gpkg")
    with pytest.raises(InputFileError, match="b.gpkg"):
        zonal_population(path=not_raster, areas=admin.geometry)
    no_crs = tmp_path / "nocrs.tif"
    with rasterio.open(no_crs, "w", driver="GTiff", width=2, height=2, count=1,
                       dtype="float32", transform=from_origin(30, 6, 0.5, 0.5)) as dst:
        dst.write(np.ones((2, 2), dtype=np.float32), 1)
    with pytest.raises(InputFileError, match="no CRS"):
        zonal_population(path=no_crs, areas=admin.geometry)


def test_table_rows_accounted_and_spread(tmp_path: Path, admin: gpd.GeoDataFrame) -> None:
    p = tmp_path / "pop.csv"
    pd.DataFrame({"ADM2_PCODE": ["XT0101", "XT0102", "XT0201", "XT9999", "XT0101", ""],
                  "name": ["Alpha", "Bravo", "Charlie", "Ghost", "Alpha", ""],
                  "population": ["1000", "2000", "n/a", "5", "7", "3"]}).to_csv(p, index=False)
    res = read_population_table(path=p, admin_pcodes=admin["admin_pcode"].to_numpy())
    assert len(res.frame) + len(res.rejects) == res.report.rows_read == 6
    reasons = res.rejects.set_index("row")["reason"]
    assert "number" in reasons[4] and "not in the boundaries" in reasons[5]
    assert "duplicate" in reasons[6] and "missing" in reasons[7]
    assert "XT0201" in res.report.warnings[0]
    cover = cover_cells(admin, resolution=7)
    area = cell_areas_km2(cover["cell"].to_numpy())
    unit = res.frame.set_index("admin_pcode")["population"]
    spread = spread_over_cells(unit, cell_admin=cover["admin_pcode"].to_numpy(), area_km2=area)
    got = pd.Series(spread).groupby(cover["admin_pcode"].to_numpy()).sum(min_count=1)
    assert got["XT0101"] == pytest.approx(1000) and got["XT0102"] == pytest.approx(2000)
    assert np.isnan(got["XT0201"])
    with pytest.raises(InputFileError, match="population_column"):
        read_population_table(path=p, admin_pcodes=admin["admin_pcode"].to_numpy(),
                              population_column="pop_2020")


@pytest.mark.realdata
def test_real_population_table_joins_by_pcode() -> None:
    shp = SHARED_DATA / "boundaries" / "ssd_admbnda_adm2_imwg_nbs_20180817.shp"
    table = SHARED_DATA / "tables" / "ssd_adm2_population_2020.csv"
    if not (shp.exists() and table.exists()):
        pytest.skip("../shared/data not present")
    admin = read_boundaries(BoundariesConfig(path=shp, pcode_column="ADM2_PCODE",
                                             name_column="ADM2_EN"))
    res = read_population_table(path=table, admin_pcodes=admin["admin_pcode"].to_numpy())
    assert res.rejects.empty and len(res.frame) == len(admin) == 79
    total = pd.read_csv(table)["population"].sum()
    assert res.frame["population"].sum() == pytest.approx(total)
    juba = res.frame.set_index("admin_pcode").loc["SS0101", "population"]
    assert juba == pytest.approx(419956.19, rel=1e-6)
    cover = cover_cells(admin, resolution=6)
    spread = spread_over_cells(res.frame.set_index("admin_pcode")["population"],
                               cell_admin=cover["admin_pcode"].to_numpy(),
                               area_km2=cell_areas_km2(cover["cell"].to_numpy()))
    assert np.nansum(spread) == pytest.approx(total, rel=1e-9)
