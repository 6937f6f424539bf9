"""Unit-level backtest: the unit forecast (:mod:`geo_risk.unit_forecast`) against the cell
model's aggregate ``1 - prod(1 - p_cell)``, week by week, and its section of backtest.html.

Used by :func:`geo_risk.backtest.run_backtest`; the unit panel is built once, each refit sees
labels of weeks before the forecast week only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .metrics import StreamingMetrics
from .unit_forecast import UnitModel, UnitPanel, fit_unit_model

#: Units listed by name in the report: the busiest by observed incidents.
TOP_UNITS = 5


class UnitBacktest:
    """Accumulates unit-level forecasts and outcomes over the backtest weeks.

    Parameters
    ----------
    panel : UnitPanel
        Unit-week features and counts covering the backtest weeks.
    codes : numpy.ndarray
        Unit code of every grid cell (to aggregate the cell forecasts).
    cell_area : numpy.ndarray
        Area of every grid cell (km², for hit rates by area).
    pcodes : sequence of str
        P-code of each unit code.
    """

    def __init__(self, *, panel: UnitPanel, codes: np.ndarray, cell_area: np.ndarray,
                 pcodes: Any) -> None:
        self.panel = panel
        self.codes = codes
        self.pcodes = [str(p) for p in pcodes]
        k = panel.counts.shape[1]
        self.area = np.bincount(codes, weights=cell_area, minlength=k)
        self.model: UnitModel | None = None
        self.unit = StreamingMetrics()
        self.aggregate = StreamingMetrics()
        self.sums = {key: np.zeros(k) for key in
                     ("p", "agg", "any", "mu", "cells", "count", "weeks")}

    def update(self, *, week: int, cell_prob: np.ndarray, refit: bool) -> None:
        """Score ``week``: refit on labels before it when asked, then forecast and count."""
        if refit or self.model is None:
            self.model = fit_unit_model(self.panel, last_label_week=week - 1)
        p, mu = self.model.predict(self.panel.week(week))
        k = len(p)
        agg = -np.expm1(np.bincount(self.codes, weights=np.log1p(-np.clip(cell_prob, 0,
                                                                            1 - 1e-12)),
                                    minlength=k))
        count = self.panel.counts[week - self.panel.first_week]
        self.unit.update(y_true=count, prob=p, area=self.area)
        self.aggregate.update(y_true=count, prob=agg, area=self.area)
        s = self.sums
        s["p"] += p
        s["agg"] += agg
        s["any"] += count > 0
        s["mu"] += mu
        s["cells"] += np.bincount(self.codes, weights=cell_prob, minlength=k)
        s["count"] += count
        s["weeks"] += 1

    def result(self) -> dict[str, Any]:
        """Unit metrics, the aggregate's, expected vs observed, the busiest units."""
        s = self.sums
        top = np.argsort(-s["count"], kind="stable")[:TOP_UNITS]
        weeks = np.maximum(s["weeks"], 1)
        return {
            "unit_model": self.unit.result(),
            "cell_aggregate": self.aggregate.result(),
            "unit_model_info": self.model.info if self.model is not None else {},
            "expected_vs_observed": {
                "unit_weeks_with_incident_forecast": float(s["p"].sum()),
                "unit_weeks_with_incident_cell_aggregate": float(s["agg"].sum()),
                "unit_weeks_with_incident_observed": float(s["any"].sum()),
                "incidents_forecast": float(s["mu"].sum()),
                "incident_cells_forecast": float(s["cells"].sum()),
                "incidents_observed": float(s["count"].sum()),
            },
            "busiest_units": [{
                "admin_pcode": self.pcodes[i],
                "mean_likelihood": float(s["p"][i] / weeks[i]),
                "mean_cell_aggregate": float(s["agg"][i] / weeks[i]),
                "observed_week_share": float(s["any"][i] / weeks[i]),
                "expected_incidents_per_week": float(s["mu"][i] / weeks[i]),
                "observed_incidents_per_week": float(s["count"][i] / weeks[i]),
            } for i in top if s["count"][i] > 0],
        }


def _f(value: object, fmt: str) -> str:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    return format(x, fmt) if np.isfinite(x) else "n/a"


def unit_section(units: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The unit-level part of backtest.html as formatted values for the template
    (``backtest.html.j2`` escapes them); ``None`` without unit results."""
    if not units:
        return None
    u, a = units.get("unit_model") or {}, units.get("cell_aggregate") or {}
    ev = units.get("expected_vs_observed") or {}
    return {
        "rows": [[name, _f(m.get("average_precision"), ".3f"), _f(m.get("brier"), ".4f"),
                  _f(m.get("hr_at_10pct"), ".3f")]
                 for name, m in (("Unit model", u),
                                 ("Cell model, 1 \u2212 \u220f(1 \u2212 p)", a))],
        "ev": {k: _f(ev.get(k), ",.0f") for k in (
            "unit_weeks_with_incident_forecast", "unit_weeks_with_incident_cell_aggregate",
            "unit_weeks_with_incident_observed", "incidents_forecast", "incidents_observed",
            "incident_cells_forecast")},
        "busy": [[str(b.get("admin_pcode", "")), _f(b.get("mean_likelihood"), ".2f"),
                  _f(b.get("mean_cell_aggregate"), ".2f"),
                  _f(b.get("observed_week_share"), ".2f"),
                  _f(b.get("expected_incidents_per_week"), ".2f"),
                  _f(b.get("observed_incidents_per_week"), ".2f")]
                 for b in units.get("busiest_units") or []],
        "reliability": [[_f(b.get("mean_predicted"), ".3f"), _f(b.get("observed_rate"), ".3f"),
                         _f(b.get("n"), ",.0f")] for b in u.get("reliability") or []],
    }
