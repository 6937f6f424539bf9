"""The state folder: next week from a saved state scores exactly as a run from scratch, and a
state that no longer matches the inputs or the configuration is rebuilt, never reused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_mini_scenario

from geo_risk.cli import main
from geo_risk.config import load_config, parse_config
from geo_risk.errors import ConfigError
from geo_risk.features import week_of, week_start
from geo_risk.model import ConflictologyBaseline, HistoricalAverageBaseline, RiskModel
from geo_risk.model_io import (
    model_from_json,
    model_to_json,
    unit_model_from_json,
    unit_model_to_json,
)
from geo_risk.pipeline import Inputs, WeeklyResult, load_inputs, run_week
from geo_risk.state import cached_per_cell, load_state, state_folder
from geo_risk.unit_forecast import UnitModel, fit_unit_model, unit_panel

WEEK = week_of("2024-07-01")  # week % 4 == 3: the week before shares its retraining week
SCORES = ["risk", "risk_low", "risk_high", "risk_prev", "drivers", "onset", "population",
          "area_km2"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("state")
    cfg = load_config(write_mini_scenario(folder / "inputs"))
    cfg = replace(cfg, model=replace(cfg.model, n_estimators=20, validation_weeks=6))
    return cfg, load_inputs(cfg, now=pd.Timestamp("2025-01-01"))


def _run(cfg, inputs: Inputs, week: int, state: Path | None) -> WeeklyResult:  # type: ignore[no-untyped-def]
    c = replace(cfg, state_dir=state) if state is not None else cfg
    return run_week(c, week=week_start(week), inputs=inputs, use_state=state is not None)


def _same_grid(a: WeeklyResult, b: WeeklyResult) -> None:
    for col in SCORES:
        assert np.array_equal(a.grid[col].to_numpy(), b.grid[col].to_numpy()), col
    assert a.history is not None and b.history is not None
    assert np.array_equal(a.history["risk"].to_numpy(), b.history["risk"].to_numpy())
    units = ["admin_pcode", "likelihood", "likelihood_prev", "level"]  # the unit model's
    pd.testing.assert_frame_equal(a.matrix[units], b.matrix[units])


def test_next_week_from_state_equals_run_from_scratch(scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, inputs = scenario
    assert WEEK % cfg.model.retrain_every_weeks == 3
    first = _run(cfg, inputs, WEEK - 1, tmp_path)
    assert first.model["state"]["saved"] and not first.model["state"]["used"]
    again = _run(cfg, inputs, WEEK, tmp_path)
    assert again.model["state"]["used"] and again.model["state"]["model_reused"]
    assert again.model["state"]["unit_model_reused"]
    # the history weeks last week's run scored with the same scorer are not scored again
    assert again.model["state"]["history_weeks_kept"] == max(2, cfg.model.history_weeks) - 1
    assert again.model["state"]["weeks_streamed"] < first.model["state"]["weeks_streamed"]
    assert len(list((tmp_path / "forecast").glob("population-*.npz"))) == 1  # zonal sums kept
    assert len(list((tmp_path / "forecast").glob("area-*.npz"))) == 1  # and the cells' areas
    assert len(list((tmp_path / "forecast").glob("admin-pairs-*.npz"))) == 1  # unit adjacency
    _same_grid(again, _run(cfg, inputs, WEEK, None))
    # a retraining week from the saved state: rows reused, scorer trained afresh
    retrain = _run(cfg, inputs, WEEK + 1, tmp_path)
    assert retrain.model["state"]["used"] and not retrain.model["state"]["model_reused"]
    _same_grid(retrain, _run(cfg, inputs, WEEK + 1, None))


def test_appended_rows_keep_the_state_and_edited_rows_rebuild_it(scenario, tmp_path: Path  # type: ignore[no-untyped-def]
                                                                 ) -> None:
    cfg, inputs = scenario
    cfg = replace(cfg, model=replace(cfg.model, kind="conflictology"))  # fast: no trees
    inc = inputs.incidents
    last_week = replace(inputs, incidents=inc.loc[inc["date"] < week_start(WEEK)])
    _run(cfg, last_week, WEEK - 1, tmp_path)
    appended = _run(cfg, inputs, WEEK, tmp_path)  # next week's rows appended to the file
    assert appended.model["state"]["used"]

    edited = inc.copy()
    early = edited.index[edited["date"] < week_start(WEEK - 30)][5]
    edited.loc[early, "fatalities"] = edited.loc[early, "fatalities"] + 7
    changed = replace(inputs, incidents=edited)
    rebuilt = _run(cfg, changed, WEEK, tmp_path)
    assert not rebuilt.model["state"]["used"]
    assert "input rows dated before the saved week changed" in rebuilt.model["state"]["reason"]
    _same_grid(rebuilt, _run(cfg, changed, WEEK, None))


def test_changed_config_or_unreadable_state_is_rebuilt(scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, inputs = scenario
    cfg = replace(cfg, model=replace(cfg.model, kind="conflictology"))  # fast: no trees
    _run(cfg, inputs, WEEK - 1, tmp_path)
    other = replace(cfg, model=replace(cfg.model, seed=1))
    r = _run(other, inputs, WEEK, tmp_path)
    assert not r.model["state"]["used"] and "model_config" in r.model["state"]["reason"]
    saved, why = load_state(tmp_path / "forecast")
    assert saved is not None and why == ""
    for f in (tmp_path / "forecast").glob("forecast-*/arrays.npz"):
        f.write_bytes(b"not an npz file")
    r = _run(other, inputs, WEEK, tmp_path)
    assert not r.model["state"]["used"] and "could not be read" in r.model["state"]["reason"]
    for f in (tmp_path / "forecast").glob("forecast-*/arrays.npz"):
        f.write_bytes(f.read_bytes()[:200])  # torn: a zip header and nothing after
    r = _run(other, inputs, WEEK, tmp_path)
    assert not r.model["state"]["used"] and "could not be read" in r.model["state"]["reason"]


def test_saved_models_score_exactly_as_trained() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"events_own_1w": rng.exponential(0.3, n),
                      "events_ring1_4w": rng.exponential(0.5, n),
                      "log_weeks_since_last": rng.uniform(0, 6, n),
                      "hist_event_week_rate": rng.uniform(0, 0.2, n)})
    y = (rng.random(n) < 0.05 + 0.3 * (X["events_own_1w"] > 0.6)).astype(int)
    week = np.repeat(np.arange(30), n // 30)
    fitted = [RiskModel(n_estimators=15, n_seeds=2).fit(X, y, week=week),
              ConflictologyBaseline().fit(X, y), HistoricalAverageBaseline().fit(X, y)]
    for m in fitted:
        doc, boosters = model_to_json(m)
        back = model_from_json(doc, boosters)
        assert np.array_equal(back.predict_proba(X), m.predict_proba(X)), type(m).__name__
    risk = fitted[0]
    back = model_from_json(*model_to_json(risk))
    assert np.array_equal(np.column_stack(back.predict_interval(X)),
                          np.column_stack(risk.predict_interval(X)))
    assert back.contributions(X.head(50)).equals(risk.contributions(X.head(50)))


def test_saved_unit_models_predict_exactly_as_trained() -> None:
    rng = np.random.default_rng(1)
    weeks, k = 300, 6
    counts = rng.poisson(np.array([1.0, 0.4, 0.1, 0.05, 0.05, 0.02]), size=(weeks, k))
    wk, code = np.nonzero(counts)
    panel = unit_panel(admin_events=(wk.astype(np.int64), code.astype(np.int64),
                                     counts[wk, code].astype(float)),
                       admin_pairs=None, n_units=k, population=np.full(k, 1e4),
                       first_week=40, last_week=weeks - 1)
    fitted = fit_unit_model(panel, last_label_week=weeks - 3)
    assert fitted.classifier is not None and fitted.platt is not None
    back = unit_model_from_json(json.loads(json.dumps(unit_model_to_json(fitted))))
    for w in (weeks - 2, weeks - 1):
        for got, want in zip(back.predict(panel.week(w)), fitted.predict(panel.week(w)),
                             strict=True):
            assert np.array_equal(got, want)
    assert np.array_equal(back.oof_probability, fitted.oof_probability)
    assert back.info == fitted.info and back.count_scale == fitted.count_scale
    # too little history: the fallback (no fitted models) round-trips too
    short = UnitModel(method="recent event-week share (too little history to fit)",
                      info={"training_weeks": [41, 45], "training_rows": 30})
    again = unit_model_from_json(unit_model_to_json(short))
    assert again.classifier is None and again.info == short.info
    assert np.array_equal(again.predict(panel.week(50))[0], short.predict(panel.week(50))[0])


def test_state_dir_defaults_next_to_the_config_and_is_checked(tmp_path: Path) -> None:
    base = {"boundaries": {"path": "b.gpkg", "pcode_column": "P", "name_column": "N"},
            "incidents": {"path": "a.csv"}}
    cfg = parse_config(base, base_dir=tmp_path, config_path=tmp_path / "c.toml",
                       check_files=False)
    assert state_folder(cfg) == tmp_path.resolve() / ".geo-risk"
    moved = parse_config({**base, "state_dir": "cache/state", "model": {
        "retrain_every_weeks": 2}}, base_dir=tmp_path, check_files=False)
    assert state_folder(moved) == tmp_path / "cache" / "state"
    assert moved.model.retrain_every_weeks == 2
    with pytest.raises(ConfigError, match="retrain_every_weeks"):
        parse_config({**base, "model": {"retrain_every_weeks": 0}}, base_dir=tmp_path,
                     check_files=False)


def test_cli_run_keeps_state_next_to_the_config_unless_no_state(tmp_path: Path) -> None:
    cfg = write_mini_scenario(tmp_path / "inputs")
    with cfg.open("a", encoding="utf-8") as f:
        f.write('kind = "conflictology"\n')  # the [model] table ends the file; fast
    args = ["run", "--config", str(cfg), "--week", "2024-07-01", "--no-map"]
    r = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a"), "--no-state"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "inputs" / ".geo-risk").exists()
    r = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "inputs" / ".geo-risk" / "forecast" / "current.json").is_file()
    record = json.loads((tmp_path / "b" / "run.json").read_text(encoding="utf-8"))
    assert record["model"]["state"]["saved"] and not record["model"]["state"]["used"]


def test_a_state_saved_under_other_model_defaults_is_rebuilt(  # type: ignore[no-untyped-def]
        scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, inputs = scenario
    cfg = replace(cfg, model=replace(cfg.model, kind="conflictology"))  # fast: no trees
    _run(cfg, inputs, WEEK - 1, tmp_path)
    assert _run(cfg, inputs, WEEK, tmp_path).model["state"]["used"]  # same code: reused
    # A code change of a built-in setting (here the bins per feature), same version number.
    defaults = RiskModel.__init__.__kwdefaults__
    assert defaults is not None and defaults["max_bin"] != 63
    monkeypatch.setitem(defaults, "max_bin", 63)
    assert RiskModel().get_params()["max_bin"] == 63
    r = _run(cfg, inputs, WEEK, tmp_path)
    assert not r.model["state"]["used"] and "model_defaults" in r.model["state"]["reason"]


def test_values_kept_per_cell_are_computed_again_for_other_cells(tmp_path: Path) -> None:
    calls: list[int] = []

    def area(cells: np.ndarray) -> np.ndarray:
        calls.append(len(cells))
        return cells.astype(float) / 7

    a = np.array([10, 20, 30], dtype=np.uint64)
    first = cached_per_cell(tmp_path, name="area", cells=a, compute=lambda: area(a))
    again = cached_per_cell(tmp_path, name="area", cells=a, compute=lambda: area(a))
    assert calls == [3] and np.array_equal(first, again)
    b = np.array([10, 20, 40, 50], dtype=np.uint64)  # another grid: not the kept values
    other = cached_per_cell(tmp_path, name="area", cells=b, compute=lambda: area(b))
    assert calls == [3, 4] and np.array_equal(other, b.astype(float) / 7)
    assert len(list(tmp_path.glob("area-*.npz"))) == 1  # the other grid's file replaced it
    keyed = cached_per_cell(tmp_path, name="area", cells=b, compute=lambda: area(b),
                            key=["another raster"])
    assert calls == [3, 4, 4] and np.array_equal(keyed, other)


def test_fingerprint_of_any_week_equals_hashing_the_rows_before_it(scenario) -> None:  # type: ignore[no-untyped-def]
    from geo_risk.state import DataFingerprint, _rows_hash, _sha

    _, inputs = scenario
    rows_before = DataFingerprint(incidents=inputs.incidents,
                                  consultations=inputs.consultations,
                                  restrictions=inputs.restrictions)
    digests = set()
    for week in (WEEK - 200, WEEK - 1, WEEK, WEEK + 30):
        before = week_start(week)
        inc = inputs.incidents.loc[inputs.incidents["date"] < before]
        rec = inputs.consultations.loc[inputs.consultations["date"] < before]
        # the digest of the rows themselves, filtered first and hashed then
        own = [_rows_hash(inc, ["cell", "admin_pcode", "date", "event_type",
                                "civilian_targeting", "fatalities"]),
               _rows_hash(rec, ["cell", "admin_pcode", "date", "modality", "safety_score"])]
        r = inputs.restrictions.loc[inputs.restrictions["start_date"] < before]
        own.append(_rows_hash(pd.DataFrame({
            "wkb": r.geometry.to_wkb(), "start": r["start_date"],
            "end": r["end_date"].where(r["end_date"] < before), "severity": r["severity"]}),
            ["wkb", "start", "end", "severity"]))
        assert rows_before(before) == _sha(*own)
        digests.add(rows_before(before))
    assert len(digests) == 4  # each week its own rows


def test_a_state_from_weeks_ago_streams_on_to_a_later_week(scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, inputs = scenario
    _run(cfg, inputs, WEEK - 1, tmp_path)
    # three weeks missed, across a retraining week: the state still serves, from its snapshot
    # (the first history week of WEEK - 1), streamed on to WEEK + 3
    later = _run(cfg, inputs, WEEK + 3, tmp_path)
    assert later.model["state"]["used"]
    n_hist = max(2, cfg.model.history_weeks)
    assert later.model["state"]["weeks_streamed"] == (WEEK + 3) - (WEEK - n_hist) + 1
    _same_grid(later, _run(cfg, inputs, WEEK + 3, None))


def _current(folder: Path) -> Path:
    return folder / json.loads((folder / "current.json").read_text())["state"]


def test_next_week_links_the_kept_rows_and_scorer_and_writes_one_week(scenario, tmp_path: Path  # type: ignore[no-untyped-def]
                                                                      ) -> None:
    cfg, inputs = scenario
    forecast_dir = tmp_path / "forecast"
    _run(cfg, inputs, WEEK - 1, tmp_path)
    before = _current(forecast_dir)
    old_parts = {e["file"]: e["weeks"] for e in
                 json.loads((before / "state.json").read_text())["parts"]}
    inodes = {p.name: p.stat().st_ino for p in before.iterdir()}
    again = _run(cfg, inputs, WEEK, tmp_path)
    assert again.model["state"]["model_reused"]
    after = _current(forecast_dir)
    assert after != before and not before.exists()  # the older state was removed
    parts = {e["file"]: e["weeks"] for e in json.loads((after / "state.json").read_text())["parts"]}
    # last week's files are the same files (linked, not written again) ...
    scorer = [n for n in inodes if n.startswith(("model", "booster_", "unit_model"))]
    assert "model.json" in scorer and "unit_model.json" in scorer
    for name in [*old_parts, *scorer]:
        assert (after / name).stat().st_ino == inodes[name], name
    # ... and the one week streamed since is the only new file
    new = {f: w for f, w in parts.items() if f not in old_parts}
    assert list(new.values()) == [[max(w for ws in old_parts.values() for w in ws) + 1]]


def test_damaged_training_rows_are_found_in_a_retraining_week_and_rebuilt(scenario, tmp_path: Path  # type: ignore[no-untyped-def]
                                                                          ) -> None:
    cfg, inputs = scenario
    _run(cfg, inputs, WEEK, tmp_path)
    for f in _current(tmp_path / "forecast").glob("parts-*.npz"):
        f.write_bytes(f.read_bytes()[:100])  # a torn file
    retrain = _run(cfg, inputs, WEEK + 1, tmp_path)  # needs every week of rows
    assert not retrain.model["state"]["used"]
    assert "could not be read" in retrain.model["state"]["reason"]
    _same_grid(retrain, _run(cfg, inputs, WEEK + 1, None))
    for f in _current(tmp_path / "forecast").glob("parts-*.npz"):
        f.unlink()  # files gone altogether: found when the state is read
    again = _run(cfg, inputs, WEEK + 1, tmp_path)
    assert "could not be read" in again.model["state"]["reason"]
