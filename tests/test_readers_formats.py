"""Every real export shape and quirk, written by the tests in the published layouts."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import UNITS, acled_rows, write_boundaries

from geo_risk.config import BoundariesConfig, SourceConfig, parse_config
from geo_risk.errors import ConfigError, InputFileError
from geo_risk.gazetteer import Gazetteer
from geo_risk.readers import read_boundaries, read_consultations, read_incidents, read_restrictions
from geo_risk.readers.hxl import Tag

NOW = pd.Timestamp("2025-01-01")


def src(path: Path, fmt: str, **options: object) -> SourceConfig:
    return SourceConfig(path=path, format=fmt, name=path.name, options=options)


@pytest.fixture()
def admin(tmp_path: Path) -> gpd.GeoDataFrame:
    p = write_boundaries(tmp_path / "b.gpkg")
    return read_boundaries(BoundariesConfig(path=p, layer="adm2", pcode_column="ADM2_PCODE",
                                            name_column="ADM2_EN"))


@pytest.fixture()
def gaz(admin: gpd.GeoDataFrame) -> Gazetteer:
    return Gazetteer.from_admin(admin)


def accounted(res) -> None:  # type: ignore[no-untyped-def]
    assert res.report.rows_read == len(res.frame) + len(res.rejects)
    assert list(res.rejects.columns) == ["file", "row", "column", "value", "reason"]


# --- ACLED -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["%d %B %Y", "%d-%b-%y", "%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y",
                                 "%d-%m-%Y"])
def test_acled_date_styles(tmp_path: Path, fmt: str) -> None:
    df = acled_rows(n_weeks=2)
    days = pd.to_datetime(df["event_date"], format="%d %B %Y")
    df["event_date"] = days.dt.strftime(fmt)
    p = tmp_path / "acled.csv"
    df.to_csv(p, index=False)
    res = read_incidents(src(p, "acled"), now=NOW)
    accounted(res)
    assert res.rejects.empty
    assert (res.frame["date"].to_numpy() == days.to_numpy()).all()


def test_acled_old_uppercase_xlsx_latin1_semicolon(tmp_path: Path) -> None:
    df = acled_rows(n_weeks=2).drop(columns=["sub_event_type", "civilian_targeting", "tags"])
    df.columns = [c.upper() for c in df.columns]
    df["NOTES"] = "Attaque près de Bétou"
    xlsx = tmp_path / "old.xlsx"
    df.to_excel(xlsx, index=False)
    csv = tmp_path / "old.csv"
    df.to_csv(csv, index=False, sep=";", encoding="latin-1")
    for p in (xlsx, csv):
        res = read_incidents(src(p, "acled"), now=NOW)
        accounted(res)
        assert len(res.frame) == len(df)
        assert res.frame["notes"].iloc[0] == "Attaque près de Bétou"
        assert (res.frame["sub_event_type"] == "").all()


def test_acled_monadic_rows_are_merged_with_their_actors(tmp_path: Path) -> None:
    dyadic = acled_rows(n_weeks=1).iloc[:3].reset_index(drop=True)
    dyadic["actor1"] = ["Group A", "Group B", "Group C"]
    dyadic["actor2"] = ["Civilians (Testland)", "Police", ""]
    # Monadic layout: one row per actor; the event repeats under its event_id_cnty.
    second = dyadic.iloc[:2].copy()
    second["actor1"], second["actor2"] = dyadic["actor2"].iloc[:2].to_numpy(), ""
    mono = pd.concat([dyadic, second]).sort_values("event_id_cnty", kind="stable")
    mono = mono.drop(columns=["actor2", "assoc_actor_2", "inter2"])
    p = tmp_path / "monadic.csv"
    mono.to_csv(p, index=False)
    res = read_incidents(src(p, "acled"), now=NOW)
    accounted(res)
    assert len(res.frame) == 3 and len(res.rejects) == 2
    actors = res.frame.set_index("event_id")
    e0 = dyadic["event_id_cnty"].iloc[0]
    assert actors.loc[e0, "actor1"] == "Group A"
    assert actors.loc[e0, "actor2"] == "Civilians (Testland)"
    rej = res.rejects.iloc[0]
    assert "merged into row 2" in rej["reason"] and "Civilians (Testland)" in rej["reason"]
    assert rej["column"] == "event_id_cnty" and rej["value"] == e0
    # Fatalities are counted once per event, not once per actor.
    assert res.frame["fatalities"].sum() == dyadic["fatalities"].sum()


def test_acled_conflicting_and_exact_duplicates(tmp_path: Path) -> None:
    df = acled_rows(n_weeks=1).iloc[:3].reset_index(drop=True)
    copy = df.iloc[[0]].copy()
    other = df.iloc[[1]].copy()
    other["event_date"] = "01 January 2022"
    p = tmp_path / "a.csv"
    pd.concat([df, copy, other]).to_csv(p, index=False)
    res = read_incidents(src(p, "acled"), now=NOW)
    accounted(res)
    reasons = res.rejects.set_index("row")["reason"]
    assert "exact repeat of row 2" in reasons[5]
    assert "different date" in reasons[6] and "row 3" in reasons[6]


def test_acled_precision_and_admin_name_gazetteer(tmp_path: Path, gaz: Gazetteer) -> None:
    df = acled_rows(n_weeks=2).iloc[:6].reset_index(drop=True).astype(object)
    df["admin1"] = "North"
    df.loc[0, ["latitude", "longitude", "geo_precision", "admin2"]] = ["", "", 3, "ALPHA county"]
    df.loc[1, ["latitude", "longitude", "geo_precision", "admin2"]] = ["", "", 3, "Brav0"]
    df.loc[2, ["latitude", "longitude", "geo_precision", "admin2"]] = ["", "", 3, "Zulu"]
    df.loc[3, ["geo_precision", "admin2"]] = [3, "Delta"]
    df.loc[4, ["latitude", "longitude", "admin2"]] = ["", "", ""]
    p = tmp_path / "a.csv"
    df.to_csv(p, index=False)
    res = read_incidents(src(p, "acled"), now=NOW, gazetteer=gaz)
    accounted(res)
    got = res.frame.set_index("source_row")
    assert got.loc[2, "admin_pcode"] == "XT0101" and got.loc[2, "geo_precision"] == 3
    assert got.loc[3, "admin_pcode"] == "XT0102"  # "Brav0": spelling-tolerant
    assert got.loc[5, "admin_pcode"] == "XT0202" and np.isfinite(got.loc[5, "lat"])
    rej = res.rejects.set_index("row")
    assert rej.loc[4, "column"] == "admin2" and rej.loc[4, "value"] == "Zulu"
    assert "closest" in rej.loc[4, "reason"] or "no admin unit" in rej.loc[4, "reason"]
    assert "cannot be placed" in rej.loc[6, "reason"]


# --- UCDP --------------------------------------------------------------------------------

def ucdp_frame() -> pd.DataFrame:
    base = {"relid": "SSD-2023-1-1", "year": 2023, "active_year": 1, "code_status": "Clear",
            "conflict_name": "Testland: Government", "dyad_name": "Gov - Rebels",
            "side_a": "Government of Testland", "side_b": "Rebels", "number_of_sources": 1,
            "source_article": "x", "source_office": "Radio", "source_date": "",
            "source_headline": "", "source_original": "", "where_coordinates": "Alpha town",
            "where_description": "near Alpha", "adm_1": "North state", "adm_2": "Alpha county",
            "priogrid_gid": 1, "country": "Testland", "country_id": 999, "region": "Africa",
            "event_clarity": 1, "deaths_a": 0, "deaths_b": 0, "deaths_civilians": 2,
            "deaths_unknown": 0, "gwnoa": "", "gwnob": ""}
    rows = [
        (101, 1, 1, 1, 30.25, 5.25, "2023-03-01 00:00:00.000", "2023-03-01 00:00:00.000",
         2, 1, 3),
        (102, 3, 1, 2, 30.75, 5.75, "2023-03-02 00:00:00.000", "2023-03-09 00:00:00.000",
         5, 4, 8),
        (103, 2, 3, 4, 30.6, 5.2, "2023-03-03", "2023-03-03", 1, 1, 1),
        (104, 3, 4, 1, 30.3, 5.3, "2023-03-04", "2023-03-04", 0, 0, 0),
        (105, 3, 1, 1, 30.3, 5.3, "2023-03-05", "2023-03-01", 1, 1, 1),
        (106, 4, 1, 1, 30.3, 5.3, "2023-03-06", "2023-03-06", 1, 1, 1),
    ]
    out = []
    for (i, tov, where, dprec, lon, lat, d0, d1, best, low, high) in rows:
        out.append({"id": i, **base, "type_of_violence": tov, "where_prec": where,
                    "date_prec": dprec, "latitude": lat, "longitude": lon,
                    "geom_wkt": f"POINT ({lon} {lat})", "date_start": d0, "date_end": d1,
                    "best": best, "low": low, "high": high})
    return pd.DataFrame(out)


def check_ucdp(res) -> None:  # type: ignore[no-untyped-def]
    accounted(res)
    f = res.frame.set_index("event_id")
    assert list(f.index) == ["101", "102", "103"]
    assert f.loc["101", "event_type"] == "State-based conflict"
    assert not f.loc["101", "civilian_targeting"] and f.loc["102", "civilian_targeting"]
    assert f.loc["102", "end_date"] == pd.Timestamp("2023-03-09")
    assert f.loc["102", "fatalities"] == 5 and f.loc["102", "time_precision"] == 2
    assert f.loc["103", "geo_precision"] == 3 and f.loc["103", "time_precision"] == 3
    assert f.loc["101", "actor1"] == "Government of Testland"
    rej = res.rejects.set_index("row")["reason"]
    assert "province" in rej.iloc[0]  # where_prec 4
    assert "before start" in rej.iloc[1]
    assert "type_of_violence" in rej.iloc[2]


def test_ucdp_csv(tmp_path: Path) -> None:
    p = tmp_path / "ged.csv"
    ucdp_frame().to_csv(p, index=False)
    res = read_incidents(src(p, "ucdp"), now=NOW)
    check_ucdp(res)
    assert res.rejects["row"].tolist() == [5, 6, 7]


def test_ucdp_geojson(tmp_path: Path) -> None:
    df = ucdp_frame()
    feats = [{"type": "Feature", "geometry": {"type": "Point",
                                              "coordinates": [r.longitude, r.latitude]},
              "properties": {k: v for k, v in r._asdict().items()
                             if k not in ("latitude", "longitude")}}
             for r in df.itertuples(index=False)]
    p = tmp_path / "ged.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    res = read_incidents(src(p, "ucdp"), now=NOW)
    check_ucdp(res)
    assert res.frame["lat"].iloc[0] == pytest.approx(5.25)
    assert res.rejects["row"].tolist() == [4, 5, 6]  # feature numbers


def test_ucdp_deaths_out_of_order_kept_with_best_and_one_counted_warning(
        tmp_path: Path) -> None:
    df = ucdp_frame().iloc[:3].copy()  # three valid rows: 101, 102, 103
    df.loc[0, ["best", "low", "high"]] = [2, 3, 4]    # low > best
    df.loc[1, ["best", "low", "high"]] = [9, 4, 8]    # best > high
    p = tmp_path / "ged.csv"
    df.to_csv(p, index=False)
    res = read_incidents(src(p, "ucdp"), now=NOW)
    accounted(res)
    assert res.rejects.empty
    f = res.frame.set_index("event_id")
    assert f.loc["101", "fatalities"] == 2 and f.loc["102", "fatalities"] == 9
    warns = [w for w in res.report.warnings if "out of order" in w]
    assert len(warns) == 1 and warns[0].startswith("2 row(s)") and "rows 2, 3" in warns[0]


def test_ucdp_consistent_deaths_give_no_order_warning(tmp_path: Path) -> None:
    p = tmp_path / "ged.csv"
    ucdp_frame().iloc[:3].to_csv(p, index=False)
    res = read_incidents(src(p, "ucdp"), now=NOW)
    assert not [w for w in res.report.warnings if "out of order" in w]


def test_ucdp_admin_names_when_no_coordinates(tmp_path: Path, gaz: Gazetteer) -> None:
    df = ucdp_frame().iloc[:2].drop(columns=["latitude", "longitude", "geom_wkt"])
    p = tmp_path / "ged.csv"
    df.to_csv(p, index=False)
    res = read_incidents(src(p, "ucdp"), now=NOW, gazetteer=gaz)
    accounted(res)
    assert (res.frame["admin_pcode"] == "XT0101").all()
    assert (res.frame["geo_precision"] == 3).all()


# --- KoBo --------------------------------------------------------------------------------

def kobo_frame(n: int = 6) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append({
            "start": "2024-05-01T08:00:00.000+03:00", "end": "2024-05-01T09:00:00.000+03:00",
            "today": "2024-05-01",
            "meeting/meeting_date": f"2024-05-{i + 1:02d}", "meeting/modality": "town_hall",
            "meeting/base": "Base One", "location/county": "Delta" if i % 2 else "",
            "location/gps": "" if i % 2 else f"5.{60 + i} 30.{60 + i} 0 5",
            "participants/total": 10 + i, "participants/women": 4, "participants/youth": 2,
            "issues/topics": "security land" if i < 3 else "",
            "issues/topics/security": 1, "issues/topics/land": 1 if i < 3 else 0,
            "issues/topics/water": 1 if i >= 3 else 0,
            "safety_score": 3, "facilitator_name": "Jane Doe", "facilitator_phone": "+211 9",
            "respondent_note": "private", "_id": 2000 + i, "_uuid": f"u-{i}",
            "_submission_time": "2024-05-02T10:00:00", "_index": i + 1,
        })
    return pd.DataFrame(rows)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_kobo_exports_group_paths_geopoint_select_multiple(tmp_path: Path, gaz: Gazetteer,
                                                           kind: str) -> None:
    df = kobo_frame()
    p = tmp_path / f"kobo.{kind}"
    if kind == "csv":
        df.to_csv(p, index=False, sep=";")  # KoBo's own CSV exports use semicolons
    else:
        df.to_excel(p, index=False)
    res = read_consultations(src(p, "kobo", sensitive_columns=["respondent_note"]), now=NOW,
                             gazetteer=gaz)
    accounted(res)
    assert res.rejects.empty and len(res.frame) == 6
    f = res.frame.set_index("consultation_id")
    assert f.loc["u-0", "lat"] == pytest.approx(5.60) and f.loc["u-0", "lon"] == 30.60
    assert f.loc["u-1", "admin_pcode"] == "XT0202" and np.isnan(f.loc["u-1", "lat"])
    assert f.loc["u-0", "topics"] == "security land"
    assert f.loc["u-4", "topics"] == "security water"  # from the 0/1 choice columns
    assert (f["modality"] == "community_meeting").all()
    blob = res.frame.astype(str).to_csv()
    assert "Jane Doe" not in blob and "+211" not in blob and "private" not in blob
    assert "respondent_note" in res.report.warnings[0]


def test_kobo_sensitive_column_mapped_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "kobo.csv"
    kobo_frame().to_csv(p, index=False)
    with pytest.raises(ConfigError, match="facilitator_name.*sensitive"):
        read_consultations(src(p, "kobo", columns={"team": "facilitator_name"}), now=NOW)
    with pytest.raises(ConfigError, match="sensitive"):
        read_consultations(src(p, "kobo", columns={"team": "meeting/base"},
                               sensitive_columns=["base"]), now=NOW)


def test_alert_log_takes_the_file_modality(tmp_path: Path) -> None:
    p = tmp_path / "alerts.csv"
    pd.DataFrame({"alert_id": ["A1", "A2"], "alert_date": ["2024-06-01", "2024-06-02"],
                  "admin2": ["xt0101", "Charlie"], "sender_phone": ["+211", "+211"]}
                 ).to_csv(p, index=False)
    bad = src(p, "csv", modality="early warning", columns={"consultation_id": "alert_id"})
    res = read_consultations(bad, now=NOW, gazetteer=Gazetteer.from_admin(
        pd.DataFrame({"admin_pcode": [u[0] for u in UNITS], "admin_name": [u[1] for u in UNITS],
                      "admin_level": 2})))
    accounted(res)
    assert (res.frame["modality"] == "early_warning_alert").all()
    assert res.frame["admin_pcode"].tolist() == ["XT0101", "XT0201"]
    assert (res.frame["participants_total"] == 0).all()
    with pytest.raises(ConfigError, match="modality"):
        read_consultations(src(p, "csv", modality="sms blast"), now=NOW)


# --- HXL ---------------------------------------------------------------------------------

def write_hxl(path: Path, *, tag_row: list[str] | None = None, sep: str = ",") -> Path:
    headers = ["Record", "Date of meeting", "County code", "Lat", "Lon", "Total reached",
               "Women reached", "Youth", "Facilitator phone", "Type"]
    tags = tag_row or ["#activity+id", "#date+occurred", "#adm2+code", "#geo+lat", "#geo+lon",
                       "#reached+total", "#reached +women", "#reached+youth",
                       "#contact+phone", "#activity+type"]
    rows = [
        ["H1", "2024-05-01", "XT0101", "", "", "20", "9", "3", "+211 1", "consultation"],
        ["H2", "2024-05-02", "", "5.7", "30.7", "15", "5", "", "+211 2", "perception survey"],
        ["H3", "not a date", "XT0102", "", "", "8", "2", "1", "", "consultation"],
        ["H4", "2024-05-04", "", "", "", "10", "11", "", "", ""],
    ]
    lines = [sep.join(headers), sep.join(tags), *(sep.join(r) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_hxl_hashtag_row_and_row_numbers(tmp_path: Path) -> None:
    p = write_hxl(tmp_path / "engagement.csv")
    res = read_consultations(src(p, "hxl"), now=NOW)
    accounted(res)
    assert res.report.rows_read == 4
    f = res.frame.set_index("consultation_id")
    assert list(f.index) == ["H1", "H2"]
    assert f.loc["H1", "participants_total"] == 20 and f.loc["H1", "participants_women"] == 9
    assert f.loc["H2", "modality"] == "perception_survey"
    assert f.loc["H1", "source_row"] == 3  # header row 1, hashtag row 2
    rej = res.rejects.set_index("row")
    assert "date not understood" in rej.loc[5, "reason"]
    assert rej.loc[5, "column"] == "Date of meeting"
    assert "more women" in rej.loc[6, "reason"]
    assert "+211" not in res.frame.astype(str).to_csv()
    assert "contact" in res.report.warnings[0] or "phone" in res.report.warnings[0]


def test_hxl_attribute_order_tag_only_header_and_mapping(tmp_path: Path) -> None:
    assert Tag.parse("#reached +women +youth") == Tag.parse("#reached+youth+women")
    p = tmp_path / "tags_only.csv"
    p.write_text("#meta+id,#date,#adm2+code,#affected+f,#affected,#x_score\n"
                 "E1,2024-05-01,XT0101,3,7,4\n", encoding="utf-8")
    res = read_consultations(src(p, "hxl", tags={"consultation_id": "#meta+id",
                                                 "safety_score": "#x_score"},
                                 modality="early_warning_alert"), now=NOW)
    accounted(res)
    row = res.frame.iloc[0]
    assert row["participants_total"] == 7 and row["participants_women"] == 3
    assert row["safety_score"] == 4 and row["modality"] == "early_warning_alert"
    assert row["source_row"] == 2
    with pytest.raises(ConfigError, match="sensitive"):
        read_consultations(src(write_hxl(tmp_path / "h.csv"), "hxl",
                               tags={"team": "#contact+phone"}), now=NOW)
    plain = tmp_path / "plain.csv"
    plain.write_text("id,date\n1,2024-01-01\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="hashtag"):
        read_consultations(src(plain, "hxl"), now=NOW)


# --- access restrictions, boundaries, config ---------------------------------------------

def test_restrictions_csv_point_radius_pcode_and_name(tmp_path: Path,
                                                      admin: gpd.GeoDataFrame) -> None:
    p = tmp_path / "r.csv"
    pd.DataFrame({
        "restriction_id": ["P1", "P2", "P3", "P4", "P5"],
        "start_date": ["2024-01-01"] * 5,
        "end_date": ["", "2024-02-01", "", "", "2023-12-01"],
        "lat": ["5.25", "", "", "", "5.3"], "lon": ["30.25", "", "", "", "30.3"],
        "radius_km": ["4", "", "", "", ""],
        "admin_pcode": ["", "XT0202", "", "", ""],
        "county": ["", "", "charlie", "Nowhere", ""],
        "cause": ["armed_group", "government_denial", "terrain_weather", "x", "x"],
        "severity": ["high", "2", "low", "low", "low"],
    }).to_csv(p, index=False)
    res = read_restrictions(src(p, "auto"), admin=admin, now=NOW)
    accounted(res)
    f = res.frame.set_index("restriction_id")
    utm = f.geometry.to_crs(32636)
    assert utm.loc["P1"].area / 1e6 == pytest.approx(np.pi * 16, rel=0.02)
    assert f.loc["P2"].geometry.equals(admin.set_index("admin_pcode").geometry["XT0202"])
    assert f.loc["P3"].geometry.equals(admin.set_index("admin_pcode").geometry["XT0201"])
    assert pd.isna(f.loc["P1", "end_date"])  # open-ended: in force until an end date
    rej = res.rejects.set_index("row")["reason"]
    assert "Nowhere" not in rej[5] and "no admin unit" in rej[5]
    assert "before start" in rej[6]


def test_restrictions_geopackage_in_utm_reprojected(tmp_path: Path) -> None:
    from shapely.geometry import LineString

    g = gpd.GeoDataFrame({"id": ["G1", "G2"], "start": ["2024-03-01", "2024-03-05"],
                          "end": ["", "2024-03-04"], "reason": ["road_cut", "armed_group"],
                          "level": ["medium", "high"], "buffer_km": [2.0, None]},
                         geometry=[LineString([(30.1, 5.1), (30.4, 5.1)]),
                                   LineString([(30.6, 5.6), (30.7, 5.7)])],
                         crs=4326).to_crs(32636)
    p = tmp_path / "r.gpkg"
    g.to_file(p, layer="restrictions")
    res = read_restrictions(src(p, "auto", layer="restrictions"), now=NOW)
    accounted(res)
    assert res.frame.crs.to_epsg() == 4326 and res.frame["restriction_id"].tolist() == ["G1"]
    minx, miny, maxx, maxy = res.frame.total_bounds
    assert 30.07 < minx < 30.09 and 30.41 < maxx < 30.43  # 2 km either side of the road
    assert "before start" in res.rejects["reason"].iloc[0]


def test_boundaries_with_wrong_crs_are_refused(tmp_path: Path) -> None:
    g = gpd.read_file(write_boundaries(tmp_path / "b.gpkg")).to_crs(32636)
    bad = g.set_crs(4326, allow_override=True)  # metres labelled as degrees
    p = tmp_path / "bad.gpkg"
    bad.to_file(p)
    with pytest.raises(InputFileError, match="projected"):
        read_boundaries(BoundariesConfig(path=p, pcode_column="ADM2_PCODE",
                                         name_column="ADM2_EN"))


def test_boundaries_invalid_polygon_repaired(tmp_path: Path) -> None:
    from shapely.geometry import Polygon

    bowtie = Polygon([(30, 5), (30.5, 5.5), (30.5, 5), (30, 5.5), (30, 5)])
    gpd.GeoDataFrame({"admin2Pcod": ["XT9"], "admin2Name": ["Bow"]}, geometry=[bowtie],
                     crs=4326).to_file(tmp_path / "bow.gpkg")
    out = read_boundaries(BoundariesConfig(path=tmp_path / "bow.gpkg",
                                           pcode_column="admin2Pcod", name_column="admin2Name"))
    assert out.geometry.is_valid.all()
    assert shapely.area(out.geometry.to_numpy())[0] == pytest.approx(0.125)
    assert out.geom_type.iloc[0] in ("Polygon", "MultiPolygon")


def test_config_source_option_typos_and_sensitive_list(tmp_path: Path) -> None:
    raw = {"boundaries": {"path": "b.gpkg", "pcode_column": "P", "name_column": "N"},
           "incidents": [{"path": "a.csv", "colums": {}}],
           "consultations": [{"path": "k.csv", "modalty": "early_warning_alert"}],
           "sensitive_columns": ["respondent_village"]}
    with pytest.raises(ConfigError) as e:
        parse_config(raw, base_dir=tmp_path, check_files=False)
    assert "Did you mean 'columns'" in str(e.value) and "Did you mean 'modality'" in str(e.value)
    raw["incidents"] = [{"path": "a.csv"}]
    raw["consultations"] = [{"path": "k.csv", "modality": "early_warning_alert"}]
    cfg = parse_config(raw, base_dir=tmp_path, check_files=False)
    assert "respondent_village" in cfg.sensitive_columns and "phone" in cfg.sensitive_columns


# --- whole-run checks: encodings, empty files, staleness, sensitive config ----------------

@pytest.mark.parametrize("encoding,sep", [("utf-8-sig", ","), ("latin-1", "\t"),
                                          ("utf-8", ";")])
def test_acled_encodings_and_delimiters(tmp_path: Path, encoding: str, sep: str) -> None:
    df = acled_rows(n_weeks=1)
    df["notes"] = "Attaque à Béni"
    p = tmp_path / "a.csv"
    df.to_csv(p, index=False, sep=sep, encoding=encoding)
    res = read_incidents(src(p, "acled"), now=NOW)
    assert len(res.frame) == len(df) and (res.frame["notes"] == "Attaque à Béni").all()


def test_header_only_files_are_clear_errors(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    acled_rows(n_weeks=1).iloc[:0].to_csv(p, index=False)
    with pytest.raises(InputFileError, match="no data rows"):
        read_incidents(src(p, "acled"), now=NOW)
    h = tmp_path / "h.csv"
    h.write_text("Record,Date\n#activity+id,#date\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no data rows"):
        read_consultations(src(h, "hxl"), now=NOW)


def test_load_inputs_geocodes_names_drops_sensitive_and_flags_stale(
        mini_scenario: Path) -> None:
    from geo_risk.config import load_config
    from geo_risk.pipeline import check_freshness, load_inputs

    folder = mini_scenario.parent
    kobo = pd.read_csv(folder / "kobo.csv", dtype=str, keep_default_na=False)
    kobo["location/county"] = ""
    kobo.loc[:3, ["_location/gps_latitude", "_location/gps_longitude", "location/admin2"]] = ""
    kobo.loc[:3, "location/county"] = ["Alpha County", "Alpa", "Echo", "DELTA"]
    kobo.to_csv(folder / "kobo.csv", index=False)
    text = mini_scenario.read_text(encoding="utf-8")
    mini_scenario.write_text('sensitive_columns = ["meeting/base"]\n' + text, encoding="utf-8")
    config = load_config(mini_scenario)
    inputs = load_inputs(config, now=pd.Timestamp("2025-01-01"))
    check_freshness(config, inputs, reference=pd.Timestamp("2025-01-01"), label="today")
    for r in inputs.reports:
        assert r.rows_read == r.rows_accepted + r.rows_rejected
    c = inputs.consultations.set_index("source_row")
    assert c.loc[2, "admin_pcode"] == "XT0101" and c.loc[3, "admin_pcode"] == "XT0101"
    assert c.loc[5, "admin_pcode"] == "XT0202" and (c.loc[[2, 3, 5], "cell"] == 0).all()
    rej = inputs.rejects.set_index("row")
    assert rej.loc[4, "value"] == "Echo" and "closest" in rej.loc[4, "reason"]
    assert "Base One" not in inputs.consultations.astype(str).to_csv()
    assert any(w.startswith("STALE FEED: kobo.csv") for w in inputs.warnings)


def test_parse_numbers_gives_the_same_values_with_and_without_a_bad_row() -> None:
    from geo_risk.readers.tabular import parse_numbers

    good = ["1", "-2.5", " 3 ", "+4", "1e3", "2,5", "", ".5"]
    want = [1.0, -2.5, 3.0, 4.0, 1000.0, 2.5, np.nan, 0.5]
    clean = parse_numbers(pd.Series(good))  # every text a number: the Arrow cast
    mixed = parse_numbers(pd.Series([*good, "12 km", "1.2.3"]))  # falls back to to_numeric
    np.testing.assert_array_equal(clean.to_numpy(), want)
    np.testing.assert_array_equal(mixed.to_numpy(), [*want, np.nan, np.nan])
