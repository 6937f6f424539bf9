"""The map page and the weekly brief in headless Chromium: offline, draws, tooltips right, and
safe against XSS.

Uses the shared ``browser`` fixture of conftest.py: playwright's own Chromium if installed, else
one on PATH (never ``playwright install``); skipped when missing, and failed under CI=true.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely

from geo_risk.render import MapMeta, render_map, write_map
from geo_risk.render.brief import write_brief
from geo_risk.render.static import render_png

pytestmark = pytest.mark.browser

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


def cell_centres(cells: np.ndarray) -> np.ndarray:
    t = pa.table(h3v.cells_to_coordinates(np.asarray(cells, dtype=np.uint64)))
    return np.c_[t.column("lat").to_numpy(), t.column("lng").to_numpy()]


def build(text: str | None = None) -> dict[str, Any]:
    """Two admin units (~600 res-7 cells) with every optional column, restriction and base."""
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
    n = cells.size
    hot = np.zeros(n, dtype=bool)
    hot[[40, 300, 500]] = True
    risk = np.where(hot, 0.0, 0.004)
    risk[40], risk[300], risk[500] = 0.2345, 0.0567, 0.61
    grid = pd.DataFrame(
        {
            "cell": cells,
            "risk": risk,
            "risk_low": risk / 2,
            "risk_high": np.minimum(risk * 1.5, 1),
            "risk_prev": np.where(hot, 0.1, 0.004),
            "risk_band": np.where(hot, text or "high", "low"),
            "trend": np.where(hot, text or "rising", "stable"),
            "drivers": np.where(hot, text or "recent violence; displacement", "base rate"),
            "engagements_12w": np.where(hot, np.nan, 0.0),
            "engagement_status": np.where(hot, "suppressed", "never engaged"),
            "restricted": hot,
            "under_engaged": hot,
            "admin_pcode": np.asarray(pcodes)[owner],
            "admin_name": np.asarray(names)[owner],
        }
    )
    restrictions = gpd.GeoDataFrame(
        {
            "restriction_id": [text or "R1"],
            "cause": [text or "armed_group"],
            "severity": [3],
            "start_date": [pd.Timestamp("2024-04-01")],
            "end_date": [pd.NaT],
        },
        geometry=[shapely.Point(*cell_centres(cells[[40]])[0][::-1]).buffer(0.03)],
        crs=4326,
    )
    bases = pd.DataFrame(
        {
            "base_name": [text or "Alpha base"],
            "lon": [30.4],
            "lat": [5.1],
            "liaison_staff": [3],
            "reach_km": [10.0],
        }
    )
    history = pd.DataFrame(
        {
            "cell": cells,
            "week": pd.Timestamp(WEEK) - pd.Timedelta(days=7),
            "risk": np.where(hot, 0.1, 0.004),
        }
    )
    src = (text,) if text else ("ACLED (synthetic)",)
    meta = MapMeta(
        title=text or "Test country weekly risk",
        week=WEEK,
        synthetic=True,
        h3_resolution=RES,
        sources=src,
        freshness=((text or "incidents", "2024-05-04", True),),
        notes=src,
    )
    return {
        "grid": grid,
        "boundaries": boundaries,
        "meta": meta,
        "restrictions": restrictions,
        "bases": bases,
        "history": history,
    }


class Page:
    """A map page opened offline: every request other than the file itself is blocked."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1200, "height": 800})
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.wait_for_function("window.geoRisk && window.geoRisk.painted", timeout=20_000)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file://", "data:", "blob:")):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def js(self, expr: str) -> Any:
        return self.page.evaluate(expr)

    def reset(self) -> None:
        """Close popups and go back to a fixed view (opening a popup may pan the map)."""
        self.js(
            "(() => { geoRisk.map.closePopup();"
            " geoRisk.map.setView([5.25, 30.25], 10, {animate: false}); return 0; })()"
        )

    def point(self, lat: float, lng: float) -> tuple[float, float]:
        x, y = self.js(
            f"(() => {{ const p = geoRisk.map.latLngToContainerPoint([{lat}, {lng}]);"
            " const r = geoRisk.map.getContainer().getBoundingClientRect();"
            " return [p.x + r.left, p.y + r.top]; })()"
        )
        return x, y

    def hover(self, lat: float, lng: float) -> str:
        x, y = self.point(lat, lng)
        # Leaflet's canvas renderer handles at most one mouse move per 32 ms.
        self.page.mouse.move(x - 2, y - 2)
        self.page.wait_for_timeout(40)
        self.page.mouse.move(x, y)
        self.page.wait_for_timeout(40)
        return str(self.js("(document.querySelector('.gr-cell-tip') || {innerText: ''}).innerText"))

    def non_blank_pixels(self) -> int:
        return int(
            self.js(
                "(() => { let n = 0;"
                " for (const c of document.querySelectorAll('.leaflet-overlay-pane canvas')) {"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } } return n; })()"
            )
        )


@pytest.fixture(scope="module")
def good(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Page, dict[str, Any]]]:
    inputs = build()
    path = write_map(tmp_path_factory.mktemp("map") / "map.html", **inputs)
    page = Page(browser, path)
    yield page, inputs
    page.page.close()


def test_opens_offline_and_draws(good: tuple[Page, dict[str, Any]]) -> None:
    page, _ = good
    assert page.requests == []
    assert page.errors == []
    assert page.js("window.L && L.version") == "1.9.4"
    stats = page.js("geoRisk.stats")
    assert stats["polygonsDrawn"] == stats["groups"] >= 5
    assert stats["boundaries"] == 2
    assert page.non_blank_pixels() > 50_000
    labels = page.js("[...document.querySelectorAll('.gr-label-text')].map(e => e.textContent)")
    assert {"Westville", "Eastfield", "Alpha base"} <= set(labels)
    legend = page.js("document.getElementById('geo-risk-legend').innerText")
    assert "probability of \u22651 incident next week" in legend
    banner = page.page.locator("#geo-risk-synthetic")
    assert banner.is_visible() and "SYNTHETIC DATA" in banner.inner_text()
    assert "STALE" in page.js("document.getElementById('geo-risk-title').innerText")


def test_hover_shows_the_cell_value(good: tuple[Page, dict[str, Any]]) -> None:
    page, inputs = good
    grid = inputs["grid"]
    page.reset()
    centres = cell_centres(grid["cell"].to_numpy())
    tip = page.hover(*centres[40])
    assert "23%" in tip and "Westville" in tip and "SS0101" in tip
    assert "high" in tip and "rising" in tip and "recent violence; displacement" in tip
    assert "count suppressed" in tip and "restricted" in tip and "armed_group" in tip
    assert "+13.0 pp" in tip  # 23% vs 10% last week
    base_cell = int(np.flatnonzero(grid["admin_name"].to_numpy() == "Eastfield")[10])
    tip = page.hover(*centres[base_cell])
    assert "0.40%" in tip and "Eastfield" in tip and "never engaged" in tip
    # The week selector recolours and the tooltip follows the chosen week.
    page.page.select_option("#gr-week", "0")
    tip = page.hover(*centres[40])
    assert "Probability (week of 2024-04-29)" in tip and "10%" in tip
    page.page.select_option("#gr-week", "1")
    # Switching layers changes the legend.
    page.page.check("#gr-theme-change")
    assert "Change vs last week" in page.js("document.getElementById('geo-risk-legend').innerText")
    page.page.check("#gr-theme-risk")
    page.page.mouse.move(5, 400)


def test_layers_switch_off(good: tuple[Page, dict[str, Any]]) -> None:
    page, _ = good
    before = page.non_blank_pixels()
    page.page.uncheck("#gr-overlay-boundaries")
    page.page.wait_for_timeout(100)
    assert page.js("document.querySelectorAll('.gr-label-text').length") == 1  # base label only
    page.page.check("#gr-overlay-boundaries")
    page.page.wait_for_timeout(100)
    assert page.non_blank_pixels() == pytest.approx(before, rel=0.05)


def test_xss_payloads_stay_text(browser: Any, tmp_path: Path) -> None:
    text = " ".join(XSS)
    inputs = build(text)
    path = write_map(tmp_path / "xss.html", **inputs)
    page = Page(browser, path)
    try:
        page.reset()
        grid = inputs["grid"]
        centres = cell_centres(grid["cell"].to_numpy())
        tips = [page.hover(*centres[i]) for i in (40, 300, 500, 10, len(grid) - 10)]
        assert all(text in t for t in tips[:3]), tips[0]
        # Popups (click) on cells, tooltip and popup on the base.
        for i in (40, 300, 500):
            page.reset()
            x, y = page.point(*centres[i])
            page.page.mouse.click(x, y)
            popup = page.js("document.querySelector('.leaflet-popup-content').innerText")
            assert text in popup
        page.reset()
        x, y = page.point(5.1, 30.4)
        page.page.mouse.move(x - 2, y - 2)
        page.page.wait_for_timeout(40)
        page.page.mouse.move(x, y)
        page.page.wait_for_timeout(40)
        assert text in page.js(
            "document.querySelector('.leaflet-tooltip:not(.gr-cell-tip)').innerText"
        )
        page.page.mouse.click(x, y)
        assert text in page.js("document.querySelector('.leaflet-popup-content').innerText")
        for key in page.js(
            "[...document.querySelectorAll('input[name=gr-theme]')].map(e => e.value)"
        ):
            page.page.check(f"#gr-theme-{key}")
        assert text in page.js("document.getElementById('geo-risk-title').innerText")
        assert page.js("document.title").startswith(text)
        assert page.js("typeof window.__xss") == "undefined"
        assert page.dialogs == []
        assert page.requests == []  # the <img src=x> never became an element
        assert page.errors == []
        assert page.js("geoRisk.stats.polygonsDrawn") >= 5
        assert page.non_blank_pixels() > 50_000
    finally:
        page.page.close()


def test_minimal_map_without_optional_inputs(browser: Any, tmp_path: Path) -> None:
    """Only the required grid columns, no boundaries rows, no overlays: still draws and hovers."""
    full = build()
    grid = full["grid"][["cell", "risk", "admin_pcode", "admin_name"]]
    meta = MapMeta(title="Minimal", week=WEEK, synthetic=False, h3_resolution=RES)
    path = write_map(
        tmp_path / "minimal.html", grid=grid, boundaries=full["boundaries"].iloc[:0], meta=meta
    )
    page = Page(browser, path)
    try:
        assert page.requests == [] and page.errors == []
        page.reset()
        tip = page.hover(*cell_centres(grid["cell"].to_numpy()[[40]])[0])
        assert "23%" in tip and "Westville" in tip
        assert page.js("document.getElementById('geo-risk-synthetic')") is None
        themes = page.js("[...document.querySelectorAll('input[name=gr-theme]')].map(e => e.value)")
        assert themes == ["risk"]
        assert page.errors == []
    finally:
        page.page.close()


# --------------------------------------------------------------------------- the weekly brief


def build_brief(text: str | None = None) -> dict[str, Any]:
    """Brief inputs around :func:`build`: matrix, priorities, inputs, warnings, map and PNG."""
    inputs = build(text)
    grid = inputs["grid"].assign(risk_change=lambda g: g["risk"] - g["risk_prev"])
    names = inputs["boundaries"]["admin_name"].tolist()
    pcodes = inputs["boundaries"]["admin_pcode"].tolist()
    matrix = pd.DataFrame(
        {
            "admin_pcode": pcodes,
            "admin_name": names,
            "likelihood": [0.62, 0.31],
            "likelihood_prev": [0.40, 0.45],
            "likelihood_change": [0.22, -0.14],
            "level": ["high", "low"],
            "level_prev": ["medium", "low"],
            "level_change": ["up", "same"],
            "expected_incidents": [1.4, 0.4],
            "trend": [text or "intensifying", text or "diminishing"],
            "civilian_targeting_12w": [7, 0],
            "restricted_share": [0.25, 0.0],
            "restricted_population": [1200.0, 0.0],
        }
    )
    priorities = pd.DataFrame(
        {
            "rank": [1, 2],
            "kind": "admin unit",
            "admin_name": names,
            "admin_pcode": pcodes,
            "level": [text or "high", "low"],
            "risk": [0.62, 0.31],
            "why": [text or "level rose; civilians targeted", text or "no engagement"],
            "engagement_status": [text or "not engaged", "engaged"],
            "nearest_base": [text or "Alpha base", "Alpha base"],
            "suggested_modality": [text or "remote: radio", "community meeting"],
        }
    )
    title = inputs["meta"].title
    return {
        "title": title,
        "week": WEEK,
        "synthetic": True,
        "matrix": matrix,
        "grid": grid,
        "priorities": priorities,
        "inputs": [
            {"name": text or "acled.csv", "kind": "incidents", "format": "acled",
             "newest_date": "2024-05-04", "oldest_date": "2022-01-03", "stale": True,
             "rows_read": 100, "rows_accepted": 99, "rows_rejected": 1, "sha256": "ab" * 32,
             "warnings": [text] if text else []},
        ],
        "warnings": [f"STALE FEED: {text or 'acled.csv'} newest record is 2024-05-04"],
        "sources": [text] if text else [],
        "notes": [text] if text else [],
        "map_html": render_map(**inputs),
        "map_png": render_png(grid=grid, title=title, week=WEEK, synthetic=True,
                              boundaries=inputs["boundaries"],
                              restrictions=inputs["restrictions"], bases=inputs["bases"],
                              h3_resolution=RES, dpi=80),
        "h3_resolution": RES,
    }


class BriefPage:
    """The brief opened offline: any request but the brief file itself is recorded and blocked;
    the embedded map runs in its sandboxed ``srcdoc`` frame."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.path = path.as_uri()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.route("**/*", self._route)
        self.page.goto(self.path, wait_until="load")
        # On a loaded machine the srcdoc frame can still be navigating after "load".
        for _ in range(200):
            frames = [f for f in self.page.frames if f.url == "about:srcdoc"]
            if frames:
                break
            self.page.wait_for_timeout(100)
        assert len(frames) == 1, [f.url for f in self.page.frames]
        self.map = frames[0]
        self.map.wait_for_function("window.geoRisk && window.geoRisk.painted", timeout=20_000)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url == self.path or url.startswith("data:"):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def js(self, expr: str) -> Any:
        return self.page.evaluate(expr)

    def map_pixels(self) -> int:
        return int(
            self.map.evaluate(
                "(() => { let n = 0;"
                " for (const c of document.querySelectorAll('.leaflet-overlay-pane canvas')) {"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                " for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } } return n; })()"
            )
        )

    def png_size(self) -> list[int]:
        return list(
            self.page.evaluate(
                "(async () => { const img = document.getElementById('grb-map-png');"
                " await img.decode(); return [img.naturalWidth, img.naturalHeight]; })()"
            )
        )


def test_brief_opens_offline_with_map_matrix_priorities_and_png(
    browser: Any, tmp_path: Path
) -> None:
    kwargs = build_brief()
    path = write_brief(tmp_path / "brief.html", **kwargs)
    page = BriefPage(browser, path)
    try:
        assert page.requests == [] and page.errors == [] and page.dialogs == []
        assert not [c for c in page.console if "Content Security Policy" in c], page.console
        # The embedded map drew, offline, in its own frame.
        stats = page.map.evaluate("geoRisk.stats")
        assert stats["polygonsDrawn"] == stats["groups"] >= 5 and stats["boundaries"] == 2
        assert page.map_pixels() > 50_000
        labels = page.map.evaluate(
            "[...document.querySelectorAll('.gr-label-text')].map(e => e.textContent)"
        )
        assert {"Westville", "Eastfield", "Alpha base"} <= set(labels)
        # The sandbox keeps the map away from the brief.
        assert page.map.evaluate("(() => { try { return !!parent.document; }"
                                 " catch (e) { return 'blocked'; } })()") == "blocked"
        # Static map decoded; matrix and priority tables present.
        width, height = page.png_size()
        assert width > 500 and height > 300
        rows = page.js("[...document.querySelectorAll('#grb-matrix tbody tr')]"
                       ".map(r => r.innerText)")
        assert len(rows) == 2 and "Westville" in rows[0] and "Eastfield" in rows[1]
        assert "+22 pp" in rows[0]
        prio = page.js("[...document.querySelectorAll('#grb-priorities tbody tr')]"
                       ".map(r => r.innerText)")
        assert len(prio) == 2 and "level rose; civilians targeted" in prio[0]
        banner = page.page.locator("#grb-synthetic")
        assert banner.is_visible() and "SYNTHETIC DATA" in banner.inner_text()
        assert "STALE FEED: acled.csv" in page.js("document.getElementById('grb-warnings')"
                                                  ".innerText")
        # In print the interactive map gives way to the static one.
        assert page.page.locator("#grb-map-frame").is_visible()
        page.page.emulate_media(media="print")
        assert not page.page.locator("#grb-map-frame").is_visible()
        assert page.page.locator("#grb-map-png").is_visible()
        page.page.emulate_media(media="screen")
        assert page.requests == [] and page.errors == []
    finally:
        page.page.close()


def test_brief_xss_payloads_stay_text(browser: Any, tmp_path: Path) -> None:
    text = " ".join(XSS)
    kwargs = build_brief(text)
    path = write_brief(tmp_path / "brief_xss.html", **kwargs)
    page = BriefPage(browser, path)
    try:
        body = page.js("document.body.innerText")
        assert page.js("document.querySelector('h1').textContent") == text
        assert page.js("document.title").startswith(text)
        for section in ("grb-warnings", "grb-priorities", "grb-changes", "grb-matrix",
                        "grb-freshness", "grb-sources"):
            assert text in page.js(f"document.getElementById('{section}').innerText"), section
        assert body.count(text) >= 12
        injected = "document.querySelectorAll('script, svg, img:not(#grb-map-png)').length"
        assert page.js(injected) == 0
        # The embedded map shows the same texts as text, and still draws.
        page.map.evaluate("geoRisk.setTheme('trend')")
        assert text in page.map.evaluate("document.getElementById('geo-risk-title').innerText")
        assert page.map.evaluate("geoRisk.stats.polygonsDrawn") >= 5
        assert page.map_pixels() > 50_000
        assert page.png_size()[0] > 500
        for frame in page.page.frames:
            assert frame.evaluate("typeof window.__xss") == "undefined", frame.url
        assert page.dialogs == []
        assert page.requests == []  # no <img src=x> was ever created
        assert page.errors == []
        assert not [c for c in page.console if "Content Security Policy" in c], page.console
    finally:
        page.page.close()


def test_units_engagement_reason_and_bases_in_the_browser(browser: Any, tmp_path: Path) -> None:
    """Engagement theme at admin level, the under-engaged reason, a closed base greyed, and
    base labels that never cover a unit name."""
    inputs = build()
    grid = inputs["grid"]
    hot = grid["under_engaged"].to_numpy()
    reason = "high risk (top 5% of cells) and low engagement: fewer than 5 engagements"
    grid["under_engaged_reason"] = np.where(hot, reason, "")
    inputs["boundaries"] = inputs["boundaries"].assign(
        engagement_status=["engaged", "suppressed"], engagements=[9, np.nan])
    # Bases right on the unit names' points: their labels must move aside or hide.
    pts = shapely.get_coordinates(shapely.point_on_surface(inputs["boundaries"].geometry.values))
    inputs["bases"] = pd.DataFrame({
        "base_name": ["Open base with a long name", "Shut base"],
        "lon": pts[:, 0], "lat": pts[:, 1], "liaison_staff": [3, 1], "reach_km": [10.0, 10.0],
        "open_date": ["2020-01-01", "2020-01-01"], "close_date": [None, "2024-01-31"]})
    page = Page(browser, write_map(tmp_path / "units.html", **inputs))
    try:
        assert page.errors == []
        page.reset()
        page.page.check("#gr-theme-engagement")
        legend = page.js("document.getElementById('geo-risk-legend').innerText")
        assert "Engagement coverage per admin unit" in legend
        assert "engaged (1 unit)" in legend and "suppressed (1 unit)" in legend
        centres = cell_centres(grid["cell"].to_numpy())
        tip = page.hover(*centres[40])
        assert "Unit engagement" in tip and "engaged \u00b7 9 engagements" in tip
        assert reason in tip and "yes: high risk" not in tip
        east = int(np.flatnonzero(grid["admin_name"].to_numpy() == "Eastfield")[10])
        tip = page.hover(*centres[east])
        assert "suppressed" in tip and "engagements" not in tip.split("Unit engagement")[1]
        labels = page.js(
            "[...document.querySelectorAll('.gr-label-text')].map(e => [e.textContent,"
            " getComputedStyle(e).visibility, ...Object.values(e.getBoundingClientRect().toJSON())"
            ".slice(0, 4)])")
        by = {t: (v, x, y, w, h) for t, v, x, y, w, h in labels}
        assert "Shut base (closed 2024-01-31)" in by and "Shut base" not in by
        for name in ("Westville", "Eastfield"):
            v, x, y, w, h = by[name]
            assert v == "visible"
            for base in ("Open base with a long name", "Shut base (closed 2024-01-31)"):
                bv, bx, bw_y, bw, bh = by[base]
                overlap = bx < x + w and x < bx + bw and bw_y < y + h and y < bw_y + bh
                assert bv == "hidden" or not overlap, (name, base)
        tip = page.js("(() => { const g = geoRisk; return g.data.bases.map(b => b.open); })()")
        assert tip == [True, False]
    finally:
        page.page.close()
