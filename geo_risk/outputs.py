"""Writing one weekly run to a folder: grid, matrix, rejects, map and the run record."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from . import __version__
from .config import RunConfig
from .gis import write_gis
from .index import cell_strings
from .manifest import input_files, package_versions, seeds
from .outdir import RUN_RECORD, staged_output
from .pipeline import WeeklyResult
from .readers.tabular import file_sha256
from .runtime import gc_frozen
from .schemas import MODALITIES
from .validation import served_summary

if TYPE_CHECKING:
    from .render.png_worker import PngRenderer

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


def run_record(result: WeeklyResult, config: RunConfig, outputs: dict[str, str], *,
               output_sha256: dict[str, str] | None = None) -> dict[str, Any]:
    """The run.json record: week, parameters, every input file with its sha256, row
    accounting, warnings, model, seeds, package versions and the outputs with their sha256.

    Parameters
    ----------
    result : WeeklyResult
        The scored week.
    config : RunConfig
        The run's configuration.
    outputs : dict of str to str
        Output name to file name.
    output_sha256 : dict of str to str, optional
        File name to sha256 of every output written before run.json.

    Returns
    -------
    dict
        JSON-serialisable record.
    """
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
        "input_files": input_files(config),
        "rows": {
            "read": sum(r.rows_read for r in inputs.reports),
            "accepted": sum(r.rows_accepted for r in inputs.reports),
            "rejected": sum(r.rows_rejected for r in inputs.reports),
            "outside_area": sum(r.rows_outside for r in inputs.reports),  # part of rejected
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
        "seeds": seeds(config),
        "packages": package_versions(),
        "outputs": outputs,
        "output_sha256": output_sha256 or {},
    }


def write_outputs(result: WeeklyResult, config: RunConfig, out_dir: str | Path, *,
                  render_map: bool = True, keep: Sequence[str] = (), wait_s: float = 0.0,
                  png: PngRenderer | None = None) -> dict[str, Path]:
    """Write one run's files into ``out_dir``, all at once.

    Everything (risk_grid.parquet, admin_matrix.csv/.html, priorities.csv, actors.csv,
    base_reach.csv, rejects.csv, risk.gpkg with its .qml styles, map.html, map.png,
    brief.html, then run.json) is written into a staging folder beside ``out_dir`` and swapped
    in only when complete (:func:`geo_risk.outdir.staged_output`); the run that was there is
    kept as ``out_dir.previous``. A second run on the same folder stops with a clear message.

    Parameters
    ----------
    result : WeeklyResult
        The scored week.
    config : RunConfig
        The run's configuration (inputs are hashed into run.json).
    out_dir : str or Path
        The output folder.
    render_map : bool
        Also write map.html, brief.html and map.png.
    keep : sequence of str
        Entries of an existing ``out_dir`` that are inputs and move into the new run.
    wait_s : float
        Seconds to wait for another run writing the same folder.
    png : geo_risk.render.png_worker.PngRenderer, optional
        Draw map.png in this (already entered) worker process while the other files are
        written; default: drawn in this process. The files are the same either way.

    Returns
    -------
    dict of str to Path
        The files written (their final paths in ``out_dir``), by name.
    """
    target = Path(out_dir)
    with gc_frozen(), staged_output(target, keep=keep, wait_s=wait_s) as out:
        paths = _write_files(result, config, out, render_map=render_map, png=png)
        paths["run"] = out / RUN_RECORD
        record = run_record(result, config, {k: p.name for k, p in paths.items()},
                            output_sha256={p.name: file_sha256(p) for p in paths.values()
                                           if p.is_file()})
        paths["run"].write_text(json.dumps(record, indent=2, default=str) + "\n",
                                encoding="utf-8")
    return {k: target / p.relative_to(out) for k, p in paths.items()}


def _write_files(result: WeeklyResult, config: RunConfig, out: Path, *, render_map: bool,
                 png: PngRenderer | None = None) -> dict[str, Path]:
    """Every output but run.json, into ``out``.

    map.png is started first: with a :class:`~geo_risk.render.png_worker.PngRenderer` it is
    drawn in that worker process while this one writes the tables and map.html. The tables
    themselves stay in this thread: written in a second thread while this one drew the maps
    they gave no clear wall-time gain on 2 cores (little of this work runs outside the GIL).
    """
    if not render_map:
        return _write_tables(result, config, out)
    from .render.brief import png_arguments
    from .render.png_worker import draw_later

    units, bases = _map_layers(result, config)
    # The brief draws map.png from result.inputs: give it the same units (level, engagement,
    # priority, top changes) and bases (reach) as map.html.
    for_maps = replace(result, inputs=replace(result.inputs, admin=units, bases=bases))
    map_png = draw_later(png, png_arguments(for_maps, config))
    paths = _write_tables(result, config, out)
    return paths | _write_maps(for_maps, config, out, map_png=map_png)


def _write_tables(result: WeeklyResult, config: RunConfig, out: Path) -> dict[str, Path]:
    """risk_grid.parquet, admin_matrix.csv, risk.gpkg with its styles, the engagement tables
    and rejects.csv."""
    paths: dict[str, Path] = {}
    extra = [c for c in ENGAGEMENT_GRID_COLUMNS if c in result.grid.columns]
    extra += [c for c in result.grid.columns if c.startswith("perception_")]  # per measure
    base = [c for c in GRID_COLUMNS[:-1] if c in result.grid.columns]
    grid = result.grid[[*base, *extra, "geometry"]].copy()
    grid["cell"] = cell_strings(result.grid["cell"].to_numpy())
    paths["risk_grid"] = out / "risk_grid.parquet"
    grid.to_parquet(paths["risk_grid"], index=False)

    paths["admin_matrix"] = out / "admin_matrix.csv"
    result.matrix.to_csv(paths["admin_matrix"], index=False)
    paths.update(write_gis(out=out, grid=grid, matrix=result.matrix, admin=result.inputs.admin,
                           restrictions=result.restrictions_in_force, week=result.week))
    paths.update(_write_engagement_tables(result, config, out))

    paths["rejects"] = out / "rejects.csv"
    result.inputs.rejects.sort_values(["file", "row"]).to_csv(paths["rejects"], index=False)
    return paths


def _write_maps(result: WeeklyResult, config: RunConfig, out: Path, *,
                map_png: Callable[[], bytes]) -> dict[str, Path]:
    """map.html, then map.png and brief.html (which embeds both). ``result.inputs`` holds
    the map layers (:func:`_map_layers`)."""
    from .render import MapMeta, write_map

    paths: dict[str, Path] = {}
    served = served_summary(result.model)
    meta = MapMeta(
        title=config.title,
        week=result.week.date(),
        synthetic=config.synthetic,
        h3_resolution=config.h3_resolution,
        sources=tuple(f"{r.name} ({r.kind}, newest {r.newest_date})"
                      for r in result.inputs.reports),
        freshness=tuple((r.name, r.newest_date or "", r.stale)
                        for r in result.inputs.reports if r.kind != "bases"),
        notes=((served,) if served else ())
        + (f"Engagement counts below {config.min_count} are suppressed.",),
    )
    network = config.network is not None
    paths["map"] = write_map(out / "map.html", grid=result.grid.drop(columns="geometry"),
                             boundaries=result.inputs.admin, meta=meta,
                             restrictions=result.restrictions_in_force,
                             bases=result.inputs.bases, history=result.history,
                             base_reach_km=config.base_reach_km, network_reach=network,
                             classes=config.map_classes)

    # Weekly brief (brief.html, embeds the map) and the static map.png for documents.
    from .render.brief import write_brief_outputs

    paths.update(write_brief_outputs(result, config, out, map_png=map_png,
                                     map_html=paths["map"].read_text(encoding="utf-8")))
    return paths


def _map_layers(result: WeeklyResult, config: RunConfig
                ) -> tuple[gpd.GeoDataFrame, pd.DataFrame | None]:
    """The admin units with their matrix columns and the bases with their reach, for both maps.

    Each open base's reach is its row of base_reach.csv (else ``base_reach_km``); with a
    [network] no circle is drawn (reach is the outline of the reachable cells instead).
    """
    from .render.layers import unit_layers

    units = unit_layers(boundaries=result.inputs.admin, matrix=result.matrix)
    bases = result.inputs.bases
    if bases is None or config.network is not None:
        return units, bases
    reach = pd.Series(config.base_reach_km, index=bases.index, dtype="float64")
    if result.base_reach is not None and "reach_km" in result.base_reach.columns:
        own = result.base_reach.drop_duplicates("base_name").set_index("base_name")["reach_km"]
        reach = bases["base_name"].map(own).astype("float64").fillna(config.base_reach_km)
    return units, bases.assign(reach_km=reach.to_numpy())


def _write_engagement_tables(result: WeeklyResult, config: RunConfig, out: Path
                             ) -> dict[str, Path]:
    """priorities.csv, actors.csv, base_reach.csv, alert_response.csv, gender_bases.csv and
    admin_matrix.html (all shareable)."""
    from .engagement import matrix_html

    paths: dict[str, Path] = {}
    outreach = getattr(result, "outreach", None)
    for name, frame in (("priorities", result.priorities), ("actors", result.actors),
                        ("base_reach", result.base_reach),
                        ("alert_response", outreach.alert_response if outreach else None),
                        ("gender_bases", outreach.gender_bases if outreach else None)):
        if frame is not None:
            paths[name] = out / f"{name}.csv"
            frame.to_csv(paths[name], index=False)
    if result.voice is not None:  # perceptions, topics, benchmarks: unit x week x indicator
        paths["engagement_trends"] = out / "engagement_trends.parquet"
        result.voice.trends.to_parquet(paths["engagement_trends"], index=False)
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
