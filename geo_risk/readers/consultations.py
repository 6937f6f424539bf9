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

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import ConfigError, InputFileError
from ..schemas import CONSULTATION, MODALITIES, SENSITIVE_CONSULTATION_COLUMNS
from ..validate import Check, apply_checks
from .common import (
    InputReport,
    ReadResult,
    coordinate_checks,
    date_checks,
    dates,
    duplicate_check,
    find_column,
    geocode_names,
    missing_columns_error,
    new_report,
    numbers,
    stamp_dates,
    text,
    today,
)
from .tabular import RawTable, blank, read_table, unparsed

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
    "safety_score": ("safety_score", "safety", "trust_score"),
    "commitments_made": ("made", "commitments_made"),
    "follow_up_status": ("follow_up", "follow_up_status"),
    "follow_up_due": ("follow_up_due", "due_date", "commitment_due"),
}
REQUIRED = ("consultation_id", "date")
#: Single text columns holding a KoBo/ODK geopoint ("lat lon alt accuracy") or "[lat, lon]".
GEOPOINT_COLUMNS = ("gps", "geopoint", "location", "coordinates", "_geolocation")

MODALITY_ALIASES = {
    "meeting": "community_meeting", "town_hall": "community_meeting",
    "town hall": "community_meeting", "community meeting": "community_meeting",
    "consultations": "consultation", "survey": "perception_survey",
    "perception survey": "perception_survey", "perception": "perception_survey",
    "ewa": "early_warning_alert", "alert": "early_warning_alert", "sms": "early_warning_alert",
    "early warning alert": "early_warning_alert", "early_warning": "early_warning_alert",
    "early warning": "early_warning_alert", "radio": "radio_outreach",
    "remote": "remote_engagement", "phone": "remote_engagement",
}
_YES = {"yes", "1", "1.0", "true", "y", "oui"}


def basename(column: str) -> str:
    """KoBo writes group paths ('grp/sub/field') and geopoint parts ('_grp/gps_latitude')."""
    return column.rsplit("/", 1)[-1].lstrip("_") if "/" in column else column


def sensitive_names(source: SourceConfig) -> set[str]:
    """Lower-case names (full column names, bare field names or HXL tags) never to be read."""
    extra = source.options.get("sensitive_columns", ())
    if isinstance(extra, str):
        extra = (extra,)
    return {str(c).strip().lower() for c in (*SENSITIVE_CONSULTATION_COLUMNS, *extra)}


def is_sensitive(column: str, sensitive: set[str]) -> bool:
    low = column.strip().lower()
    return low in sensitive or basename(low) in sensitive


def refuse_sensitive(path: Path, mapping: Mapping[str, str], sensitive: set[str]) -> None:
    """A config mapping that would copy a personal column into the shared table is an error."""
    bad = {k: v for k, v in mapping.items() if is_sensitive(str(v), sensitive)}
    if bad:
        items = ", ".join(f"{k} = {v!r}" for k, v in bad.items())
        raise ConfigError(
            f"{path}: the column mapping {items} names a sensitive column (personal data, see "
            "sensitive_columns). Personal fields are never read into geo-risk: remove that "
            "mapping, or map a column without names, phone numbers or free-text notes.")


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


def select_multiple(f: pd.DataFrame, question: str, summary: str | None) -> pd.Series:
    """Answers of a select-multiple question as one space-separated string per row.

    KoBo exports the question as a space-separated column (``grp/topics``), as one 0/1 column
    per choice (``grp/topics/security``), or both; the summary column wins where it is filled.
    """
    q = question.lower()
    detail = [c for c in f.columns if "/" in c and basename(c.rsplit("/", 1)[0]).lower() == q
              and c != summary]
    out = text(f, summary) if summary else pd.Series("", index=f.index, dtype=object)
    if not detail:
        return out
    chosen = pd.DataFrame({c: np.where(f[c].astype(str).str.strip().str.lower().isin(_YES),
                                       c.rsplit("/", 1)[-1] + " ", "") for c in detail},
                          index=f.index)
    from_detail = chosen.sum(axis=1).astype(str).str.strip()
    return out.where(out != "", from_detail)


def default_modality(source: SourceConfig) -> str:
    value = str(source.options.get("modality", "other")).strip().lower()
    value = MODALITY_ALIASES.get(value, value)
    if value not in MODALITIES:
        raise ConfigError(f"{source.path}: modality = {value!r} is not known; use one of "
                          f"{', '.join(MODALITIES)}.")
    return value


def build_consultations(*, f: pd.DataFrame, rows: np.ndarray, path: Path,
                        cols: Mapping[str, str | None], source: SourceConfig,
                        now: pd.Timestamp, report: InputReport,
                        gazetteer: Gazetteer | None = None,
                        topics: pd.Series | None = None,
                        lonlat: tuple[pd.Series, pd.Series, str] | None = None) -> ReadResult:
    """Canonical consultations from a text table whose columns ``cols`` names."""
    date = dates(f, cols["date"])
    if lonlat is not None:
        lon_text, lat_text, point_col = lonlat
        lon_name = lat_name = point_col
    else:
        lon_text, lat_text = text(f, cols["lon"]), text(f, cols["lat"])
        lon_name, lat_name = cols["lon"] or "lon", cols["lat"] or "lat"
    lon = pd.to_numeric(lon_text.replace("", np.nan), errors="coerce").astype(float)
    lat = pd.to_numeric(lat_text.replace("", np.nan), errors="coerce").astype(float)
    total = numbers(f, cols["participants_total"])
    women = numbers(f, cols["participants_women"])
    youth = numbers(f, cols["participants_youth"])
    safety = numbers(f, cols["safety_score"])
    modality = text(f, cols["modality"]).str.lower().replace(MODALITY_ALIASES)
    modality = modality.mask(modality == "", default_modality(source))
    has_point = (lon.notna() & lat.notna()).to_numpy()
    name_col = cols.get("admin_name")
    pcode, name_checks = geocode_names(
        pcode=text(f, cols["admin_pcode"]), names=text(f, name_col) if name_col else None,
        gazetteer=gazetteer, has_point=has_point, column=name_col or "admin_name",
        report=report)
    frame = pd.DataFrame({
        "consultation_id": text(f, cols["consultation_id"]),
        "date": date,
        "lon": lon,
        "lat": lat,
        "admin_pcode": pcode,
        "modality": modality,
        "participants_total": total,
        "participants_women": women,
        "participants_youth": youth,
        "team": text(f, cols["team"]),
        "topics": topics if topics is not None else text(f, cols["topics"]),
        "safety_score": safety,
        "commitments_made": text(f, cols["commitments_made"]).str.lower().isin(_YES),
        "follow_up_status": text(f, cols["follow_up_status"]).str.lower(),
        "follow_up_due": pd.to_datetime(text(f, cols.get("follow_up_due")).replace("", None),
                                        errors="coerce"),
        "source_file": str(path),
        "source_row": rows,
    })
    c = {k: (v or k) for k, v in cols.items()}
    no_place = (~has_point & blank(pcode).to_numpy() & ~unparsed(lat_text, lat).to_numpy()
                & ~unparsed(lon_text, lon).to_numpy())
    if name_col and gazetteer is not None:  # a name places a row only through the gazetteer
        no_place &= blank(f[name_col]).to_numpy()
    checks = [
        Check(blank(f[cols["consultation_id"]]), c["consultation_id"], "record id is missing"),
        *date_checks(f[cols["date"]], date, column=c["date"], required=True, now=now),
        *coordinate_checks(lon_text, lat_text, lon, lat, lon_col=lon_name, lat_col=lat_name,
                           required=False),
        Check(no_place, lat_name, "no GPS point, no admin P-code and no admin name: the "
              "engagement cannot be placed"),
        *name_checks,
        Check(~modality.isin(MODALITIES).to_numpy(), c["modality"],
              f"unknown modality; use one of {', '.join(MODALITIES)}"),
        Check(unparsed(text(f, cols["participants_total"]), total).to_numpy() | (total < 0),
              c["participants_total"], "participants must be a whole number >= 0"),
        Check(((women > total) | (youth > total)).to_numpy(), c["participants_women"],
              "more women or youth than participants in total"),
        Check(((safety < 1) | (safety > 5)).to_numpy()
              | unparsed(text(f, cols["safety_score"]), safety).to_numpy(), c["safety_score"],
              "safety score must be a number from 1 (low) to 5 (high)"),
        duplicate_check(frame["consultation_id"], column=c["consultation_id"], what="record id"),
    ]
    accepted, rejects = apply_checks(frame, checks, raw=f)
    # Records without a head count (e.g. SMS alerts) still show that an engagement happened.
    accepted["participants_total"] = accepted["participants_total"].fillna(0).astype("int64")
    for col in ("participants_women", "participants_youth"):
        accepted[col] = accepted[col].astype("Float64").round().astype("Int64")
    stamp_dates(report, accepted["date"])
    return ReadResult(frame=accepted[[*CONSULTATION.names, "source_file", "source_row"]],
                      rejects=rejects, report=report)


def note_dropped(report: InputReport, columns: Iterable[str], sensitive: set[str]) -> None:
    dropped = sorted({basename(c).lower() for c in columns if is_sensitive(c, sensitive)})
    if dropped:
        report.warnings.append(f"personal fields dropped at read time: {', '.join(dropped)}")


def read_consultations(source: SourceConfig, *, now: pd.Timestamp | None = None,
                       gazetteer: Gazetteer | None = None) -> ReadResult:
    """Read an engagement export (KoBo CSV/XLSX, a plain CSV, or HXL) into Consultations.

    Options in the ``[[consultations]]`` entry: ``columns`` (canonical -> source column),
    ``modality`` (a default for files that are all one kind, e.g. ``"early_warning_alert"``
    for an SMS alert log or ``"perception_survey"``), ``sheet`` for XLSX,
    ``sensitive_columns`` (more personal columns to drop), ``tags`` for HXL files.

    Raises
    ------
    ConfigError
        A column mapping names a sensitive column, or ``modality`` is unknown.
    InputFileError
        The file cannot be read or lacks the id/date columns.
    """
    if source.format not in ("kobo", "csv"):
        if source.format == "hxl":
            from .hxl import read_hxl_consultations  # a module that imports this one

            return read_hxl_consultations(source, now=now, gazetteer=gazetteer)
        raise InputFileError(source.path, f"unknown consultation format {source.format!r}.")
    now = now if now is not None else today()
    sensitive = sensitive_names(source)
    overrides = {str(k): str(v) for k, v in dict(source.options.get("columns", {})).items()}
    refuse_sensitive(source.path, overrides, sensitive)
    default_modality(source)  # fail early on a wrong option, before reading the file
    raw = read_table(source.path, sheet=source.options.get("sheet"))
    cols = _resolve(raw, overrides, sensitive)
    f = raw.frame
    report = new_report(raw.path, name=source.name, kind="consultations", fmt=source.format,
                        rows_read=len(f))
    note_dropped(report, f.columns, sensitive)
    keep = [c for c in f.columns if not is_sensitive(c, sensitive)]
    f = f[keep]
    lonlat = None
    if cols["lat"] is None or cols["lon"] is None:
        lonlat = _geopoint(f, sensitive)
    topic_q = basename(overrides.get("topics", cols["topics"] or "topics"))
    topics = select_multiple(f, topic_q, cols["topics"])
    return build_consultations(f=f, rows=raw.rows, path=raw.path, cols=cols, source=source,
                               now=now, report=report, gazetteer=gazetteer, topics=topics,
                               lonlat=lonlat)


__all__ = ["DEFAULT_FIELDS", "MODALITY_ALIASES", "build_consultations", "read_consultations"]
