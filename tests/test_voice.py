"""Perceptions, topics and engagement benchmarks over time (geo_risk.engagement.voice)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geo_risk.config import parse_config
from geo_risk.engagement.perceptions import welch_interval
from geo_risk.engagement.series import rolling, suppress, weeks_before, wilson
from geo_risk.engagement.topics import newcombe
from geo_risk.engagement.voice import MISSION, analyse_voice, split_respondents
from geo_risk.errors import ConfigError
from geo_risk.voice_config import BenchmarkConfig, VoiceConfig

WEEK = pd.Timestamp("2024-07-01")  # a Monday


def _config(tmp_path: Path, **extra: object) -> object:
    raw = {"boundaries": {"path": "b.gpkg", "pcode_column": "P", "name_column": "N"},
           "incidents": [{"path": "i.csv"}], "min_count": 5, **extra}
    return parse_config(raw, base_dir=tmp_path, check_files=False)


def _matrix(units: list[str], levels: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"admin_pcode": units, "admin_name": [f"Unit {u}" for u in units],
                         "level": levels or ["high"] * len(units)})


def _cells(units: list[str], pop: float = 50_000.0) -> pd.DataFrame:
    return pd.DataFrame({"admin_pcode": units, "population": pop})


def _records(unit: str, n: int, *, weeks_ago: int = 1, modality: str = "community_meeting",
             **cols: object) -> pd.DataFrame:
    date = WEEK - pd.Timedelta(days=7 * weeks_ago + 2)
    return pd.DataFrame({"date": [date] * n, "admin_pcode": unit, "modality": modality,
                         "participants_total": 10, "participants_women": 4,
                         "participants_youth": 2, "topics": "security", **cols})


# ------------------------------------------------------------------ statistics vs scipy


def test_welch_interval_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(1, 6, 23).astype(float), rng.integers(1, 6, 9).astype(float)
    d, lo, hi = welch_interval(mean1=np.array([a.mean()]), var1=np.array([a.var(ddof=1)]),
                               n1=np.array([23]), mean2=np.array([b.mean()]),
                               var2=np.array([b.var(ddof=1)]), n2=np.array([9]),
                               confidence=0.9)
    ref = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
    assert d[0] == pytest.approx(a.mean() - b.mean())
    assert (lo[0], hi[0]) == pytest.approx((ref.low, ref.high))


def test_wilson_interval_matches_scipy() -> None:
    lo, hi = wilson(np.array([7.0]), np.array([19.0]), float(stats.norm.ppf(0.975)))
    ref = stats.binomtest(7, 19).proportion_ci(0.95, method="wilson")
    assert (lo[0], hi[0]) == pytest.approx((ref.low, ref.high))
    d, dlo, dhi = newcombe(np.array([12]), np.array([15]), np.array([3]), np.array([15]),
                           confidence=0.95)
    assert dlo[0] > 0 and dlo[0] < d[0] < dhi[0] < 1


# ------------------------------------------------------------------ series and suppression


def test_rolling_window_counts_only_records_of_its_weeks() -> None:
    ago = weeks_before(pd.Series(WEEK - pd.to_timedelta([1, 7, 8, 20, 0], unit="D")), WEEK)
    assert ago.tolist() == [0, 0, 1, 2, -1]  # the forecast week itself is never counted
    out = rolling(unit_pos=np.zeros(5, int), weeks_ago=ago, values=np.ones(5), n_units=1,
                  points=3, window=2)
    assert out[0, :, 0].tolist() == [3.0, 2.0, 1.0]


def test_mission_total_never_reveals_a_suppressed_unit() -> None:
    n = np.array([[20.0, 3.0], [3.0, 3.0], [8.0, 9.0], [12.0, 0.0]])
    shown = suppress(n=n, part=n * 10, k=5, groups=[np.ones(4, bool)])
    hidden = np.where(shown, 0.0, n).sum(0)
    assert ((hidden == 0) | (hidden >= 5)).all()
    assert not shown[1].any() and shown[0, 0] and not shown[2, 0]


# ------------------------------------------------------------------ analyse_voice on frames


def _voice(tmp_path: Path, consultations: pd.DataFrame, units: list[str],
           perceptions: pd.DataFrame | None = None, **cfg: object) -> object:
    config = _config(tmp_path, **cfg)
    return analyse_voice(matrix=_matrix(units), cells=_cells(units),
                         consultations=consultations, perceptions=perceptions, week=WEEK,
                         config=config)


def test_series_has_26_weeks_per_unit_and_mission_rows(tmp_path: Path) -> None:
    c = pd.concat([_records("A", 6), _records("B", 6)], ignore_index=True)
    v = _voice(tmp_path, c, ["A", "B"])
    eng = v.trends.loc[v.trends["indicator"] == "engagements"]
    assert eng.groupby(["scope", "admin_pcode"]).size().eq(26).all()
    assert set(eng["scope"]) == {"unit", MISSION, "high-risk units"}
    now = eng.loc[eng["week"] == WEEK.to_datetime64()].set_index(["scope", "admin_pcode"])
    assert now.loc[(MISSION, ""), "value"] == 12
    assert eng["week"].min() == WEEK - pd.Timedelta(weeks=25)


def test_small_unit_and_all_it_implies_are_suppressed(tmp_path: Path) -> None:
    c = pd.concat([_records("A", 9), _records("B", 3), _records("C", 6)], ignore_index=True)
    v = _voice(tmp_path, c, ["A", "B", "C"])
    now = v.trends.loc[(v.trends["week"] == WEEK.to_datetime64())
                       & (v.trends["scope"] == "unit")]
    for family in ("benchmark", "topic"):
        rows = now.loc[now["family"] == family]
        b = rows.loc[rows["admin_pcode"] == "B"]
        assert (b["status"].isin(["suppressed", "no data"])).all() and b["value"].isna().all()
        # the mission total minus the shown units must not give B's 3 records away: C goes too
        c_rows = rows.loc[(rows["admin_pcode"] == "C") & rows["indicator"].isin(
            ["engagements", "topic_records"])]
        assert c_rows["value"].isna().all()
    assert v.matrix.set_index("admin_pcode").loc["B", "benchmarks_met"] == ""


def test_withheld_unit_shows_nothing_and_is_left_out_of_totals(tmp_path: Path) -> None:
    c = pd.concat([_records("A", 9), _records("S", 40)], ignore_index=True)
    v = _voice(tmp_path, c, ["A", "S"], reprisal_sensitive_pcodes=["S"])
    t = v.trends
    assert (t.loc[t["admin_pcode"] == "S", "status"] == "withheld").all()
    assert t.loc[t["admin_pcode"] == "S", "value"].isna().all()
    mission = t.loc[(t["scope"] == MISSION) & (t["indicator"] == "engagements")
                    & (t["week"] == WEEK.to_datetime64())]
    assert mission["value"].iloc[0] == 9


def test_free_text_in_topics_is_never_reported(tmp_path: Path) -> None:
    c = pd.concat([_records("A", 6, topics="security Chief_Name_said... +25512345"),
                   _records("A", 6, topics="land")], ignore_index=True)
    v = _voice(tmp_path, c, ["A"])
    assert v.topics == ["land", "security"]
    assert not v.trends["indicator"].str.contains("chief|2551", case=False).any()


def test_perception_change_interval_and_noise_flag(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    prev = _records("A", 30, weeks_ago=20, modality="perception_survey",
                    safety_score=rng.integers(3, 6, 30))
    now = _records("A", 30, weeks_ago=3, modality="perception_survey",
                   safety_score=rng.integers(1, 3, 30))
    same = pd.concat([_records("B", 30, weeks_ago=w, modality="perception_survey",
                               safety_score=np.tile([2, 3, 4], 10)) for w in (3, 20)])
    v = _voice(tmp_path, pd.concat([prev, now, same], ignore_index=True), ["A", "B"])
    m = v.matrix.set_index("admin_pcode")
    assert m.loc["A", "safety_change_signal"] == "down"
    assert m.loc["A", "safety_change_low"] < m.loc["A", "safety_change"] < m.loc[
        "A", "safety_change_high"] < 0
    assert m.loc["B", "safety_change_signal"] == "within noise"
    assert m.loc["B", "safety_change"] == pytest.approx(0.0)


def test_respondent_rows_are_perceptions_not_engagements(tmp_path: Path) -> None:
    cons = _records("A", 6).assign(source_file=str(tmp_path / "form.csv"))
    resp = _records("A", 12, participants_total=1, participants_women=1,
                    participants_youth=0, safety_score=4).assign(
                        source_file=str(tmp_path / "survey.csv"))
    config = _config(tmp_path, consultations=[{"path": "form.csv"},
                                              {"path": "survey.csv",
                                               "one_row_per_respondent": True}])
    eng, per = split_respondents(pd.concat([cons, resp], ignore_index=True),
                                 config.consultations)
    assert per is not None and len(per) == 12 and len(eng) == 6
    v = analyse_voice(matrix=_matrix(["A"]), cells=_cells(["A"]), consultations=eng,
                      perceptions=per, week=WEEK, config=config)
    m = v.matrix.set_index("admin_pcode")
    assert m.loc["A", "respondents"] == 12 and m.loc["A", "respondents_women_share"] == 1.0
    t = v.trends
    assert t.loc[(t["indicator"] == "engagements") & (t["admin_pcode"] == "A")
                 & (t["week"] == WEEK.to_datetime64()), "value"].iloc[0] == 6


def test_benchmarks_met_and_alert_response_no_data(tmp_path: Path) -> None:
    c = pd.concat([_records("A", 8), _records("B", 8, participants_women=1)],
                  ignore_index=True)
    v = _voice(tmp_path, c, ["A", "B"], benchmarks={"women_share": 0.3,
                                                    "alert_response_hours": 24})
    m = v.matrix.set_index("admin_pcode")
    assert m.loc["A", "benchmarks_met"] == "1 of 1"
    assert m.loc["B", "benchmarks_not_met"] == "women_share"
    alerts = v.trends.loc[v.trends["indicator"] == "alert_response_share"]
    assert (alerts["status"] == "no data").all()


def test_alert_response_share_from_response_hours(tmp_path: Path) -> None:
    c = pd.concat([_records("A", 8),
                   _records("A", 10, modality="early_warning_alert",
                            response_hours=[2.0] * 6 + [90.0] * 3 + [np.nan])],
                  ignore_index=True)
    v = _voice(tmp_path, c, ["A"], benchmarks={"alert_response_hours": 24})
    a = v.trends.loc[(v.trends["indicator"] == "alert_response_share")
                     & (v.trends["admin_pcode"] == "A") & (v.trends["week"] == WEEK)]
    assert a["value"].iloc[0] == pytest.approx(0.6) and not a["met"].iloc[0]


def test_voice_config_reports_every_bad_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        _config(tmp_path, benchmarks={"women_share": 3, "womens_share": 0.3},
                perceptions={"measures": {"safety": "notes"}, "series_weeks": 4})
    text = str(e.value)
    for key in ("benchmarks.women_share", "benchmarks.womens_share", "perceptions.measures",
                "perceptions.series_weeks"):
        assert key in text
    assert VoiceConfig().benchmarks == BenchmarkConfig()


# ------------------------------------------------------------------ against the synthetic truth


@pytest.fixture(scope="module")
def synth_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, pd.Timestamp,
                                                                    dict]:
    from geo_risk.config import load_config
    from geo_risk.pipeline import load_inputs
    from geo_risk.synth import ScenarioSpec, generate_scenario

    spec = ScenarioSpec(weeks=60, bbox=(30.0, 4.0, 32.0, 5.6), n_adm1=3, n_adm2=12, n_bases=4)
    files = generate_scenario(out_dir=tmp_path_factory.mktemp("voice"), spec=spec, seed=3)
    config = load_config(files.config)
    inputs = load_inputs(config, now=pd.Timestamp(files.forecast_week))
    return (config, inputs, pd.Timestamp(files.forecast_week),
            json.loads(Path(files.truth).read_text()))


@pytest.fixture(scope="module")
def synth_voice(synth_inputs: tuple[Any, Any, pd.Timestamp, dict]) -> tuple[object, dict]:
    config, inputs, week, truth = synth_inputs
    admin: gpd.GeoDataFrame = inputs.admin
    units = admin["admin_pcode"].astype(str).tolist()
    v = analyse_voice(matrix=_matrix(units), cells=_cells(units),
                      consultations=inputs.consultations, perceptions=inputs.perceptions,
                      week=week, config=config)
    return v, truth


def test_synthetic_perceptions_per_cell_shown_only_where_counts_allow(
        synth_inputs: tuple[Any, Any, pd.Timestamp, dict]) -> None:
    from geo_risk.index import cover_cells

    config, inputs, week, _ = synth_inputs
    units = inputs.admin["admin_pcode"].astype(str).tolist()
    grid = cover_cells(inputs.admin, resolution=config.h3_resolution).assign(population=1.0)
    v = analyse_voice(matrix=_matrix(units), cells=grid, consultations=inputs.consultations,
                      perceptions=inputs.perceptions, week=week, config=config)
    c = v.cells
    shown = c["perception_respondents"].notna()
    assert shown.sum() >= 1
    assert (c.loc[shown, "perception_respondents"] >= config.min_count).all()
    # every other column is empty where respondents are; no cell of a hidden unit is shown
    assert c.loc[~shown, ["perception_safety_mean", "perception_trust_mean"]].isna().all().all()
    unit_ok = v.matrix.set_index("admin_pcode")["respondents"].notna()
    assert unit_ok.reindex(grid.loc[shown, "admin_pcode"]).all()
    assert c.loc[shown, "perception_safety_mean"].between(1, 5).all()


def test_synthetic_perception_changes_are_found_where_the_truth_put_them(
        synth_voice: tuple[object, dict]) -> None:
    v, truth = synth_voice
    m = v.matrix.set_index("admin_pcode")
    for ch in truth["perception_changes"]:
        assert m.loc[ch["admin_pcode"], f"{ch['measure']}_change_signal"] == (
            "down" if ch["delta"] < 0 else "up"), ch
    stable = truth["perception_stable_admin_pcodes"]
    flagged = m.loc[stable, "safety_change_signal"].isin(["up", "down"]).sum() + m.loc[
        stable, "trust_change_signal"].isin(["up", "down"]).sum()
    assert flagged <= 2  # 95% intervals on 2 x len(stable) stable measures
    for pc in truth["perception_small_sample_admin_pcodes"]:
        assert np.isnan(m.loc[pc, "safety_mean"]) and np.isnan(m.loc[pc, "respondents"])


def test_synthetic_topic_shift_is_found(synth_voice: tuple[object, dict]) -> None:
    v, truth = synth_voice
    m = v.matrix.set_index("admin_pcode")
    for ch in truth["topic_changes"]:
        assert f"{ch['topic']} +" in m.loc[ch["admin_pcode"], "topics_changed"]


def test_synthetic_no_women_units_miss_the_women_benchmark(
        synth_voice: tuple[object, dict]) -> None:
    v, truth = synth_voice
    t = v.trends
    w = t.loc[(t["indicator"] == "women_share") & t["admin_pcode"].isin(
        truth["no_women_admin_pcodes"]) & (t["status"] == "shown")]
    assert len(w) > 0 and not w["met"].astype(bool).any()
    others = t.loc[(t["indicator"] == "women_share") & (t["scope"] == MISSION)]
    assert others["met"].astype(bool).all()


def test_config_with_voice_round_trips_defaults(tmp_path: Path) -> None:
    c = _config(tmp_path, topics={"names": ["Land", "security"]})
    assert c.voice.topics.names == ("land", "security")
    assert replace(c.voice.perceptions, period_weeks=4).period_weeks == 4


# ------------------------------------------------------------------ suppression, every family


def test_every_family_hides_small_counts_and_what_totals_would_reveal(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    units = [f"U{i}" for i in range(7)]
    n = 400
    c = pd.DataFrame({
        "date": WEEK - pd.to_timedelta(rng.integers(1, 40 * 7, n), unit="D"),
        "admin_pcode": rng.choice(units, n, p=[.3, .3, .2, .1, .05, .03, .02]),
        "modality": rng.choice(["community_meeting", "perception_survey",
                                "early_warning_alert"], n, p=[.6, .3, .1]),
        "participants_total": 1, "participants_women": 1, "participants_youth": 0,
        "topics": rng.choice(["security", "land", ""], n),
        "safety_score": rng.integers(1, 6, n).astype(float),
        "commitments_made": rng.random(n) < 0.5, "follow_up_status": "done",
        "response_hours": rng.uniform(1, 60, n)})
    v = _voice(tmp_path, c, units, benchmarks={"alert_response_hours": 24})
    t = v.trends
    # the count behind each family, per unit and week, measured here independently
    p = c.assign(ago=weeks_before(c["date"], WEEK))
    due = c["date"] + pd.Timedelta(weeks=4)
    checks = {
        "respondents": (p["modality"] == "perception_survey", p["ago"], 13),
        "topic_records": ((p["modality"] != "early_warning_alert") & (p["topics"] != ""),
                          p["ago"], 13),
        "engagements": (p["modality"] != "early_warning_alert", p["ago"], 13),
        "follow_up_share": ((p["modality"] != "early_warning_alert") & p["commitments_made"],
                            pd.Series(weeks_before(due, WEEK)), 13),
        "alert_response_share": (p["modality"] == "early_warning_alert", p["ago"], 13),
    }
    for ind, (mask, ago, window) in checks.items():
        rows = t.loc[(t["indicator"] == ind) & (t["scope"] == "unit")]
        assert set(rows["status"]) == {"shown", "suppressed"}, ind
        for week, grp in rows.groupby("week"):
            s = (WEEK - pd.Timestamp(week)).days // 7
            inw = mask & (ago >= s) & (ago < s + window)
            true = p.loc[inw].groupby("admin_pcode").size().reindex(units).fillna(0)
            shown = grp.set_index("admin_pcode")["status"].reindex(units) == "shown"
            assert (true[shown] >= 5).all(), (ind, week)
            hidden = true[~shown].sum()
            assert hidden == 0 or hidden >= 5, (ind, week, hidden)
            assert grp.loc[grp["status"] != "shown", "value"].isna().all()


def test_trust_score_is_read_and_out_of_range_rejected(tmp_path: Path) -> None:
    from geo_risk.config import SourceConfig
    from geo_risk.readers.consultations import read_consultations

    path = tmp_path / "survey.csv"
    path.write_text("_uuid,survey_date,admin2,total,safety_score,trust_mission\n"
                    "a,2024-05-01,XA01,1,4,5\nb,2024-05-02,XA01,1,3,9\n", encoding="utf-8")
    res = read_consultations(SourceConfig(path=path, format="kobo", name="survey",
                                          options={"modality": "perception_survey"}),
                             now=WEEK)
    assert res.frame["trust_score"].tolist() == [5.0]
    assert res.rejects["column"].tolist() == ["trust_mission"]
    assert "trust score must be a number from 1" in res.rejects["reason"].iloc[0]


def test_brief_voice_sections_escape_names_and_say_when_no_benchmark_is_set(
        tmp_path: Path) -> None:
    from geo_risk.render.brief_voice import voice_paragraphs, voice_sections

    rng = np.random.default_rng(2)
    c = pd.concat([_records("A", 30, weeks_ago=w, modality="perception_survey",
                            safety_score=rng.integers(lo, lo + 2, 30))
                   for w, lo in ((20, 4), (3, 1))], ignore_index=True)
    matrix = _matrix(["A"]).assign(admin_name="<script>x</script>")
    v = analyse_voice(matrix=matrix, cells=_cells(["A"]), consultations=c, perceptions=None,
                      week=WEEK, config=_config(tmp_path))
    html = str(voice_sections(v))
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "lower, beyond noise" in html and "No benchmark is set" in html
    assert voice_paragraphs(v)[0].startswith("Perceived safety fell in <script>x</script> (A)")
    assert voice_sections(None) is None


def test_series_rows_are_in_the_order_sort_values_gives(synth_voice: tuple[Any, dict]) -> None:
    """The series is stacked and sorted by numpy: the same rows in the same order as a
    stable ``sort_values`` on (indicator, scope, admin_pcode, week)."""
    trends = synth_voice[0].trends
    again = trends.sample(frac=1.0, random_state=0).sort_values(
        ["indicator", "scope", "admin_pcode", "week"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(trends, again, check_exact=True)
    assert (trends["scope"] != "high-risk units").any()
    assert str(trends["indicator"].dtype) == "str" and str(trends["met"].dtype) == "boolean"
