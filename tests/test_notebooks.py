"""The analyst notebooks run from top to bottom (executed with nbclient in a fresh kernel)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SHARED_DATA, require_files

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _run(path: Path, cwd: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(cwd)}})
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", ""))
            out.append(str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


@pytest.mark.parametrize("use_shared", [False, True])
def test_analyst_own_data_notebook_runs(tmp_path: Path, use_shared: bool) -> None:
    if use_shared:
        require_files(SHARED_DATA)
    env = {"GEO_RISK_SHARED_DATA": str(SHARED_DATA) if use_shared else "/nonexistent"}
    nb = _run(NOTEBOOKS / "01_analyst_own_data.ipynb", tmp_path, env)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    text = _text(nb)
    assert "incidents: read" in text and "rejected 1" in text
    assert "date not understood" in text
    assert "Highest risk:" in text
    if use_shared:
        assert "Juba (SS0101)" in text and "ssd_admbnda" in text
    else:
        assert "Alpha (XT0101)" in text


def test_planner_engagement_notebook_runs(tmp_path: Path) -> None:
    nb = _run(NOTEBOOKS / "02_planner_engagement_gaps.ipynb", tmp_path, {"GEO_RISK_CONFIG": ""})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    text = _text(nb)
    # the synthetic scenario's under-engaged high-risk unit tops the planners' list
    assert "Top priority: Buyunga (XV0101), critical risk" in text
    assert "Under-engaged high-risk units (truth): ['XV0101']" in text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("never_engaged:"))
    assert set(line.split(":", 1)[1].replace(" ", "").split(",")) == {"Dunezen", "Kwaka",
                                                                      "Ndonya"}
    assert "-> withheld | engagement withheld (reprisal-sensitive area)" in text
    assert "engagement numbers shown: 0" in text
    assert "priorities.csv" in text and "admin_matrix.html" in text


def test_briefer_weekly_notebook_finds_the_synthetic_perception_changes(tmp_path: Path) -> None:
    nb = _run(NOTEBOOKS / "03_briefer_weekly_brief.ipynb", tmp_path, {"GEO_RISK_CONFIG": ""})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    text = _text(nb)
    found = [ln for ln in text.splitlines() if ln.startswith("truth:")]
    assert len(found) == 3 and all(ln.endswith(("down", "up")) for ln in found), found
    assert "Perceived safety fell in" in text and "within noise" in text
    assert "Benchmarks, mission-wide:" in text and "Alerts answered in time: no data" in text
    for section in ("grb-perceptions", "grb-topics", "grb-benchmarks"):
        assert f"{section} in brief.html: True" in text
    assert "26 weeks" in text
