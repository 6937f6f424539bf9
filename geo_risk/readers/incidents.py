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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import InputFileError
from ..schemas import GEO_PRECISION_ADMIN, INCIDENT
from ..validate import Check, apply_checks, empty_rejects, rejects_for
from .common import (
    InputReport,
    ReadResult,
    coordinate_checks,
    date_checks,
    dates,
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
}

_TRUE = {"1", "true", "yes", "y", "civilian targeting", "t"}
#: Columns that must agree for two rows with one event id to be the same event.
_SAME_EVENT = ("date", "lon", "lat", "event_type", "fatalities")


def _resolve(raw: RawTable, required: Mapping[str, Sequence[str]],
             optional: Mapping[str, Sequence[str]], overrides: Mapping[str, str],
             hint: str) -> dict[str, str | None]:
    cols = list(raw.frame.columns)
    found: dict[str, str | None] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for canonical, cands in {**required, **optional}.items():
        if canonical in overrides:
            name = find_column(cols, (overrides[canonical],))
            if name is None:
                missing[canonical] = (overrides[canonical],)
        else:
            name = find_column(cols, cands)
            if name is None and canonical in required:
                missing[canonical] = tuple(cands)
        found[canonical] = name
    if missing:
        raise missing_columns_error(raw.path, missing, cols, hint)
    return found


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality where two missing values count as equal."""
    return ((a == b) | (a.isna() & b.isna())).to_numpy(dtype=bool)


def _merge_duplicates(frame: pd.DataFrame, *, id_col: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row of each event id; later rows become rejects naming that row.

    A later row describing the same event (same day, place, type and fatalities) is a monadic
    repeat or an exact copy: its actors are added to the first row's ``actor2`` so no actor is
    lost. A later row that disagrees is a conflicting id; the first row is kept as it was.
    """
    ids = frame["event_id"]
    dup = ids.duplicated(keep="first").to_numpy()
    if not dup.any():
        return frame, empty_rejects()
    g = frame.groupby("event_id", sort=False)
    first = {c: g[c].transform("first") for c in (*_SAME_EVENT, "actor1", "actor2",
                                                  "source_row")}
    same_event = np.ones(len(frame), dtype=bool)
    for c in _SAME_EVENT:
        same_event &= _same(frame[c], first[c])
    same_actors = _same(frame["actor1"], first["actor1"]) & _same(frame["actor2"],
                                                                  first["actor2"])
    monadic = dup & same_event & ~same_actors
    identical = dup & same_event & same_actors
    conflict = dup & ~same_event
    first_row = first["source_row"].astype("int64").astype(str)
    reason = pd.Series("", index=frame.index, dtype=object)
    reason[monadic] = ("duplicate event id: monadic export (one row per actor); merged into row "
                       + first_row[monadic] + ", actor '" + frame.loc[monadic, "actor1"]
                       + "' added to that event's actors")
    reason[identical] = ("duplicate event id: an exact repeat of row " + first_row[identical]
                         + "; counted once")
    reason[conflict] = ("duplicate event id with a different date, place, type or fatalities "
                        "than row " + first_row[conflict] + "; the first row was kept. Check "
                        "the export")
    rejects = rejects_for(frame.loc[dup], column=id_col, reason=reason[dup],
                          value=frame.loc[dup, "event_id"])

    # Actors of every row of the same event, in order, without repeats, minus actor1.
    same_rows = ~dup | monadic | identical
    merged_ids = ids[monadic].unique()
    kept = frame.loc[~dup].copy()
    if len(merged_ids):
        part = frame.loc[same_rows & ids.isin(merged_ids).to_numpy(),
                         ["event_id", "actor1", "actor2"]]
        long = part.melt(id_vars="event_id", value_name="actor", ignore_index=False)
        long = long.sort_index(kind="stable")
        long = long.loc[long["actor"].astype(str).str.strip() != ""]
        long = long.drop_duplicates(["event_id", "actor"])
        lead = kept.set_index("event_id")["actor1"]
        long = long.loc[long["actor"].to_numpy() != long["event_id"].map(lead).to_numpy()]
        if long.empty:
            return kept, rejects
        # Join each event's actors without a Python call per event: one column per position.
        long = long.assign(k=long.groupby("event_id", sort=False).cumcount())
        wide = long.pivot(index="event_id", columns="k", values="actor")
        others = wide[0].astype(str)
        for k in wide.columns[1:]:
            nxt = wide[k]
            others = others.where(nxt.isna(), others + "; " + nxt.astype(str))
        hit = kept["event_id"].isin(others.index).to_numpy()
        kept.loc[hit, "actor2"] = kept.loc[hit, "event_id"].map(others).to_numpy()
    return kept, rejects


def build_incidents(raw: RawTable, cols: Mapping[str, str | None], source: SourceConfig,
                    now: pd.Timestamp, *, gazetteer: Gazetteer | None = None,
                    derived: Mapping[str, pd.Series] | None = None,
                    extra_checks: Sequence[Check] = (), fmt: str | None = None,
                    report: InputReport | None = None) -> ReadResult:
    """Canonical incidents from a text table whose columns ``cols`` names.

    ``derived`` gives canonical columns already computed by a format-specific reader (UCDP:
    ``end_date``, ``geo_precision``, ``event_type`` ...), overriding the plain mapping.
    """
    f = raw.frame
    derived = dict(derived or {})
    report = report or new_report(raw.path, name=source.name, kind="incidents",
                                  fmt=fmt or source.format, rows_read=len(f))
    date = dates(f, cols["date"])
    end = derived.get("end_date", date)
    lon, lat = numbers(f, cols["lon"]), numbers(f, cols["lat"])
    fat = derived.get("fatalities", numbers(f, cols["fatalities"]))
    geo = derived.get("geo_precision", numbers(f, cols.get("geo_precision")))
    tprec = derived.get("time_precision", numbers(f, cols.get("time_precision")))
    event_type = derived.get("event_type", text(f, cols["event_type"]))
    if "civilian_targeting" in derived:
        civilian = derived["civilian_targeting"]
    elif cols.get("civilian_targeting"):
        civilian = text(f, cols.get("civilian_targeting")).str.lower().isin(_TRUE)
    else:
        # Older ACLED exports have no civilian_targeting column: violence against civilians,
        # or civilians as the second actor (inter code 7, or "Civilians" in newer text codes).
        inter2 = text(f, cols.get("inter2")).str.lower()
        civilian = event_type.str.lower().eq("violence against civilians") | inter2.isin(
            {"7", "civilians"})
    has_point = (lon.notna() & lat.notna()).to_numpy()
    name_col = cols.get("admin_name")
    pcode, name_checks = geocode_names(
        pcode=text(f, cols.get("admin_pcode")),
        names=text(f, name_col) if name_col else None,
        parents=text(f, cols.get("admin_parent")) if cols.get("admin_parent") else None,
        gazetteer=gazetteer, has_point=has_point, column=name_col or "admin_name",
        imprecise=(geo >= 3).to_numpy(), report=report)
    # Without a point the row is known only to its admin unit: admin precision, off the grid.
    geo_filled = geo.fillna(1).where(has_point, float(GEO_PRECISION_ADMIN))
    frame = pd.DataFrame({
        "event_id": text(f, cols["event_id"]),
        "date": date,
        "end_date": end,
        "lon": lon,
        "lat": lat,
        "geo_precision": geo_filled,
        "time_precision": tprec.fillna(1),
        "event_type": event_type,
        "sub_event_type": text(f, cols.get("sub_event_type")),
        "actor1": text(f, cols.get("actor1")),
        "actor2": text(f, cols.get("actor2")),
        "fatalities": fat.fillna(0),
        "civilian_targeting": np.asarray(civilian, dtype=bool),
        "admin_pcode": pcode,
        "source": text(f, cols.get("source")),
        "notes": text(f, cols.get("notes")),
        "source_file": str(raw.path),
        "source_row": raw.rows,
    })
    c = {k: (v or k) for k, v in cols.items()}
    fat_text = f[cols["fatalities"]] if cols.get("fatalities") else pd.Series("", index=f.index)
    no_place = (~has_point & blank(pcode).to_numpy() & ~unparsed(f[cols["lon"]], lon).to_numpy()
                & ~unparsed(f[cols["lat"]], lat).to_numpy())
    if name_col and gazetteer is not None:  # a name places a row only through the gazetteer
        no_place &= blank(f[name_col]).to_numpy()
    checks: list[Check] = [
        Check(blank(f[cols["event_id"]]), c["event_id"], "event id is missing"),
        *date_checks(f[cols["date"]], date, column=c["date"], required=True, now=now),
        *coordinate_checks(f[cols["lon"]], f[cols["lat"]], lon, lat, lon_col=c["lon"],
                           lat_col=c["lat"], required=False),
        Check(unparsed(fat_text, fat).to_numpy() | (fat < 0).to_numpy()
              | (fat % 1 > 0).to_numpy(), c["fatalities"],
              "fatalities must be a whole number >= 0"),
        Check(blank(event_type).to_numpy(), c["event_type"], "event type is missing"),
        Check(~geo.isna().to_numpy() & ~geo.isin([1, 2, 3]).to_numpy(), c["geo_precision"],
              "geo_precision must be 1, 2 or 3"),
        Check(~tprec.isna().to_numpy() & ~tprec.isin([1, 2, 3]).to_numpy(), c["time_precision"],
              "time_precision must be 1, 2 or 3"),
        Check((end < date).fillna(False).to_numpy(), c.get("end_date", "end_date"),
              "end date is before start date"),
        # Without coordinates a row is usable only through its admin P-code or name.
        Check(no_place, c["lat"], "no coordinates, no admin P-code and no admin name: the "
              "event cannot be placed"),
        *name_checks,
        *extra_checks,
    ]
    accepted, rejects = apply_checks(frame, checks, raw=f)
    accepted, dup_rejects = _merge_duplicates(accepted, id_col=c["event_id"])
    if len(dup_rejects):
        n_merged = int(dup_rejects["reason"].str.contains("monadic").sum())
        if n_merged:
            report.warnings.append(f"{n_merged} monadic row(s) (one row per actor) merged into "
                                   "their event; see rejects.csv")
        rejects = pd.concat([rejects, dup_rejects], ignore_index=True) if len(rejects) \
            else dup_rejects
    accepted = accepted.astype({"geo_precision": "int8", "time_precision": "int8",
                                "fatalities": "int64"})
    stamp_dates(report, accepted["date"])
    return ReadResult(frame=accepted[[*INCIDENT.names, "source_file", "source_row"]],
                      rejects=rejects, report=report)


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
    raw = read_table(source.path, sheet=source.options.get("sheet"))
    raw.frame.columns = [c.lower() for c in raw.frame.columns]
    optional = dict(ACLED_OPTIONAL)
    if gazetteer is not None:
        optional.update(_admin_columns(gazetteer.level))
    cols = _resolve(raw, ACLED_REQUIRED, optional, dict(source.options.get("columns", {})),
                    "Is this an ACLED export? Otherwise use format = \"csv\" with a [columns] map.")
    return build_incidents(raw, cols, source, now if now is not None else today(),
                           gazetteer=gazetteer)


def read_incident_csv(source: SourceConfig, *, now: pd.Timestamp | None = None,
                      gazetteer: Gazetteer | None = None) -> ReadResult:
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
        from .ucdp import read_ucdp  # a module that imports this one

        return read_ucdp(source, now=now, gazetteer=gazetteer)
    raise InputFileError(source.path, f"unknown incident format {source.format!r}.")


__all__ = ["build_incidents", "read_acled", "read_incident_csv", "read_incidents"]
