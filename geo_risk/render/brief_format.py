"""Formatting for the weekly brief: numbers and probabilities in words, tables and fragments.

Plain values returned here are escaped by the brief's templates; fragments (badges, unit
names, sub-lines) are rendered by the macros of ``templates/brief_parts.html.j2`` and come
back as :class:`markupsafe.Markup`. Nothing here writes HTML by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo_risk.render.map import LEVEL_COLOURS, format_probability, quantise_probability
from geo_risk.render.templating import Markup, macros

_LEVEL_TEXT_DARK = {"critical", "very high", "high"}
#: Badge colours: the map's admin-level colours, plus words other tables use.
_LEVEL_COLOURS = {**LEVEL_COLOURS, "very high": "#b3262b", "moderate": LEVEL_COLOURS["medium"],
                  "very low": "#fdf3e1"}


def _parts() -> Any:
    """The fragment macros of ``brief_parts.html.j2`` (each returns escaped Markup)."""
    return macros("brief_parts.html.j2")


@dataclass(frozen=True)
class _Table:
    """A table for the ``table`` macro: plain cells are escaped there, Markup is not."""

    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    cls: str = ""
    numeric: frozenset[int] = frozenset()
    cell_classes: Sequence[Sequence[str]] | None = None
    caption: str | None = None

    def classes(self, r: int, i: int) -> str:
        """The class attribute of cell ``(r, i)`` ("" for none)."""
        out = ["grb-num"] if i in self.numeric else []
        if self.cell_classes is not None and self.cell_classes[r][i]:
            out.append(self.cell_classes[r][i])
        return " ".join(out)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, cls: str = "",
           numeric: Sequence[int] = (), cell_classes: Sequence[Sequence[str]] | None = None,
           caption: str | None = None) -> _Table:
    return _Table(headers, rows, cls, frozenset(numeric), cell_classes, caption)


@dataclass(frozen=True)
class _Block:
    """A sub-section: a heading and a table, or the sentence saying why there is none."""

    heading: str
    table: _Table | None = None
    empty: str = ""


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


def _records(frame: pd.DataFrame, columns: Sequence[str] | None = None
             ) -> list[dict[Any, Any]]:
    """Rows as dicts (tables of tens of rows, not cells).

    ``columns``: only those of them the frame has (a missing key reads as absent, as it
    would from the whole frame). The matrix and grid have a hundred-odd columns and
    ``to_dict`` boxes each value: converting only the ones a table prints is most of its
    cost saved, with the same values (``to_dict`` converts column by column).
    """
    if columns is not None:
        frame = frame[[c for c in dict.fromkeys(columns) if c in frame.columns]]
    return frame.to_dict("records")


def _level_badge(level: Any, prev: Any = None, change: Any = None) -> Markup:
    text = "" if _missing(level) else str(level)
    key = text.strip().lower()
    ch = "" if _missing(change) else str(change).strip().lower()
    return _parts().badge(text, _LEVEL_COLOURS.get(key, "#d4d4d4"),
                          "#ffffff" if key in _LEVEL_TEXT_DARK else "#1c1c1c",
                          ch if ch in ("up", "down") else None,
                          None if _missing(prev) else prev)


def _signed_class(d: Any) -> str:
    if _missing(d) or abs(float(d)) < 0.0005:
        return ""
    return "grb-up" if float(d) > 0 else "grb-down"


def _unit(name: Any, pcode: Any) -> Markup:
    return _parts().unit("" if _missing(name) else str(name),
                         "" if _missing(pcode) else str(pcode))


def _text_or_blank(value: Any) -> str:
    return "" if _missing(value) else str(value)
