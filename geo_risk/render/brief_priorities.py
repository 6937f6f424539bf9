"""The brief's priority list: where to engage next week, without anything about people.

Columns that could name or place a person (names, contacts, free text, coordinates) are never
shown, whatever the table holds; place names (units, bases) are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geo_risk.render.brief_format import (
    _get,
    _level_badge,
    _missing,
    _num,
    _parts,
    _pp,
    _prob,
    _records,
    _share,
    _Table,
    _table,
    _text_or_blank,
    _unit,
)
from geo_risk.render.templating import Markup

#: Rows of the priority list shown, in all and per kind (the rest is in priorities.csv).
MAX_PRIORITIES = 20
PRIORITY_LIMITS = {"admin unit": 12, "cell": 8}

#: Columns of a priority table that are never shown (people, places of people, free text).
_PERSONAL_RE = re.compile(
    r"(^|_)(name|names|phone|email|e_mail|contact|facilitator|respondent|participant|"
    r"participants|person|people_names|notes|comment|comments|uuid|id_number|lon|lng|lat|"
    r"longitude|latitude|gps|geometry|coordinates|address)($|_)",
    re.IGNORECASE,
)
#: Name-like columns that are about places, not people.
_PLACE_NAME_COLUMNS = {"admin_name", "base_name", "admin1_name", "admin2_name", "parent_name"}

def _shown_priority_columns(frame: pd.DataFrame,
                            extra_personal: Sequence[str] = ()) -> list[str]:
    hidden = {c.lower() for c in extra_personal}
    cols = []
    for c in frame.columns:
        name = str(c)
        if name.lower() in hidden:
            continue
        if name.lower() not in _PLACE_NAME_COLUMNS and _PERSONAL_RE.search(name):
            continue
        cols.append(name)
    return cols


def _priority_value(col: str, value: Any) -> Any:
    if _missing(value):
        return "\u2014"
    low = col.lower()
    if low == "level":
        return _level_badge(value)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return _num(value)
    if isinstance(value, float | np.floating):
        if low.endswith("_change") and ("likelihood" in low or "risk" in low):
            return _pp(value)
        if low in ("likelihood", "risk", "risk_prev", "likelihood_prev") or low.endswith(
                ("_probability", "_prob")):
            return _prob(value)
        if low.endswith(("_share", "_pct_share")):
            return _share(value)
        return _num(value, 0 if abs(float(value)) >= 100 or float(value).is_integer() else 2)
    if isinstance(value, pd.Timestamp | dt.date):
        return value.isoformat()[:10]
    return str(value)


def _label(col: str) -> str:
    text = col.replace("_", " ").strip()
    fixes = {"admin pcode": "P-code", "admin name": "Admin unit", "12w": "(12 wk)",
             "4w": "(4 wk)"}
    for a, b in fixes.items():
        text = text.replace(a, b)
    return text[:1].upper() + text[1:]


def _generic_priorities(frame: pd.DataFrame, cols: list[str]) -> _Table:
    """Any priority table: its (non-personal) columns as they are."""
    numeric = [i for i, c in enumerate(cols)
               if pd.api.types.is_numeric_dtype(frame[c].dtype)
               and not pd.api.types.is_bool_dtype(frame[c].dtype)]
    rows = [[_priority_value(c, v) for c, v in zip(cols, values, strict=True)]
            for values in frame[cols].itertuples(index=False, name=None)]
    return _table([_label(c) for c in cols], rows, numeric=numeric, cls="grb-priorities")


def _lines(parts: Sequence[tuple[str, Any]]) -> Markup:
    """``label: value`` lines (value escaped), skipping missing values."""
    return _parts().lines([(label, value) for label, value in parts
                           if not _missing(value) and str(value).strip() != ""])


def _risk_cell(r: Mapping[Any, Any]) -> Markup:
    parts = _parts()
    p = _get(r, "risk")
    p = _get(r, "likelihood") if _missing(p) else p
    bits: list[Any] = [] if _missing(_get(r, "level")) else [_level_badge(r["level"])]
    if not _missing(p):
        bits.append(parts.lines([("", f"p = {_prob(p)}")]))
    if not _missing(_get(r, "expected_incident_cells")):
        bits.append(parts.lines([("", f"{_num(r['expected_incident_cells'], 1)} expected "
                                      "cells with incidents")]))
    return parts.concat(bits)


def _curated_priorities(frame: pd.DataFrame, cols: list[str]) -> _Table:
    """The priority table of a run (rank, unit or cell, risk, why, engagement, approach)."""
    have = set(cols)
    headers = ["#", "Where"]
    risk_cols = have & {"level", "risk", "likelihood", "expected_incident_cells"}
    if risk_cols:
        headers.append("Risk")
    if "why" in have:
        headers.append("Why")
    ctx = [c for c in ("engagement_status", "access_status", "reprisal_exposure") if c in have]
    if ctx:
        headers.append("Engagement and access")
    act = [c for c in ("suggested_modality", "nearest_base") if c in have]
    if act:
        headers.append("Suggested approach")
    rows = []
    for pos, r in enumerate(_records(frame[cols]), start=1):
        rank = _get(r, "rank")
        cell = _get(r, "cell")
        row: list[Any] = [pos if _missing(rank) else rank, _parts().where(
            _unit(_get(r, "admin_name"), _get(r, "admin_pcode")),
            "" if _missing(cell) else str(cell).strip() and str(cell))]
        if risk_cols:
            row.append(_risk_cell(r))
        if "why" in have:
            row.append(_text_or_blank(_get(r, "why")))
        if ctx:
            row.append(_lines([(c.split("_")[0], _get(r, c)) for c in ctx]))
        if act:
            base = _get(r, "nearest_base")
            km = _get(r, "nearest_base_km")
            near = None if _missing(base) else (
                f"{base}" + ("" if _missing(km) else f" ({_num(km)} km)"))
            row.append(_lines([("", _get(r, "suggested_modality")), ("nearest base", near)]))
        rows.append(row)
    kinds = ["", ""] + (["grb-nowrap"] if risk_cols else []) + (
        ["grb-drivers"] if "why" in have else []) + (["grb-ctx"] if ctx else []) + (
        ["grb-ctx"] if act else [])
    cls = [kinds for _ in rows]
    return _table(headers, rows, numeric=(0,), cls="grb-priorities", cell_classes=cls)


def _priorities(priorities: Any, personal: Sequence[str]) -> list[dict[str, Any]] | None:
    """The priority list in groups (admin units, cells): title, table, rows shown/total."""
    if not isinstance(priorities, pd.DataFrame) or priorities.empty:
        return None
    cols = _shown_priority_columns(priorities, personal)
    render = _curated_priorities if "why" in cols else _generic_priorities
    kinds: pd.Series | None = None
    groups: list[str | None] = [None]
    if "kind" in cols:
        kinds = priorities["kind"].astype("string").fillna("other")
        groups = [str(k) for k in dict.fromkeys(kinds.tolist())]
    out = []
    for kind in groups:
        frame = priorities if kinds is None else priorities[(kinds == kind).to_numpy()]
        shown = frame.head(PRIORITY_LIMITS.get(str(kind), MAX_PRIORITIES))
        title = (None if kind is None
                 else {"admin unit": "Admin units", "cell": "Cells"}.get(str(kind), str(kind)))
        out.append({"title": title, "table": render(shown, [c for c in cols if c != "kind"]),
                    "shown": len(shown), "total": len(frame)})
    return out
