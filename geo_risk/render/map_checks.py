"""Input checks and small column codecs for the map page (one place for both maps)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import geopandas as gpd
import h3ronpy
import numpy as np
import pandas as pd
import pyarrow as pa

from geo_risk.errors import Problem, ValidationError
from geo_risk.render.map_style import _PALETTE, _PROB_COLUMNS, _REQUIRED_GRID


def _category_scale(values: Sequence[str], known: Mapping[str, str]) -> list[str]:
    colours: list[str] = []
    spare = iter(_PALETTE * (1 + len(values) // len(_PALETTE)))
    for value in values:
        key = value.strip().lower()
        colours.append(known[key] if key in known else next(spare))
    return colours


def _codes(series: pd.Series, order: Sequence[str] = ()) -> tuple[np.ndarray, list[str]]:
    """Factorize text (missing -> -1) into codes and plain-str values.

    Values named in ``order`` (case-insensitive) come first in that order, the rest sorted.
    """
    text = series.astype("string").str.strip()
    text = text.mask(text == "")
    codes, uniques = pd.factorize(text, sort=True, use_na_sentinel=True)
    values = [str(u) for u in uniques]
    rank = {v: i for i, v in enumerate(order)}
    new_order = sorted(
        range(len(values)), key=lambda i: (rank.get(values[i].lower(), len(rank)), i)
    )
    remap = np.empty(len(values) + 1, dtype=np.int64)
    remap[-1] = -1
    remap[np.asarray(new_order, dtype=np.int64)] = np.arange(len(values))
    return remap[np.asarray(codes, dtype=np.int64)], [values[i] for i in new_order]


def _int_or_missing(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isnan(values), -1, np.round(np.nan_to_num(values, nan=0.0))).astype(np.int64)


def _bool_or_missing(series: pd.Series) -> np.ndarray:
    """1 true, 0 false, -1 missing; accepts bools, numbers and yes/no/true/false text."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = pd.to_numeric(series, errors="coerce").astype("float64")
        flag = values.to_numpy(dtype="float64", na_value=np.nan)
        return np.where(np.isnan(flag), -1, flag != 0).astype(np.int64)
    text = series.astype("string").str.strip().str.lower()
    truthy = text.isin(["1", "true", "yes", "y", "t"]).fillna(False).to_numpy(dtype=bool)
    falsy = text.isin(["0", "false", "no", "n", "f"]).fillna(False).to_numpy(dtype=bool)
    return np.where(truthy, 1, np.where(falsy, 0, -1)).astype(np.int64)



def _cells_array(series: pd.Series) -> np.ndarray | None:
    """H3 cells as uint64, accepting integer ids or hexadecimal strings; None if unusable."""
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy().astype(np.uint64)
    if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        try:
            parsed = h3ronpy.cells_parse(series.astype(str).tolist(), set_failing_to_invalid=True)
        except (ValueError, TypeError):
            return None
        arr = pa.array(parsed)
        return arr.fill_null(0).to_numpy(zero_copy_only=False).astype(np.uint64)
    return None


def _prepare_grid(grid: pd.DataFrame, resolution: int) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(grid, pd.DataFrame):
        raise ValidationError([Problem("grid", "grid must be a pandas DataFrame")])
    problems: list[Problem] = []
    missing = [c for c in _REQUIRED_GRID if c not in grid.columns]
    for col in missing:
        problems.append(Problem("grid", "required column is missing", column=col))
    if problems:
        raise ValidationError(problems)
    if len(grid) == 0:
        raise ValidationError([Problem("grid", "grid has no rows; nothing to map")])
    cells = _cells_array(grid["cell"])
    if cells is None:
        raise ValidationError([Problem("grid", "cell must hold uint64 H3 indexes", column="cell")])
    valid = np.asarray(h3ronpy.cells_valid(cells, booleanarray=True))
    if not valid.all():
        first = int(np.flatnonzero(~valid)[0])
        problems.append(
            Problem(
                "grid", f"{int((~valid).sum())} invalid H3 cell(s)", row=first + 2, column="cell"
            )
        )
    else:
        res = np.asarray(h3ronpy.cells_resolution(cells))
        wrong = res != resolution
        if wrong.any():
            first = int(np.flatnonzero(wrong)[0])
            problems.append(
                Problem(
                    "grid",
                    f"{int(wrong.sum())} cell(s) are not at resolution {resolution} "
                    f"(first is resolution {int(res[first])}); set meta.h3_resolution to match",
                    row=first + 2,
                    column="cell",
                )
            )
    dup = pd.Series(cells).duplicated().to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        problems.append(
            Problem("grid", f"{int(dup.sum())} duplicate cell(s)", row=first + 2, column="cell")
        )
    for col in ("risk", *_PROB_COLUMNS):
        if col not in grid.columns:
            continue
        vals = pd.to_numeric(grid[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad_type = np.isnan(vals) & grid[col].notna().to_numpy()
        out = ~np.isnan(vals) & ((vals < 0) | (vals > 1))
        if col == "risk":
            out |= np.isnan(vals)
        bad = bad_type | out
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            what = "a number" if col != "risk" else "a number (not missing)"
            problems.append(
                Problem(
                    "grid",
                    f"{int(bad.sum())} value(s) are not {what} between 0 and 1",
                    row=first + 2,
                    column=col,
                )
            )
    if problems:
        raise ValidationError(problems)
    return grid, cells


def _check_crs(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise ValidationError(
            [Problem(name, "has no CRS; set it, e.g. gdf.set_crs('EPSG:4326')", column="geometry")]
        )
    if gdf.crs.to_epsg() != 4326:
        warnings.warn(
            f"{name}: CRS is {gdf.crs.to_string()}, not EPSG:4326; reprojecting for the map",
            UserWarning,
            stacklevel=4,
        )
        gdf = gdf.to_crs(4326)
    return gdf


def _require(df: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValidationError(
            [Problem(name, "required column is missing", column=c) for c in missing]
        )


def _require_geometry(gdf: gpd.GeoDataFrame, name: str) -> None:
    try:
        gdf.geometry  # noqa: B018 - raises when there is no active geometry column
    except AttributeError as exc:
        raise ValidationError(
            [Problem(name, "has no active geometry column", column="geometry")]
        ) from exc

