"""Rolling-origin backtest: one forecast per week, each trained only on the past.

One pass over the weeks streams the features once (see :mod:`geo_risk.features`). Training
rows of the last ``training_weeks`` weeks are kept in a bounded buffer and metrics are
accumulated week by week (:class:`geo_risk.metrics.StreamingMetrics`), so memory does not grow
with the number of weeks forecast. Models are refitted every ``refit_every`` weeks on the
buffer as it stood at that week (weeks strictly before it).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .backtest_report import render_backtest_html
from .backtest_units import UnitBacktest
from .config import RunConfig
from .errors import GeoRiskError
from .features import TrainingSet, label_vector, thin_negatives, week_of, week_rows, week_start
from .forecast import WARMUP_WEEKS, fit_model, prepare
from .metrics import StreamingMetrics, brier_skill
from .pipeline import Inputs, build_grid, load_inputs
from .runtime import heavy_call
from .unit_forecast import UNIT_TRAINING_WEEKS, unit_panel, unit_population

MODEL_NAMES = ("model", "persistence", "historical_average", "conflictology")


def _clean(value: Any) -> Any:
    """NaN/inf to None so backtest.json is strict JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def model_results(overall: dict[str, Any], onset: dict[str, Any]) -> dict[str, Any]:
    """Each model's streamed metrics, overall and on onsets, with Brier skill against the
    historical average when it was run (shared by the single-process and dask engines)."""
    results: dict[str, Any] = {}
    for m in overall:
        results[m] = overall[m].result()
        results[m]["onset"] = onset[m].result()
    if "historical_average" in results:
        ref, ref_on = results["historical_average"], results["historical_average"]["onset"]
        for m in results:
            results[m]["brier_skill"] = brier_skill(brier=results[m]["brier"],
                                                    reference=ref["brier"])
            results[m]["onset"]["brier_skill"] = brier_skill(
                brier=results[m]["onset"]["brier"], reference=ref_on["brier"])
    return results


class _Scoring:
    """Scores each week with the models of the last refit, the refit running in a background
    thread while the caller streams on.

    The features of a week do not depend on the models, so the weeks streamed while the
    models fit wait here, in order, and are scored once the fit is done (at the latest before
    the next refit, or when they hold ``lookahead_bytes`` of features). The fit takes both
    cores only part of the time (single-threaded binning, logistic fits and calibration), and
    the streaming fills the gaps; the scores and their order are those of fitting first.
    """

    def __init__(self, models: Sequence[str], config: Any, *, area: np.ndarray,
                 units: UnitBacktest | None, lookahead_bytes: int) -> None:
        self.models, self.config, self.area, self.units = list(models), config, area, units
        self.lookahead_bytes = lookahead_bytes
        self.overall = {m: StreamingMetrics() for m in models}
        self.onset = {m: StreamingMetrics() for m in models}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo-risk-fit")
        self._fit: Future[dict[str, Any]] | None = None
        self._pending: deque[tuple[int, pd.DataFrame, np.ndarray, np.ndarray, bool]] = deque()
        self._bytes = 0

    def __enter__(self) -> _Scoring:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def started(self) -> bool:
        return self._fit is not None

    def refit(self, train: TrainingSet) -> None:
        """Score the weeks of the current models, then start fitting the next on ``train``."""
        self.flush()
        models, config = self.models, self.config
        self._fit = self._pool.submit(
            lambda: {m: fit_model(m, train, config) for m in models})

    def add(self, week: int, *, X: pd.DataFrame, y: np.ndarray, onset: np.ndarray,
            refit: bool) -> None:
        """A week to score with the models of the last :meth:`refit`."""
        self._pending.append((week, X, y, onset, refit))
        self._bytes += int(X.memory_usage(index=False).sum())
        assert self._fit is not None
        if self._fit.done() or self._bytes > self.lookahead_bytes:
            self.flush()

    def flush(self) -> None:
        """Wait for the fit and score every pending week, oldest first."""
        if not self._pending:
            return
        assert self._fit is not None
        fitted = self._fit.result()
        while self._pending:
            w, X, y, is_onset, refit = self._pending.popleft()
            for m, est in fitted.items():
                p = est.predict_proba(X)[:, 1]
                self.overall[m].update(y_true=y, prob=p, area=self.area)
                self.onset[m].update(y_true=y, prob=p, area=self.area, mask=is_onset)
                if m == "model" and self.units is not None:
                    self.units.update(week=w, cell_prob=p, refit=refit)
        self._bytes = 0


#: Features of the weeks streamed ahead while the models fit, at most (bytes).
LOOKAHEAD_BYTES = 256 * 2**20


@heavy_call
def run_backtest(config: RunConfig, *, start: str | pd.Timestamp, end: str | pd.Timestamp,
                 inputs: Inputs | None = None, models: Sequence[str] = MODEL_NAMES,
                 refit_every: int = 4, progress: bool = False,
                 lookahead_bytes: int = LOOKAHEAD_BYTES) -> dict[str, Any]:
    """Forecast every week from ``start`` to ``end`` (inclusive) and score the forecasts.

    Returns the report dictionary written to ``backtest.json``: per model the metrics over
    all cells and over onset cells (no event in the previous 52 weeks), the Brier skill
    against the historical-average baseline, and the chosen model under ``"model"``.
    The models fit in a background thread while the weeks after the refit are streamed
    (at most ``lookahead_bytes`` of their features wait; 0: fit, then stream): the same
    report either way.
    """
    t0 = time.perf_counter()
    inputs = inputs if inputs is not None else load_inputs(config)
    first, last = week_of(start), week_of(end)
    if last < first:
        raise GeoRiskError(f"--end ({end}) is before --start ({start}).")
    grid = build_grid(config, inputs)
    mc = config.model
    state = prepare(grid, incidents=inputs.incidents, consultations=inputs.consultations,
                    restrictions=inputs.restrictions, bases=inputs.bases,
                    week_limit=week_start(last + 1), config=mc)
    ev = state.events
    if len(ev.week) == 0:
        raise GeoRiskError("no incident with a usable location before the end week.")
    data_first = int(ev.week.min())
    if first - data_first < 8:
        raise GeoRiskError(f"--start {start} leaves less than 8 weeks of history before it; "
                           f"the data start in the week of {week_start(data_first).date()}.")
    state.start(max(data_first, first - mc.training_weeks - WARMUP_WEEKS))
    area = state.grid.area_km2
    all_pos = np.arange(len(state.grid))
    buffer: deque[TrainingSet] = deque(maxlen=mc.training_weeks)
    rng = np.random.default_rng(mc.seed)
    per_week = max(1, mc.inactive_sample // mc.training_weeks)
    units = _unit_backtest(state, first=first, last=last) if "model" in models else None
    weeks_iter: Any = range(state.week or 0, last + 1)
    if progress:
        from tqdm import tqdm

        weeks_iter = tqdm(weeks_iter, desc="backtest weeks", unit="wk", leave=False)
    with _Scoring(models, mc, area=area, units=units, lookahead_bytes=lookahead_bytes) as sc:
        for w in weeks_iter:
            assert state.week == w
            if w >= first:
                refit = (w - first) % refit_every == 0
                if refit or not sc.started:
                    sc.refit(thin_negatives(TrainingSet.concat(list(buffer)),
                                            max_rows=mc.max_rows, rng=rng))
                sc.add(w, X=pd.DataFrame(state.features(all_pos), columns=state.feature_names()),
                       y=label_vector(ev, w, len(all_pos)), onset=state.onset(all_pos),
                       refit=refit)
            if w >= first - mc.training_weeks:
                buffer.append(week_rows(state, rng, inactive_per_week=per_week))
            state.advance()
        sc.flush()
    results = model_results(sc.overall, sc.onset)
    notes = _notes(results, refit_every=refit_every)
    report = {
        "title": config.title,
        "synthetic": config.synthetic,
        "start": str(week_start(first).date()),
        "end": str(week_start(last).date()),
        "weeks": last - first + 1,
        "h3_resolution": config.h3_resolution,
        "cells": int(len(all_pos)),
        "chosen": "model",
        "models": results,
        "refit_every_weeks": refit_every,
        "training_weeks": mc.training_weeks,
        "notes": notes,
        "units": units.result() if units is not None else None,
        "wall_time_s": round(time.perf_counter() - t0, 2),
    }
    return _clean(report)


def _unit_backtest(state: Any, *, first: int, last: int) -> UnitBacktest | None:
    """Unit-level accumulator over the backtest weeks (None without unit history)."""
    ctx = state.context
    if ctx is None or ctx.admin_events is None or not len(state.grid):
        return None
    codes, pcodes, population = unit_population(state.grid.admin_pcode, state.grid.population)
    panel = unit_panel(admin_events=ctx.admin_events, admin_pairs=ctx.admin_pairs,
                       n_units=len(pcodes), population=population,
                       first_week=first - UNIT_TRAINING_WEEKS - 1, last_week=last)
    return UnitBacktest(panel=panel, codes=codes, cell_area=state.grid.area_km2,
                        pcodes=pcodes)


def _notes(results: dict[str, Any], *, refit_every: int) -> list[str]:
    notes = [f"Models refitted every {refit_every} weeks on the training weeks before each "
             "forecast week; features always use every event before the forecast week."]
    if "model" not in results:
        return notes
    baselines = {k: v for k, v in results.items() if k != "model"}
    if not baselines:
        return notes
    best = max(baselines, key=lambda k: baselines[k]["average_precision"] or -1)
    ap_m, ap_b = results["model"]["average_precision"], baselines[best]["average_precision"]
    if ap_m is not None and ap_b:
        gain = 100 * (ap_m / ap_b - 1)
        verdict = "meets" if gain >= 30 else "falls short of"
        notes.append(f"Average precision: model {ap_m:.3f} vs best baseline ({best}) "
                     f"{ap_b:.3f}: {gain:+.0f}%, which {verdict} the +30% goal.")
    hr_m = results["model"]["hr_at_1pct"]
    hr_b = max((v["hr_at_1pct"] or 0) for v in baselines.values())
    if hr_m is not None:
        notes.append(f"Hit rate in the top 1% of area: model {hr_m:.3f} vs best baseline "
                     f"{hr_b:.3f}.")
    on_m = results["model"]["onset"]["average_precision"]
    on_b = max((v["onset"]["average_precision"] or 0) for v in baselines.values())
    if on_m is not None:
        notes.append(f"Onset average precision: model {on_m:.4f} vs best baseline {on_b:.4f}.")
    return notes


def write_backtest(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write backtest.json and backtest.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "backtest.json", "html": out / "backtest.html"}
    paths["json"].write_text(json.dumps(report, indent=2, allow_nan=False) + "\n",
                             encoding="utf-8")
    paths["html"].write_text(render_backtest_html(report=report, title=report["title"],
                                                  synthetic=bool(report["synthetic"])),
                             encoding="utf-8")
    return paths
