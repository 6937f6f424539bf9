"""Incident readers: ACLED exports and generic CSVs into the canonical Incident table.

ACLED exports come in several shapes and all are read the same way:

* current exports with lowercase columns, older ones with upper-case columns and without
  ``sub_event_type`` / ``civilian_targeting``;
* dates as ``06 December 2022``, ``28-Jul-21``, ``2022-12-06`` or day/month/year;
* CSV (any encoding or delimiter) or XLSX;
* dyadic (one row per event) or monadic (one row per actor, the event repeated under the
  same ``event_id_cnty``). A repeated event is merged into its first row: the other rows go
  to the rejects with a reason naming that row, and their actors are added to the event.

Rows with only an admin name (ACLED ``admin2``) and no coordinates are placed through the
gazetteer at admin precision. UCDP GED is read by :mod:`geo_risk.readers.ucdp`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from ..config import SourceConfig
from ..errors import InputFileError
from .common import ReadResult, today
from .incident_table import build_incidents, column_overrides, resolve_columns
from .tabular import read_table
from .ucdp import read_ucdp

if TYPE_CHECKING:
    from ..gazetteer import Gazetteer

# ACLED column names (current exports are lowercase; older ones upper-case, which we fold).
ACLED_REQUIRED: dict[str, tuple[str, ...]] = {
    "event_id": ("event_id_cnty",),
    "date": ("event_date",),
    "lat": ("latitude",),
    "lon": ("longitude",),
    "event_type": ("event_type",),
    "fatalities": ("fatalities",),
}
ACLED_OPTIONAL: dict[str, tuple[str, ...]] = {
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
    # Set per boundary level at read time (admin1/admin2/admin3 names of ACLED).
    "admin_name": ("admin2",),
    "admin_parent": ("admin1",),
    "country": ("country",),
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
    "admin_name": ("admin_name", "admin2", "adm2_name", "county", "territoire", "district"),
    "admin_parent": ("admin1", "adm1_name", "state", "province"),
    "country": ("country", "country_name"),
}


def _admin_columns(level: int) -> dict[str, tuple[str, ...]]:
    """ACLED's admin name columns for a boundary level (admin1..admin3)."""
    level = min(max(level, 1), 3)
    out: dict[str, tuple[str, ...]] = {"admin_name": (f"admin{level}",)}
    out["admin_parent"] = (f"admin{level - 1}",) if level > 1 else ("__none__",)
    return out


def read_acled(source: SourceConfig, *, now: pd.Timestamp | None = None,
               gazetteer: Gazetteer | None = None) -> ReadResult:
    """Read an ACLED export (CSV or XLSX; current lowercase or older upper-case columns).

    Parameters
    ----------
    source
        The ``[[incidents]]`` entry; ``columns = {canonical = "source column"}`` overrides names.
    now
        Dates after this day are rejected as future dates (default: today).
    gazetteer
        Admin names of the boundaries: rows without coordinates are placed by their ACLED
        ``admin1``/``admin2``/``admin3`` name (the level of the boundaries) at admin precision.
    """
    raw = read_table(source.path, sheet=source.options.get("sheet"),
                     encoding=source.options.get("encoding"))
    raw.frame.columns = [c.lower() for c in raw.frame.columns]
    optional = dict(ACLED_OPTIONAL)
    if gazetteer is not None:
        optional.update(_admin_columns(gazetteer.level))
    cols = resolve_columns(raw, ACLED_REQUIRED, optional, column_overrides(source),
                           "Is this an ACLED export? Otherwise use format = \"csv\" with a "
                           "[columns] map.")
    return build_incidents(raw, cols, source, now if now is not None else today(),
                           gazetteer=gazetteer)


def read_incident_csv(source: SourceConfig, *, now: pd.Timestamp | None = None,
                      gazetteer: Gazetteer | None = None) -> ReadResult:
    """Read a generic incident table; ``columns`` in the config maps canonical names."""
    raw = read_table(source.path, sheet=source.options.get("sheet"),
                     encoding=source.options.get("encoding"))
    overrides = column_overrides(source)
    required = {k: GENERIC_DEFAULTS[k] for k in ("date", "lat", "lon")}
    optional = {k: v for k, v in GENERIC_DEFAULTS.items() if k not in required}
    cols = resolve_columns(raw, required, optional, overrides,
                           "Map your columns in the config, e.g. columns = { date = \"Date\" }.")
    f = raw.frame
    if cols["event_type"] is None:
        f = f.assign(__event_type=source.options.get("event_type", "Unspecified"))
        cols["event_type"] = "__event_type"
    if cols["fatalities"] is None:
        f = f.assign(__fatalities="0")
        cols["fatalities"] = "__fatalities"
    raw = replace(raw, frame=f)
    return build_incidents(raw, cols, source, now if now is not None else today(),
                           gazetteer=gazetteer)


def read_incidents(source: SourceConfig, *, now: pd.Timestamp | None = None,
                   gazetteer: Gazetteer | None = None) -> ReadResult:
    """Dispatch on ``source.format`` (acled | ucdp | csv)."""
    if source.format == "acled":
        return read_acled(source, now=now, gazetteer=gazetteer)
    if source.format == "csv":
        return read_incident_csv(source, now=now, gazetteer=gazetteer)
    if source.format == "ucdp":
        return read_ucdp(source, now=now, gazetteer=gazetteer)
    raise InputFileError(source.path, f"unknown incident format {source.format!r}.")


__all__ = ["read_acled", "read_incident_csv", "read_incidents"]
