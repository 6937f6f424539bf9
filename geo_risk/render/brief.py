"""The weekly brief: one self-contained, print-friendly HTML page for reports.

``brief.html`` holds, in this order: the SYNTHETIC banner (when the data are synthetic), the
title block and key figures, data warnings (stale feeds, run warnings), the interactive map
and a static PNG of it, the priority list, the top changes since last week (admin units and
cells), the admin risk-assessment matrix, data freshness per input, and sources.

Offline and safe
----------------
* The page has no script of its own. The interactive map (``map.html``, see
  :mod:`geo_risk.render.map`) is embedded whole in an ``<iframe sandbox="allow-scripts"
  srcdoc="…">`` (attribute-escaped): it runs in an opaque origin that cannot touch the brief.
  The static map is a ``data:`` PNG (:mod:`geo_risk.render.static`), also written as
  ``map.png``. Opening the brief makes no request.
* A Content-Security-Policy allows only the map's own inline scripts (by SHA-256 hash), inline
  styles and ``data:`` images; nothing may be fetched, so an injected script would neither run
  nor send anything out, even if escaping ever failed.
* Every text from data (admin names and codes, drivers, trends, base names, titles, sources,
  warnings, priority fields) goes through :func:`html.escape`. Personal or location columns of
  a priority table (names, phones, coordinates, …) are never shown, and no consultation point
  reaches the page: engagement appears only as aggregated cells inside the map.
* For print (``@media print``) the interactive map is hidden and the static PNG takes its
  place; tables keep their headers on each page and colours print as shown.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import html
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa

from geo_risk.analyse import likelihood_legend
from geo_risk.errors import Problem, ValidationError
from geo_risk.render.map import LEVEL_COLOURS, format_probability, quantise_probability

if TYPE_CHECKING:
    from geo_risk.config import RunConfig
    from geo_risk.pipeline import WeeklyResult

__all__ = [
    "brief_for_run",
    "render_brief",
    "write_brief",
    "write_brief_outputs",
]

#: Rows shown in each "top changes" table and in the priority list.
TOP_ADMIN_CHANGES = 8
TOP_CELL_CHANGES = 10
MAX_PRIORITIES = 20
#: Rows of the priority list shown per kind (the rest is in priorities.csv).
PRIORITY_LIMITS = {"admin unit": 12, "cell": 8}
_DOT = " \u00b7 "
_MODEL_TEXT = {"model": "gradient-boosted trees (LightGBM) blended with conflictology",
               "persistence": "persistence baseline",
               "historical_average": "historical-average baseline",
               "conflictology": "conflictology baseline"}
_LEVEL_ORDER = {"critical": 3, "high": 2, "medium": 1, "low": 0}
_LEVEL_TEXT_DARK = {"critical", "very high", "high"}
#: Badge colours: the map's admin-level colours, plus words other tables use.
_LEVEL_COLOURS = {**LEVEL_COLOURS, "very high": "#b3262b", "moderate": LEVEL_COLOURS["medium"],
                  "very low": "#fdf3e1"}
#: Columns of a priority table that are never shown (people, places of people, free text).
_PERSONAL_RE = re.compile(
    r"(^|_)(name|names|phone|email|e_mail|contact|facilitator|respondent|participant|"
    r"participants|person|people_names|notes|comment|comments|uuid|id_number|lon|lng|lat|"
    r"longitude|latitude|gps|geometry|coordinates|address)($|_)",
    re.IGNORECASE,
)
#: Name-like columns that are about places, not people.
_PLACE_NAME_COLUMNS = {"admin_name", "base_name", "admin1_name", "admin2_name", "parent_name"}


# --------------------------------------------------------------------------- small helpers


class _Html(str):
    """A piece of HTML built by this module (its data parts already escaped)."""


def _e(value: Any) -> str:
    """Escape any value as text for HTML content or a quoted attribute."""
    if isinstance(value, _Html):
        return str(value)
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _prob(p: Any) -> str:
    """A probability as the map shows it (two significant digits)."""
    if _missing(p):
        return "\u2014"
    return format_probability(int(quantise_probability([float(p)])[0]))


def _pp(d: Any) -> str:
    """A change of probability in percentage points, signed."""
    if _missing(d):
        return "\u2014"
    pp = float(d) * 100
    if abs(pp) < 0.05:
        return "\u00b10 pp"
    text = f"{abs(pp):.1f}" if abs(pp) < 10 else f"{abs(pp):.0f}"
    return ("+" if pp > 0 else "\u2212") + text + " pp"


def _num(x: Any, digits: int = 0) -> str:
    if _missing(x):
        return "\u2014"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "\u2014"
    return f"{v:,.{digits}f}"


def _share(x: Any) -> str:
    if _missing(x):
        return "\u2014"
    v = float(x)
    return "<1%" if 0 < v < 0.005 else f"{v * 100:.0f}%"


def _get(row: Mapping[Any, Any], key: str) -> Any:
    return row.get(key)


def _records(frame: pd.DataFrame) -> list[dict[Any, Any]]:
    """Rows as dicts (tables of tens of rows, not cells)."""
    return frame.to_dict("records")


def _level_badge(level: Any, prev: Any = None, change: Any = None) -> _Html:
    text = "" if _missing(level) else str(level)
    key = text.strip().lower()
    colour = _LEVEL_COLOURS.get(key, "#d4d4d4")
    fg = "#ffffff" if key in _LEVEL_TEXT_DARK else "#1c1c1c"
    out = (f'<span class="grb-badge" style="background:{colour};color:{fg}">'
           f"{_e(text or 'n/a')}</span>")
    ch = "" if _missing(change) else str(change).strip().lower()
    if ch in ("up", "down"):
        arrow = "\u25b2" if ch == "up" else "\u25bc"
        was = "" if _missing(prev) else f" from {_e(prev)}"
        out += f' <span class="grb-move grb-{ch}">{arrow}{was}</span>'
    return _Html(out)


def _signed_class(d: Any) -> str:
    if _missing(d) or abs(float(d)) < 0.0005:
        return ""
    return "grb-up" if float(d) > 0 else "grb-down"


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    cls: str = "",
    numeric: Sequence[int] = (),
    caption: str | None = None,
    cell_classes: Sequence[Sequence[str]] | None = None,
) -> _Html:
    """An HTML table; every cell is escaped unless it is :class:`_Html` built here."""
    num = set(numeric)
    parts = [f'<table class="grb-table {_e(cls)}">']
    if caption:
        parts.append(f"<caption>{_e(caption)}</caption>")
    parts.append("<thead><tr>")
    num_attr = ' class="grb-num"'
    parts += [f'<th scope="col"{num_attr if i in num else ""}>{_e(h)}</th>'
              for i, h in enumerate(headers)]
    parts.append("</tr></thead><tbody>")
    for r, row in enumerate(rows):
        parts.append("<tr>")
        for i, value in enumerate(row):
            classes = ["grb-num"] if i in num else []
            if cell_classes is not None and cell_classes[r][i]:
                classes.append(cell_classes[r][i])
            attr = f' class="{_e(" ".join(classes))}"' if classes else ""
            parts.append(f"<td{attr}>{_e(value)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return _Html("".join(parts))


def _unit(name: Any, pcode: Any) -> _Html:
    n = "" if _missing(name) else str(name)
    p = "" if _missing(pcode) else str(pcode)
    return _Html(f'<span class="grb-unit">{_e(n or "Unnamed area")}</span>'
                 f'<span class="grb-code">{_e(p)}</span>')


def _text_or_blank(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _empty(text: str) -> _Html:
    return _Html(f'<p class="grb-empty">{_e(text)}</p>')


# --------------------------------------------------------------------------- sections


def _sorted_matrix(matrix: pd.DataFrame) -> pd.DataFrame:
    m = matrix.copy()
    level = m["level"] if "level" in m.columns else pd.Series("", index=m.index)
    m["_lv"] = level.astype("string").str.lower().map(_LEVEL_ORDER).fillna(-1)
    keys = ["_lv"] + [c for c in ("risk_score", "likelihood", "expected_incident_cells")
                      if c in m.columns]
    return m.sort_values(keys, ascending=False, kind="stable")


def _matrix_section(matrix: pd.DataFrame) -> str:
    m = _sorted_matrix(matrix)
    rows = []
    cell_cls = []
    for i, r in enumerate(_records(m), start=1):  # one row per admin unit (tens)
        share, people = _get(r, "restricted_share"), _get(r, "restricted_population")
        access: str | _Html = _share(share)
        if not _missing(share) and float(share) == 0 and (_missing(people) or not people):
            access = "none"
        elif not _missing(people) and float(people) > 0:
            access = _Html(f"{_e(access)} of area"
                           f'<span class="grb-sub">{_e(_num(people))} people</span>')
        rows.append([
            i,
            _unit(_get(r, "admin_name"), _get(r, "admin_pcode")),
            _level_badge(_get(r, "level"), _get(r, "level_prev"), _get(r, "level_change")),
            _Html(f"{_e(_prob(_get(r, 'likelihood')))}"
                  f'<span class="grb-sub">{_e(_text_or_blank(_get(r, "likelihood_label")))}'
                  "</span>"),
            _pp(_get(r, "likelihood_change")),
            _num(_get(r, "expected_incident_cells"), 1),
            _text_or_blank(_get(r, "trend")),
            _num(_get(r, "civilian_targeting_12w")),
            access,
        ])
        cell_cls.append(["", "", "", "", _signed_class(_get(r, "likelihood_change")), "", "", "",
                         ""])
    table = _table(
        ["#", "Admin unit", "Level", "P(\u22651 incident)", "Change vs last week",
         "Expected cells with incidents", "Trend", "Civilians targeted, 12 wk",
         "Access restricted"],
        rows, cls="grb-matrix", numeric=(0, 3, 4, 5, 7), cell_classes=cell_cls,
    )
    return (
        '<section class="grb-section" id="grb-matrix"><h2>Admin risk matrix</h2>'
        '<p class="grb-lead">Level = likelihood \u00d7 impact on the 5\u00d75 risk-assessment '
        "matrix. P(\u22651 incident) is the chance of at least one incident in the unit next "
        "week, with its likelihood word (" + _e(likelihood_legend()) + "); change is against "
        "last week's forecast, in percentage points. Expected cells with incidents is the sum "
        "of the cells' probabilities: how many grid cells should see at least one incident, "
        "not a count of incidents. Access: share of the unit's area under a restriction in "
        "force.</p>"
        f"{table}</section>"
    )


def _actors_section(actors: pd.DataFrame | None, matrix: pd.DataFrame,
                    priorities: pd.DataFrame | None, *, top: int = 8, per_unit: int = 3) -> str:
    """Armed actors active in the top units (priority order, else level), with counts."""
    head = ('<section class="grb-section" id="grb-actors"><h2>Armed actors in the top units'
            "</h2>")
    if not isinstance(actors, pd.DataFrame) or actors.empty:
        return head + _empty("No armed actor reported in the window.") + "</section>"
    if isinstance(priorities, pd.DataFrame) and "kind" in priorities.columns:
        order = priorities.loc[priorities["kind"] == "admin unit", "admin_pcode"]
    else:
        order = _sorted_matrix(matrix)["admin_pcode"]
    codes = [c for c in order.astype(str).tolist() if c in set(actors["admin_pcode"])][:top]
    names: dict[Any, Any] = (dict(matrix.set_index("admin_pcode")["admin_name"])
                             if "admin_name" in matrix else {})
    rows = []
    for code in codes:
        a = actors[actors["admin_pcode"].astype(str) == code].head(per_unit)
        who = "; ".join(f"{actor} ({n:.0f} incidents, {civ:.0f} targeting civilians)"
                        for actor, n, civ in zip(a["actor"].astype(str),
                                                 a["incidents"].to_numpy(float),
                                                 a["civilian_targeting"].to_numpy(float),
                                                 strict=True))
        rows.append([_unit(names.get(code, ""), code), who])
    return (head + '<p class="grb-lead">Armed actors named in the incident reports of the last '
            "weeks, by unit (up to three each): incidents involving the actor and, of those, "
            "civilian targeting it perpetrated. Names are as the sources report them; this is "
            "not an attribution of responsibility. Do no harm: do not pair these names with "
            "any community, person or meeting the mission engaged.</p>"
            + _table(["Admin unit", "Actors (incidents, civilian targeting)"], rows,
                     cls="grb-actors") + "</section>")


def _admin_changes(matrix: pd.DataFrame, *, up: bool) -> str:
    """Units that changed most, on a scale that does not saturate (``change_score``: recent
    incidents against the unit's own baseline, plus the change in expected cells), with the
    reason in words; level moves always qualify."""
    m = matrix.copy()
    col = "change_score" if "change_score" in m.columns else "likelihood_change"
    change = (pd.to_numeric(m[col], errors="coerce") if col in m.columns
              else pd.Series(np.nan, index=m.index))
    moved = (m["level_change"].astype("string").str.lower()
             if "level_change" in m.columns else pd.Series("", index=m.index, dtype="string"))
    sign = 1 if up else -1
    m["_moved"] = (moved == ("up" if up else "down")).fillna(False).astype(int)
    m["_chg"] = change * sign
    cut = 0.5 if col == "change_score" else 0.005
    m = m[(m["_moved"] == 1) | (m["_chg"] >= cut)]
    m = m.sort_values(["_chg", "_moved"], ascending=False, kind="stable").head(TOP_ADMIN_CHANGES)
    word = "rising" if up else "falling"
    if m.empty:
        return (f"<h3>Admin units, risk {word}</h3>"
                + _empty(f"No admin unit changed level or moved markedly ({word})."))
    rows = [[
        _unit(_get(r, "admin_name"), _get(r, "admin_pcode")),
        _level_badge(_get(r, "level"), _get(r, "level_prev"), _get(r, "level_change")),
        _Html(f"{_e(_num(_get(r, 'incidents_4w')))}"
              f'<span class="grb-sub">usual {_e(_num(_get(r, "incidents_baseline_4w"), 1))}'
              "</span>"),
        _Html(f"{_e(_num(_get(r, 'expected_incident_cells_prev'), 1))} \u2192 "
              f"{_e(_num(_get(r, 'expected_incident_cells'), 1))}"),
        _prob(_get(r, "likelihood")),
        _text_or_blank(_get(r, "change_reason")),
    ] for r in _records(m)]
    cls = [["", "", "", "grb-up" if up else "grb-down", "", "grb-drivers"] for _ in rows]
    return f"<h3>Admin units, risk {word}</h3>" + _table(
        ["Admin unit", "Level", "Incidents, last 4 wk", "Expected cells with incidents",
         "P(\u22651) now", "Why"], rows,
        numeric=(2, 3, 4), cell_classes=cls, cls="grb-changes")


def _cell_changes(grid: pd.DataFrame, *, up: bool, n: int) -> str:
    word = "increases" if up else "decreases"
    if "risk_change" in grid.columns:
        change = pd.to_numeric(grid["risk_change"], errors="coerce")
    elif "risk_prev" in grid.columns:
        change = pd.to_numeric(grid["risk"], errors="coerce") - pd.to_numeric(
            grid["risk_prev"], errors="coerce")
    else:
        return f"<h3>Cells, largest {word}</h3>" + _empty("No previous week to compare with.")
    signed = change if up else -change
    pick = signed[signed >= 0.005].nlargest(n).index
    if len(pick) == 0:
        return (f"<h3>Cells, largest {word}</h3>"
                + _empty(f"No cell moved by \u22650.5 pp ({word})."))
    g = grid.loc[pick]
    chg = change.loc[pick].to_numpy()
    cells = np.asarray(g["cell"].to_numpy(), dtype=np.uint64)
    coords = pa.table(h3v.cells_to_coordinates(cells))
    lat, lng = coords.column("lat").to_numpy(), coords.column("lng").to_numpy()
    ids = np.char.mod("%x", cells)
    rows = [[
        _Html(f'<span class="grb-code">{_e(ids[i])}</span>'
              f'<span class="grb-coord">{lat[i]:.3f}, {lng[i]:.3f}</span>'),
        _unit(_get(r, "admin_name"), _get(r, "admin_pcode")),
        _prob(_get(r, "risk_prev")),
        _prob(_get(r, "risk")),
        _pp(chg[i]),
        _text_or_blank(_get(r, "drivers")),
    ] for i, r in enumerate(_records(g))]
    cls = [["", "", "", "", "grb-up" if up else "grb-down", "grb-drivers"] for _ in rows]
    return f"<h3>Cells, largest {word}</h3>" + _table(
        ["H3 cell (centre lat, lon)", "Admin unit", "Last week", "This week", "Change",
         "Main reasons"], rows, numeric=(2, 3, 4), cell_classes=cls, cls="grb-cells")


def _changes_section(matrix: pd.DataFrame, grid: pd.DataFrame | None) -> str:
    parts = ['<section class="grb-section" id="grb-changes"><h2>Top changes since last week</h2>',
             '<div class="grb-cols">',
             f'<div>{_admin_changes(matrix, up=True)}</div>',
             f'<div>{_admin_changes(matrix, up=False)}</div>', "</div>"]
    if grid is not None and len(grid):
        parts.append(_cell_changes(grid, up=True, n=TOP_CELL_CHANGES))
        parts.append(_cell_changes(grid, up=False, n=TOP_CELL_CHANGES // 2))
    parts.append("</section>")
    return "".join(parts)


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


def _generic_priorities(frame: pd.DataFrame, cols: list[str]) -> _Html:
    """Any priority table: its (non-personal) columns as they are."""
    numeric = [i for i, c in enumerate(cols)
               if pd.api.types.is_numeric_dtype(frame[c].dtype)
               and not pd.api.types.is_bool_dtype(frame[c].dtype)]
    rows = [[_priority_value(c, v) for c, v in zip(cols, values, strict=True)]
            for values in frame[cols].itertuples(index=False, name=None)]
    return _table([_label(c) for c in cols], rows, numeric=numeric, cls="grb-priorities")


def _lines(parts: Sequence[tuple[str, Any]]) -> _Html:
    """``label: value`` lines (value escaped), skipping missing values."""
    out = []
    for label, value in parts:
        if _missing(value) or str(value).strip() == "":
            continue
        prefix = f'<span class="grb-k">{_e(label)}:</span> ' if label else ""
        out.append(f'<span class="grb-line">{prefix}{_e(value)}</span>')
    return _Html("".join(out))


def _curated_priorities(frame: pd.DataFrame, cols: list[str]) -> _Html:
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
        row: list[Any] = [pos if _missing(rank) else rank]
        cell = _get(r, "cell")
        where = str(_unit(_get(r, "admin_name"), _get(r, "admin_pcode")))
        if not _missing(cell) and str(cell).strip():
            where += f'<span class="grb-code">cell {_e(cell)}</span>'
        row.append(_Html(where))
        if risk_cols:
            p = _get(r, "risk")
            p = _get(r, "likelihood") if _missing(p) else p
            bits = [] if _missing(_get(r, "level")) else [str(_level_badge(r["level"]))]
            if not _missing(p):
                bits.append(f'<span class="grb-line">p = {_e(_prob(p))}</span>')
            if not _missing(_get(r, "expected_incident_cells")):
                bits.append(f'<span class="grb-line">'
                            f'{_e(_num(r["expected_incident_cells"], 1))} expected cells with '
                            "incidents</span>")
            row.append(_Html("".join(bits)))
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


def _priorities_section(priorities: Any, personal: Sequence[str]) -> str:
    head = '<section class="grb-section" id="grb-priorities"><h2>Priority list</h2>'
    if not isinstance(priorities, pd.DataFrame) or priorities.empty:
        return (head + '<p class="grb-empty grb-na">Priority list not available for this run.'
                "</p></section>")
    cols = _shown_priority_columns(priorities, personal)
    curated = "why" in cols
    render = _curated_priorities if curated else _generic_priorities
    parts = [head, '<p class="grb-lead">Where to look first next week, in order. The full '
             "list, with every column, is in priorities.csv.</p>"]
    kinds: pd.Series | None = None
    groups: list[str | None] = [None]
    if "kind" in cols:
        kinds = priorities["kind"].astype("string").fillna("other")
        groups = [str(k) for k in dict.fromkeys(kinds.tolist())]
    for kind in groups:
        frame = priorities if kinds is None else priorities[(kinds == kind).to_numpy()]
        limit = PRIORITY_LIMITS.get(str(kind), MAX_PRIORITIES)
        shown = frame.head(limit)
        if kind is not None:
            title = {"admin unit": "Admin units", "cell": "Cells"}.get(str(kind), str(kind))
            parts.append(f"<h3>{_e(title)}</h3>")
        parts.append(render(shown, [c for c in cols if c != "kind"]))
        if len(frame) > len(shown):
            parts.append(f'<p class="grb-note">Top {len(shown)} of {len(frame)} shown.</p>')
    parts.append("</section>")
    return "".join(parts)


def _inputs_frame(inputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in inputs:
        d = dict(item) if isinstance(item, Mapping) else dataclasses.asdict(item)
        out.append(d)
    return out


def _freshness_section(inputs: list[dict[str, Any]], week: dt.date) -> str:
    if not inputs:
        return ""
    rows, cls = [], []
    for d in inputs:
        newest = d.get("newest_date")
        age = "\u2014"
        if newest and not _missing(newest):
            try:
                days = (week - pd.Timestamp(str(newest)).date()).days
                age = f"{days:,} day{'' if abs(days) == 1 else 's'}"
            except ValueError:
                age = "\u2014"
        stale = bool(d.get("stale"))
        status = (_Html('<span class="grb-stale-tag">STALE</span>') if stale
                  else ("ok" if d.get("kind") != "bases" else "reference"))
        read, acc, rej = d.get("rows_read"), d.get("rows_accepted"), d.get("rows_rejected")
        rows.append([d.get("name", ""), d.get("kind", ""), newest or "\u2014", age, status,
                     _num(read), _num(acc), _num(rej)])
        cls.append(["grb-stale" if stale else ""] + [""] * 7)
    table = _table(["Input", "Kind", "Newest record", "Age at forecast week", "Status",
                    "Rows read", "Accepted", "Rejected"], rows, numeric=(3, 5, 6, 7),
                   cell_classes=cls, cls="grb-fresh")
    return ('<section class="grb-section" id="grb-freshness"><h2>Data freshness</h2>'
            '<p class="grb-lead">Newest record of each input, before the forecast week. A quiet '
            "area next to a stale feed may only be missing data.</p>"
            f"{table}</section>")


def _warnings_block(warnings: Sequence[str], inputs: list[dict[str, Any]]) -> str:
    run = [str(w) for w in warnings]
    per_input = [f"{d.get('name', '')}: {w}" for d in inputs for w in (d.get("warnings") or [])]
    stale_inputs = [d for d in inputs if d.get("stale")]
    minor = "".join(f'<li class="grb-minor">{_e(w)}</li>' for w in per_input)
    if not run and not stale_inputs:
        return ('<section class="grb-alerts grb-ok" id="grb-warnings"><h2>Data warnings</h2>'
                "<p>No stale feed and no run warning.</p>"
                + (f"<ul>{minor}</ul>" if minor else "") + "</section>")
    items = []
    for w in run:
        stale = w.upper().startswith("STALE FEED")
        items.append(f'<li class="{"grb-stale" if stale else ""}">{_e(w)}</li>')
    listed = " ".join(run)
    for d in stale_inputs:  # a stale input whose warning line was not passed in
        if str(d.get("name", "")) not in listed:
            items.append(f'<li class="grb-stale">STALE FEED: {_e(d.get("name", ""))} newest '
                         f'record is {_e(d.get("newest_date") or "unknown")}.</li>')
    return ('<section class="grb-alerts" id="grb-warnings"><h2>Data warnings</h2>'
            f'<ul>{"".join(items)}{minor}</ul></section>')


def _sources_section(sources: Sequence[str], notes: Sequence[str],
                     inputs: list[dict[str, Any]]) -> str:
    items = [f"<li>{_e(s)}</li>" for s in sources]
    if not sources:
        for d in inputs:
            sha = str(d.get("sha256") or "")[:12]
            fmt = d.get("format") or ""
            span = ""
            if d.get("oldest_date") and d.get("newest_date"):
                span = f", records {d['oldest_date']} to {d['newest_date']}"
            text = f"{d.get('name', '')} ({d.get('kind', '')}"
            if fmt and fmt != "auto":
                text += f", {fmt}"
            text += span
            if sha:
                text += f", sha256 {sha}\u2026"
            items.append(f"<li>{_e(text + ')')}</li>")
    notes_html = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return ('<section class="grb-section grb-sources" id="grb-sources"><h2>Sources and notes</h2>'
            f'<ul>{"".join(items) or "<li>No sources recorded.</li>"}</ul>'
            + (f'<ul class="grb-notes">{notes_html}</ul>' if notes_html else "")
            + '<p class="grb-limits">Incident data record what was reported. Remote and '
            "inaccessible places are under-reported, so low risk there may mean \u201cnot "
            "heard\u201d rather than \u201csafe\u201d: read the map with the access layer. "
            "Probabilities are for one week and one grid cell (or admin unit in the matrix). "
            "Engagement is shown only as aggregates; small counts are suppressed.</p></section>")


def _key_figures(matrix: pd.DataFrame, grid: pd.DataFrame | None,
                 inputs: list[dict[str, Any]]) -> str:
    tiles: list[tuple[str, str, str]] = []
    if "level" in matrix.columns:
        lv = matrix["level"].astype("string").str.lower()
        tiles.append((f"{int((lv == 'critical').sum())} / {int((lv == 'high').sum())}",
                      "admin units critical / high", "grb-tile-hot"))
    if "level_change" in matrix.columns:
        ch = matrix["level_change"].astype("string").str.lower()
        tiles.append((f"\u25b2{int((ch == 'up').sum())}  \u25bc{int((ch == 'down').sum())}",
                      "admin units changed level", ""))
    if "expected_incident_cells" in matrix.columns:
        tiles.append((_num(pd.to_numeric(matrix["expected_incident_cells"], errors="coerce")
                           .sum(), 0),
                      "expected grid cells with \u22651 incident next week", ""))
    if "incidents_4w" in matrix.columns:
        tiles.append((_num(pd.to_numeric(matrix["incidents_4w"], errors="coerce").sum() / 4, 0),
                      "incidents reported per week, last 4 weeks", ""))
    if grid is not None and len(grid):
        risk = pd.to_numeric(grid["risk"], errors="coerce").to_numpy(dtype="float64")
        if np.isfinite(risk).any():
            top = int(np.nanargmax(risk))
            where = grid["admin_name"].iloc[top] if "admin_name" in grid.columns else None
            label = "highest cell probability" + (
                "" if _missing(where) else f" ({where})")
            tiles.append((_prob(risk[top]), label, ""))
    if inputs:
        feeds = [d for d in inputs if d.get("kind") != "bases"]
        n_stale = sum(bool(d.get("stale")) for d in feeds)
        tiles.append((f"{n_stale} of {len(feeds)}", "input feeds stale",
                      "grb-tile-warn" if n_stale else "grb-tile-ok"))
    body = "".join(f'<div class="grb-tile {_e(c)}"><div class="grb-tile-v">{_e(v)}</div>'
                   f'<div class="grb-tile-l">{_e(label)}</div></div>' for v, label, c in tiles)
    return f'<section class="grb-keys" aria-label="Key figures">{body}</section>'


def _map_section(map_html: str | None, map_png: bytes | None, title: str) -> str:
    parts = ['<section class="grb-section" id="grb-map"><h2>Risk map</h2>']
    if map_html:
        parts.append(
            '<div class="grb-screen-only"><iframe class="grb-map-frame" id="grb-map-frame" '
            f'title="{_e("Interactive risk map: " + title)}" sandbox="allow-scripts" '
            f'referrerpolicy="no-referrer" srcdoc="{html.escape(map_html, quote=True)}">'
            '</iframe><p class="grb-note">Interactive map: hover or click a cell for its '
            "values; switch layers and weeks on the right. Works offline. Printing uses the "
            "static map below.</p></div>")
    if map_png:
        b64 = base64.b64encode(map_png).decode("ascii")
        parts.append(
            '<figure class="grb-figure"><img id="grb-map-png" class="grb-map-png" '
            f'alt="{_e("Static risk map: " + title)}" src="data:image/png;base64,{b64}">'
            "<figcaption>Static map (also written as map.png for documents that cannot hold "
            "HTML): probability of at least one incident next week per cell, with the same "
            "classes as the interactive map; access restrictions in force hatched; admin "
            "boundaries and mission bases.</figcaption></figure>")
    if not map_html and not map_png:
        parts.append(_empty("No map was rendered for this run."))
    parts.append("</section>")
    return "".join(parts)


_SCRIPT_RE = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_TYPE_RE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def _script_hashes(page: str) -> list[str]:
    """CSP source expressions for every inline script the map page runs."""
    out = []
    for attrs, body in _SCRIPT_RE.findall(page):
        m = _TYPE_RE.search(attrs)
        kind = m.group(1).lower() if m else ""
        if kind and kind not in ("text/javascript", "application/javascript", "module"):
            continue  # data blocks (application/json) never run
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        out.append(f"'sha256-{digest}'")
    return sorted(set(out))


def _csp(map_html: str | None) -> str:
    """The page's Content-Security-Policy (the srcdoc map inherits it)."""
    none = "'none'"
    scripts = " ".join(_script_hashes(map_html)) if map_html else ""
    return ("default-src 'none'; "
            f"script-src {scripts or none}; "
            "style-src 'unsafe-inline'; img-src data:; font-src 'none'; connect-src 'none'; "
            "media-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


# --------------------------------------------------------------------------- page


_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f3f4f1; }
.grb { box-sizing: border-box; max-width: 1180px; margin: 0 auto; padding: 18px 24px 28px;
  background: #fff; color: #1c1c1c; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif; }
.grb *, .grb *::before, .grb *::after { box-sizing: inherit; }
.grb h1 { font-size: 24px; line-height: 1.2; margin: 2px 0 4px; overflow-wrap: anywhere; }
.grb h2 { font-size: 17px; margin: 0 0 8px; padding-bottom: 4px; border-bottom: 2px solid #1d3b8f;
  color: #12275e; }
.grb h3 { font-size: 14px; margin: 14px 0 6px; color: #333; }
.grb-synthetic { margin: -18px -24px 14px; padding: 7px 24px; background: #c8102e; color: #fff;
  font-weight: 800; letter-spacing: .06em; text-align: center; }
.grb-kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: #1d3b8f;
  font-weight: 700; }
.grb-week { font-size: 16px; font-weight: 600; margin: 0; }
.grb-meta { color: #555; font-size: 12.5px; margin: 2px 0 0; }
.grb-model-check { font-size: 13px; margin: 6px 0 0; padding: 6px 8px; background: #f4f6f8;
  border-left: 3px solid #4a6fa5; }
.grb-keys { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 10px;
  margin: 14px 0 16px; }
.grb-tile { border: 1px solid #d9dbd5; border-left: 4px solid #1d3b8f; border-radius: 4px;
  padding: 8px 10px; background: #fafbf8; }
.grb-tile-hot { border-left-color: #8c0d26; }
.grb-tile-warn { border-left-color: #a1121b; background: #fff4f2; }
.grb-tile-ok { border-left-color: #2b8a4b; }
.grb-tile-v { font-size: 21px; font-weight: 700; line-height: 1.2; white-space: nowrap; }
.grb-tile-l { font-size: 12px; color: #555; overflow-wrap: anywhere; }
.grb-alerts { border: 1px solid #e3b3b0; background: #fff6f5; border-radius: 4px;
  padding: 8px 14px; margin: 0 0 18px; }
.grb-alerts h2 { border: 0; font-size: 15px; color: #a1121b; margin: 0 0 4px; padding: 0; }
.grb-alerts ul { margin: 0; padding-left: 18px; }
.grb-alerts li { margin: 2px 0; overflow-wrap: anywhere; }
.grb-alerts.grb-ok { border-color: #b6d8c1; background: #f3faf5; }
.grb-alerts.grb-ok h2 { color: #2b6e3f; }
.grb-alerts.grb-ok p { margin: 0; }
.grb-alerts.grb-ok ul { margin-top: 2px; font-size: 12.5px; }
li.grb-stale { color: #a1121b; font-weight: 600; }
li.grb-minor { color: #555; }
.grb-section { margin: 0 0 22px; }
.grb-lead, .grb-note { color: #444; font-size: 12.5px; margin: 0 0 8px; }
.grb-note { margin-top: 4px; }
.grb-empty { color: #555; font-style: italic; margin: 4px 0 8px; }
.grb-map-frame { display: block; width: 100%; height: 780px; border: 1px solid #b9bcb6;
  border-radius: 4px; background: #eef0ec; }
.grb-figure { margin: 14px 0 0; }
.grb-map-png { display: block; width: 100%; height: auto; border: 1px solid #d9dbd5; }
.grb-figure figcaption { font-size: 12px; color: #555; margin-top: 4px; }
.grb-cols { display: grid; grid-template-columns: 1fr 1fr; gap: 0 18px; }
.grb-table { width: 100%; border-collapse: collapse; font-size: 12.5px; }
.grb-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.grb-table th { text-align: left; font-weight: 600; color: #333; background: #eef0ec;
  border-bottom: 1px solid #b9bcb6; padding: 5px 6px; vertical-align: bottom; }
.grb-table td { padding: 4px 6px; border-bottom: 1px solid #e4e5e1; vertical-align: top;
  overflow-wrap: break-word; }
.grb-table tbody tr:nth-child(even) td { background: #fafbf8; }
.grb-table .grb-num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.grb-unit { font-weight: 600; }
.grb-code { display: block; font-size: 11px; color: #666;
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.grb-coord, .grb-sub { display: block; font-size: 11px; color: #666; }
.grb-line { display: block; }
.grb-k { color: #666; }
.grb-priorities td { font-size: 12px; }
.grb-priorities .grb-nowrap { white-space: nowrap; }
.grb-priorities .grb-ctx { min-width: 150px; }
.grb-table th.grb-num { white-space: normal; }
.grb-badge { display: inline-block; min-width: 58px; padding: 1px 7px; border-radius: 3px;
  font-weight: 700; font-size: 11.5px; text-align: center; text-transform: capitalize;
  border: 1px solid rgba(0,0,0,.15); }
.grb-move { font-size: 11px; white-space: nowrap; }
.grb-up { color: #b3261e; font-weight: 600; }
.grb-down { color: #1f5fa8; font-weight: 600; }
.grb-drivers { font-size: 11.5px; color: #333; }
td.grb-stale { color: #a1121b; font-weight: 600; }
.grb-stale-tag { display: inline-block; padding: 0 5px; border-radius: 2px; background: #a1121b;
  color: #fff; font-size: 11px; font-weight: 700; letter-spacing: .04em; }
.grb-sources ul { margin: 0 0 6px; padding-left: 18px; font-size: 12.5px; }
.grb-sources li { overflow-wrap: anywhere; }
.grb-limits { font-size: 12px; color: #555; margin: 6px 0 0; }
.grb-foot { margin-top: 18px; padding-top: 8px; border-top: 1px solid #d9dbd5; font-size: 11.5px;
  color: #666; }
.grb-synthetic, .grb-badge, .grb-stale-tag, .grb-tile, .grb-table th, .grb-map-png {
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media (max-width: 760px) { .grb-cols { grid-template-columns: 1fr; } .grb { padding: 12px; }
  .grb-synthetic { margin: -12px -12px 12px; } }
@page { size: A4; margin: 12mm 11mm 14mm; }
@media print {
  body { background: #fff; }
  .grb { max-width: none; padding: 0; font-size: 9.5pt; }
  .grb-synthetic { margin: 0 0 8px; }
  .grb-screen-only { display: none !important; }
  .grb h2 { break-after: avoid; page-break-after: avoid; }
  .grb h3 { break-after: avoid; }
  .grb-table, .grb-table th, .grb-table td, .grb-priorities td, .grb-drivers { font-size: 7.5pt; }
  .grb-table th, .grb-table td { padding: 2px 4px; }
  .grb-code, .grb-coord, .grb-sub { font-size: 6.5pt; }
  .grb-priorities .grb-ctx { min-width: 0; }
  .grb-table thead { display: table-header-group; }
  .grb-table tr, .grb-tile, .grb-figure, .grb-alerts { break-inside: avoid; }
  .grb-figure { margin-top: 0; }
  .grb-keys { grid-template-columns: repeat(5, 1fr); }
}
"""


def render_brief(
    *,
    title: str,
    week: dt.date,
    synthetic: bool,
    matrix: pd.DataFrame,
    grid: pd.DataFrame | None = None,
    priorities: pd.DataFrame | None = None,
    inputs: Sequence[Mapping[str, Any]] = (),
    warnings: Sequence[str] = (),
    sources: Sequence[str] = (),
    notes: Sequence[str] = (),
    map_html: str | None = None,
    map_png: bytes | None = None,
    h3_resolution: int | None = None,
    model: str | None = None,
    generated_at: dt.datetime | None = None,
    personal_columns: Sequence[str] = (),
    actors: pd.DataFrame | None = None,
    model_check: str | None = None,
) -> str:
    """Render the weekly brief as one self-contained HTML page.

    Parameters
    ----------
    title : str
        Brief title (plain text).
    week : datetime.date
        Forecast week (its Monday).
    synthetic : bool
        Puts a SYNTHETIC DATA banner on the page.
    matrix : pandas.DataFrame
        The admin risk matrix, one row per unit: ``admin_name``, ``admin_pcode``, ``level``,
        ``likelihood``, ``expected_incidents``, ``trend``; optional ``level_prev``,
        ``level_change`` (up/down/same), ``likelihood_prev``, ``likelihood_change``,
        ``risk_score``, ``civilian_targeting_12w``, ``restricted_share``,
        ``restricted_population``.
    grid : pandas.DataFrame, optional
        The cell grid (``cell`` uint64, ``risk``, ``admin_name``, ``admin_pcode``; optional
        ``risk_prev``, ``risk_change``, ``drivers``) for the largest cell changes.
    priorities : pandas.DataFrame, optional
        The priority list, in order; shown when it has rows (personal or coordinate columns are
        dropped), otherwise the brief says it is not available.
    inputs : sequence of mapping
        One per input (e.g. :class:`~geo_risk.readers.common.InputReport` as a dict):
        ``name``, ``kind``, ``format``, ``newest_date``, ``oldest_date``, ``stale``,
        ``rows_read``, ``rows_accepted``, ``rows_rejected``, ``sha256``, ``warnings``.
    warnings : sequence of str
        Run warnings (``STALE FEED`` lines are highlighted).
    sources : sequence of str
        Source lines; when empty they are built from ``inputs``.
    notes : sequence of str
        Extra notes for the sources section.
    map_html : str, optional
        The interactive map page (``map.html``), embedded in a sandboxed iframe.
    map_png : bytes, optional
        The static map (PNG), embedded as a ``data:`` URI.
    h3_resolution, model : optional
        Shown in the title block.
    generated_at : datetime.datetime, optional
        Shown in the title block and footer (omit for a reproducible page).
    personal_columns : sequence of str
        More column names never to show from ``priorities``.
    actors : pandas.DataFrame, optional
        Armed actors per unit (``admin_pcode``, ``actor``, ``incidents``,
        ``civilian_targeting``); those of the top units are listed.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    geo_risk.errors.ValidationError
        When ``matrix`` is not a DataFrame or ``week`` is not a date.
    """
    if not isinstance(matrix, pd.DataFrame):
        raise ValidationError([Problem("matrix", "matrix must be a pandas DataFrame")])
    if isinstance(week, dt.datetime):
        week = week.date()
    if not isinstance(week, dt.date):
        raise ValidationError([Problem("brief", "week must be a datetime.date", column="week")])
    if isinstance(warnings, str) or isinstance(sources, str) or isinstance(notes, str):
        raise ValidationError([Problem("brief", "warnings, sources and notes must be "
                                                "sequences of strings, not one string")])
    rows = _inputs_frame(inputs)
    week_end = week + dt.timedelta(days=6)
    meta = []
    if generated_at is not None:
        meta.append(f"Generated {generated_at.strftime('%Y-%m-%d %H:%M')} UTC")
    if model:
        meta.append(f"model: {_MODEL_TEXT.get(model, model)}")
    if h3_resolution is not None:
        meta.append(f"H3 resolution {h3_resolution} grid")
    meta.append(f"{len(matrix):,} admin units")
    banner = ('<div class="grb-synthetic" id="grb-synthetic" role="note">SYNTHETIC DATA \u2014 '
              "not real events; for testing and training only</div>" if synthetic else "")
    body = [
        banner,
        '<header class="grb-head"><div class="grb-kicker">Weekly risk brief</div>',
        f"<h1>{_e(title)}</h1>",
        f'<p class="grb-week">Forecast week {week.isoformat()} (Mon) to {week_end.isoformat()} '
        "(Sun)</p>",
        f'<p class="grb-meta">{_e(_DOT.join(meta))}</p>'
        + (f'<p class="grb-model-check" id="grb-model-check">{_e(model_check)}</p>'
           if model_check else "") + "</header>",
        _key_figures(matrix, grid, rows),
        _warnings_block(warnings, rows),
        _map_section(map_html, map_png, title),
        _priorities_section(priorities, personal_columns),
        _changes_section(matrix, grid),
        _actors_section(actors, matrix, priorities),
        _matrix_section(matrix),
        _freshness_section(rows, week),
        _sources_section(sources, notes, rows),
        f'<footer class="grb-foot">geo-risk weekly brief{_DOT}{_e(title)}{_DOT}week of '
        f"{week.isoformat()}{_DOT + 'SYNTHETIC DATA' if synthetic else ''}</footer>",
    ]
    head = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_csp(map_html))}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)} \u2014 weekly brief, week of {week.isoformat()}"
        f"{' (SYNTHETIC)' if synthetic else ''}</title>"
        f"<style>{_CSS}</style></head>"
    )
    return head + '<body><article class="grb">' + "\n".join(body) + "</article></body></html>\n"


def write_brief(path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Render the brief (see :func:`render_brief`) and write it as UTF-8.

    Parameters
    ----------
    path : str or os.PathLike
        Output file, e.g. ``out/brief.html``; parent folders are created.
    **kwargs
        Keyword arguments of :func:`render_brief`.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    page = render_brief(**kwargs)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


# --------------------------------------------------------------------------- from a run


def _png_for_run(result: WeeklyResult, config: RunConfig) -> bytes:
    from geo_risk.render.static import render_png

    return render_png(
        grid=result.grid.drop(columns="geometry", errors="ignore"),
        title=config.title,
        week=result.week.date(),
        synthetic=config.synthetic,
        boundaries=result.inputs.admin,
        restrictions=result.restrictions_in_force,
        bases=result.inputs.bases,
        h3_resolution=config.h3_resolution,
    )


def brief_for_run(
    result: WeeklyResult,
    config: RunConfig,
    *,
    map_html: str | None = None,
    map_png: bytes | None = None,
    generated_at: dt.datetime | None = None,
) -> str:
    """The brief of one weekly run (see :func:`render_brief`).

    Parameters
    ----------
    result : geo_risk.pipeline.WeeklyResult
        The scored week; ``result.priorities`` is used when present.
    config : geo_risk.config.RunConfig
        Its configuration (title, synthetic flag, resolution, sensitive columns).
    map_html, map_png : optional
        The interactive map page and static PNG to embed.
    generated_at : datetime.datetime, optional
        Time stamp shown on the page.

    Returns
    -------
    str
        The HTML page.
    """
    priorities = getattr(result, "priorities", None)
    model = result.model.get("model") if isinstance(result.model, dict) else None
    return render_brief(
        title=config.title,
        week=result.week.date(),
        synthetic=config.synthetic,
        matrix=result.matrix,
        grid=result.grid.drop(columns="geometry", errors="ignore"),
        priorities=priorities if isinstance(priorities, pd.DataFrame) else None,
        inputs=[dataclasses.asdict(r) for r in result.inputs.reports],
        warnings=list(result.inputs.warnings),
        notes=(f"Engagement counts below {config.min_count} are suppressed.",
               f"Boundaries: {Path(config.boundaries.path).name}, {len(result.inputs.admin):,} "
               "admin units."),
        map_html=map_html,
        map_png=map_png,
        h3_resolution=config.h3_resolution,
        model=str(model) if model else None,
        generated_at=generated_at,
        personal_columns=tuple(getattr(config, "sensitive_columns", ()) or ()),
        actors=getattr(result, "actors", None),
        model_check=_model_check(result.model),
    )


def _model_check(model: Any) -> str | None:
    """The weekly run's validation in words (which model scored the week, how it did)."""
    if not isinstance(model, dict):
        return None
    v = model.get("validation")
    return str(v["summary"]) if isinstance(v, dict) and v.get("summary") else None


def write_brief_outputs(
    result: WeeklyResult,
    config: RunConfig,
    out_dir: str | os.PathLike[str],
    *,
    map_html: str | None = None,
) -> dict[str, Path]:
    """Write ``map.png`` and ``brief.html`` of one run into ``out_dir``.

    Parameters
    ----------
    result, config
        As for :func:`brief_for_run`.
    out_dir : str or os.PathLike
        Output folder (created if needed).
    map_html : str, optional
        The interactive map page, to embed in the brief.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"map_png": …, "brief": …}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = _png_for_run(result, config)
    png_path = out / "map.png"
    png_path.write_bytes(png)
    # No clock time in the page: the same inputs give the same file (run.json has the time).
    page = brief_for_run(result, config, map_html=map_html, map_png=png)
    brief_path = out / "brief.html"
    brief_path.write_text(page, encoding="utf-8")
    return {"map_png": png_path, "brief": brief_path}
