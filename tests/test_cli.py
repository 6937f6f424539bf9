"""The command line: help, user errors without tracebacks, --json, run and validate."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from geo_risk.cli import main


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_help_for_every_command() -> None:
    for cmd in ("run", "validate", "synth", "demo"):
        r = invoke(cmd, "--help")
        assert r.exit_code == 0 and "Usage" in r.output


def test_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    r = invoke("run", "--config", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    assert "configuration file not found" in r.output
    assert "Traceback" not in r.output


def test_bad_week_is_a_usage_error(mini_scenario: Path, tmp_path: Path) -> None:
    r = invoke("run", "--config", str(mini_scenario), "--week", "next tuesday",
               "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output


def test_wrong_boundary_column_suggests(mini_scenario: Path, tmp_path: Path) -> None:
    text = mini_scenario.read_text().replace('"ADM2_PCODE"', '"ADM2_PCOD"')
    mini_scenario.write_text(text)
    r = invoke("validate", "--config", str(mini_scenario))
    assert r.exit_code == 2
    assert "did you mean 'ADM2_PCODE'" in r.output and "Traceback" not in r.output


def test_validate_reports_accounting(mini_scenario: Path, tmp_path: Path) -> None:
    acled = mini_scenario.parent / "acled.csv"
    df = pd.read_csv(acled)
    df.loc[0, "event_date"] = "32 January 2024"
    df.to_csv(acled, index=False)
    rejects = tmp_path / "rej.csv"
    r = invoke("validate", "--config", str(mini_scenario), "--rejects", str(rejects))
    assert r.exit_code == 0, r.output
    assert f"read {len(df)}, accepted {len(df) - 1}, rejected 1" in r.output
    assert "acled.csv, row 2, column 'event_date': date not understood" in r.output
    assert len(pd.read_csv(rejects)) == 1
    rj = invoke("--json", "validate", "--config", str(mini_scenario))
    data = json.loads(rj.stdout)
    assert data["rejects"] == 1


def test_run_writes_outputs_and_json_summary(mini_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = invoke("--json", "run", "--config", str(mini_scenario), "--week", "2024-07-01",
               "--out", str(out), "--no-map")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["week"] == "2024-07-01"
    assert {"risk_grid", "admin_matrix", "rejects", "run"} <= set(data["outputs"])
    assert data["rows"]["read"] == data["rows"]["accepted"] + data["rows"]["rejected"]
    assert (out / "risk_grid.parquet").exists()
