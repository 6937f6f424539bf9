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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .backtest_report import render_backtest_html
from .backtest_units import UnitBacktest
from .config import RunConfig
from .errors import GeoRiskError
from .features import TrainingSet, label_vector, thin_negatives, week_of, week_rows, week_start
from .forecast import WARMUP_WEEKS, fit_models, prepare
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


@heavy_call
def run_backtest(config: RunConfig, *, start: str | pd.Timestamp, end: str | pd.Timestamp,
                 inputs: Inputs | None = None, models: Sequence[str] = MODEL_NAMES,
                 refit_every: int = 4, progress: bool = False) -> dict[str, Any]:
    """Forecast every week from ``start`` to ``end`` (inclusive) and score the forecasts.

    Returns the report dictionary written to ``backtest.json``: per model the metrics over
    all cells and over onset cells (no event in the previous 52 weeks), the Brier skill
    against the historical-average baseline, and the chosen model under ``"model"``.
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
    overall = {m: StreamingMetrics() for m in models}
    onset = {m: StreamingMetrics() for m in models}
    fitted: dict[str, Any] = {}
    units = _unit_backtest(state, first=first, last=last) if "model" in models else None
    weeks_iter: Any = range(state.week or 0, last + 1)
    if progress:
        from tqdm import tqdm

        weeks_iter = tqdm(weeks_iter, desc="backtest weeks", unit="wk", leave=False)
    for w in weeks_iter:
        assert state.week == w
        if w >= first:
            if (w - first) % refit_every == 0 or not fitted:
                train = thin_negatives(TrainingSet.concat(list(buffer)), max_rows=mc.max_rows,
                                       rng=rng)
                fitted = fit_models(models, train, mc)
            X = pd.DataFrame(state.features(all_pos), columns=state.feature_names())
            y = label_vector(ev, w, len(all_pos))
            is_onset = state.onset(all_pos)
            refit = (w - first) % refit_every == 0
            for m, est in fitted.items():
                p = est.predict_proba(X)[:, 1]
                overall[m].update(y_true=y, prob=p, area=area)
                onset[m].update(y_true=y, prob=p, area=area, mask=is_onset)
                if m == "model" and units is not None:
                    units.update(week=w, cell_prob=p, refit=refit)
        if w >= first - mc.training_weeks:
            buffer.append(week_rows(state, rng, inactive_per_week=per_week))
        state.advance()

    results = model_results(overall, onset)
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
