"""Perceptions per H3 cell where counts allow (geo_risk.engagement.perception_cells)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geo_risk.config import parse_config
from geo_risk.engagement.voice import VoiceResult, analyse_voice

WEEK = pd.Timestamp("2024-07-01")  # a Monday
COLS = ["perception_respondents", "perception_safety_mean", "perception_trust_mean"]


def _responses(unit: str, cell: int, safety: list[float], *, weeks_ago: int = 1,
               trust: float = 4.0) -> pd.DataFrame:
    n = len(safety)
    return pd.DataFrame({
        "date": WEEK - pd.Timedelta(days=7 * weeks_ago + 2), "admin_pcode": [unit] * n,
        "modality": "perception_survey", "participants_total": 1, "cell": np.uint64(cell),
        "safety_score": safety, "trust_score": trust, "source_file": "survey.csv"})


def _run(tmp_path: Path, resp: pd.DataFrame, grid: dict[int, str], units: list[str],
         **cfg: object) -> VoiceResult:
    raw = {"boundaries": {"path": "b.gpkg", "pcode_column": "P", "name_column": "N"},
           "incidents": [{"path": "i.csv"}], "min_count": 5, **cfg}
    config = parse_config(raw, base_dir=tmp_path, check_files=False)
    cells = pd.DataFrame({"cell": np.array(list(grid), dtype=np.uint64),
                          "admin_pcode": list(grid.values()), "population": 1000.0})
    matrix = pd.DataFrame({"admin_pcode": units, "admin_name": units, "level": "high"})
    return analyse_voice(matrix=matrix, cells=cells, consultations=None, perceptions=resp,
                         week=WEEK, config=config)


def _by_cell(v: VoiceResult, grid: dict[int, str]) -> pd.DataFrame:
    return v.cells.set_axis(list(grid))


def test_cell_values_equal_hand_computation_and_small_cells_are_empty(tmp_path: Path
                                                                         ) -> None:
    grid = {101: "A", 102: "A", 103: "A", 104: "A", 401: "C", 402: "C"}
    resp = pd.concat([
        _responses("A", 101, [1, 2, 3, 4, 5, 3]),
        _responses("A", 102, [2] * 5), _responses("A", 103, [5, 5]),
        _responses("C", 401, [4, 4, 4, 4, 5, 5, 2], trust=2.0),
        _responses("C", 402, [1] * 8),
        _responses("C", 401, [1] * 9, weeks_ago=20),  # before the 13-week period: not counted
    ], ignore_index=True)
    c = _by_cell(_run(tmp_path, resp, grid, ["A", "C"]), grid)
    assert list(c.columns) == COLS
    assert c.loc[101, "perception_respondents"] == 6
    assert c.loc[101, "perception_safety_mean"] == 18 / 6
    assert c.loc[401].tolist() == [7, 28 / 7, 2.0]
    assert c.loc[402].tolist() == [8, 1.0, 4.0]
    assert c.loc[103].isna().all()  # 2 respondents < min_count
    # 103 alone hidden would be A's value minus 101 and 102: the next-smallest (102) goes too
    assert c.loc[102].isna().all()
    assert c.loc[104].isna().all()  # no respondent


def test_admin_only_responses_are_protected_like_a_hidden_cell(tmp_path: Path) -> None:
    grid = {401: "C", 402: "C"}
    resp = pd.concat([_responses("C", 401, [4] * 7), _responses("C", 402, [1] * 8),
                      _responses("C", 0, [5, 5])], ignore_index=True)  # no point location
    c = _by_cell(_run(tmp_path, resp, grid, ["C"]), grid)
    assert c.loc[401].isna().all()  # C minus its cells would give the 2 away: 401 hidden
    assert c.loc[402, "perception_respondents"] == 8


def test_withheld_and_suppressed_units_give_empty_cells(tmp_path: Path) -> None:
    grid = {101: "A", 201: "B", 301: "S", 501: "D"}
    resp = pd.concat([_responses("A", 101, [3] * 20), _responses("B", 201, [3] * 6),
                      _responses("S", 301, [3] * 10), _responses("D", 501, [3] * 3)],
                     ignore_index=True)
    v = _run(tmp_path, resp, grid, ["A", "B", "S", "D"], reprisal_sensitive_pcodes=["S"])
    m = v.matrix.set_index("admin_pcode")
    assert np.isnan(m.loc["B", "respondents"])  # the mission total would give D away
    c = _by_cell(v, grid)
    assert c.loc[[201, 301, 501]].isna().all().all()
    assert c.loc[101, "perception_respondents"] == 20


def test_without_cell_ids_the_columns_are_empty(tmp_path: Path) -> None:
    grid = {101: "A"}
    v = _run(tmp_path, _responses("A", 101, [3] * 20), grid, ["A"])
    assert v.cells.shape == (1, 3) and v.cells.notna().all().all()
    raw = {"boundaries": {"path": "b.gpkg", "pcode_column": "P", "name_column": "N"},
           "incidents": [{"path": "i.csv"}], "min_count": 5}
    config = parse_config(raw, base_dir=tmp_path, check_files=False)
    v2 = analyse_voice(matrix=pd.DataFrame({"admin_pcode": ["A"], "admin_name": ["A"],
                                            "level": ["high"]}),
                       cells=pd.DataFrame({"admin_pcode": ["A"], "population": [1.0]}),
                       consultations=None, perceptions=_responses("A", 101, [3] * 20),
                       week=WEEK, config=config)
    assert v2.cells.isna().all().all()
