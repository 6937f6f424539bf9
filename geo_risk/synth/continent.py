"""A SYNTHETIC multi-country "continent" to test the engines at scale (``--preset continent``).

Six fictional countries share a 24° x 20° box (about 1.1 M H3 res-7 cells) split into
countries, provinces (adm1) and districts (adm2) by Voronoi cells of random seeds
(``shapely.voronoi_polygons``), so borders are irregular and shared exactly. About 2.2 M
incidents over ten years are drawn, all arrays at once, from conflict hotspots (some
persistent, most flaring up and dying down) that strike in bursts at towns near their centre,
plus a thin background; they are written as one ACLED-style CSV. A per-district population
table stands in for a raster. Nothing here is real; every file says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from ..errors import ConfigError

#: Fictional country names of the continent (none is a real country).
COUNTRIES = ("Arvenia", "Belostra", "Corvanne", "Dastara", "Elmora", "Fenwick Union")
_TYPES = np.array(["Battles", "Violence against civilians", "Explosions/Remote violence",
                   "Riots", "Protests", "Strategic developments"])
_TYPE_P = np.array([0.34, 0.30, 0.12, 0.10, 0.09, 0.05])


@dataclass(frozen=True)
class ContinentSpec:
    """What the continent preset draws (defaults: >= 1 M res-7 cells, >= 2 M incidents).

    Parameters
    ----------
    start : str
        First Monday of the history.
    weeks : int
        Weeks of history (520 = ten years).
    bbox : tuple of float
        ``(lon_min, lat_min, lon_max, lat_max)`` of the continent.
    n_countries, n_adm1, n_adm2 : int
        Countries, provinces and districts (over the whole continent).
    n_towns, n_hotspots : int
        Places incidents are located at, and conflict hotspots.
    incidents : int
        Incidents drawn (about; background included).
    """

    start: str = "2016-01-04"
    weeks: int = 520
    bbox: tuple[float, float, float, float] = (12.0, -4.0, 36.0, 16.0)
    n_countries: int = 6
    n_adm1: int = 60
    n_adm2: int = 720
    n_towns: int = 12_000
    n_hotspots: int = 260
    incidents: int = 2_200_000


def _voronoi(seeds: np.ndarray, extent: shapely.Polygon) -> np.ndarray:
    """Voronoi polygon of each seed (in seed order), clipped to ``extent``."""
    pts = shapely.points(seeds)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=extent))
    tree = shapely.STRtree(cells)
    owner = tree.query(pts, predicate="within")
    order = np.empty(len(seeds), np.int64)
    order[owner[0]] = owner[1]
    return shapely.intersection(cells[order], extent)


def _geography(spec: ContinentSpec, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Districts (adm2) with their province and country, nested by construction."""
    x0, y0, x1, y1 = spec.bbox
    box = shapely.box(x0, y0, x1, y1)
    # every province and country grows from a district seed, so none is left empty
    a2_seed = rng.uniform((x0, y0), (x1, y1), size=(spec.n_adm2, 2))
    a1_seed, c_seed = a2_seed[:spec.n_adm1], a2_seed[:spec.n_countries]
    d2 = _voronoi(a2_seed, box)
    # a district belongs to the nearest province seed, a province to the nearest country seed
    a1_of = cKDTree(a1_seed).query(a2_seed)[1]
    c_of_a1 = cKDTree(c_seed).query(a1_seed)[1]
    country = c_of_a1[a1_of]
    iso = np.array([f"X{chr(65 + i)}" for i in range(spec.n_countries)])
    a1_code = np.char.add(iso[c_of_a1[a1_of]], np.char.zfill(a1_of.astype(str), 2))
    a2_code = np.char.add(a1_code, np.char.zfill(np.arange(spec.n_adm2).astype(str), 3))
    return gpd.GeoDataFrame({
        "ADM2_PCODE": a2_code, "ADM2_EN": np.char.add("District ", a2_code),
        "ADM1_PCODE": a1_code, "ADM1_EN": np.char.add("Province ", a1_code),
        "ADM0_PCODE": iso[country], "ADM0_EN": np.array(COUNTRIES * 4)[country]},
        geometry=d2, crs="EPSG:4326")


def _km(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    return np.column_stack([lon * 111.32 * np.cos(np.radians(lat0)), lat * 110.57])


def _incidents(spec: ContinentSpec, rng: np.random.Generator, towns: np.ndarray,
               town_pop: np.ndarray) -> pd.DataFrame:
    """Incident rows: hotspot bursts at towns near each hotspot, plus a background."""
    lat0 = (spec.bbox[1] + spec.bbox[3]) / 2
    h = spec.n_hotspots
    centre = towns[rng.choice(len(towns), size=h, p=town_pop / town_pop.sum())]
    sigma_km = rng.uniform(6.0, 35.0, h)
    persistent = rng.random(h) < 0.3
    first = np.where(persistent, 0, rng.integers(0, spec.weeks - 10, h))
    length = np.where(persistent, spec.weeks, rng.integers(10, 160, h))
    last = np.minimum(first + length, spec.weeks)
    intensity = rng.lognormal(0.0, 1.0, h) * (last - first)
    n_hot = int(spec.incidents * 0.92)
    per_hotspot = rng.multinomial(n_hot, intensity / intensity.sum())
    # bursts: an episode writes ~4 rows in one town and week (a clash, then its aftermath)
    n_ep = np.maximum(1, per_hotspot // 4)
    ep_hot = np.repeat(np.arange(h), n_ep)
    ep_week = rng.integers(first[ep_hot], np.maximum(first[ep_hot] + 1, last[ep_hot]))
    offset = rng.normal(0.0, 1.0, (len(ep_hot), 2)) * sigma_km[ep_hot, None]
    tree = cKDTree(_km(towns[:, 0], towns[:, 1], lat0))
    ep_town = tree.query(_km(centre[ep_hot, 0], centre[ep_hot, 1], lat0) + offset)[1]
    rows_ep = rng.multinomial(n_hot, np.full(len(ep_hot), 1.0 / len(ep_hot)))
    town = np.repeat(ep_town, rows_ep)
    week = np.repeat(ep_week, rows_ep)
    n_bg = spec.incidents - len(town)
    town = np.concatenate([town, rng.choice(len(towns), size=n_bg, p=town_pop / town_pop.sum())])
    week = np.concatenate([week, rng.integers(0, spec.weeks, n_bg)])
    n = len(town)
    day = (pd.Timestamp(spec.start) + pd.to_timedelta(week * 7 + rng.integers(0, 7, n), "D"))
    kind = rng.choice(len(_TYPES), size=n, p=_TYPE_P)
    fatalities = np.where(np.isin(kind, (0, 1, 2)), rng.negative_binomial(1, 0.4, n), 0)
    order = np.argsort(day.to_numpy(), kind="stable")
    return pd.DataFrame({
        "event_id_cnty": np.char.add("SYN", np.arange(1, n + 1).astype(str)),
        "event_date": day.strftime("%Y-%m-%d").to_numpy()[order],
        "event_type": _TYPES[kind][order],
        "civilian_targeting": np.where(kind == 1, "Civilian targeting", "")[order],
        "latitude": np.round(towns[town, 1], 4)[order],
        "longitude": np.round(towns[town, 0], 4)[order],
        "geo_precision": 1, "fatalities": fatalities[order],
        "notes": "SYNTHETIC"})


def generate_continent(*, out_dir: str | Path, seed: int = 42,
                       spec: ContinentSpec | None = None) -> dict[str, Path]:
    """Write the SYNTHETIC continent: boundaries, incidents, population table, config.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write (created).
    seed : int
        Random seed (the same seed gives the same files).
    spec : ContinentSpec, optional
        What to draw (default: the ``continent`` preset).

    Returns
    -------
    dict of str to Path
        The files written, by name (``config`` is the run configuration).
    """
    spec = spec or ContinentSpec()
    if not 1 <= spec.n_countries <= spec.n_adm1 <= spec.n_adm2 or spec.n_countries > 24:
        raise ConfigError("continent: need 1 <= n_countries <= n_adm1 <= n_adm2 "
                          "(and at most 24 countries)")
    if spec.weeks < 20 or spec.incidents < 100 or spec.n_towns < 10 or spec.n_hotspots < 1:
        raise ConfigError("continent: need weeks >= 20, incidents >= 100, n_towns >= 10 "
                          "and n_hotspots >= 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    admin = _geography(spec, rng)
    x0, y0, x1, y1 = spec.bbox
    towns = rng.uniform((x0, y0), (x1, y1), size=(spec.n_towns, 2))
    town_pop = rng.lognormal(8.0, 1.2, spec.n_towns)
    incidents = _incidents(spec, rng, towns, town_pop)
    files = {"boundaries": out / "boundaries.gpkg", "incidents": out / "incidents_acled.csv",
             "population": out / "population_adm2.csv", "config": out / "config.toml",
             "readme": out / "README.txt"}
    if files["boundaries"].exists():
        files["boundaries"].unlink()
    admin.to_file(files["boundaries"], layer="adm2", driver="GPKG")
    incidents.to_csv(files["incidents"], index=False)
    pop = rng.lognormal(12.0, 0.8, len(admin)).round()
    pd.DataFrame({"ADM2_PCODE": admin["ADM2_PCODE"], "population": pop}).to_csv(
        files["population"], index=False)
    forecast = date.fromisoformat(spec.start) + timedelta(weeks=spec.weeks)
    files["config"].write_text(_config(forecast), encoding="utf-8")
    files["readme"].write_text(
        "SYNTHETIC DATA: everything in this folder is invented. The countries "
        f"({', '.join(COUNTRIES[:spec.n_countries])}) are fictional; no event, place or number "
        f"is real.\nGenerated by geo-risk (geo_risk.synth.continent), seed {seed}: "
        f"{len(admin)} districts, {len(incidents)} incidents from {spec.start} over "
        f"{spec.weeks} weeks; forecast week {forecast.isoformat()}.\n", encoding="utf-8")
    return files


def _config(forecast: date) -> str:
    return f"""# geo-risk configuration for the SYNTHETIC continent (fictional countries)
title = "Continent weekly risk (SYNTHETIC scenario)"
synthetic = true
h3_resolution = 7
forecast_week = "{forecast.isoformat()}"

[boundaries]
path = "boundaries.gpkg"
layer = "adm2"
pcode_column = "ADM2_PCODE"
name_column = "ADM2_EN"
parent_pcode_column = "ADM1_PCODE"

[[incidents]]
path = "incidents_acled.csv"
format = "acled"

[population]
path = "population_adm2.csv"
pcode_column = "ADM2_PCODE"
population_column = "population"
"""
