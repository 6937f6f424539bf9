"""The dask engine scores every cell exactly as the single-process engine does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import h3ronpy
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from click.testing import CliRunner
from conftest import write_config, write_mini_scenario

from geo_risk.backtest import run_backtest
from geo_risk.cli import main
from geo_risk.config import load_config
from geo_risk.engine import dask_client, forecast_dask, partition_bounds
from geo_risk.engine.backtest import run_backtest_dask
from geo_risk.engine.commands import PARTS_FOLDER, place_parts, run_week_dask
from geo_risk.forecast import forecast
from geo_risk.pipeline import build_grid, load_inputs, run_week
from geo_risk.synth.continent import ContinentSpec, generate_continent

WEEK = "2024-06-03"
NOW = pd.Timestamp("2025-01-01")


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The mini scenario run by both engines; thinning and validation both exercised."""
    folder = tmp_path_factory.mktemp("dask")
    cfg_path = write_mini_scenario(folder / "scenario")
    write_config(folder / "scenario", extra="max_rows = 6000\nvalidation_weeks = 6\n")
    cfg = load_config(cfg_path)
    inputs = load_inputs(cfg, now=NOW)
    single = run_week(cfg, week=WEEK, inputs=inputs)
    out = folder / "out"
    out.mkdir()
    dask = run_week_dask(cfg, week=WEEK, inputs=inputs, out_dir=out, workers=2,
                         partitions=3, processes=False)
    parts = place_parts(out)
    return {"single": single, "dask": dask, "parts": parts}


def test_dask_engine_gives_the_same_probability_per_cell(both: dict[str, Any]) -> None:
    a, b = both["single"].grid, both["dask"].grid
    assert a["risk"].max() > 0.05  # a real model, not all zeros
    for col in ("risk", "risk_prev", "risk_low", "risk_high"):
        np.testing.assert_allclose(b[col].to_numpy(), a[col].to_numpy(), rtol=0, atol=1e-12)
    assert (a["onset"].to_numpy() == b["onset"].to_numpy()).all()
    assert (a["drivers"].to_numpy() == b["drivers"].to_numpy()).all()
    pd.testing.assert_frame_equal(both["single"].history, both["dask"].history)


def test_dask_engine_gives_the_same_matrix_and_model(both: dict[str, Any]) -> None:
    pd.testing.assert_frame_equal(both["single"].matrix, both["dask"].matrix)
    ma, mb = both["single"].model, both["dask"].model
    assert mb["engine"]["name"] == "dask" and mb["engine"]["partitions"] == 3
    assert sum(mb["engine"]["cells"]) == len(both["dask"].grid)
    assert min(mb["engine"]["halo_cells"]) > 0
    assert ma["validation"]["weeks"] >= 6  # the newest block of the training weeks
    assert ma["training_rows"] == mb["training_rows"] < 7000  # thinned from ~37k rows
    assert ma["validation"] == mb["validation"] and ma["validation"]["metrics"]["model"]


def test_dask_engine_explains_the_served_model_like_single(tmp_path: Path) -> None:
    """Without a validation window the LightGBM model is served and its drivers explained."""
    cfg_path = write_mini_scenario(tmp_path)
    write_config(tmp_path, extra="validation_weeks = 0\n")
    cfg = load_config(cfg_path)
    inputs = load_inputs(cfg, now=NOW)
    grid = build_grid(cfg, inputs)
    kw: dict[str, Any] = dict(
        incidents=inputs.incidents, consultations=inputs.consultations,
        restrictions=inputs.restrictions, bases=inputs.bases, week=pd.Timestamp(WEEK),
        config=cfg.model, admin_names=inputs.admin.set_index("admin_pcode")["admin_name"])
    a = forecast(grid, **kw)
    with dask_client(workers=2, processes=False) as client:
        b = forecast_dask(grid, client=client, n_parts=4, **kw)
    assert a.info["model"] == b.info["model"] == "model"
    np.testing.assert_allclose(b.risk, a.risk, rtol=0, atol=1e-12)
    assert (a.drivers != "").sum() > 10
    assert (a.drivers == b.drivers).all()
    pd.testing.assert_frame_equal(a.facts, b.facts)


def test_dask_backtest_reports_what_the_single_process_backtest_reports(tmp_path: Path) -> None:
    cfg = load_config(write_mini_scenario(tmp_path))
    inputs = load_inputs(cfg, now=NOW)
    kw: dict[str, Any] = dict(start="2024-05-06", end="2024-05-27", inputs=inputs,
                              refit_every=2, models=("conflictology", "historical_average"))
    a = run_backtest(cfg, **kw)
    with dask_client(workers=2, processes=False) as client:
        b = run_backtest_dask(cfg, client=client, n_parts=3, **kw)
    assert b.pop("engine") == {"name": "dask", "partitions": 3}
    a.pop("wall_time_s")
    b.pop("wall_time_s")
    assert a["models"]["conflictology"]["positives"] > 0
    assert a == b


def test_each_partition_writes_its_cells_as_geoparquet(both: dict[str, Any]) -> None:
    files = sorted(Path(both["parts"]).glob("part-*.parquet"))
    assert both["parts"].name == PARTS_FOLDER and len(files) == 3
    parts = pd.concat([gpd.read_parquet(f) for f in files], ignore_index=True)
    grid = both["dask"].grid
    ids = np.asarray(h3ronpy.cells_to_string(pa.array(grid["cell"].to_numpy(np.uint64)))
                     .to_pylist(), dtype=object)
    assert list(parts["cell"]) == list(ids)  # every cell once, in grid order
    np.testing.assert_array_equal(parts["risk"].to_numpy(), grid["risk"].to_numpy())
    assert parts.geometry.geom_type.eq("Polygon").all()


def test_partitions_are_whole_parent_cells_covering_the_grid() -> None:
    cells = np.sort(np.asarray(h3ronpy.vector.coordinates_to_cells(
        np.random.default_rng(0).uniform(4, 8, 5000),
        np.random.default_rng(1).uniform(30, 34, 5000), 7))).astype(np.uint64)
    cells = np.unique(cells)
    bounds = partition_bounds(cells, n_parts=4, parent_res=3)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(cells)
    assert all(a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    parents = np.asarray(h3ronpy.change_resolution(pa.array(cells), 3))
    owner = np.concatenate([np.full(hi - lo, i) for i, (lo, hi) in enumerate(bounds)])
    per_parent = pd.Series(owner).groupby(parents).nunique()
    assert (per_parent == 1).all() and len(bounds) > 1


def test_local_cluster_starts_with_the_workers_asked_for() -> None:
    with dask_client(workers=2, processes=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2


def test_continent_preset_is_synthetic_and_nested(tmp_path: Path) -> None:
    spec = ContinentSpec(weeks=20, bbox=(20.0, 0.0, 23.0, 2.0), n_countries=3, n_adm1=6,
                         n_adm2=24, n_towns=300, n_hotspots=10, incidents=5000)
    files = generate_continent(out_dir=tmp_path, seed=1, spec=spec)
    assert "SYNTHETIC" in files["readme"].read_text()
    assert "synthetic = true" in files["config"].read_text()
    admin = gpd.read_file(files["boundaries"], layer="adm2")
    assert len(admin) == 24 and admin["ADM0_EN"].nunique() == 3
    assert admin.groupby("ADM1_PCODE")["ADM0_PCODE"].nunique().max() == 1
    assert abs(shapely.area(admin.geometry.to_numpy()).sum() - 6.0) < 1e-6  # tile the box
    inc = pd.read_csv(files["incidents"])
    assert len(inc) == 5000 and inc["event_id_cnty"].is_unique
    dates = pd.to_datetime(inc["event_date"])
    assert dates.min() >= pd.Timestamp(spec.start)
    assert dates.max() < pd.Timestamp(spec.start) + pd.Timedelta(weeks=spec.weeks)
    cfg = load_config(files["config"])
    inputs = load_inputs(cfg, now=NOW)
    assert inputs.reports[0].rows_accepted == 5000




def test_scheduler_without_the_dask_engine_is_a_usage_error(tmp_path: Path) -> None:
    cfg = write_mini_scenario(tmp_path)
    r = CliRunner().invoke(main, ["run", "--config", str(cfg), "--out", str(tmp_path / "o"),
                                  "--scheduler", "tcp://127.0.0.1:8786"])
    assert r.exit_code == 2 and "--engine dask" in r.output
    assert not (tmp_path / "o").exists()


def test_inputs_placed_on_dask_workers_equal_the_single_process_inputs(tmp_path: Path) -> None:
    from distributed import get_task_stream

    from geo_risk.engine import dask_locator

    cfg = load_config(write_mini_scenario(tmp_path))
    single = load_inputs(cfg, now=NOW)
    block = max(1, len(single.incidents) // 5)
    with dask_client(workers=2, processes=False) as client, get_task_stream(client) as ts:
        placed = load_inputs(cfg, now=NOW, locate=dask_locator(client, rows_per_block=block))
    tasks = [t for t in ts.data if "locate_points" in str(t["key"])]
    assert len(tasks) >= 5  # the incidents went to the workers in blocks
    for name in ("incidents", "consultations"):
        pd.testing.assert_frame_equal(getattr(placed, name), getattr(single, name))
    pd.testing.assert_frame_equal(placed.rejects, single.rejects)
    assert (single.incidents["cell"] > 0).any() and (single.incidents["admin_pcode"] != "").all()
