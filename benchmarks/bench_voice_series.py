"""Benchmark: the weekly voice series (``engagement_trends.parquet``) against a naive loop.

Makes ``--records`` SYNTHETIC engagement records over ``--units`` admin units and two years,
then times :func:`geo_risk.engagement.voice.analyse_voice` (perceptions, topics, benchmarks:
every unit x 26 weeks x ~25 indicators, with suppression) and, for contrast, the naive way to
get only the weekly engagement counts: for each of the 26 weeks, filter the records of the
13 weeks before it and ``groupby`` the unit; and the same counts with
:func:`geo_risk.engagement.series.rolling` (one ``bincount`` and a cumulative sum). The counts
are compared (the series' ``engagements`` where shown, and ``rolling`` everywhere). Nothing is
asserted and nothing is written.

Run: ``.venv/bin/python benchmarks/bench_voice_series.py [--records 200000] [--units 300]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from geo_risk.config import parse_config
from geo_risk.engagement.series import rolling, weeks_before
from geo_risk.engagement.voice import analyse_voice


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--units", type=int, default=300)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    week = pd.Timestamp("2024-07-01")
    units = [f"XV{i:04d}" for i in range(args.units)]
    n = args.records
    c = pd.DataFrame({
        "date": week - pd.to_timedelta(rng.integers(1, 104 * 7, n), unit="D"),
        "admin_pcode": rng.choice(units, n),
        "modality": rng.choice(["community_meeting", "perception_survey", "consultation"], n),
        "participants_total": rng.integers(1, 60, n),
        "participants_women": rng.integers(0, 20, n),
        "participants_youth": rng.integers(0, 10, n),
        "topics": rng.choice(["security land", "services", "displacement security", ""], n),
        "safety_score": rng.integers(1, 6, n).astype(float),
        "trust_score": rng.integers(1, 6, n).astype(float),
        "commitments_made": rng.random(n) < 0.3, "follow_up_status": "done"})
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config({"boundaries": {"path": "b", "pcode_column": "P",
                                              "name_column": "N"},
                               "incidents": [{"path": "i"}],
                               "benchmarks": {"women_share": 0.3, "follow_up_weeks": 4}},
                              base_dir=Path(tmp), check_files=False)
    matrix = pd.DataFrame({"admin_pcode": units, "admin_name": units, "level": "high"})
    cells = pd.DataFrame({"admin_pcode": units, "population": 100_000.0})
    t0 = time.perf_counter()
    v = analyse_voice(matrix=matrix, cells=cells, consultations=c, perceptions=None, week=week,
                      config=config)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = {}
    for s in range(26):  # the naive baseline: one filter + groupby per week
        end = week - pd.Timedelta(weeks=s)
        w = c[(c["date"] < end) & (c["date"] >= end - pd.Timedelta(weeks=13))]
        naive[end] = w.groupby("admin_pcode").size()
    naive_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    same = rolling(unit_pos=pd.Index(units).get_indexer(pd.Index(c["admin_pcode"])),
                   weeks_ago=weeks_before(c["date"], week), values=np.ones(n),
                   n_units=len(units), points=26, window=13)
    ours_counts = time.perf_counter() - t0
    eng = v.trends[(v.trends["indicator"] == "engagements") & (v.trends["scope"] == "unit")
                   & (v.trends["status"] == "shown")]
    diff = max(abs(r.value - naive[pd.Timestamp(r.week)].get(r.admin_pcode, 0))
               for r in eng.head(2000).itertuples())
    diff_rolling = max(float(np.abs(same[:, s, 0] - naive[week - pd.Timedelta(weeks=s)]
                                    .reindex(units).fillna(0).to_numpy()).max())
                       for s in range(26))
    print(f"{n:,} records, {len(units)} units: analyse_voice {ours:.2f} s for "
          f"{len(v.trends):,} series rows ({v.trends['indicator'].nunique()} indicators)")
    print(f"naive weekly filter+groupby, engagement counts only: {naive_s:.2f} s "
          f"({naive_s / ours:.2f}x of the whole series); the same counts with "
          f"series.rolling: {ours_counts:.3f} s ({naive_s / ours_counts:.0f}x faster); "
          f"max count difference {diff:g} (series) / {diff_rolling:g} (rolling)")


if __name__ == "__main__":
    main()
