"""Writing one weekly run to a folder: grid, matrix, rejects, map and the run record."""

from __future__ import annotations

import datetime as dt
import json
import platform
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .config import RunConfig
from .pipeline import WeeklyResult
from .schemas import MODALITIES

PACKAGES = ("geopandas", "shapely", "pandas", "numpy", "pyogrio", "pyarrow", "rasterio", "h3",
            "h3ronpy", "scikit-learn", "folium", "django-js-lib-leaflet")

#: Grid columns written to risk_grid.parquet (shareable: aggregated, suppressed engagement).
GRID_COLUMNS = ["cell", "admin_pcode", "admin_name", "risk", "risk_low", "risk_high",
                "risk_prev", "risk_change", "risk_band", "trend", "onset", "drivers",
                "incidents_4w", "incidents_52w", "fatalities_4w", "population",
                "area_km2", "engagements_12w", "engagement_status", "restricted",
                "restricted_weeks", "geometry"]
#: Engagement-gap, access and reprisal columns (geo_risk.engagement) added to the grid file.
ENGAGEMENT_GRID_COLUMNS = [
    "coverage_status", "coverage_engagements",
    *(f"coverage_{m}" for m in MODALITIES),
    "coverage_reached_per_1000", "coverage_women_share", "coverage_youth_share",
    "coverage_weeks_since", "coverage_teams", "under_engaged", "under_engaged_score",
    "under_engaged_reason",
    "access_status", "nearest_base", "nearest_base_km", "reprisal_exposure"]


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "geo-risk": __version__}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _cell_strings(cells: np.ndarray) -> np.ndarray:
    # One formatting call per output cell; h3 strings are the id people and other tools use.
    return np.char.mod("%x", np.asarray(cells, dtype=np.uint64))


def run_record(result: WeeklyResult, config: RunConfig, outputs: dict[str, str]
               ) -> dict[str, Any]:
    inputs = result.inputs
    reports = [asdict(r) for r in inputs.reports]
    return {
        "tool": "geo-risk",
        "version": __version__,
        "synthetic": config.synthetic,
        "title": config.title,
        "week": str(result.week.date()),
        "week_end": str((result.week + pd.Timedelta(days=6)).date()),
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "config": str(config.config_path) if config.config_path else None,
        "parameters": result.parameters,
        "inputs": reports,
        "rows": {
            "read": sum(r.rows_read for r in inputs.reports),
            "accepted": sum(r.rows_accepted for r in inputs.reports),
            "rejected": sum(r.rows_rejected for r in inputs.reports),
        },
        "warnings": list(inputs.warnings),
        "model": result.model,
        "grid": {
            "cells": int(len(result.grid)),
            "h3_resolution": config.h3_resolution,
            "mean_risk": float(result.grid["risk"].mean()),
            "expected_incident_cells": float(result.grid["risk"].sum()),
        },
        "boundaries": {"path": str(config.boundaries.path), "units": int(len(inputs.admin))},
        "packages": package_versions(),
        "outputs": outputs,
    }


def write_outputs(result: WeeklyResult, config: RunConfig, out_dir: str | Path, *,
                  render_map: bool = True) -> dict[str, Path]:
    """Write risk_grid.parquet, admin_matrix.csv/.html, priorities.csv, actors.csv,
    base_reach.csv, rejects.csv, map.html, map.png, brief.html and run.json.

    Returns the paths written, by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    extra = [c for c in ENGAGEMENT_GRID_COLUMNS if c in result.grid.columns]
    base = [c for c in GRID_COLUMNS[:-1] if c in result.grid.columns]
    grid = result.grid[[*base, *extra, "geometry"]].copy()
    grid["cell"] = _cell_strings(result.grid["cell"].to_numpy())
    paths["risk_grid"] = out / "risk_grid.parquet"
    grid.to_parquet(paths["risk_grid"], index=False)

    paths["admin_matrix"] = out / "admin_matrix.csv"
    result.matrix.to_csv(paths["admin_matrix"], index=False)
    paths.update(_write_engagement_tables(result, config, out))

    paths["rejects"] = out / "rejects.csv"
    result.inputs.rejects.sort_values(["file", "row"]).to_csv(paths["rejects"], index=False)

    if render_map:
        from .render import MapMeta, write_map

        meta = MapMeta(
            title=config.title,
            week=result.week.date(),
            synthetic=config.synthetic,
            h3_resolution=config.h3_resolution,
            sources=tuple(f"{r.name} ({r.kind}, newest {r.newest_date})"
                          for r in result.inputs.reports),
            freshness=tuple((r.name, r.newest_date or "", r.stale)
                            for r in result.inputs.reports if r.kind != "bases"),
            notes=(f"Engagement counts below {config.min_count} are suppressed.",),
        )
        paths["map"] = write_map(out / "map.html", grid=result.grid.drop(columns="geometry"),
                                 boundaries=result.inputs.admin.assign(
                                     level=result.inputs.admin["admin_pcode"].map(
                                         result.matrix.set_index("admin_pcode")["level"])),
                                 meta=meta, restrictions=result.restrictions_in_force,
                                 bases=result.inputs.bases, history=result.history)

        # Weekly brief (brief.html, embeds the map) and a static map.png for documents.
        from .render.brief import write_brief_outputs

        paths.update(write_brief_outputs(result, config, out,
                                         map_html=paths["map"].read_text(encoding="utf-8")))

    paths["run"] = out / "run.json"
    record = run_record(result, config, {k: p.name for k, p in paths.items()})
    paths["run"].write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return paths


def _write_engagement_tables(result: WeeklyResult, config: RunConfig, out: Path
                             ) -> dict[str, Path]:
    """priorities.csv, actors.csv, base_reach.csv and admin_matrix.html (all shareable)."""
    from .engagement import matrix_html

    paths: dict[str, Path] = {}
    for name, frame in (("priorities", result.priorities), ("actors", result.actors),
                        ("base_reach", result.base_reach)):
        if frame is not None:
            paths[name] = out / f"{name}.csv"
            frame.to_csv(paths[name], index=False)
    paths["admin_matrix_html"] = out / "admin_matrix.html"
    notes = (f"Engagement is shown only for units with at least {config.min_count} engagements "
             f"and {config.min_count} participants in the last {config.engagement_weeks} "
             "weeks; below that it is 'suppressed'. Reprisal-sensitive units are 'withheld'.",
             "Likelihood: probability of at least one incident in the unit next week. Impact: "
             "the larger of the exposed-population and civilian-targeting scores.")
    paths["admin_matrix_html"].write_text(
        matrix_html(matrix=result.matrix, title=config.title, week=str(result.week.date()),
                    synthetic=config.synthetic, notes=notes), encoding="utf-8")
    return paths


__all__ = ["ENGAGEMENT_GRID_COLUMNS", "package_versions", "run_record", "write_outputs"]
