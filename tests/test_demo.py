"""End to end: `geo-risk demo` on the SYNTHETIC scenario, checked against the generator's truth."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from geo_risk.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    res = CliRunner().invoke(main, ["-q", "demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_all_outputs_written(demo: Path) -> None:
    for name in ("risk_grid.parquet", "admin_matrix.csv", "admin_matrix.html", "map.html",
                 "brief.html", "map.png", "priorities.csv", "actors.csv", "base_reach.csv",
                 "run.json", "rejects.csv"):
        assert (demo / name).stat().st_size > 0, name


def _truth_cells(demo: Path) -> pd.DataFrame:
    """The generator's true intensity per cell in the forecast week, with P(>= 1 event)."""
    truth = pd.read_parquet(demo / "scenario" / "truth_cells.parquet")
    per_episode = json.loads((demo / "scenario" / "truth.json").read_text())["spec"][
        "events_per_episode"]
    lam = truth["expected_forecast_week"].to_numpy(float)  # events; episodes are Poisson
    return truth.assign(p_true=1.0 - np.exp(-lam / per_episode))


def test_risk_follows_the_true_intensity(demo: Path) -> None:
    """Sparse world: most cells have ~zero intensity and tie, so the risk is judged where
    there is intensity to rank and by how much of it the riskiest cells hold. A random or
    constant risk fails every check (overlap ~1%, Spearman ~0 or undefined, share ~5%)."""
    grid = gpd.read_parquet(demo / "risk_grid.parquet")
    truth = _truth_cells(demo)
    m = grid.merge(truth.drop(columns="admin_pcode"), on="cell")
    assert len(m) == len(truth)  # the grid covers every simulated cell
    # the cells the generator made most dangerous are the ones the model ranks highest
    k = len(m) // 100
    top_model = set(m.nlargest(k, "risk")["cell"])
    top_truth = set(m.nlargest(k, "expected_forecast_week")["cell"])
    assert len(top_model & top_truth) / k > 0.4
    # among cells with a non-negligible chance of an event (>= 0.1% a week), the order agrees
    live = m[m["p_true"] >= 0.001]
    assert len(live) > 100
    assert live["risk"].corr(live["p_true"], method="spearman") > 0.5
    # the top 5% of cells by risk hold most of the true intensity of the forecast week (its
    # expectation; the week's few realised events are too few to judge by)
    top5 = m.nlargest(len(m) // 20, "risk")
    assert top5["expected_forecast_week"].sum() > 0.7 * m["expected_forecast_week"].sum()
    # calibrated: expected number of event cells is of the order of the true one
    assert 0.5 * m["p_true"].sum() < m["risk"].sum() < 2.0 * m["p_true"].sum()


def test_matrix_puts_hotspot_units_on_top(demo: Path) -> None:
    """The units with the most true intensity in the forecast week lead the matrix. (A
    conflict zone in a dormant spell is not hot: the truth per unit, not the zone list.)"""
    truth = _truth_cells(demo)
    matrix = pd.read_csv(demo / "admin_matrix.csv")
    true_unit = truth.groupby("admin_pcode")["p_true"].sum()
    m = matrix.set_index("admin_pcode").join(true_unit, how="inner")
    assert len(m) == len(matrix)
    hottest = set(true_unit.nlargest(3).index)
    assert hottest <= set(matrix.head(8)["admin_pcode"])
    assert m["expected_incident_cells"].corr(m["p_true"], method="spearman") > 0.6
    assert set(matrix["level"]) <= {"low", "medium", "high", "critical"}
    # bins follow the data ([matrix] bins = "data"): the top unit is in one of the two upper
    # levels, and the matrix discriminates (not every unit on one level)
    assert matrix.iloc[0]["level"] in {"high", "critical"}
    assert matrix["level"].nunique() >= 3


def test_priorities_start_with_the_under_engaged_high_risk_units(demo: Path) -> None:
    truth = json.loads((demo / "scenario" / "truth.json").read_text())
    pri = pd.read_csv(demo / "priorities.csv")
    units = pri[pri["kind"] == "admin unit"]
    top = list(units["admin_pcode"].head(3))
    assert set(truth["under_engaged_admin_pcodes"]) <= set(top)
    assert units["why"].astype(str).str.len().gt(0).all()


def test_counts_add_up_and_bad_rows_rejected(demo: Path) -> None:
    run = json.loads((demo / "run.json").read_text())
    truth = json.loads((demo / "scenario" / "truth.json").read_text())
    assert run["synthetic"] is True
    for inp in run["inputs"]:
        assert inp["rows_read"] == inp["rows_accepted"] + inp["rows_rejected"]
    rejects = pd.read_csv(demo / "rejects.csv")
    bad = {(b["file"], b["row"]) for b in truth["bad_rows"]}
    got = {(Path(f).name, r) for f, r in zip(rejects["file"], rejects["row"], strict=True)}
    assert bad == got
    inc = next(i for i in run["inputs"] if i["kind"] == "incidents")
    assert inc["rows_accepted"] == truth["n_incidents"]
    assert not any("STALE" in w for w in run["warnings"])


def test_shared_outputs_are_safe_and_offline(demo: Path) -> None:
    html = (demo / "map.html").read_text(encoding="utf-8")
    assert "SYNTHETIC" in html
    # no tag loads anything from elsewhere (script bodies are inlined library code, whose
    # strings the browser test checks by blocking every request)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S | re.I)
    assert re.search(r"<script[^>]*\bsrc\s*=", html, flags=re.I) is None
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    kobo = pd.read_csv(demo / "scenario" / "consultations_kobo.csv", sep=None, engine="python")
    names = set(kobo["facilitator_name"].dropna()) | set(kobo["facilitator_phone"].dropna())
    blobs = [html, (demo / "admin_matrix.csv").read_text(),
             (demo / "risk_grid.parquet").read_bytes().decode("latin-1")]
    for blob in blobs:
        assert not any(n in blob for n in list(names)[:200])
    # no raw consultation coordinates: the KoBo GPS strings never appear
    gps = kobo["_location/gps_latitude"].dropna().astype(str).head(50)
    assert not any(f'"{g}"' in html for g in gps)
