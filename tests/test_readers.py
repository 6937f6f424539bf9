"""Readers: real-format fixtures in, canonical rows out, every row accounted for."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import SHARED_DATA, acled_rows, write_boundaries

from geo_risk.config import BoundariesConfig, SourceConfig
from geo_risk.errors import InputFileError, MissingInputError
from geo_risk.readers import (
    parse_dates,
    read_acled,
    read_bases,
    read_boundaries,
    read_consultations,
    read_restrictions,
    read_table,
)

NOW = pd.Timestamp("2025-01-01")


def src(path: Path, fmt: str = "acled", **options: object) -> SourceConfig:
    return SourceConfig(path=path, format=fmt, name=path.name, options=options)


def test_parse_dates_handles_export_formats() -> None:
    values = pd.Series(["06 December 2022", "28-Jul-21", "2022-12-06", "06/12/2022", "6/12/22",
                        "2022-12-06T00:00:00Z", "2022-12-06 00:00:00", "", "31 Febtember 2022"])
    out = parse_dates(values)
    assert out.iloc[0] == pd.Timestamp("2022-12-06")
    assert out.iloc[1] == pd.Timestamp("2021-07-28")
    assert (out.iloc[[2, 3, 4, 5, 6]] == pd.Timestamp("2022-12-06")).all()
    assert out.iloc[7:].isna().all()


@pytest.mark.parametrize("encoding,sep", [("utf-8", ","), ("utf-8-sig", ";"), ("latin-1", "\t")])
def test_read_table_detects_encoding_and_delimiter(tmp_path: Path, encoding: str,
                                                   sep: str) -> None:
    p = tmp_path / "t.csv"
    pd.DataFrame({"name": ["Kajo-Keji", "Bétou"], "value": ["1", "2"]}).to_csv(
        p, sep=sep, index=False, encoding=encoding)
    t = read_table(p)
    assert list(t.frame.columns) == ["name", "value"]
    assert t.frame["name"].tolist() == ["Kajo-Keji", "Bétou"]
    assert t.rows.tolist() == [2, 3]


def test_read_table_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(InputFileError, match="empty"):
        read_table(p)
    with pytest.raises(MissingInputError):
        read_table(tmp_path / "nope.csv")


def test_acled_reader_accepts_and_rejects_with_reasons(tmp_path: Path) -> None:
    df = acled_rows(n_weeks=3)
    n = len(df)
    df.loc[0, "event_date"] = "not a date"
    df.loc[1, "latitude"] = 95.0
    df.loc[2, "event_id_cnty"] = df.loc[3, "event_id_cnty"]  # duplicate id (row 3 keeps it)
    df.loc[4, "event_date"] = "01 January 2031"  # future
    df.loc[5, "fatalities"] = -1
    p = tmp_path / "acled.csv"
    df.to_csv(p, index=False)
    res = read_acled(src(p), now=NOW)
    assert res.report.rows_read == n
    assert len(res.frame) + len(res.rejects) == n
    rej = res.rejects.set_index("row")
    assert "date not understood" in rej.loc[2, "reason"]
    assert rej.loc[2, "column"] == "event_date" and rej.loc[2, "value"] == "not a date"
    assert "latitude outside" in rej.loc[3, "reason"]
    assert "duplicate event id" in rej.loc[5, "reason"]  # the later of the two rows
    assert "future" in rej.loc[6, "reason"]
    assert "fatalities" in rej.loc[7, "reason"]
    assert res.frame["civilian_targeting"].dtype == bool
    assert res.frame["date"].min() >= pd.Timestamp("2023-01-02")


def test_acled_old_uppercase_export_without_sub_event_type(tmp_path: Path) -> None:
    df = acled_rows(n_weeks=2).drop(columns=["sub_event_type", "civilian_targeting"])
    df.columns = [c.upper() for c in df.columns]
    df["EVENT_DATE"] = pd.to_datetime(df["EVENT_DATE"], format="%d %B %Y").dt.strftime("%d-%b-%y")
    df["INTER2"] = 7
    p = tmp_path / "old.csv"
    df.to_csv(p, index=False)
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == len(df) and res.rejects.empty
    assert res.frame["civilian_targeting"].all()  # inter2 == 7 means civilians
    assert (res.frame["sub_event_type"] == "").all()


def test_acled_missing_column_names_the_closest(tmp_path: Path) -> None:
    df = acled_rows(n_weeks=1).rename(columns={"latitude": "lattitude"})
    p = tmp_path / "acled.csv"
    df.to_csv(p, index=False)
    with pytest.raises(InputFileError, match="lattitude"):
        read_acled(src(p), now=NOW)


def test_acled_xlsx(tmp_path: Path) -> None:
    df = acled_rows(n_weeks=2)
    p = tmp_path / "acled.xlsx"
    df.to_excel(p, index=False)
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == len(df)


def test_kobo_reader_drops_personal_fields(tmp_path: Path) -> None:
    from conftest import write_kobo

    p = write_kobo(tmp_path / "kobo.csv")
    res = read_consultations(src(p, "kobo"), now=NOW)
    assert len(res.frame) == 30 and res.rejects.empty
    text = res.frame.astype(str).to_csv()
    assert "Jane Doe" not in text and "+211" not in text and "private note" not in text
    assert "personal fields dropped" in res.report.warnings[0]
    # group prefixes resolved: meeting/meeting_date, not the 'start' timestamp
    assert res.frame["date"].max() == pd.Timestamp("2024-05-30")
    assert res.frame["participants_women"].sum() == 150
    # rows without GPS keep their admin P-code
    assert res.frame["lat"].isna().sum() == 6
    assert (res.frame["admin_pcode"] == "XT0202").all()


def test_restrictions_points_buffered_and_open_ended(tmp_path: Path) -> None:
    import json

    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"restriction_id": "A", "start_date": "2024-01-01",
                                           "end_date": None, "cause": "armed_group",
                                           "severity": "high", "radius_km": 10},
         "geometry": {"type": "Point", "coordinates": [30.5, 5.5]}},
        {"type": "Feature", "properties": {"restriction_id": "B", "start_date": "bad",
                                           "end_date": None, "cause": "x", "severity": "low"},
         "geometry": {"type": "LineString", "coordinates": [[30.0, 5.0], [30.5, 5.0]]}},
    ]}
    p = tmp_path / "r.geojson"
    p.write_text(json.dumps(fc))
    res = read_restrictions(src(p, "auto"), now=NOW)
    assert len(res.frame) == 1 and len(res.rejects) == 1
    assert res.rejects.iloc[0]["row"] == 2
    area = res.frame.to_crs(res.frame.estimate_utm_crs()).area.iloc[0] / 1e6
    assert 300 < area < 320  # pi * 10^2 km2
    assert pd.isna(res.frame["end_date"].iloc[0])
    assert res.frame["severity"].iloc[0] == 3


def test_bases_reader(tmp_path: Path) -> None:
    p = tmp_path / "bases.csv"
    pd.DataFrame({"base_name": ["A", "B", "A"], "lon": [30.1, 200, 30.2], "lat": [5, 5, 5],
                  "liaison_staff": [2, 1, 1]}).to_csv(p, index=False)
    res = read_bases(src(p, "csv"), now=NOW)
    assert res.frame["base_name"].tolist() == ["A"]
    assert sorted(res.rejects["row"]) == [3, 4]


def test_boundaries_wrong_column_suggests_right_one(tmp_path: Path) -> None:
    p = write_boundaries(tmp_path / "b.gpkg", old_style=True)
    cfg = BoundariesConfig(path=p, layer="adm2", pcode_column="ADM2_PCODE", name_column="ADM2_EN")
    with pytest.raises(InputFileError, match="admin2Pcod"):
        read_boundaries(cfg)
    ok = read_boundaries(BoundariesConfig(path=p, layer="adm2", pcode_column="admin2Pcod",
                                          name_column="admin2Name"))
    assert ok["admin_pcode"].tolist() == ["XT0101", "XT0102", "XT0201", "XT0202"]


def test_boundaries_reprojected_to_wgs84(tmp_path: Path) -> None:
    p = write_boundaries(tmp_path / "b.gpkg")
    g = gpd.read_file(p).to_crs(32636)
    p2 = tmp_path / "utm.gpkg"
    g.to_file(p2)
    out = read_boundaries(BoundariesConfig(path=p2, pcode_column="ADM2_PCODE",
                                           name_column="ADM2_EN"))
    assert out.crs.to_epsg() == 4326
    assert abs(out.total_bounds[0] - 30.0) < 1e-6


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data not present")
@pytest.mark.parametrize("stem,pcode,name,n", [
    ("ssd_admbnda_adm2_imwg_nbs_20180817", "ADM2_PCODE", "ADM2_EN", 79),
    ("cod_admbnda_adm2_rgc_20190911", "ADM2_PCODE", "ADM2_FR", 189),
])
def test_real_cod_ab_boundaries(stem: str, pcode: str, name: str, n: int) -> None:
    path = SHARED_DATA / "boundaries" / f"{stem}.shp"
    out = read_boundaries(BoundariesConfig(path=path, pcode_column=pcode, name_column=name))
    assert len(out) == n
    assert out["admin_pcode"].is_unique
    assert out.geometry.is_valid.all()
    with pytest.raises(InputFileError, match=pcode):
        read_boundaries(BoundariesConfig(path=path, pcode_column="admin2Pcod",
                                         name_column=name))
