"""A weekly run on real South Sudan COD-AB counties with an OLD-STYLE ACLED export.

The events are generated here, inside the real county polygons; the boundaries and the
population table are the real files in ../shared/data (skipped when absent, failed under CI=true).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import SHARED_DATA, require_files

from geo_risk.config import load_config
from geo_risk.pipeline import load_inputs, run_week

SHP = SHARED_DATA / "boundaries" / "ssd_admbnda_adm2_imwg_nbs_20180817.shp"
POP = SHARED_DATA / "tables" / "ssd_adm2_population_2020.csv"
pytestmark = pytest.mark.realdata


@pytest.fixture(autouse=True)
def _real_files() -> None:
    require_files(SHP, POP)

HOT = "SS0308"  # Pibor
OLD_COLUMNS = ["ISO", "EVENT_ID_CNTY", "EVENT_ID_NO_CNTY", "EVENT_DATE", "YEAR",
               "TIME_PRECISION", "EVENT_TYPE", "ACTOR1", "ALLY_ACTOR_1", "INTER1", "ACTOR2",
               "ALLY_ACTOR_2", "INTER2", "INTERACTION", "REGION", "COUNTRY", "ADMIN1", "ADMIN2",
               "ADMIN3", "LOCATION", "LATITUDE", "LONGITUDE", "GEO_PRECISION", "SOURCE",
               "SOURCE_SCALE", "NOTES", "FATALITIES"]
WEEK = "2024-07-01"


def points_in(geom: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n random points inside a polygon (rejection sampling, vectorised)."""
    minx, miny, maxx, maxy = geom.bounds
    out = np.empty((0, 2))
    shapely.prepare(geom)
    while len(out) < n:
        xy = rng.uniform([minx, miny], [maxx, maxy], size=(4 * n + 10, 2))
        out = np.vstack([out, xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])]])
    return out[:n]


def old_acled(admin: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    units = admin.set_index("ADM2_PCODE")
    weeks = pd.date_range("2023-01-02", "2024-06-24", freq="7D")
    n_hot, n_bg = 3 * len(weeks), len(weeks)
    hot_xy = points_in(units.geometry[HOT], n_hot, rng)
    bg_codes = rng.choice(units.index.drop(HOT).to_numpy(), n_bg)
    bg_xy = np.vstack([points_in(units.geometry[c], 1, rng) for c in bg_codes])
    codes = np.concatenate([np.full(n_hot, HOT), bg_codes])
    xy = np.vstack([hot_xy, bg_xy])
    days = (np.repeat(weeks, 3).append(weeks) + pd.to_timedelta(
        rng.integers(0, 7, n_hot + n_bg), unit="D"))
    n = len(codes)
    vac = np.arange(n) < n_hot
    return pd.DataFrame({
        "ISO": 728, "EVENT_ID_CNTY": [f"SSD{i}" for i in range(1, n + 1)],
        "EVENT_ID_NO_CNTY": np.arange(1, n + 1),
        "EVENT_DATE": days.strftime("%d-%b-%y"), "YEAR": days.year, "TIME_PRECISION": 1,
        "EVENT_TYPE": np.where(vac, "Violence against civilians", "Battles-No change of territory"),
        "ACTOR1": "Unidentified Armed Group (South Sudan)", "ALLY_ACTOR_1": "", "INTER1": 3,
        "ACTOR2": np.where(vac, "Civilians (South Sudan)", "Military Forces of South Sudan"),
        "ALLY_ACTOR_2": "", "INTER2": np.where(vac, 7, 1), "INTERACTION": 37,
        "REGION": "Eastern Africa", "COUNTRY": "South Sudan",
        "ADMIN1": units.loc[codes, "ADM1_EN"].to_numpy(),
        "ADMIN2": units.loc[codes, "ADM2_EN"].to_numpy(), "ADMIN3": "", "LOCATION": "",
        "LATITUDE": xy[:, 1].round(4), "LONGITUDE": xy[:, 0].round(4), "GEO_PRECISION": 1,
        "SOURCE": "Test", "SOURCE_SCALE": "Local", "NOTES": "generated inside real polygons",
        "FATALITIES": rng.integers(0, 4, n),
    }, columns=OLD_COLUMNS)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("ssd")
    admin = gpd.read_file(SHP)
    df = old_acled(admin, np.random.default_rng(7))
    # Admin-precision events, as ACLED codes them: county named, geo precision 3. Some carry
    # the county centroid, some no coordinates, names misspelt; one name matches nothing.
    extra = df.iloc[:6].copy()
    extra["EVENT_ID_CNTY"] = [f"SSDX{i}" for i in range(6)]
    extra["EVENT_DATE"] = "20-Jun-24"
    extra["GEO_PRECISION"] = 3
    extra["ADMIN1"] = "Central Equatoria"
    extra["ADMIN2"] = ["Kajo Keji", "KAJO-KEJI", "Kajokeji County", "Kajo Keji", "Kajo-keji",
                       "Atlantis"]
    extra[["LATITUDE", "LONGITUDE"]] = extra[["LATITUDE", "LONGITUDE"]].astype(object)
    extra.loc[extra.index[:3], ["LATITUDE", "LONGITUDE"]] = ""
    kajo = admin.set_index("ADM2_PCODE").geometry["SS0102"].representative_point()
    extra.loc[extra.index[3:5], "LATITUDE"] = round(kajo.y, 4)
    extra.loc[extra.index[3:5], "LONGITUDE"] = round(kajo.x, 4)
    extra.loc[extra.index[5], ["LATITUDE", "LONGITUDE"]] = ""
    df = pd.concat([df, extra], ignore_index=True)
    df.to_csv(folder / "acled_old.csv", index=False, encoding="latin-1")
    (folder / "config.toml").write_text(f"""title = "South Sudan test run"
h3_resolution = 6
stale_after_days = 30
[boundaries]
path = "{SHP.as_posix()}"
pcode_column = "ADM2_PCODE"
name_column = "ADM2_EN"
parent_pcode_column = "ADM1_PCODE"
[[incidents]]
path = "acled_old.csv"
format = "acled"
[population]
path = "{POP.as_posix()}"
pcode_column = "ADM2_PCODE"
population_column = "population"
[model]
# The input side is under test here: a fast baseline scorer keeps the run short.
kind = "historical_average"
training_weeks = 40
""", encoding="utf-8")
    return folder / "config.toml", df


def test_weekly_run_on_real_counties(scenario: tuple[Path, pd.DataFrame]) -> None:
    cfg_path, df = scenario
    cfg = load_config(cfg_path)
    now = pd.Timestamp("2024-07-01")
    inputs = load_inputs(cfg, now=now)
    reports = {r.kind: r for r in inputs.reports}
    inc = reports["incidents"]
    assert inc.rows_read == len(df) == inc.rows_accepted + inc.rows_rejected
    assert inc.rows_rejected == 1  # "Atlantis", no coordinates
    rej = inputs.rejects.iloc[0]
    assert rej["column"] == "admin2" and rej["value"] == "Atlantis" and rej["row"] == len(df) + 1
    pop = reports["population"]
    assert (pop.rows_read, pop.rows_rejected) == (79, 0)
    # Events from generated points land in the county they were drawn in.
    placed = inputs.incidents.set_index("event_id")
    truth = df.set_index("EVENT_ID_CNTY")
    sample = placed.index[placed.index.str.match(r"SSD\d")]
    names = inputs.admin.set_index("admin_pcode")["admin_name"]
    assert (placed.loc[sample, "admin_pcode"].map(names)
            == truth.loc[sample, "ADMIN2"]).mean() > 0.99
    # Admin-precision events count in Kajo-keji but stay off the hex grid.
    adm = placed.loc[[f"SSDX{i}" for i in range(5)]]
    assert (adm["admin_pcode"] == "SS0102").all() and (adm["cell"] == 0).all()

    r = run_week(cfg, week=WEEK, inputs=inputs)
    m = r.matrix.set_index("admin_pcode")
    assert r.matrix.iloc[0]["admin_pcode"] == HOT
    assert m.loc["SS0102", "incidents_4w"] >= 5
    total = pd.read_csv(POP)["population"].sum()
    assert r.grid["population"].sum() == pytest.approx(total, rel=1e-6)
    assert not any("STALE" in w for w in inputs.warnings)
