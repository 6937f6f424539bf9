"""What every reader returns, and the checks every canonical table gets."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ..validate import Check
from .tabular import RawTable, blank, file_sha256, parse_dates, parse_numbers, unparsed

if TYPE_CHECKING:
    from ..gazetteer import Gazetteer


@dataclass
class InputReport:
    """Provenance and row accounting of one input file (goes to run.json)."""

    name: str
    kind: str
    path: str
    format: str
    sha256: str
    rows_read: int
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_outside: int = 0  # of rows_rejected: outside the boundaries' area, not errors
    newest_date: str | None = None
    oldest_date: str | None = None
    stale: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class ReadResult:
    """A canonical table, the rows rejected while reading it, and its report."""

    frame: pd.DataFrame
    rejects: pd.DataFrame
    report: InputReport


def new_report(path: Path, *, name: str, kind: str, fmt: str, rows_read: int) -> InputReport:
    return InputReport(name=name, kind=kind, path=str(path), format=fmt,
                       sha256=file_sha256(path), rows_read=rows_read)


def table_report(raw: RawTable, *, name: str, kind: str, fmt: str,
                 data_rows: int | None = None) -> InputReport:
    """The report of a table read by :func:`read_table`, its partial last row included.

    ``data_rows`` counts the rows the reader treats as data when it is not every row of
    ``raw.frame`` (HXL files: rows after the hashtag row).
    """
    rows = len(raw.frame) if data_rows is None else data_rows
    partial = 0 if raw.partial is None else len(raw.partial)
    report = new_report(raw.path, name=name, kind=kind, fmt=fmt, rows_read=rows + partial)
    report.warnings.extend(raw.notes)
    return report


def with_partial(rejects: pd.DataFrame, raw: RawTable) -> pd.DataFrame:
    """``rejects`` plus the partial last row of a truncated file, if it had one."""
    if raw.partial is None or raw.partial.empty:
        return rejects
    return pd.concat([rejects, raw.partial], ignore_index=True) if len(rejects) else raw.partial


def find_column(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    """First of ``candidates`` present in ``columns`` (case-insensitive, exact names)."""
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    return None


def missing_columns_error(path: Path, missing: Mapping[str, Sequence[str]],
                          columns: Sequence[str], hint: str) -> InputFileError:
    """One message naming every missing column, what it may be called, and close matches."""
    parts = []
    for canonical, tried in missing.items():
        close = difflib.get_close_matches(tried[0], list(columns), n=2, cutoff=0.6)
        suggestion = f" (closest: {', '.join(repr(c) for c in close)})" if close else ""
        parts.append(f"{canonical} (looked for {', '.join(repr(t) for t in tried)}){suggestion}")
    return InputFileError(
        path, f"missing column(s): {'; '.join(parts)}. The file has: "
        f"{', '.join(repr(c) for c in list(columns)[:40])}. {hint}")


def today() -> pd.Timestamp:
    return pd.Timestamp(dt.date.today())


def date_checks(text: pd.Series, parsed: pd.Series, *, column: str, required: bool,
                now: pd.Timestamp) -> list[Check]:
    checks = [Check(unparsed(text, parsed), column,
                    "date not understood; use YYYY-MM-DD (or the export's own format)")]
    if required:
        checks.append(Check(blank(text), column, "date is missing"))
    checks.append(Check((parsed > now).fillna(False).to_numpy(), column,
                        f"date is in the future (after {now.date()}); check the year"))
    return checks


def coordinate_checks(lon_text: pd.Series, lat_text: pd.Series, lon: pd.Series, lat: pd.Series,
                      *, lon_col: str, lat_col: str, required: bool) -> list[Check]:
    checks = [
        Check(unparsed(lon_text, lon), lon_col, "longitude is not a number"),
        Check(unparsed(lat_text, lat), lat_col, "latitude is not a number"),
        Check((lon.abs() > 180).to_numpy(), lon_col, "longitude outside -180..180"),
        Check((lat.abs() > 90).to_numpy(), lat_col,
              "latitude outside -90..90 (are latitude and longitude swapped?)"),
    ]
    if required:
        checks.append(Check((lon.isna() | lat.isna()).to_numpy() & ~unparsed(lon_text, lon)
                            & ~unparsed(lat_text, lat), lat_col, "coordinates are missing"))
    return checks


def duplicate_check(ids: pd.Series, *, column: str, what: str = "id") -> Check:
    """Later rows repeating an id already seen; the message names the first row."""
    dup = ids.duplicated(keep="first") & ~blank(ids)
    return Check(dup.to_numpy(), column,
                 f"duplicate {what}: the first row with this {what} was kept")


def numbers(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series(np.nan, index=frame.index)
    return parse_numbers(frame[column])


def dates(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return parse_dates(frame[column])


def text(frame: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None:
        return pd.Series("", index=frame.index, dtype="object")
    return frame[column].astype(str).str.strip()


def stamp_dates(report: InputReport, values: pd.Series) -> None:
    if values.notna().any():
        report.newest_date = str(values.max().date())
        report.oldest_date = str(values.min().date())


def geocode_names(*, pcode: pd.Series, names: pd.Series | None, gazetteer: Gazetteer | None,
                  has_point: np.ndarray, column: str, parents: pd.Series | None = None,
                  imprecise: np.ndarray | None = None,
                  report: InputReport | None = None) -> tuple[pd.Series, list[Check]]:
    """Fill empty or miswritten P-codes from admin or place names through the gazetteer.

    A P-code written in another case ("ss0101") or a unit name typed into the P-code column is
    put right; an empty P-code is taken from the name column. Rows that have a point keep it
    (the name only gives the unit); rows with neither a point nor a P-code need the name to
    match, else they are rejected with the closest candidates in the reason. Matching runs
    per distinct name, never per row. ``imprecise`` marks rows whose point only stands for the
    unit (e.g. ACLED geo_precision 3): for them the name matters and misses are reported.

    Returns
    -------
    pcode, checks
        P-codes with the matched ones filled in, and the checks rejecting rows whose name
        did not match although they had nothing else to place them by.
    """
    pcode = pcode.astype(object).fillna("").astype(str).str.strip()
    if gazetteer is None:
        return pcode, []
    filled = pcode.copy()
    odd = (pcode != "").to_numpy() & ~pcode.isin(gazetteer.display.index).to_numpy()
    if odd.any():
        m = gazetteer.match(pcode[odd])
        fixed = np.zeros(len(pcode), dtype=bool)
        fixed[np.flatnonzero(odd)[m.matched.to_numpy()]] = True
        filled[fixed] = m.pcode[m.matched].to_numpy(object)
    if names is None:
        return filled, []
    names = names.astype("string").fillna("").str.strip()
    todo = (pcode == "").to_numpy() & (names != "").to_numpy()
    if not todo.any():
        return filled, []
    m = gazetteer.match(names[todo], parents=None if parents is None else parents[todo])
    filled[todo] = m.pcode.to_numpy(object)
    failed = np.zeros(len(pcode), dtype=bool)
    failed[np.flatnonzero(todo)] = ~m.matched.to_numpy()
    reasons = pd.Series("", index=pcode.index, dtype=object)
    reasons[todo] = m.reason.to_numpy(object)
    point = np.asarray(has_point, dtype=bool)
    needed = failed & ~point
    matters = ~point if imprecise is None else ~point | np.asarray(imprecise, dtype=bool)
    if report is not None:
        fuzzy = np.zeros(len(pcode), dtype=bool)
        fuzzy[np.flatnonzero(todo)] = (m.how == "fuzzy").to_numpy()
        n_fuzzy = int((fuzzy & matters).sum())
        if n_fuzzy:
            report.warnings.append(f"{n_fuzzy} row(s) placed by a spelling-tolerant match of "
                                   f"column {column!r} to the boundary names")
        n_ignored = int((failed & point & matters).sum())
        if n_ignored:
            report.warnings.append(f"{n_ignored} admin-precision row(s) have a {column!r} name "
                                   "not found in the boundaries; they are placed by their "
                                   "coordinates")
    checks: list[Check] = []
    if needed.any():
        # One check per distinct reason keeps each reject's reason specific to its name.
        for reason in pd.unique(reasons[needed]):
            checks.append(Check(needed & (reasons == reason).to_numpy(), column,
                                f"{reason} (the row has no coordinates or P-code)"))
    return filled, checks
