"""One weekly run on a small real-format scenario: what the outputs say, not that they exist."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from conftest import HOTSPOT

from geo_risk.config import load_config
from geo_risk.errors import ConfigError
from geo_risk.outputs import write_outputs
from geo_risk.pipeline import load_inputs, run_week

WEEK = "2024-07-03"  # a Wednesday: the run normalises to Monday 2024-07-01


@pytest.fixture()
def result(mini_scenario: Path):  # type: ignore[no-untyped-def]
    cfg = load_config(mini_scenario)
    return cfg, run_week(cfg, week=WEEK, now=pd.Timestamp("2025-01-01"))


def test_hotspot_cells_rank_at_the_top(result) -> None:  # type: ignore[no-untyped-def]
    _, r = result
    assert str(r.week.date()) == "2024-07-01"
    top = r.grid.nlargest(10, "risk")
    hot = h3.str_to_int(h3.latlng_to_cell(HOTSPOT[1], HOTSPOT[0], 7))
    assert hot in set(top["cell"])
    assert (top["admin_pcode"] == "XT0101").all()
    # probabilities are probabilities, and the hotspot is far above the background
    assert r.grid["risk"].between(0, 1).all()
    assert top["risk"].min() > 20 * r.grid["risk"].median()
    # the matrix puts the hotspot district first, with a level above the others
    assert r.matrix.iloc[0]["admin_pcode"] == "XT0101"
    assert r.matrix.iloc[0]["likelihood"] > r.matrix["likelihood"].iloc[1:].max()


def test_scores_are_calibrated_in_aggregate(result) -> None:  # type: ignore[no-untyped-def]
    _, r = result
    # the fixture has ~3.5 events/week, most in a handful of hotspot cells: the expected
    # number of cells with an event is of that order, not 0 and not hundreds.
    assert 1.0 < r.grid["risk"].sum() < 6.0


def test_counts_add_up_and_access_is_marked(result) -> None:  # type: ignore[no-untyped-def]
    _, r = result
    for rep in r.inputs.reports:
        assert rep.rows_read == rep.rows_accepted + rep.rows_rejected
    g = r.grid
    # R1 (open-ended polygon in the SW of Alpha) is in force; R2 ended in February.
    assert g.loc[g["restricted"], "admin_pcode"].unique().tolist() == ["XT0101"]
    assert g["restricted"].sum() > 10
    assert r.matrix.set_index("admin_pcode").loc["XT0101", "restricted_share"] > 0.1
    # population raster (10 people per 30" pixel) reaches every cell
    assert abs(g["population"].sum() - 10 * 120 * 120) / (10 * 120 * 120) < 0.02
    # incidents_4w counts only the 4 weeks before the forecast week
    assert g["incidents_4w"].sum() <= g["incidents_52w"].sum()


def test_engagement_is_aggregated_and_suppressed(result) -> None:  # type: ignore[no-untyped-def]
    _, r = result
    g = r.grid
    # 24 meetings at one point (12 weeks before July: only those after 8 April count: all May)
    engaged = g[g["engagement_status"] == "engaged"]
    assert len(engaged) == 1 and engaged["engagements_12w"].iloc[0] == 24
    assert (g.loc[g["engagement_status"] == "not engaged", "engagements_12w"] == 0).all()


def test_small_engagement_counts_are_suppressed() -> None:
    from geo_risk.analyse import engagement_per_cell
    from geo_risk.features import CellGrid

    cells = np.array([10, 20, 30], dtype=np.uint64)
    grid = CellGrid(cells=cells, admin_pcode=np.array(["A"] * 3, dtype=object),
                    population=np.ones(3), area_km2=np.ones(3))
    week = pd.Timestamp("2024-07-01")
    c = pd.DataFrame({"cell": np.array([10] * 6 + [20] * 2 + [30] * 5, dtype=np.uint64),
                      "date": week - pd.Timedelta(days=3),
                      "participants_total": [10] * 6 + [10] * 2 + [0] * 5})
    out = engagement_per_cell(grid, c, week=week, weeks=12, min_count=5)
    assert out["engagement_status"].tolist() == ["engaged", "suppressed", "suppressed"]
    assert out["engagements_12w"].iloc[0] == 6
    assert out["engagements_12w"].iloc[1:].isna().all()  # 2 meetings; 5 meetings but 0 people


def test_outputs_written_and_consistent(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, r = result
    paths = write_outputs(r, cfg, tmp_path / "out", render_map=False)
    grid = gpd.read_parquet(paths["risk_grid"])
    assert grid.crs.to_epsg() == 4326
    assert h3.is_valid_cell(grid["cell"].iloc[0])
    assert len(grid) == len(r.grid)
    assert grid.geometry.iloc[0].geom_type == "Polygon"
    matrix = pd.read_csv(paths["admin_matrix"])
    assert set(matrix["level"]) <= {"low", "medium", "high", "critical"}
    assert len(matrix) == 4
    run = json.loads(paths["run"].read_text())
    assert run["week"] == "2024-07-01" and run["synthetic"] is True
    assert run["rows"]["read"] == run["rows"]["accepted"] + run["rows"]["rejected"]
    assert all(len(i["sha256"]) == 64 for i in run["inputs"])
    # consultation feed ended in May: flagged stale, loudly
    assert any("STALE FEED" in w and "kobo.csv" in w for w in run["warnings"])
    # nothing personal or point-level from consultations in shareable outputs
    blob = paths["risk_grid"].read_bytes() + paths["admin_matrix"].read_bytes()
    assert b"Jane Doe" not in blob and b"+211" not in blob


def test_rejects_file_names_file_row_and_reason(mini_scenario: Path, tmp_path: Path) -> None:
    acled = mini_scenario.parent / "acled.csv"
    df = pd.read_csv(acled)
    df.loc[3, "latitude"], df.loc[3, "longitude"] = df.loc[3, "longitude"], df.loc[3, "latitude"]
    df.loc[7, "longitude"] = 35.0  # far outside every unit
    df.loc[9, "event_date"] = ""
    df.to_csv(acled, index=False)
    cfg = load_config(mini_scenario)
    inputs = load_inputs(cfg, now=pd.Timestamp("2025-01-01"))
    rej = inputs.rejects.set_index("row")
    assert "swapped" in rej.loc[5, "reason"] and rej.loc[5, "category"] == "invalid"
    assert rej.loc[9, "reason"].startswith("outside the area (Testland)")
    assert rej.loc[9, "category"] == "outside_area"
    assert "date is missing" in rej.loc[11, "reason"]
    assert (inputs.rejects["file"] == str(acled)).all()
    rep = next(x for x in inputs.reports if x.kind == "incidents")
    assert (rep.rows_read, rep.rows_rejected, rep.rows_outside) == (len(df), 3, 1)


def test_admin_level_events_stay_off_the_hex_grid(mini_scenario: Path) -> None:
    acled = mini_scenario.parent / "acled.csv"
    df = pd.read_csv(acled)
    extra = df.iloc[:40].copy()
    extra["event_id_cnty"] = [f"ADM{i}" for i in range(40)]
    extra["geo_precision"] = 3
    extra["latitude"], extra["longitude"] = 5.75, 30.75  # Delta's centroid
    extra["event_date"] = "20 June 2024"
    pd.concat([df, extra]).to_csv(acled, index=False)
    cfg = load_config(mini_scenario)
    r = run_week(cfg, week=WEEK, now=pd.Timestamp("2025-01-01"))
    centre = h3.str_to_int(h3.latlng_to_cell(5.75, 30.75, 7))
    assert r.grid.set_index("cell").loc[centre, "incidents_4w"] == 0
    assert r.matrix.set_index("admin_pcode").loc["XT0202", "incidents_4w"] >= 40


def test_config_errors_are_reported_together(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('h3_resolution = 42\nh3_resolutoin = 7\n[boundaries]\npath = "missing.gpkg"\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    msg = str(e.value)
    assert "h3_resolution" in msg and "Did you mean 'h3_resolution'" in msg
    assert "missing.gpkg" in msg and "pcode_column" in msg and "[incidents]" in msg


def test_caller_frames_not_mutated(mini_scenario: Path) -> None:
    cfg = load_config(mini_scenario)
    inputs = load_inputs(cfg, now=pd.Timestamp("2025-01-01"))
    before = inputs.incidents.copy()
    run_week(cfg, week=WEEK, inputs=inputs)
    pd.testing.assert_frame_equal(before, inputs.incidents)
    assert np.array_equal(before.index, inputs.incidents.index)
