"""Benchmark: our offline map vs a naive folium map, for a country-size H3 res-7 grid.

Builds a synthetic country (an irregular polygon about 9.6 x 6.8 degrees around 7 N, split
into 80 Voronoi admin units: about 120,000 res-7 cells), gives it realistic weekly values
(one base rate per admin unit for most cells, a few thousand active cells around hotspots with
their own probabilities, trend, drivers, engagement, restrictions), then renders in one run

* our map (``geo_risk.render.write_map``), without and with 4 weeks of history, and
* the naive folium map: one GeoJSON polygon per hex with a ``GeoJsonTooltip``,

and prints bytes, render wall time and, when a Chromium is on PATH, time to first paint
of the grid in headless Chromium (navigation start to two animation frames after ``load``;
every script of both pages is inline or served locally, so the grid has been drawn by then),
the display resolution our page opens with (coarser H3 parents at country zoom,
``geo_risk.render.map_tiers``) and the time to zoom in to the cells (built on first use).
The naive page loads Leaflet, jQuery, Bootstrap and awesome-markers from CDNs: for a fair
comparison those requests are answered from local copies (Leaflet from django-js-lib-leaflet,
jQuery from Debian's /usr/share/javascript, the rest empty). Nothing is asserted.

Run: ``.venv/bin/python benchmarks/bench_map.py [--cells-scale 1.0] [--no-naive] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import h3ronpy
import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from geo_risk.render import MapMeta, write_map

CHROMIUM = Path(shutil.which("chromium") or shutil.which("chromium-browser") or "chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RES = 7
WEEK = dt.date(2024, 5, 6)


def synthetic_country(
    scale: float, seed: int = 7
) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """An irregular country polygon split into 80 admin units, and its res-7 cells."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    wobble = (
        1
        + 0.08 * np.sin(3 * theta + 0.4)
        + 0.05 * np.sin(7 * theta + 1.3)
        + 0.03 * np.sin(13 * theta)
    )
    rx, ry = 4.8 * np.sqrt(scale), 3.4 * np.sqrt(scale)
    country = shapely.Polygon(
        np.c_[25 + rx * wobble * np.cos(theta), 7 + ry * wobble * np.sin(theta)]
    )
    minx, miny, maxx, maxy = country.bounds
    pts = shapely.points(rng.uniform(minx, maxx, 400), rng.uniform(miny, maxy, 400))
    pts = pts[shapely.contains(country, pts)][:80]
    cells_v = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=country)
    )
    units = shapely.intersection(cells_v, country)
    units = units[~shapely.is_empty(units)]
    b = gpd.GeoDataFrame(
        {
            "admin_pcode": [f"XY{i // 10 + 1:02d}{i % 10 + 1:02d}" for i in range(len(units))],
            "admin_name": [f"District {i + 1}" for i in range(len(units))],
            "level": rng.choice(
                ["low", "medium", "high", "critical"], len(units), p=[0.5, 0.3, 0.15, 0.05]
            ),
        },
        geometry=units,
        crs=4326,
    )
    lists = pa.array(h3v.wkb_to_cells(shapely.to_wkb(units), RES))
    cells = np.asarray(lists.flatten()).astype(np.uint64)
    owner = np.repeat(np.arange(len(units)), np.diff(np.asarray(lists.offsets)))
    cells, first = np.unique(cells, return_index=True)
    return b, cells, owner[first]


def synthetic_grid(
    b: gpd.GeoDataFrame, cells: np.ndarray, owner: np.ndarray, seed: int = 11
) -> tuple[pd.DataFrame, pd.DataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Weekly values: base rate per unit; ~4,500 active cells around hotspots."""
    rng = np.random.default_rng(seed)
    n = cells.size
    base = rng.choice([0.0015, 0.003, 0.006], len(b), p=[0.5, 0.35, 0.15])
    risk = base[owner].copy()
    active = np.zeros(n, dtype=bool)
    pos = pd.Index(cells)
    for centre in rng.choice(cells, 60, replace=False):
        disk = np.asarray(h3ronpy.grid_disk(np.array([centre], dtype=np.uint64), 4, flatten=True))
        idx = pos.get_indexer(disk.astype(np.uint64))
        idx = idx[idx >= 0]
        peak = rng.uniform(0.05, 0.6)
        risk[idx] = np.maximum(risk[idx], peak * rng.uniform(0.2, 1.0, idx.size))
        active[idx] = True
    scattered = rng.choice(n, 1000, replace=False)
    risk[scattered] = rng.uniform(0.01, 0.08, scattered.size)
    active[scattered] = True
    prev = np.where(active, np.clip(risk * rng.uniform(0.6, 1.4, n), 0, 1), risk)
    status = np.where(
        active,
        rng.choice(["engaged", "never engaged", "no women", "suppressed"], n),
        "never engaged",
    )
    grid = pd.DataFrame(
        {
            "cell": cells,
            "risk": risk,
            "risk_low": risk * 0.6,
            "risk_high": np.minimum(risk * 1.6, 1.0),
            "risk_prev": prev,
            "risk_band": pd.cut(
                risk, [0, 0.01, 0.05, 0.2, 1.0], labels=["low", "medium", "high", "critical"]
            ).astype(str),
            "trend": np.where(
                active, rng.choice(["rising", "stable", "falling", "onset"], n), "none"
            ),
            "drivers": np.where(
                active,
                rng.choice(
                    [
                        "recent violence; armed group presence",
                        "cattle raiding; season",
                        "onset nearby",
                    ],
                    n,
                ),
                "base rate",
            ),
            "incidents_4w": np.where(active, rng.poisson(1.5, n), 0),
            "incidents_52w": np.where(active, rng.poisson(8, n), 0),
            "population": rng.gamma(2, 300, n),
            "engagements_12w": np.where(
                status == "engaged",
                rng.integers(5, 20, n),
                np.where(status == "suppressed", np.nan, 0),
            ).astype(float),
            "engagement_status": status,
            "under_engaged": active & (risk > 0.1) & (status == "never engaged"),
            "admin_pcode": b["admin_pcode"].to_numpy()[owner],
            "admin_name": b["admin_name"].to_numpy()[owner],
        }
    )
    centre = b.geometry.union_all().centroid
    restrictions = gpd.GeoDataFrame(
        {
            "restriction_id": ["R1", "R2", "R3"],
            "cause": ["armed_group", "government_denial", "terrain_weather"],
            "severity": [3, 2, 1],
            "start_date": pd.to_datetime(["2024-02-01", "2024-04-20", "2024-05-01"]),
            "end_date": [pd.NaT, pd.NaT, pd.Timestamp("2024-06-30")],
        },
        geometry=[
            shapely.Point(centre.x + dx, centre.y + dy).buffer(r)
            for dx, dy, r in ((1, 1, 0.5), (-2, -1, 0.4), (2.5, -1.5, 0.6))
        ],
        crs=4326,
    )
    coords = pa.table(h3v.cells_to_coordinates(cells))
    centres = shapely.points(coords.column("lng").to_numpy(), coords.column("lat").to_numpy())
    grid["restricted"] = shapely.contains(restrictions.geometry.iloc[0], centres)
    bases = pd.DataFrame(
        {
            "base_name": [f"Team site {i + 1}" for i in range(8)],
            "lon": centre.x + rng.uniform(-3, 3, 8),
            "lat": centre.y + rng.uniform(-2, 2, 8),
            "liaison_staff": rng.integers(1, 4, 8),
            "reach_km": rng.choice([25.0, 40.0, 60.0], 8),
        }
    )
    hist = pd.concat(
        [
            pd.DataFrame(
                {
                    "cell": cells,
                    "week": pd.Timestamp(WEEK) - pd.Timedelta(days=7 * k),
                    "risk": prev
                    if k == 1
                    else np.where(active, np.clip(risk * rng.uniform(0.5, 1.5, n), 0, 1), risk),
                }
            )
            for k in (1, 2, 3, 4)
        ],
        ignore_index=True,
    )
    return grid, hist, restrictions, bases


def naive_map(grid: pd.DataFrame, b: gpd.GeoDataFrame, path: Path) -> None:
    """What one would write first: one GeoJSON polygon per hex, GeoJsonTooltip, folium defaults."""
    polys = shapely.from_wkb(
        pa.array(h3v.cells_to_wkb_polygons(grid["cell"].to_numpy())).to_numpy(zero_copy_only=False)
    )
    gdf = gpd.GeoDataFrame(
        {
            "admin_name": grid["admin_name"],
            "admin_pcode": grid["admin_pcode"],
            "risk": grid["risk"].round(4),
        },
        geometry=polys,
        crs=4326,
    )
    m = folium.Map(location=[7, 25], zoom_start=6, tiles=None)

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        r = feature["properties"]["risk"]
        colour = (
            "#6b0a2e"
            if r >= 0.2
            else "#ec5f2e"
            if r >= 0.05
            else "#fdae4b"
            if r >= 0.01
            else "#fff7d1"
        )
        return {"fillColor": colour, "color": colour, "weight": 0.5, "fillOpacity": 0.9}

    folium.GeoJson(
        gdf,
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["admin_name", "admin_pcode", "risk"]),
    ).add_to(m)
    folium.GeoJson(
        b[["admin_name", "geometry"]],
        style_function=lambda f: {"fill": False, "color": "#333", "weight": 1},
    ).add_to(m)
    m.save(str(path))


def _local_cdn(url: str) -> bytes | None:
    if "leaflet" in url and url.endswith("leaflet.js"):
        return (
            resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet" / "leaflet.js"
        ).read_bytes()
    if "leaflet" in url and url.endswith("leaflet.css"):
        return (
            resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet" / "leaflet.css"
        ).read_bytes()
    if "jquery" in url and Path("/usr/share/javascript/jquery/jquery.min.js").exists():
        return Path("/usr/share/javascript/jquery/jquery.min.js").read_bytes()
    return None


def first_paint(path: Path, *, serve_cdn: bool, repeats: int
                ) -> tuple[float, int, float, float | None, str]:
    """Median ms from navigation start to two frames after ``load``; requests not served; FCP;
    for our pages, ms to zoom from the opening view to full resolution (the cells are built on
    first use) and the display resolution the page opens with."""
    from playwright.sync_api import Route, sync_playwright

    times: list[float] = []
    fcps: list[float] = []
    zooms: list[float] = []
    opens = "n/a"
    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for _ in range(repeats):
                page = browser.new_page(viewport={"width": 1400, "height": 900})

                def route(r: Route) -> None:
                    url = r.request.url
                    if url.startswith(("file://", "data:", "blob:")):
                        r.continue_()
                        return
                    body = _local_cdn(url) if serve_cdn else None
                    if serve_cdn and url.startswith("https://"):
                        ctype = "text/css" if url.endswith(".css") else "application/javascript"
                        r.fulfill(status=200, body=body or b"", content_type=ctype)
                        return
                    blocked.append(url)
                    r.abort()

                page.route("**/*", route)
                page.goto(path.as_uri(), wait_until="load", timeout=600_000)
                ms = page.evaluate(
                    "new Promise(r => requestAnimationFrame("
                    "() => requestAnimationFrame(() => r(performance.now()))))"
                )
                fcp = page.evaluate(
                    "new Promise(r => { new PerformanceObserver(l => {"
                    " for (const e of l.getEntries())"
                    " { if (e.name === 'first-contentful-paint') r(e.startTime); } })"
                    ".observe({type: 'paint', buffered: true}); setTimeout(() => r(NaN), 3000); })"
                )
                times.append(float(ms))
                fcps.append(float(fcp))
                if not serve_cdn:  # ours: open at country zoom, then zoom in to the cells
                    opens = str(page.evaluate("geoRisk.tiers.activeRes()"))
                    zooms.append(float(page.evaluate(
                        "(() => { const t = performance.now(); const m = geoRisk.map;"
                        " m.setView(m.getCenter(), 12, {animate: false});"
                        " return performance.now() - t; })()")))
                page.close()
        finally:
            browser.close()
    zoom = statistics.median(zooms) if zooms else None
    return statistics.median(times), len(blocked), statistics.median(fcps), zoom, opens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cells-scale", type=float, default=1.0, help="area factor (1.0 = ~120k cells)"
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive folium map")
    parser.add_argument("--repeats", type=int, default=3, help="browser runs for our map (median)")
    parser.add_argument("--out", type=Path, default=None, help="keep the pages in this folder")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_map_"))
    out.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    b, cells, owner = synthetic_country(args.cells_scale)
    grid, hist, restrictions, bases = synthetic_grid(b, cells, owner)
    n_active = int((grid["risk"] > 0.009).sum())
    print(
        f"grid: {len(grid):,} res-{RES} cells, {len(b)} admin units, {n_active:,} active cells "
        f"(built in {time.perf_counter() - t:.1f} s); pages in {out}"
    )
    meta = MapMeta(
        title="Benchmark country, weekly risk",
        week=WEEK,
        synthetic=True,
        h3_resolution=RES,
        sources=("synthetic",),
        notes=("engagement suppressed below k=5",),
    )
    kwargs: dict[str, Any] = {
        "grid": grid,
        "boundaries": b,
        "meta": meta,
        "restrictions": restrictions,
        "bases": bases,
    }

    # Worst case for grouping: every cell its own continuous probability (no shared values).
    noisy = grid[["cell", "admin_pcode", "admin_name"]].assign(
        risk=np.random.default_rng(3).uniform(0, 0.6, len(grid))
    )
    variants: tuple[tuple[str, str, dict[str, Any]], ...] = (
        ("ours", "map.html", {}),
        ("ours + 4 weeks history", "map_history.html", {"history": hist}),
        ("ours, worst case (all cells differ)", "map_worst.html", {"grid": noisy}),
    )
    rows: list[tuple[str, Path, float, bool]] = []
    for label, name, extra in variants:
        path = out / name
        t = time.perf_counter()
        write_map(path, **{**kwargs, **extra})
        rows.append((label, path, time.perf_counter() - t, False))
    if not args.no_naive:
        path = out / "naive_folium.html"
        t = time.perf_counter()
        naive_map(grid, b, path)
        rows.append(("naive folium (GeoJson per hex)", path, time.perf_counter() - t, True))

    have_browser = shutil.which(str(CHROMIUM)) is not None
    results: dict[str, tuple[int, float, float | None]] = {}
    heads = (
        ("bytes", 13),
        ("B/cell", 7),
        ("render s", 9),
        ("paint ms", 9),
        ("FCP ms", 8),
        ("blocked", 7),
        ("zoom-in ms", 10),
        ("opens", 6),
    )
    print(f"\n{'map':36s} " + " ".join(f"{h:>{w}s}" for h, w in heads))
    for label, path, secs, naive in rows:
        size = path.stat().st_size
        paint = fcp = zoom = None
        blocked = 0
        opens = "n/a"
        if have_browser:
            paint, blocked, fcp, zoom, opens = first_paint(
                path, serve_cdn=naive, repeats=1 if naive else args.repeats
            )
        results[label] = (size, secs, paint)
        paint_s = f"{paint:9.0f}" if paint is not None else "      n/a"
        fcp_s = f"{fcp:8.0f}" if fcp is not None else "     n/a"
        per_cell = size / len(grid)
        zoom_s = f"{zoom:10.0f}" if zoom is not None else "       n/a"
        print(f"{label:36s} {size:13,d} {per_cell:7.1f} {secs:9.2f} {paint_s} {fcp_s} {blocked:7d}"
              f" {zoom_s} {'res ' + opens if opens not in ('n/a', 'None') else 'cells':>6s}")
    if not have_browser:
        print("(no chromium on PATH: first paint not measured)")
    naive_key = "naive folium (GeoJson per hex)"
    if naive_key in results:
        nb, ns, npaint = results[naive_key]
        ob, os_, opaint = results["ours"]
        print(
            f"\nnaive / ours: bytes x{nb / ob:.1f}, render time x{ns / os_:.1f}"
            + (f", first paint x{npaint / opaint:.1f}" if npaint and opaint else "")
        )


if __name__ == "__main__":
    main()
