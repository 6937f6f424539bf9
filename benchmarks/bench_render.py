"""Benchmark: render time of the weekly brief, admin matrix page and map on the demo scenario.

Runs the weekly job once on the SYNTHETIC demo scenario (seed 42), keeps its result, then
times :func:`geo_risk.render.brief.brief_for_run` (with the map page and PNG embedded, as
``geo-risk run`` does), :func:`geo_risk.engagement.matrix_html` and
:func:`geo_risk.render.render_map`, each ``--repeats`` times, and prints the median.

``--cache FILE`` keeps the scored week (a pickle) so that two versions of the code can be
timed on identical inputs: run once with the new code to write the cache, then run again with
``PYTHONPATH`` pointing at another checkout of ``geo_risk`` (e.g. ``git archive`` of an older
commit). The PNG is rendered once per run and is not part of the brief's timing.

Usage::

    .venv/bin/python benchmarks/bench_render.py [--repeats 7] [--cache /tmp/week.pkl]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _scored_week(cache: Path | None) -> tuple[Any, Any]:
    if cache is not None and cache.exists():
        with cache.open("rb") as f:
            return pickle.load(f)  # our own file, written below
    from geo_risk.config import load_config
    from geo_risk.pipeline import load_inputs, run_week
    from geo_risk.synth import generate_scenario

    with tempfile.TemporaryDirectory() as tmp:
        files = generate_scenario(out_dir=Path(tmp) / "scenario", seed=42)
        config = load_config(Path(files.config))
        result = run_week(config, inputs=load_inputs(config))
    if cache is not None:
        with cache.open("wb") as f:
            pickle.dump((result, config), f)
    return result, config


def _median_s(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()

    import geo_risk
    from geo_risk.engagement import matrix_html
    from geo_risk.render import MapMeta, render_map
    from geo_risk.render.brief import _png_for_run, brief_for_run

    result, config = _scored_week(args.cache)
    print(f"geo_risk from {Path(geo_risk.__file__).parent}")
    meta = MapMeta(title=config.title, week=result.week.date(), synthetic=config.synthetic,
                   h3_resolution=config.h3_resolution)
    grid = result.grid.drop(columns="geometry")
    boundaries = result.inputs.admin

    def page() -> str:
        return render_map(grid=grid, boundaries=boundaries, meta=meta,
                          restrictions=result.restrictions_in_force, bases=result.inputs.bases,
                          history=result.history)

    map_page = page()
    png = _png_for_run(result, config)
    brief = brief_for_run(result, config, map_html=map_page, map_png=png)
    print(f"brief.html {len(brief) / 1e6:.2f} MB, map.html {len(map_page) / 1e6:.2f} MB, "
          f"{len(result.matrix)} admin units, {len(grid):,} cells")
    rows = [
        ("brief (map + PNG embedded)",
         lambda: brief_for_run(result, config, map_html=map_page, map_png=png)),
        ("admin matrix page",
         lambda: matrix_html(matrix=result.matrix, title=config.title,
                             week=str(result.week.date()), synthetic=config.synthetic)),
        ("map page", page),
    ]
    for name, fn in rows:
        fn()  # warm-up (imports, template compilation)
        print(f"{name:<28} median of {args.repeats}: {_median_s(fn, args.repeats) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
