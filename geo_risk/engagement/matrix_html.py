"""The admin risk matrix as one self-contained HTML page (template ``matrix.html.j2``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo_risk.render.templating import render

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


def matrix_html(*, matrix: pd.DataFrame, title: str, week: str, synthetic: bool,
                notes: tuple[str, ...] = ()) -> str:
    """The admin risk matrix as one self-contained HTML page (a table sorted by level).

    Every value is escaped by the template (autoescape); no script, no external resource.

    Parameters
    ----------
    matrix : pandas.DataFrame
        The admin matrix (``level`` required; the columns of :data:`MATRIX_HTML_COLUMNS` that
        are present are shown). Not modified.
    title, week : str
        Page title and forecast week (plain text).
    synthetic : bool
        Adds a SYNTHETIC DATA label.
    notes : tuple of str
        Lines listed under the table.

    Returns
    -------
    str
        The HTML page.
    """
    m = matrix.assign(_o=matrix["level"].map(_LEVEL_ORDER).fillna(9))
    for key in ("likelihood", "impact"):
        if f"{key}_score" in m and f"{key}_label" in m:
            m[f"_{key}"] = (m[f"{key}_score"].astype("string") + " "
                            + m[f"{key}_label"].astype("string")).fillna("")
    sort = ["_o"] + (["risk_score"] if "risk_score" in m else [])
    m = m.sort_values(sort, ascending=[True] + [False] * (len(sort) - 1), kind="stable")
    cols = [(c, h) for c, h in MATRIX_HTML_COLUMNS if c in m.columns]

    def cell_text(col: str) -> list[str]:
        s = m[col]
        if pd.api.types.is_float_dtype(s):
            v = s.to_numpy(float)
            fmt = _HTML_FORMATS.get(col, "%.3g")
            return np.where(np.isnan(v), "", np.char.mod(fmt, np.nan_to_num(v))).tolist()
        return s.astype("string").fillna("").tolist()

    columns = []
    for col, _ in cols:
        texts = cell_text(col)
        cls = "wide" if col == "engagement_gaps" else ""
        if col == "level":
            colour = m["level"].map(_LEVEL_COLOURS).fillna("#eee").tolist()
            fg = np.where(np.isin(m["level"].to_numpy(), ["critical", "high"]), "#fff", "#000")
            styles = [f"background:{c};color:{f}" for c, f in zip(colour, fg, strict=True)]
        else:
            styles = [""] * len(m)
        columns.append([(t, cls, st) for t, st in zip(texts, styles, strict=True)])
    return render("matrix.html.j2", title=title, week=week, synthetic=bool(synthetic),
                  headers=[h for _, h in cols], rows=list(zip(*columns, strict=True)),
                  notes=list(notes))
