"""Shared fixtures: a small real-format scenario written by the tests themselves."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Browsers on PATH, in order of preference, when playwright has no browser build of its own.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def in_ci() -> bool:
    """True when the environment variable CI is 'true' (as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test, or fail it under CI=true: in CI nothing may vanish silently."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run here, not be skipped)",
                    pytrace=False)
    pytest.skip(reason)


def require_files(*paths: Path) -> None:
    """Skip (fail under CI=true) unless the real data files exist (../shared/data)."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        skip_or_fail(f"real data not present: {missing[0]} (../shared/data)")


def find_chromium(chromium_type: Any) -> str | None:
    """The browser to launch: playwright's own build if installed, else one on PATH.

    ``chromium_type`` is playwright's ``p.chromium``. Returns an executable path or None.
    """
    try:
        own = chromium_type.executable_path
    except Exception:
        own = ""
    if own and Path(own).exists():
        return str(own)
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for all browser tests (skipped, or failed under CI=true,
    when playwright or a browser is missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        path = find_chromium(p.chromium)
        if path is None:
            skip_or_fail("no browser: playwright has no Chromium build and none of "
                         f"{', '.join(BROWSER_NAMES)} is on PATH (apt-get install chromium)")
        b = p.chromium.launch(executable_path=path, args=BROWSER_ARGS)
        yield b
        b.close()

# Four 0.5-degree square districts in two provinces around (30.5, 5.5).
UNITS = [
    ("XT0101", "Alpha", "XT01", box(30.0, 5.0, 30.5, 5.5)),
    ("XT0102", "Bravo", "XT01", box(30.5, 5.0, 31.0, 5.5)),
    ("XT0201", "Charlie", "XT02", box(30.0, 5.5, 30.5, 6.0)),
    ("XT0202", "Delta", "XT02", box(30.5, 5.5, 31.0, 6.0)),
]
HOTSPOT = (30.25, 5.25)  # inside Alpha
ACLED_COLUMNS = [
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2",
    "admin3", "location", "latitude", "longitude", "geo_precision", "source", "source_scale",
    "notes", "fatalities", "tags", "timestamp",
]


def write_boundaries(path: Path, *, old_style: bool = False) -> Path:
    pc, nm = ("admin2Pcod", "admin2Name") if old_style else ("ADM2_PCODE", "ADM2_EN")
    gdf = gpd.GeoDataFrame({pc: [u[0] for u in UNITS], nm: [u[1] for u in UNITS],
                            "ADM1_PCODE": [u[2] for u in UNITS]},
                           geometry=[u[3] for u in UNITS], crs="EPSG:4326")
    gdf.to_file(path, layer="adm2", driver="GPKG")
    return path


def acled_rows(n_weeks: int = 80, seed: int = 1, start: str = "2023-01-02") -> pd.DataFrame:
    """Weekly events: a persistent hotspot in Alpha, sparse noise elsewhere."""
    rng = np.random.default_rng(seed)
    rows = []
    weeks = pd.date_range(start, periods=n_weeks, freq="7D")
    k = 0
    for w in weeks:
        n_hot = rng.poisson(3)
        n_bg = rng.poisson(0.5)
        for i in range(n_hot + n_bg):
            hot = i < n_hot
            lon = HOTSPOT[0] + rng.normal(0, 0.03) if hot else rng.uniform(30.0, 31.0)
            lat = HOTSPOT[1] + rng.normal(0, 0.03) if hot else rng.uniform(5.0, 6.0)
            day = w + pd.Timedelta(days=int(rng.integers(0, 7)))
            k += 1
            rows.append({
                "event_id_cnty": f"XTT{k}", "event_date": day.strftime("%d %B %Y"),
                "year": day.year, "time_precision": 1, "disorder_type": "Political violence",
                "event_type": "Violence against civilians" if hot else "Battles",
                "sub_event_type": "Attack" if hot else "Armed clash", "actor1": "Group A",
                "assoc_actor_1": "", "inter1": "Rebel group", "actor2": "Civilians (Testland)",
                "assoc_actor_2": "", "inter2": "Civilians", "interaction": "",
                "civilian_targeting": "Civilian targeting" if hot else "", "iso": 999,
                "region": "Eastern Africa", "country": "Testland", "admin1": "", "admin2": "",
                "admin3": "", "location": "", "latitude": round(lat, 4),
                "longitude": round(lon, 4), "geo_precision": 1, "source": "Test",
                "source_scale": "Local", "notes": "test", "fatalities": int(rng.integers(0, 3)),
                "tags": "", "timestamp": 1700000000,
            })
    return pd.DataFrame(rows, columns=ACLED_COLUMNS)


def write_population(path: Path) -> Path:
    res = 1 / 120
    width, height = int(1.0 / res), int(1.0 / res)
    data = np.full((height, width), 10.0, dtype=np.float32)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs="EPSG:4326", nodata=-99999,
                       transform=from_origin(30.0, 6.0, res, res)) as dst:
        dst.write(data, 1)
    return path


def write_config(folder: Path, *, extra: str = "") -> Path:
    cfg = folder / "config.toml"
    cfg.write_text(f"""title = "Test run"
synthetic = true
h3_resolution = 7
[boundaries]
path = "boundaries.gpkg"
layer = "adm2"
pcode_column = "ADM2_PCODE"
name_column = "ADM2_EN"
parent_pcode_column = "ADM1_PCODE"
[[incidents]]
path = "acled.csv"
format = "acled"
[[consultations]]
path = "kobo.csv"
format = "kobo"
[[access_restrictions]]
path = "restrictions.geojson"
[population]
path = "population.tif"
[bases]
path = "bases.csv"
[model]
training_weeks = 40
n_estimators = 60
n_seeds = 1
{extra}""", encoding="utf-8")
    return cfg


def write_kobo(path: Path) -> Path:
    rows = []
    for i in range(30):
        near = i < 24
        rows.append({
            "start": "2024-05-01T08:00:00.000+03:00", "end": "2024-05-01T09:00:00.000+03:00",
            "meeting/meeting_date": (pd.Timestamp("2024-05-01") + pd.Timedelta(days=i)
                                     ).strftime("%Y-%m-%d"),
            "meeting/modality": "community_meeting", "meeting/base": "Base One",
            "location/admin2": "XT0202",
            "_location/gps_latitude": 5.76 if near else "",
            "_location/gps_longitude": 30.76 if near else "",
            "participants/total": 12, "participants/women": 5, "participants/youth": 3,
            "topics": "security land", "safety_score": 3, "commitments/made": "yes",
            "commitments/follow_up": "pending", "facilitator_name": "Jane Doe",
            "facilitator_phone": "+211 900 000 000", "notes": "private note",
            "_id": 1000 + i, "_uuid": f"uuid-{i}", "_submission_time": "2024-05-02T10:00:00",
        })
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture()
def mini_scenario(tmp_path: Path) -> Path:
    """A tiny, complete input folder with a config; returns the config path."""
    return write_mini_scenario(tmp_path)


def write_mini_scenario(tmp_path: Path) -> Path:
    """Write the tiny scenario of :func:`mini_scenario` into a folder; returns the config."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_boundaries(tmp_path / "boundaries.gpkg")
    acled_rows().to_csv(tmp_path / "acled.csv", index=False)
    write_kobo(tmp_path / "kobo.csv")
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"restriction_id": "R1", "start_date": "2024-01-01",
                                           "end_date": None, "cause": "armed_group",
                                           "severity": "high"},
         "geometry": {"type": "Polygon", "coordinates": [[[30.0, 5.0], [30.2, 5.0], [30.2, 5.2],
                                                          [30.0, 5.2], [30.0, 5.0]]]}},
        {"type": "Feature", "properties": {"restriction_id": "R2", "start_date": "2024-02-01",
                                           "end_date": "2024-02-20", "cause": "terrain_weather",
                                           "severity": "low", "radius_km": 3},
         "geometry": {"type": "Point", "coordinates": [30.7, 5.7]}},
    ]}
    (tmp_path / "restrictions.geojson").write_text(json.dumps(fc), encoding="utf-8")
    pd.DataFrame({"base_name": ["Base One"], "lon": [30.75], "lat": [5.75],
                  "open_date": ["2020-01-01"], "close_date": [""], "liaison_staff": [2]}
                 ).to_csv(tmp_path / "bases.csv", index=False)
    write_population(tmp_path / "population.tif")
    return write_config(tmp_path)
