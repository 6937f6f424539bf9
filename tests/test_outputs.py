"""The output folder: atomic swap, lock, reproducible files, full manifest, GIS hand-off."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from conftest import write_mini_scenario

from geo_risk.cli import main
from geo_risk.config import load_config
from geo_risk.errors import OutputFolderError
from geo_risk.gis import LAYERS
from geo_risk.manifest import input_files, package_versions, seeds
from geo_risk.outdir import output_lock, previous_folder, staged_output
from geo_risk.outputs import write_outputs
from geo_risk.pipeline import run_week
from geo_risk.render.map import LEVEL_COLOURS, RISK_BREAKS, RISK_COLOURS
from geo_risk.render.png_worker import PngRenderer
from geo_risk.render.static import SEVERITY_COLOURS

ROOT = Path(__file__).resolve().parents[1]
WEEK = "2024-07-01"
NOW = pd.Timestamp("2025-01-01")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_one_complete_run(out: Path) -> dict:  # type: ignore[type-arg]
    """run.json is there, and every file in the folder is the one run.json names and hashes."""
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    files = {p.name for p in out.iterdir()}
    assert files == {*record["output_sha256"], "run.json"}
    for name, digest in record["output_sha256"].items():
        assert _sha(out / name) == digest, name
    return record


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="module")
def written(scenario: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One complete run written to a folder, and the result (pickled for subprocesses)."""
    cfg = load_config(scenario)
    result = run_week(cfg, week=WEEK, now=NOW)
    out = tmp_path_factory.mktemp("runs") / "week"
    write_outputs(result, cfg, out)
    blob = out.parent / "result.pkl"
    blob.write_bytes(pickle.dumps((result, cfg)))
    return out, blob


def test_same_inputs_give_byte_identical_outputs_with_or_without_the_png_worker(  # type: ignore[no-untyped-def]
        scenario: Path, written, tmp_path: Path) -> None:
    first, _ = written  # map.png drawn in this process
    cfg = load_config(scenario)
    again = tmp_path / "again"
    with PngRenderer(enabled=True) as png:  # map.png drawn in the worker process
        write_outputs(run_week(cfg, week=WEEK, now=NOW), cfg, again, png=png)
        assert png.drawn_in_worker
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert {"risk.gpkg", "map.html", "brief.html", "map.png", "risk_grid.parquet"} <= set(names)
    for name in names:
        if name != "run.json":
            assert (first / name).read_bytes() == (again / name).read_bytes(), name
    a, b = (json.loads((d / "run.json").read_text(encoding="utf-8")) for d in (first, again))
    assert a.pop("generated_at") and b.pop("generated_at")
    assert a == b


def _writer(blob: Path, out: Path) -> subprocess.Popen[bytes]:
    code = ("import pickle, sys\nfrom geo_risk.outputs import write_outputs\n"
            "r, c = pickle.loads(open(sys.argv[1], 'rb').read())\n"
            "write_outputs(r, c, sys.argv[2])\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code, str(blob), str(out)], env=env)


def _cli_run(config: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "geo_risk.cli", "-q", "run", "--config",
                             str(config), "--week", WEEK, "--out", str(out)], env=env)


@pytest.mark.parametrize("moment", ["staging created", "gpkg written", "map written",
                                    "brief written", "cli: map written"])
def test_sigkill_mid_write_leaves_one_complete_run(scenario: Path, written,  # type: ignore[no-untyped-def]
                                                   moment: str) -> None:
    out, blob = written
    before = _assert_one_complete_run(out)
    wanted = {"staging created": None, "gpkg written": "admin_matrix.qml",
              "map written": "map.html", "brief written": "brief.html",
              "cli: map written": "map.html"}[moment]
    # the whole `geo-risk run` (holds the lock from the start), or its writing stage alone
    proc = _cli_run(scenario, out) if moment.startswith("cli") else _writer(blob, out)
    deadline = time.monotonic() + 120
    killed = False
    while proc.poll() is None and time.monotonic() < deadline:
        stages = list(out.parent.glob(f".{out.name}.partial-*"))
        if stages and (wanted is None or (stages[0] / wanted).exists()):
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)
    proc.wait()
    assert killed, "the writer finished before the moment to kill it"
    after = _assert_one_complete_run(out)
    assert after["output_sha256"] == before["output_sha256"]
    # the next run finds the dead run's lock and leftovers, cleans up and swaps in
    with output_lock(out) as notes:
        assert any("did not finish" in n for n in notes)
        assert not list(out.parent.glob(f".{out.name}.partial-*"))
    assert not (out.parent / f"{out.name}.lock").exists()


def test_previous_run_is_kept_restorable(written, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, blob = written
    result, cfg = pickle.loads(blob.read_bytes())
    out = tmp_path / "week"
    write_outputs(result, cfg, out, render_map=False)
    first = _assert_one_complete_run(out)
    write_outputs(result, cfg, out)
    second = _assert_one_complete_run(out)
    assert "map.html" in second["output_sha256"] and "map.html" not in first["output_sha256"]
    assert _assert_one_complete_run(previous_folder(out)) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["week", "week.previous"]


@pytest.mark.parametrize("failing", ["geo_risk.render.write_map", "geo_risk.outputs.write_gis"])
def test_a_failing_writer_leaves_the_previous_run_and_no_stage(written, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               failing: str) -> None:
    # An error while writing the tables or the maps stops the run with the previous run in
    # place and no staging folder left.
    _, blob = written
    result, cfg = pickle.loads(blob.read_bytes())
    out = tmp_path / "week"
    write_outputs(result, cfg, out, render_map=False)
    before = _assert_one_complete_run(out)

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(failing, fail)
    with pytest.raises(RuntimeError, match="disk full"):
        write_outputs(result, cfg, out)
    assert _assert_one_complete_run(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["week"]


def test_writing_leaves_the_callers_garbage_collector_as_it_was(written, tmp_path: Path  # type: ignore[no-untyped-def]
                                                                ) -> None:
    import gc

    _, blob = written
    result, cfg = pickle.loads(blob.read_bytes())
    assert gc.get_freeze_count() == 0
    write_outputs(result, cfg, tmp_path / "a", render_map=False)
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.freeze()  # a caller that froze its own objects keeps them frozen
    try:
        write_outputs(result, cfg, tmp_path / "b", render_map=False)
        assert gc.get_freeze_count() > 0  # not unfrozen (freed frozen objects leave the count)
    finally:
        gc.unfreeze()


def test_second_run_on_the_same_folder_stops_with_a_clear_message(tmp_path: Path) -> None:
    out = tmp_path / "week"
    code = ("import sys, time\nfrom geo_risk.outdir import output_lock\n"
            "with output_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], env=env,
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        t0 = time.monotonic()
        with pytest.raises(OutputFolderError, match=rf"pid {holder.pid} .*--out folder"):
            with staged_output(out, wait_s=0.5):
                pass
        assert time.monotonic() - t0 >= 0.5  # it waited as asked before giving up
        cli = CliRunner().invoke(main, ["run", "--config", "never-read.toml", "--out", str(out)])
        assert cli.exit_code == 2 and "another geo-risk run is writing" in cli.output
        assert "Traceback" not in cli.output
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    with staged_output(out) as stage:  # the holder died: the lock is free again
        (stage / "run.json").write_text("{}", encoding="utf-8")
    assert (out / "run.json").is_file()


def test_stale_lock_of_a_dead_process_is_detected(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    out = tmp_path / "week"
    (tmp_path / "week.lock").write_text(json.dumps(
        {"pid": pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00"}))
    with output_lock(out) as notes:
        assert notes == [f"a previous run on {out} (pid {pid}, no longer running) did not "
                         "finish; its partial output was discarded and the folder holds the "
                         "last complete run"]


def test_folder_of_other_files_is_refused_not_moved_aside(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "acled.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(OutputFolderError, match="not a geo-risk run .*'acled.csv'"):
        with staged_output(out):
            pass
    assert (out / "acled.csv").is_file() and not previous_folder(out).exists()


def test_run_json_hashes_every_input_with_sidecars(scenario: Path) -> None:
    folder = scenario.parent
    gpd.read_file(folder / "boundaries.gpkg").to_file(folder / "adm2.shp", encoding="utf-8")
    (folder / "roads.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "LineString", "coordinates": [[30.1, 5.1], [30.9, 5.9]]}}]}))
    text = scenario.read_text(encoding="utf-8").replace('path = "boundaries.gpkg"\nlayer = "adm2"',
                                                        'path = "adm2.shp"')
    cfg_path = folder / "shp.toml"
    cfg_path.write_text(text + '[network]\npath = "roads.geojson"\n', encoding="utf-8")
    files = input_files(load_config(cfg_path))
    by_path = {f["path"]: f for f in files}
    assert {"shp.toml", "adm2.shp", "adm2.shx", "adm2.dbf", "adm2.prj", "adm2.cpg",
            "acled.csv", "kobo.csv", "restrictions.geojson", "population.tif", "bases.csv",
            "roads.geojson"} == set(by_path)
    assert by_path["adm2.dbf"]["role"] == "boundaries"
    assert by_path["roads.geojson"]["role"] == "network"
    for f in files:
        assert f["sha256"] == _sha(folder / f["path"])
    versions = package_versions()
    assert {"lightgbm", "scikit-learn", "h3ronpy", "rasterio", "gdal", "proj"} <= set(versions)
    assert versions["lightgbm"] != "not installed"
    s = seeds(load_config(cfg_path))
    assert s["lightgbm_random_states"] == [0] and s["training_sample_seed"] == 0


def test_run_json_of_a_run_lists_config_and_boundaries(written) -> None:  # type: ignore[no-untyped-def]
    out, _ = written
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    roles = {f["role"] for f in record["input_files"]}
    assert roles == {"config", "boundaries", "incidents", "consultations",
                     "access_restrictions", "population", "bases"}
    assert record["seeds"]["model_seed"] == 0 and "lightgbm" in record["packages"]


def test_geopackage_opens_with_its_layers_and_styles(written) -> None:  # type: ignore[no-untyped-def]
    out, _ = written
    gpkg = out / "risk.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert set(LAYERS) <= layers
    grid = gpd.read_file(gpkg, layer="risk_grid")
    parquet = gpd.read_parquet(out / "risk_grid.parquet")
    assert len(grid) == len(parquet) and grid["risk"].sum() == pytest.approx(parquet["risk"].sum())
    per_cell = ["perception_respondents", "perception_safety_mean", "perception_trust_mean"]
    assert set(per_cell) <= set(grid.columns) and set(per_cell) <= set(parquet.columns)
    units = gpd.read_file(gpkg, layer="admin_matrix")
    assert sorted(units["admin_pcode"]) == ["XT0101", "XT0102", "XT0201", "XT0202"]
    assert set(units["level"]) <= set(LEVEL_COLOURS) and (~units.geometry.is_empty).all()
    restr = gpd.read_file(gpkg, layer="restrictions")
    assert restr["restriction_id"].tolist() == ["R1"] and restr["severity"].tolist() == [3]

    expected = {"risk_grid": [c.lstrip("#") for c in RISK_COLOURS],
                "admin_matrix": [c.lstrip("#") for c in LEVEL_COLOURS.values()],
                "restrictions": [c.lstrip("#") for c in SEVERITY_COLOURS.values()]}
    for layer, field in LAYERS.items():
        root = ET.parse(out / f"{layer}.qml").getroot()
        renderer = root.find("renderer-v2")
        assert renderer is not None and renderer.get("attr") == field
        colours = [o.get("value") for o in renderer.iter("Option") if o.get("name") == "color"]
        hexes = ["".join(f"{int(v):02x}" for v in c.split(",")[:3]) for c in colours]
        assert hexes == expected[layer]
    ranges = ET.parse(out / "risk_grid.qml").getroot().iter("range")
    assert [float(r.get("upper", "nan")) for r in ranges][:-1] == list(RISK_BREAKS)
    cats = [c.get("value") for c in ET.parse(out / "admin_matrix.qml").getroot().iter("category")]
    assert cats == list(LEVEL_COLOURS)
    with sqlite3.connect(gpkg) as con:
        rows = con.execute("SELECT f_table_name, useAsDefault, styleQML FROM layer_styles"
                           ).fetchall()
    assert {r[0] for r in rows} == set(LAYERS) and all(r[1] == 1 for r in rows)
    assert all(r[2] == (out / f"{r[0]}.qml").read_text(encoding="utf-8") for r in rows)


def test_written_grid_and_map_carry_the_columns_the_maps_show(written) -> None:  # type: ignore[no-untyped-def]
    out, _ = written
    grid = pd.read_parquet(out / "risk_grid.parquet")
    wanted = {"cell", "risk", "risk_low", "risk_high", "risk_prev", "risk_band", "trend",
              "onset", "drivers", "incidents_4w", "incidents_52w", "engagement_status",
              "coverage_status", "under_engaged", "under_engaged_score",
              "under_engaged_reason", "access_status", "nearest_base", "nearest_base_km",
              "reprisal_exposure", "perception_respondents", "perception_safety_mean",
              "perception_trust_mean", "geometry"}
    assert wanted <= set(grid.columns), wanted - set(grid.columns)
    under = grid["under_engaged"].fillna(False).astype(bool)
    reason = grid["under_engaged_reason"].fillna("").astype(str)
    assert (reason[~under] == "").all() and (reason[under] != "").all()
    # The map's engagement theme colours units exactly as admin_matrix.csv has them.
    import re

    page = (out / "map.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="geo-risk-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    b = data["boundaries"]
    shown = {pc: b["engagement"]["values"][c] for pc, c in zip(b["pcode"], b["engagement"]["codes"],
                                                               strict=True)}
    matrix = pd.read_csv(out / "admin_matrix.csv", dtype={"admin_pcode": str})
    assert shown == dict(zip(matrix["admin_pcode"], matrix["engagement_status"], strict=True))
    counts = dict(zip(b["pcode"], b["engagements"], strict=True))
    for pc, status, n in matrix[["admin_pcode", "engagement_status", "engagements"]].itertuples(
            index=False):
        assert counts[pc] == (-1 if pd.isna(n) else int(n)), (pc, status)
    assert all(base["open"] and base["reachKm"] for base in data["bases"])
