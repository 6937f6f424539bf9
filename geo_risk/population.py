"""Population per H3 cell and per admin unit, from a raster in any projection or a per-admin table.

* :func:`zonal_population` sums a population raster (people per pixel: WorldPop in EPSG:4326,
  GHS-POP in Mollweide, Meta/HRSL, ...) inside any polygons with exact pixel-coverage weights
  (exactextract): a pixel half inside a polygon counts half. The polygons are brought into the
  raster's own CRS, so the raster is never resampled; nodata pixels count as no one. Polygons
  that tile an area (H3 cells, admin units) share the raster's people without loss or double
  counting. This is the only raster path: :func:`population_per_cell` calls it with the cell
  hexagons, and per admin unit it is called with the unit polygons.
* :func:`read_population_table` reads a per-admin table (e.g. an OCHA/WorldPop
  ``ssd_adm2_population_2020.csv`` keyed by ``ADM2_PCODE``) with every row accounted for, and
  :func:`spread_over_cells` spreads each unit's total over its cells in proportion to area.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
import rasterio.io
import shapely
from exactextract import exact_extract
from exactextract.feature import Feature, FeatureSource
from exactextract.raster import RasterioRasterSource
from exactextract.writer import Writer

from .errors import InputFileError, MissingInputError
from .index import cells_to_polygons
from .readers.common import InputReport, ReadResult, find_column, table_report, with_partial
from .readers.tabular import blank, parse_numbers, read_table, unparsed
from .validate import Check, apply_checks

#: Column names tried, in order, when the config does not name the table's columns.
PCODE_CANDIDATES = ("admin_pcode", "ADM2_PCODE", "ADM3_PCODE", "ADM1_PCODE", "adm2_pcode",
                    "admin2Pcod", "pcode", "p_code", "#adm2+code", "#adm1+code")
POPULATION_CANDIDATES = ("population", "pop", "total", "pop_total", "total_population",
                         "T_TL", "#population", "#population+total")


class _Polygon(Feature):
    """One polygon handed to exactextract as WKB, identified by its position."""

    def __init__(self, idx: int = -1, wkb: bytes | None = None) -> None:
        Feature.__init__(self)
        self.idx, self.wkb = idx, wkb
        self.values: dict[str, Any] = {}

    def geometry(self) -> bytes | None:
        return self.wkb

    def set_geometry(self, wkb: bytes | None) -> None:
        self.wkb = wkb

    def set_geometry_format(self) -> str:
        return "wkb"

    def get(self, name: str) -> Any:
        return self.idx if name == "idx" else self.values[name]

    def set(self, name: str, value: Any) -> None:
        if name == "idx":
            self.idx = int(value)
        else:
            self.values[name] = value

    def fields(self) -> list[str]:
        return ["idx", *self.values]


class _Polygons(FeatureSource):
    """Polygons already serialised to WKB in one vectorised call."""

    def __init__(self, wkb: np.ndarray, srs_wkt: str) -> None:
        super().__init__()
        self.wkb, self.wkt = wkb, srs_wkt

    def count(self) -> int:
        return len(self.wkb)

    def __iter__(self) -> Iterator[_Polygon]:
        return (_Polygon(i, w) for i, w in enumerate(self.wkb))

    def srs_wkt(self) -> str:
        return self.wkt


class _Sums(Writer):
    """Collects each polygon's sum into one array, by position."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.sums = np.zeros(n, dtype=np.float64)
        self._f = _Polygon()  # one receiver for every result: copy_to overwrites its fields

    def add_operation(self, op: Any) -> None:
        pass

    def add_column(self, col_name: str) -> None:
        pass

    def add_geometry(self) -> None:
        pass

    def write(self, feature: Any) -> None:
        f = self._f
        f.values.clear()
        feature.copy_to(f)
        value = f.values.get("sum")
        self.sums[f.idx] = 0.0 if value is None or not np.isfinite(value) else float(value)

    def features(self) -> np.ndarray:
        return self.sums


def _open_raster(path: Path) -> rasterio.io.DatasetReader:
    if not Path(path).exists():
        raise MissingInputError(path, "population raster not found. Check [population] path.")
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as e:
        raise InputFileError(path, f"not a raster rasterio can open ({e}).") from None
    if src.crs is None:
        src.close()
        raise InputFileError(path, "raster has no CRS (projection); save it with one, e.g. "
                             "gdal_edit.py -a_srs EPSG:4326 for WorldPop, ESRI:54009 for "
                             "GHS-POP.")
    return src


def zonal_population(*, path: Path, areas: gpd.GeoSeries) -> np.ndarray:
    """People inside each polygon, by exact pixel coverage, in the raster's own CRS.

    Parameters
    ----------
    path
        GeoTIFF (or any raster rasterio opens) of people per pixel in band 1, any CRS.
    areas
        Polygons with a CRS (H3 cells, admin units); reprojected to the raster's CRS.

    Returns
    -------
    numpy.ndarray
        One float per polygon, in order: the sum of pixel values weighted by the share of each
        pixel inside the polygon. Pixels equal to the raster's nodata value (or NaN) count as
        no one; polygons off the raster get 0.

    Raises
    ------
    MissingInputError, InputFileError
        Missing file, not a raster, a raster without a CRS, or a rotated raster.
    """
    if areas.crs is None:
        raise ValueError("areas need a CRS")
    n = len(areas)
    if n == 0:
        return np.zeros(0)
    with _open_raster(Path(path)) as src:
        projected = areas.to_crs(src.crs)
        ok = ~(projected.isna() | projected.is_empty).to_numpy()
        wkb = np.asarray(shapely.to_wkb(np.asarray(projected.to_numpy()[ok], dtype=object)),
                         dtype=object)
        try:
            raster = RasterioRasterSource(src, band_idx=1)
        except ValueError as e:  # rotated rasters
            raise InputFileError(path, f"{e} Warp it to a north-up grid first (gdalwarp)."
                                 ) from None
        sums = _Sums(len(wkb))
        # Raster-sequential: each block of the raster is read once for all polygons on it.
        exact_extract(raster, _Polygons(wkb, src.crs.to_wkt()), ["sum"], output=sums,
                      include_cols=["idx"], strategy="raster-sequential")
    out = np.zeros(n, dtype=np.float64)
    out[ok] = sums.sums
    return out


def population_per_cell(*, path: Path, cells: np.ndarray) -> np.ndarray:
    """People per H3 cell from a population raster in any CRS (see :func:`zonal_population`).

    Parameters
    ----------
    path
        Raster of people per pixel.
    cells
        H3 cell ids (``uint64``).

    Returns
    -------
    numpy.ndarray
        People per cell, aligned with ``cells``; people outside every cell are not counted.
    """
    return zonal_population(path=path, areas=cells_to_polygons(np.asarray(cells, np.uint64)))


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
    report: InputReport = table_report(raw, name=name, kind="population", fmt="table")
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
    return ReadResult(frame=accepted, rejects=with_partial(rejects, raw), report=report)


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
    "population_per_cell",
    "read_population_table",
    "spread_over_cells",
    "zonal_population",
]
