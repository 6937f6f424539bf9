"""The weekly run on the dask engine, as ``geo-risk run --engine dask`` calls it."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import RunConfig
from ..pipeline import Inputs, WeeklyResult, run_week
from .driver import dask_client, forecast_dask

#: Folder of the partitioned GeoParquet (one file per partition) inside the run's folder.
PARTS_FOLDER = "risk_cells"


def staging_folder(out_dir: Path) -> Path:
    """Where the workers write their partitions before the run's outputs are swapped in."""
    return out_dir.parent / f".{out_dir.name}.{PARTS_FOLDER}"


def run_week_dask(config: RunConfig, *, inputs: Inputs, out_dir: Path,
                  week: str | pd.Timestamp | None = None, scheduler: str | None = None,
                  workers: int = 2, partitions: int | None = None, processes: bool = True,
                  progress: bool = False, client: Any = None) -> WeeklyResult:
    """:func:`geo_risk.pipeline.run_week` with the forecast on a dask cluster.

    Every partition also writes its cells' scores to the staging folder of ``out_dir``
    (:func:`staging_folder`); :func:`place_parts` moves them into the finished run.

    Parameters
    ----------
    config : RunConfig
        The run configuration.
    inputs : Inputs
        Loaded inputs (read, validated and placed on this machine).
    out_dir : Path
        The run's output folder (the workers must be able to write beside it).
    week : str or Timestamp, optional
        Any day of the forecast week.
    scheduler : str, optional
        Address of a dask scheduler; default a local cluster of ``workers`` workers.
    workers : int
        Workers of the local cluster.
    partitions : int, optional
        Grid partitions (default: see :func:`geo_risk.engine.forecast_dask`).
    processes : bool
        Local workers as processes (True) or threads.
    progress : bool
        Show progress.
    client : distributed.Client, optional
        A client already open (e.g. the one the inputs were placed with); then ``scheduler``,
        ``workers`` and ``processes`` are not used.

    Returns
    -------
    WeeklyResult
    """
    if client is None:
        with dask_client(scheduler=scheduler, workers=workers, processes=processes) as own:
            return run_week_dask(config, inputs=inputs, out_dir=out_dir, week=week,
                                 partitions=partitions, progress=progress, client=own)
    stage = staging_folder(Path(out_dir))
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    forecaster: Any = partial(forecast_dask, client=client, n_parts=partitions,
                              parts_dir=str(stage.resolve()))
    return run_week(config, week=week, inputs=inputs, progress=progress, forecaster=forecaster)


def place_parts(out_dir: Path) -> Path:
    """Move the partitions written by :func:`run_week_dask` into the finished run folder."""
    target = Path(out_dir) / PARTS_FOLDER
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(str(staging_folder(Path(out_dir))), str(target))
    return target
