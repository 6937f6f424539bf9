"""``geo-risk backtest --engine dask``: the rolling-origin backtest on partitions.

Same weeks, refits, training rows and metrics as :func:`geo_risk.backtest.run_backtest`
(the report is equal but for ``wall_time_s`` and ``engine``): the partitions count their
rows once, the driver replays the training draws of every refit
(:func:`geo_risk.engine.plan.plan_backtest`), then the partitions stream the weeks once,
keeping only the requested training rows and scoring each forecast week with the models of
the last refit; between refits the driver gathers the kept rows of the refit's window and
trains one set of models.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ..backtest import MODEL_NAMES, _clean, _notes, _unit_backtest, model_results
from ..config import RunConfig
from ..errors import GeoRiskError
from ..features import Context, week_of, week_start
from ..forecast import WARMUP_WEEKS, fit_models
from ..metrics import StreamingMetrics
from ..pipeline import Inputs, build_grid, load_inputs
from .driver import CELLS_PER_PARTITION, _assemble, _gather_rows, _requests, _Run, _shared
from .partition import BacktestPartition, Weeks
from .plan import Counts, plan_backtest


def run_backtest_dask(config: RunConfig, *, start: str | pd.Timestamp, end: str | pd.Timestamp,
                      client: Any, inputs: Inputs | None = None,
                      models: Sequence[str] = MODEL_NAMES, refit_every: int = 4,
                      n_parts: int | None = None) -> dict[str, Any]:
    """:func:`geo_risk.backtest.run_backtest` on a dask ``client`` (same report).

    Parameters
    ----------
    config : RunConfig
        The run configuration.
    start, end : str or Timestamp
        First and last forecast week (any day in them).
    client : distributed.Client
        The dask client (see :func:`geo_risk.engine.dask_client`).
    inputs : Inputs, optional
        Loaded inputs.
    models : sequence of str
        Models to compare.
    refit_every : int
        Refit the models every N weeks.
    n_parts : int, optional
        Grid partitions (default as :func:`geo_risk.engine.forecast_dask`).

    Returns
    -------
    dict
        The report written to ``backtest.json``.
    """
    t0 = time.perf_counter()
    inputs = inputs if inputs is not None else load_inputs(config)
    first, last = week_of(start), week_of(end)
    if last < first:
        raise GeoRiskError(f"--end ({end}) is before --start ({start}).")
    grid = build_grid(config, inputs)
    mc = config.model
    shared = _shared(grid, incidents=inputs.incidents, consultations=inputs.consultations,
                     restrictions=inputs.restrictions, bases=inputs.bases,
                     week=week_start(last + 1), config=mc,
                     admin_names=inputs.admin.set_index("admin_pcode")["admin_name"])
    ev = shared.events
    if len(ev.week) == 0:
        raise GeoRiskError("no incident with a usable location before the end week.")
    data_first = int(ev.week.min())
    if first - data_first < 8:
        raise GeoRiskError(f"--start {start} leaves less than 8 weeks of history before it; "
                           f"the data start in the week of {week_start(data_first).date()}.")
    w = Weeks(start=max(data_first, first - mc.training_weeks - WARMUP_WEEKS),
              first_needed=first - mc.training_weeks, t=last, n_val=first, n_hist=0)
    shared = replace(shared, weeks=w)
    g = shared.grid
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    from .driver import partition_bounds

    bounds = partition_bounds(g.cells, n_parts=n_parts or max(
        2 * n_workers, -(-len(g) // CELLS_PER_PARTITION)))
    run = _Run(client, shared, bounds, cls=BacktestPartition)
    outs = run.stage("count")
    counts = Counts(active=np.stack([o["counts"][0] for o in outs]),
                    positive=np.stack([o["counts"][1] for o in outs]),
                    rest=np.stack([o["counts"][2] for o in outs]),
                    pos_active=[o["pos_active"] for o in outs])
    unit_sums = np.sum([o["unit_partials"] for o in outs], axis=0)
    refits = plan_backtest(counts, weeks=w, training_weeks=mc.training_weeks,
                           inactive_sample=mc.inactive_sample, max_rows=mc.max_rows,
                           seed=mc.seed, refit_every=refit_every)
    run.stage("restart", [{"requests": r} for r in _requests(list(refits.values()),
                                                             len(bounds))],
              unit_sums=unit_sums)
    names = run.client.submit(lambda p: p.names, run.parts[0]).result()
    overall = {m: StreamingMetrics() for m in models}
    onset = {m: StreamingMetrics() for m in models}
    units = _unit_backtest(SimpleNamespace(grid=g, context=Context(
        admin_codes=shared.admin_codes, admin_events=shared.admin_events,
        admin_pairs=shared.admin_pairs)), first=first, last=last) if "model" in models else None
    order = sorted(refits)
    run.stage("stream", last=order[0] - 1, candidates=None)
    for i, r in enumerate(order):
        rows = _gather_rows([run.stage("take", weeks=(r - mc.training_weeks, r - 1),
                                       drop_before=r - mc.training_weeks)])
        train = _assemble(refits[r], rows, names)
        fitted = fit_models(models, train, mc)
        seg_last = order[i + 1] - 1 if i + 1 < len(order) else last
        scores = run.stage("stream", last=seg_last,
                           candidates=client.scatter(fitted, broadcast=True))
        for wk in range(r, seg_last + 1):
            y = np.concatenate([s[wk][1] for s in scores])
            is_onset = np.concatenate([s[wk][2] for s in scores])
            for m in fitted:
                p = np.concatenate([s[wk][0][m] for s in scores])
                overall[m].update(y_true=y, prob=p, area=g.area_km2)
                onset[m].update(y_true=y, prob=p, area=g.area_km2, mask=is_onset)
                if m == "model" and units is not None:
                    units.update(week=wk, cell_prob=p, refit=(wk - first) % refit_every == 0)
    return _report(config, overall=overall, onset=onset, units=units, first=first, last=last,
                   cells=len(g), refit_every=refit_every, t0=time.perf_counter() - t0,
                   partitions=len(bounds))


def _report(config: RunConfig, *, overall: dict[str, StreamingMetrics],
            onset: dict[str, StreamingMetrics], units: Any, first: int, last: int, cells: int,
            refit_every: int, t0: float, partitions: int) -> dict[str, Any]:
    """The report of :func:`geo_risk.backtest.run_backtest`, built the same way."""
    results = model_results(overall, onset)
    return dict(_clean({
        "title": config.title, "synthetic": config.synthetic,
        "start": str(week_start(first).date()), "end": str(week_start(last).date()),
        "weeks": last - first + 1, "h3_resolution": config.h3_resolution, "cells": cells,
        "chosen": "model", "models": results, "refit_every_weeks": refit_every,
        "training_weeks": config.model.training_weeks,
        "notes": _notes(results, refit_every=refit_every),
        "units": units.result() if units is not None else None,
        "wall_time_s": round(t0, 2), "engine": {"name": "dask", "partitions": partitions}}))
