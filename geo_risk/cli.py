"""The ``geo-risk`` command line."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import GeoRiskError


class Ctx:
    def __init__(self, verbosity: int, as_json: bool) -> None:
        self.verbosity = verbosity
        self.as_json = as_json
        self.t0 = time.perf_counter()

    def say(self, msg: str, *, level: int = 1) -> None:
        """Progress and notes go to stderr so --json output on stdout stays clean."""
        if self.verbosity >= level:
            click.echo(f"[{time.perf_counter() - self.t0:6.1f}s] {msg}", err=True)

    def warn(self, msg: str) -> None:
        if self.verbosity >= 0:
            click.secho(f"WARNING: {msg}", err=True, fg="yellow", bold=True)


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user mistakes into a clear message and exit code 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GeoRiskError as e:
            click.secho(f"Error: {e}", err=True, fg="red")
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="geo-risk")
@click.option("-v", "--verbose", count=True, help="More detail (repeat for more).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and warnings.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool, as_json: bool) -> None:
    """geo-risk: weekly protection-risk grids, admin risk matrices and offline maps."""
    ctx.obj = Ctx(-1 if quiet else 1 + verbose, as_json)


def _summary(ctx: Ctx, result: Any, paths: dict[str, Path]) -> None:
    from .outputs import run_record  # noqa: F401 - keeps import cost off --help

    inputs = result.inputs
    if ctx.as_json:
        record = json.loads(paths["run"].read_text(encoding="utf-8"))
        click.echo(json.dumps({"week": record["week"], "rows": record["rows"],
                               "warnings": record["warnings"],
                               "outputs": {k: str(v) for k, v in paths.items()}}, indent=2))
        return
    for w in inputs.warnings:
        ctx.warn(w)
    for r in inputs.reports:
        ctx.say(f"{r.kind:<20} {Path(r.path).name}: read {r.rows_read}, accepted "
                f"{r.rows_accepted}, rejected {r.rows_rejected}{_outside(r.rows_outside)}",
                level=1)
    top = result.matrix.head(5)
    ctx.say("highest-risk admin units: " + "; ".join(
        f"{n} ({lv}, p={p:.2f})" for n, lv, p in
        zip(top["admin_name"], top["level"], top["likelihood"], strict=True)))
    out = paths["run"].parent
    if ctx.verbosity >= 0:
        click.echo(f"Wrote {', '.join(p.name for p in paths.values())} to {out}/")
        if "map" in paths:
            click.echo(f"Open {paths['map']} in a browser (works offline).")
        if "brief" in paths:
            click.echo(f"Weekly brief for reports: {paths['brief']}")


def _run(ctx: Ctx, config_path: Path, week: str | None, out: Path, no_map: bool, *,
         wait_s: float = 0.0, keep: tuple[str, ...] = (), use_state: bool = False,
         engine: dict[str, Any] | None = None) -> None:
    from .config import load_config
    from .outdir import output_lock
    from .outputs import write_outputs
    from .pipeline import load_inputs, run_week
    from .render.png_worker import PngRenderer

    # The lock is held from the start: a second run on the same folder stops before any work.
    # map.png's worker process starts now and imports its renderer while the job runs.
    with output_lock(out, wait_s=wait_s) as notes, \
            PngRenderer(enabled=False if no_map else None) as png:
        for note in notes:
            ctx.warn(note)
        config = load_config(config_path)
        scoring = f"scoring the week of {week or config.forecast_week or '(after newest incident)'}"
        if engine is not None:
            from .engine import dask_client, dask_locator
            from .engine.commands import place_parts, run_week_dask

            opts = dict(engine)
            where = opts.pop("scheduler", None)
            ctx.say(f"on dask: {where or str(opts['workers']) + ' workers'}"
                    " (from scratch: the dask engine does not use the state folder)")
            with dask_client(scheduler=where, workers=opts.pop("workers")) as client:
                ctx.say(f"reading inputs named in {config_path} (rows placed on the workers)")
                inputs = load_inputs(config, locate=dask_locator(client))
                ctx.say(scoring)
                result = run_week_dask(config, week=week, inputs=inputs, out_dir=out,
                                       progress=ctx.verbosity >= 1, client=client, **opts)
        else:
            ctx.say(f"reading inputs named in {config_path}")
            inputs = load_inputs(config)
            ctx.say(scoring)
            result = run_week(config, week=week, inputs=inputs, progress=ctx.verbosity >= 1,
                              use_state=use_state)
        done: dict[str, Any] = result.model.get("state") or {}
        if use_state and engine is None:
            ctx.say(f"state: {'used' if done.get('used') else 'rebuilt'} "
                    f"({done.get('reason', '')}); scorer "
                    f"{'reused' if done.get('model_reused') else 'trained'}")
        ctx.say("writing outputs")
        paths = write_outputs(result, config, out, render_map=not no_map, keep=keep,
                              png=png)
        if engine is not None:
            paths["risk_cells"] = place_parts(out)
    _summary(ctx, result, paths)


def _week(value: str | None) -> str | None:
    if value is None:
        return None
    import pandas as pd  # here, not at the top: `geo-risk --help` needs no pandas (~0.6 s)

    try:
        return str(pd.Timestamp(value).date())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD.") from None



def _engine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--engine/--scheduler/--workers/--partitions, shared by ``run`` and ``backtest``."""
    for option in reversed((
        click.option("--engine", default="single", show_default=True,
                     type=click.Choice(["single", "dask"]),
                     help="dask: partition the grid and run on a dask cluster (local by "
                     "default)."),
        click.option("--scheduler", default=None,
                     help="With --engine dask: address of a running dask scheduler."),
        click.option("--workers", default=2, show_default=True, type=click.IntRange(1),
                     help="With --engine dask and no --scheduler: workers of the local "
                     "cluster."),
        click.option("--partitions", default=None, type=click.IntRange(1),
                     help="With --engine dask: grid partitions (default: ~100k cells each, "
                     "at least two per worker)."),
    )):
        f = option(f)
    return f


def _outside(n: int) -> str:
    """" (n of them outside the area)" when rows fell outside the boundaries, else ""."""
    return f" ({n} of them outside the area)" if n else ""

@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path),
              help="TOML configuration naming the inputs.")
@click.option("--week", default=None, help="Any day of the forecast week (YYYY-MM-DD); "
              "default: forecast_week in the config, else the week after the newest incident.")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the outputs.")
@click.option("--no-map", is_flag=True, help="Skip map.html.")
@click.option("--wait", "wait_s", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Seconds to wait when another run is writing the same --out folder.")
@click.option("--no-state", is_flag=True, help="Ignore the state folder (.geo-risk next to "
              "the config, or state_dir): rebuild everything and save nothing.")
@_engine_options
@click.pass_obj
@_user_errors
def run(ctx: Ctx, config_path: Path, week: str | None, out: Path, no_map: bool,
        wait_s: float, no_state: bool, engine: str, scheduler: str | None, workers: int,
        partitions: int | None) -> None:
    """Score one week: risk_grid.parquet, admin_matrix.csv, map.html, run.json, rejects.csv.

    The outputs replace --out only when all are written; the run before is kept as
    OUT.previous. With --engine dask the scores are the same, cell for cell, and each grid
    partition's cells are also written to OUT/risk_cells/ (GeoParquet, one file each).
    """
    if engine == "single" and (scheduler or partitions):
        raise click.BadParameter("--scheduler and --partitions need --engine dask.",
                                 param_hint="--engine")
    options = ({"scheduler": scheduler, "workers": workers, "partitions": partitions}
               if engine == "dask" else None)
    _run(ctx, config_path, _week(week), out, no_map, wait_s=wait_s, engine=options,
         use_state=not no_state)


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path))
@click.option("--rejects", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the rejected rows to this CSV.")
@click.pass_obj
@_user_errors
def validate(ctx: Ctx, config_path: Path, rejects: Path | None) -> None:
    """Check a configuration and every input; report rows accepted and rejected."""
    import pandas as pd

    from .config import load_config
    from .pipeline import check_freshness, load_inputs

    config = load_config(config_path)
    inputs = load_inputs(config)
    today = pd.Timestamp.today().normalize()
    check_freshness(config, inputs, reference=today, label=f"today ({today.date()})")
    if rejects is not None:
        inputs.rejects.to_csv(rejects, index=False)
    if ctx.as_json:
        from dataclasses import asdict

        click.echo(json.dumps({"inputs": [asdict(r) for r in inputs.reports],
                               "warnings": inputs.warnings,
                               "rejects": int(len(inputs.rejects))}, indent=2, default=str))
        return
    click.echo(f"Boundaries: {len(inputs.admin)} admin units from {config.boundaries.path.name}")
    for r in inputs.reports:
        click.echo(f"{r.kind:<20} {Path(r.path).name}: read {r.rows_read}, accepted "
                   f"{r.rows_accepted}, rejected {r.rows_rejected}{_outside(r.rows_outside)}; "
                   f"newest {r.newest_date}")
    for w in inputs.warnings:
        ctx.warn(w)
    if len(inputs.rejects):
        reasons = inputs.rejects["reason"].value_counts().head(8)
        click.echo("Most common reasons for rejection:")
        for reason, n in reasons.items():
            click.echo(f"  {n:>6}  {reason}")
        sample = inputs.rejects.head(5)
        click.echo("First rejected rows:")
        for rec in sample.itertuples():
            click.echo(f"  {Path(str(rec.file)).name}, row {rec.row}, column {rec.column!r}: "
                       f"{rec.reason}")
    click.echo("OK: configuration and inputs are usable." if not inputs.warnings
               else "Usable, with warnings above.")


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(path_type=Path))
@click.option("--start", required=True, help="First forecast week (any day in it, YYYY-MM-DD).")
@click.option("--end", required=True, help="Last forecast week (any day in it, YYYY-MM-DD).")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--refit-every", default=4, show_default=True, type=click.IntRange(1, 52),
              help="Refit the models every N weeks (1 = every week).")
@click.option("--models", default="model,persistence,historical_average,conflictology",
              show_default=True, help="Comma-separated models to compare.")
@_engine_options
@click.pass_obj
@_user_errors
def backtest(ctx: Ctx, config_path: Path, start: str, end: str, out: Path, refit_every: int,
             models: str, engine: str, scheduler: str | None, workers: int,
             partitions: int | None) -> None:
    """Rolling-origin backtest of the model against the baselines: backtest.json/.html."""
    from .backtest import MODEL_NAMES, run_backtest, write_backtest
    from .config import load_config

    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(MODEL_NAMES))
    if unknown:
        raise click.BadParameter(f"unknown model(s) {unknown}; use {list(MODEL_NAMES)}.",
                                 param_hint="--models")
    config = load_config(config_path)
    ctx.say(f"backtesting {', '.join(names)} from {_week(start)} to {_week(end)}")
    if engine == "dask":
        from .engine import dask_client
        from .engine.backtest import run_backtest_dask

        with dask_client(scheduler=scheduler, workers=workers) as client:
            report = run_backtest_dask(config, start=str(_week(start)), end=str(_week(end)),
                                       models=names, refit_every=refit_every, client=client,
                                       n_parts=partitions)
    else:
        report = run_backtest(config, start=str(_week(start)), end=str(_week(end)),
                              models=names, refit_every=refit_every,
                              progress=ctx.verbosity >= 1)
    paths = write_backtest(report, out)
    if ctx.as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for note in report["notes"]:
        click.echo(note)
    click.echo(f"Wrote {paths['json']} and {paths['html']} ({report['weeks']} weeks, "
               f"{report['wall_time_s']:.0f} s).")


@main.command()
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--preset", default="default", show_default=True,
              type=click.Choice(["default", "sparse", "continent"]),
              help="sparse: real-like sparsity (~0.04% of res-6 cell-weeks with an event); "
              "continent: six fictional countries, ~1.1 M res-7 cells, ~2.2 M incidents over "
              "ten years (to test --engine dask).")
@click.pass_obj
@_user_errors
def synth(ctx: Ctx, out: Path, seed: int, preset: str) -> None:
    """Write a SYNTHETIC scenario (fictional country) in real export formats."""
    from .synth import ScenarioSpec, generate_scenario

    if preset == "continent":
        from .synth.continent import generate_continent

        ctx.say("drawing the SYNTHETIC continent (about a minute)")
        written = generate_continent(out_dir=out, seed=seed)
        click.echo(f"Wrote a SYNTHETIC continent (seed {seed}) to {out}/; config: "
                   f"{written['config'].name}.")
        return
    files = generate_scenario(out_dir=out, seed=seed, spec=ScenarioSpec.preset(preset))
    click.echo(f"Wrote a SYNTHETIC scenario ({preset}, seed {seed}) to {out}/; config: "
               f"{Path(files.config).name}, forecast week {files.forecast_week}.")


@main.command()
@click.option("--out", default=Path("out/demo"), show_default=True,
              type=click.Path(path_type=Path, file_okay=False))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--preset", default="default", show_default=True,
              type=click.Choice(["default", "sparse"]),
              help="sparse: real-like sparsity (~0.04% of res-6 cell-weeks with an event).")
@click.pass_obj
@_user_errors
def demo(ctx: Ctx, out: Path, seed: int, preset: str) -> None:
    """Generate the SYNTHETIC scenario and run the weekly job on it, offline."""
    from .outdir import output_lock
    from .synth import ScenarioSpec, generate_scenario

    scenario = out / "scenario"
    with output_lock(out):
        ctx.say(f"generating the SYNTHETIC scenario ({preset}, seed {seed}) in {scenario}/")
        files = generate_scenario(out_dir=scenario, seed=seed, spec=ScenarioSpec.preset(preset))
        _run(ctx, Path(files.config), None, out, False, keep=("scenario",))


if __name__ == "__main__":  # pragma: no cover
    main()
