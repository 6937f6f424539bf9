"""Engagement readers: KoBo/ODK exports and plain CSVs into the canonical Consultation table.

KoBoToolbox exports (CSV, usually semicolon-separated, or XLSX) write group paths into the
column names (``meeting/meeting_date``), geopoints as ``_<name>_latitude``/``_longitude``
columns or one ``"lat lon alt accuracy"`` text column, and select-multiple answers as a
space-separated column (``topics``) and/or one 0/1 column per choice (``topics/security``).
All of these are understood. HXL-tagged files are read by :mod:`geo_risk.readers.hxl`.

Do no harm starts here: only the canonical columns are kept, so names, phone numbers and
free-text notes never leave the reader. The sensitive columns are
``schemas.SENSITIVE_CONSULTATION_COLUMNS`` plus the config's ``sensitive_columns``; mapping
one of them into the canonical table is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from ..config import SourceConfig
from ..errors import InputFileError
from .common import (
    ReadResult,
    find_column,
    missing_columns_error,
    table_report,
    today,
    with_partial,
)
from .consultation_table import (
    basename,
    build_consultations,
    default_modality,
    is_sensitive,
    note_dropped,
    refuse_sensitive,
    select_multiple,
    sensitive_names,
)
from .hxl import read_hxl_consultations
from .tabular import RawTable, read_table

if TYPE_CHECKING:
    from ..gazetteer import Gazetteer

# Candidate names after stripping KoBo group prefixes ("meeting/meeting_date" -> "meeting_date").
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "consultation_id": ("_uuid", "consultation_id", "_id", "instanceid", "id"),
    "date": ("meeting_date", "date", "consultation_date", "alert_date", "survey_date", "today",
             "start"),
    "lat": ("gps_latitude", "_gps_latitude", "latitude", "lat"),
    "lon": ("gps_longitude", "_gps_longitude", "longitude", "lon", "lng"),
    "admin_pcode": ("admin2", "adm2_pcode", "admin2_pcode", "pcode", "admin_pcode"),
    "admin_name": ("admin2_name", "adm2_name", "admin_name", "county", "territoire",
                   "district"),
    "modality": ("modality", "engagement_type", "activity_type"),
    "participants_total": ("total", "participants_total", "participants", "attendance"),
    "participants_women": ("women", "participants_women", "female"),
    "participants_youth": ("youth", "participants_youth"),
    "team": ("base", "team", "team_site"),
    "topics": ("topics",),
    "safety_score": ("safety_score", "safety"),
    "trust_score": ("trust_score", "trust_mission", "trust"),
    "commitments_made": ("made", "commitments_made"),
    "follow_up_status": ("follow_up", "follow_up_status"),
    "follow_up_due": ("follow_up_due", "due_date", "commitment_due"),
    # Who engaged, and alert logs' response fields (geo_risk.readers.engagement_fields).
    "component": ("component", "mission_component"),
    "alert_type": ("alert_type", "threat_type"),
    "received_at": ("received_at", "alert_received", "alert_time"),
    "responded_at": ("responded_at", "response_time", "response_date"),
    "response": ("response", "response_action", "action_taken"),
    "response_base": ("response_base", "responding_base"),
}
REQUIRED = ("consultation_id", "date")
#: Single text columns holding a KoBo/ODK geopoint ("lat lon alt accuracy") or "[lat, lon]".
GEOPOINT_COLUMNS = ("gps", "geopoint", "location", "coordinates", "_geolocation")


def _resolve(raw: RawTable, overrides: Mapping[str, str],
             sensitive: set[str]) -> dict[str, str | None]:
    cols = [c for c in raw.frame.columns if not is_sensitive(c, sensitive)]
    by_base: dict[str, str] = {}
    for c in cols:  # first column wins when two groups share a field name
        by_base.setdefault(basename(c).lower(), c)
    found: dict[str, str | None] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for canonical, cands in DEFAULT_FIELDS.items():
        if canonical in overrides:
            name = find_column(cols, (overrides[canonical],))
            if name is None:
                missing[canonical] = (overrides[canonical],)
        else:
            # In order of preference: an exact column name, else a KoBo group field.
            name = next((find_column(cols, (c,)) or by_base.get(c.lstrip("_").lower())
                         for c in cands
                         if find_column(cols, (c,)) or c.lstrip("_").lower() in by_base), None)
        found[canonical] = name
        if name is None and canonical in REQUIRED and canonical not in missing:
            missing[canonical] = cands
    if found["lat"] is None and found["lon"] is None and "lat" not in overrides:
        # KoBo names geopoint parts after the question: "_<question>_latitude".
        lat = [c for c in cols if basename(c).lower().endswith("_latitude")]
        lon = [c for c in cols if basename(c).lower().endswith("_longitude")]
        if lat and lon:
            found["lat"], found["lon"] = lat[0], lon[0]
    if missing:
        raise missing_columns_error(raw.path, missing, cols,
                                    "Map them in the config: columns = { date = \"...\" }.")
    return found


def _geopoint(f: pd.DataFrame, sensitive: set[str]) -> tuple[pd.Series, pd.Series, str] | None:
    """Lat/lon from a single geopoint text column, if the file has one."""
    by_base = {basename(c).lower(): c for c in f.columns if not is_sensitive(c, sensitive)}
    col = next((by_base[c] for c in GEOPOINT_COLUMNS if c in by_base), None)
    if col is None:
        return None
    parts = f[col].astype(str).str.extract(
        r"^\s*\[?\s*(-?\d+(?:\.\d+)?)\s*[ ,]\s*(-?\d+(?:\.\d+)?)")
    if parts[0].notna().sum() == 0:
        return None
    return parts[1].fillna(""), parts[0].fillna(""), col




def read_consultations(source: SourceConfig, *, now: pd.Timestamp | None = None,
                       gazetteer: Gazetteer | None = None) -> ReadResult:
    """Read an engagement export (KoBo CSV/XLSX, a plain CSV, or HXL) into Consultations.

    Options in the ``[[consultations]]`` entry: ``columns`` (canonical -> source column),
    ``modality`` (a default for files that are all one kind, e.g. ``"early_warning_alert"``
    for an SMS alert log or ``"perception_survey"``), ``sheet`` for XLSX,
    ``sensitive_columns`` (more personal columns to drop), ``tags`` for HXL files,
    ``components`` (source value -> mission component, see
    :mod:`geo_risk.readers.engagement_fields`).

    Raises
    ------
    ConfigError
        A column mapping names a sensitive column, or ``modality`` is unknown.
    InputFileError
        The file cannot be read or lacks the id/date columns.
    """
    if source.format not in ("kobo", "csv"):
        if source.format == "hxl":
            return read_hxl_consultations(source, now=now, gazetteer=gazetteer)
        raise InputFileError(source.path, f"unknown consultation format {source.format!r}.")
    now = now if now is not None else today()
    sensitive = sensitive_names(source)
    overrides = {str(k): str(v) for k, v in dict(source.options.get("columns", {})).items()}
    refuse_sensitive(source.path, overrides, sensitive)
    default_modality(source)  # fail early on a wrong option, before reading the file
    raw = read_table(source.path, sheet=source.options.get("sheet"),
                     encoding=source.options.get("encoding"))
    cols = _resolve(raw, overrides, sensitive)
    f = raw.frame
    report = table_report(raw, name=source.name, kind="consultations", fmt=source.format)
    note_dropped(report, f.columns, sensitive)
    keep = [c for c in f.columns if not is_sensitive(c, sensitive)]
    f = f[keep]
    lonlat = None
    if cols["lat"] is None or cols["lon"] is None:
        lonlat = _geopoint(f, sensitive)
    topic_q = basename(overrides.get("topics", cols["topics"] or "topics"))
    topics = select_multiple(f, topic_q, cols["topics"])
    result = build_consultations(f=f, rows=raw.rows, path=raw.path, cols=cols, source=source,
                                 now=now, report=report, gazetteer=gazetteer, topics=topics,
                                 lonlat=lonlat)
    result.rejects = with_partial(result.rejects, raw)
    return result


__all__ = ["DEFAULT_FIELDS", "read_consultations"]
