"""Incident readers: ACLED exports and generic CSVs into the canonical Incident table."""

from __future__ import annotations

import pandas as pd

from ..config import SourceConfig
from ..errors import InputFileError
from ..schemas import INCIDENT
from ..validate import Check, apply_checks
from .common import (
    ReadResult,
    coordinate_checks,
    date_checks,
    dates,
    duplicate_check,
    find_column,
    missing_columns_error,
    new_report,
    numbers,
    stamp_dates,
    text,
    today,
)
from .tabular import RawTable, blank, read_table, unparsed

# ACLED column names (current exports are lowercase; older ones upper-case, which we fold).
ACLED_REQUIRED = {
    "event_id": ("event_id_cnty",),
    "date": ("event_date",),
    "lat": ("latitude",),
    "lon": ("longitude",),
    "event_type": ("event_type",),
    "fatalities": ("fatalities",),
}
ACLED_OPTIONAL = {
    "sub_event_type": ("sub_event_type",),
    "geo_precision": ("geo_precision",),
    "time_precision": ("time_precision",),
    "actor1": ("actor1",),
    "actor2": ("actor2",),
    "civilian_targeting": ("civilian_targeting",),
    "inter2": ("inter2",),
    "source": ("source",),
    "notes": ("notes",),
    "admin_pcode": ("admin2_pcode", "adm2_pcode"),
}

GENERIC_DEFAULTS = {
    "event_id": ("event_id", "id", "incident_id"),
    "date": ("date", "event_date", "incident_date"),
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "longitude", "x"),
    "event_type": ("event_type", "type", "category"),
    "fatalities": ("fatalities", "deaths", "killed"),
    "sub_event_type": ("sub_event_type", "subtype"),
    "geo_precision": ("geo_precision", "location_precision"),
    "time_precision": ("time_precision",),
    "actor1": ("actor1", "perpetrator"),
    "actor2": ("actor2", "target"),
    "civilian_targeting": ("civilian_targeting", "civilians_targeted"),
    "source": ("source",),
    "notes": ("notes", "description"),
    "admin_pcode": ("admin_pcode", "pcode", "adm2_pcode"),
}

_TRUE = {"1", "true", "yes", "y", "civilian targeting", "t"}


def _resolve(raw: RawTable, required: dict[str, tuple[str, ...]],
             optional: dict[str, tuple[str, ...]], overrides: dict[str, str],
             hint: str) -> dict[str, str | None]:
    cols = list(raw.frame.columns)
    found: dict[str, str | None] = {}
    missing = {}
    for canonical, cands in {**required, **optional}.items():
        if canonical in overrides:
            name = find_column(cols, (overrides[canonical],))
            if name is None:
                missing[canonical] = (overrides[canonical],)
        else:
            name = find_column(cols, cands)
            if name is None and canonical in required:
                missing[canonical] = cands
        found[canonical] = name
    if missing:
        raise missing_columns_error(raw.path, missing, cols, hint)
    return found


def _canonical(raw: RawTable, cols: dict[str, str | None], source: SourceConfig,
               now: pd.Timestamp) -> ReadResult:
    f = raw.frame
    report = new_report(raw.path, name=source.name, kind="incidents", fmt=source.format,
                        rows_read=len(f))
    date = dates(f, cols["date"])
    lon, lat = numbers(f, cols["lon"]), numbers(f, cols["lat"])
    fat = numbers(f, cols["fatalities"])
    geo = numbers(f, cols.get("geo_precision"))
    tprec = numbers(f, cols.get("time_precision"))
    event_type = text(f, cols["event_type"])
    civ_text = text(f, cols.get("civilian_targeting")).str.lower()
    if cols.get("civilian_targeting"):
        civilian = civ_text.isin(_TRUE)
    else:
        # Older ACLED exports have no civilian_targeting column: violence against civilians,
        # or civilians as the second actor (inter code 7, or "Civilians" in newer text codes).
        inter2 = text(f, cols.get("inter2")).str.lower()
        civilian = event_type.str.lower().eq("violence against civilians") | inter2.isin(
            {"7", "civilians"})
    frame = pd.DataFrame({
        "event_id": text(f, cols["event_id"]),
        "date": date,
        "end_date": date,
        "lon": lon,
        "lat": lat,
        "geo_precision": geo.fillna(1),
        "time_precision": tprec.fillna(1),
        "event_type": event_type,
        "sub_event_type": text(f, cols.get("sub_event_type")),
        "actor1": text(f, cols.get("actor1")),
        "actor2": text(f, cols.get("actor2")),
        "fatalities": fat.fillna(0),
        "civilian_targeting": civilian.to_numpy(dtype=bool),
        "admin_pcode": text(f, cols.get("admin_pcode")),
        "source": text(f, cols.get("source")),
        "notes": text(f, cols.get("notes")),
        "source_file": str(raw.path),
        "source_row": raw.rows,
    })
    c = {k: (v or k) for k, v in cols.items()}
    checks: list[Check] = [
        Check(blank(f[cols["event_id"]]), c["event_id"], "event id is missing"),
        *date_checks(f[cols["date"]], date, column=c["date"], required=True, now=now),
        *coordinate_checks(f[cols["lon"]], f[cols["lat"]], lon, lat, lon_col=c["lon"],
                           lat_col=c["lat"], required=False),
        Check(unparsed(f[cols["fatalities"]], fat).to_numpy() | (fat < 0).to_numpy(),
              c["fatalities"], "fatalities must be a whole number >= 0"),
        Check(blank(f[cols["event_type"]]), c["event_type"], "event type is missing"),
        Check(~geo.isna().to_numpy() & ~geo.isin([1, 2, 3]).to_numpy(), c["geo_precision"],
              "geo_precision must be 1, 2 or 3"),
        Check(~tprec.isna().to_numpy() & ~tprec.isin([1, 2, 3]).to_numpy(), c["time_precision"],
              "time_precision must be 1, 2 or 3"),
        # Without coordinates a row is usable only through its admin P-code.
        Check((lon.isna() | lat.isna()).to_numpy() & blank(frame["admin_pcode"]).to_numpy()
              & ~unparsed(f[cols["lon"]], lon).to_numpy(), c["lat"],
              "no coordinates and no admin P-code: the event cannot be placed"),
        duplicate_check(frame["event_id"], column=c["event_id"], what="event id "
                        "(monadic exports repeat an event once per actor; it is counted once)"),
    ]
    accepted, rejects = apply_checks(frame, checks, raw=f)
    accepted = accepted.astype({"geo_precision": "int8", "time_precision": "int8",
                                "fatalities": "int64"})
    stamp_dates(report, accepted["date"])
    return ReadResult(frame=accepted[[*INCIDENT.names, "source_file", "source_row"]],
                      rejects=rejects, report=report)


def read_acled(source: SourceConfig, *, now: pd.Timestamp | None = None) -> ReadResult:
    """Read an ACLED export (CSV or XLSX; current lowercase or older upper-case columns).

    Parameters
    ----------
    source
        The ``[[incidents]]`` entry; ``columns = {canonical = "source column"}`` overrides names.
    now
        Dates after this day are rejected as future dates (default: today).
    """
    raw = read_table(source.path, sheet=source.options.get("sheet"))
    raw.frame.columns = [c.lower() for c in raw.frame.columns]
    cols = _resolve(raw, ACLED_REQUIRED, ACLED_OPTIONAL, dict(source.options.get("columns", {})),
                    "Is this an ACLED export? Otherwise use format = \"csv\" with a [columns] map.")
    return _canonical(raw, cols, source, now if now is not None else today())


def read_incident_csv(source: SourceConfig, *, now: pd.Timestamp | None = None) -> ReadResult:
    """Read a generic incident table; ``columns`` in the config maps canonical names."""
    raw = read_table(source.path, sheet=source.options.get("sheet"))
    overrides = dict(source.options.get("columns", {}))
    required = {k: GENERIC_DEFAULTS[k] for k in ("event_id", "date", "lat", "lon")}
    optional = {k: v for k, v in GENERIC_DEFAULTS.items() if k not in required}
    cols = _resolve(raw, required, optional, overrides,
                    "Map your columns in the config, e.g. columns = { date = \"Date\" }.")
    f = raw.frame
    if cols["event_type"] is None:
        f = f.assign(__event_type=source.options.get("event_type", "Unspecified"))
        cols["event_type"] = "__event_type"
    if cols["fatalities"] is None:
        f = f.assign(__fatalities="0")
        cols["fatalities"] = "__fatalities"
    raw = RawTable(raw.path, f, raw.rows, raw.encoding, raw.delimiter)
    return _canonical(raw, cols, source, now if now is not None else today())


def read_incidents(source: SourceConfig, *, now: pd.Timestamp | None = None) -> ReadResult:
    """Dispatch on ``source.format``."""
    if source.format == "acled":
        return read_acled(source, now=now)
    if source.format == "csv":
        return read_incident_csv(source, now=now)
    if source.format == "ucdp":
        from .ucdp import read_ucdp  # noqa: PLC0415 - optional reader

        return read_ucdp(source, now=now)
    raise InputFileError(source.path, f"unknown incident format {source.format!r}.")


__all__ = ["read_acled", "read_incident_csv", "read_incidents"]
