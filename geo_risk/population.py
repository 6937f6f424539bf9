"""Population per admin unit and per H3 cell, from a raster or a per-admin table.

* :func:`population_per_admin` sums a WorldPop-style raster (people per pixel) per admin unit:
  the admin polygons are rasterised on the raster's own grid (a pixel belongs to the unit that
  holds its centre), block by block, and summed with ``bincount``; memory stays flat for
  country-size rasters. Units too small to hold a pixel centre get the share of the pixel
  under them (by area), so no unit reads zero because it is small.
* :func:`geo_risk.index.population_per_cell` (re-exported here) sums the raster per H3 cell
  with sub-pixel area weighting.
* :func:`read_population_table` reads a per-admin table (e.g. an OCHA/WorldPop
  ``ssd_adm2_population_2020.csv`` keyed by ``ADM2_PCODE``) with every row accounted for, and
  :func:`spread_over_cells` spreads each unit's total over its cells in proportion to area.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import rasterio.windows
import shapely

from .errors import InputFileError, MissingInputError
from .index import population_per_cell
from .readers.common import InputReport, ReadResult, find_column, new_report
from .readers.tabular import blank, parse_numbers, read_table, unparsed
from .validate import Check, apply_checks

#: Column names tried, in order, when the config does not name the table's columns.
PCODE_CANDIDATES = ("admin_pcode", "ADM2_PCODE", "ADM3_PCODE", "ADM1_PCODE", "adm2_pcode",
                    "admin2Pcod", "pcode", "p_code", "#adm2+code", "#adm1+code")
POPULATION_CANDIDATES = ("population", "pop", "total", "pop_total", "total_population",
                         "T_TL", "#population", "#population+total")


def population_per_admin(*, path: Path, admin: gpd.GeoDataFrame,
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


def read_population_table(*, path: Path, admin_pcodes: np.ndarray | pd.Index,
                          pcode_column: str | None = None,
                          population_column: str | None = None,
                          name: str = "population") -> ReadResult:
    """Read a per-admin population table, accounting for every row.

    Rows are rejected (file, row, column, value, reason) when the P-code is missing, not in
    the boundaries or repeated, or the population is not a number >= 0.

    Returns
    -------
    ReadResult
        ``frame`` has ``admin_pcode``, ``population``, ``source_file``, ``source_row``.

    Raises
    ------
    InputFileError
        The file lacks a P-code or population column (the message lists the columns).
    """
    raw = read_table(path)
    f = raw.frame
    pc = find_column(f.columns, (pcode_column,) if pcode_column else PCODE_CANDIDATES)
    pop = find_column(f.columns, (population_column,) if population_column
                      else POPULATION_CANDIDATES)
    if pc is None or pop is None:
        which = [f"{k} (tried {', '.join(v)})" for k, v, found in (
            ("pcode_column", (pcode_column,) if pcode_column else PCODE_CANDIDATES, pc),
            ("population_column", (population_column,) if population_column
             else POPULATION_CANDIDATES, pop)) if found is None]
        raise InputFileError(raw.path, f"no column for {'; '.join(which)}. Its columns are "
                             f"{list(f.columns)}; name them in [population] pcode_column and "
                             "population_column.")
    report: InputReport = new_report(raw.path, name=name, kind="population", fmt="table",
                                     rows_read=len(f))
    code = f[pc].astype(str).str.strip()
    value = parse_numbers(f[pop])
    known = pd.Index(admin_pcodes).astype(str)
    frame = pd.DataFrame({"admin_pcode": code, "population": value,
                          "source_file": str(raw.path), "source_row": raw.rows})
    checks = [
        Check(blank(code).to_numpy(), pc, "P-code is missing"),
        Check(~code.isin(known).to_numpy() & ~blank(code).to_numpy(), pc,
              "P-code is not in the boundaries file; check the code or the boundaries vintage"),
        Check(unparsed(f[pop], value).to_numpy() | (value < 0).to_numpy(), pop,
              "population must be a number >= 0"),
        Check(blank(f[pop]).to_numpy(), pop, "population is missing"),
        Check(code.duplicated(keep="first").to_numpy() & ~blank(code).to_numpy(), pc,
              "duplicate P-code: the first row was kept"),
    ]
    accepted, rejects = apply_checks(frame, checks, raw=f)
    missing = known.difference(accepted["admin_pcode"])
    if len(missing):
        report.warnings.append(f"{len(missing)} admin unit(s) have no population in the table "
                               f"(e.g. {', '.join(missing[:5])}); their cells show no population")
    return ReadResult(frame=accepted, rejects=rejects, report=report)


def spread_over_cells(unit_population: pd.Series, *, cell_admin: np.ndarray,
                      area_km2: np.ndarray) -> np.ndarray:
    """Spread each unit's population over its cells in proportion to cell area.

    Cells of units missing from ``unit_population`` get NaN (unknown, not zero).
    """
    area = np.asarray(area_km2, dtype=float)
    units = pd.Series(np.asarray(cell_admin, dtype=object))
    unit_area = pd.Series(area).groupby(units.to_numpy()).transform("sum").to_numpy()
    unit_pop = units.map(unit_population).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(unit_area > 0, unit_pop * area / unit_area, np.nan)


__all__ = [
    "population_per_admin",
    "population_per_cell",
    "read_population_table",
    "spread_over_cells",
]
