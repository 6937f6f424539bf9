"""Forecast skill on any list of configs: one rolling-origin backtest each, one table.

For every ``--config`` (a geo-risk scenario.toml, for example a real country's ACLED or UCDP
export kept outside the repository), runs :func:`geo_risk.backtest.run_backtest` over the last
``--years`` years of its data (or ``--start``/``--end``) with every model and prints, per
config: weeks, cells, positive cell-weeks, onsets, and each model's AP, HR@1%, onset AP and
Brier skill against the historical average, plus the model's ratio to the best baseline.

    .venv/bin/python benchmarks/bench_forecast.py --config ../realdata/cod/scenario.toml \\
        --config ../realdata/nga/scenario.toml --years 3 --res 6 --refit-every 8

``--seeds 0,1,2`` repeats the model with other seeds (baselines are deterministic) and
prints the spread. ``--param blend=0.5`` (repeatable) sets a :class:`geo_risk.model.RiskModel`
parameter for an experiment. ``--json FILE`` writes every report. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from geo_risk.backtest import MODEL_NAMES, run_backtest
from geo_risk.config import load_config
from geo_risk.features import monday_of
from geo_risk.pipeline import load_inputs

BASELINES = [m for m in MODEL_NAMES if m != "model"]


def _fmt(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _window(inputs: Any, years: float) -> tuple[pd.Timestamp, pd.Timestamp]:
    last = pd.Timestamp(inputs.incidents["date"].max())
    end = monday_of(last) - pd.Timedelta(days=7)  # the last complete week
    start = monday_of(end - pd.Timedelta(days=int(round(years * 365.25))))
    return start, end


def bench_one(path: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cfg = load_config(path)
    if args.res:
        cfg = replace(cfg, h3_resolution=args.res)
    if args.training_weeks:
        cfg = replace(cfg, model=replace(cfg.model, training_weeks=args.training_weeks))
    if args.max_rows:
        cfg = replace(cfg, model=replace(cfg.model, max_rows=args.max_rows))
    t0 = time.perf_counter()
    inputs = load_inputs(cfg)
    start, end = ((pd.Timestamp(args.start), pd.Timestamp(args.end)) if args.start
                  else _window(inputs, args.years))
    load_s = time.perf_counter() - t0
    out = []
    for k, seed in enumerate(args.seeds):
        c = replace(cfg, model=replace(cfg.model, seed=seed))
        models = MODEL_NAMES if k == 0 else ("model",)
        t1 = time.perf_counter()
        r = run_backtest(c, start=start, end=end, inputs=inputs, models=models,
                         refit_every=args.refit_every)
        if k:  # only the model ran: its Brier skill against the first run's reference
            ref = out[0]["models"]["historical_average"]
            for part in (r["models"]["model"], r["models"]["model"]["onset"]):
                base = ref if part is r["models"]["model"] else ref["onset"]
                part["brier_skill"] = (1 - part["brier"] / base["brier"]
                                       if part["brier"] is not None and base["brier"] else None)
            r["models"] = {**out[0]["models"], "model": r["models"]["model"]}
        r["seed"] = seed
        r["config"] = str(path)
        r["load_s"] = round(load_s, 1)
        r["backtest_s"] = round(time.perf_counter() - t1, 1)
        out.append(r)
        print(f"  {Path(path).parent.name} seed {seed}: {r['backtest_s']} s", file=sys.stderr)
    return out


def table(reports: list[dict[str, Any]]) -> str:
    first = reports[0]
    m = first["models"]
    lines = [f"## {first['title']} ({first['config']})",
             f"weeks {first['weeks']} ({first['start']} .. {first['end']}), res "
             f"{first['h3_resolution']}, cells {first['cells']}, positive cell-weeks "
             f"{m['historical_average']['positives']:.0f}, of which onsets "
             f"{m['historical_average']['onset']['positives']:.0f}; base rate "
             f"{100 * m['historical_average']['base_rate']:.3f}% of cell-weeks; "
             f"load {first['load_s']} s, backtest {first['backtest_s']} s",
             "", "| model | AP | HR@1% | onset AP | Brier skill |", "|---|---|---|---|---|"]
    for name in MODEL_NAMES:
        r = m[name]
        lines.append(f"| {name} | {_fmt(r['average_precision'])} | {_fmt(r['hr_at_1pct'])} | "
                     f"{_fmt(r['onset']['average_precision'], 4)} | "
                     f"{_fmt(r['brier_skill'], 4)} |")
    best = max(BASELINES, key=lambda b: m[b]["average_precision"] or 0)
    aps = [r["models"]["model"]["average_precision"] for r in reports]
    hrs = [r["models"]["model"]["hr_at_1pct"] for r in reports]
    ons = [r["models"]["model"]["onset"]["average_precision"] for r in reports]
    bsk = [r["models"]["model"]["brier_skill"] for r in reports]
    best_hr = max(m[b]["hr_at_1pct"] or 0 for b in BASELINES)
    best_on = max(m[b]["onset"]["average_precision"] or 0 for b in BASELINES)
    ap_b = m[best]["average_precision"]
    lines += ["", f"model / best baseline ({best}) on AP, per seed "
              f"{[r['seed'] for r in reports]}: "
              + ", ".join(f"{a / ap_b:.2f}x" for a in aps),
              "HR@1% model vs best baseline: " + ", ".join(f"{h:.3f}" for h in hrs)
              + f" vs {best_hr:.3f}",
              "onset AP model vs best baseline: " + ", ".join(f"{o:.4f}" for o in ons)
              + f" vs {best_on:.4f}",
              "Brier skill of the model: " + ", ".join(f"{b:+.4f}" for b in bsk), ""]
    return "\n".join(lines)


def _patch_params(params: list[str]) -> None:
    """Experiment hook: extra RiskModel parameters for every "model" fit of the backtest."""
    import geo_risk.forecast as fc  # the backtest fits through forecast.fit_models
    from geo_risk.model import RiskModel

    extra: dict[str, Any] = {}
    for p in params:
        key, _, value = p.partition("=")
        try:
            extra[key] = (None if value == "None" else float(value) if "." in value
                          else int(value))
        except ValueError:
            extra[key] = value
    original = fc.fit_model

    def fit(name: str, ts: Any, config: Any) -> Any:
        if name != "model":
            return original(name, ts, config)
        m = RiskModel(**{"n_estimators": config.n_estimators, "n_seeds": config.n_seeds,
                         "random_state": config.seed, **extra})
        return m.fit(pd.DataFrame(ts.X, columns=ts.feature_names), ts.y,
                     sample_weight=ts.weight, week=ts.week)

    fc.fit_model = fit  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", action="append", required=True, help="scenario.toml (repeat)")
    ap.add_argument("--years", type=float, default=3.0, help="years forecast, ending with "
                    "the last complete week of data")
    ap.add_argument("--start", help="first forecast week (overrides --years)")
    ap.add_argument("--end", help="last forecast week (with --start)")
    ap.add_argument("--res", type=int, default=6, help="H3 resolution (0 = the config's)")
    ap.add_argument("--refit-every", type=int, default=8)
    ap.add_argument("--training-weeks", type=int, default=0, help="0 = the config's")
    ap.add_argument("--max-rows", type=int, default=0,
                    help="training rows after thinning the negatives; 0 = the config's")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0])
    ap.add_argument("--json", help="write all reports to this file")
    ap.add_argument("--param", action="append", default=[],
                    help="RiskModel parameter for an experiment, e.g. blend=0.5 (repeat)")
    args = ap.parse_args()
    if args.param:
        _patch_params(args.param)
    print(f"geo-risk forecast benchmark; cores {os.cpu_count()}, load "
          f"{os.getloadavg()[0]:.1f}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
          f"model params {args.param or 'default'}\n")
    reports = []
    for path in args.config:
        rs = bench_one(path, args)
        reports.extend(rs)
        print(table(rs), flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process {peak_mb:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1, allow_nan=False))


if __name__ == "__main__":
    main()
