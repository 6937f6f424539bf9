"""SYNTHETIC population raster (WorldPop style) and the H3 cells the process runs on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pyarrow as pa
import rasterio
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray

from ._common import F64, I64, Bool, _locate, _Names
from .boundaries import _Geo
from .spec import ScenarioSpec

_EXC_RING = (0.2, 0.045, 0.01)  # own cell, each ring-1 neighbour, each ring-2 neighbour


@dataclass
class _Raster:
    data: NDArray[np.float32]  # people per pixel, nodata outside
    mask: Bool
    transform: Any
    lon: F64  # pixel-centre coordinates of masked pixels
    lat: F64
    pop: F64  # people of masked pixels


POP_NODATA = -99999.0
POP_RES = 1.0 / 120.0  # 30 arc-seconds


def _population(rng: np.random.Generator, geo: _Geo, spec: ScenarioSpec) -> _Raster:
    lon_min, lat_min, lon_max, lat_max = spec.bbox
    w = int(math.ceil((lon_max - lon_min) / POP_RES - 1e-9))
    h = int(math.ceil((lat_max - lat_min) / POP_RES - 1e-9))
    transform = rasterio.Affine(POP_RES, 0.0, lon_min, 0.0, -POP_RES, lat_max)
    cols = lon_min + (np.arange(w) + 0.5) * POP_RES
    rows = lat_max - (np.arange(h) + 0.5) * POP_RES
    lon, lat = np.meshgrid(cols, rows)
    mask = shapely.contains_xy(geo.country, lon, lat)
    x, y = geo.frame.xy(lon, lat)
    xmin, xmax, ymin, ymax = x.min(), x.max(), y.min(), y.max()
    fieldv = np.zeros_like(x)
    for _ in range(30):  # smooth random field: a sum of broad bumps
        bx, by = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        s = rng.uniform(25.0, 90.0)
        fieldv += rng.normal() * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * s * s))
    fieldv /= max(float(fieldv[mask].std()), 1e-9)
    rural = np.exp(0.7 * fieldv) * rng.uniform(0.85, 1.15, size=x.shape) * mask
    total = float(spec.population_total)
    pop = rural * (0.58 * total / rural.sum())
    tx, ty = geo.frame.xy(geo.town_lon, geo.town_lat)
    smax = geo.town_share.max()
    for i in range(len(tx)):
        s = 1.5 + 5.0 * math.sqrt(geo.town_share[i] / smax)
        blob = np.exp(-((x - tx[i]) ** 2 + (y - ty[i]) ** 2) / (2 * s * s)) * mask
        pop += blob * (0.42 * total * geo.town_share[i] / blob.sum())
    pop *= total / pop[mask].sum()
    data = np.where(mask, pop, POP_NODATA).astype(np.float32)
    return _Raster(
        data=data,
        mask=mask,
        transform=transform,
        lon=lon[mask],
        lat=lat[mask],
        pop=pop[mask].astype(np.float64),
    )


def _place_villages(
    rng: np.random.Generator, geo: _Geo, ras: _Raster, n: int, names: _Names
) -> None:
    p = ras.pop / ras.pop.sum()
    idx = rng.choice(len(p), size=n, replace=False, p=p)
    lon = np.round(ras.lon[idx] + rng.uniform(-0.004, 0.004, n), 4)
    lat = np.round(ras.lat[idx] + rng.uniform(-0.004, 0.004, n), 4)
    ok = _locate(geo.adm2_geom, lon, lat) >= 0
    geo.place_lon = np.concatenate([geo.town_lon, lon[ok]])
    geo.place_lat = np.concatenate([geo.town_lat, lat[ok]])
    geo.place_name = np.asarray(geo.town_name + names.make(int(ok.sum())), dtype=str)



@dataclass
class _Cells:
    h3: NDArray[np.uint64]
    lon: F64
    lat: F64
    x: F64
    y: F64
    adm2: I64
    pop: F64
    ring: sp.csr_matrix  # excitation weights: own cell, ring 1, ring 2
    near: sp.csr_matrix  # binary ring <= 2 adjacency (with self)


def _build_cells(geo: _Geo, ras: _Raster, res: int) -> _Cells:
    h3c = np.sort(np.asarray(h3v.geometry_to_cells(geo.country, res)))
    rb = pa.record_batch(h3v.cells_to_coordinates(h3c))
    lat = np.asarray(rb.column("lat"), dtype=float)
    lon = np.asarray(rb.column("lng"), dtype=float)
    adm = _locate(geo.adm2_geom, lon, lat)
    ok = adm >= 0
    h3c, lon, lat, adm = h3c[ok], lon[ok], lat[ok], adm[ok]
    n = len(h3c)
    pix = np.asarray(h3v.coordinates_to_cells(ras.lat, ras.lon, res))
    pos = np.clip(np.searchsorted(h3c, pix), 0, n - 1)
    hit = h3c[pos] == pix
    pop = np.bincount(pos[hit], weights=ras.pop[hit], minlength=n).astype(np.float64)

    dd = pa.array(h3ronpy.grid_disk_distances(h3c, 2, flatten=False))
    cl = dd.field("cell")
    off = np.asarray(cl.offsets)
    nb = np.asarray(cl.values)
    kk = np.asarray(dd.field("k").values).astype(np.int64)
    rows = np.repeat(np.arange(n), np.diff(off))
    cpos = np.clip(np.searchsorted(h3c, nb), 0, n - 1)
    found = h3c[cpos] == nb
    rows, cols, kk = rows[found], cpos[found], kk[found]
    wts = np.asarray(_EXC_RING)[kk]
    ring = sp.csr_matrix((wts, (rows, cols)), shape=(n, n))
    near = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    x, y = geo.frame.xy(lon, lat)
    return _Cells(h3=h3c, lon=lon, lat=lat, x=x, y=y, adm2=adm, pop=pop, ring=ring, near=near)


def _write_population(path: Path, ras: _Raster) -> None:
    h, w = ras.data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=h,
        width=w,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=ras.transform,
        nodata=POP_NODATA,
        compress="deflate",
        predictor=3,
        tiled=True,
        blockxsize=256,
        blockysize=256,
    ) as dst:
        dst.write(ras.data, 1)
        dst.update_tags(
            DESCRIPTION="SYNTHETIC population of fictional Veridia (people per pixel)",
            UNITS="people per pixel",
        )
        dst.set_band_description(1, "SYNTHETIC population count")


