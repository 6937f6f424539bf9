"""The admin risk matrix as one self-contained, escaped HTML page."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

MATRIX_HTML_COLUMNS = (
    ("admin_name", "Admin unit"), ("admin_pcode", "P-code"), ("level", "Level"),
    ("likelihood", "P(≥1 incident)"), ("_likelihood", "Likelihood (1-5)"),
    ("_impact", "Impact (1-5)"), ("expected_incident_cells", "Expected cells with incidents"),
    ("trend", "Trend"), ("level_change", "vs last week"),
    ("engagement_status", "Engagement"), ("engagements", "Engagements"),
    ("engagement_gaps", "Engagement gaps"), ("access_status", "Access"),
    ("restricted_population", "People under restrictions"),
    ("reprisal_exposure", "Reprisal exposure"), ("priority_rank", "Priority"),
)
_LEVEL_COLOURS = {"critical": "#8c0d26", "high": "#dc4b2f", "medium": "#f7a35c", "low": "#fde7c4"}
_LEVEL_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_HTML_FORMATS = {"likelihood": "%.2f", "expected_incident_cells": "%.1f", "engagements": "%.0f",
                 "restricted_population": "%.0f", "priority_rank": "%.0f"}


def _escape(text: pd.Series) -> np.ndarray:
    """HTML-escape a column of strings (vectorised ``html.escape`` with quotes)."""
    t = text.astype("string").fillna("")
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                 ("'", "&#x27;")):
        t = t.str.replace(a, b, regex=False)
    return t.to_numpy(dtype=object)


def matrix_html(*, matrix: pd.DataFrame, title: str, week: str, synthetic: bool,
                notes: tuple[str, ...] = ()) -> str:
    """The admin risk matrix as one self-contained HTML page (a table sorted by level).

    Every value is HTML-escaped; no script, no external resource.
    """
    m = matrix.assign(_o=matrix["level"].map(_LEVEL_ORDER).fillna(9))
    for key in ("likelihood", "impact"):
        if f"{key}_score" in m and f"{key}_label" in m:
            m[f"_{key}"] = (m[f"{key}_score"].astype("string") + " "
                            + m[f"{key}_label"].astype("string")).fillna("")
    sort = ["_o"] + (["risk_score"] if "risk_score" in m else [])
    m = m.sort_values(sort, ascending=[True] + [False] * (len(sort) - 1), kind="stable")
    cols = [(c, h) for c, h in MATRIX_HTML_COLUMNS if c in m.columns]

    def cell_text(col: str) -> np.ndarray:
        s = m[col]
        txt: pd.Series
        if pd.api.types.is_float_dtype(s):
            v = s.to_numpy(float)
            fmt = _HTML_FORMATS.get(col, "%.3g")
            txt = pd.Series(np.where(np.isnan(v), "", np.char.mod(fmt, np.nan_to_num(v))))
        else:
            txt = s.astype("string").fillna("")
        return _escape(txt)

    body = np.full(len(m), "<tr>", dtype=object)
    for col, _ in cols:
        vals = cell_text(col)
        if col == "level":
            colour = m["level"].map(_LEVEL_COLOURS).fillna("#eee").to_numpy(dtype=object)
            fg = np.where(np.isin(m["level"].to_numpy(), ["critical", "high"]), "#fff", "#000")
            body = (body + '<td style="background:' + colour + ";color:" + fg + '">' + vals
                    + "</td>")
        elif col == "engagement_gaps":
            body = body + '<td class="wide">' + vals + "</td>"
        else:
            body = body + "<td>" + vals + "</td>"
    body = body + "</tr>"
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in cols)
    label = ('<p class="synthetic">SYNTHETIC DATA: fictional scenario, not real events.</p>'
             if synthetic else "")
    note_html = "".join(f"<li>{html.escape(x)}</li>" for x in notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: risk matrix, week of {html.escape(week)}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:3px 6px;text-align:left;
vertical-align:top}}th{{background:#f2f2f2;position:sticky;top:0}}
td.wide{{min-width:24em}}
.synthetic{{background:#fff3cd;border:1px solid #e0c36c;padding:4px 8px;font-weight:bold}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Predictive risk-assessment matrix, week of {html.escape(week)}; sorted by level.</p>
{label}<table><thead><tr>{head}</tr></thead><tbody>
{"".join(body)}
</tbody></table><ul>{note_html}</ul></body></html>
"""


