"""Render a backtest report (the contents of ``backtest.json``) as one self-contained HTML page.

The page works offline: CSS is inline, the reliability plots are SVG drawn here, and there
are no scripts, web fonts, images or links to other sites. The page is the template
``render/templates/backtest.html.j2`` (autoescape): every string taken from the report is
escaped where it is printed, and numbers are formatted here, so a hostile model name or note
cannot inject markup.

Expected ``report`` shape (missing keys are shown as "n/a" rather than failing)::

    {"title": str, "synthetic": bool, "start": "YYYY-MM-DD", "end": "YYYY-MM-DD",
     "weeks": int, "h3_resolution": int, "chosen": "model",
     "models": {name: {**StreamingMetrics.result(), "brier_skill": float,
                       "onset": {**StreamingMetrics.result(), "brier_skill": float}}},
     "notes": [str, ...], "wall_time_s": float}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .backtest_units import unit_section
from .metrics import brier_skill
from .render.templating import Markup, render

__all__ = ["render_backtest_html"]

#: Baseline whose Brier score is the reference for the Brier skill score.
REFERENCE = "historical_average"

#: One-line descriptions of the known forecasters, shown under their names.
DESCRIPTIONS = {
    "model": "Gradient-boosted trees on event history, neighbours and context, calibrated.",
    "persistence": "Baseline: a cell with an event last week is expected to have one again.",
    "historical_average": "Baseline: each cell's long-run share of weeks with an event.",
    "conflictology": "Baseline: recent events in the cell and its neighbours "
                     "(violence follows violence).",
}


# --------------------------------------------------------------------------------------------
# Formatting (plain text, escaped by the template; a missing value is the "n/a" Markup)
# --------------------------------------------------------------------------------------------

def _num(value: object) -> float | None:
    """A finite float, or None for anything missing, non-numeric or NaN."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


NA = Markup('<span class="na">n/a</span>')


def _fmt_sig(value: object, digits: int = 3) -> str:
    x = _num(value)
    return NA if x is None else f"{x:.{digits}g}"


def _fmt_pct(value: object, digits: int = 1) -> str:
    x = _num(value)
    return NA if x is None else f"{100 * x:.{digits}f}%"


def _fmt_small_pct(value: object) -> str:
    """Percentages of tiny rates keep two significant digits (0.042%)."""
    x = _num(value)
    return NA if x is None else f"{100 * x:.2g}%"


def _fmt_fixed(value: object, digits: int = 2) -> str:
    x = _num(value)
    return NA if x is None else f"{x:.{digits}f}"


def _fmt_signed(value: object) -> str:
    x = _num(value)
    return NA if x is None else f"{x:+.3f}"


def _fmt_int(value: object) -> str:
    x = _num(value)
    return NA if x is None else f"{round(x):,}"


def _fmt_text(value: object) -> str:
    return NA if value is None or value == "" else str(value)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ap_lift(m: Mapping[str, Any]) -> float | None:
    ap, base = _num(m.get("average_precision")), _num(m.get("base_rate"))
    return ap / base if ap is not None and base else None


def _skill(m: Mapping[str, Any], reference: Mapping[str, Any]) -> float | None:
    """The stored Brier skill score, or one computed against the reference's Brier score."""
    stored = _num(m.get("brier_skill"))
    if stored is not None:
        return stored
    b, r = _num(m.get("brier")), _num(reference.get("brier"))
    if b is None or r is None:
        return None
    return _num(brier_skill(brier=b, reference=r))


# (header, tooltip, value getter, formatter, higher_is_better)
Column = tuple[str, str, Callable[[Mapping[str, Any], Mapping[str, Any]], float | None],
               Callable[[object], str], bool]

COLUMNS: list[Column] = [
    ("AP", "Average precision",
     lambda m, r: _num(m.get("average_precision")), _fmt_sig, True),
    ("AP ÷ base rate", "How many times better than a random ranking",
     lambda m, r: _ap_lift(m), lambda v: _fmt_fixed(v, 1), True),
    ("Brier", "Brier score (lower is better)",
     lambda m, r: _num(m.get("brier")), _fmt_sig, False),
    ("Brier skill vs historical average", "1 − Brier / Brier of the historical average",
     _skill, _fmt_signed, True),
    ("Hit rate @1% area", "Share of event cells inside the top 1% of area",
     lambda m, r: _num(m.get("hr_at_1pct")), _fmt_pct, True),
    ("Hit rate @5% area", "Share of event cells inside the top 5% of area",
     lambda m, r: _num(m.get("hr_at_5pct")), _fmt_pct, True),
    ("Hit rate @10% area", "Share of event cells inside the top 10% of area",
     lambda m, r: _num(m.get("hr_at_10pct")), _fmt_pct, True),
    ("PAI @1% area", "Hit rate ÷ area share, top 1% of area (1 = random)",
     lambda m, r: _num(m.get("pai_at_1pct")), lambda v: _fmt_fixed(v, 1), True),
    ("PAI @10% area", "Hit rate ÷ area share, top 10% of area (1 = random)",
     lambda m, r: _num(m.get("pai_at_10pct")), lambda v: _fmt_fixed(v, 1), True),
]


def _model_order(models: Mapping[str, Any], chosen: str) -> list[str]:
    names = [str(n) for n in models]
    return ([chosen] if chosen in names else []) + [n for n in names if n != chosen]


def _metrics_table(models: Mapping[str, Any], names: Sequence[str], chosen: str,
                   part: str | None, caption: str) -> dict[str, Any]:
    """One row per forecaster; ``part`` selects a nested block (``"onset"``) or the top level."""
    def block(name: str) -> Mapping[str, Any]:
        m = _mapping(models.get(name))
        return _mapping(m.get(part)) if part else m

    reference = block(REFERENCE)
    values = {n: [col[2](block(n), reference) for col in COLUMNS] for n in names}
    best: list[float | None] = []
    for j, col in enumerate(COLUMNS):
        candidates = [x for n, v in values.items() if (x := v[j]) is not None
                      and not (col[0].startswith("Brier skill") and n == REFERENCE)]
        best.append((max(candidates) if col[4] else min(candidates)) if len(candidates) > 1
                    else None)

    rows = [{"name": n, "chosen": n == chosen, "desc": DESCRIPTIONS.get(n, ""),
             "cells": [(col[3](v), v is not None and best[j] is not None and v == best[j])
                       for j, (col, v) in enumerate(zip(COLUMNS, values[n], strict=True))]}
            for n in names]
    ref_block = block(chosen) if chosen in names else (block(names[0]) if names else {})
    return {"caption": caption, "columns": [(c[0], c[1]) for c in COLUMNS], "rows": rows,
            "cell_weeks": _fmt_int(ref_block.get("cell_weeks")),
            "positives": _fmt_int(ref_block.get("positives")),
            "base_rate": _fmt_small_pct(ref_block.get("base_rate"))}


# --------------------------------------------------------------------------------------------
# Reliability plots (inline SVG)
# --------------------------------------------------------------------------------------------

def _reliability_points(m: Mapping[str, Any]) -> list[tuple[float, float, int]]:
    points = []
    rel = m.get("reliability")
    for item in rel if isinstance(rel, Sequence) and not isinstance(rel, str) else []:
        item = _mapping(item)
        x, y, n = (_num(item.get("mean_predicted")), _num(item.get("observed_rate")),
                   _num(item.get("n")))
        if x is not None and y is not None and n is not None and n > 0:
            points.append((x, y, int(n)))
    return points


def _axis_floor(all_points: Sequence[tuple[float, float, int]]) -> float:
    positives = [v for x, y, _ in all_points for v in (x, y) if v > 0]
    if not positives:
        return 1e-4
    return min(max(10.0 ** math.floor(math.log10(min(positives))), 1e-8), 0.1)


def _pct_label(v: float) -> str:
    return f"{100 * v:g}%"


def _reliability_plot(name: str, points: Sequence[tuple[float, float, int]],
                      lo: float) -> dict[str, Any]:
    """Geometry of one log-log reliability plot (drawn by the ``reliability_svg`` macro)."""
    size, pad_l, pad_t, pad_r = 300, 58, 26, 12
    plot = size - pad_l - pad_r
    log_lo = math.log10(lo)

    def pos(v: float) -> float:
        frac = (math.log10(max(v, lo)) - log_lo) / (0 - log_lo)
        return min(max(frac, 0.0), 1.0) * plot

    def sx(v: float) -> float:
        return pad_l + pos(v)

    def sy(v: float) -> float:
        return pad_t + plot - pos(v)

    grid = []
    step = 1 if -log_lo <= 5 else 2
    for decade in range(0, math.floor(log_lo) - 1, -step):  # from 100% down, 100% always shown
        v = 10.0 ** decade
        if v < lo * (1 - 1e-9):
            break
        grid.append((sx(v), sy(v), _pct_label(v)))
    max_n = max((n for _, _, n in points), default=1)
    marks = []
    for x, y, n in points:
        r = 2.5 + 4.5 * math.log10(1 + n) / math.log10(1 + max_n)
        tip = f"forecast {100 * x:.3g}%, observed {100 * y:.3g}%, {n:,} cell-weeks"
        # no event in the bin: log scale has no zero, drawn on the bottom edge
        marks.append((sx(x), sy(y) if y > 0 else pad_t + plot, r, tip, y <= 0))
    return {"name": name, "size": size, "pad_l": pad_l, "pad_t": pad_t, "plot": plot,
            "grid": grid, "diag": (sx(lo), sy(lo), sx(1), sy(1)), "points": marks}


def _reliability_figures(models: Mapping[str, Any], names: Sequence[str],
                         chosen: str) -> list[dict[str, Any]]:
    per_model = {n: _reliability_points(_mapping(models.get(n))) for n in names}
    lo = _axis_floor([p for pts in per_model.values() for p in pts])
    return [{"name": n, "chosen": n == chosen,
             "plot": _reliability_plot(n, pts, lo) if pts else None,
             "rows": [(_fmt_small_pct(x), _fmt_small_pct(y), _fmt_int(k)) for x, y, k in pts]}
            for n, pts in per_model.items()]


def _headline(models: Mapping[str, Any], names: Sequence[str],
              chosen: str) -> dict[str, str] | None:
    """The chosen model against the best baseline at 10% of area (for one plain sentence)."""
    if chosen not in names:
        return None
    ours = _num(_mapping(models.get(chosen)).get("hr_at_10pct"))
    others = [(n, _num(_mapping(models.get(n)).get("hr_at_10pct"))) for n in names
              if n != chosen]
    scored = [(n, v) for n, v in others if v is not None]
    if ours is None or not scored:
        return None
    best_name, best = max(scored, key=lambda t: t[1])
    return {"chosen": chosen, "ours": _fmt_pct(ours), "best": _fmt_pct(best),
            "best_name": best_name}


def render_backtest_html(*, report: dict, title: str, synthetic: bool) -> str:
    """Render backtest results as a single self-contained HTML page.

    Parameters
    ----------
    report
        The backtest summary (the shape written to ``backtest.json``, see the module
        docstring): one :meth:`geo_risk.metrics.StreamingMetrics.result` per forecaster under
        ``"models"`` plus ``"brier_skill"`` and an ``"onset"`` block each. A missing
        ``brier_skill`` is computed against the ``historical_average`` Brier score.
    title
        Page title and heading.
    synthetic
        Show a prominent SYNTHETIC DATA banner. The banner is also shown when
        ``report["synthetic"]`` is true, so synthetic results are never presented as real.

    Returns
    -------
    str
        A complete HTML document with inline CSS and inline SVG plots, no scripts and no
        reference to any network resource. Every string from ``report`` is HTML-escaped.
    """
    models = _mapping(report.get("models"))
    chosen = str(report.get("chosen", ""))
    names = _model_order(models, chosen)
    is_synthetic = bool(synthetic) or report.get("synthetic") is True

    wall = _num(report.get("wall_time_s"))
    notes = report.get("notes")
    note_items = ([str(n) for n in notes] if isinstance(notes, Sequence)
                  and not isinstance(notes, str) else [] if notes is None else [str(notes)])
    return render(
        "backtest.html.j2",
        title=title,
        synthetic=is_synthetic,
        start=_fmt_text(report.get("start")),
        end=_fmt_text(report.get("end")),
        weeks=_fmt_int(report.get("weeks")),
        h3_resolution=_fmt_text(report.get("h3_resolution")),
        chosen=_fmt_text(chosen or None),
        headline=_headline(models, names, chosen),
        all_cells=_metrics_table(models, names, chosen, None, "All cells."),
        onset=_metrics_table(models, names, chosen, "onset", "Onset cells."),
        figures=_reliability_figures(models, names, chosen),
        units=unit_section(_mapping(report.get("units"))),
        notes=note_items,
        wall_time=None if wall is None else f"{wall:,.1f}",
    )
