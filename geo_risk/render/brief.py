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
* The page is the template ``templates/brief.html.j2`` (fragments in ``brief_parts.html.j2``),
  rendered with autoescape (:mod:`geo_risk.render.templating`): every text from data (admin
  names and codes, drivers, trends, base names, titles, sources, warnings, priority fields) is
  escaped where it meets HTML. Personal or location columns of
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
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h3ronpy.vector as h3v
import numpy as np
import pandas as pd
import pyarrow as pa

from geo_risk.analyse import likelihood_legend
from geo_risk.errors import Problem, ValidationError
from geo_risk.render.brief_format import (  # the brief's own helpers
    _Block,
    _get,
    _level_badge,
    _missing,
    _num,
    _parts,
    _pp,
    _prob,
    _records,
    _share,
    _signed_class,
    _Table,
    _table,
    _text_or_blank,
    _unit,
)
from geo_risk.render.brief_outreach import outreach_sections
from geo_risk.render.brief_priorities import _priorities
from geo_risk.render.brief_voice import voice_sections
from geo_risk.render.png_worker import draw_later
from geo_risk.render.templating import Markup, render
from geo_risk.validation import served_summary

if TYPE_CHECKING:
    from geo_risk.config import RunConfig
    from geo_risk.pipeline import WeeklyResult

__all__ = [
    "brief_for_run",
    "render_brief",
    "write_brief",
    "png_arguments",
    "write_brief_outputs",
]

#: Rows shown in each "top changes" table (the priority list: brief_priorities.py).
TOP_ADMIN_CHANGES = 8
TOP_CELL_CHANGES = 10
_DOT = " \u00b7 "
_MODEL_TEXT = {"model": "gradient-boosted trees (LightGBM) blended with conflictology",
               "persistence": "persistence baseline",
               "historical_average": "historical-average baseline",
               "conflictology": "conflictology baseline"}
_LEVEL_ORDER = {"critical": 3, "high": 2, "medium": 1, "low": 0}
#: Matrix and grid columns each table reads (rows are converted for those only).
_MATRIX_COLUMNS = ("admin_name", "admin_pcode", "level", "level_prev", "level_change",
                   "likelihood", "likelihood_label", "likelihood_change", "expected_incidents",
                   "expected_incident_cells", "trend", "civilian_targeting_12w",
                   "restricted_share", "restricted_population")
_CHANGE_COLUMNS = ("level_change", "admin_name", "admin_pcode", "level", "level_prev",
                   "incidents_4w", "incidents_baseline_4w", "expected_incident_cells_prev",
                   "expected_incident_cells", "likelihood", "change_reason")
_CELL_COLUMNS = ("cell", "admin_name", "admin_pcode", "risk_prev", "risk", "drivers")
_GRID_COLUMNS = (*_CELL_COLUMNS, "risk_change")


# --------------------------------------------------------------------------- sections


def _sorted_matrix(matrix: pd.DataFrame, columns: Sequence[str] | None = None
                   ) -> pd.DataFrame:
    """Units by level, then score (stable); only ``columns`` of them when given (the matrix
    has a hundred-odd columns and a table prints a dozen)."""
    keys = [c for c in ("risk_score", "likelihood", "expected_incident_cells")
            if c in matrix.columns]
    m = matrix[keys].reset_index(drop=True)
    level = (matrix["level"].reset_index(drop=True) if "level" in matrix.columns
             else pd.Series("", index=m.index))
    m["_lv"] = level.astype("string").str.lower().map(_LEVEL_ORDER).fillna(-1)
    order = m.sort_values(["_lv", *keys], ascending=False, kind="stable").index.to_numpy()
    if columns is not None:
        matrix = matrix[[c for c in dict.fromkeys(columns) if c in matrix.columns]]
    return matrix.iloc[order]


def _access(share: Any, people: Any) -> str | Markup:
    if not _missing(share) and float(share) == 0 and (_missing(people) or not people):
        return "none"
    if not _missing(people) and float(people) > 0:
        return _parts().with_sub(f"{_share(share)} of area", f"{_num(people)} people")
    return _share(share)


def _matrix_table(matrix: pd.DataFrame) -> _Table:
    parts = _parts()
    rows = []
    cell_cls = []
    for i, r in enumerate(_records(_sorted_matrix(matrix, _MATRIX_COLUMNS)),
                          start=1):  # one row per unit (tens)
        rows.append([
            i,
            _unit(_get(r, "admin_name"), _get(r, "admin_pcode")),
            _level_badge(_get(r, "level"), _get(r, "level_prev"), _get(r, "level_change")),
            parts.with_sub(_prob(_get(r, "likelihood")),
                           _text_or_blank(_get(r, "likelihood_label"))),
            _pp(_get(r, "likelihood_change")),
            _num(_get(r, "expected_incidents"), 1),
            _num(_get(r, "expected_incident_cells"), 1),
            _text_or_blank(_get(r, "trend")),
            _num(_get(r, "civilian_targeting_12w")),
            _access(_get(r, "restricted_share"), _get(r, "restricted_population")),
        ])
        cell_cls.append(["", "", "", "", _signed_class(_get(r, "likelihood_change")), "", "", "",
                         "", ""])
    return _table(
        ["#", "Admin unit", "Level", "P(\u22651 incident)", "Change vs last week",
         "Expected incidents", "Expected cells with incidents", "Trend",
         "Civilians targeted, 12 wk", "Access restricted"],
        rows, cls="grb-matrix", numeric=(0, 3, 4, 5, 6, 8), cell_classes=cell_cls,
    )


def _actors_table(actors: pd.DataFrame | None, matrix: pd.DataFrame,
                  priorities: pd.DataFrame | None, *, top: int = 8,
                  per_unit: int = 3) -> _Table | None:
    """Armed actors active in the top units (priority order, else level), with counts."""
    if not isinstance(actors, pd.DataFrame) or actors.empty:
        return None
    if isinstance(priorities, pd.DataFrame) and "kind" in priorities.columns:
        order = priorities.loc[priorities["kind"] == "admin unit", "admin_pcode"]
    else:
        order = _sorted_matrix(matrix, ["admin_pcode"])["admin_pcode"]
    listed = set(actors["admin_pcode"].tolist())  # once, not once per unit
    codes = [c for c in order.astype(str).tolist() if c in listed][:top]
    names: dict[Any, Any] = (dict(matrix.set_index("admin_pcode")["admin_name"])
                             if "admin_name" in matrix else {})
    rows = []
    pcodes = actors["admin_pcode"].astype(str)
    for code in codes:
        a = actors[pcodes == code].head(per_unit)
        who = "; ".join(f"{actor} ({n:.0f} incidents, {civ:.0f} targeting civilians)"
                        for actor, n, civ in zip(a["actor"].astype(str),
                                                 a["incidents"].to_numpy(float),
                                                 a["civilian_targeting"].to_numpy(float),
                                                 strict=True))
        rows.append([_unit(names.get(code, ""), code), who])
    return _table(["Admin unit", "Actors (incidents, civilian targeting)"], rows,
                  cls="grb-actors")


def _admin_changes(matrix: pd.DataFrame, *, up: bool) -> _Block:
    """Units that changed most, on a scale that does not saturate (``change_score``: recent
    incidents against the unit's own baseline, plus the change in expected cells), with the
    reason in words; level moves always qualify."""
    col = "change_score" if "change_score" in matrix.columns else "likelihood_change"
    # the columns this table reads (copying all hundred-odd of the matrix was most of its time)
    m = matrix[[c for c in dict.fromkeys([col, *_CHANGE_COLUMNS]) if c in matrix.columns]].copy()
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
    heading = f"Admin units, risk {word}"
    if m.empty:
        return _Block(heading, empty=f"No admin unit changed level or moved markedly ({word}).")
    parts = _parts()
    rows = [[
        _unit(_get(r, "admin_name"), _get(r, "admin_pcode")),
        _level_badge(_get(r, "level"), _get(r, "level_prev"), _get(r, "level_change")),
        parts.with_sub(_num(_get(r, "incidents_4w")),
                       f"usual {_num(_get(r, 'incidents_baseline_4w'), 1)}"),
        f"{_num(_get(r, 'expected_incident_cells_prev'), 1)} \u2192 "
        f"{_num(_get(r, 'expected_incident_cells'), 1)}",
        _prob(_get(r, "likelihood")),
        _text_or_blank(_get(r, "change_reason")),
    ] for r in _records(m)]
    cls = [["", "", "", "grb-up" if up else "grb-down", "", "grb-drivers"] for _ in rows]
    return _Block(heading, _table(
        ["Admin unit", "Level", "Incidents, last 4 wk", "Expected cells with incidents",
         "P(\u22651) now", "Why"], rows,
        numeric=(2, 3, 4), cell_classes=cls, cls="grb-changes"))


def _cell_changes(grid: pd.DataFrame, *, up: bool, n: int) -> _Block:
    word = "increases" if up else "decreases"
    heading = f"Cells, largest {word}"
    if "risk_change" in grid.columns:
        change = pd.to_numeric(grid["risk_change"], errors="coerce")
    elif "risk_prev" in grid.columns:
        change = pd.to_numeric(grid["risk"], errors="coerce") - pd.to_numeric(
            grid["risk_prev"], errors="coerce")
    else:
        return _Block(heading, empty="No previous week to compare with.")
    signed = change if up else -change
    pick = signed[signed >= 0.005].nlargest(n).index
    if len(pick) == 0:
        return _Block(heading, empty=f"No cell moved by \u22650.5 pp ({word}).")
    g = grid.loc[pick, [c for c in _CELL_COLUMNS if c in grid.columns]]
    chg = change.loc[pick].to_numpy()
    cells = np.asarray(g["cell"].to_numpy(), dtype=np.uint64)
    coords = pa.table(h3v.cells_to_coordinates(cells))
    lat, lng = coords.column("lat").to_numpy(), coords.column("lng").to_numpy()
    ids = np.char.mod("%x", cells)
    parts = _parts()
    rows = [[
        parts.cell_id(str(ids[i]), float(lat[i]), float(lng[i])),
        _unit(_get(r, "admin_name"), _get(r, "admin_pcode")),
        _prob(_get(r, "risk_prev")),
        _prob(_get(r, "risk")),
        _pp(chg[i]),
        _text_or_blank(_get(r, "drivers")),
    ] for i, r in enumerate(_records(g))]
    cls = [["", "", "", "", "grb-up" if up else "grb-down", "grb-drivers"] for _ in rows]
    return _Block(heading, _table(
        ["H3 cell (centre lat, lon)", "Admin unit", "Last week", "This week", "Change",
         "Main reasons"], rows, numeric=(2, 3, 4), cell_classes=cls, cls="grb-cells"))


def _changes(matrix: pd.DataFrame, grid: pd.DataFrame | None) -> dict[str, Any]:
    cells = []
    if grid is not None and len(grid):
        cells = [_cell_changes(grid, up=True, n=TOP_CELL_CHANGES),
                 _cell_changes(grid, up=False, n=TOP_CELL_CHANGES // 2)]
    return {"admin_up": _admin_changes(matrix, up=True),
            "admin_down": _admin_changes(matrix, up=False), "cells": cells}


def _inputs_frame(inputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in inputs:
        d = dict(item) if isinstance(item, Mapping) else dataclasses.asdict(item)
        out.append(d)
    return out


def _freshness_table(inputs: list[dict[str, Any]], week: dt.date) -> _Table | None:
    if not inputs:
        return None
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
        status = (_parts().stale_tag() if stale
                  else ("ok" if d.get("kind") != "bases" else "reference"))
        read, acc, rej = d.get("rows_read"), d.get("rows_accepted"), d.get("rows_rejected")
        rows.append([d.get("name", ""), d.get("kind", ""), newest or "\u2014", age, status,
                     _num(read), _num(acc), _num(rej)])
        cls.append(["grb-stale" if stale else ""] + [""] * 7)
    return _table(["Input", "Kind", "Newest record", "Age at forecast week", "Status",
                   "Rows read", "Accepted", "Rejected"], rows, numeric=(3, 5, 6, 7),
                  cell_classes=cls, cls="grb-fresh")


def _alerts(warnings: Sequence[str], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Run warnings (``STALE FEED`` lines highlighted), stale inputs, per-input warnings."""
    run = [str(w) for w in warnings]
    minor = [f"{d.get('name', '')}: {w}" for d in inputs for w in (d.get("warnings") or [])]
    stale_inputs = [d for d in inputs if d.get("stale")]
    items = [("grb-stale" if w.upper().startswith("STALE FEED") else "", w) for w in run]
    listed = " ".join(run)
    for d in stale_inputs:  # a stale input whose warning line was not passed in
        if str(d.get("name", "")) not in listed:
            items.append(("grb-stale", f"STALE FEED: {d.get('name', '')} newest record is "
                                       f"{d.get('newest_date') or 'unknown'}."))
    return {"ok": not run and not stale_inputs, "lines": items, "minor": minor}


def _source_lines(sources: Sequence[str], inputs: list[dict[str, Any]]) -> list[str]:
    if sources:
        return [str(s) for s in sources]
    items = []
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
        items.append(text + ")")
    return items


def _key_figures(matrix: pd.DataFrame, grid: pd.DataFrame | None,
                 inputs: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    tiles: list[tuple[str, str, str]] = []
    if "level" in matrix.columns:
        lv = matrix["level"].astype("string").str.lower()
        tiles.append((f"{int((lv == 'critical').sum())} / {int((lv == 'high').sum())}",
                      "admin units critical / high", "grb-tile-hot"))
    if "level_change" in matrix.columns:
        ch = matrix["level_change"].astype("string").str.lower()
        tiles.append((f"\u25b2{int((ch == 'up').sum())}  \u25bc{int((ch == 'down').sum())}",
                      "admin units changed level", ""))
    if "expected_incidents" in matrix.columns:
        tiles.append((_num(pd.to_numeric(matrix["expected_incidents"], errors="coerce")
                           .sum(), 0), "incidents expected next week", ""))
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
    return tiles


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
    likelihood_bins: Sequence[float] | None = None,
    voice: Markup | None = None,
    sections: Markup | None = None,
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
    model_check : str, optional
        The weekly validation in words (which model scored the week, how it did).
    likelihood_bins : sequence of float, optional
        The run's likelihood cut points (``run.json`` ``parameters.matrix``) for the legend
        of the likelihood words; default the fixed 10/30/60/90% scale.
    voice : markupsafe.Markup, optional
        Perception, topic and benchmark sections (:mod:`geo_risk.render.brief_voice`).
    sections : markupsafe.Markup, optional
        More sections, already rendered by their own templates (e.g.
        :func:`geo_risk.render.brief_outreach.outreach_sections`), placed before the matrix.

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
    meta = []
    if generated_at is not None:
        meta.append(f"Generated {generated_at.strftime('%Y-%m-%d %H:%M')} UTC")
    if model:
        meta.append(f"model: {_MODEL_TEXT.get(model, model)}")
    if h3_resolution is not None:
        meta.append(f"H3 resolution {h3_resolution} grid")
    meta.append(f"{len(matrix):,} admin units")
    return render(
        "brief.html.j2",
        title=title,
        week=week.isoformat(),
        week_end=(week + dt.timedelta(days=6)).isoformat(),
        synthetic=bool(synthetic),
        csp=_csp(map_html),
        meta=_DOT.join(meta),
        model_check=model_check,
        tiles=_key_figures(matrix, grid, rows),
        alerts=_alerts(warnings, rows),
        map_html=map_html,
        map_png=base64.b64encode(map_png).decode("ascii") if map_png else None,
        priorities=_priorities(priorities, personal_columns),
        changes=_changes(matrix, grid),
        actors=_actors_table(actors, matrix, priorities),
        likelihood_legend=likelihood_legend(tuple(likelihood_bins) if likelihood_bins
                                            else (0.1, 0.3, 0.6, 0.9)),
        matrix=_matrix_table(matrix),
        voice=voice,
        freshness=_freshness_table(rows, week),
        sections=sections or Markup(""),
        sources=_source_lines(sources, rows),
        notes=[str(n) for n in notes],
    )


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


#: The grid columns map.png reads (:func:`geo_risk.render.static.render_png`).
PNG_GRID_COLUMNS = ("cell", "risk", "restricted", "access_status", "admin_pcode")


def png_arguments(result: WeeklyResult, config: RunConfig) -> dict[str, Any]:
    """Keyword arguments of :func:`geo_risk.render.static.render_png` for a run's map.png
    (only the grid columns it reads, so a worker process gets little to unpickle)."""
    return {
        "grid": result.grid[[c for c in PNG_GRID_COLUMNS if c in result.grid.columns]],
        "title": config.title,
        "week": result.week.date(),
        "synthetic": config.synthetic,
        "boundaries": result.inputs.admin,
        "restrictions": result.restrictions_in_force,
        "bases": result.inputs.bases,
        "h3_resolution": config.h3_resolution,
        "classes": getattr(config, "map_classes", "data"),
    }


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
    return render_brief(**_brief_arguments(result, config, map_html=map_html,
                                           generated_at=generated_at), map_png=map_png)


def _brief_arguments(result: WeeklyResult, config: RunConfig, *, map_html: str | None,
                     generated_at: dt.datetime | None) -> dict[str, Any]:
    """Keyword arguments of :func:`render_brief` for a run, but ``map_png`` (so that the
    sections are built while map.png is still being drawn)."""
    priorities = getattr(result, "priorities", None)
    model = result.model.get("model") if isinstance(result.model, dict) else None
    return dict(
        title=config.title,
        week=result.week.date(),
        synthetic=config.synthetic,
        matrix=result.matrix,
        # the grid columns the page reads (not a copy of all of them without the geometry)
        grid=result.grid[[c for c in _GRID_COLUMNS if c in result.grid.columns]],
        priorities=priorities if isinstance(priorities, pd.DataFrame) else None,
        inputs=[dataclasses.asdict(r) for r in result.inputs.reports],
        warnings=list(result.inputs.warnings),
        notes=(f"Engagement counts below {config.min_count} are suppressed.",
               f"Boundaries: {Path(config.boundaries.path).name}, {len(result.inputs.admin):,} "
               "admin units."),
        map_html=map_html,
        h3_resolution=config.h3_resolution,
        model=str(model) if model else None,
        generated_at=generated_at,
        personal_columns=tuple(getattr(config, "sensitive_columns", ()) or ()),
        actors=getattr(result, "actors", None),
        model_check=served_summary(result.model),
        likelihood_bins=(result.parameters.get("matrix") or {}).get("likelihood_bins"),
        voice=voice_sections(getattr(result, "voice", None)),
        sections=outreach_sections(matrix=result.matrix,
                                   outreach=getattr(result, "outreach", None), config=config),
    )



def write_brief_outputs(
    result: WeeklyResult,
    config: RunConfig,
    out_dir: str | os.PathLike[str],
    *,
    map_html: str | None = None,
    map_png: Callable[[], bytes] | None = None,
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
    map_png : callable, optional
        Gives the PNG's bytes (as :func:`geo_risk.render.png_worker.draw_later` returns);
        default: drawn here from :func:`png_arguments`.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"map_png": …, "brief": …}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # The page's sections first: map.png may still be drawing in its worker process.
    # No clock time in the page: the same inputs give the same file (run.json has the time).
    arguments = _brief_arguments(result, config, map_html=map_html, generated_at=None)
    png = (map_png or draw_later(None, png_arguments(result, config)))()
    png_path = out / "map.png"
    png_path.write_bytes(png)
    page = render_brief(**arguments, map_png=png)
    brief_path = out / "brief.html"
    brief_path.write_text(page, encoding="utf-8")
    return {"map_png": png_path, "brief": brief_path}
