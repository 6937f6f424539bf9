"""Building the canonical Consultation table, and the do-no-harm column rules, shared by the
KoBo/CSV reader (:mod:`geo_risk.readers.consultations`) and the HXL reader
(:mod:`geo_risk.readers.hxl`); neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import ConfigError
from ..schemas import CONSULTATION, MODALITIES, SENSITIVE_CONSULTATION_COLUMNS
from ..validate import Check, apply_checks
from .common import (
    InputReport,
    ReadResult,
    coordinate_checks,
    date_checks,
    dates,
    duplicate_check,
    geocode_names,
    numbers,
    stamp_dates,
    text,
)
from .engagement_fields import engagement_fields
from .tabular import blank, unparsed

if TYPE_CHECKING:
    from ..gazetteer import Gazetteer

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
    trust = numbers(f, cols.get("trust_score"))
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
        "trust_score": trust,
        "commitments_made": text(f, cols["commitments_made"]).str.lower().isin(_YES),
        "follow_up_status": text(f, cols["follow_up_status"]).str.lower(),
        "follow_up_due": pd.to_datetime(text(f, cols.get("follow_up_due")).replace("", None),
                                        errors="coerce"),
        "source_file": str(path),
        "source_row": rows,
    })
    extra, extra_checks = engagement_fields(f, cols, source=source, path=path,
                                            date_column=cols["date"], date=date)
    for name, values in extra.items():
        frame[name] = values.to_numpy()
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
        Check(((trust < 1) | (trust > 5)).to_numpy()
              | unparsed(text(f, cols.get("trust_score")), trust).to_numpy(),
              c.get("trust_score", "trust_score"),
              "trust score must be a number from 1 (low) to 5 (high)"),
        duplicate_check(frame["consultation_id"], column=c["consultation_id"], what="record id"),
        *extra_checks,
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


__all__ = ["MODALITY_ALIASES", "basename", "build_consultations", "default_modality",
           "is_sensitive", "note_dropped", "refuse_sensitive", "select_multiple",
           "sensitive_names"]
