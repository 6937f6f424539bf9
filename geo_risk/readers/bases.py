"""Mission bases: a plain list (one row per base) or a base-month deployment panel.

A *panel* has one row per base per month with its deployed troop or police numbers, as
peacekeeping deployment research datasets publish it (``year`` and ``month`` columns, or one
month/date column). A base opens on the first day of its first month and closes at the end of
its last month, unless that month is the panel's last (then it is still open). Its place and
staff are those of its last month; ``liaison_staff`` comes from the column mapped to it
(``columns = { liaison_staff = "no.troops" }``), summed over the rows of one base and month.
Every panel row is accounted for: rows that make a base count as accepted (the base's
``source_rows``), bad rows are rejected with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..schemas import BASE
from ..validate import Check, apply_checks
from .common import (
    ReadResult,
    coordinate_checks,
    date_checks,
    dates,
    duplicate_check,
    find_column,
    missing_columns_error,
    numbers,
    stamp_dates,
    table_report,
    text,
    today,
    with_partial,
)
from .tabular import DATE_FORMATS, RawTable, blank, parse_dates, read_table, unparsed

BASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "base_name": ("base_name", "name", "base", "team_site", "location", "site"),
    "lon": ("lon", "longitude", "lng", "x"),
    "lat": ("lat", "latitude", "y"),
    "open_date": ("open_date", "opened"),
    "close_date": ("close_date", "closed"),
    "liaison_staff": ("liaison_staff", "clas", "cla_count", "staff"),
    "female_liaison_staff": ("female_liaison_staff", "female_clas", "liaison_staff_women",
                             "female_staff"),
}
PANEL_COLUMNS: dict[str, tuple[str, ...]] = {
    **{k: v for k, v in BASE_COLUMNS.items() if k not in ("open_date", "close_date")},
    "month": ("month_date", "year_month", "period", "date", "month"),
    "year": ("year",),
    "liaison_staff": ("liaison_staff", "staff", "personnel", "total_personnel", "no.troops",
                      "troops"),
    "female_liaison_staff": BASE_COLUMNS["female_liaison_staff"],
}
#: Month formats of panels besides full dates ("2019-03", "03/2019", "Mar 2019").
MONTH_FORMATS = ("%Y-%m", "%m/%Y", "%b %Y", "%B %Y", "%Y%m", *DATE_FORMATS)


def _columns(raw: RawTable, candidates: Mapping[str, Sequence[str]],
             overrides: Mapping[str, str], required: Sequence[str],
             hint: str) -> dict[str, str | None]:
    cols = list(raw.frame.columns)
    found: dict[str, str | None] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for key, cands in candidates.items():
        tried = (overrides[key],) if key in overrides else tuple(cands)
        found[key] = find_column(cols, tried)
        if found[key] is None and (key in required or key in overrides):
            missing[key] = tried
    if missing:
        raise missing_columns_error(raw.path, missing, cols, hint)
    return found


def _staff_check(f: pd.DataFrame, column: str | None, staff: pd.Series,
                 name: str = "liaison_staff") -> Check:
    return Check(((staff < 0) | (staff % 1 != 0)).to_numpy()
                 | unparsed(text(f, column), staff).to_numpy(),
                 column or name, f"{name} must be a whole number")


def _female_checks(f: pd.DataFrame, cols: Mapping[str, str | None], staff: pd.Series,
                   female: pd.Series) -> list[Check]:
    """``female_liaison_staff``: a whole number, at most ``liaison_staff`` (NaN = not recorded)."""
    col = cols["female_liaison_staff"]
    recorded = female.notna().to_numpy()
    check = _staff_check(f, col, female, "female_liaison_staff")
    return [Check(np.asarray(check.bad) & recorded
                  | unparsed(text(f, col), female).to_numpy(), check.column, check.reason),
            Check((female > staff.fillna(0)).to_numpy(), col or "female_liaison_staff",
                  "more female liaison staff than liaison staff")]


def _read_base_list(raw: RawTable, source: SourceConfig, now: pd.Timestamp) -> ReadResult:
    f = raw.frame
    cols = _columns(raw, BASE_COLUMNS, dict(source.options.get("columns", {})),
                    ("base_name", "lon", "lat"), "Bases need a name, lon and lat.")
    report = table_report(raw, name=source.name, kind="bases", fmt="csv")
    lon, lat = numbers(f, cols["lon"]), numbers(f, cols["lat"])
    staff = numbers(f, cols["liaison_staff"])
    female = numbers(f, cols["female_liaison_staff"])
    frame = pd.DataFrame({
        "base_name": text(f, cols["base_name"]),
        "lon": lon,
        "lat": lat,
        "open_date": dates(f, cols["open_date"]),
        "close_date": dates(f, cols["close_date"]),
        "liaison_staff": staff.fillna(0),
        "female_liaison_staff": female,
        "source_file": str(raw.path),
        "source_row": raw.rows,
    })
    checks = [
        Check(blank(frame["base_name"]), cols["base_name"] or "base_name", "base name missing"),
        *coordinate_checks(f[cols["lon"]], f[cols["lat"]], lon, lat, lon_col=cols["lon"] or "",
                           lat_col=cols["lat"] or "", required=True),
        _staff_check(f, cols["liaison_staff"], staff),
        *_female_checks(f, cols, staff, female),
        duplicate_check(frame["base_name"], column=cols["base_name"] or "", what="base name"),
    ]
    for key in ("open_date", "close_date"):
        if cols[key]:
            checks += date_checks(f[cols[key]], frame[key], column=cols[key] or key,
                                  required=False, now=now + pd.Timedelta(days=3650))
    accepted, rejects = apply_checks(frame, checks, raw=f)
    accepted["liaison_staff"] = accepted["liaison_staff"].astype("int64")
    stamp_dates(report, accepted["open_date"])
    return ReadResult(frame=accepted[[*BASE.names, "source_file", "source_row"]],
                      rejects=with_partial(rejects, raw), report=report)


def _panel_months(f: pd.DataFrame, cols: Mapping[str, str | None]) -> tuple[pd.Series, str]:
    """First day of each row's month, and the column it came from."""
    month_col, year_col = cols["month"], cols["year"]
    month_text = text(f, month_col)
    as_number = pd.to_numeric(month_text, errors="coerce")
    if year_col is not None and month_col is not None and as_number.between(1, 12).any():
        year = pd.to_numeric(text(f, year_col), errors="coerce")
        ok = year.between(1900, 2200) & as_number.between(1, 12) & (as_number % 1 == 0)
        stamp = pd.to_datetime(pd.DataFrame({"year": year.where(ok, 2000),
                                             "month": as_number.where(ok, 1), "day": 1}))
        return stamp.where(ok), month_col
    if month_col is None:
        return pd.Series(pd.NaT, index=f.index, dtype="datetime64[ns]"), "month"
    return parse_dates(month_text, formats=MONTH_FORMATS).dt.to_period("M").dt.to_timestamp(), \
        month_col


def _read_base_panel(raw: RawTable, source: SourceConfig) -> ReadResult:
    f = raw.frame
    cols = _columns(raw, PANEL_COLUMNS, dict(source.options.get("columns", {})),
                    ("base_name", "lon", "lat", "month"),
                    "A base-month panel needs a base name, lon, lat and a month (or year and "
                    "month) column; map them with columns = { base_name = \"...\" }.")
    report = table_report(raw, name=source.name, kind="bases", fmt="panel")
    month, month_col = _panel_months(f, cols)
    lon, lat = numbers(f, cols["lon"]), numbers(f, cols["lat"])
    staff = numbers(f, cols["liaison_staff"])
    female = numbers(f, cols["female_liaison_staff"])
    rows = pd.DataFrame({"base_name": text(f, cols["base_name"]), "lon": lon, "lat": lat,
                         "month": month, "liaison_staff": staff.fillna(0),
                         "female_liaison_staff": female,
                         "source_file": str(raw.path), "source_row": raw.rows})
    checks = [
        Check(blank(rows["base_name"]), cols["base_name"] or "base_name", "base name missing"),
        *coordinate_checks(f[cols["lon"]], f[cols["lat"]], lon, lat, lon_col=cols["lon"] or "",
                           lat_col=cols["lat"] or "", required=True),
        Check(month.isna().to_numpy(), month_col, "month not understood; use YYYY-MM, a date, "
              "or year and month (1-12) columns"),
        _staff_check(f, cols["liaison_staff"], staff),
        *_female_checks(f, cols, staff, female),
    ]
    accepted, rejects = apply_checks(rows, checks, raw=f)
    last_month = accepted["month"].max()
    # Staff per base and month (several rows of one month add up), then the base's last month.
    per_month = (accepted.groupby(["base_name", "month"], sort=False)
                 .agg(liaison_staff=("liaison_staff", "sum"),
                      female_liaison_staff=("female_liaison_staff", "sum"),
                      female_recorded=("female_liaison_staff", "count"),
                      lon=("lon", "last"),
                      lat=("lat", "last")).reset_index().sort_values(["base_name", "month"]))
    per_month["female_liaison_staff"] = per_month["female_liaison_staff"].where(
        per_month.pop("female_recorded") > 0)
    last = per_month.groupby("base_name", sort=False).last()
    g = accepted.groupby("base_name", sort=False)
    first_month, final_month = g["month"].min(), g["month"].max()
    close = (final_month + pd.offsets.MonthEnd(0)).where(final_month < last_month)
    bases = pd.DataFrame({
        "base_name": first_month.index.to_numpy(),
        "lon": last["lon"].reindex(first_month.index).to_numpy(),
        "lat": last["lat"].reindex(first_month.index).to_numpy(),
        "open_date": first_month.to_numpy(),
        "close_date": close.to_numpy(),
        "liaison_staff": last["liaison_staff"].reindex(first_month.index).to_numpy()
        .astype("int64"),
        "female_liaison_staff": last["female_liaison_staff"].reindex(first_month.index)
        .to_numpy(float),
        "source_file": str(raw.path),
        "source_row": g["source_row"].min().to_numpy(),
        "source_rows": g.size().to_numpy(),
    })
    stamp_dates(report, accepted["month"])
    if len(bases):
        report.warnings.append(f"{len(accepted)} base-month row(s) made {len(bases)} base(s); "
                               f"bases present in {last_month:%Y-%m} are taken as still open")
    return ReadResult(frame=bases[[*BASE.names, "source_file", "source_row", "source_rows"]],
                      rejects=with_partial(rejects, raw), report=report)


def read_bases(source: SourceConfig, *, now: pd.Timestamp | None = None) -> ReadResult:
    """Read mission bases from a list or a base-month panel (CSV/XLSX/XLS).

    Parameters
    ----------
    source
        The ``[bases]`` entry. ``format = "csv"`` (default): one row per base with
        ``base_name, lon, lat, open_date, close_date, liaison_staff``. ``format = "panel"``:
        one row per base per month (see the module notes). ``columns`` maps canonical names
        (``base_name``, ``lon``, ``lat``, ``month``, ``year``, ``liaison_staff``,
        ``female_liaison_staff``) to the file's. ``female_liaison_staff`` is optional (NaN when
        the file does not record it).
    now
        Open/close dates after ten years from this day are rejected (default: today).

    Returns
    -------
    ReadResult
        Canonical bases; a panel's frame also has ``source_rows`` (panel rows per base).
    """
    now = now if now is not None else today()
    raw = read_table(source.path, sheet=source.options.get("sheet"),
                     encoding=source.options.get("encoding"))
    if source.format == "panel":
        return _read_base_panel(raw, source)
    return _read_base_list(raw, source, now)


__all__ = ["read_bases"]
