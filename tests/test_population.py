"""Population per admin unit (raster, table) and per H3 cell."""

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
from geo_risk.errors import InputFileError
from geo_risk.index import cell_areas_km2, cover_cells
from geo_risk.population import (
    population_per_admin,
    population_per_cell,
    read_population_table,
    spread_over_cells,
)
from geo_risk.readers import read_boundaries


@pytest.fixture()
def admin(tmp_path: Path) -> gpd.GeoDataFrame:
    p = write_boundaries(tmp_path / "b.gpkg")
    return read_boundaries(BoundariesConfig(path=p, layer="adm2", pcode_column="ADM2_PCODE",
                                            name_column="ADM2_EN"))


def test_raster_summed_per_admin_block_by_block(tmp_path: Path,
                                                admin: gpd.GeoDataFrame) -> None:
    path = write_population(tmp_path / "pop.tif")  # 10 people per 30" pixel over 30-31E, 5-6N
    whole = population_per_admin(path=path, admin=admin)
    blocks = population_per_admin(path=path, admin=admin, block_rows=7)
    assert whole.to_dict() == pytest.approx({p: 10 * 60 * 60 for p in whole.index})
    pd.testing.assert_series_equal(whole, blocks)


def test_raster_with_nodata_other_crs_and_tiny_unit(tmp_path: Path,
                                                    admin: gpd.GeoDataFrame) -> None:
    # A raster in Web Mercator with a nodata hole; a unit smaller than one pixel.
    path = tmp_path / "merc.tif"
    x0, y0 = 3339584.72, 669141.06  # ~30E, ~6N
    res = 1000.0
    data = np.full((120, 120), 5.0, dtype=np.float32)
    data[:10, :10] = -1
    with rasterio.open(path, "w", driver="GTiff", width=120, height=120, count=1,
                       dtype="float32", crs="EPSG:3857", nodata=-1,
                       transform=from_origin(x0, y0, res, res)) as dst:
        dst.write(data, 1)
    tiny = gpd.GeoDataFrame({"admin_pcode": ["T1"], "admin_name": ["Tiny"]},
                            geometry=[box(30.5, 5.5, 30.5009, 5.5009)], crs=4326)
    units = pd.concat([admin, tiny], ignore_index=True)
    out = population_per_admin(path=path, admin=units)
    # Independent count: pixel centres, reprojected, inside the 30-31E 5-6N square.
    cols, rows = np.meshgrid(np.arange(120) + 0.5, np.arange(120) + 0.5)
    centres = gpd.GeoSeries(gpd.points_from_xy(x0 + cols.ravel() * res, y0 - rows.ravel() * res),
                            crs=3857).to_crs(4326)
    inside = ((centres.x > 30) & (centres.x < 31) & (centres.y > 5) & (centres.y < 6)
              ).to_numpy() & (data.ravel() > 0)
    assert out.drop("T1").sum() == pytest.approx(5.0 * inside.sum())
    assert 0 < out["T1"] < 5.0
    with pytest.raises(InputFileError):
        population_per_admin(path=tmp_path / "b.gpkg", admin=admin)


def test_per_cell_agrees_with_per_admin(tmp_path: Path, admin: gpd.GeoDataFrame) -> None:
    path = write_population(tmp_path / "pop.tif")
    cover = cover_cells(admin, resolution=7)
    cells = population_per_cell(path=path, cells=cover["cell"].to_numpy(), resolution=7)
    per_unit = pd.Series(cells).groupby(cover["admin_pcode"].to_numpy()).sum()
    expected = population_per_admin(path=path, admin=admin)
    assert (abs(per_unit - expected) / expected).max() < 0.03


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
