"""Does the weekly check serve the candidate that does best on the weeks it serves?

For every ``--config`` (a scenario.toml, e.g. a real country's export kept outside the
repository) and each of ``--checks`` retraining weeks spread over the last ``--years`` of its
data, runs the weekly job from scratch for that week (:func:`geo_risk.pipeline.run_week`) and
reads which candidate its check chose and what it measured; then, unless ``--no-served``,
backtests all four candidates over the ``--served`` weeks from that week on
(:func:`geo_risk.backtest.run_backtest`, one fit at the week, as the weekly run serves) and
prints, per week: the check's choice, each candidate's average precision on the served weeks,
the best of them, and the *regret* (best AP - AP of the candidate served). Totals: how often
the check served the best candidate, mean regret, and the mean AP given up against always
serving the model.

Nothing is asserted and nothing is written but ``--json``. Run with another source tree on
``PYTHONPATH`` to compare two versions of the check on the same weeks::

    .venv/bin/python benchmarks/bench_check.py --config ../realdata/bfa/scenario.toml \\
        --config ../realdata/eth/scenario.toml --checks 8 --years 3 --json check.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from geo_risk.backtest import MODEL_NAMES, run_backtest
from geo_risk.config import load_config
from geo_risk.features import monday_of
from geo_risk.pipeline import load_inputs, run_week


def _weeks(inputs: Any, *, years: float, checks: int, served: int, every: int
           ) -> list[pd.Timestamp]:
    """``checks`` retraining weeks (multiples of ``every`` since 1970-01-05) evenly over the
    last ``years``, each with ``served`` weeks of data after it."""
    last = monday_of(pd.Timestamp(inputs.incidents["date"].max())) - pd.Timedelta(
        weeks=served)
    first = last - pd.Timedelta(days=int(years * 365.25))
    epoch = pd.Timestamp("1970-01-05")
    out = []
    for t in pd.date_range(first, last, periods=checks):
        k = (monday_of(t) - epoch).days // 7
        out.append(epoch + pd.Timedelta(weeks=k - k % every))
    return sorted(set(out))


def bench_one(path: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cfg = load_config(path)
    if args.res:
        cfg = replace(cfg, h3_resolution=args.res)
    inputs = load_inputs(cfg)
    rows = []
    for week in _weeks(inputs, years=args.years, checks=args.checks, served=args.served,
                       every=cfg.model.retrain_every_weeks):
        t0 = time.perf_counter()
        v = run_week(cfg, week=week, inputs=inputs).model["validation"]
        row: dict[str, Any] = {
            "config": str(path), "week": str(week.date()), "chosen": v.get("chosen"),
            "check_weeks": v.get("weeks"),
            "check_ap": {k: m["average_precision"] for k, m in v.get("metrics", {}).items()},
            "check_positives": max((m["positives"] or 0 for m in v.get("metrics", {}).values()),
                                   default=0),
            "run_s": round(time.perf_counter() - t0, 1)}
        if not args.no_served:
            end = week + pd.Timedelta(weeks=args.served - 1)
            r = run_backtest(cfg, start=week, end=end, inputs=inputs, models=MODEL_NAMES,
                             refit_every=args.served)
            row["served_ap"] = {m: r["models"][m]["average_precision"] for m in MODEL_NAMES}
            row["served_positives"] = r["models"]["model"].get("positives")
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def summary(rows: list[dict[str, Any]]) -> str:
    lines = []
    for config in sorted({r["config"] for r in rows}):
        mine = [r for r in rows if r["config"] == config and r.get("served_ap")]
        if not mine:
            continue
        regret, given_up, best_hits = [], [], 0
        lines.append(f"## {config}\n")
        lines.append("| week | check chose | AP on served weeks: model / conflictology / "
                     "historical avg / persistence | best | regret |")
        lines.append("|---|---|---|---|---|")
        for r in mine:
            ap = {m: (a if a is not None else 0.0) for m, a in r["served_ap"].items()}
            best = max(ap, key=lambda m: ap[m])
            chosen = r["chosen"] or "model"
            regret.append(ap[best] - ap[chosen])
            given_up.append(ap["model"] - ap[chosen])
            best_hits += chosen == best
            lines.append(f"| {r['week']} | {chosen} | " + " / ".join(
                f"{ap[m]:.3f}" for m in ("model", "conflictology", "historical_average",
                                         "persistence")) + f" | {best} | "
                f"{ap[best] - ap[chosen]:.3f} |")
        lines.append(f"\nserved the best candidate {best_hits} of {len(mine)} weeks; mean "
                     f"regret {statistics.mean(regret):.4f}; mean AP given up vs always the "
                     f"model {statistics.mean(given_up):+.4f}\n")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", action="append", required=True, help="scenario.toml (repeat)")
    ap.add_argument("--years", type=float, default=3.0)
    ap.add_argument("--checks", type=int, default=8, help="retraining weeks per config")
    ap.add_argument("--served", type=int, default=8,
                    help="weeks after each check to compare the candidates on")
    ap.add_argument("--res", type=int, default=6, help="H3 resolution (0 = the config's)")
    ap.add_argument("--json", help="write every row to this file")
    ap.add_argument("--no-served", action="store_true", help="only the checks' choices")
    args = ap.parse_args()
    rows = []
    for path in args.config:
        rows.extend(bench_one(path, args))
    print(summary(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
