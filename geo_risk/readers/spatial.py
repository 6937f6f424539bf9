"""Readers for spatial inputs: admin boundaries, access restrictions, bases, population."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..config import BoundariesConfig, SourceConfig
from ..errors import InputFileError, MissingInputError
from ..gazetteer import Gazetteer
from ..index import local_utm
from ..schemas import ACCESS_RESTRICTION, ADMIN_UNIT, SEVERITIES
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
    new_report,
    numbers,
    stamp_dates,
    table_report,
    text,
    today,
    with_partial,
)
from .tabular import blank, read_table, unparsed

WGS84 = "EPSG:4326"


def _read_vector(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise MissingInputError(path, "file not found. Check the path in the config.")
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except Exception as e:  # pyogrio raises DataSourceError and friends
        raise InputFileError(path, f"not a vector file GDAL can open ({e}).") from None
    if layer is not None and layer not in layers:
        raise InputFileError(path, f"has no layer {layer!r}; its layers are {layers}. "
                             "Set 'layer' in the config.")
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as e:
        raise InputFileError(path, f"cannot read ({e}).") from None
    if gdf.empty:
        raise InputFileError(path, "has no features.")
    return gdf


def to_wgs84(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Reproject to WGS 84, refusing files with no CRS unless they look like degrees, and
    files whose CRS says degrees while the coordinates are metres (a wrong .prj)."""
    minx, miny, maxx, maxy = gdf.total_bounds
    in_degrees = bool(-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90)
    if gdf.crs is None:
        if in_degrees:
            return gdf.set_crs(WGS84)
        raise InputFileError(path, "has no coordinate reference system and its coordinates "
                             "are not degrees. Save it with its CRS (e.g. a .prj file).")
    if gdf.crs.is_geographic and not in_degrees and np.isfinite([minx, maxx]).all():
        raise InputFileError(path, f"says its CRS is {gdf.crs.name} (degrees) but its "
                             f"coordinates reach {minx:.0f}..{maxx:.0f}, {miny:.0f}..{maxy:.0f}: "
                             "they are projected (metres). Set the right CRS (e.g. the UTM zone)"
                             " on the file, then run again.")
    if gdf.crs.to_epsg() != 4326:
        return gdf.to_crs(WGS84)
    return gdf


def suggest_columns(columns: list[str], wanted: str) -> list[str]:
    """Columns that could be the P-code or name column the user meant, best first.

    A P-code column is suggested for a P-code key and a name column for a name key; columns
    of the same admin level as the one asked for ("ADM2_PCODE" -> "admin2Pcod") come first.
    """
    def is_code(name: str) -> bool:
        low = name.lower()
        return "pcod" in low or "code" in low

    level = re.search(r"\d", wanted)
    want_code = is_code(wanted)

    def score(c: str) -> float:
        s = difflib.SequenceMatcher(None, wanted.lower(), c.lower()).ratio()
        return s + (0.5 if level and level.group() in c else 0.0)

    keys = ("adm", "admin", "pcod", "code", "name", "_en", "_fr", "_pt", "_es")
    pool = [c for c in columns if is_code(c) == want_code
            and (any(k in c.lower() for k in keys) or score(c) > 0.6)]
    return sorted(pool, key=score, reverse=True)[:4]


def _name_columns(columns: list[str], cfg: BoundariesConfig) -> tuple[list[str], str | None]:
    """Alternative-name columns of the unit and the parent's name column.

    COD-AB releases name them ADM2_EN/ADM2_FR/ADM2_PT, ADM2ALT1EN, ADM2_REF (newer) or
    admin2Name/admin2RefN/admin2AltN (older); the config can name them instead.
    """
    level = cfg.level

    def names_of(lv: int) -> list[str]:
        pat = re.compile(rf"^(adm|admin){lv}(_?[a-z]{{2}}|alt\d?[a-z]{{0,2}}|_?ref\w*|name\w*"
                         rf"|_?name|altn\w*)$", re.IGNORECASE)
        return [c for c in columns if pat.match(c) and "pcod" not in c.lower()
                and "code" not in c.lower()]

    if cfg.alt_name_columns is not None:
        alt = [c for c in cfg.alt_name_columns if c in columns]
    else:
        alt = [c for c in names_of(level) if c != cfg.name_column]
    if cfg.parent_name_column is not None:
        parent = cfg.parent_name_column if cfg.parent_name_column in columns else None
    else:
        candidates = names_of(level - 1) if level > 1 else []
        parent = candidates[0] if candidates else None
    return alt, parent


def read_boundaries(cfg: BoundariesConfig) -> gpd.GeoDataFrame:
    """Read admin boundaries (COD-AB or any vector file) into the canonical AdminUnit table.

    Invalid polygons are repaired, parts sharing a P-code are merged, and the result is in
    WGS 84. A wrong column name raises an error that lists the likely right ones.

    The unit's other names (other languages, alternative spellings) and its parent's name go to
    ``attrs["alt_names"]`` ({P-code: [names]}) and ``attrs["parent_names"]`` ({P-code: name})
    for the gazetteer (:class:`geo_risk.gazetteer.Gazetteer`).
    """
    gdf = _read_vector(cfg.path, cfg.layer)
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    problems = []
    for key, name in (("pcode_column", cfg.pcode_column), ("name_column", cfg.name_column),
                      ("parent_pcode_column", cfg.parent_pcode_column),
                      ("parent_name_column", cfg.parent_name_column),
                      *(("alt_name_columns", a) for a in cfg.alt_name_columns or ())):
        if name is not None and name not in gdf.columns:
            options = suggest_columns(cols, name)
            problems.append(f"[boundaries] {key} = {name!r} is not a column"
                            + (f"; did you mean {' or '.join(repr(o) for o in options)}?"
                               if options else f"; columns are {cols}."))
    if problems:
        raise InputFileError(cfg.path, " ".join(problems))
    gdf = to_wgs84(gdf, cfg.path)
    geom = gdf.geometry
    polygonal = geom.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.all():
        raise InputFileError(cfg.path, "boundaries must be polygons; found "
                             f"{sorted(set(geom.geom_type[~polygonal]))}.")
    geom = geom.where(geom.is_valid, shapely.make_valid(geom.to_numpy()))
    pcode = gdf[cfg.pcode_column].astype(str).str.strip()
    if (pcode == "").any() or gdf[cfg.pcode_column].isna().any():
        raise InputFileError(cfg.path, f"column {cfg.pcode_column!r} has empty P-codes.")
    out = gpd.GeoDataFrame({
        "admin_pcode": pcode,
        "admin_name": gdf[cfg.name_column].astype(str).str.strip(),
        "admin_level": cfg.level,
        "parent_pcode": (gdf[cfg.parent_pcode_column].astype(str) if cfg.parent_pcode_column
                         else pd.Series(None, index=gdf.index, dtype=object)),
    }, geometry=geom.to_numpy(), crs=WGS84)
    if out["admin_pcode"].duplicated().any():
        # Multipart units exported one part per row: merge them.
        out = out.dissolve(by="admin_pcode", as_index=False, aggfunc="first")
    out["geometry"] = shapely.make_valid(out.geometry.to_numpy())
    # make_valid can return collections with stray lines/points: keep the polygonal parts.
    out["geometry"] = _polygonal(out.geometry)
    out = out[ADMIN_UNIT.names].sort_values("admin_pcode").reset_index(drop=True)
    alt_cols, parent_col = _name_columns(cols, cfg)
    if alt_cols:
        alt = pd.DataFrame({"admin_pcode": np.tile(pcode.to_numpy(), len(alt_cols)),
                            "name": np.concatenate([gdf[c].astype(object).to_numpy()
                                                    for c in alt_cols])})
        alt = alt.loc[alt["name"].notna() & (alt["name"].astype(str).str.strip() != "")]
        alt = alt.assign(name=alt["name"].astype(str).str.strip()).drop_duplicates()
        out.attrs["alt_names"] = alt.groupby("admin_pcode")["name"].agg(list).to_dict()
    if parent_col:
        parents = pd.Series(gdf[parent_col].astype(str).str.strip().to_numpy(),
                            index=pcode.to_numpy())
        out.attrs["parent_names"] = parents[~parents.index.duplicated()].to_dict()
    return out


def _polygonal(geom: gpd.GeoSeries) -> np.ndarray:
    """Polygonal part of each geometry (GeometryCollections from repairs lose lines/points)."""
    arr = geom.to_numpy()
    mixed = shapely.get_type_id(arr) == 7  # GeometryCollection
    if mixed.any():
        parts, idx = shapely.get_parts(arr[mixed], return_index=True)
        keep = np.isin(shapely.get_type_id(parts), [3, 6])
        merged = pd.Series(list(parts[keep])).groupby(idx[keep]).agg(
            lambda g: shapely.union_all(np.asarray(list(g), dtype=object)))
        fixed = arr[mixed].copy()
        fixed[merged.index.to_numpy()] = merged.to_numpy()
        arr = arr.copy()
        arr[mixed] = fixed
    return arr


def _metric_buffer(gdf: gpd.GeoDataFrame, km: pd.Series) -> gpd.GeoSeries:
    """Buffer each geometry by its own distance in km, in a local metric projection."""
    crs = local_utm(gdf)
    projected = gdf.geometry.to_crs(crs)
    return projected.buffer(km.to_numpy() * 1000.0).to_crs(WGS84)


def read_restrictions(source: SourceConfig, *, admin: gpd.GeoDataFrame | None = None,
                      now: pd.Timestamp | None = None,
                      gazetteer: Gazetteer | None = None) -> ReadResult:
    """Read access restrictions (GeoJSON/GeoPackage/Shapefile, or CSV with point+radius or
    P-code) into canonical polygons.

    Points are buffered by ``radius_km`` (default option ``default_radius_km``, 5 km), lines
    by ``buffer_km`` (default 1 km). A CSV row with only an ``admin_pcode`` takes the unit's
    polygon, and so does a row with only an admin name (``admin_name``, ``county``, ...),
    matched through the gazetteer. ``end_date`` empty means still in force.
    """
    now = now if now is not None else today()
    path = source.path
    is_table = path.suffix.lower() in (".csv", ".tsv", ".txt", ".xlsx")
    if is_table:
        raw = read_table(path, sheet=source.options.get("sheet"),
                         encoding=source.options.get("encoding"))
        f = raw.frame
        rows = raw.rows
        lon_c = find_column(f.columns, ("lon", "longitude", "lng"))
        lat_c = find_column(f.columns, ("lat", "latitude"))
        lon, lat = numbers(f, lon_c), numbers(f, lat_c)
        # points_from_xy makes POINT (nan nan) from missing coordinates: no geometry instead.
        has_xy = (lon.notna() & lat.notna()).to_numpy()
        geometry = gpd.GeoSeries(np.where(has_xy, gpd.points_from_xy(lon, lat), None),
                                 crs=WGS84)
    else:
        gdf = to_wgs84(_read_vector(path, source.options.get("layer")), path)
        f = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).astype(object)
        f = f.where(f.notna(), "").astype(str)
        rows = np.arange(len(f)) + 1  # feature number
        geometry = gdf.geometry.reset_index(drop=True)
        lon_c = lat_c = None
    if is_table:
        report = table_report(raw, name=source.name, kind="access_restrictions",
                              fmt=source.format)
    else:
        report = new_report(path, name=source.name, kind="access_restrictions",
                            fmt=source.format, rows_read=len(f))
    names = {
        "restriction_id": ("restriction_id", "id", "incident_id"),
        "start_date": ("start_date", "start", "date_start", "from"),
        "end_date": ("end_date", "end", "date_end", "to"),
        "cause": ("cause", "reason", "type"),
        "severity": ("severity", "level"),
    }
    cols = {k: find_column(f.columns, v) for k, v in names.items()}
    missing = {k: names[k] for k in ("restriction_id", "start_date") if cols[k] is None}
    if missing:
        raise missing_columns_error(path, missing, list(f.columns),
                                    "Restrictions need an id and a start date.")
    start, end = dates(f, cols["start_date"]), dates(f, cols["end_date"])
    sev_text = text(f, cols["severity"]).str.lower()
    severity = sev_text.map(SEVERITIES).astype(float)
    severity = severity.fillna(pd.to_numeric(sev_text, errors="coerce"))
    severity = severity.where(sev_text != "", 2.0)
    radius = numbers(f, find_column(f.columns, ("radius_km",)))
    radius = radius.fillna(float(source.options.get("default_radius_km", 5.0)))
    line_buffer = numbers(f, find_column(f.columns, ("buffer_km",)))
    line_buffer = line_buffer.fillna(float(source.options.get("default_buffer_km", 1.0)))
    pcode = text(f, find_column(f.columns, ("admin_pcode", "pcode", "adm2_pcode")))
    name_col = find_column(f.columns, ("admin_name", "admin2", "adm2_name", "county",
                                       "territoire", "district"))

    geometry = geometry.reset_index(drop=True)
    gtype = geometry.geom_type.fillna("")
    empty_geom = geometry.isna() | geometry.is_empty
    name_checks: list[Check] = []
    if admin is not None:
        pcode, name_checks = geocode_names(
            pcode=pcode, names=text(f, name_col) if name_col else None,
            gazetteer=gazetteer or Gazetteer.from_admin(admin),
            has_point=~empty_geom.to_numpy(),
            column=name_col or "admin_name", report=report)
        pcode = pd.Series(pcode.to_numpy(), index=f.index)
    if admin is not None and (pcode != "").any():
        by_pcode = admin.set_index("admin_pcode").geometry
        from_admin = empty_geom.to_numpy() & (pcode != "").to_numpy() & pcode.isin(
            by_pcode.index).to_numpy()
        geometry = geometry.copy()
        geometry[from_admin] = by_pcode.reindex(pcode[from_admin]).to_numpy()
        gtype = geometry.geom_type.fillna("")
        empty_geom = geometry.isna() | geometry.is_empty
    dist = np.where(gtype.str.contains("Point"), radius,
                    np.where(gtype.str.contains("LineString"), line_buffer, 0.0))
    valid_geom = ~empty_geom.to_numpy()
    buffered = geometry.copy()
    needs = valid_geom & (dist > 0)
    if needs.any():
        sub = gpd.GeoDataFrame(geometry=geometry[needs], crs=WGS84)
        buffered[needs] = _metric_buffer(sub, pd.Series(dist[needs])).to_numpy()
    poly = buffered.where(~valid_geom | buffered.is_valid,
                          gpd.GeoSeries(shapely.make_valid(buffered.to_numpy()), crs=WGS84))
    frame = pd.DataFrame({
        "restriction_id": text(f, cols["restriction_id"]).to_numpy(),
        "start_date": start.to_numpy(),
        "end_date": end.to_numpy(),
        "cause": text(f, cols["cause"]).replace("", "unspecified").to_numpy(),
        "severity": severity.to_numpy(),
        "source_file": str(path),
        "source_row": rows,
    })
    frame["geometry"] = poly.to_numpy()
    id_col = cols["restriction_id"] or "restriction_id"
    checks = [
        Check(blank(frame["restriction_id"]).to_numpy(), id_col, "restriction id is missing"),
        *date_checks(pd.Series(text(f, cols["start_date"]).to_numpy()),
                     pd.Series(start.to_numpy()), column=cols["start_date"] or "start_date",
                     required=True, now=now),
        Check(unparsed(text(f, cols["end_date"]), end).to_numpy(),
              cols["end_date"] or "end_date", "end date not understood; use YYYY-MM-DD or "
              "leave it empty while the restriction is in force"),
        Check((end < start).to_numpy(), cols["end_date"] or "end_date",
              "end date is before start date"),
        Check(~np.isin(frame["severity"].to_numpy(), [1, 2, 3]), cols["severity"] or "severity",
              "severity must be low/medium/high or 1-3"),
        *name_checks,
        Check(~valid_geom, "geometry", "no geometry: give a polygon, a line, a point with "
              "radius_km, or an admin_pcode that is in the boundaries"),
        duplicate_check(pd.Series(frame["restriction_id"]), column=id_col, what="restriction id"),
    ]
    if is_table and lon_c is not None and lat_c is not None:
        checks += coordinate_checks(text(f, lon_c), text(f, lat_c), lon, lat, lon_col=lon_c,
                                    lat_col=lat_c, required=False)
    raw_view = pd.DataFrame({k: text(f, v).to_numpy() for k, v in cols.items() if v})
    raw_view.columns = [cols[k] for k in cols if cols[k]]
    accepted, rejects = apply_checks(frame, checks, raw=raw_view)
    accepted["severity"] = accepted["severity"].astype("int8")
    out = gpd.GeoDataFrame(accepted, geometry="geometry", crs=WGS84)
    stamp_dates(report, pd.concat([out["start_date"], out["end_date"].dropna()]))
    if is_table:
        rejects = with_partial(rejects, raw)
    return ReadResult(frame=out[[*ACCESS_RESTRICTION.names, "source_file", "source_row"]],
                      rejects=rejects, report=report)
