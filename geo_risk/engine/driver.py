"""The dask engine's driver: partition the grid, run the stages on the workers, train one
model on the rows gathered from every partition, assemble the :class:`Forecast`.

The driver holds only what is per cell (risk, facts) or per unit, never the feature
matrices of the training weeks: those stay in the partitions (see
:mod:`geo_risk.engine.partition`), which return only the training rows that the replayed
sampling keeps (:mod:`geo_risk.engine.plan`).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import geopandas as gpd
import h3ronpy
import numpy as np
import pandas as pd
import pyarrow as pa

from ..config import ModelConfig
from ..dataset import base_distance_km, make_context, make_streams
from ..errors import GeoRiskError
from ..features import CellGrid, TrainingSet, week_of, week_start
from ..forecast import (
    DRIVER_MAX_CELLS,
    DRIVER_MIN_RISK,
    Forecast,
    Plan,
    channels_for,
    fit_model,
    serve_checked,
)
from ..unit_forecast import forecast_units, unit_population
from ..validation import Validation, summarise
from .partition import Partition, Shared, Weeks
from .plan import Counts, RowPlan, plan_training

#: Grid cells per partition aimed at when the number of partitions is not given.
CELLS_PER_PARTITION = 100_000


class EngineError(GeoRiskError):
    """The dask engine could not start or reach its scheduler."""


@contextmanager
def dask_client(*, scheduler: str | None = None, workers: int = 2,
                processes: bool = True) -> Iterator[Any]:
    """A dask client: on ``scheduler`` when given, else on a local cluster of ``workers``
    single-threaded workers (the same command runs on a laptop and on a cluster).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``).
    workers : int
        Workers of the local cluster.
    processes : bool
        Local workers as processes (True) or threads of this process.

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise EngineError(f"cannot reach the dask scheduler at {scheduler!r} ({exc}); "
                              "check the address, or leave --scheduler out to run a local "
                              "cluster") from None
        with client:
            yield client
        return
    if workers < 1:
        raise EngineError("--workers must be at least 1")
    # the scheduler always serves HTTP (status, health): on this machine only, a free port
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        yield client


def partition_bounds(cells: np.ndarray, *, n_parts: int, parent_res: int | None = None
                     ) -> list[tuple[int, int]]:
    """Contiguous ranges of the sorted grid, cut only where the coarse H3 parent changes.

    Children of an H3 cell are contiguous in sorted id order, so each range is a set of whole
    parent cells. ``parent_res`` defaults to 3 levels coarser than the grid (at least 0).

    Parameters
    ----------
    cells : numpy.ndarray
        The grid's cells (uint64, sorted).
    n_parts : int
        Partitions aimed at (fewer when there are fewer parent cells).
    parent_res : int, optional
        Resolution of the parent cells.

    Returns
    -------
    list of (int, int)
        ``(lo, hi)`` position ranges covering the grid.
    """
    n = len(cells)
    if n == 0:
        return []
    res = int(np.asarray(h3ronpy.cells_resolution(pa.array(cells[:1])))[0])
    parent_res = max(0, res - 3) if parent_res is None else min(parent_res, res)
    parents = np.asarray(h3ronpy.change_resolution(pa.array(cells), parent_res)).astype(
        np.uint64)
    starts = np.flatnonzero(np.r_[True, parents[1:] != parents[:-1]])
    targets = np.arange(1, max(1, n_parts)) * n / max(1, n_parts)
    cuts = np.unique(starts[np.clip(np.searchsorted(starts, targets), 0, len(starts) - 1)])
    edges = np.unique(np.r_[0, cuts[cuts > 0], n])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _weeks(events_week: np.ndarray, t: int, config: ModelConfig) -> Weeks:
    """The weeks :func:`geo_risk.forecast.forecast` streams from scratch (its :class:`Plan`)."""
    plan = Plan.of(config, week=t, first_data=int(events_week.min()) if len(events_week)
                   else None)
    return Weeks(start=plan.start, first_needed=plan.first_train, t=plan.week,
                 n_val=0, n_hist=plan.history, train=plan.train)


class _Run:
    """The partitions of one forecast on a client, stage by stage."""

    def __init__(self, client: Any, shared: Shared, bounds: list[tuple[int, int]], *,
                 cls: type[Partition] = Partition) -> None:
        self.client = client
        self.bounds = bounds
        shared_f = client.scatter(shared, broadcast=True)
        self.parts = [client.submit(cls, shared_f, lo=lo, hi=hi, index=i, pure=False)
                      for i, (lo, hi) in enumerate(bounds)]

    def stage(self, method: str, per_part: list[dict[str, Any]] | None = None,
              **kwargs: Any) -> list[Any]:
        """Run ``Partition.method`` on every partition; gather their ``out``."""
        self.parts = [self.client.submit(_call, p, method, {**kwargs, **(per_part[i] if
                                                                          per_part else {})},
                                         pure=False)
                      for i, p in enumerate(self.parts)]
        outs = [self.client.submit(operator.attrgetter("out"), p, pure=False)
                for p in self.parts]
        return list(self.client.gather(outs))


def _call(part: Partition, method: str, kwargs: dict[str, Any]) -> Partition:
    t0 = time.perf_counter()
    result: Partition = getattr(part, method)(**kwargs)
    result.seconds[method] = result.seconds.get(method, 0.0) + time.perf_counter() - t0
    return result


def _costs(part: Partition) -> dict[str, Any]:
    return {"seconds": part.seconds, "cells": len(part.core), "halo": part.n_halo}


def _shared(grid: CellGrid, *, incidents: pd.DataFrame, consultations: pd.DataFrame | None,
            restrictions: gpd.GeoDataFrame | None, bases: pd.DataFrame | None,
            week: pd.Timestamp, config: ModelConfig, admin_names: pd.Series) -> Shared:
    """What :func:`geo_risk.forecast.prepare` builds, for the whole grid, minus the state."""
    grid = replace(grid, base_distance_km=base_distance_km(grid, bases, week))
    events = make_streams(grid, incidents=incidents, consultations=consultations,
                          week_limit=week)
    on_grid = incidents.loc[incidents["cell"] > 0, "date"]
    ctx = make_context(grid, restrictions=None,
                       data_start=on_grid.min() if len(on_grid) else None,
                       incidents=incidents, week_limit=week)
    n_admin = int(ctx.admin_codes.max()) + 1 if len(ctx.admin_codes) else 0
    return Shared(grid=grid, events=events, admin_codes=ctx.admin_codes,
                  admin_cells=np.bincount(ctx.admin_codes, minlength=n_admin),
                  admin_events=ctx.admin_events, admin_pairs=ctx.admin_pairs,
                  data_start_week=ctx.data_start_week, restrictions=restrictions,
                  channels=channels_for(config), admin_names=admin_names,
                  weeks=_weeks(events.week, week_of(week), config))


def _requests(plans: list[RowPlan], n_parts: int) -> list[np.ndarray]:
    """Per partition: the (week, kind, rank) rows any plan needs, unique and sorted."""
    rows = RowPlan.concat(plans)
    table = np.column_stack([rows.part, rows.week, rows.kind, rows.rank]).astype(np.int64)
    table = np.unique(table, axis=0)
    ends = np.searchsorted(table[:, 0], np.arange(n_parts + 1))
    return [table[ends[p]:ends[p + 1], 1:] for p in range(n_parts)]


def _assemble(plan: RowPlan | None, rows: dict[str, np.ndarray], names: list[str]
              ) -> TrainingSet:
    """The plan's training set from the rows the partitions returned (keyed by
    partition, week, kind, rank)."""
    if plan is None or not len(plan):
        return TrainingSet.empty(names)
    want = np.column_stack([plan.part, plan.week, plan.kind, plan.rank]).astype(np.int64)
    have = rows["keys"]
    idx = _lookup(have, want)
    return TrainingSet(X=rows["X"][idx], y=rows["y"][idx], weight=plan.weight,
                       week=plan.week, onset=rows["onset"][idx], feature_names=names)


def _lookup(have: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Row of ``have`` equal to each row of ``want`` (4 int columns)."""
    def key(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a).view([("", np.int64)] * 4).ravel()

    order = np.argsort(key(have), kind="stable")
    pos = np.minimum(np.searchsorted(key(have)[order], key(want)), max(0, len(have) - 1))
    if len(want) and (not len(have) or (have[order[pos]] != want).any()):
        raise EngineError("a partition did not return a training row it was asked for; "
                          "please report this bug")
    return order[pos]


def _gather_rows(outs: list[list[dict[str, Any]]]) -> dict[str, np.ndarray]:
    keys, X, y, onset = [], [], [], []
    for stage in outs:
        for p, o in enumerate(stage):
            keys.append(np.column_stack([np.full(len(o["keys"]), p), o["keys"]]))
            X.append(o["X"])
            y.append(o["y"])
            onset.append(o["onset"])
    return {"keys": np.concatenate(keys).astype(np.int64), "X": np.concatenate(X),
            "y": np.concatenate(y), "onset": np.concatenate(onset)}


def forecast_dask(grid: CellGrid, *, incidents: pd.DataFrame,
                  consultations: pd.DataFrame | None, restrictions: gpd.GeoDataFrame | None,
                  bases: pd.DataFrame | None, week: pd.Timestamp, config: ModelConfig,
                  admin_names: pd.Series, client: Any, min_count: int = 5,
                  progress: bool = False, n_parts: int | None = None,
                  parts_dir: str | None = None,
                  model_factory: Callable[[str, TrainingSet, ModelConfig], Any] | None = None
                  ) -> Forecast:
    """:func:`geo_risk.forecast.forecast` on a dask cluster, partitioned by H3 parent cells.

    Same arguments and result (cell for cell) as the single-process forecast, plus the
    dask ``client``, the number of partitions ``n_parts`` (default: about one per
    :data:`CELLS_PER_PARTITION` cells and at least two per worker) and ``parts_dir``, a
    folder every partition writes its cells' scores to (GeoParquet, one file each).
    """
    factory = model_factory if model_factory is not None else fit_model
    clock = _Clock()
    shared = _shared(grid, incidents=incidents, consultations=consultations,
                     restrictions=restrictions, bases=bases, week=week, config=config,
                     admin_names=admin_names)
    g, w = shared.grid, shared.weeks
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    n_parts = n_parts or max(2 * n_workers, -(-len(g) // CELLS_PER_PARTITION))
    bounds = partition_bounds(g.cells, n_parts=n_parts)
    clock.lap("prepare")
    run = _Run(client, shared, bounds)
    outs = run.stage("count")
    clock.lap("count")
    counts = Counts(active=np.stack([o["counts"][0] for o in outs]),
                    positive=np.stack([o["counts"][1] for o in outs]),
                    rest=np.stack([o["counts"][2] for o in outs]),
                    pos_active=[o["pos_active"] for o in outs])
    unit_sums = np.sum([o["unit_partials"] for o in outs], axis=0)
    del outs
    first_train = w.train - config.training_weeks
    plan = plan_training(counts, weeks=w, training_weeks=config.training_weeks,
                         inactive_sample=config.inactive_sample, max_rows=config.max_rows,
                         seed=config.seed, first_train=first_train)
    requests = _requests([plan], len(bounds))
    clock.lap("plan")
    run.stage("restart", [{"requests": r} for r in requests], unit_sums=unit_sums)
    names = client.submit(operator.attrgetter("names"), run.parts[0]).result()
    stages = [run.stage("stream", last=w.t)]
    clock.lap("stream")
    train = _assemble(plan, _gather_rows(stages), names)
    del stages
    model, validation = serve_checked(factory(config.kind, train, config), train, config,
                                      factory)
    chosen = validation.chosen if validation is not None else config.kind
    clock.lap("fit")
    model_f = client.scatter(model, broadcast=True)
    scored = run.stage("score", model=model_f, parts_dir=parts_dir)
    clock.lap("score")
    fc = _result(run, scored, shared=shared, model=model, model_f=model_f, train=train,
                 validation=validation, chosen=chosen, config=config, week=week,
                 min_count=min_count, names=names)
    clock.lap("explain")
    costs = client.gather([client.submit(_costs, p, pure=False) for p in run.parts])
    fc.info["engine"] = {
        "name": "dask", "partitions": len(bounds), "workers": n_workers,
        "cells": [c["cells"] for c in costs], "halo_cells": [c["halo"] for c in costs],
        "partition_seconds": {k: [round(c["seconds"].get(k, 0.0), 3) for c in costs]
                              for k in costs[0]["seconds"]},
        "driver_seconds": clock.laps}
    return fc


class _Clock:
    """Wall seconds of the driver's steps (stage waits included), summed by name."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(self.laps.get(name, 0.0) + now - self.t, 3)
        self.t = now


def _result(run: _Run, scored: list[dict[str, Any]], *, shared: Shared, model: Any,
            model_f: Any, train: TrainingSet, validation: Validation | None, chosen: str,
            config: ModelConfig, week: pd.Timestamp, min_count: int, names: list[str]
            ) -> Forecast:
    """The Forecast from the partitions' scores (the tail of the single-process one)."""
    import h3

    from ..drivers import describe

    g, w = shared.grid, shared.weeks
    hist_weeks = sorted(scored[0]["risk"])
    risk_by_week = {wk: np.concatenate([o["risk"][wk] for o in scored]) for wk in hist_weeks}
    risk, risk_prev = risk_by_week[w.t], risk_by_week[w.t - 1]
    low = np.concatenate([o["low"] for o in scored])
    high = np.concatenate([o["high"] for o in scored])
    onset = np.concatenate([o["onset"] for o in scored])
    facts = pd.concat([o["facts"] for o in scored], ignore_index=True)
    codes = shared.admin_codes
    facts["admin_26w"] = np.bincount(codes, weights=shared.events.window_sum(
        26, end_week=w.t, size=len(g)))[codes]
    history = pd.concat([pd.DataFrame({"cell": g.cells, "week": week_start(wk).date(),
                                       "risk": risk_by_week[wk]}) for wk in hist_weeks],
                        ignore_index=True) if config.history_weeks > 1 else None
    drivers = np.full(len(g), "", dtype=object)
    if hasattr(model, "contributions"):
        sel = np.flatnonzero(risk >= DRIVER_MIN_RISK)
        sel = sel[np.argsort(-risk[sel])][:DRIVER_MAX_CELLS]
        if len(sel):
            part_of = np.searchsorted([hi for _, hi in run.bounds], sel, side="right")
            per_part = [{"rows": np.sort(sel[part_of == p]) - lo}
                        for p, (lo, _) in enumerate(run.bounds)]
            contrib = pd.concat(run.stage("explain", per_part, model=model_f),
                                ignore_index=True)
            order = np.concatenate([lo + r["rows"] for r, (lo, _) in zip(per_part, run.bounds,
                                                                          strict=True)])
            contrib = contrib.iloc[_lookup_1d(order, sel)].reset_index(drop=True)
            res = int(h3.get_resolution(h3.int_to_str(int(g.cells[0]))))
            km = 2.5 * h3.average_hexagon_edge_length(res, unit="km")
            drivers[sel] = describe(contrib, facts.iloc[sel].reset_index(drop=True),
                                    nearby_km=km, min_count=min_count).to_numpy()
    units = None
    if shared.admin_events is not None and len(g):
        _, pcodes, population = unit_population(g.admin_pcode, g.population)
        units = forecast_units(admin_events=shared.admin_events,
                               admin_pairs=shared.admin_pairs, pcodes=pcodes,
                               population=population, week=w.t, train_week=w.train)
    info = {
        "model": chosen, "requested": config.kind,
        "validation": (validation.as_dict() if validation is not None else
                       {"summary": summarise(Validation(requested=config.kind, chosen=chosen,
                                                        weeks=0, first_week=None,
                                                        last_week=None))}),
        "estimator": type(model).__name__, "features": names,
        "training_weeks": [str(week_start(w.train - config.training_weeks).date()),
                           str(week_start(w.train - w.n_hist).date())],
        "training_rows": int(len(train.y)),
        "training_positive_rows": int(train.y.sum()),
        "base_rate": float(np.average(train.y, weights=train.weight)) if len(train.y) else 0.0,
        "onset_weight": getattr(model, "onset_weight_", None),
        "blend_weight": getattr(model, "blend_", None),
        "unit_model": units.info if units is not None else None,
        "state": {"used": False, "reason": "the dask engine runs from scratch",
                  "model_reused": False, "weeks_streamed": int(w.t - w.start + 1),
                  "retrained_week": str(week_start(w.train).date()), "saved": False},
    }
    return Forecast(week=week, risk=risk, risk_prev=risk_prev, risk_low=low, risk_high=high,
                    onset=onset, drivers=drivers, facts=facts, events=shared.events, grid=g,
                    info=info, history=history, units=units)


def _lookup_1d(have: np.ndarray, want: np.ndarray) -> np.ndarray:
    order = np.argsort(have, kind="stable")
    return order[np.searchsorted(have[order], want)]
