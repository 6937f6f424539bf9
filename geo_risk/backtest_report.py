"""Render a backtest report (the contents of ``backtest.json``) as one self-contained HTML page.

The page works offline: CSS is inline, the reliability plots are SVG drawn here, and there
are no scripts, web fonts, images or links to other sites. Every string taken from the report
is HTML-escaped, and numbers are formatted here, so a hostile model name or note cannot inject
markup.

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
from html import escape
from typing import Any

from .backtest_units import unit_section
from .metrics import brier_skill

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
# Formatting (every helper returns already-escaped HTML text)
# --------------------------------------------------------------------------------------------

def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: object) -> float | None:
    """A finite float, or None for anything missing, non-numeric or NaN."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


NA = '<span class="na">n/a</span>'


def _fmt_sig(value: object, digits: int = 3) -> str:
    x = _num(value)
    return NA if x is None else _e(f"{x:.{digits}g}")


def _fmt_pct(value: object, digits: int = 1) -> str:
    x = _num(value)
    return NA if x is None else _e(f"{100 * x:.{digits}f}%")


def _fmt_small_pct(value: object) -> str:
    """Percentages of tiny rates keep two significant digits (0.042%)."""
    x = _num(value)
    return NA if x is None else _e(f"{100 * x:.2g}%")


def _fmt_fixed(value: object, digits: int = 2) -> str:
    x = _num(value)
    return NA if x is None else _e(f"{x:.{digits}f}")


def _fmt_signed(value: object) -> str:
    x = _num(value)
    return NA if x is None else _e(f"{x:+.3f}")


def _fmt_int(value: object) -> str:
    x = _num(value)
    return NA if x is None else _e(f"{round(x):,}")


def _fmt_text(value: object) -> str:
    return NA if value is None or value == "" else _e(value)


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
                   part: str | None, caption: str) -> str:
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

    head = "".join(f'<th scope="col" title="{_e(c[1])}">{_e(c[0])}</th>' for c in COLUMNS)
    rows = []
    for n in names:
        cells = []
        for j, col in enumerate(COLUMNS):
            v = values[n][j]
            is_best = v is not None and best[j] is not None and v == best[j]
            cls = ' class="best"' if is_best else ""
            cells.append(f"<td{cls}>{col[3](v)}</td>")
        desc = DESCRIPTIONS.get(n, "")
        tag = ' <span class="tag">chosen</span>' if n == chosen else ""
        row_cls = ' class="chosen"' if n == chosen else ""
        label = f'<span class="name">{_e(n)}</span>{tag}'
        if desc:
            label += f'<br><span class="desc">{_e(desc)}</span>'
        rows.append(f'<tr{row_cls}><th scope="row">{label}</th>{"".join(cells)}</tr>')

    ref_block = block(chosen) if chosen in names else (block(names[0]) if names else {})
    summary = (f"{_fmt_int(ref_block.get('cell_weeks'))} cell-weeks, "
               f"{_fmt_int(ref_block.get('positives'))} with at least one recorded event "
               f"(base rate {_fmt_small_pct(ref_block.get('base_rate'))}).")
    return (f'<div class="table-wrap"><table><caption>{_e(caption)} '
            f'<span class="summary">{summary}</span></caption>'
            f'<thead><tr><th scope="col">Forecaster</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


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


def _reliability_svg(name: str, points: Sequence[tuple[float, float, int]], lo: float) -> str:
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

    parts = [f'<svg viewBox="0 0 {size} {size}" '
             f'width="{size}" height="{size}" role="img" '
             f'aria-label="Reliability plot for {_e(name)}">',
             f'<title>Reliability plot for {_e(name)}</title>',
             f'<rect x="{pad_l}" y="{pad_t}" width="{plot}" height="{plot}" class="plotbg"/>']
    step = 1 if -log_lo <= 5 else 2
    for decade in range(0, math.floor(log_lo) - 1, -step):  # from 100% down, 100% always shown
        v = 10.0 ** decade
        if v < lo * (1 - 1e-9):
            break
        x, y = sx(v), sy(v)
        parts.append(f'<line x1="{x:.1f}" y1="{pad_t}" x2="{x:.1f}" y2="{pad_t + plot}" '
                     f'class="grid"/><line x1="{pad_l}" y1="{y:.1f}" x2="{pad_l + plot}" '
                     f'y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{pad_t + plot + 14}" class="tick" '
                     f'text-anchor="middle">{_e(_pct_label(v))}</text>')
        parts.append(f'<text x="{pad_l - 4}" y="{y + 3:.1f}" class="tick" '
                     f'text-anchor="end">{_e(_pct_label(v))}</text>')
    parts.append(f'<line x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(1):.1f}" y2="{sy(1):.1f}" '
                 'class="diag"/>')
    parts.append(f'<text x="{pad_l + plot / 2}" y="{size - 6}" class="axis" '
                 'text-anchor="middle">Forecast probability (bin mean)</text>')
    parts.append(f'<text x="12" y="{pad_t + plot / 2}" class="axis" text-anchor="middle" '
                 f'transform="rotate(-90 12 {pad_t + plot / 2})">Observed event rate</text>')
    max_n = max((n for _, _, n in points), default=1)
    for x, y, n in points:
        r = 2.5 + 4.5 * math.log10(1 + n) / math.log10(1 + max_n)
        tip = (f"forecast {100 * x:.3g}%, observed {100 * y:.3g}%, "
               f"{n:,} cell-weeks")
        if y > 0:
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{r:.1f}" class="pt">'
                         f'<title>{_e(tip)}</title></circle>')
        else:  # no event in the bin: log scale has no zero, draw on the bottom edge
            cx, cy = sx(x), pad_t + plot
            parts.append(f'<path d="M{cx:.1f},{cy - 7:.1f} l-5,8 h10 z" class="zero">'
                         f'<title>{_e(tip)} (no event)</title></path>')
    parts.append("</svg>")
    return "".join(parts)


def _reliability_table(points: Sequence[tuple[float, float, int]]) -> str:
    rows = "".join(f"<tr><td>{_fmt_small_pct(x)}</td><td>{_fmt_small_pct(y)}</td>"
                   f"<td>{_fmt_int(n)}</td></tr>" for x, y, n in points)
    return ('<details><summary>Numbers</summary><table class="small"><thead><tr>'
            '<th>Mean forecast</th><th>Observed rate</th><th>Cell-weeks</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></details>")


def _reliability_section(models: Mapping[str, Any], names: Sequence[str], chosen: str) -> str:
    per_model = {n: _reliability_points(_mapping(models.get(n))) for n in names}
    lo = _axis_floor([p for pts in per_model.values() for p in pts])
    figures = []
    for n in names:
        pts = per_model[n]
        cls = ' class="chosen"' if n == chosen else ""
        body = (_reliability_svg(n, pts, lo) + _reliability_table(pts) if pts
                else '<p class="na">No reliability data.</p>')
        figures.append(f"<figure{cls}><figcaption>{_e(n)}</figcaption>{body}</figure>")
    return f'<div class="plots">{"".join(figures)}</div>'


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------

EXPLANATIONS = """
<dl class="explain">
<dt>Average precision (AP)</dt>
<dd>Rank every cell-week from highest to lowest forecast and walk down the list. Each time a
cell-week with a recorded event is reached, note the share of cell-weeks flagged so far that had
an event (the precision). AP is the average of those precisions, so it rewards putting the
cells that turn out violent at the top of the list. A random ranking scores about the base rate
(the share of cell-weeks with an event), which here is well under 1%: AP looks small in absolute
terms even for a useful model. Read it against the base rate: the <em>AP ÷ base rate</em>
column says how many times better than random the ranking is. AP depends on the base rate, so
it cannot be compared across countries, periods or resolutions with different base rates, and
it says nothing about whether the probabilities themselves are right (see reliability).</dd>
<dt>Brier score</dt>
<dd>The mean squared difference between the forecast probability and what happened (1 if the
cell had at least one recorded event that week, 0 otherwise). Lower is better. Because almost
every cell-week is quiet, forecasting &ldquo;nothing will happen&rdquo; everywhere already gets
a Brier score close to 0, so the raw numbers look excellent for every forecaster and differ only
in the later digits. Compare the skill score instead.</dd>
<dt>Brier skill vs historical average</dt>
<dd>1 &minus; Brier / Brier of the historical-average baseline. Above 0: better than simply
using each cell's long-run event rate; 0: no better; below 0: worse. Small positive values are
normal for rare events.</dd>
<dt>Hit rate @ x% area</dt>
<dd>Each week, flag the highest-risk cells until they cover x% of the area (the cell that crosses
the line is included), then count how many of the cells that had a recorded event that week
were flagged. Over the whole backtest: all flagged event cells / all event cells. This is the
question &ldquo;if we could watch only x% of the territory, how much of the violence would we
have been watching?&rdquo;. It counts cells, not events: a cell with ten events counts once,
and an event just outside a flagged cell counts as a miss.</dd>
<dt>Prediction Accuracy Index (PAI) @ x% area</dt>
<dd>Hit rate divided by the share of the area flagged. 1 is what flagging cells at random
achieves; a PAI of 8 means the flagged area holds eight times its share of the event cells.
Over the backtest it is all flagged event cells divided by the number a random choice of the
same area would have caught. PAI is larger for smaller areas by construction, so compare
forecasters at the same area share, not one area share against another.</dd>
<dt>Reliability (calibration) plot</dt>
<dd>Cell-weeks are grouped by forecast probability; each point compares the group's average
forecast (across) with the share of its cell-weeks that had a recorded event (up). On the
diagonal the probabilities mean what they say (&ldquo;2% happens about 2% of the
time&rdquo;); above it the forecaster under-states the risk, below it over-states it. Both axes
are logarithmic because the probabilities are small. Point size grows with the number of
cell-weeks; small groups are noisy. Triangles on the bottom edge are groups in which no event
was recorded.</dd>
<dt>Onset cells</dt>
<dd>Cells with no recorded event in the previous 52 weeks. Violence breaking out in a quiet
place is the hardest case and often the most important one for protection of civilians.
Baselines that only look at a cell's own history (persistence, historical average) are weak
there by construction, and the base rate among onset cells is much lower still, so AP and hit
rates are smaller and noisier than for all cells.</dd>
</dl>
"""

LIMITS = """
<ul class="limits">
<li><strong>Reporting bias: the truth is recorded events, not all violence.</strong> Event
datasets such as ACLED depend on media, local partners and access. Remote, insecure, poorly
connected or censored areas are under-reported, and attention shifts with the news cycle. A
forecaster scored against recorded events learns, and is rewarded for predicting, where events get
<em>recorded</em>; a cell with no recorded event may still have had violence.</li>
<li><strong>Location and date precision.</strong> ACLED's <code>geo_precision</code> is 1 when
the named town or village is known, 2 when the event is only known to be near a place or in a
small part of a district, and 3 when only a larger region is known (the event is placed at a
regional centroid or capital). <code>time_precision</code> is 1 for the exact day, 2 when only
the week is known and 3 when only the month is known. Imprecise events can fall in the wrong
H3 cell or week, which counts a correct forecast as a miss and adds a false alarm elsewhere;
precision-3 events may be left out of the cell-level truth altogether, depending on the
configuration.</li>
<li><strong>Tiny base rates.</strong> Only a fraction of a percent of cell-weeks have an event.
AP values of a few percent can be good, a handful of events can move hit rates visibly, and
differences between forecasters smaller than a few points may not be meaningful, especially for
onset cells.</li>
<li><strong>A backtest is not a guarantee.</strong> Each week is forecast only from data before
it (rolling origin), but event data are revised after publication, so the backtest sees a
cleaner past than a forecaster did at the time. A change of conflict dynamics (a new armed
group, a ceasefire) can make past skill a poor guide to the next weeks.</li>
</ul>
"""

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  margin: 0 auto; max-width: 1200px; padding: 0 1.2rem 2rem; color: #1d2329;
  line-height: 1.45; background: #fff; }
h1 { font-size: 1.6rem; margin: 1.2rem 0 0.3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 2px solid #d6dde3;
  padding-bottom: 0.2rem; }
.banner { background: #b00020; color: #fff; font-weight: 700; font-size: 1.15rem;
  padding: 0.8rem 1rem; margin: 0 -1.2rem; text-align: center; letter-spacing: 0.02em; }
.banner small { display: block; font-weight: 400; font-size: 0.9rem; }
.meta { color: #4a5560; margin: 0.2rem 0 1rem; }
.meta span { margin-right: 1.2rem; white-space: nowrap; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
caption .summary { font-weight: 400; color: #4a5560; }
th, td { border: 1px solid #d6dde3; padding: 0.35rem 0.55rem; text-align: right;
  vertical-align: top; }
thead th { background: #eef2f5; text-align: center; font-weight: 600; cursor: help; }
tbody th { text-align: left; font-weight: 400; min-width: 14rem; }
.name { font-weight: 600; font-family: ui-monospace, Menlo, Consolas, monospace; }
.desc { color: #5b6670; font-size: 0.8rem; }
tr.chosen { background: #fff6d6; }
tr.chosen th { border-left: 4px solid #d49a00; }
.tag { background: #d49a00; color: #fff; border-radius: 3px; font-size: 0.7rem;
  padding: 0 0.3rem; margin-left: 0.3rem; text-transform: uppercase; }
td.best { font-weight: 700; }
.na { color: #8a949c; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; padding: 0.5rem; border: 1px solid #d6dde3; border-radius: 4px; }
figure.chosen { border: 2px solid #d49a00; background: #fffbeb; }
figcaption { font-weight: 600; font-family: ui-monospace, Menlo, Consolas, monospace; }
svg .plotbg { fill: #fbfcfd; stroke: #9aa5ae; }
svg .grid { stroke: #e3e8ec; stroke-width: 1; }
svg .diag { stroke: #6b7780; stroke-dasharray: 4 3; stroke-width: 1.2; }
svg .tick { font-size: 9px; fill: #4a5560; }
svg .axis { font-size: 10.5px; fill: #1d2329; }
svg .pt { fill: #1f5fa8; fill-opacity: 0.75; stroke: #0d3566; }
svg .zero { fill: none; stroke: #b00020; stroke-width: 1.3; }
table.small { font-size: 0.8rem; }
dl.explain dt { font-weight: 700; margin-top: 0.8rem; }
dl.explain dd { margin-left: 1rem; max-width: 60rem; }
ul.limits li, ul.notes li { margin-bottom: 0.5rem; max-width: 60rem; }
footer { margin-top: 2rem; color: #6b7780; font-size: 0.8rem; }
@media print { .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def _banner() -> str:
    return ('<div class="banner" role="alert">SYNTHETIC DATA &mdash; NOT REAL EVENTS'
            "<small>These results come from simulated incidents. They show how the forecaster "
            "and this report work, not how well it forecasts real violence. Do not use them "
            "for operational decisions.</small></div>")


def _headline(models: Mapping[str, Any], names: Sequence[str], chosen: str) -> str:
    """One plain sentence comparing the chosen model with the best baseline at 10% of area."""
    if chosen not in names:
        return ""
    ours = _num(_mapping(models.get(chosen)).get("hr_at_10pct"))
    others = [(n, _num(_mapping(models.get(n)).get("hr_at_10pct"))) for n in names
              if n != chosen]
    scored = [(n, v) for n, v in others if v is not None]
    if ours is None or not scored:
        return ""
    best_name, best = max(scored, key=lambda t: t[1])
    return (f'<p class="headline">Flagging the riskiest 10% of the area each week, '
            f"<strong>{_e(chosen)}</strong> would have covered {_fmt_pct(ours)} of the cells "
            f"with a recorded event, against {_fmt_pct(best)} for the best baseline "
            f"(<strong>{_e(best_name)}</strong>).</p>")


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
    meta = "".join([
        f"<span>Period: <strong>{_fmt_text(report.get('start'))}</strong> to "
        f"<strong>{_fmt_text(report.get('end'))}</strong></span>",
        f"<span>Forecast weeks: <strong>{_fmt_int(report.get('weeks'))}</strong></span>",
        f"<span>H3 resolution: <strong>{_fmt_text(report.get('h3_resolution'))}</strong></span>",
        f"<span>Chosen forecaster: <strong>{_fmt_text(chosen or None)}</strong></span>",
    ])
    notes = report.get("notes")
    note_items = ([str(n) for n in notes] if isinstance(notes, Sequence)
                  and not isinstance(notes, str) else [] if notes is None else [str(notes)])
    notes_html = ("<h2>Notes</h2><ul class=\"notes\">"
                  + "".join(f"<li>{_e(n)}</li>" for n in note_items) + "</ul>"
                  if note_items else "")

    body = [
        _banner() if is_synthetic else "",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{meta}</p>',
        _headline(models, names, chosen),
        "<p>Each week of the backtest, every forecaster was given only the data available "
        "before that week and asked for the probability of at least one recorded event in "
        "every H3 cell the following week. The tables pool all forecast weeks. The chosen "
        "forecaster is highlighted; the best value in each column is in bold. Hover a column "
        "heading for a short definition; fuller explanations are below the tables.</p>",
        "<h2>All cells</h2>",
        _metrics_table(models, names, chosen, None, "All cells."),
        "<h2>Onset cells (no recorded event in the previous 52 weeks)</h2>",
        _metrics_table(models, names, chosen, "onset", "Onset cells."),
        "<h2>Reliability (calibration)</h2>",
        "<p>All cells. Dashed line: perfect calibration. Both axes logarithmic.</p>",
        _reliability_section(models, names, chosen),
        unit_section(_mapping(report.get("units"))),
        "<h2>What the numbers mean</h2>",
        EXPLANATIONS,
        "<h2>Limits of this evaluation</h2>",
        LIMITS,
        notes_html,
        "<footer>Generated by geo-risk."
        + (f" Backtest wall time: {_e(f'{wall:,.1f}')} s." if wall is not None else "")
        + "</footer>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(part for part in body if part) + "</body></html>\n")
