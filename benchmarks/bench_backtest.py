"""Benchmark: backtest wall time and peak memory against the number of weeks forecast.

For each ``RES:YEARS`` run, generates the SYNTHETIC Veridia scenario at that H3 resolution with
``weeks = YEARS * 52 + 120`` weeks of history (``ScenarioSpec(weeks=..., h3_resolution=RES)``,
``--incident-scale`` 1.0: about 100 incidents a week) and runs ``run_backtest`` over its last
``YEARS * 52`` weeks (weekly forecasts, 120 weeks of history before the first one), each run in
a fresh subprocess. Printed per run: weeks forecast, cells, incidents, wall time of
``load_inputs`` and of ``run_backtest``, seconds per forecast week, the number of refits, the
time spent fitting (all models; "max fit" = the slowest single fit) and the rest per week
(streaming, prediction, metrics), CPU seconds of ``run_backtest`` (all threads; the model's
LightGBM uses 2), the 1-minute load average when the run started (to judge how shared the
machine was), and peak resident memory (``VmHWM`` from ``/proc/self/status`` read inside the
subprocess: after imports, after ``load_inputs``, and at the end). If the backtest streams as
designed, the peak does not grow with the number of weeks forecast. Each run has its own,
longer scenario, so the inputs and the history grow with it too; ``--one-scenario`` instead
backtests the last N weeks of one scenario per resolution (same inputs, same end week).
(``getrusage`` ``ru_maxrss`` is not used: on Linux a child inherits its parent's peak through
``exec``.)

For contrast, the naive way to get the same features: for each forecast week, recompute the
decayed sums (every channel and half-life, own cell and rings) directly from all past
cell-week event rows with pandas (weights ``0.5 ** (age / half_life)``, ``groupby``, a
``merge`` with a neighbour table built with h3-py), instead of updating a running state. Timed
for ``--naive-weeks`` evenly spaced forecast weeks of the longest run at each resolution and
EXTRAPOLATED to all its weeks (the cost grows with the history, so the evenly spaced mean
stands for the average week). Our streamed features are timed over the same weeks (warm-up
included), and the two are compared value by value at the sampled weeks. Also printed:
what a non-streaming backtest that keeps every week's feature rows would have to hold
(arithmetic, not measured).

Defaults: ``--runs 6:1 6:2 6:5 7:0.5 7:1 --refit-every 13 --models all``; about 7 minutes on
a quiet 2-core machine, but over 30 minutes when other jobs compete for the cores: the
LightGBM refits (2 threads) then slow down 10-40x and dominate the wall time, which is why the
fit time is printed apart. ``--full``: 1, 2, 5 and 10 years at res 6 and res 7 (an hour or more
on a quiet machine, dominated by the res-7 refits). Nothing is asserted; nothing is written
into the repository (a temporary folder, or ``--out``).

Run: ``.venv/bin/python benchmarks/bench_backtest.py [--runs 6:1 6:2 6:5 7:0.5 7:1]
[--full] [--refit-every 13] [--models model,persistence,...] [--naive-weeks 4] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORKER_FLAG = "--worker"
HISTORY_WEEKS = 120
DEFAULT_RUNS = ("6:1", "6:2", "6:5", "7:0.5", "7:1")
FULL_RUNS = ("6:1", "6:2", "6:5", "6:10", "7:1", "7:2", "7:5", "7:10")


def _rss_mb() -> float:
    """Peak resident set size of this process so far, MB (``VmHWM``; see
    :func:`geo_risk.runtime.peak_rss_mb`)."""
    from geo_risk.runtime import peak_rss_mb

    return peak_rss_mb() or 0.0


def _cpu_s() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _window(scenario: Path, weeks: int) -> tuple[Any, Any, Any]:
    """Config, first and last forecast week: the ``weeks`` weeks before the scenario's
    forecast week (whose events are only in the truth files)."""
    import pandas as pd

    from geo_risk.config import load_config

    config = load_config(scenario / "scenario.toml")
    fw = pd.Timestamp(str(config.forecast_week))
    end = fw - pd.Timedelta(weeks=1)
    start = end - pd.Timedelta(weeks=weeks - 1)
    return config, start, end


# ------------------------------------------------------------------------------------------
# Workers (each in a fresh subprocess)
# ------------------------------------------------------------------------------------------


def worker_backtest(scenario: Path, *, weeks: int, refit_every: int, models: list[str]
                    ) -> dict[str, Any]:
    import pandas as pd

    import geo_risk.backtest as bt
    from geo_risk.pipeline import load_inputs

    # Time the model refits apart from the rest of each week (wraps the function the backtest
    # module calls, in this subprocess only).
    fits: list[float] = []
    # geo_risk.forecast.fit_model, called through fit_models (older trees: the backtest's own)
    home: Any = bt if hasattr(bt, "fit_model") else importlib.import_module("geo_risk.forecast")
    fit_model = home.fit_model

    def timed_fit(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fit_model(*a, **k)
        finally:
            fits.append(time.perf_counter() - t0)

    home.fit_model = timed_fit
    rss_imports = _rss_mb()
    config, start, end = _window(scenario, weeks)
    t = time.perf_counter()
    inputs = load_inputs(config, now=pd.Timestamp(config.forecast_week))
    load_s = time.perf_counter() - t
    rss_load = _rss_mb()
    t, cpu = time.perf_counter(), _cpu_s()
    report = bt.run_backtest(config, start=start, end=end, inputs=inputs, models=models,
                          refit_every=refit_every)
    bt_s = time.perf_counter() - t
    bt_cpu = _cpu_s() - cpu
    ap = report["models"].get("model", {}).get("average_precision")
    return {"weeks": report["weeks"], "cells": report["cells"],
            "incidents": int(len(inputs.incidents)), "load_s": load_s, "backtest_s": bt_s,
            "backtest_cpu_s": bt_cpu,
            "fit_s": sum(fits), "fit_max_s": max(fits, default=0.0),
            "refits": len(fits) // max(1, len(models)),
            "rss_imports_mb": rss_imports, "rss_load_mb": rss_load, "model_ap": ap}


def worker_naive(scenario: Path, *, weeks: int, samples: int) -> dict[str, Any]:
    import h3
    import numpy as np
    import pandas as pd

    from geo_risk.features import week_of, week_start
    from geo_risk.forecast import WARMUP_WEEKS, prepare
    from geo_risk.pipeline import build_grid, load_inputs

    config, start, end = _window(scenario, weeks)
    inputs = load_inputs(config, now=pd.Timestamp(config.forecast_week))
    first, last = week_of(start), week_of(end)
    grid = build_grid(config, inputs)
    mc = config.model
    state = prepare(grid, incidents=inputs.incidents, consultations=inputs.consultations,
                    restrictions=inputs.restrictions, bases=inputs.bases,
                    week_limit=week_start(last + 1), config=mc)
    ev = state.events
    data_first = int(ev.week.min())
    sample_weeks = sorted({int(round(w)) for w in np.linspace(first, last, samples)})
    n = len(state.grid)
    all_pos = np.arange(n)

    # --- ours: streamed state, exactly as run_backtest steps it (warm-up included) ---------
    t = time.perf_counter()
    state.start(max(data_first, first - mc.training_weeks - WARMUP_WEEKS))
    ours_at: dict[int, np.ndarray] = {}
    n_features = 0
    while state.week is not None and state.week <= last:
        w = state.week
        if w >= first:
            X = state.features(all_pos)
            n_features = X.shape[1]
            if w in sample_weeks:
                ours_at[w] = state.state.copy()
        state.advance()
    ours_s = time.perf_counter() - t

    # --- naive: every forecast week from all past cell-week rows ----------------------------
    grid_cells = state.grid.cells
    past_all = pd.DataFrame({"week": ev.week, "cell": grid_cells[ev.pos],
                             **{k: v for k, v in ev.values.items()}})
    t = time.perf_counter()
    nbr_rows = []
    max_ring = max(r for _, _, r in state.rows)
    for c in np.unique(past_all["cell"].to_numpy()):
        s = h3.int_to_str(int(c))
        for r in range(1, max_ring + 1):
            for nb in h3.grid_ring(s, r):
                nbr_rows.append((int(c), h3.str_to_int(nb), r))
    nbr = pd.DataFrame(nbr_rows, columns=["cell", "nbr", "dist"])
    nbr["cell"] = nbr["cell"].astype(np.uint64)
    nbr["nbr"] = nbr["nbr"].astype(np.uint64)
    nbr_s = time.perf_counter() - t

    per_week: list[tuple[int, float, int, float]] = []
    for w in sample_weeks:
        t = time.perf_counter()
        past = past_all[past_all["week"] < w]
        age = (w - 1 - past["week"]).to_numpy(float)
        cols: dict[tuple[str, float, int], str] = {}
        weighted = pd.DataFrame({"cell": past["cell"].to_numpy()})
        for name, h, _r in state.rows:
            col = f"{name}_{h:g}"
            if col not in weighted:
                weighted[col] = past[name].to_numpy() * 0.5 ** (age / h)
        for name, h, r in state.rows:
            cols[(name, h, r)] = f"{name}_{h:g}"
        own = weighted.groupby("cell").sum()
        ring = weighted.merge(nbr, on="cell").drop(columns="cell").groupby(["dist", "nbr"]).sum()
        feats = np.zeros((len(state.rows), n))
        for i, (name, h, r) in enumerate(state.rows):
            part = own if r == 0 else ring.loc[r] if r in ring.index.get_level_values(0) else None
            if part is None:
                continue
            s = part[cols[(name, h, r)]]
            feats[i] = s.reindex(pd.Index(grid_cells)).fillna(0.0).to_numpy()
        secs = time.perf_counter() - t
        ref = ours_at[w]
        rel = float(np.abs(feats - ref).max() / max(1e-12, float(np.abs(ref).max())))
        per_week.append((w - first + 1, secs, len(past), rel))

    n_weeks = last - first + 1
    return {"weeks": n_weeks, "cells": n, "n_decay_rows": len(state.rows),
            "n_features": n_features, "ours_features_s": ours_s,
            "streamed_weeks": last - (max(data_first, first - mc.training_weeks - WARMUP_WEEKS))
            + 1, "nbr_s": nbr_s, "per_week": per_week}


def _worker_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument(WORKER_FLAG, dest="kind", choices=["backtest", "naive"], required=True)
    p.add_argument("--scenario", type=Path, required=True)
    p.add_argument("--weeks", type=int, required=True)
    p.add_argument("--refit-every", type=int, default=13)
    p.add_argument("--models", default="")
    p.add_argument("--samples", type=int, default=4)
    a = p.parse_args(argv)
    if a.kind == "backtest":
        out = worker_backtest(a.scenario, weeks=a.weeks, refit_every=a.refit_every,
                              models=[m for m in a.models.split(",") if m])
    else:
        out = worker_naive(a.scenario, weeks=a.weeks, samples=a.samples)
    out["rss_peak_mb"] = _rss_mb()
    print("RESULT " + json.dumps(out))


def run_worker(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), WORKER_FLAG, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"worker {args[:1]} failed (exit {proc.returncode})")
    line = next(s for s in reversed(proc.stdout.splitlines()) if s.startswith("RESULT "))
    out: dict[str, Any] = json.loads(line[len("RESULT "):])
    return out


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def _parse_run(text: str) -> tuple[int, float]:
    try:
        res, years = text.split(":")
        return int(res), float(years)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use RES:YEARS, e.g. 7:2") from None


def main() -> None:
    from geo_risk.backtest import MODEL_NAMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=_parse_run, default=None, metavar="RES:YEARS",
                        help=f"backtests to run (default: {' '.join(DEFAULT_RUNS)})")
    parser.add_argument("--full", action="store_true",
                        help=f"runs {' '.join(FULL_RUNS)} (an hour or more)")
    parser.add_argument("--refit-every", type=int, default=13)
    parser.add_argument("--models", default="all",
                        help=f"comma-separated subset of {','.join(MODEL_NAMES)} or 'all'")
    parser.add_argument("--one-scenario", action="store_true",
                        help="one scenario per resolution (the longest run's) for all its runs: "
                             "same inputs and end week, only the number of weeks forecast "
                             "changes")
    parser.add_argument("--incident-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--naive-weeks", type=int, default=4,
                        help="forecast weeks the naive recomputation is timed for (0 = skip)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the scenarios (default: a temporary folder, deleted at "
                             "the end)")
    args = parser.parse_args()
    runs = [_parse_run(r) for r in FULL_RUNS] if args.full else (
        args.runs or [_parse_run(r) for r in DEFAULT_RUNS])
    models = list(MODEL_NAMES) if args.models == "all" else args.models.split(",")

    from geo_risk.synth import ScenarioSpec, generate_scenario

    tmp = args.out is None
    root = Path(tempfile.mkdtemp(prefix="bench_backtest_")) if tmp else args.out
    root.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    try:
        history = ("one scenario per resolution, the same end week for every run"
                   if args.one_scenario else
                   f"{HISTORY_WEEKS} weeks of history before the first forecast week")
        print(f"backtests: refit every {args.refit_every} weeks, models {','.join(models)}, "
              f"{history}, "
              f"incident_scale {args.incident_scale:g}; each run in a fresh subprocess; "
              f"scenarios in {root}")
        head = (f"{'res':>3s} {'years':>5s} {'weeks':>5s} {'cells':>7s} {'incidents':>9s} "
                f"{'load s':>6s} {'backtest s':>10s} {'s/week':>6s} {'refits':>6s} {'fit s':>6s} "
                f"{'max fit':>7s} {'other s/wk':>10s} {'cpu s':>6s} {'load avg':>8s} "
                f"{'RSS imports':>11s} {'RSS load':>8s} {'peak RSS MB':>11s} {'model AP':>8s}")
        print(head)
        longest: dict[int, tuple[Path, int]] = {}
        made: dict[Path, int] = {}
        for res, years in runs:
            weeks = int(round(years * 52))
            scen_years = years
            if args.one_scenario:  # the longest scenario of this resolution for every run
                scen_years = max(y for r_, y in runs if r_ == res)
            scen = root / f"res{res}_{scen_years:g}y"
            if scen not in made:
                spec = ScenarioSpec(weeks=int(round(scen_years * 52)) + HISTORY_WEEKS,
                                    h3_resolution=res, incident_scale=args.incident_scale)
                made[scen] = generate_scenario(out_dir=scen, seed=args.seed,
                                               spec=spec).n_incidents
            if res not in longest or weeks > longest[res][1]:
                longest[res] = (scen, weeks)
            load_avg = os.getloadavg()[0]
            r = run_worker(["backtest", "--scenario", str(scen), "--weeks", str(weeks),
                            "--refit-every", str(args.refit_every), "--models",
                            ",".join(models)])
            ap = f"{r['model_ap']:8.3f}" if r.get("model_ap") is not None else "     n/a"
            print(f"{res:3d} {years:5g} {r['weeks']:5d} {r['cells']:7,d} "
                  f"{made[scen]:9,d} {r['load_s']:6.1f} {r['backtest_s']:10.1f} "
                  f"{r['backtest_s'] / r['weeks']:6.2f} {r['refits']:6d} {r['fit_s']:6.1f} "
                  f"{r['fit_max_s']:7.1f} {(r['backtest_s'] - r['fit_s']) / r['weeks']:10.3f} "
                  f"{r['backtest_cpu_s']:6.0f} {load_avg:8.1f} {r['rss_imports_mb']:11,.0f} "
                  f"{r['rss_load_mb']:8,.0f} {r['rss_peak_mb']:11,.0f} {ap}", flush=True)

        if args.naive_weeks > 0:
            print("\nNaive contrast: features recomputed for each forecast week from all past "
                  "cell-week rows (pandas), vs our streamed state, same scenario, same weeks.")
            for res, (scen, weeks) in sorted(longest.items()):
                r = run_worker(["naive", "--scenario", str(scen), "--weeks", str(weeks),
                                "--samples", str(args.naive_weeks)])
                pw = r["per_week"]
                mean = sum(p[1] for p in pw) / len(pw)
                extrap = mean * r["weeks"]
                print(f"\nres {res}, {r['weeks']} forecast weeks, {r['cells']:,} cells, "
                      f"{r['n_decay_rows']} decayed-sum rows per cell (of {r['n_features']} "
                      "features):")
                print(f"  ours, streamed  : {r['ours_features_s']:.2f} s measured for all "
                      f"{r['streamed_weeks']} weeks streamed (warm-up included) with the full "
                      f"feature matrix every forecast week = "
                      f"{r['ours_features_s'] / r['weeks']:.3f} s per forecast week")
                print(f"  naive, per week : neighbour table once {r['nbr_s']:.2f} s (h3-py loop)")
                for k, secs, rows, rel in pw:
                    print(f"    forecast week {k:4d}: {secs:6.2f} s from {rows:,} past rows "
                          f"(max relative difference to ours {rel:.1e})")
                print(f"  naive, all weeks: {extrap:,.0f} s EXTRAPOLATED (mean of "
                      f"{len(pw)} sampled weeks x {r['weeks']} weeks) = "
                      f"x{extrap / r['ours_features_s']:,.0f} our streamed time")
                panel_gb = r["cells"] * r["weeks"] * r["n_features"] * 4 / 1e9
                print(f"  keeping every week's feature rows (cells x weeks x features, float32) "
                      f"would take {panel_gb:.2f} GB for these {r['weeks']} weeks "
                      f"(arithmetic, not measured); at 10 years "
                      f"{r['cells'] * 520 * r['n_features'] * 4 / 1e9:.1f} GB")
        print(f"\ntotal benchmark wall time {time.perf_counter() - t_all:,.0f} s")
    finally:
        if tmp:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if WORKER_FLAG in sys.argv:
        _worker_main(sys.argv[1:])
    else:
        main()
