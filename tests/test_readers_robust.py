"""Readers on the files analysts really get: cut downloads, odd encodings, no ids, panels."""

from __future__ import annotations

import ast
import codecs
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_boundaries

import geo_risk.readers as readers_pkg
from geo_risk.config import SourceConfig, load_config, parse_config
from geo_risk.errors import ConfigError, InputFileError
from geo_risk.pipeline import load_inputs
from geo_risk.readers import ReadResult, read_acled, read_bases, read_incident_csv, read_table


def test_reader_modules_import_each_other_without_a_cycle() -> None:
    folder = Path(readers_pkg.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                deps.add(node.module.split(".")[0])
        graph[path.stem] = deps - {"__init__"}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    cycles = sorted(m for m in graph if m != "__init__" and reaches(m, m, {m}))
    assert cycles == []
    # the pairs named in issue 14 now share a builder module instead
    assert "incidents" not in graph["ucdp"] and "consultations" not in graph["hxl"]


# ------------------------------------------------------------------ shared fixtures and helpers

NOW = pd.Timestamp("2025-01-01")
HEADER = "event_id_cnty,event_date,event_type,actor1,actor2,latitude,longitude,fatalities,notes"


def acled_lines(n: int = 5) -> list[str]:
    return [f"SSD{i},2024-03-0{i + 1},Battles,Group A,Group B,5.2,30.2,{i},\"note {i}\""
            for i in range(n)]


def src(path: Path, fmt: str = "acled", **options: object) -> SourceConfig:
    return SourceConfig(path=path, format=fmt, name=path.name, options=options)


def accounted(res: ReadResult) -> bool:
    kept = (res.frame["source_rows"].sum() if "source_rows" in res.frame.columns
            else len(res.frame))
    return int(kept) + len(res.rejects) == res.report.rows_read


# ------------------------------------------------------------------ truncated downloads

def test_file_cut_mid_row_keeps_complete_rows_and_rejects_the_partial_one(
        tmp_path: Path) -> None:
    p = tmp_path / "acled.csv"
    cut = "SSD9,2024-03-09,Battles,Group A,Gro"  # the download stopped inside actor2
    p.write_text("\n".join([HEADER, *acled_lines(5), cut]), encoding="utf-8")
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == 5 and res.report.rows_read == 6 and accounted(res)
    (rej,) = res.rejects.to_dict("records")
    assert rej["row"] == 7 and rej["column"] == "actor2"
    assert rej["reason"].startswith("file ends mid-row: truncated download?")
    assert rej["value"] == cut


def test_file_cut_inside_a_quoted_note_is_no_longer_refused_whole(tmp_path: Path) -> None:
    p = tmp_path / "acled.csv"
    cut = 'SSD9,2024-03-09,Battles,Group A,Group B,5.2,30.2,1,"Clashes near the river, wit'
    p.write_text("\r\n".join([HEADER, *acled_lines(4), cut]), encoding="utf-8")
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == 4 and accounted(res)
    assert res.rejects.iloc[0]["row"] == 6 and res.rejects.iloc[0]["column"] == "notes"
    assert "truncated" in res.rejects.iloc[0]["reason"]


def test_complete_last_row_without_final_line_break_is_kept(tmp_path: Path) -> None:
    p = tmp_path / "acled.csv"
    p.write_text("\n".join([HEADER, *acled_lines(3)]), encoding="utf-8")  # no final newline
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == 3 and res.rejects.empty and res.report.rows_read == 3


def test_quoted_line_breaks_are_not_mistaken_for_a_cut(tmp_path: Path) -> None:
    p = tmp_path / "acled.csv"
    rows = acled_lines(2) + ['SSD7,2024-03-07,Battles,A,B,5.2,30.2,0,"two\nlines"']
    p.write_text("\n".join([HEADER, *rows]), encoding="utf-8")
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == 3 and res.rejects.empty
    assert res.frame["notes"].iloc[-1] == "two\nlines"


# ------------------------------------------------------------------ encodings

TEXT = "id,date,place\n1,2024-01-02,Kajo-Keji\n2,2024-01-03,Bébé “Town” 5€\n"


@pytest.mark.parametrize(("data", "detected"), [
    (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16-le"),
    (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16-be"),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
    (TEXT.encode("cp1252"), "cp1252"),  # 0x93/0x94 quotes, 0x80 euro: cp1252-only bytes
    (TEXT.encode("utf-8"), "utf-8"),
])
def test_encoding_detected_from_real_byte_sequences(tmp_path: Path, data: bytes,
                                                    detected: str) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes(data)
    raw = read_table(p)
    assert raw.encoding == detected
    assert list(raw.frame.columns) == ["id", "date", "place"]
    assert raw.frame["place"].tolist() == ["Kajo-Keji", "Bébé “Town” 5€"]
    assert bool(raw.notes) == (detected == "cp1252")  # the user is told, not left guessing


def test_encoding_key_overrides_detection(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    # Latin-1 text whose bytes happen to be valid UTF-8: detection reads "é", the file means "Ã©"
    p.write_bytes("id,place\n1,CafÃ©\n".encode("latin-1"))
    assert read_table(p).frame["place"].iloc[0] == "Café"
    assert read_table(p, encoding="latin-1").frame["place"].iloc[0] == "CafÃ©"
    p.write_bytes("id,place\n1,Bébé\n".encode("cp1252"))
    with pytest.raises(InputFileError, match=r"t.csv: line 2 .*'encoding' key"):
        read_table(p, encoding="utf-8")


def test_encoding_key_is_checked_and_reaches_the_reader(tmp_path: Path) -> None:
    p = tmp_path / "acled.csv"
    p.write_bytes("\n".join([HEADER, *acled_lines(2)]).replace("Group A", "Groupe Armé")
                  .encode("cp1252"))
    res = read_acled(src(p, encoding="cp1252"), now=NOW)
    assert res.frame["actor1"].tolist() == ["Groupe Armé"] * 2
    assert res.report.warnings == []  # the user chose the encoding: no warning
    detected = read_acled(src(p), now=NOW)
    assert any("cp1252" in w for w in detected.report.warnings)
    cfg = {"title": "t", "boundaries": {"path": "b.gpkg", "pcode_column": "P",
                                        "name_column": "N"},
           "incidents": [{"path": "a.csv", "format": "acled", "encoding": "utf-9"}]}
    with pytest.raises(ConfigError, match=r"incidents\[0\]\.encoding.*utf-9"):
        parse_config(cfg, base_dir=tmp_path, check_files=False)


# ------------------------------------------------------------------ legacy .xls

def test_xls_goes_to_xlrd_and_a_broken_one_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "old_export.xls"
    p.write_bytes(b"this is not a spreadsheet")
    with pytest.raises(InputFileError, match=r"old_export.xls: cannot read .*XLSX or CSV"):
        read_table(p)
    seen: dict[str, object] = {}

    def fake_read_excel(path: object, **kwargs: object) -> pd.DataFrame:
        seen.update(kwargs)
        return pd.DataFrame({"id": ["1"], "date": ["2024-01-02"]})

    monkeypatch.setattr(pd, "read_excel", fake_read_excel)
    raw = read_table(p)
    assert seen["engine"] == "xlrd" and raw.encoding == "xls" and len(raw.frame) == 1

    def no_xlrd(path: object, **kwargs: object) -> pd.DataFrame:
        raise ImportError("Missing optional dependency 'xlrd'")

    monkeypatch.setattr(pd, "read_excel", no_xlrd)
    with pytest.raises(InputFileError, match="needs the xlrd package"):
        read_table(p)


# ------------------------------------------------------------------ rows without an event id

def test_rows_without_event_id_are_kept_and_deduplicated_by_content(tmp_path: Path) -> None:
    p = tmp_path / "merged.csv"
    awsd = "{id},2024-03-05,Violence against civilians,Unknown,Aid Workers,5.3,30.3,1,\"awsd\""
    lines = [HEADER + ",data_id", *(line + ",7" for line in acled_lines(3)),
             awsd.format(id="") + ",101",
             awsd.format(id="") + ",102",  # same content as the row above: one event
             awsd.format(id="").replace("5.3", "5.4") + ",103"]  # another place: another event
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == 5 and accounted(res)
    (rej,) = res.rejects.to_dict("records")
    assert rej["row"] == 6 and "same date, place, type and actors as row 5" in rej["reason"]
    assert res.frame["event_id"].is_unique
    by_id = read_acled(src(p, id_column="data_id"), now=NOW)
    # data_id 7 repeats on the three ACLED rows (different events): the first is kept
    assert len(by_id.frame) == 4 and accounted(by_id)
    assert by_id.rejects["reason"].str.contains("duplicate event id").sum() == 2


def test_generic_incident_table_needs_no_id_column(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text("date,lat,lon,type\n2024-01-02,5.2,30.2,Looting\n2024-01-02,5.2,30.2,Looting\n"
                 "2024-01-03,5.2,30.2,Looting\n", encoding="utf-8")
    res = read_incident_csv(src(p, "csv"), now=NOW)
    assert len(res.frame) == 2 and len(res.rejects) == 1 and accounted(res)


# ------------------------------------------------------------------ rows outside the area

def test_rows_outside_the_area_are_counted_apart_and_panel_bases_add_up(
        tmp_path: Path) -> None:
    write_boundaries(tmp_path / "boundaries.gpkg")  # Testland: 30-31E, 5-6N
    lines = [HEADER + ",country", *(line + ",Testland" for line in acled_lines(3)),
             "KEN1,2024-03-02,Battles,Group C,Group D,1.3,36.8,0,\"Nairobi\",Kenya",
             "UGA1,2024-03-03,Riots,Rioters,,0.3,32.6,0,\"Kampala\",Uganda",
             "SSD8,2024-03-04,Battles,Group A,Group B,5.2,,0,\"no longitude\",Testland"]
    (tmp_path / "acled.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pd.DataFrame({"year": 2024, "month": [1, 2, 2], "location": "Alpha base",
                  "latitude": 5.25, "longitude": 30.25, "staff": [2, 2, 1]}
                 ).to_csv(tmp_path / "panel.csv", index=False)
    (tmp_path / "config.toml").write_text(
        'title = "t"\nh3_resolution = 6\n[boundaries]\npath = "boundaries.gpkg"\n'
        'layer = "adm2"\npcode_column = "ADM2_PCODE"\nname_column = "ADM2_EN"\n'
        '[[incidents]]\npath = "acled.csv"\nformat = "acled"\n'
        '[bases]\npath = "panel.csv"\nformat = "panel"\n', encoding="utf-8")
    inputs = load_inputs(load_config(tmp_path / "config.toml"), now=NOW)
    report, bases_report = inputs.reports
    assert (report.rows_read, report.rows_accepted, report.rows_rejected,
            report.rows_outside) == (6, 3, 3, 2)
    # the pipeline's accounting holds for a panel: three rows made one base
    assert (bases_report.rows_read, bases_report.rows_accepted) == (3, 3)
    assert inputs.bases is not None and inputs.bases["liaison_staff"].tolist() == [3]
    rej = inputs.rejects.set_index("row")
    assert rej.loc[5, "category"] == rej.loc[6, "category"] == "outside_area"
    assert rej.loc[5, "reason"].startswith("outside the area (Kenya)")
    assert rej.loc[6, "reason"].startswith("outside the area (Uganda)")
    assert rej.loc[7, "category"] == "invalid"  # a real error stays an error
    assert not any("rejected (see rejects.csv)" in w for w in inputs.warnings)
    assert "country" not in inputs.incidents.columns


# ------------------------------------------------------------------ base-month panel

def test_bases_built_from_a_base_month_panel(tmp_path: Path) -> None:
    p = tmp_path / "deployment_panel.csv"
    rows = [("UNMISS", 2019, m, "Bor", 6.21, 31.56, 800 + m) for m in range(1, 7)]
    rows += [("UNMISS", 2019, m, "Yei", 4.09, 30.68, 300) for m in range(1, 4)]
    rows += [("UNMISS", 2019, 3, "Yei", 4.09, 30.68, 150),  # a second contingent in March
             ("UNMISS", 2019, 13, "Yei", 4.09, 30.68, 10),  # no such month
             ("UNMISS", 2019, 4, "", 4.5, 30.0, 5)]  # no base name
    pd.DataFrame(rows, columns=["mission", "year", "month", "location", "latitude",
                                "longitude", "no.troops"]).to_csv(p, index=False)
    res = read_bases(SourceConfig(path=p, format="panel", name=p.name,
                                  options={"columns": {"liaison_staff": "no.troops"}}),
                     now=NOW)
    bases = res.frame.set_index("base_name")
    assert sorted(bases.index) == ["Bor", "Yei"] and accounted(res)
    assert bases.loc["Bor", "open_date"] == pd.Timestamp("2019-01-01")
    assert pd.isna(bases.loc["Bor", "close_date"])  # in the panel's last month: still open
    assert bases.loc["Bor", "liaison_staff"] == 806  # its last month's troops
    assert bases.loc["Yei", "close_date"] == pd.Timestamp("2019-03-31")
    assert bases.loc["Yei", "liaison_staff"] == 450  # both March contingents
    assert bases.loc["Yei", "source_rows"] == 4
    reasons = res.rejects.set_index("row")["reason"]
    assert "month not understood" in reasons[12] and "base name missing" in reasons[13]
    cfg = {"title": "t", "boundaries": {"path": "b.gpkg", "pcode_column": "P",
                                        "name_column": "N"},
           "bases": {"path": "p.csv", "format": "roster"}}
    with pytest.raises(ConfigError, match="bases"):
        parse_config(cfg, base_dir=tmp_path, check_files=False)


def test_a_stray_inch_mark_never_costs_complete_rows(tmp_path: Path) -> None:
    p = tmp_path / "acled.csv"
    rows = ['SSD7,2024-03-07,Battles,A,B,5.2,30.2,0,12" mortar fire', *acled_lines(2)]
    p.write_text("\n".join([HEADER, *rows]), encoding="utf-8")  # odd quotes, no final newline
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == 3 and res.rejects.empty
    p.write_text("\n".join([HEADER, *rows, "SSD9,2024-03-09,Batt"]), encoding="utf-8")
    res = read_acled(src(p), now=NOW)
    assert len(res.frame) == 3 and accounted(res)
    assert res.rejects.iloc[0]["reason"].startswith("file ends mid-row")
