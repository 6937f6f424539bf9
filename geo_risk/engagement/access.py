"""Access and reach: cells inside restrictions, cut off from every base, or out of reach;
routes along a road/path network when one is given; the people and risk within each base's
reach."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ..config import NetworkConfig
from ..errors import InputFileError, MissingInputError
from .common import SUPPRESSED, _haversine_km, _local_xy

#: Access status of a cell, in order of precedence.
ACCESS = ("restricted", "cut off", "out of reach", "reachable", "not assessed")
_BASE_CHUNK = 16  # bases per shortest-path batch: memory is chunk x network nodes

@dataclass(frozen=True)
class Network:
    """A road/path network as an undirected graph on line vertices (WGS 84)."""

    lon: np.ndarray  # per node
    lat: np.ndarray
    u: np.ndarray  # per edge: node indices
    v: np.ndarray
    length_km: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.lon)

    def segments(self) -> np.ndarray:
        """One shapely line per edge."""
        a = np.column_stack([self.lon[self.u], self.lat[self.u]])
        b = np.column_stack([self.lon[self.v], self.lat[self.v]])
        return shapely.linestrings(np.stack([a, b], axis=1))


def network_from_lines(*, lines: gpd.GeoSeries, where: str = "network") -> Network:
    """Build a :class:`Network` from line geometries (OSM-style ways).

    Vertices closer than about 0.1 m are the same node, so ways that share a vertex at a
    junction connect; consecutive vertices of a line make an edge weighted by its length.

    Raises
    ------
    InputFileError
        When there is no line geometry at all.
    """
    geoms = np.asarray(lines.to_numpy() if hasattr(lines, "to_numpy") else lines, dtype=object)
    parts = shapely.get_parts(geoms[~shapely.is_missing(geoms)])
    parts = parts[shapely.get_type_id(parts) == 1]  # LineString
    if len(parts) == 0:
        raise InputFileError(where, "no line geometries: a network file must hold roads or "
                             "paths as LineString/MultiLineString features.")
    coords, owner = shapely.get_coordinates(parts, return_index=True)
    key = np.round(coords, 6)
    uniq, node = np.unique(key, axis=0, return_inverse=True)
    node = node.ravel()
    same = owner[1:] == owner[:-1]
    u, v = node[:-1][same], node[1:][same]
    keep = u != v
    u, v = u[keep], v[keep]
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    length = _haversine_km(uniq[lo, 0], uniq[lo, 1], uniq[hi, 0], uniq[hi, 1])
    edges = (pd.DataFrame({"u": lo, "v": hi, "len": length})
             .groupby(["u", "v"], as_index=False)["len"].min())
    return Network(lon=uniq[:, 0], lat=uniq[:, 1], u=edges["u"].to_numpy(np.int64),
                   v=edges["v"].to_numpy(np.int64), length_km=edges["len"].to_numpy(float))


def read_network(cfg: NetworkConfig) -> Network:
    """Read a road/path network file (any vector format geopandas reads).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputFileError
        Unreadable, or without line geometries.
    """
    if not cfg.path.exists():
        raise MissingInputError(cfg.path, "network file not found; fix [network] path.")
    try:
        gdf = gpd.read_file(cfg.path, layer=cfg.layer) if cfg.layer else gpd.read_file(cfg.path)
    except Exception as e:  # pyogrio raises several kinds
        raise InputFileError(cfg.path, f"cannot read the network file ({e}).") from None
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs("EPSG:4326")
    return network_from_lines(lines=gdf.geometry, where=str(cfg.path))


def open_bases(bases: pd.DataFrame | None, week: pd.Timestamp) -> pd.DataFrame:
    """Bases open at some time during the week starting ``week``."""
    if bases is None or bases.empty:
        return pd.DataFrame(columns=["base_name", "lon", "lat", "liaison_staff"])
    end = week + pd.Timedelta(days=6)
    o = pd.to_datetime(bases["open_date"]) if "open_date" in bases else None
    c = pd.to_datetime(bases["close_date"]) if "close_date" in bases else None
    ok = pd.Series(True, index=bases.index)
    if o is not None:
        ok &= o.isna() | (o <= end)
    if c is not None:
        ok &= c.isna() | (c >= week)
    ok &= np.isfinite(bases["lon"].astype(float)) & np.isfinite(bases["lat"].astype(float))
    return bases.loc[ok].reset_index(drop=True)


def _blocked(lines: np.ndarray, restrictions: gpd.GeoDataFrame | None) -> np.ndarray:
    """Which lines intersect a restriction in force."""
    out = np.zeros(len(lines), dtype=bool)
    if restrictions is None or restrictions.empty or len(lines) == 0:
        return out
    hit, _ = restrictions.sindex.query(lines, predicate="intersects")
    out[hit] = True  # repeated positions are harmless
    return out


def reach_pairs(*, lon: np.ndarray, lat: np.ndarray, bases: pd.DataFrame, reach_km: float,
                restrictions: gpd.GeoDataFrame | None, network: Network | None = None
                ) -> pd.DataFrame:
    """Every (cell, base) pair within reach, and whether a route avoids every restriction.

    Without a network, reach is the straight line: a pair is within reach when the cell
    centre is at most ``reach_km`` from the base, and its route is open when the straight
    segment crosses no restriction in force. With a network, reach is the shortest path
    (base and cell centre joined to their nearest network vertex by a straight leg, counted
    in the distance) and the route is open when a path of at most ``reach_km`` exists on the
    network without the edges that cross a restriction.

    Returns
    -------
    pandas.DataFrame
        ``cell`` (position in ``lon``/``lat``), ``base`` (row of ``bases``), ``distance_km``
        (unrestricted), ``open_route`` (bool).
    """
    empty = pd.DataFrame({"cell": np.zeros(0, np.int64), "base": np.zeros(0, np.int64),
                          "distance_km": np.zeros(0), "open_route": np.zeros(0, bool)})
    if bases.empty or len(lon) == 0:
        return empty
    blon, blat = bases["lon"].to_numpy(float), bases["lat"].to_numpy(float)
    lat0 = float(np.nanmean(lat))
    if network is None:
        tree = cKDTree(_local_xy(lon, lat, lat0))
        near = tree.query_ball_point(_local_xy(blon, blat, lat0), r=reach_km * 1.05)
        sizes = np.fromiter((len(x) for x in near), dtype=np.int64, count=len(near))
        if sizes.sum() == 0:
            return empty
        cell = np.concatenate([np.asarray(x, dtype=np.int64) for x in near])
        base = np.repeat(np.arange(len(blon)), sizes)
        dist = _haversine_km(blon[base], blat[base], lon[cell], lat[cell])
        keep = dist <= reach_km
        cell, base, dist = cell[keep], base[keep], dist[keep]
        seg = shapely.linestrings(np.stack([np.column_stack([blon[base], blat[base]]),
                                            np.column_stack([lon[cell], lat[cell]])], axis=1))
        return pd.DataFrame({"cell": cell, "base": base, "distance_km": dist,
                             "open_route": ~_blocked(seg, restrictions)})
    ntree = cKDTree(_local_xy(network.lon, network.lat, lat0))
    _, cnode = ntree.query(_local_xy(lon, lat, lat0))
    _, bnode = ntree.query(_local_xy(blon, blat, lat0))
    csnap = _haversine_km(lon, lat, network.lon[cnode], network.lat[cnode])
    bsnap = _haversine_km(blon, blat, network.lon[bnode], network.lat[bnode])
    shape = (network.n_nodes, network.n_nodes)
    full = sparse.csr_matrix((network.length_km, (network.u, network.v)), shape=shape)
    ok = ~_blocked(network.segments(), restrictions)
    cut = sparse.csr_matrix((network.length_km[ok], (network.u[ok], network.v[ok])),
                            shape=shape)
    out = []
    for s in range(0, len(blon), _BASE_CHUNK):  # batches of bases bound the memory
        idx = np.arange(s, min(s + _BASE_CHUNK, len(blon)))
        d_full = dijkstra(full, directed=False, indices=bnode[idx], limit=reach_km)
        d_cut = dijkstra(cut, directed=False, indices=bnode[idx], limit=reach_km)
        legs = csnap[None, :] + bsnap[idx][:, None]
        tot_full = d_full[:, cnode] + legs
        tot_cut = d_cut[:, cnode] + legs
        b, c = np.nonzero(tot_full <= reach_km)
        out.append(pd.DataFrame({"cell": c, "base": idx[b], "distance_km": tot_full[b, c],
                                 "open_route": tot_cut[b, c] <= reach_km}))
    return pd.concat(out, ignore_index=True) if out else empty



@dataclass
class CellAccess:
    """Access of every cell in the week (arrays aligned with the grid)."""

    status: np.ndarray  # one of ACCESS
    nearest_base: np.ndarray  # name of the nearest open base ("" when none is open)
    nearest_base_km: np.ndarray  # along the route when within reach, else straight line
    pairs: pd.DataFrame  # reach_pairs() of the open bases


def cell_access(*, lon: np.ndarray, lat: np.ndarray, restricted: np.ndarray,
                obases: pd.DataFrame, reach_km: float,
                restrictions: gpd.GeoDataFrame | None, network: Network | None
                ) -> CellAccess:
    """Access status and nearest open base of every cell.

    The nearest base is the one with the shortest route (along the network when one is given)
    among the bases within reach; beyond every base's reach, the nearest in a straight line.
    """
    n = len(lon)
    pairs = reach_pairs(lon=lon, lat=lat, bases=obases, reach_km=reach_km,
                        restrictions=restrictions, network=network)
    in_reach = np.zeros(n, bool)
    in_reach[pairs["cell"].to_numpy()] = True
    reachable = np.zeros(n, bool)
    reachable[pairs.loc[pairs["open_route"], "cell"].to_numpy()] = True
    reachable &= ~restricted
    status = np.select([restricted, obases.empty, reachable, in_reach],
                       ["restricted", "not assessed", "reachable", "cut off"],
                       "out of reach").astype(object)
    if obases.empty:
        return CellAccess(status, np.full(n, "", dtype=object), np.full(n, np.nan), pairs)
    names = obases["base_name"].astype(str).to_numpy()
    blon, blat = obases["lon"].to_numpy(float), obases["lat"].to_numpy(float)
    lat0 = float(np.nanmean(lat))
    _, nb = cKDTree(_local_xy(blon, blat, lat0)).query(_local_xy(lon, lat, lat0))
    km = _haversine_km(lon, lat, blon[nb], blat[nb])
    if len(pairs):
        best = pairs.sort_values("distance_km", kind="stable").drop_duplicates("cell")
        c = best["cell"].to_numpy()
        nb[c] = best["base"].to_numpy()
        km[c] = best["distance_km"].to_numpy()
    return CellAccess(status, names[nb].astype(object), np.round(km, 1), pairs)


#: Unit access status from the shares of its people (or cells, without population data).
UNIT_ACCESS = ("restricted", "cut off", "partly restricted", "outside base reach",
               "partly outside base reach", "not assessed", "reachable")


def unit_access(*, units: np.ndarray, cell_admin: np.ndarray | pd.Index, pop: np.ndarray,
                access: np.ndarray, restricted: np.ndarray,
                restricted_weeks: np.ndarray) -> pd.DataFrame:
    """Per admin unit: people by access status, the status in words and the shares behind it.

    Restriction shares are the larger of the share of people and the share of area (a
    restriction often covers the sparsely populated part of a unit, which is still a part the
    mission cannot reach); reach is judged on people only (an empty bush is not a community
    out of reach), on area when the unit has no population data.
    """
    # (unit, status) sums by integer position: the same groups in the same row order as a
    # pivot table on the names (so the same sums), without its string keys and reshaping
    n_u, n_a = len(units), len(ACCESS)
    u_pos = pd.Index(units).get_indexer(pd.Index(cell_admin))
    a_pos = pd.Index(ACCESS).get_indexer(pd.Index(np.asarray(access, dtype=object)))
    ok = (u_pos >= 0) & (a_pos >= 0)
    key = u_pos[ok] * n_a + a_pos[ok]
    pop = np.asarray(pop, dtype=float)
    by = pd.DataFrame(pd.Series(pop[ok]).groupby(key).sum().reindex(
        range(n_u * n_a), fill_value=0.0).to_numpy().reshape(n_u, n_a), columns=list(ACCESS))
    n_cells = np.bincount(key, minlength=n_u * n_a).reshape(n_u, n_a).astype(float)
    unit_pop = by.to_numpy().sum(axis=1)
    people = by.to_numpy() / np.where(unit_pop > 0, unit_pop, 1.0)[:, None]
    area = n_cells / np.maximum(n_cells.sum(axis=1, keepdims=True), 1)
    people = np.where((unit_pop > 0)[:, None], people, area)
    sh = pd.DataFrame(np.maximum(people, area), columns=list(ACCESS))
    ppl = pd.DataFrame(people, columns=list(ACCESS))
    out = pd.DataFrame({"admin_pcode": units})
    rw = np.where(restricted, restricted_weeks, 0.0)[u_pos >= 0]
    out["restricted_weeks_max"] = (pd.Series(rw).groupby(u_pos[u_pos >= 0]).max()
                                   .reindex(range(n_u)).fillna(0).to_numpy().astype(int))
    out["cut_off_population"] = by["cut off"].round(0).to_numpy()
    out["out_of_reach_population"] = by["out of reach"].round(0).to_numpy()
    out["out_of_reach_share"] = ppl["out of reach"].round(3).to_numpy()
    out["access_status"] = np.select(
        [sh["restricted"] >= 0.5, sh["cut off"] >= 0.5, sh["restricted"] + sh["cut off"] >= 0.25,
         ppl["out of reach"] >= 0.5, ppl["out of reach"] >= 0.25, ppl["not assessed"] >= 0.5],
        list(UNIT_ACCESS[:-1]), UNIT_ACCESS[-1]).astype(object)
    return out


def base_table(obases: pd.DataFrame, *, pairs: pd.DataFrame, pop: np.ndarray,
               risk: np.ndarray, restricted: np.ndarray, rec_w: pd.DataFrame, k: int,
               reach_km: float) -> pd.DataFrame:
    """Per open base: people within reach, risk inside it, and its mission engagements in
    the window (records whose ``team`` is the base's name) per liaison staff member.

    ``rec_w`` must hold only records of units whose engagement is shown: a base total that
    included a suppressed unit's records would give them away by differencing.
    """
    cols = ["base_name", "liaison_staff", "reach_km", "cells_in_reach", "population_in_reach",
            "population_reachable", "population_cut_off", "expected_incident_cells",
            "engagements", "engagements_per_staff", "engagement_status"]
    if obases.empty:
        return pd.DataFrame(columns=cols)
    nb = len(obases)
    b = pairs["base"].to_numpy()
    c = pairs["cell"].to_numpy()
    open_ = pairs["open_route"].to_numpy(bool) & ~restricted[c]
    staff = pd.to_numeric(obases["liaison_staff"], errors="coerce").fillna(0).to_numpy(float)
    names = obases["base_name"].astype(str)
    rec_w = rec_w.loc[rec_w["mission"] > 0]  # the staff's own engagements, not SMS alerts
    key = names.str.strip().str.casefold()
    eng = rec_w.groupby("team").size().reindex(key).fillna(0).to_numpy(float)
    part = rec_w.groupby("team")["part"].sum().reindex(key).fillna(0).to_numpy(float)
    ok = (eng >= k) & (part >= k)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_staff = np.where(ok & (staff > 0), np.round(eng / staff, 2), np.nan)
    return pd.DataFrame({
        "base_name": names.to_numpy(),
        "liaison_staff": staff.astype(int),
        "reach_km": reach_km,
        "cells_in_reach": np.bincount(b, minlength=nb),
        "population_in_reach": np.bincount(b, weights=pop[c], minlength=nb).round(0),
        "population_reachable": np.bincount(b, weights=pop[c] * open_, minlength=nb).round(0),
        "population_cut_off": np.bincount(b, weights=pop[c] * ~open_, minlength=nb).round(0),
        "expected_incident_cells": np.bincount(b, weights=risk[c], minlength=nb).round(3),
        "engagements": np.where(ok, eng, np.nan),
        "engagements_per_staff": per_staff,
        "engagement_status": np.select([eng <= 0, ~ok], ["not engaged", SUPPRESSED],
                                       "engaged"),
    })[cols]
