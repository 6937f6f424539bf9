"""Benchmark: the weekly forecast on one process vs the dask engine, on the SYNTHETIC continent.

Generates ``geo-risk synth --preset continent`` (six fictional countries, ~1.1 M H3 res-7
cells, ~2.2 M ACLED-style incidents over ten years) unless ``--data`` already holds it, reads
and places the inputs once (``load_inputs`` + ``build_grid``; the same for every engine, so
timed once and cached as a pickle beside the data), then runs the weekly forecast (streamed
features, LightGBM trained on two years, the four candidates checked on its newest block of
weeks, scores of the map's weeks, drivers) in a fresh subprocess per engine:

* **single**: :func:`geo_risk.forecast.forecast`, the ``--engine single`` path;
* **dask-N**: :func:`geo_risk.engine.forecast_dask` on a ``LocalCluster`` of N worker
  processes (one thread each), for each N in ``--workers`` (default 1 and 2).

The naive baseline here is the single-process engine itself. Printed per run: wall time,
peak memory (``VmHWM`` of the driver process, and of each dask worker process, read in the
process), the driver's steps and the workers' seconds per stage; then whether every engine
gave the single-process probabilities (max absolute difference per cell, onsets, drivers);
then what the measured per-partition costs imply for 16 and 64 workers (on paper: the
per-cell cost of each stage times the cells and halos a worker would hold, plus the driver's
serial steps; not measured). Nothing is asserted; nothing is written into the repository.

``--reading`` (with ``--skip-single --workers ""``: only this) also times reading and
placing the inputs on one process against the same with the rows placed on the dask workers
(``geo_risk.engine.dask_locator``, as ``geo-risk run --engine dask`` does), each in a fresh
process, and checks the placements are the same.

Run: ``.venv/bin/python benchmarks/bench_dask.py [--data DIR] [--workers 1,2] [--scale 0.1]
[--reading]``
(about 30-40 minutes on a busy 2-core machine, most of it reading 2.2 M rows once and
the single-process run).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def vm_hwm_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def continent_spec(scale: float) -> Any:
    """The continent preset, or a box ``scale`` times its area with ``scale`` times the
    districts, towns, hotspots and incidents (same density, same ten years)."""
    from geo_risk.synth.continent import ContinentSpec

    spec = ContinentSpec()
    if scale == 1.0:
        return spec
    x0, y0, x1, y1 = spec.bbox
    k = float(np.sqrt(scale))
    return ContinentSpec(bbox=(x0, y0, x0 + (x1 - x0) * k, y0 + (y1 - y0) * k),
                         n_countries=spec.n_countries,
                         n_adm1=max(spec.n_countries, round(spec.n_adm1 * scale)),
                         n_adm2=max(spec.n_countries, round(spec.n_adm2 * scale)),
                         n_towns=round(spec.n_towns * scale),
                         n_hotspots=max(1, round(spec.n_hotspots * scale)),
                         incidents=round(spec.incidents * scale))


def prepare(data: Path, scale: float = 1.0) -> Path:
    """Generate the continent if needed; read and place its inputs once (cached)."""
    from geo_risk.config import load_config
    from geo_risk.pipeline import build_grid, load_inputs
    from geo_risk.synth.continent import generate_continent

    if not (data / "config.toml").exists():
        t0 = time.perf_counter()
        generate_continent(out_dir=data, seed=42, spec=continent_spec(scale))
        print(f"generated the SYNTHETIC continent in {time.perf_counter() - t0:.0f} s")
    cache = data / "prepared.pkl"
    if not cache.exists():
        t0 = time.perf_counter()
        cfg = load_config(data / "config.toml")
        inputs = load_inputs(cfg)
        t1 = time.perf_counter()
        grid = build_grid(cfg, inputs)
        t2 = time.perf_counter()
        with cache.open("wb") as f:
            pickle.dump({"config": cfg, "inputs": inputs, "grid": grid}, f, protocol=5)
        print(f"read + placed {len(inputs.incidents):,} incidents in {t1 - t0:.0f} s; grid of "
              f"{len(grid):,} cells in {t2 - t1:.0f} s (peak {vm_hwm_mb():.0f} MB)")
    return cache


def child(engine: str, cache: Path, out: Path) -> None:
    """One engine's forecast in this (fresh) process; results to ``out`` (.npz + .json)."""
    with cache.open("rb") as f:
        prep = pickle.load(f)
    cfg, inputs, grid = prep["config"], prep["inputs"], prep["grid"]
    kw: dict[str, Any] = dict(
        incidents=inputs.incidents, consultations=inputs.consultations,
        restrictions=inputs.restrictions, bases=inputs.bases,
        week=pd.Timestamp(cfg.forecast_week), config=cfg.model,
        admin_names=inputs.admin.set_index("admin_pcode")["admin_name"],
        min_count=cfg.min_count)
    base_mb = vm_hwm_mb()
    record: dict[str, Any] = {"engine": engine, "cells": len(grid),
                              "incidents": len(inputs.incidents), "mb_after_load": base_mb,
                              "load_avg": os.getloadavg()[0]}
    t0 = time.perf_counter()
    if engine == "single":
        from geo_risk.forecast import forecast

        fc = forecast(grid, **kw)
    else:
        from geo_risk.engine import dask_client, forecast_dask

        workers = int(engine.split("-")[1])
        with dask_client(workers=workers, processes=True) as client:
            fc = forecast_dask(grid, client=client, **kw)
            record["worker_mb"] = sorted(client.run(vm_hwm_mb).values())
        record["engine_info"] = fc.info["engine"]
    record["wall_s"] = time.perf_counter() - t0
    record["driver_mb"] = vm_hwm_mb()
    record["model"] = fc.info["model"]
    record["training_rows"] = fc.info["training_rows"]
    np.savez(out.with_suffix(".npz"), risk=fc.risk, prev=fc.risk_prev, onset=fc.onset,
             drivers=fc.drivers.astype(str))
    out.with_suffix(".json").write_text(json.dumps(record, default=float))


def scaling(info: dict[str, Any], n_cells: int, workers: tuple[int, ...]) -> list[str]:
    """What a cluster of W workers would take, from the per-partition costs measured.

    Per stage, the seconds of each partition are fitted as ``a + b * held cells`` (least
    squares over the partitions, ``a >= 0``: a fixed cost per partition, e.g. the weekly
    Python steps, plus a cost per core + halo cell). A cluster of W workers with 2W
    partitions then takes, on paper, the driver's serial steps plus two partitions' worth of
    each stage per worker (perfect balance, no transfer cost).
    """
    secs = info["partition_seconds"]
    cells = np.asarray(info["cells"], float)
    halo = np.asarray(info["halo_cells"], float)
    held = cells + halo
    fits = {}
    for stage, values in secs.items():
        y = np.asarray(values, float)
        if np.ptp(held) > 0:
            b, a = np.polyfit(held, y, 1)
        else:
            a, b = 0.0, float(y.mean() / held.mean())
        if a < 0 or b < 0:
            a, b = (0.0, float(y.sum() / held.sum())) if a < 0 else (float(y.mean()), 0.0)
        fits[stage] = (float(a), float(b))
    d = info["driver_seconds"]
    serial = d.get("prepare", 0) + d.get("plan", 0) + d.get("fit", 0) + d.get("explain", 0)
    lines = [f"  measured: {len(cells)} partitions of {cells.min():,.0f}-{cells.max():,.0f} "
             f"cells (+{halo.min():,.0f}-{halo.max():,.0f} halo); per stage fixed s per "
             "partition + us per held cell: "
             + ", ".join(f"{k} {a:.2f} s + {b * 1e6:.1f} us" for k, (a, b) in fits.items()),
             f"  driver serial steps (prepare, plan, fit, explain): {serial:.1f} s"]
    for w in workers:
        parts = 2 * w
        c = n_cells / parts
        # the halo grows like a partition's perimeter: the square root of its cells
        h = float(halo.mean()) * np.sqrt(c / float(cells.mean()))
        work = sum(2 * (a + b * (c + h)) for a, b in fits.values())
        lines.append(f"  {w:>3} workers, {parts} partitions of ~{c:,.0f} cells (+~{h:,.0f} "
                     f"halo): ~{work:.1f} s on each worker + {serial:.1f} s driver = "
                     f"~{work + serial:.1f} s (on paper)")
    return lines


def read_child(engine: str, data: Path, out: Path) -> None:
    """Read and place the inputs in this (fresh) process, on one process or with the rows
    placed on a local dask cluster; time, peak memory and a digest of the placements."""
    import hashlib

    from geo_risk.config import load_config
    from geo_risk.pipeline import load_inputs

    cfg = load_config(data / "config.toml")
    t0 = time.perf_counter()
    if engine == "single":
        inputs = load_inputs(cfg)
        setup = 0.0
    else:
        from geo_risk.engine import dask_client, dask_locator

        with dask_client(workers=int(engine.split("-")[1])) as client:
            setup = time.perf_counter() - t0
            inputs = load_inputs(cfg, locate=dask_locator(client))
    wall = time.perf_counter() - t0
    inc = inputs.incidents
    digest = hashlib.sha256(inc["cell"].to_numpy().tobytes()
                            + "|".join(inc["admin_pcode"].astype(str)).encode()).hexdigest()
    out.write_text(json.dumps({"wall_s": wall, "cluster_start_s": setup, "rows": len(inc),
                               "rejects": len(inputs.rejects), "digest": digest,
                               "driver_mb": vm_hwm_mb(), "load_avg": os.getloadavg()[0]}))


def compare_reading(data: Path, engines: list[str]) -> None:
    """Reading + placing the inputs on one process vs with the rows placed on dask."""
    print("\nreading and placing the inputs (each in a fresh process):")
    first: dict[str, Any] | None = None
    for engine in engines:
        res = data / f"read_{engine}.json"
        subprocess.run([sys.executable, __file__, "--read-child", engine, "--cache",
                        str(data), "--result", str(res)], check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        r = json.loads(res.read_text())
        first = first or r
        same = "same placements" if r["digest"] == first["digest"] else "DIFFERENT placements"
        print(f"  {engine:>8}: {r['wall_s']:6.1f} s (of which cluster start "
              f"{r['cluster_start_s']:.1f} s), {r['rows']:,} rows, {r['rejects']:,} rejects, "
              f"driver peak {r['driver_mb']:,.0f} MB, load avg {r['load_avg']:.1f}; {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None,
                    help="folder of the continent (generated when empty); default: temporary")
    ap.add_argument("--workers", default="1,2", help="dask worker counts, comma-separated")
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="area and counts of the continent relative to the preset (e.g. 0.1 "
                    "for a quick run; 1.0 = the preset)")
    ap.add_argument("--reading", action="store_true",
                    help="also time reading + placing the inputs on one process vs with the "
                    "rows placed on the dask workers")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--read-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.cache, args.result)
        return
    if args.read_child:
        read_child(args.read_child, args.cache, args.result)
        return
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_dask_")
        args.data = Path(tmp.name)
    args.data.mkdir(parents=True, exist_ok=True)
    cache = prepare(args.data, args.scale)
    engines = ([] if args.skip_single else ["single"]) + [
        f"dask-{int(n)}" for n in args.workers.split(",") if n.strip()]
    results: dict[str, dict[str, Any]] = {}
    for engine in engines:
        res = args.data / f"result_{engine}"
        subprocess.run([sys.executable, __file__, "--child", engine, "--cache", str(cache),
                        "--result", str(res)], check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        results[engine] = json.loads(res.with_suffix(".json").read_text())
        r = results[engine]
        workers = (f"; workers peak {', '.join(f'{m:,.0f}' for m in r['worker_mb'])} MB"
                   if "worker_mb" in r else "")
        print(f"{engine:>8}: {r['wall_s']:7.1f} s, driver peak {r['driver_mb']:,.0f} MB "
              f"({r['mb_after_load']:,.0f} after loading the inputs){workers}; model "
              f"{r['model']}, {r['training_rows']:,} training rows; load avg "
              f"{r['load_avg']:.1f}")
        if "engine_info" in r:
            info = r["engine_info"]
            print("          driver steps (s): " + ", ".join(
                f"{k} {v:.1f}" for k, v in info["driver_seconds"].items()))
            print("          worker seconds per stage (sum over partitions): " + ", ".join(
                f"{k} {sum(v):.1f}" for k, v in info["partition_seconds"].items()))
    if args.reading:
        on_dask = [e for e in engines if e != "single"] or ["dask-2"]
        compare_reading(args.data, ["single", *on_dask])
    if not engines:
        return
    ref_name = engines[0]
    ref = np.load(args.data / f"result_{ref_name}.npz")
    print(f"\nequality against {ref_name}, {len(ref['risk']):,} cells:")
    for engine in engines[1:]:
        other = np.load(args.data / f"result_{engine}.npz")
        print(f"  {engine}: max |risk diff| {np.abs(other['risk'] - ref['risk']).max():.2e}, "
              f"max |prev diff| {np.abs(other['prev'] - ref['prev']).max():.2e}, onsets equal "
              f"{bool((other['onset'] == ref['onset']).all())}, drivers equal "
              f"{bool((other['drivers'] == ref['drivers']).all())}")
    dask_runs = [e for e in engines if e.startswith("dask")]
    if dask_runs:
        last = results[dask_runs[-1]]
        print(f"\nscaling implied by {dask_runs[-1]}'s per-partition costs:")
        for line in scaling(last["engine_info"], last["cells"], (1, 2, 16, 64)):
            print(line)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
