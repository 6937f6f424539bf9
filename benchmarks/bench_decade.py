"""Benchmark: a ten-year weekly backtest at H3 res 6 with all four models, time and memory.

Generates the SYNTHETIC Veridia scenario with ``--years`` (default 10) years of forecast weeks
plus 120 weeks of history before them (``ScenarioSpec(weeks=YEARS * 52 + 120,
h3_resolution=6)``), then runs ``run_backtest`` over the last ``YEARS * 52`` weeks (refit every
``--refit-every`` weeks, the model and the three baselines), each run in a fresh subprocess:

* **ours**: the current code and defaults.
* **before**: the settings the backtest shipped with before the speed work (LightGBM 200 trees
  at learning rate 0.05, 255 bins, training sets thinned to 150,000 rows), applied to the
  current code through the model's parameters; or, with ``--before-src DIR``, an older
  checkout of the code itself (``DIR`` holds its ``geo_risk`` package; make one with
  ``git worktree add DIR COMMIT``), run unchanged. It is timed over the LAST
  ``--before-weeks`` weeks only (default 104; 0 = all weeks) and its time per week
  EXTRAPOLATED to all the weeks: seconds per week do not depend on how many weeks are
  forecast (``bench_backtest.py`` measures that).

Printed per run: weeks, wall and CPU seconds of the backtest, the share spent fitting models,
seconds per week, the load average while it ran (the machine may be shared: compare the two
runs of one invocation, and their CPU seconds), peak RSS (``VmHWM``, see ``README.md``) and the
largest RSS seen in each year of forecast weeks (sampled every 0.25 s by a thread of the
worker): if the backtest streams as designed, memory stays flat from year 1 to year 10. Skill
of both runs on the weeks both forecast: average precision, hit rate in the top 1% of area and
onset average precision of each model. Nothing is asserted; nothing is written into the
repository (a temporary folder, or ``--out``).

``--max-rows N`` sets the training rows of "ours" (default 60,000; 150,000 is the default of
``[model] max_rows`` in a config).

Run: ``.venv/bin/python benchmarks/bench_decade.py [--years 10] [--seed 42] [--before-weeks
104] [--before-src DIR] [--no-before] [--concurrent] [--max-rows N] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

WORKER_FLAG = "--worker"
HISTORY_WEEKS = 120
MODELS = ("model", "persistence", "historical_average", "conflictology")
#: The settings before the speed work (see the module docstring).
BEFORE_MODEL = {"n_estimators": 200, "learning_rate": 0.05, "max_bin": 255}
BEFORE_CONFIG = {"max_rows": 150_000, "n_estimators": 200}
#: Training rows for the decade run ("ours"): the default ``[model] max_rows`` is 150,000 (kept
#: for skill on real data, see benchmarks/README.md); a decade backtest can trade a little
#: skill for time with fewer rows, which is what this benchmark measures.
DECADE_MAX_ROWS = 60_000


def _status(key: str) -> float:
    """A ``/proc/self/status`` memory line in MB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _worker(scenario: Path, *, weeks: int, skip: int, refit_every: int, settings: str,
            max_rows: int = DECADE_MAX_ROWS) -> dict[str, Any]:
    import dataclasses

    import pandas as pd

    import geo_risk.backtest as bt
    import geo_risk.forecast as fc
    from geo_risk.config import load_config
    from geo_risk.pipeline import load_inputs

    config = load_config(scenario / "scenario.toml")
    if settings == "ours" and max_rows > 0:
        config = dataclasses.replace(config, model=dataclasses.replace(
            config.model, max_rows=max_rows))
    if settings == "before":  # the former settings, through the current code
        config = dataclasses.replace(config, model=dataclasses.replace(config.model,
                                                                       **BEFORE_CONFIG))
        make = fc.make_model
        fc.make_model = lambda name, **p: make(name, **({**p, **BEFORE_MODEL}
                                                        if name == "model" else p))
    fits: list[float] = []
    # Where the backtest looks the fit up: geo_risk.forecast (through fit_models); an older
    # tree (--before-src) imported it into geo_risk.backtest.
    home: Any = bt if hasattr(bt, "fit_model") else fc
    fit_model = home.fit_model

    def timed_fit(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fit_model(*a, **k)
        finally:
            fits.append(time.perf_counter() - t0)

    home.fit_model = timed_fit
    end = pd.Timestamp(str(config.forecast_week)) - pd.Timedelta(weeks=1)
    start = end - pd.Timedelta(weeks=weeks - 1 - skip)
    inputs = load_inputs(config, now=pd.Timestamp(config.forecast_week))
    rss_load = _status("VmHWM")
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter(), _status("VmRSS")))
            done.wait(0.25)

    # Week of each refit, to map the RSS samples to years of forecast weeks.
    refit_times: list[float] = []
    fit_inner = home.fit_model

    def marking_fit(name: str, *a: Any, **k: Any) -> Any:
        if name == MODELS[0] or not refit_times:
            refit_times.append(time.perf_counter())
        return fit_inner(name, *a, **k)

    home.fit_model = marking_fit
    thread = threading.Thread(target=sample, daemon=True)
    load0, t0, cpu0 = os.getloadavg()[0], time.perf_counter(), time.process_time()
    thread.start()
    report = bt.run_backtest(config, start=start, end=end, inputs=inputs, models=list(MODELS),
                             refit_every=refit_every)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    done.set()
    thread.join()
    # Refit k happens at forecast week k * refit_every: year of a sample = the last refit
    # before it.
    per_year: dict[int, float] = {}
    for t, rss in samples:
        k = max(0, sum(1 for r in refit_times if r <= t) - 1)
        year = (k * refit_every) // 52 + 1
        per_year[year] = max(per_year.get(year, 0.0), rss)
    skill = {m: [report["models"][m]["average_precision"], report["models"][m]["hr_at_1pct"],
                 report["models"][m]["onset"]["average_precision"]] for m in MODELS}
    return {"weeks": report["weeks"], "cells": report["cells"], "wall_s": wall, "cpu_s": cpu,
            "fit_s": sum(fits), "refits": len(refit_times), "load_start": load0,
            "load_end": os.getloadavg()[0], "rss_load_mb": rss_load,
            "rss_peak_mb": _status("VmHWM"), "rss_per_year_mb": per_year, "skill": skill}


def _start_worker(args: list[str], *, src: Path | None) -> subprocess.Popen[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return subprocess.Popen([sys.executable, __file__, WORKER_FLAG, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"worker failed:\n{err[-4000:]}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def _line(label: str, r: dict[str, Any], weeks_total: int) -> str:
    per_week = r["wall_s"] / r["weeks"]
    years = " ".join(f"{int(y)}:{mb:,.0f}" for y, mb in sorted(r["rss_per_year_mb"].items(),
                                                                key=lambda kv: int(kv[0])))
    return (f"{label:7s} {r['weeks']:5d} {r['wall_s']:8.1f} {r['cpu_s']:7.1f} "
            f"{100 * r['fit_s'] / r['wall_s']:5.0f}% {per_week:6.3f} "
            f"{per_week * weeks_total:11,.0f} {r['load_start']:4.1f}-{r['load_end']:<4.1f} "
            f"{r['rss_load_mb']:8,.0f} {r['rss_peak_mb']:8,.0f}  {years}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--refit-every", type=int, default=13)
    parser.add_argument("--before-weeks", type=int, default=104,
                        help="last weeks the former settings are timed on (0 = all weeks)")
    parser.add_argument("--before-src", type=Path, default=None,
                        help="folder holding an older geo_risk package to time instead of the "
                             "former settings")
    parser.add_argument("--no-before", action="store_true")
    parser.add_argument("--max-rows", type=int, default=DECADE_MAX_ROWS,
                        help=f"training rows of 'ours' (default {DECADE_MAX_ROWS:,}; 0: the "
                        "synthetic scenario's [model] max_rows)")
    parser.add_argument("--concurrent", action="store_true",
                        help="run both at once (a busy machine: compare CPU seconds)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from geo_risk.synth import ScenarioSpec, generate_scenario

    weeks = int(round(args.years * 52))
    root = Path(tempfile.mkdtemp(prefix="bench_decade_")) if args.out is None else args.out
    try:
        scen = root / "scenario"
        t = time.perf_counter()
        made = generate_scenario(out_dir=scen, seed=args.seed,
                                 spec=ScenarioSpec(weeks=weeks + HISTORY_WEEKS, h3_resolution=6))
        print(f"SYNTHETIC scenario, seed {args.seed}: {weeks + HISTORY_WEEKS} weeks, "
              f"{made.n_incidents:,} incidents, generated in {time.perf_counter() - t:.0f} s; "
              f"backtest of the last {weeks} weeks at res 6, refit every {args.refit_every} "
              f"weeks, models {', '.join(MODELS)}; each run in a fresh subprocess.")
        common = ["--scenario", str(scen), "--weeks", str(weeks), "--refit-every",
                  str(args.refit_every), "--max-rows", str(args.max_rows)]
        procs: dict[str, subprocess.Popen[str]] = {}
        runs: dict[str, dict[str, Any]] = {}
        procs["ours"] = _start_worker([*common, "--skip", "0", "--settings", "ours"], src=None)
        label = "old src" if args.before_src else "before"
        if not args.no_before:
            if not args.concurrent:
                runs["ours"] = _result(procs.pop("ours"))
            skip = 0 if args.before_weeks <= 0 else max(0, weeks - args.before_weeks)
            procs[label] = _start_worker([*common, "--skip", str(skip), "--settings",
                                          "ours" if args.before_src else "before"],
                                         src=args.before_src)
        runs.update({k: _result(p) for k, p in procs.items()})
        print(f"\n{'run':7s} {'weeks':>5s} {'wall s':>8s} {'cpu s':>7s} {'fit':>6s} "
              f"{'s/week':>6s} {f'{weeks} weeks s':>11s} {'load avg':>9s} {'RSS load':>8s} "
              f"{'peak RSS':>8s}  max RSS by year of forecast weeks (MB)")
        for name, r in runs.items():
            print(_line(name, r, weeks))
        if label in runs and runs[label]["weeks"] < weeks:
            print(f"({label}: the last {runs[label]['weeks']} weeks measured; the {weeks}-week "
                  "figure is EXTRAPOLATED from its seconds per week)")
        if label in runs:
            ours, other = runs["ours"], runs[label]
            ratio = {k: other[k] / other["weeks"] / (ours[k] / ours["weeks"])
                     for k in ("wall_s", "cpu_s")}
            print(f"{label} / ours per week: wall x{ratio['wall_s']:.2f}, "
                  f"CPU x{ratio['cpu_s']:.2f}")
        print("\nskill: AP / HR@1% / onset AP (over each run's own forecast weeks)")
        for m in MODELS:
            cells = "   ".join(f"{name} " + " / ".join("n/a" if v is None else f"{v:.4f}"
                                                        for v in r["skill"][m])
                               for name, r in runs.items())
            print(f"  {m:19s} {cells}")
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)


def _worker_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument(WORKER_FLAG, action="store_true")
    p.add_argument("--scenario", type=Path, required=True)
    p.add_argument("--weeks", type=int, required=True)
    p.add_argument("--skip", type=int, default=0)
    p.add_argument("--refit-every", type=int, default=13)
    p.add_argument("--settings", choices=("ours", "before"), default="ours")
    p.add_argument("--max-rows", type=int, default=DECADE_MAX_ROWS)
    a = p.parse_args(argv)
    r = _worker(a.scenario, weeks=a.weeks, skip=a.skip, refit_every=a.refit_every,
                settings=a.settings, max_rows=a.max_rows)
    print(json.dumps(r))


if __name__ == "__main__":
    if WORKER_FLAG in sys.argv:
        _worker_main(sys.argv[1:])
    else:
        main()
