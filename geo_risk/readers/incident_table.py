"""Building the canonical Incident table from a text table: shared by every incident reader.

:mod:`geo_risk.readers.incidents` (ACLED, generic CSV) and :mod:`geo_risk.readers.ucdp` (UCDP
GED) map their columns and call :func:`build_incidents`; neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import SourceConfig
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
    numbers,
    stamp_dates,
    table_report,
    text,
    with_partial,
)
from .tabular import RawTable, blank, unparsed

if TYPE_CHECKING:
    from ..gazetteer import Gazetteer

_TRUE = {"1", "true", "yes", "y", "civilian targeting", "t"}
#: Columns that must agree for two rows with one event id to be the same event.
_SAME_EVENT = ("date", "lon", "lat", "event_type", "fatalities")


def resolve_columns(raw: RawTable, required: Mapping[str, Sequence[str]],
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


def column_overrides(source: SourceConfig) -> dict[str, str]:
    """The source's ``columns`` map, with ``id_column`` naming the event id column."""
    overrides = {str(k): str(v) for k, v in dict(source.options.get("columns", {})).items()}
    if source.options.get("id_column"):
        overrides["event_id"] = str(source.options["id_column"])
    return overrides


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


#: Columns that must agree for two rows without an event id to be the same event.
_SAME_CONTENT = ("date", "lon", "lat", "admin_pcode", "event_type", "sub_event_type", "actor1",
                 "actor2")


def _dedupe_without_id(frame: pd.DataFrame, *, id_col: str) -> tuple[pd.DataFrame,
                                                                       pd.DataFrame]:
    """Rows without an event id: drop repeats of the same content, give the rest a row id.

    The id is used only to tell events apart; a row without one (e.g. Aid Worker Security
    Database rows in a merged ACLED-style file) is kept, and a later row with the same date,
    place, type and actors is counted once (rejected with a reason naming the first row).
    """
    no_id = (frame["event_id"] == "").to_numpy()
    if not no_id.any():
        return frame, empty_rejects()
    part = frame.loc[no_id, list(_SAME_CONTENT)].astype(str)
    key = pd.Series(pd.factorize(pd.MultiIndex.from_frame(part))[0], index=part.index)
    dup = key.duplicated(keep="first")
    first_row = frame.loc[no_id, "source_row"].groupby(key.to_numpy()).transform("first")
    rejects = rejects_for(
        frame.loc[dup.index[dup.to_numpy()]], column=id_col,
        reason=("no event id, and the same date, place, type and actors as row "
                + first_row[dup].astype("int64").astype(str) + ": counted once"),
        value=pd.Series("", index=dup.index[dup.to_numpy()]))
    kept = frame.drop(index=dup.index[dup.to_numpy()])
    fill = (kept["event_id"] == "").to_numpy()
    kept.loc[fill, "event_id"] = ("row:" + kept.loc[fill, "source_row"].astype(str)
                                  + ":" + kept.loc[fill, "source_file"].astype(str))
    return kept, rejects


def _one_row_per_event(accepted: pd.DataFrame, rejects: pd.DataFrame, report: InputReport,
                       *, id_col: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows without an id de-duplicated by content, then repeated ids merged; rejects added."""
    accepted, no_id_rejects = _dedupe_without_id(accepted, id_col=id_col)
    accepted, dup_rejects = _merge_duplicates(accepted, id_col=id_col)
    n_merged = int(dup_rejects["reason"].astype(str).str.contains("monadic").sum())
    if n_merged:
        report.warnings.append(f"{n_merged} monadic row(s) (one row per actor) merged into "
                               "their event; see rejects.csv")
    parts = [r for r in (rejects, no_id_rejects, dup_rejects) if len(r)]
    return accepted, (pd.concat(parts, ignore_index=True) if parts else rejects)


def build_incidents(raw: RawTable, cols: Mapping[str, str | None], source: SourceConfig,
                    now: pd.Timestamp, *, gazetteer: Gazetteer | None = None,
                    derived: Mapping[str, pd.Series] | None = None,
                    extra_checks: Sequence[Check] = (), fmt: str | None = None,
                    report: InputReport | None = None) -> ReadResult:
    """Canonical incidents from a text table whose columns ``cols`` names.

    ``derived`` gives canonical columns already computed by a format-specific reader (UCDP:
    ``end_date``, ``geo_precision``, ``event_type`` ...), overriding the plain mapping.
    Rows without an event id are kept and de-duplicated by content (see
    :func:`_dedupe_without_id`). A ``country`` column, when the file has one, is passed on
    after the canonical columns so rows outside the boundaries can name their country.
    """
    f = raw.frame
    derived = dict(derived or {})
    report = report or table_report(raw, name=source.name, kind="incidents",
                                    fmt=fmt or source.format)
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
        "event_id": text(f, cols.get("event_id")),
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
    if cols.get("country"):
        frame["country"] = text(f, cols["country"])
    c = {k: (v or k) for k, v in cols.items()}
    fat_text = f[cols["fatalities"]] if cols.get("fatalities") else pd.Series("", index=f.index)
    no_place = (~has_point & blank(pcode).to_numpy() & ~unparsed(f[cols["lon"]], lon).to_numpy()
                & ~unparsed(f[cols["lat"]], lat).to_numpy())
    if name_col and gazetteer is not None:  # a name places a row only through the gazetteer
        no_place &= blank(f[name_col]).to_numpy()
    checks: list[Check] = [
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
    accepted, rejects = _one_row_per_event(accepted, rejects, report,
                                           id_col=c.get("event_id", "event_id"))
    accepted = accepted.astype({"geo_precision": "int8", "time_precision": "int8",
                                "fatalities": "int64"})
    stamp_dates(report, accepted["date"])
    extra = ["country"] if "country" in accepted.columns else []
    return ReadResult(frame=accepted[[*INCIDENT.names, "source_file", "source_row", *extra]],
                      rejects=with_partial(rejects, raw), report=report)


__all__ = ["build_incidents", "column_overrides", "resolve_columns"]
