"""The brief's sections on the community's voice: perception changes with their intervals,
grievances and needs by topic, and the engagement benchmarks over the last weeks.

Everything comes from :class:`geo_risk.engagement.voice.VoiceResult` (already aggregated and
suppressed); the sections are the template ``templates/brief_voice.html.j2`` rendered with
autoescape, and the page (:mod:`geo_risk.render.brief`) places them before the matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geo_risk.engagement.benchmarks import BENCHMARK_TEXT
from geo_risk.engagement.voice import HIGH_RISK, MISSION
from geo_risk.render.brief_format import _num, _share, _Table, _table, _unit
from geo_risk.render.templating import Markup, render

__all__ = ["sparkline", "voice_context", "voice_paragraphs", "voice_sections"]

_BARS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
_WORD = {"up": "higher, beyond noise", "down": "lower, beyond noise",
         "within noise": "within noise"}
_SHARES = {"women_share", "youth_share", "follow_up_share", "alert_response_share"}


def sparkline(values: Any) -> str:
    """Values (oldest first) as a line of bar characters; a missing value is "·".

    Examples
    --------
    >>> sparkline([0.0, 0.5, 1.0, float("nan")])
    '▁▅█·'
    """
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return ""
    lo, hi = float(v[ok].min()), float(v[ok].max())
    idx = np.zeros(len(v), dtype=int) if hi == lo else np.round(
        (np.where(ok, v, lo) - lo) / (hi - lo) * (len(_BARS) - 1)).astype(int)
    return "".join(_BARS[i] if o else "\u00b7" for i, o in zip(idx, ok, strict=True))


def _value(name: str, v: Any) -> str:
    if name in _SHARES or name.endswith("_share"):
        return _share(v)
    return _num(v, 1)


class _Now:
    """The forecast week's rows, looked up by (indicator, scope): the first row of each pair
    as ``now.loc[mask][col].iloc[0]`` gives it, without a scan of the table per value."""

    def __init__(self, now: pd.DataFrame) -> None:
        self.frame = now
        keys = zip(now["indicator"].tolist(), now["scope"].tolist(), strict=True)
        self._first: dict[tuple[Any, Any], int] = {}
        for i, key in enumerate(keys):  # hundreds of rows, once
            self._first.setdefault(key, i)
        self._cols: dict[str, np.ndarray] = {}

    def pick(self, ind: str, scope: str, col: str = "value") -> Any:
        i = self._first.get((ind, scope))
        if i is None:
            return np.nan
        if col not in self._cols:
            self._cols[col] = self.frame[col].to_numpy()
        return self._cols[col][i]


def _perceptions(now: pd.DataFrame, measures: list[str], at: _Now) -> dict[str, Any]:
    rows, counts = [], {"beyond": 0, "noise": 0}
    for m in measures:
        ch = now.loc[(now["indicator"] == f"{m}_change") & (now["scope"] == "unit")]
        mean = now.loc[(now["indicator"] == f"{m}_mean") & (now["scope"] == "unit")].set_index(
            "admin_pcode")["value"]
        beyond = ch.loc[ch["signal"].isin(["up", "down"])].sort_values("value")
        counts["beyond"] += len(beyond)
        counts["noise"] += int((ch["signal"] == "within noise").sum())
        for r in beyond.to_dict("records"):
            rows.append([_unit(r["admin_name"], r["admin_pcode"]), m,
                         _num(mean.get(r["admin_pcode"]), 2),
                         f"{r['value']:+.2f} ({r['low']:+.2f} to {r['high']:+.2f})",
                         _WORD[r["signal"]]])
    table = (_table(["Unit", "Measure", "Mean now (1–5)", "Change (interval)", "Reading"],
                    rows, numeric=(2, 3)) if rows else None)
    mission = [[m, _num(at.pick(f"{m}_mean", MISSION), 2),
                _change(at, f"{m}_change", MISSION)] for m in measures]
    return {"table": table, "counts": counts,
            "mission": _table(["Measure", "Mean now (1–5)", "Change (interval)"], mission,
                              numeric=(1, 2)) if measures else None}


def _change(at: _Now, ind: str, scope: str) -> str:
    v, lo, hi = (at.pick(ind, scope, c) for c in ("value", "low", "high"))
    if not np.isfinite(v):
        return "\u2014"
    word = _WORD.get(str(at.pick(ind, scope, "signal")), "")
    return f"{v:+.2f} ({lo:+.2f} to {hi:+.2f}), {word}"


def _topics(now: pd.DataFrame, topics: list[str], at: _Now) -> dict[str, Any]:
    mission = []
    for t in topics:
        v, lo, hi = (at.pick(f"topic_{t}_change", MISSION, c) for c in ("value", "low", "high"))
        ch = ("\u2014" if not np.isfinite(v) else
              f"{v * 100:+.0f} pp ({lo * 100:+.0f} to {hi * 100:+.0f}), "
              + _WORD.get(str(at.pick(f"topic_{t}_change", MISSION, "signal")), ""))
        mission.append([t, _share(at.pick(f"topic_{t}_share", MISSION)), ch])
    units = now.loc[(now["scope"] == "unit") & now["indicator"].str.startswith("topic_")
                    & now["indicator"].str.endswith("_change")
                    & now["signal"].isin(["up", "down"])].sort_values("value", ascending=False)
    rows = [[_unit(r["admin_name"], r["admin_pcode"]),
             r["indicator"][len("topic_"):-len("_change")],
             f"{r['value'] * 100:+.0f} pp ({r['low'] * 100:+.0f} to {r['high'] * 100:+.0f})"]
            for r in units.to_dict("records")]
    return {"mission": _table(["Topic", "Share of consultations", "Change vs previous period"],
                              mission, numeric=(1,)) if topics else None,
            "units": _table(["Unit", "Topic", "Change (interval)"], rows, numeric=(2,))
            if rows else None}


def _benchmarks(trends: pd.DataFrame, weeks: int) -> tuple[_Table | None, _Table | None]:
    b = trends.loc[trends["indicator"].isin(list(BENCHMARK_TEXT)) & trends["target"].notna()]
    if b.empty:
        return None, None
    last = b["week"].max()
    recent = b.loc[b["week"] > last - pd.Timedelta(weeks=weeks)].sort_values("week")
    rows = []
    present = set(b["indicator"].tolist())  # once, not once per benchmark
    # each benchmark's rows (in order) from one split, not a scan of the table per benchmark
    by_name = dict(list(recent.groupby("indicator", sort=False)))
    for name in [n for n in BENCHMARK_TEXT if n in present]:
        x = by_name.get(name, recent.iloc[:0])
        scope = HIGH_RISK if name == "engagements_per_100k" else MISSION
        g = x.loc[x["scope"] == scope]
        now = x.loc[(x["week"] == last) & (x["scope"] == "unit") & x["met"].notna()]
        status = g["status"].iloc[-1] if len(g) else "no data"
        met_now = g["met"].iloc[-1] if len(g) else pd.NA
        rows.append([
            BENCHMARK_TEXT[name] + (" (high-risk units together)" if scope == HIGH_RISK
                                    else ""),
            _value(name, x["target"].iloc[0]),
            _value(name, g["value"].iloc[-1]) if status == "shown" else status,
            sparkline(g["value"].to_numpy()),
            f"{int(g['met'].fillna(False).astype(bool).sum())} of {len(g)}",
            "\u2014" if pd.isna(met_now) else ("met" if met_now else "NOT met"),
            f"{int((~now['met'].astype(bool)).sum())} of {len(now)}",
        ])
    summary = _table(["Benchmark", "Target", "Now", f"Last {weeks} weeks", "Weeks met",
                      "Met now", "Units not met"], rows, numeric=(1, 2, 4, 6))
    unit_now = b.loc[(b["week"] == last) & (b["scope"] == "unit") & b["met"].notna()]
    missed = unit_now.loc[~unit_now["met"].astype(bool)]
    per_unit = [[_unit(n, p), "; ".join(f"{BENCHMARK_TEXT[i].split(' (')[0]} "
                                          f"{_value(i, v)}" for i, v in zip(
                                              grp["indicator"], grp["value"], strict=True))]
                for (p, n), grp in missed.groupby(["admin_pcode", "admin_name"], sort=True)]
    return summary, (_table(["Unit", "Benchmarks not met now (value)"], per_unit)
                     if per_unit else None)


def voice_context(voice: Any, *, weeks: int = 26) -> dict[str, Any] | None:
    """What the voice template shows, from a run's ``VoiceResult`` (None without one)."""
    if voice is None or voice.trends is None or voice.trends.empty:
        return None
    t, meta = voice.trends, voice.metadata
    now = t.loc[t["week"] == t["week"].max()]
    measures = list(meta.get("measures", {}))
    summary, per_unit = _benchmarks(t, weeks)
    at = _Now(now)
    return {"period": meta.get("period_weeks"), "confidence": meta.get("confidence"),
            "window": meta.get("benchmark_window_weeks"), "weeks": weeks,
            "perceptions": _perceptions(now, measures, at),
            "topics": _topics(now, voice.topics, at),
            "benchmarks": summary, "benchmarks_units": per_unit}


def voice_sections(voice: Any, *, weeks: int = 26) -> Markup | None:
    """The brief's voice sections as HTML (autoescaped template), or None without data.

    Parameters
    ----------
    voice : geo_risk.engagement.voice.VoiceResult or None
        The run's perceptions, topics and benchmarks.
    weeks : int
        Weeks of benchmark trend shown (12–26).

    Returns
    -------
    markupsafe.Markup or None
    """
    ctx = voice_context(voice, weeks=weeks)
    return None if ctx is None else Markup(render("brief_voice.html.j2", **ctx))


def _measure_word(m: str) -> str:
    return {"safety": "Perceived safety", "trust": "Trust in the mission"}.get(
        m, m.replace("_", " ").capitalize())


def voice_paragraphs(voice: Any, *, weeks: int = 26) -> list[str]:
    """The voice part of a weekly brief as plain-text paragraphs (for a report or email).

    Parameters
    ----------
    voice : geo_risk.engagement.voice.VoiceResult or None
        The run's perceptions, topics and benchmarks.
    weeks : int
        Weeks of benchmark history the benchmark paragraph looks back over.

    Returns
    -------
    list of str
        Perceptions, topics, benchmarks (empty without data). Only shown, aggregated values.
    """
    if voice is None or voice.trends is None or voice.trends.empty:
        return []
    t, meta = voice.trends, voice.metadata
    now = t.loc[t["week"] == t["week"].max()]
    P, conf = meta.get("period_weeks"), float(meta.get("confidence", 0.95))
    out = []
    parts, noise = [], 0
    for m in meta.get("measures", {}):
        ch = now.loc[(now["indicator"] == f"{m}_change") & (now["scope"] == "unit")]
        noise += int((ch["signal"] == "within noise").sum())
        for r in ch.loc[ch["signal"].isin(["up", "down"])].sort_values("value").to_dict(
                "records"):
            parts.append(f"{_measure_word(m)} {'rose' if r['signal'] == 'up' else 'fell'} in "
                         f"{r['admin_name']} ({r['admin_pcode']}): {r['value']:+.2f} on the "
                         f"1–5 scale ({conf:.0%} interval {r['low']:+.2f} to {r['high']:+.2f})")
    hidden = int(((now["indicator"] == "respondents") & (now["scope"] == "unit")
                  & (now["status"] == SUPPRESSED_WORD)).sum())
    out.append((("; ".join(parts) + ". ") if parts else "No unit's perceptions changed beyond "
                "noise. ") + f"Against the previous {P} weeks, {noise} other unit change"
               f"{'' if noise == 1 else 's'} were within noise; {hidden} unit"
               f"{'' if hidden == 1 else 's'} had too few respondents to show.")
    shares = now.loc[(now["scope"] == MISSION) & now["indicator"].str.startswith("topic_")
                     & now["indicator"].str.endswith("_share")].dropna(subset=["value"])
    if len(shares):
        top = shares.sort_values("value", ascending=False).head(3)
        text = ", ".join(f"{i[len('topic_'):-len('_share')]} ({v:.0%})"
                         for i, v in zip(top["indicator"], top["value"], strict=True))
        moved = now.loc[(now["scope"] == "unit") & now["indicator"].str.startswith("topic_")
                        & now["signal"].isin(["up", "down"])]
        more = "; ".join(f"{i[len('topic_'):-len('_change')]} {v * 100:+.0f} pp in {n} "
                         f"({lo * 100:+.0f} to {hi * 100:+.0f})" for i, v, n, lo, hi in zip(
                             moved["indicator"], moved["value"], moved["admin_name"],
                             moved["low"], moved["high"], strict=True))
        out.append(f"Consultations of the last {P} weeks most often raised {text}."
                   + (f" Beyond noise: {more}." if more else ""))
    b = t.loc[t["target"].notna() & t["indicator"].isin(list(BENCHMARK_TEXT))]
    if len(b):
        last = b["week"].max()
        lines = []
        for name in [n for n in BENCHMARK_TEXT if n in set(b["indicator"])]:
            scope = HIGH_RISK if name == "engagements_per_100k" else MISSION
            g = b.loc[(b["indicator"] == name) & (b["scope"] == scope)
                      & (b["week"] > last - pd.Timedelta(weeks=weeks))].sort_values("week")
            cur = g.iloc[-1]
            label = BENCHMARK_TEXT[name] + (" in high-risk units" if scope == HIGH_RISK else "")
            if cur["status"] != "shown":
                lines.append(f"{label}: {cur['status']}")
                continue
            met = int(g["met"].fillna(False).astype(bool).sum())
            lines.append(f"{label}: {_value(name, cur['value'])} against "
                         f"{_value(name, cur['target'])}, {'met' if cur['met'] else 'NOT met'}"
                         f" (met in {met} of the last {len(g)} weeks)")
        out.append("Benchmarks, mission-wide: " + "; ".join(lines) + ".")
    return out


SUPPRESSED_WORD = "suppressed"
