"""Tests of the weekly brief (brief.html) and the static map (map.png), without a browser."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import io
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from PIL import Image

from geo_risk.errors import ValidationError
from geo_risk.pipeline import Inputs, WeeklyResult
from geo_risk.readers.common import InputReport
from geo_risk.render import MapMeta, render_map
from geo_risk.render.brief import render_brief, write_brief, write_brief_outputs
from geo_risk.render.map import RISK_COLOURS
from geo_risk.render.static import render_png, write_png

RES = 7
WEEK = dt.date(2024, 5, 6)
XSS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '"><svg onload="window.__xss=1">',
    "</script><script>window.__xss=1</script>",
    "`",
    "${window.__xss=1}",
]
PAYLOAD = " ".join(XSS)


def make(text: str | None = None) -> dict[str, Any]:
    """Two admin units (~600 res-7 cells), a matrix, inputs, a restriction and a base."""
    west = shapely.box(30.0, 5.0, 30.25, 5.5)
    east = shapely.box(30.25, 5.0, 30.5, 5.5)
    names = [text or "Westville", text or "Eastfield"]
    pcodes = [text or "SS0101", (text or "SS0102") + "b"]
    boundaries = gpd.GeoDataFrame(
        {"admin_pcode": pcodes, "admin_name": names}, geometry=[west, east], crs=4326
    )
    lists = pa.array(h3v.wkb_to_cells(shapely.to_wkb(boundaries.geometry.values), RES))
    cells = np.asarray(lists.flatten()).astype(np.uint64)
    owner = np.repeat(np.arange(2), np.diff(np.asarray(lists.offsets)))
    risk = np.full(cells.size, 0.004)
    prev = risk.copy()
    risk[[40, 300]] = [0.2345, 0.0567]  # rose
    prev[[40, 300]] = [0.10, 0.01]
    risk[500], prev[500] = 0.05, 0.30  # fell
    grid = pd.DataFrame(
        {
            "cell": cells,
            "risk": risk,
            "risk_prev": prev,
            "risk_change": risk - prev,
            "drivers": np.where(risk != prev, text or "recent violence nearby", ""),
            "trend": text or "stable",
            "admin_pcode": np.asarray(pcodes)[owner],
            "admin_name": np.asarray(names)[owner],
        }
    )
    matrix = pd.DataFrame(
        {
            "admin_pcode": pcodes,
            "admin_name": names,
            "likelihood": [0.62, 0.31],
            "likelihood_prev": [0.40, 0.45],
            "likelihood_change": [0.22, -0.14],
            "risk_score": [12, 4],
            "level": ["high", "low"],
            "level_prev": ["medium", "low"],
            "level_change": ["up", "same"],
            "expected_incident_cells": [1.4, 0.4],
            "trend": [text or "intensifying", text or "diminishing"],
            "civilian_targeting_12w": [7, 0],
            "restricted_share": [0.25, 0.0],
            "restricted_population": [1200.0, 0.0],
        }
    )
    restrictions = gpd.GeoDataFrame(
        {"restriction_id": [text or "R1"], "cause": [text or "armed_group"], "severity": [3],
         "start_date": [pd.Timestamp("2024-04-01")], "end_date": [pd.NaT]},
        geometry=[shapely.Point(30.1, 5.2).buffer(0.04)], crs=4326,
    )
    bases = pd.DataFrame({"base_name": [text or "Alpha base"], "lon": [30.4], "lat": [5.1],
                          "liaison_staff": [3]})
    inputs = [
        {"name": text or "acled.csv", "kind": "incidents", "format": "acled",
         "newest_date": "2024-05-04", "oldest_date": "2022-01-03", "stale": False,
         "rows_read": 1200, "rows_accepted": 1190, "rows_rejected": 10, "sha256": "ab" * 32,
         "warnings": [text] if text else []},
        {"name": "kobo.csv", "kind": "consultations", "format": "kobo",
         "newest_date": "2024-03-01", "oldest_date": "2023-01-01", "stale": True,
         "rows_read": 40, "rows_accepted": 40, "rows_rejected": 0, "sha256": "cd" * 32,
         "warnings": []},
    ]
    warnings = ["STALE FEED: kobo.csv newest record is 2024-03-01, 66 days before the week"]
    if text:
        warnings.append(text)
    title = text or "Test country weekly risk"
    meta = MapMeta(title=title, week=WEEK, synthetic=True, h3_resolution=RES,
                   sources=(text or "unit test",))
    map_html = render_map(grid=grid, boundaries=boundaries, meta=meta, restrictions=restrictions,
                          bases=bases)
    png = render_png(grid=grid, title=title, week=WEEK, synthetic=True, boundaries=boundaries,
                     restrictions=restrictions, bases=bases, h3_resolution=RES, dpi=60)
    return {
        "brief": {
            "title": title, "week": WEEK, "synthetic": True, "matrix": matrix, "grid": grid,
            "inputs": inputs, "warnings": warnings, "sources": [text] if text else [],
            "notes": [text] if text else [], "map_html": map_html, "map_png": png,
            "h3_resolution": RES,
        },
        "boundaries": boundaries, "restrictions": restrictions, "bases": bases,
    }


class Tags(HTMLParser):
    """Every start tag of the brief with its attributes (``srcdoc`` stays one attribute)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Tags:
    p = Tags()
    p.feed(page)
    p.close()
    return p


def test_sections_in_order_with_banner_and_matrix() -> None:
    inputs = make()
    page = render_brief(**inputs["brief"])
    assert page.startswith("<!DOCTYPE html>")
    ids = ["grb-synthetic", "grb-warnings", "grb-map", "grb-priorities", "grb-changes",
           "grb-matrix", "grb-freshness", "grb-sources"]
    positions = [page.index(f'id="{i}"') for i in ids]
    assert positions == sorted(positions)
    assert "SYNTHETIC DATA" in page and "(SYNTHETIC)</title>" in page
    text = " ".join(parse(page).text)
    # Matrix: highest level first, with its change and access.
    matrix = page[page.index('id="grb-matrix"'):page.index('id="grb-freshness"')]
    assert matrix.index("Westville") < matrix.index("Eastfield")
    assert "\u25b2 from medium" in matrix and "+22 pp" in matrix and "\u221214 pp" in matrix
    assert "25% of area" in matrix and "1,200 people" in matrix and ">none<" in matrix
    assert "Civilians targeted, 12 wk" in matrix
    # Freshness: the stale feed is flagged in the warnings and in the table.
    assert "STALE FEED: kobo.csv" in text
    assert 'class="grb-stale-tag">STALE<' in page
    assert "66 days" in page and "2 days" in page
    assert "Priority list not available" in text
    # Sources are built from the inputs when none are given.
    assert "acled.csv (incidents, acled, records 2022-01-03 to 2024-05-04, sha256 abab" in text
    real = render_brief(**{**inputs["brief"], "synthetic": False, "map_html": None})
    assert "SYNTHETIC" not in real


def test_top_changes_name_the_right_units_and_cells() -> None:
    inputs = make()
    grid = inputs["brief"]["grid"]
    page = render_brief(**inputs["brief"])
    changes = page[page.index('id="grb-changes"'):page.index('id="grb-matrix"')]
    rising = changes[changes.index("risk rising"):changes.index("risk falling")]
    assert "Westville" in rising and "Eastfield" not in rising
    falling = changes[changes.index("risk falling"):changes.index("Cells, largest increases")]
    assert "Eastfield" in falling
    ups = changes[changes.index("Cells, largest increases"):
                  changes.index("Cells, largest decreases")]
    ids = [f"{int(c):x}" for c in grid["cell"].to_numpy()[[40, 300, 500]]]
    assert ids[0] in ups and ids[1] in ups and ids[2] not in ups
    assert ups.index(ids[0]) < ups.index(ids[1])  # +13 pp before +4.7 pp
    assert "+13 pp" in ups and "+4.7 pp" in ups and "recent violence nearby" in ups
    downs = changes[changes.index("Cells, largest decreases"):]
    assert ids[2] in downs and "\u221225 pp" in downs
    # Base-rate cells (no change) are never listed.
    assert changes.count("grb-coord") == 3


def test_priority_list_shown_without_personal_fields() -> None:
    inputs = make()
    priorities = pd.DataFrame(
        {
            "rank": [1, 2],
            "admin_name": ["Westville", "Eastfield"],
            "admin_pcode": ["SS0101", "SS0102b"],
            "level": ["high", "low"],
            "likelihood": [0.62, 0.31],
            "reason": ["level rose; civilians targeted", "stale engagement"],
            "facilitator_name": ["Jane Doe", "John Roe"],
            "phone": ["+211 555 0199", ""],
            "lat": [5.123456, 5.2],
            "lon": [30.654321, 30.3],
            "secret_notes": ["private", "private"],
            "population": [1234.0, 99.0],
        }
    )
    page = render_brief(**inputs["brief"], priorities=priorities,
                        personal_columns=("secret_notes",))
    section = page[page.index('id="grb-priorities"'):page.index('id="grb-changes"')]
    assert "level rose; civilians targeted" in section and "62%" in section
    assert section.index("Westville") < section.index("Eastfield")
    for secret in ("Jane Doe", "555 0199", "5.123456", "30.654321", "private", "Facilitator"):
        assert secret not in page, secret
    assert "Population" in section and "1,234" in section
    empty = render_brief(**inputs["brief"], priorities=priorities.iloc[:0])
    assert "Priority list not available" in empty


def test_priority_list_of_a_run_grouped_by_kind() -> None:
    inputs = make()
    n_units, n_cells = 15, 3
    priorities = pd.DataFrame(
        {
            "rank": [*range(1, n_units + 1), *range(1, n_cells + 1)],
            "kind": ["admin unit"] * n_units + ["cell"] * n_cells,
            "admin_pcode": "SS0101",
            "admin_name": [f"Unit {i}" for i in range(n_units)] + ["Westville"] * n_cells,
            "cell": [""] * n_units + ["876a46558ffffff"] * n_cells,
            "level": ["critical"] * n_units + ["very high"] * n_cells,
            "risk": 0.87,
            "expected_incident_cells": 2.25,
            "why": "critical risk; 3 commitment(s) without follow-up",
            "engagement_status": "not engaged",
            "access_status": "partly restricted",
            "reprisal_exposure": "exposed, rising",
            "nearest_base": "Alpha base",
            "nearest_base_km": 12.4,
            "suggested_modality": "remote: phone/SMS focal points and radio",
            "priority_score": 1.58,
        }
    )
    page = render_brief(**inputs["brief"], priorities=priorities)
    section = page[page.index('id="grb-priorities"'):page.index('id="grb-changes"')]
    assert section.index("<h3>Admin units</h3>") < section.index("<h3>Cells</h3>")
    assert "Unit 11" in section and "Unit 12" not in section  # top 12 units
    assert "Top 12 of 15 shown." in section
    assert section.count("cell 876a46558ffffff") == n_cells
    for text in ("p = 87%", "2.2 expected cells with incidents",
                 "3 commitment(s) without follow-up",
                 "partly restricted", "exposed, rising", "Alpha base (12 km)",
                 "remote: phone/SMS focal points and radio",
                 'background:#b3262b;color:#ffffff">very high<'):
        assert text in html.unescape(section), text


def test_page_is_offline_with_no_script_of_its_own() -> None:
    inputs = make()
    page = render_brief(**inputs["brief"])
    tags = parse(page).tags
    names = {t for t, _ in tags}
    assert "script" not in names and "link" not in names and "object" not in names
    frames = [a for t, a in tags if t == "iframe"]
    assert len(frames) == 1
    frame = frames[0]
    assert frame["sandbox"] == "allow-scripts"  # never allow-same-origin
    assert frame["srcdoc"] == inputs["brief"]["map_html"]  # escaped, round-trips exactly
    assert "src" not in frame
    for tag, attrs in tags:
        for key, value in attrs.items():
            assert not key.startswith("on"), (tag, key)
            if key in ("src", "href", "action", "poster", "background"):
                assert str(value).startswith("data:"), (tag, key, value)
    img = [a for t, a in tags if t == "img"]
    assert len(img) == 1 and str(img[0]["src"]).startswith("data:image/png;base64,")
    png = base64.b64decode(str(img[0]["src"]).split(",", 1)[1])
    assert png == inputs["brief"]["map_png"]
    # The CSP lets exactly the map's own inline scripts run, and nothing be fetched.
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv"))
    assert csp is not None
    bodies = re.findall(r"<script(?![^>]*application/json)[^>]*>(.*?)</script>",
                        inputs["brief"]["map_html"], re.S)
    expected = {"'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()
                + "'" for b in bodies}
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert set(directives["script-src"].split()) == expected
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'none'"
    assert directives["img-src"] == "data:"
    # Print: the interactive map is for screens only, the PNG stays.
    assert "@media print" in page and ".grb-screen-only { display: none" in page
    no_map = render_brief(**{**inputs["brief"], "map_html": None, "map_png": None})
    csp = next(a["content"] for t, a in parse(no_map).tags if t == "meta" and a.get("http-equiv"))
    assert "script-src 'none'" in str(csp) and "No map was rendered" in no_map


def test_text_from_data_is_escaped_everywhere() -> None:
    inputs = make(PAYLOAD)
    priorities = pd.DataFrame({"admin_name": [PAYLOAD], "reason": [PAYLOAD], "level": [PAYLOAD]})
    page = render_brief(**inputs["brief"], priorities=priorities)
    for needle in ("<script>window", "<img src=x", "<svg onload", "</script><script>"):
        assert needle not in page, needle
    parsed = parse(page)
    names = {t for t, _ in parsed.tags}
    assert not names & {"script", "svg"}
    assert [a for t, a in parsed.tags if t == "img"][0]["src"].startswith("data:")  # type: ignore[union-attr]
    assert all(not k.startswith("on") for _, a in parsed.tags for k in a)
    assert html.escape(PAYLOAD, quote=True) in page
    text = "".join(parsed.text)
    # Each field shows the payload as text: title, names, codes, drivers, trend, warnings,
    # input names, sources, notes, priorities.
    assert text.count(PAYLOAD) >= 15
    assert parse(page).tags[[t for t, _ in parsed.tags].index("iframe")][1][
        "srcdoc"] == inputs["brief"]["map_html"]


def test_png_uses_the_map_classes_and_colours(tmp_path: Path) -> None:
    inputs = make()
    b = inputs["brief"]
    out = write_png(tmp_path / "sub" / "map.png", grid=b["grid"], title="T", week=WEEK,
                    synthetic=False, boundaries=inputs["boundaries"],
                    restrictions=inputs["restrictions"], bases=inputs["bases"], classes="fixed")
    image = Image.open(io.BytesIO(out.read_bytes()))
    assert image.format == "PNG" and image.mode == "P" and image.size[0] > 1000
    counts = {c: n for n, c in image.convert("RGB").getcolors(1 << 20)}

    def n(hex_colour: str) -> int:
        return counts.get(tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)), 0)

    # 0.4% (class 1) fills the area; 23% (class 7), 5.7% and 5% (class 5) are single cells;
    # classes no cell has only appear as a legend swatch.
    absent = [n(RISK_COLOURS[i]) for i in (2, 3, 4, 6, 8)]
    swatch = max(absent)
    assert min(absent) > 0.8 * swatch > 0
    assert n(RISK_COLOURS[1]) > 100 * swatch
    assert n(RISK_COLOURS[7]) > 1.8 * swatch and n(RISK_COLOURS[5]) > 1.8 * swatch
    assert n("#7a0019") > 0  # the high-severity restriction hatch


def test_png_fast_for_30k_cells_and_text_is_not_mathtext() -> None:
    box = shapely.box(29.0, 3.0, 32.6, 6.5)
    cells = np.asarray(pa.array(h3v.wkb_to_cells([shapely.to_wkb(box)], RES)).flatten())
    cells = cells.astype(np.uint64)
    assert 28_000 < cells.size < 40_000
    rng = np.random.default_rng(1)
    grid = pd.DataFrame({"cell": cells, "risk": rng.beta(0.3, 40, cells.size)})
    grid["restricted"] = rng.random(cells.size) < 0.02
    units = gpd.GeoDataFrame({"admin_pcode": ["A", "B"], "admin_name": ["$x^2$", "${a}"]},
                             geometry=[shapely.box(29, 3, 30.75, 6.4),
                                       shapely.box(30.75, 3, 32.5, 6.4)], crs=4326)
    start = time.perf_counter()
    png = render_png(grid=grid, title="$\\alpha$ ${window.__xss=1}", week=WEEK, synthetic=True,
                     boundaries=units, bases=pd.DataFrame({"base_name": ["$b$"], "lon": [30.0],
                                                           "lat": [4.0]}))
    elapsed = time.perf_counter() - start
    assert elapsed < 10, elapsed
    assert Image.open(io.BytesIO(png)).size[0] > 1000
    assert len(png) < 1_500_000


def test_bad_inputs_raise_clear_errors() -> None:
    inputs = make()
    with pytest.raises(ValidationError, match="matrix"):
        render_brief(**{**inputs["brief"], "matrix": "not a frame"})
    with pytest.raises(ValidationError, match="sequences of strings"):
        render_brief(**{**inputs["brief"], "warnings": "one string"})
    with pytest.raises(ValidationError, match="risk"):
        render_png(grid=inputs["brief"]["grid"].drop(columns="risk"), title="t", week=WEEK,
                   synthetic=False)
    with pytest.raises(ValidationError, match="no rows"):
        render_png(grid=inputs["brief"]["grid"].iloc[:0], title="t", week=WEEK, synthetic=False)


def test_write_outputs_from_a_run(tmp_path: Path) -> None:
    inputs = make()
    b = inputs["brief"]
    admin = inputs["boundaries"].assign(admin_level=2, parent_pcode="SS01")
    reports = [InputReport(name="acled.csv", kind="incidents", path="/x/acled.csv",
                           format="acled", sha256="ab" * 32, rows_read=10, rows_accepted=10,
                           newest_date="2024-05-04"),
               InputReport(name="bases.csv", kind="bases", path="/x/bases.csv", format="csv",
                           sha256="cd" * 32, rows_read=1, rows_accepted=1,
                           newest_date="2020-01-01")]
    grid = gpd.GeoDataFrame(b["grid"], geometry=[None] * len(b["grid"]), crs=4326)
    result = WeeklyResult(
        week=pd.Timestamp(WEEK), grid=grid, matrix=b["matrix"],
        inputs=Inputs(admin=admin, incidents=pd.DataFrame(), consultations=None,
                      restrictions=inputs["restrictions"], bases=inputs["bases"],
                      reports=reports, rejects=pd.DataFrame(), warnings=[]),
        restrictions_in_force=inputs["restrictions"], model={"model": "persistence"},
        parameters={},
    )
    config = SimpleNamespace(title="Run title", synthetic=False, h3_resolution=RES, min_count=5,
                             boundaries=SimpleNamespace(path=Path("/x/adm2.gpkg")),
                             sensitive_columns=("facilitator_name",))
    before = b["matrix"].copy()
    paths = write_brief_outputs(result, config, tmp_path / "out",  # type: ignore[arg-type]
                                map_html=b["map_html"])
    assert set(paths) == {"brief", "map_png"}
    page = paths["brief"].read_text(encoding="utf-8")
    assert "Priority list not available" in page
    assert "No stale feed and no run warning" in page and 'id="grb-synthetic"' not in page
    assert "adm2.gpkg, 2 admin units" in page and "model: persistence baseline" in page
    assert paths["map_png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    pd.testing.assert_frame_equal(b["matrix"], before)
    # A result that carries a priority table gets it in the brief.
    result.priorities = pd.DataFrame(  # type: ignore[attr-defined]
        {"admin_name": ["Westville"], "why": ["rising"], "facilitator_name": ["Jane Doe"]})
    page = write_brief_outputs(result, config, tmp_path / "out2",  # type: ignore[arg-type]
                               map_html=None)["brief"].read_text(encoding="utf-8")
    assert "rising" in page and "Jane Doe" not in page and "not available" not in page
    size = write_brief(tmp_path / "b.html", **b).stat().st_size
    assert size < len(b["map_html"]) * 1.1 + len(b["map_png"]) * 1.4 + 60_000


def test_a_surge_leads_top_changes_even_when_its_probability_is_saturated() -> None:
    from geo_risk.analyse import change_measures

    m = pd.DataFrame({
        "admin_pcode": ["SURGE", "SMALL"], "admin_name": ["Surgeville", "Smallton"],
        "level": ["critical", "low"], "level_prev": ["critical", "low"],
        "level_change": ["same", "same"], "likelihood": [0.999, 0.30],
        "likelihood_change": [0.0, 0.10], "risk_score": [20, 4],
        "incidents_4w": [52, 2], "incidents_baseline_4w": [3.0, 1.5],
        "expected_incident_cells": [4.3, 0.35], "expected_incident_cells_prev": [4.2, 0.25],
    })
    m = pd.concat([m, change_measures(m)], axis=1)
    assert m.loc[0, "change_score"] > 3 > m.loc[1, "change_score"]
    assert "incidents 52 in the last 4 weeks vs 3.0 usual" in m.loc[0, "change_reason"]
    page = render_brief(title="t", week=dt.date(2024, 7, 1), synthetic=False, matrix=m)
    rising = page[page.index("risk rising"):page.index("risk falling")]
    assert "Surgeville" in rising and rising.index("Surgeville") < rising.find("Smallton") \
        or "Smallton" not in rising
    assert "52 in the last 4 weeks" in html.unescape(rising)
