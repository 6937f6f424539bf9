"""Engagement readers: KoBo/ODK exports and plain CSVs into the canonical Consultation table.

Do no harm starts here: only the canonical columns are kept, so names, phone numbers and
free-text notes never leave the reader (see ``schemas.SENSITIVE_CONSULTATION_COLUMNS``).
"""

from __future__ import annotations

import pandas as pd

from ..config import SourceConfig
from ..errors import InputFileError
from ..schemas import CONSULTATION, MODALITIES, SENSITIVE_CONSULTATION_COLUMNS
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

# Candidate names after stripping KoBo group prefixes ("meeting/meeting_date" -> "meeting_date").
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "consultation_id": ("_uuid", "consultation_id", "_id", "instanceid", "id"),
    "date": ("meeting_date", "date", "consultation_date", "today", "start"),
    "lat": ("gps_latitude", "_gps_latitude", "latitude", "lat"),
    "lon": ("gps_longitude", "_gps_longitude", "longitude", "lon", "lng"),
    "admin_pcode": ("admin2", "adm2_pcode", "admin2_pcode", "pcode", "admin_pcode"),
    "modality": ("modality", "engagement_type", "activity_type"),
    "participants_total": ("total", "participants_total", "participants", "attendance"),
    "participants_women": ("women", "participants_women", "female"),
    "participants_youth": ("youth", "participants_youth"),
    "team": ("base", "team", "team_site"),
    "topics": ("topics",),
    "safety_score": ("safety_score", "safety", "trust_score"),
    "commitments_made": ("made", "commitments_made"),
    "follow_up_status": ("follow_up", "follow_up_status"),
}
REQUIRED = ("consultation_id", "date")

_MODALITY_ALIASES = {
    "meeting": "community_meeting", "town_hall": "community_meeting",
    "community meeting": "community_meeting", "survey": "perception_survey",
    "perception survey": "perception_survey", "ewa": "early_warning_alert",
    "alert": "early_warning_alert", "sms": "early_warning_alert",
    "early warning alert": "early_warning_alert", "radio": "radio_outreach",
    "remote": "remote_engagement",
}
_YES = {"yes", "1", "true", "y", "oui"}


def _basename(column: str) -> str:
    """KoBo writes group paths ('grp/sub/field') and geopoint parts ('_grp/gps_latitude')."""
    return column.rsplit("/", 1)[-1].lstrip("_") if "/" in column else column


def _resolve(raw: RawTable, overrides: dict[str, str]) -> dict[str, str | None]:
    cols = list(raw.frame.columns)
    by_base: dict[str, str] = {}
    for c in cols:  # first column wins when two groups share a field name
        by_base.setdefault(_basename(c).lower(), c)
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
    if missing:
        raise missing_columns_error(raw.path, missing, cols,
                                    "Map them in the config: columns = { date = \"...\" }.")
    return found


def read_consultations(source: SourceConfig, *, now: pd.Timestamp | None = None) -> ReadResult:
    """Read an engagement export (KoBo CSV/XLSX or a plain CSV) into the Consultation table.

    Options in the ``[[consultations]]`` entry: ``columns`` (canonical -> source column),
    ``modality`` (a default for files that are all one kind, e.g. an SMS alert log),
    ``sheet`` for XLSX.
    """
    if source.format not in ("kobo", "csv"):
        if source.format == "hxl":
            from .hxl import read_hxl_consultations  # noqa: PLC0415 - optional reader

            return read_hxl_consultations(source, now=now)
        raise InputFileError(source.path, f"unknown consultation format {source.format!r}.")
    now = now if now is not None else today()
    raw = read_table(source.path, sheet=source.options.get("sheet"))
    cols = _resolve(raw, dict(source.options.get("columns", {})))
    f = raw.frame
    report = new_report(raw.path, name=source.name, kind="consultations", fmt=source.format,
                        rows_read=len(f))
    sensitive = {_basename(c).lower() for c in f.columns} & set(SENSITIVE_CONSULTATION_COLUMNS)
    if sensitive:
        report.warnings.append(
            f"personal fields dropped at read time: {', '.join(sorted(sensitive))}")

    date = dates(f, cols["date"])
    lon, lat = numbers(f, cols["lon"]), numbers(f, cols["lat"])
    total = numbers(f, cols["participants_total"])
    women = numbers(f, cols["participants_women"])
    youth = numbers(f, cols["participants_youth"])
    safety = numbers(f, cols["safety_score"])
    default_modality = str(source.options.get("modality", "other"))
    modality = text(f, cols["modality"]).str.lower().replace(_MODALITY_ALIASES)
    modality = modality.mask(modality == "", default_modality)
    pcode = text(f, cols["admin_pcode"])
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
        "topics": text(f, cols["topics"]),
        "safety_score": safety,
        "commitments_made": text(f, cols["commitments_made"]).str.lower().isin(_YES),
        "follow_up_status": text(f, cols["follow_up_status"]).str.lower(),
        "source_file": str(raw.path),
        "source_row": raw.rows,
    })
    c = {k: (v or k) for k, v in cols.items()}
    no_place = (lon.isna() | lat.isna()).to_numpy() & blank(pcode).to_numpy()
    checks = [
        Check(blank(f[cols["consultation_id"]]), c["consultation_id"], "record id is missing"),
        *date_checks(f[cols["date"]], date, column=c["date"], required=True, now=now),
        *coordinate_checks(text(f, cols["lon"]), text(f, cols["lat"]), lon, lat,
                           lon_col=c["lon"], lat_col=c["lat"], required=False),
        Check(no_place & ~unparsed(text(f, cols["lat"]), lat).to_numpy(), c["lat"],
              "no GPS point and no admin P-code: the engagement cannot be placed"),
        Check(~modality.isin(MODALITIES).to_numpy(), c["modality"],
              f"unknown modality; use one of {', '.join(MODALITIES)}"),
        Check(unparsed(text(f, cols["participants_total"]), total).to_numpy() | (total < 0),
              c["participants_total"], "participants must be a whole number >= 0"),
        Check(((women > total) | (youth > total)).to_numpy(), c["participants_women"],
              "more women or youth than participants in total"),
        duplicate_check(frame["consultation_id"], column=c["consultation_id"], what="record id"),
    ]
    accepted, rejects = apply_checks(frame, checks, raw=f)
    # Records without a head count still show that an engagement happened.
    accepted["participants_total"] = accepted["participants_total"].fillna(0).astype("int64")
    for col in ("participants_women", "participants_youth"):
        accepted[col] = accepted[col].astype("Float64").round().astype("Int64")
    stamp_dates(report, accepted["date"])
    return ReadResult(frame=accepted[[*CONSULTATION.names, "source_file", "source_row"]],
                      rejects=rejects, report=report)


__all__ = ["read_consultations"]
