"""Alerts and their response, alert-network gaps, the gender view and who engaged: readers,
analysis and the SYNTHETIC scenario's truth (geo_risk.engagement.outreach)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo_risk.config import ModelConfig, SourceConfig, load_config
from geo_risk.engagement.alerts import alert_response_stats
from geo_risk.engagement.components import _blank_small
from geo_risk.errors import ConfigError
from geo_risk.readers.bases import read_bases
from geo_risk.readers.consultations import read_consultations
from geo_risk.readers.focal_points import read_focal_points

NOW = pd.Timestamp("2026-03-01")


def _src(path: Path, fmt: str = "csv", **options: object) -> SourceConfig:
    return SourceConfig(path=path, format=fmt, name=path.name, options=options)


def test_alert_log_response_fields_and_component_are_read_or_rejected_with_reasons(
        tmp_path: Path) -> None:
    p = tmp_path / "alerts.csv"
    pd.DataFrame({
        "id": ["a1", "a2", "a3", "a4", "m1", "m2"],
        "date": ["2026-02-01 08:00", "2026-02-02 09:30", "2026-02-03", "2026-02-04 10:00",
                 "2026-02-05", "2026-02-06"],
        "admin_pcode": ["XV01"] * 6,
        "modality": ["sms"] * 4 + ["meeting", "meeting"],
        "alert_type": ["Cattle raid", "", "", ""] + [""] * 2,
        "responded_at": ["2026-02-01 20:00", "2026-02-02 08:00", "soon", ""] + [""] * 2,
        "response": ["patrol", "patrol", "", "none", "", ""],
        "component": ["", "", "", "", "LEAD", "astronauts"],
        "sender_phone": ["+000 1", "+000 2", "+000 3", "+000 4", "", ""],
    }).to_csv(p, index=False)
    res = read_consultations(_src(p, components={"LEAD": "leadership_visit"}), now=NOW)
    assert len(res.frame) + len(res.rejects) == 6
    why = dict(zip(res.rejects["row"], res.rejects["reason"], strict=True))
    assert "before the alert was received" in why[3]  # answered 1.5 h before it came in
    assert "response time not understood" in why[4]
    assert "unknown mission component" in why[7] and "components" in why[7]
    f = res.frame.set_index("consultation_id")
    assert f.loc["a1", "received_at"] == pd.Timestamp("2026-02-01 08:00")
    assert f.loc["a1", "responded_at"] == pd.Timestamp("2026-02-01 20:00")
    assert f.loc["a1", "alert_type"] == "cattle raid"
    assert f.loc["a4", "response"] == "none" and pd.isna(f.loc["a4", "responded_at"])
    assert f.loc["m1", "component"] == "leadership_visit"
    assert "sender_phone" not in res.frame.columns
    assert "+000 1" not in res.frame.astype(str).to_numpy()


def test_component_mapping_onto_an_unknown_component_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    pd.DataFrame({"id": ["1"], "date": ["2026-02-01"], "admin_pcode": ["XV01"]}).to_csv(p)
    with pytest.raises(ConfigError, match="unknown components"):
        read_consultations(_src(p, components={"X": "navy"}), now=NOW)


def test_focal_point_registry_drops_names_and_rejects_bad_rows(tmp_path: Path) -> None:
    p = tmp_path / "fp.csv"
    pd.DataFrame({"focal_point_id": ["F1", "F2", "F3", "F1"],
                  "admin2": ["XV01", "XV02", "", "XV01"],
                  "registered": ["2025-01-01", "2025-06-01", "2025-01-01", "2025-01-01"],
                  "ended": ["", "2025-01-01", "", ""],
                  "name": ["FAKE A", "FAKE B", "FAKE C", "FAKE D"],
                  "phone": ["1", "2", "3", "4"]}).to_csv(p, index=False)
    res = read_focal_points(_src(p), now=NOW)
    assert res.frame["focal_point_id"].tolist() == ["F1"]
    why = dict(zip(res.rejects["row"], res.rejects["reason"], strict=True))
    assert "ended before it was registered" in why[3]
    assert "cannot be placed" in why[4] and "duplicate" in why[5]
    assert not {"name", "phone"} & set(res.frame.columns)
    assert any("personal fields dropped" in w for w in res.report.warnings)


def test_more_female_liaison_staff_than_staff_rejects_the_base(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    pd.DataFrame({"base_name": ["A", "B", "C"], "lon": [30, 31, 32], "lat": [5, 5, 5],
                  "liaison_staff": [2, 1, 2], "female_liaison_staff": [1, 2, ""]}
                 ).to_csv(p, index=False)
    res = read_bases(_src(p), now=NOW)
    assert res.frame["base_name"].tolist() == ["A", "C"]
    assert res.frame["female_liaison_staff"].iloc[0] == 1
    assert pd.isna(res.frame["female_liaison_staff"].iloc[1])  # not recorded, not zero
    assert "more female liaison staff" in res.rejects["reason"].iloc[0]


def _alerts(base: list[str], hours: list[float | None]) -> pd.DataFrame:
    n = len(base)
    recv = pd.Timestamp("2026-02-20 08:00")
    return pd.DataFrame({
        "date": [recv.normalize()] * n, "admin_pcode": ["XV01"] * n,
        "cell": np.zeros(n, np.uint64), "modality": ["early_warning_alert"] * n,
        "received_at": [recv] * n,
        "responded_at": [recv + pd.Timedelta(hours=h) if h is not None else pd.NaT
                         for h in hours],
        "response": ["patrol" if h is not None else "none" for h in hours],
        "response_base": base, "team": [""] * n})


def test_response_stats_per_base_median_share_within_and_suppression() -> None:
    frame = _alerts(["A"] * 6 + ["B"] * 3, [1, 2, 3, 30, 40, None, 1, 1, 1])
    before = frame.copy()
    s = alert_response_stats(consultations=frame, week=pd.Timestamp("2026-03-02"),
                             window_days=28, within_hours=24, min_count=5, by="base")
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not changed
    a = s.set_index("base").loc["A"]
    assert a["alerts"] == 6 and a["responded"] == 5 and a["median_response_hours"] == 3.0
    assert a["within_hours_share"] == pytest.approx(3 / 6)  # unanswered counts as late
    b = s.set_index("base").loc["B"]
    assert b["status"] == "suppressed" and b[["alerts", "median_response_hours"]].isna().all()
    m = alert_response_stats(consultations=frame, week=pd.Timestamp("2026-03-02"),
                             by="mission", min_count=5).iloc[0]
    assert m["alerts"] == 9
    old = alert_response_stats(consultations=frame, week=pd.Timestamp("2026-05-04"),
                               window_days=28, by="mission")
    assert old.empty  # outside the window


def test_blanked_component_counts_cannot_be_recovered_from_the_total() -> None:
    counts = np.array([[10.0, 3.0, 0.0, 7.0], [10.0, 6.0, 0.0, 0.0]])
    out = _blank_small(counts, 5)
    assert np.isnan(out[0, 1]) and np.isnan(out[0, 3])  # 3 alone would follow from 20 - 17
    assert out[0, 0] == 10 and out[0, 2] == 0
    assert (out[1] == counts[1]).all()


# ============================================================================= SYNTHETIC scenario

WITHHELD_UNIT = "XV0404"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from geo_risk.outputs import write_outputs
    from geo_risk.pipeline import load_inputs, run_week
    from geo_risk.synth import generate_scenario

    root = tmp_path_factory.mktemp("outreach")
    files = generate_scenario(out_dir=root / "scenario", seed=42)
    cfg = dataclasses.replace(load_config(files.config),
                              model=ModelConfig(kind="conflictology"),
                              reprisal_sensitive_pcodes=(WITHHELD_UNIT,))
    inputs = load_inputs(cfg, now=pd.Timestamp(files.forecast_week))
    result = run_week(cfg, inputs=inputs)
    write_outputs(result, cfg, root / "out")
    return cfg, result, root / "out", json.loads(files.truth.read_text()), files


def test_alert_network_gaps_and_channels_match_the_truth(scenario) -> None:  # type: ignore[no-untyped-def]
    _, _, out, truth, _ = scenario
    m = pd.read_csv(out / "admin_matrix.csv").set_index("admin_pcode")
    gaps = set(m.index[m["alert_network_gap"].astype(str) == "True"])
    assert truth["alert_gap_admin_pcodes"] and set(truth["alert_gap_admin_pcodes"]) <= gaps
    assert (m.loc[sorted(gaps), "alert_channel"].astype(str) == "False").all()
    assert (m.loc[sorted(gaps), "alert_status"] == "network gap").all()
    # a registered focal point alone is a channel; one that ended long ago is not
    assert (m.loc[truth["focal_point_only_admin_pcodes"], "alert_channel"].astype(str)
            == "True").all()
    ended = [u for u in truth["ended_focal_point_admin_pcodes"] if u != WITHHELD_UNIT]
    assert (m.loc[ended, "alert_channel"].astype(str) == "False").all()


def test_slow_base_and_response_medians_match_the_truth(scenario) -> None:  # type: ignore[no-untyped-def]
    _, _, out, truth, _ = scenario
    r = pd.read_csv(out / "alert_response.csv").set_index("base")
    shown = r[r["status"] == "shown"].drop(index="mission")
    slow = truth["slow_response_base"]
    assert slow in shown.index and shown["median_response_hours"].idxmax() == slow
    assert shown["within_hours_share"].idxmin() == slow
    # the truth's medians include the withheld unit's alerts: compare sides of the 24 h line
    for base, row in shown.iterrows():
        if not np.isnan(row["median_response_hours"]):
            assert ((row["median_response_hours"] > 24)
                    == (truth["alert_response_median_hours"][base] > 24) == (base == slow))
    assert (shown["alerts"] >= 5).all()
    assert r.loc[r["status"] == "suppressed", "alerts"].isna().all()


def test_gender_and_leadership_views_match_the_truth(scenario) -> None:  # type: ignore[no-untyped-def]
    _, _, out, truth, _ = scenario
    g = pd.read_csv(out / "gender_bases.csv").set_index("base_name")
    without = set(g.index[g["no_female_liaison_staff"].astype(str) == "True"])
    assert without == set(truth["bases_without_female_staff"]) & set(g.index)
    m = pd.read_csv(out / "admin_matrix.csv").set_index("admin_pcode")
    nw = m.index[m["no_women"].astype(str) == "True"]
    assert len(nw) and (m.loc[nw, "main_base_female_staff"] == 0).all()
    assert set(truth["leadership_visit_admin_pcodes"]) == set(
        m.index[m["leadership_visit"].astype(str) == "True"])
    brief = (out / "brief.html").read_text()
    for pcode in truth["alert_gap_admin_pcodes"]:
        assert pcode in brief[brief.index('id="grb-alert-gaps"'):]
    assert "no female liaison staff" in brief and 'id="grb-components"' in brief


def test_every_new_value_is_suppressed_below_min_count_and_withheld(scenario) -> None:  # type: ignore[no-untyped-def]
    cfg, _, out, _, files = scenario
    k = cfg.min_count
    m = pd.read_csv(out / "admin_matrix.csv", keep_default_na=True).set_index("admin_pcode")
    shown = m["alerts_recent"].notna()
    assert shown.any() and (m.loc[shown, "alerts_recent"] >= k).all()
    assert m.loc[~shown, ["alerts_responded_share", "alert_response_median_hours",
                          "alerts_within_hours_share"]].isna().all().all()
    counts = m["alert_types"].dropna().str.findall(r"\((\d+)\)").explode().dropna().astype(int)
    assert (counts >= k).all()
    comp = m.filter(like="engaged_by_").stack().dropna()
    assert ((comp == 0) | (comp >= k)).all()
    hidden = m["engagement_status"] != "engaged"
    assert m.loc[hidden].filter(like="engaged_by_").isna().all().all()
    assert m.loc[hidden, "leadership_visit"].isna().all()
    w = m.loc[WITHHELD_UNIT]
    assert w["alert_status"] == "withheld" and pd.isna(w["alert_channel"])
    assert pd.isna(w["alerts_recent"]) and pd.isna(w["alert_network_gap"])
    g = pd.read_csv(out / "gender_bases.csv")
    assert g.loc[g["engagements"].isna(), "women_share"].isna().all()
    assert (g["engagements"].dropna() >= k).all()


def test_no_output_holds_a_sender_or_focal_point_identity(scenario) -> None:  # type: ignore[no-untyped-def]
    _, _, out, _, files = scenario
    kobo = pd.read_csv(files.consultations, sep=None, engine="python", dtype=str)
    fp = pd.read_csv(files.out_dir / "focal_points.csv", dtype=str)
    secrets = (set(kobo["alert/sender_phone"].dropna()) | set(fp["name"]) | set(fp["phone"])
               | set(fp["focal_point_id"]))
    assert len(secrets) > 20
    for name in ("admin_matrix.csv", "alert_response.csv", "gender_bases.csv", "map.html",
                 "brief.html", "run.json", "priorities.csv"):
        text = (out / name).read_text(encoding="utf-8")
        assert not [s for s in secrets if s in text], name
    page = (out / "map.html").read_text(encoding="utf-8")
    assert '"key":"alerts"' in page and "network gap" in page
    assert '"key":"component"' in page and "leadership visit" in page


def test_brief_sections_escape_base_and_unit_names() -> None:
    from geo_risk.config import AlertsConfig, RunConfig
    from geo_risk.engagement.outreach import OutreachResult
    from geo_risk.render.brief_outreach import outreach_sections

    evil = "<script>alert(1)</script>"
    matrix = pd.DataFrame({
        "admin_pcode": ["XV01"], "admin_name": [evil], "expected_incident_cells": [1.0],
        "alert_network_gap": [True], "alerts_recent": [np.nan], "alert_types": [""],
        "alerts_responded_share": [np.nan], "alert_response_median_hours": [np.nan],
        "alerts_within_hours_share": [np.nan], "alert_status": ["network gap"],
        "no_women": [True], "main_base": [evil], "main_base_female_staff": [0.0],
        "main_component": ["civil_affairs"], "leadership_visit": [True],
        **{f"engaged_by_{c}": [np.nan] for c in ("civil_affairs", "military", "police",
                                                  "human_rights", "leadership_visit",
                                                  "other")}})
    response = pd.DataFrame({"base": [evil, "mission"], "alerts": [6.0, 6.0],
                             "responded": [6.0, 6.0], "responded_share": [1.0, 1.0],
                             "median_response_hours": [2.0, 2.0],
                             "within_hours_share": [1.0, 1.0], "status": ["shown", "shown"]})
    gender = pd.DataFrame({"base_name": [evil], "liaison_staff": [2], "female_liaison_staff": [0.0],
                           "no_female_liaison_staff": [True], "engagements": [9.0],
                           "participants": [90.0], "women_share": [0.0], "units_no_women": [1],
                           "units_no_women_names": [evil]})
    out = OutreachResult(admin=matrix, alert_response=response, gender_bases=gender,
                         metadata={"gender": {"bases_recorded": 1,
                                              "bases_without_female_staff": [evil]}})
    cfg = RunConfig(config_path=None, boundaries=None, incidents=(),  # type: ignore[arg-type]
                    alerts=AlertsConfig())
    html = str(outreach_sections(matrix=matrix, outreach=out, config=cfg))
    assert "<script>" not in html and html.count("&lt;script&gt;") >= 5
    assert 'id="grb-alert-gaps"' in html and "no female liaison staff" in html


def test_without_alert_log_or_registry_no_unit_is_called_without_channel() -> None:
    from geo_risk.engagement.alerts import unit_alerts

    units = np.array(["XV01", "XV02"], dtype=object)
    meetings = _alerts(["A"], [1.0]).assign(modality="community_meeting")
    kw = dict(units=units, unit_pop=np.array([10.0, 0.0]), expected=np.array([1.0, 0.0]),
              withheld=np.zeros(2, bool), week=pd.Timestamp("2026-03-02"), window_days=28,
              within_hours=24.0, channel_weeks=12, high_risk_quantile=0.5, min_count=5)
    out, meta = unit_alerts(consultations=meetings, focal_points=None, **kw)  # type: ignore[arg-type]
    assert not meta["alert_data"] and (out["alert_status"] == "").all()
    assert out["alert_channel"].isna().all() and out["alert_network_gap"].isna().all()
    fp = pd.DataFrame({"admin_pcode": ["XV02"], "registered": [pd.Timestamp("2026-01-01")],
                       "ended": [pd.NaT]})
    out, meta = unit_alerts(consultations=meetings, focal_points=fp, **kw)  # type: ignore[arg-type]
    assert out["alert_status"].tolist() == ["network gap", "channel, no alert"]


def test_alerts_of_a_shorter_window_are_the_rows_of_the_longer_one_since_its_start() -> None:
    """unit_alerts reads the longer window once and takes each window's rows from it."""
    from geo_risk.engagement.alerts import _since, alert_records

    frame = pd.concat([_alerts(["A", "B", ""], [2.0, None, 30.0]).assign(
        date=pd.Timestamp("2026-03-02") - pd.Timedelta(days=d)) for d in (1, 9, 20, 40)],
        ignore_index=True)
    week = pd.Timestamp("2026-03-02")
    wide = alert_records(frame, week=week, days=42)
    for days in (7, 14, 28, 42):
        pd.testing.assert_frame_equal(_since(wide, week - pd.Timedelta(days=days)),
                                      alert_records(frame, week=week, days=days),
                                      check_exact=True)
