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

PACKAGES = ("geopandas", "shapely", "pandas", "numpy", "pyogrio", "pyarrow", "rasterio", "h3",
            "h3ronpy", "scikit-learn", "folium", "django-js-lib-leaflet")

#: Grid columns written to risk_grid.parquet (shareable: aggregated, suppressed engagement).
GRID_COLUMNS = ["cell", "admin_pcode", "admin_name", "risk", "risk_prev", "risk_change",
                "risk_band", "incidents_4w", "incidents_52w", "fatalities_4w", "population",
                "area_km2", "engagements_12w", "engagement_status", "restricted",
                "restricted_weeks", "geometry"]


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
            "expected_incidents": float(result.grid["risk"].sum()),
        },
        "boundaries": {"path": str(config.boundaries.path), "units": int(len(inputs.admin))},
        "packages": package_versions(),
        "outputs": outputs,
    }


def write_outputs(result: WeeklyResult, config: RunConfig, out_dir: str | Path, *,
                  render_map: bool = True) -> dict[str, Path]:
    """Write risk_grid.parquet, admin_matrix.csv, rejects.csv, map.html and run.json.

    Returns the paths written, by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    grid = result.grid[GRID_COLUMNS].copy()
    grid["cell"] = _cell_strings(result.grid["cell"].to_numpy())
    paths["risk_grid"] = out / "risk_grid.parquet"
    grid.to_parquet(paths["risk_grid"], index=False)

    paths["admin_matrix"] = out / "admin_matrix.csv"
    result.matrix.to_csv(paths["admin_matrix"], index=False)

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

    paths["run"] = out / "run.json"
    record = run_record(result, config, {k: p.name for k, p in paths.items()})
    paths["run"].write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return paths


__all__ = ["package_versions", "run_record", "write_outputs"]
