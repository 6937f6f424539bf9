"""Never serve a worse model: score every candidate on the newest training weeks, serve the best.

In a retraining week the scorer asked for is trained on the serving window, and every candidate
(the forecast model and the three baselines) is then scored on the newest block of those
weeks (about a third of them: :func:`geo_risk.model.time_blocks`) by a version of itself
trained only on the older weeks, each week of the block forecast without seeing its outcome.
For the forecast model that version is already there: its out-of-fold trees for the newest
block are trained on the older blocks (:attr:`geo_risk.model.RiskModel.newest_block_`), so the
check costs no second model fit; the baselines are refitted on the older weeks (cheap). With
``[model] kind = "model"`` the week is then scored by whichever candidate ranked the block's
incident cell-weeks best (average precision; hit rate in the top 1% of cells breaks ties), so
the run never serves a model that lost on the same data. A baseline named in the config is
always served as asked; the check is still reported.

The block is scored on the training rows themselves: every incident cell-week and a weighted
sample of the quiet ones (the weights stand for the cell-weeks left out), so the metrics are
weighted. The model's blend weight and calibration are chosen on all its out-of-fold blocks,
the newest included; calibration is monotone and leaves the ranking metrics unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from .features import TrainingSet, week_start
from .metrics import hit_rate_at_area
from .model import time_blocks

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
    (incident cell-weeks in the checked block); ``summary`` says it in plain words.
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


def check_newest_block(served: Any, ts: TrainingSet, *, requested: str,
                       names: Sequence[str], fit: Callable[[str, TrainingSet], Any],
                       min_weeks: int = 1) -> Validation:
    """Every candidate of ``names`` scored on the newest block of ``ts``'s weeks.

    Parameters
    ----------
    served
        The scorer of ``requested`` trained on all of ``ts``. A :class:`~geo_risk.model.
        RiskModel` brings its out-of-fold probabilities for the newest block (and so defines
        the block); any other scorer defines no block of its own.
    ts
        The serving window's training rows (thinned, with weights).
    requested
        The configured kind; ``served`` is its scorer.
    names
        Candidates to score, in order of preference when they tie.
    fit
        ``fit(name, rows)``: a candidate trained on ``rows``; called for every candidate but a
        ``served`` RiskModel, with the rows of the weeks before the block.
    min_weeks
        Fewer weeks in the block than this: no check.

    Returns
    -------
    Validation
        The metrics per candidate and which one serves (``requested`` unless it is "model"
        and another candidate ranked the block better).
    """
    own = getattr(served, "newest_block_", None)
    if own is not None:
        block = np.zeros(len(ts.y), dtype=bool)
        block[own[0]] = True
    else:
        blocks = time_blocks(ts.week)
        block = blocks[-1] if blocks else np.zeros(len(ts.y), dtype=bool)
    weeks = np.unique(ts.week[block])
    v = Validation(requested=requested, chosen=requested, weeks=0, first_week=None,
                   last_week=None)
    if len(weeks) < max(1, min_weeks):
        v.summary = summarise(v)
        return v
    v.weeks = len(weeks)
    v.first_week, v.last_week = (str(week_start(int(w)).date()) for w in (weeks[0], weeks[-1]))
    y, w, wk = ts.y[block] > 0, ts.weight[block], ts.week[block]
    X = pd.DataFrame(ts.X[block], columns=ts.feature_names)
    if not y.any():  # nothing to rank: no candidate is fitted
        v.metrics = {name: {"average_precision": None, "hr_at_1pct": None, "positives": 0.0}
                     for name in names}
        v.summary = summarise(v)
        return v
    older = ts.take(~block)
    for name in names:
        p = (own[1] if name == requested and own is not None
             else fit(name, older).predict_proba(X)[:, 1])
        v.metrics[name] = _block_metrics(y, p, w, wk)
    if requested == "model":
        order = [c for c in CANDIDATES if c in v.metrics]
        v.chosen = max(order, key=lambda c: (v.metrics[c]["average_precision"] or 0,
                                             v.metrics[c]["hr_at_1pct"] or 0, -order.index(c)))
    v.summary = summarise(v)
    return v


def _block_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray, week: np.ndarray
                   ) -> dict[str, float | None]:
    """Weighted average precision over the block's rows (scikit-learn), and the share of its
    incident cell-weeks found in each week's top 1% of cells (each row standing for
    ``weight`` cells), pooled over weeks."""
    hits = events = 0.0
    for k in np.unique(week[y]):  # weeks with an incident; a loop over weeks, not rows
        rows = week == k
        hr, _ = hit_rate_at_area(y_true=y[rows], score=p[rows], area=w[rows], fraction=0.01)
        n = float(y[rows].sum())
        hits += hr * n
        events += n
    return {"average_precision": _num(average_precision_score(y, p, sample_weight=w)),
            "hr_at_1pct": hits / events if events else None, "positives": float(y.sum())}


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
        return (served + f" No incident was recorded in its {v.weeks} newest training "
                "weeks, so no model could be checked there.")
    text = (f"{served} Checked on its {v.weeks} newest training weeks ({v.first_week} to "
            f"{v.last_week}), each forecast by a version trained only on the weeks before "
            f"them: it found {_pct(m.get('hr_at_1pct'))} of the cells with incidents in the "
            f"top 1% of cells (average precision {m.get('average_precision') or 0:.2f})")
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
