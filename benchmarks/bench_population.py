"""Benchmark: population per H3 cell and per admin unit, exact coverage vs the former sampler.

Writes a synthetic WorldPop-style raster (EPSG:4326, 3 arc-second pixels, about 90 m) over a
synthetic country of admin units, and its GHS-POP-style twin (Mollweide, ESRI:54009, 100 m
pixels) holding the same density, then times in one run:

* **ours** (:func:`geo_risk.population.population_per_cell` / ``zonal_population``):
  exactextract, exact pixel-coverage weights, the polygons reprojected to the raster's CRS;
  on both rasters;
* **former** (kept below as the naive baseline, as it was in geo-risk before issue 14): per
  cell, each pixel split into at most 8 x 8 sub-pixel points indexed to H3 (EPSG:4326 only, a
  Mollweide raster stops it); per admin unit, pixel centres rasterised per block.

Prints wall time and totals (people in the raster, in the scored cells, per unit), and how far
the Mollweide totals are from the EPSG:4326 ones. Nothing is asserted; a temporary folder is
deleted at the end.

Run: ``.venv/bin/python benchmarks/bench_population.py [--degrees 2.0] [--res 7]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import h3.api.basic_int as h3int
import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
import rasterio.features
import rasterio.windows
import shapely
from rasterio.transform import from_origin
from shapely.geometry import box

from geo_risk.errors import InputFileError, MissingInputError
from geo_risk.index import cover_cells, points_to_cells
from geo_risk.population import population_per_cell, zonal_population

R_KM = 6371.0072
LON0, LAT0 = 30.0, 4.0


def density(lon: np.ndarray, lat: np.ndarray, degrees: float) -> np.ndarray:
    """People per km²: a few towns on a sparsely settled plain."""
    rng = np.random.default_rng(3)
    towns = rng.uniform([LON0, LAT0], [LON0 + degrees, LAT0 + degrees], size=(12, 2))
    out = np.full(np.broadcast(lon, lat).shape, 15.0)
    for tx, ty in towns:
        out += 1500.0 * np.exp(-(((lon - tx) / 0.05) ** 2 + ((lat - ty) / 0.05) ** 2))
    return out


def write_wgs84(path: Path, degrees: float, res: float = 1 / 1200) -> Path:
    n = int(round(degrees / res))
    lon = LON0 + (np.arange(n) + 0.5) * res
    lat = LAT0 + degrees - (np.arange(n) + 0.5) * res
    top, bottom = np.radians(lat + res / 2), np.radians(lat - res / 2)
    pix_km2 = R_KM**2 * np.radians(res) * (np.sin(top) - np.sin(bottom))
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
                       crs="EPSG:4326", nodata=-99999, tiled=True, compress="deflate",
                       transform=from_origin(LON0, LAT0 + degrees, res, res)) as dst:
        for row0 in range(0, n, 512):
            rows = slice(row0, min(n, row0 + 512))
            block = density(lon[None, :], lat[rows, None], degrees) * pix_km2[rows, None]
            dst.write(block.astype(np.float32), 1,
                      window=rasterio.windows.Window(0, row0, n, block.shape[0]))
    return path


def write_mollweide(path: Path, degrees: float, res_m: float = 100.0) -> Path:
    corners = gpd.GeoSeries([box(LON0, LAT0, LON0 + degrees, LAT0 + degrees)],
                            crs=4326).to_crs("ESRI:54009")
    x0, y0, x1, y1 = corners.total_bounds
    w, h = int((x1 - x0) // res_m), int((y1 - y0) // res_m)
    xs = x0 + (np.arange(w) + 0.5) * res_m
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32",
                       crs="ESRI:54009", nodata=-200, tiled=True, compress="deflate",
                       transform=from_origin(x0, y1, res_m, res_m)) as dst:
        for row0 in range(0, h, 256):
            ys = y1 - (np.arange(row0, min(h, row0 + 256)) + 0.5) * res_m
            gx, gy = np.meshgrid(xs, ys)
            ll = gpd.GeoSeries(gpd.points_from_xy(gx.ravel(), gy.ravel()),
                               crs="ESRI:54009").to_crs(4326)
            people = density(ll.x.to_numpy(), ll.y.to_numpy(), degrees) * (res_m / 1000) ** 2
            dst.write(people.reshape(gx.shape).astype(np.float32), 1,
                      window=rasterio.windows.Window(0, row0, w, gx.shape[0]))
    return path


def admin_units(degrees: float, n_side: int = 4) -> gpd.GeoDataFrame:
    """A country inset 0.05° from the raster's edge, cut into n_side x n_side units."""
    step = (degrees - 0.1) / n_side
    boxes = [box(LON0 + 0.05 + i * step, LAT0 + 0.05 + j * step,
                 LON0 + 0.05 + (i + 1) * step, LAT0 + 0.05 + (j + 1) * step)
             for i in range(n_side) for j in range(n_side)]
    return gpd.GeoDataFrame({"admin_pcode": [f"XB{k:02d}" for k in range(len(boxes))]},
                            geometry=boxes, crs=4326)


# ------------------------------------------------------------------------------------------
# The former approach, kept here as the baseline (geo-risk before issue 14).
# ------------------------------------------------------------------------------------------

def naive_per_cell(*, path: Path, cells: np.ndarray, resolution: int,
                        block_rows: int = 512) -> np.ndarray:
    """Sum a population raster (people per pixel, e.g. WorldPop) into H3 cells.

    Each pixel is split into ``s x s`` sub-pixels (value / s^2 each), with ``s`` chosen so a
    sub-pixel is at most a quarter of the cell edge: a close approximation to area weighting
    where cells cut pixels. Read block by block, so memory stays flat for large rasters.
    Population falling in cells outside ``cells`` is dropped (it is outside the boundaries).
    """
    if not path.exists():
        raise MissingInputError(path, "population raster not found.")
    cells = np.asarray(cells, dtype=np.uint64)
    order = np.argsort(cells)
    sorted_cells = cells[order]
    totals = np.zeros(len(cells), dtype=np.float64)
    edge_deg = h3int.average_hexagon_edge_length(resolution, unit="km") / 111.0
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as e:
        raise InputFileError(path, f"not a raster rasterio can open ({e}).") from None
    with src:
        if src.crs is None:
            raise InputFileError(path, "raster has no CRS; population rasters must be in WGS 84.")
        if src.crs.to_epsg() != 4326:
            raise InputFileError(path, f"raster CRS is {src.crs}; reproject it to EPSG:4326 "
                                 "(e.g. gdalwarp -t_srs EPSG:4326) first.")
        t = src.transform
        pix = max(abs(t.a), abs(t.e))
        s = int(min(8, max(1, np.ceil(pix / (edge_deg / 4)))))
        offs = (np.arange(s) + 0.5) / s
        nodata = src.nodata
        for row0 in range(0, src.height, block_rows):
            h = min(block_rows, src.height - row0)
            window = rasterio.windows.Window(0, row0, src.width, h)
            data = src.read(1, window=window, masked=False).astype(np.float64)
            valid = np.isfinite(data) & (data > 0)
            if nodata is not None:
                valid &= data != nodata
            r, c = np.nonzero(valid)
            if len(r) == 0:
                continue
            v = data[r, c] / (s * s)
            # sub-pixel centres in pixel coordinates, then to lon/lat by the affine transform
            fr = (r[:, None, None] + row0 + offs[None, :, None]).repeat(s, axis=2).ravel()
            fc = (c[:, None, None] + offs[None, None, :]).repeat(s, axis=1).ravel()
            x = t.c + fc * t.a + fr * t.b
            y = t.f + fc * t.d + fr * t.e
            sub = points_to_cells(lat=y, lon=x, resolution=resolution)
            pos = np.searchsorted(sorted_cells, sub)
            pos[pos >= len(sorted_cells)] = 0
            hit = sorted_cells[pos] == sub
            totals += np.bincount(order[pos[hit]], weights=np.repeat(v, s * s)[hit],
                                  minlength=len(cells))
    return totals



def naive_per_admin(*, path: Path, admin: gpd.GeoDataFrame,
                         block_rows: int = 512) -> pd.Series:
    """People per admin unit from a population raster.

    Parameters
    ----------
    path
        GeoTIFF (or any raster GDAL reads) of people per pixel, any CRS.
    admin
        Canonical admin units (``admin_pcode``, geometry); reprojected to the raster's CRS.
    block_rows
        Raster rows read and rasterised at a time.

    Returns
    -------
    pandas.Series
        Population indexed by ``admin_pcode`` (0 for units the raster does not cover).

    Raises
    ------
    MissingInputError, InputFileError
        Missing file, not a raster, or a raster without a CRS.
    """
    if not Path(path).exists():
        raise MissingInputError(path, "population raster not found. Check [population] path.")
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as e:
        raise InputFileError(path, f"not a raster rasterio can open ({e}).") from None
    n = len(admin)
    totals = np.zeros(n + 1, dtype=np.float64)
    with src:
        if src.crs is None:
            raise InputFileError(path, "raster has no CRS; save it with one (WorldPop rasters "
                                 "are EPSG:4326).")
        geoms = admin.geometry.to_crs(src.crs).reset_index(drop=True)
        tree = shapely.STRtree(geoms.to_numpy())
        nodata = src.nodata
        for row0 in range(0, src.height, block_rows):
            h = min(block_rows, src.height - row0)
            window = rasterio.windows.Window(0, row0, src.width, h)
            bounds = rasterio.windows.bounds(window, src.transform)
            hits = tree.query(shapely.box(*bounds))
            if len(hits) == 0:
                continue
            data = src.read(1, window=window, masked=False).astype(np.float64)
            valid = np.isfinite(data) & (data > 0)
            if nodata is not None and np.isfinite(nodata):
                valid &= data != nodata
            labels = rasterio.features.rasterize(
                ((geoms.iloc[i], int(i) + 1) for i in hits),  # one shape per unit in the block
                out_shape=(h, src.width), transform=src.window_transform(window), fill=0,
                dtype="int32")
            totals += np.bincount(labels[valid], weights=data[valid], minlength=n + 1)
        out = totals[1:]
        # Units holding no pixel centre: the value of the pixel under them, by area share.
        empty = np.flatnonzero(out == 0)
        if len(empty):
            pts = geoms.iloc[empty].representative_point()
            pix_area = abs(src.transform.a * src.transform.e)
            inside = ((pts.x >= src.bounds.left) & (pts.x <= src.bounds.right)
                      & (pts.y >= src.bounds.bottom) & (pts.y <= src.bounds.top)).to_numpy()
            if inside.any():
                xy = list(zip(pts.x[inside], pts.y[inside], strict=True))
                values = np.array([v[0] for v in src.sample(xy, indexes=1)], dtype=float)
                ok = np.isfinite(values) & (values > 0)
                if nodata is not None:
                    ok &= values != nodata
                share = np.minimum(1.0, geoms.iloc[empty[inside]].area.to_numpy() / pix_area)
                out[empty[inside]] = np.where(ok, values * share, 0.0)
    return pd.Series(out, index=admin["admin_pcode"].to_numpy(), name="population")


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"  {label:<44} {time.perf_counter() - t0:8.2f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--degrees", type=float, default=2.0, help="side of the square country")
    ap.add_argument("--res", type=int, default=7, help="H3 resolution")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"writing rasters over {args.degrees}° x {args.degrees}° ...", flush=True)
        wgs84 = write_wgs84(folder / "worldpop.tif", args.degrees)
        moll = write_mollweide(folder / "ghs_pop.tif", args.degrees)
        admin = admin_units(args.degrees)
        cells = cover_cells(admin, resolution=args.res)["cell"].to_numpy(np.uint64)
        with rasterio.open(wgs84) as src:
            raster_total = float(src.read(1, masked=True).sum())
            shape = f"{src.width} x {src.height}"
        inside = float(zonal_population(path=wgs84, areas=gpd.GeoSeries(
            [shapely.union_all(admin.geometry.to_numpy())], crs=4326))[0])
        print(f"raster {shape} pixels, {raster_total:,.0f} people; {inside:,.0f} inside the "
              f"{len(admin)} units; {len(cells):,} res-{args.res} cells")
        print("per cell:")
        new_cells = timed("ours, exactextract, EPSG:4326 raster", population_per_cell,
                          path=wgs84, cells=cells)
        moll_cells = timed("ours, exactextract, Mollweide raster", population_per_cell,
                           path=moll, cells=cells)
        old_cells = timed("former, sub-pixel points, EPSG:4326 only", naive_per_cell,
                          path=wgs84, cells=cells, resolution=args.res)
        print("per admin unit:")
        new_admin = timed("ours, exactextract, EPSG:4326 raster", zonal_population,
                          path=wgs84, areas=admin.geometry)
        moll_admin = timed("ours, exactextract, Mollweide raster", zonal_population,
                           path=moll, areas=admin.geometry)
        old_admin = timed("former, pixel centres rasterised", naive_per_admin,
                          path=wgs84, admin=admin).to_numpy()
        print("totals (people):")
        for label, cell_sum, unit_sum in (("ours, EPSG:4326", new_cells, new_admin),
                                          ("ours, Mollweide", moll_cells, moll_admin),
                                          ("former, EPSG:4326", old_cells, old_admin)):
            print(f"  {label:<20} cells {cell_sum.sum():14,.0f}   units {unit_sum.sum():14,.0f}"
                  f"   (units vs exact area inside: {unit_sum.sum() / inside - 1:+.3%})")
        diff_units = np.abs(moll_admin / new_admin - 1)
        diff_cells = np.abs(moll_cells / new_cells - 1)[new_cells > 100]
        print(f"Mollweide vs EPSG:4326 per unit: max {diff_units.max():.3%}; per cell with "
              f">100 people: median {np.median(diff_cells):.3%}")
        print(f"former vs ours per unit: max {np.abs(old_admin / new_admin - 1).max():.3%}; "
              f"per cell: max {np.abs(old_cells / new_cells - 1)[new_cells > 100].max():.3%}")


if __name__ == "__main__":
    main()
