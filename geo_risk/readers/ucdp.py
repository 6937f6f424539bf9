"""UCDP Georeferenced Event Dataset (GED) reader: CSV or GeoJSON release into Incidents.

Mapping onto the canonical Incident table:

* ``id`` -> ``event_id``; ``date_start`` / ``date_end`` -> ``date`` / ``end_date`` (events that
  span several days keep both); ``best`` -> ``fatalities``. ``low``/``high`` are only checked:
  published GED has rows with ``low > best`` or ``best > high``; they are kept (``best`` is the
  estimate used) and counted in one warning with their first row numbers, not rejected;
  ``side_a`` / ``side_b`` -> ``actor1`` / ``actor2``; ``source_office`` -> ``source``;
  ``where_description`` -> ``notes``; ``adm_2`` (or ``adm_1``) -> the admin name for the gazetteer.
* ``type_of_violence`` 1/2/3 -> ``event_type`` "State-based conflict" / "Non-state conflict" /
  "One-sided violence"; ``civilian_targeting`` is True for one-sided violence (3).
* ``where_prec`` (1..7) onto ``geo_precision`` (1..3): 1 exact place -> 1; 2 within about 25 km
  of a place -> 2; 3 second-order admin unit (ADM2 centroid) -> 3; 4 first-order admin unit,
  5 a part of a country larger than an ADM1, 6 the whole country, 7 international waters or
  airspace -> 3 as well, but such rows say nothing about which admin-2 unit was hit, so rows
  with ``where_prec`` above ``max_where_prec`` (option; default 3 for admin-2 boundaries, 4 for
  admin-1) are rejected with that reason instead of being pinned to a centroid.
* ``date_prec`` (1..5) onto ``time_precision`` (1..3): 1 exact day -> 1; 2 within 2-6 days and
  3 within a week -> 2; 4 within a month and 5 within a year -> 3.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..validate import Check
from .common import ReadResult, dates, numbers, table_report, text, today
from .incident_table import build_incidents, column_overrides, resolve_columns
from .spatial import _read_vector, to_wgs84
from .tabular import RawTable, read_table, unparsed

if TYPE_CHECKING:
    from ..gazetteer import Gazetteer

VIOLENCE_TYPES = {"1": "State-based conflict", "2": "Non-state conflict",
                  "3": "One-sided violence"}
WHERE_PREC_TO_GEO = {1: 1, 2: 2, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3}
DATE_PREC_TO_TIME = {1: 1, 2: 2, 3: 2, 4: 3, 5: 3}

UCDP_REQUIRED: dict[str, tuple[str, ...]] = {
    "event_id": ("id",),
    "date": ("date_start",),
    "type_of_violence": ("type_of_violence",),
    "best": ("best",),
}
UCDP_OPTIONAL: dict[str, tuple[str, ...]] = {
    "end_date": ("date_end",),
    "lat": ("latitude",),
    "lon": ("longitude",),
    "where_prec": ("where_prec",),
    "date_prec": ("date_prec",),
    "low": ("low",),
    "high": ("high",),
    "actor1": ("side_a",),
    "actor2": ("side_b",),
    "source": ("source_office",),
    "notes": ("where_description",),
    "admin_name": ("adm_2",),
    "admin_parent": ("adm_1",),
    "country": ("country",),
}
_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb")


def _read_geojson(source: SourceConfig) -> RawTable:
    """GeoJSON release: feature properties as text, coordinates from the point if missing."""
    gdf = to_wgs84(_read_vector(source.path, source.options.get("layer")), source.path)
    props = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).astype(object)
    props = props.where(props.notna(), "").astype(str)
    pts = gdf.geometry.reset_index(drop=True)
    is_point = (pts.geom_type == "Point").to_numpy()
    x = np.where(is_point, pts.x.where(is_point), np.nan) if len(pts) else np.array([])
    y = np.where(is_point, pts.y.where(is_point), np.nan) if len(pts) else np.array([])
    lower = {c.lower(): c for c in props.columns}
    for col, values in (("longitude", x), ("latitude", y)):
        shown = pd.Series(values).map(lambda v: "" if np.isnan(v) else repr(float(v)))
        if col not in lower:
            props[col] = shown.to_numpy()
        else:
            own = props[lower[col]]
            props[lower[col]] = own.where(own.str.strip() != "", shown.to_numpy())
    return RawTable(path=source.path, frame=props.reset_index(drop=True),
                    rows=np.arange(len(props)) + 1, encoding="geojson", delimiter="")


def read_ucdp(source: SourceConfig, *, now: pd.Timestamp | None = None,
              gazetteer: Gazetteer | None = None) -> ReadResult:
    """Read a UCDP GED release (CSV/XLSX, or GeoJSON with the same properties).

    Parameters
    ----------
    source
        The ``[[incidents]]`` entry (``format = "ucdp"``). Options: ``columns`` (canonical or
        UCDP name -> column), ``max_where_prec`` (see the module notes).
    now
        Dates after this day are rejected as future dates (default: today).
    gazetteer
        Admin names of the boundaries, to place rows without coordinates by ``adm_2``.

    Notes
    -----
    Row numbers of a GeoJSON file are feature numbers (1 = first feature).
    """
    now = now if now is not None else today()
    if source.path.suffix.lower() in _VECTOR_SUFFIXES:
        raw = _read_geojson(source)
    else:
        raw = read_table(source.path, sheet=source.options.get("sheet"),
                         encoding=source.options.get("encoding"))
    raw.frame.columns = [str(c).lower() for c in raw.frame.columns]
    optional = dict(UCDP_OPTIONAL)
    level = gazetteer.level if gazetteer is not None else 2
    if level == 1:
        optional.update(admin_name=("adm_1",), admin_parent=("__none__",))
    cols = resolve_columns(raw, UCDP_REQUIRED, optional, column_overrides(source),
                    "Is this a UCDP GED file? Its columns include id, date_start, "
                    "type_of_violence and best.")
    f = raw.frame
    c = {k: (v or k) for k, v in cols.items()}
    for k in ("lat", "lon"):
        if cols[k] is None:  # a GED extract without coordinates: admin names only
            f = f.assign(**{f"__{k}": ""})
            cols[k] = f"__{k}"
    raw = replace(raw, frame=f)

    tov_text = text(f, cols["type_of_violence"]).str.replace(r"\.0$", "", regex=True)
    where = numbers(f, cols["where_prec"])
    date_prec = numbers(f, cols["date_prec"])
    best, low, high = numbers(f, cols["best"]), numbers(f, cols["low"]), numbers(f, cols["high"])
    max_where = int(source.options.get("max_where_prec", 4 if level == 1 else 3))
    start = dates(f, cols["date"])
    end = dates(f, cols["end_date"]).fillna(start)
    derived: dict[str, pd.Series] = {
        "end_date": end,
        "event_type": tov_text.map(VIOLENCE_TYPES).fillna(""),
        "civilian_targeting": tov_text == "3",
        "geo_precision": where.map(WHERE_PREC_TO_GEO),
        "time_precision": date_prec.map(DATE_PREC_TO_TIME),
        "fatalities": best,
    }
    tov_raw = text(f, cols["type_of_violence"])
    checks = [
        Check((~tov_text.isin(list(VIOLENCE_TYPES)) & (tov_raw != "")).to_numpy(),
              c["type_of_violence"], "type_of_violence must be 1, 2 or 3"),
        Check((tov_raw == "").to_numpy(), c["type_of_violence"], "type_of_violence is missing"),
        Check((where.notna() & ~where.isin(list(WHERE_PREC_TO_GEO))).to_numpy()
              | unparsed(text(f, cols["where_prec"]), where).to_numpy(), c["where_prec"],
              "where_prec must be a whole number from 1 to 7"),
        Check((where.isin(list(WHERE_PREC_TO_GEO)) & (where > max_where)).to_numpy(),
              c["where_prec"], f"location known only to a province, region or country "
              f"(where_prec above {max_where}); it cannot be given to one admin unit "
              "(raise max_where_prec to accept it)"),
        Check((date_prec.notna() & ~date_prec.isin(list(DATE_PREC_TO_TIME))).to_numpy()
              | unparsed(text(f, cols["date_prec"]), date_prec).to_numpy(), c["date_prec"],
              "date_prec must be a whole number from 1 to 5"),
        Check(unparsed(text(f, cols["end_date"]), dates(f, cols["end_date"])).to_numpy(),
              c["end_date"], "date_end not understood; use YYYY-MM-DD"),
    ]
    report = table_report(raw, name=source.name, kind="incidents", fmt=source.format)
    disorder = ((low > best) | (best > high)).fillna(False).to_numpy()
    if disorder.any():
        first = ", ".join(str(r) for r in raw.rows[disorder][:5])
        report.warnings.append(
            f"{int(disorder.sum())} row(s) have deaths estimates out of order (low > best or "
            f"best > high; first rows {first}); kept with 'best' as the fatalities count "
            "(published GED has such rows; check the file if it was edited by hand)")
    cols = {**cols, "fatalities": cols["best"], "event_type": cols["type_of_violence"],
            "geo_precision": cols["where_prec"], "time_precision": cols["date_prec"]}
    return build_incidents(raw, cols, source, now, gazetteer=gazetteer, derived=derived,
                           extra_checks=checks, report=report)


__all__ = ["DATE_PREC_TO_TIME", "VIOLENCE_TYPES", "WHERE_PREC_TO_GEO", "read_ucdp"]
