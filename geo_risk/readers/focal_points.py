"""Registered early-warning focal points: who the mission can hear alerts from, and where.

A focal-point table (CSV/XLSX) has one row per registered focal point: an id, the day it was
registered, optionally the day it stopped, and where it is (a point, an admin P-code or an admin
name through the gazetteer), optionally the base that manages it. Names and phone numbers are
personal data: those columns are dropped at read time like the sensitive columns of
engagement exports, and mapping one of them is refused. A focal point's place is used only to
say which admin units have an alert channel; no output carries it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..schemas import FOCAL_POINT
from ..validate import Check, apply_checks
from .common import (
    ReadResult,
    coordinate_checks,
    date_checks,
    dates,
    duplicate_check,
    find_column,
    geocode_names,
    missing_columns_error,
    stamp_dates,
    table_report,
    text,
    today,
    with_partial,
)
from .consultation_table import is_sensitive, note_dropped, refuse_sensitive, sensitive_names
from .tabular import blank, read_table, unparsed

if TYPE_CHECKING:
    from ..gazetteer import Gazetteer

FOCAL_POINT_COLUMNS: dict[str, tuple[str, ...]] = {
    "focal_point_id": ("focal_point_id", "fp_id", "id", "code"),
    "registered": ("registered", "registration_date", "registered_on", "start_date", "since"),
    "ended": ("ended", "end_date", "deactivated", "inactive_since"),
    "lat": ("lat", "latitude", "gps_latitude"),
    "lon": ("lon", "longitude", "lng", "gps_longitude"),
    "admin_pcode": ("admin_pcode", "admin2", "adm2_pcode", "admin2_pcode", "pcode"),
    "admin_name": ("admin_name", "admin2_name", "adm2_name", "county", "district"),
    "base": ("base", "base_name", "team_site", "team"),
}
REQUIRED = ("focal_point_id", "registered")


def read_focal_points(source: SourceConfig, *, now: pd.Timestamp | None = None,
                      gazetteer: Gazetteer | None = None) -> ReadResult:
    """Read a focal-point registry into the canonical FocalPoint table.

    Parameters
    ----------
    source : SourceConfig
        The ``[focal_points]`` entry: ``path``, optional ``columns`` (canonical -> source
        column), ``sheet``, ``encoding``, ``sensitive_columns``.
    now : pandas.Timestamp, optional
        Registration dates after this day are rejected (default: today).
    gazetteer : Gazetteer, optional
        Places rows that carry only an admin name.

    Returns
    -------
    ReadResult
        Accepted focal points (no personal field), rejects with reasons, and the report.

    Raises
    ------
    ConfigError
        A column mapping names a personal column.
    InputFileError
        The file cannot be read or lacks the id/registration columns.
    """
    now = now if now is not None else today()
    sensitive = sensitive_names(source)
    overrides = {str(k): str(v) for k, v in dict(source.options.get("columns", {})).items()}
    refuse_sensitive(source.path, overrides, sensitive)
    raw = read_table(source.path, sheet=source.options.get("sheet"),
                     encoding=source.options.get("encoding"))
    report = table_report(raw, name=source.name, kind="focal_points", fmt="csv")
    note_dropped(report, raw.frame.columns, sensitive)
    f = raw.frame[[c for c in raw.frame.columns if not is_sensitive(c, sensitive)]]
    cols: dict[str, str | None] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for key, cands in FOCAL_POINT_COLUMNS.items():
        tried = (overrides[key],) if key in overrides else cands
        cols[key] = find_column(f.columns, tried)
        if cols[key] is None and (key in REQUIRED or key in overrides):
            missing[key] = tried
    if missing:
        raise missing_columns_error(raw.path, missing, list(f.columns),
                                    "Map them in the config: [focal_points] columns = "
                                    "{ registered = \"...\" }.")
    lon_t, lat_t = text(f, cols["lon"]), text(f, cols["lat"])
    lon = pd.to_numeric(lon_t.replace("", np.nan), errors="coerce").astype(float)
    lat = pd.to_numeric(lat_t.replace("", np.nan), errors="coerce").astype(float)
    has_point = (lon.notna() & lat.notna()).to_numpy()
    pcode, name_checks = geocode_names(
        pcode=text(f, cols["admin_pcode"]),
        names=text(f, cols["admin_name"]) if cols["admin_name"] else None,
        gazetteer=gazetteer, has_point=has_point, column=cols["admin_name"] or "admin_name",
        report=report)
    registered, ended = dates(f, cols["registered"]), dates(f, cols["ended"])
    frame = pd.DataFrame({
        "focal_point_id": text(f, cols["focal_point_id"]), "registered": registered,
        "ended": ended, "lon": lon, "lat": lat, "admin_pcode": pcode,
        "base": text(f, cols["base"]), "source_file": str(raw.path), "source_row": raw.rows})
    lat_name = cols["lat"] or "lat"
    checks = [
        Check(blank(frame["focal_point_id"]), cols["focal_point_id"] or "focal_point_id",
              "focal point id is missing"),
        *date_checks(f[cols["registered"]], registered, column=cols["registered"] or "",
                     required=True, now=now),
        *coordinate_checks(lon_t, lat_t, lon, lat, lon_col=cols["lon"] or "lon",
                           lat_col=lat_name, required=False),
        Check(~has_point & blank(pcode).to_numpy() & ~unparsed(lat_t, lat).to_numpy()
              & ~unparsed(lon_t, lon).to_numpy(), lat_name,
              "no point, no admin P-code and no admin name: the focal point cannot be placed"),
        *name_checks,
        Check((ended < registered).to_numpy(), cols["ended"] or "ended",
              "ended before it was registered; check the two dates"),
        duplicate_check(frame["focal_point_id"], column=cols["focal_point_id"] or "",
                        what="focal point id"),
    ]
    if cols["ended"]:
        checks.append(Check(unparsed(text(f, cols["ended"]), ended).to_numpy(), cols["ended"],
                            "end date not understood; write it as YYYY-MM-DD"))
    accepted, rejects = apply_checks(frame, checks, raw=f)
    stamp_dates(report, accepted["registered"])
    return ReadResult(frame=accepted[[*FOCAL_POINT.names, "source_file", "source_row"]],
                      rejects=with_partial(rejects, raw), report=report)


__all__ = ["FOCAL_POINT_COLUMNS", "read_focal_points"]
