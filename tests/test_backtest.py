"""The rolling-origin backtest on a small real-format scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from geo_risk.backtest import run_backtest
from geo_risk.cli import main
from geo_risk.config import load_config
from geo_risk.pipeline import load_inputs


def test_backtest_reports_every_model_without_leakage(mini_scenario: Path) -> None:
    cfg = load_config(mini_scenario)
    inputs = load_inputs(cfg, now=pd.Timestamp("2025-01-01"))
    r = run_backtest(cfg, start="2024-03-04", end="2024-05-27", inputs=inputs, refit_every=6)
    assert r["weeks"] == 13
    assert set(r["models"]) == {"model", "persistence", "historical_average", "conflictology"}
    for m in r["models"].values():
        assert 0 <= m["average_precision"] <= 1
        assert m["weeks"] == 13 and m["positives"] > 0
        assert "onset" in m and "brier_skill" in m
    # the fixture's hotspot is persistent: a history-driven ranking catches most event cells
    # in the top 10% of area, far above chance (PAI >> 1)
    assert r["models"]["historical_average"]["hr_at_10pct"] > 0.5
    assert r["models"]["model"]["pai_at_10pct"] > 3
    # historical average is the Brier reference
    assert r["models"]["historical_average"]["brier_skill"] == 0.0
    json.dumps(r, allow_nan=False)  # strict JSON


def test_backtest_cli(mini_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt"
    res = CliRunner().invoke(main, ["-q", "backtest", "--config", str(mini_scenario),
                                    "--start", "2024-05-06", "--end", "2024-05-27",
                                    "--out", str(out), "--models",
                                    "historical_average,persistence"])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "backtest.json").read_text())
    assert set(data["models"]) == {"historical_average", "persistence"}
    assert "<html" in (out / "backtest.html").read_text().lower()
    bad = CliRunner().invoke(main, ["backtest", "--config", str(mini_scenario), "--start",
                                    "2024-05-06", "--end", "2024-05-27", "--out", str(out),
                                    "--models", "magic"])
    assert bad.exit_code == 2 and "unknown model" in bad.output


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_model_beats_every_baseline_on_the_synthetic_scenario(tmp_path: Path, seed: int) -> None:
    """Three years of a smaller, sparse SYNTHETIC country; 26 forecast weeks, models refit
    twice. The model ranks event cells at least as well as the best baseline and its
    probabilities beat the long-run rate.

    Measured (seeds 1, 2, 3; 177/181/91 event cell-weeks): model AP 0.075/0.115/0.039 vs best
    baseline (conflictology) 0.056/0.073/0.033; Brier skill 0.020/0.031/0.012. Onset AP is not
    asserted: the model does not lead on it on every seed (0.014 vs conflictology's 0.016 on
    seed 1) and a few dozen onsets are too few to tell.
    """
    from geo_risk.synth import ScenarioSpec, generate_scenario

    spec = ScenarioSpec(weeks=156, bbox=(30.0, 4.0, 32.5, 6.5), n_adm2=16, n_adm1=3,
                        n_bases=5)
    files = generate_scenario(out_dir=tmp_path / "s", seed=seed, spec=spec)
    r = run_backtest(load_config(files.config), start="2023-07-03", end="2023-12-25",
                     refit_every=13)
    models = r["models"]
    baselines = [m for m in models if m != "model"]
    assert set(baselines) == {"persistence", "historical_average", "conflictology"}
    ap = models["model"]["average_precision"]
    assert ap >= max(models[b]["average_precision"] for b in baselines)
    assert models["model"]["brier_skill"] > 0  # better probabilities than the long-run rate
