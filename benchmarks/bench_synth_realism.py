"""How realistic is the SYNTHETIC scenario? Sparsity, onsets and the baselines' ranking.

Generates the default scenario for seeds 42, 1 and 2 and the ``sparse`` preset (seed 42), prints
:func:`geo_risk.synth.scenario_statistics` at H3 res 6 for each, and a baselines-only backtest
(persistence, historical average, conflictology; ``run_backtest`` over the last 52 weeks,
refit every 13 weeks, at res 6 like the real figures). Compare with the figures measured on
real ACLED exports (benchmarks/README.md): base rate ~0.04% of res-6 cell-weeks, ~20% of
positive cell-weeks are onsets, AP conflictology ~0.21 >= historical average ~0.17 >>
persistence ~0.06. Writes only to a temporary folder (or ``--out``).

Run from the repository root: ``.venv/bin/python benchmarks/bench_synth_realism.py``
(``--runs default:42 sparse:42`` to pick runs; ``--resolution 7`` for the other grid).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from geo_risk.backtest import run_backtest
from geo_risk.config import load_config
from geo_risk.synth import ScenarioSpec, generate_scenario, scenario_statistics

BASELINES = ("persistence", "historical_average", "conflictology")
RUNS = ("default:42", "default:1", "default:2", "sparse:42")


def one(preset: str, seed: int, root: Path, resolution: int, weeks: int) -> None:
    t0 = time.perf_counter()
    files = generate_scenario(out_dir=root / f"{preset}_{seed}", seed=seed,
                              spec=ScenarioSpec.preset(preset))
    t1 = time.perf_counter()
    s = scenario_statistics(files, resolution=resolution)
    print(f"\n== {preset} seed {seed}: {files.n_incidents} incidents, generated in "
          f"{t1 - t0:.0f} s")
    print(f"  res-{resolution} base rate {100 * s['base_rate']:.3f}% of cell-weeks "
          f"({s['positive_cells_per_week']:.1f} event cells a week of {s['n_cells']:.0f}); "
          f"onsets {100 * s['onset_share']:.0f}% of positives; {s['events_per_week']:.1f} "
          f"events a week; {100 * s['quiet_unit_share']:.0f}% of units quiet in the last year; "
          f"busiest unit {100 * s['top_unit_share']:.0f}% of last year's events")
    config = dataclasses.replace(load_config(files.config), h3_resolution=resolution)
    last = files.forecast_week - timedelta(weeks=1)
    first = files.forecast_week - timedelta(weeks=weeks)
    t2 = time.perf_counter()
    rep = run_backtest(config, start=str(first), end=str(last), models=BASELINES,
                       refit_every=13)
    print(f"  backtest {weeks} weeks at res {resolution} ({time.perf_counter() - t2:.0f} s):")
    print(f"  {'model':<20}{'AP':>8}{'onset AP':>10}{'Brier skill':>13}")
    ranked = sorted(BASELINES, key=lambda m: -(rep['models'][m]['average_precision'] or 0))
    for m in ranked:
        r = rep["models"][m]
        onset_ap = r["onset"]["average_precision"] or 0
        print(f"  {m:<20}{r['average_precision']:>8.3f}{onset_ap:>10.3f}"
              f"{r.get('brier_skill') or 0:>13.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="*", default=list(RUNS), help="PRESET:SEED ...")
    ap.add_argument("--resolution", type=int, default=6)
    ap.add_argument("--weeks", type=int, default=52, help="weeks backtested (the last ones)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        for run in args.runs:
            preset, seed = run.split(":")
            one(preset, int(seed), root, args.resolution, args.weeks)


if __name__ == "__main__":
    main()
