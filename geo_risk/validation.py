"""Never serve a worse model: score every candidate on the recent weeks, serve the best.

Before the weekly run scores its week, every candidate (the forecast model and the three
baselines) is trained on the weeks before a validation window and scored, week by week, on
the window (each week forecast without seeing its outcome, as the backtest does). With
``[model] kind = "model"`` the week is then scored by whichever candidate ranked the
window's incident cells best (average precision; hit rate in the top 1% of area breaks
ties), so the run never serves a model that lost on the same data. A baseline named in the
config is always served as asked; the check is still reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .metrics import StreamingMetrics

#: Candidates in order of preference when they tie.
CANDIDATES = ("model", "conflictology", "historical_average", "persistence")

MODEL_WORDS = {
    "model": "the forecast model (shallow gradient-boosted trees blended with conflictology)",
    "conflictology": "the conflictology baseline (violence follows recent violence nearby)",
    "historical_average": "the historical average (each cell's long-run share of weeks with "
                          "an incident)",
    "persistence": "persistence (where incidents happened last week)",
}
SHORT_WORDS = {"model": "the forecast model", "conflictology": "conflictology",
               "historical_average": "the historical average", "persistence": "persistence"}


@dataclass
class Validation:
    """What the check measured and which candidate scores the week.

    ``metrics`` holds per candidate ``average_precision``, ``hr_at_1pct`` and ``positives``
    (incident cell-weeks in the window); ``summary`` says it in plain words.
    """

    requested: str
    chosen: str
    weeks: int
    first_week: str | None
    last_week: str | None
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    summary: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "chosen": self.chosen, "weeks": self.weeks,
                "first_week": self.first_week, "last_week": self.last_week,
                "metrics": self.metrics, "summary": self.summary}


class Validator:
    """Streaming scores of several fitted candidates over the validation weeks."""

    def __init__(self, candidates: dict[str, Any], *, area: np.ndarray) -> None:
        self.candidates = candidates
        self.area = area
        self.metrics = {m: StreamingMetrics(fractions=(0.01,)) for m in candidates}
        self.weeks: list[str] = []

    def update(self, X: Any, y: np.ndarray, *, week_label: str) -> None:
        for name, est in self.candidates.items():
            self.metrics[name].update(y_true=y, prob=est.predict_proba(X)[:, 1],
                                      area=self.area)
        self.weeks.append(week_label)

    def choose(self, requested: str) -> Validation:
        res = {m: s.result() for m, s in self.metrics.items()}
        metrics: dict[str, dict[str, float | None]] = {
            m: {"average_precision": _num(r["average_precision"]),
                "hr_at_1pct": _num(r["hr_at_1pct"]), "positives": float(r["positives"])}
            for m, r in res.items()}
        v = Validation(requested=requested, chosen=requested, weeks=len(self.weeks),
                       first_week=self.weeks[0] if self.weeks else None,
                       last_week=self.weeks[-1] if self.weeks else None, metrics=metrics)
        positives = max((m["positives"] or 0) for m in metrics.values()) if metrics else 0
        if requested == "model" and positives > 0:
            order = [c for c in CANDIDATES if c in metrics]
            v.chosen = max(order, key=lambda c: (metrics[c]["average_precision"] or 0,
                                                 metrics[c]["hr_at_1pct"] or 0,
                                                 -order.index(c)))
        v.summary = summarise(v)
        return v


def _num(x: Any) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def summarise(v: Validation) -> str:
    """The check in words, for run.json, the map's title block and the brief."""
    served = f"This week is scored by {MODEL_WORDS.get(v.chosen, v.chosen)}."
    if not v.weeks:
        return served + " It could not be checked on recent weeks (too little history)."
    m = v.metrics.get(v.chosen, {})
    if not max((o.get("positives") or 0) for o in v.metrics.values()):
        return (served + f" No incident was recorded in the {v.weeks} weeks before it, so "
                "no model could be checked there.")
    text = (f"{served} Checked on the {v.weeks} weeks before it ({v.first_week} to "
            f"{v.last_week}), each forecast made without seeing its week: it found "
            f"{_pct(m.get('hr_at_1pct'))} of the cells with incidents in the top 1% of cells "
            f"(average precision {m.get('average_precision') or 0:.2f})")
    others = [f"{SHORT_WORDS.get(k, k)} {_pct(o.get('hr_at_1pct'))} "
              f"({o.get('average_precision') or 0:.2f})"
              for k, o in v.metrics.items() if k != v.chosen]
    if others:
        text += "; " + ", ".join(others)
    text += "."
    if v.requested == "model" and v.chosen != "model":
        text += (" The forecast model ranked those weeks worse, so it was not used this "
                 "week.")
    elif v.requested != "model":
        text += " (Chosen in the configuration.)"
    return text


def served_summary(model_info: Any) -> str | None:
    """The validation summary of a run's ``model`` record (``run.json``), if it has one."""
    v = model_info.get("validation") if isinstance(model_info, dict) else None
    return str(v["summary"]) if isinstance(v, dict) and v.get("summary") else None
