"""Engagement gaps, access and do no harm: the communities at risk the mission is not hearing
from, the ones it cannot reach, and where engaging could expose people to reprisals.

One entry point, :func:`analyse_engagement`, turns the scored week (cells and admin matrix)
plus the canonical consultation, incident, base and restriction tables into:

- coverage per H3 cell and per admin unit over the last ``engagement_weeks``: engagements by
  modality, people reached per 1,000 inhabitants, share of women and of youth, weeks since the
  mission last engaged, distinct teams. Records that carry only an admin unit (``cell == 0``)
  are spread over that unit's populated cells by population (never put on its centroid);
- gap flags (never engaged, no women, no youth, stale, under-engaged, commitments without
  follow-up) and an under-engaged score (risk percentile x engagement-rate gap);
- access: cells inside restrictions in force, cells cut off (every route from every base
  within reach crosses a restriction: along a road/path network when one is given, else along
  the straight line) and cells outside every base's reach; per base, the people and the risk
  within its reach and its engagements per liaison staff member;
- breadth (towns vs the rest; leaders vs community members, women's and youth groups, by a
  documented proxy) and reprisal exposure (recent civilian targeting where the mission engaged);
- the armed actors active per admin unit, and the ranked priority list for next week.

Do no harm
----------
Every table returned is meant to be shareable. Engagement appears only aggregated to cells and
admin units holding at least ``min_count`` engagements *and* ``min_count`` participants; below
that the numbers are empty and the status says ``"suppressed"``. Units listed in
``reprisal_sensitive_pcodes`` show no engagement information at all (``"withheld"``); their
records are dropped before any aggregation, so they cannot be recovered by differencing
(base totals leave them out too). No output holds a record's coordinates, date, id, team
member or any personal field.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .config import EngagementConfig, NetworkConfig, RunConfig
from .errors import ConfigError, InputFileError, MissingInputError
from .index import cell_centres, neighbour_pairs
from .schemas import MODALITIES

SUPPRESSED = "suppressed"
WITHHELD = "withheld"
#: Access status of a cell, in order of precedence.
ACCESS = ("restricted", "cut off", "out of reach", "reachable", "not assessed")
#: Reprisal exposure values (``<NA>`` where engagement is withheld).
EXPOSURE = ("none", "exposed", "exposed, rising")
#: Engagement kinds of the breadth proxy (first match wins, in this order).
BREADTH = ("women_groups", "youth_groups", "leaders", "community")
_LEADER_TOPICS = ("leaders", "leader", "elders", "chiefs", "authorities", "local_authorities")
_WOMEN_TOPICS = ("women", "gender", "women_groups")
_YOUTH_TOPICS = ("youth", "youth_groups")
_DONE = ("done", "completed", "complete", "closed", "yes")
#: Incident actors that are not armed actors (ACLED names for civilians, protesters, rioters).
_NOT_ARMED = r"^\s*(?:civilians|protesters|rioters)\b"
_EARTH_KM = 6371.0088
_BASE_CHUNK = 16  # bases per shortest-path batch: memory is chunk x network nodes


@dataclass
class EngagementResult:
    """Shareable engagement, access and do-no-harm tables for one week.

    Attributes
    ----------
    cells
        One row per grid cell, aligned with the grid: coverage, access, reprisal columns.
    admin
        One row per admin unit (``admin_pcode`` + columns to join onto the matrix).
    bases
        One row per base open in the week: reach, risk inside it, engagements per staff.
    priorities
        Ranked admin units, then the top cells, for next week's engagement.
    actors
        Armed actors active per admin unit in the window.
    metadata
        Thresholds, ranking method and summary figures (for ``run.json``).
    """

    cells: pd.DataFrame
    admin: pd.DataFrame
    bases: pd.DataFrame
    priorities: pd.DataFrame
    actors: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)


# ============================================================================ small helpers


def _haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
                  ) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.asarray(lon2) - lon1) / 2) ** 2)
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _local_xy(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    """Equirectangular kilometres around ``lat0``: good enough to find neighbours."""
    return np.column_stack([np.asarray(lon, float) * 111.32 * np.cos(np.radians(lat0)),
                            np.asarray(lat, float) * 110.57])


def _pct_rank(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Percentile rank (0..1], ties averaged, among ``mask``; NaN outside it."""
    v = pd.Series(np.asarray(values, dtype=float))
    if mask is not None:
        v = v.where(mask)
    return v.rank(pct=True, method="average").to_numpy()


def _join_text(parts: list[np.ndarray], sep: str = "; ") -> np.ndarray:
    """Element-wise join of string arrays, skipping empty strings (a loop over parts only)."""
    out = np.asarray(parts[0], dtype=object)
    for p in parts[1:]:
        p = np.asarray(p, dtype=object)
        both = (out != "") & (p != "")
        out = np.where(both, out + sep + p, np.where(p != "", p, out))
    return out


def _fmt(template: str, values: np.ndarray) -> np.ndarray:
    """``template % value`` element-wise on numbers (numpy string formatting, no row loop)."""
    return np.char.mod(template, np.asarray(values)).astype(object)


def _in_window(dates: pd.Series, week: pd.Timestamp, weeks: int) -> np.ndarray:
    d = dates.to_numpy()
    return np.asarray((d < week.to_datetime64())
                      & (d >= (week - pd.Timedelta(weeks=weeks)).to_datetime64()))


def _weeks_since(last: np.ndarray, week: pd.Timestamp) -> np.ndarray:
    """Whole weeks from a date to the Monday of the forecast week (0 = less than 7 days
    before it); NaN if NaT."""
    days = (week.to_datetime64() - np.asarray(last, dtype="datetime64[ns]")).astype(
        "timedelta64[D]").astype(float)
    days[np.isnat(np.asarray(last, dtype="datetime64[ns]"))] = np.nan
    return np.floor(days / 7)


def _nullable(values: np.ndarray, shown: np.ndarray) -> pd.Series:
    """A nullable boolean column: the value where ``shown``, <NA> elsewhere."""
    return pd.Series(np.asarray(values, dtype=bool)).astype("boolean").where(shown, pd.NA)


def _cell_strings(cells: np.ndarray) -> np.ndarray:
    return np.char.mod("%x", np.asarray(cells, dtype=np.uint64)).astype(object)


# ============================================================================ records


def _records(consultations: pd.DataFrame | None, *, week: pd.Timestamp,
             withheld: frozenset[str], passive: tuple[str, ...]) -> pd.DataFrame:
    """Engagement records before ``week`` outside withheld units, with numeric measures.

    Only the columns needed for aggregation are kept (no id, no coordinates, no free text).
    """
    if consultations is None:
        consultations = pd.DataFrame({
            "date": pd.Series(dtype="datetime64[ns]"), "cell": pd.Series(dtype=np.uint64),
            **{col: pd.Series(dtype=object) for col in (
                "admin_pcode", "modality", "participants_total", "participants_women",
                "participants_youth", "team", "topics", "commitments_made",
                "follow_up_status")}})
    c = consultations
    keep = (c["date"] < week) & ~c["admin_pcode"].astype(str).isin(withheld)
    c = c.loc[keep]

    def opt(name: str, default: object) -> pd.Series:  # optional canonical columns
        return c[name] if name in c else pd.Series(default, index=c.index, dtype=object)

    total = pd.to_numeric(c["participants_total"], errors="coerce").fillna(0).clip(lower=0)
    women = pd.to_numeric(opt("participants_women", np.nan), errors="coerce").astype(float)
    youth = pd.to_numeric(opt("participants_youth", np.nan), errors="coerce").astype(float)
    modality = c["modality"].astype(str).where(c["modality"].astype(str).isin(MODALITIES),
                                               "other")
    status, made = opt("follow_up_status", ""), opt("commitments_made", False)
    out = pd.DataFrame({
        "date": c["date"].to_numpy(),
        "admin_pcode": c["admin_pcode"].astype(str).to_numpy(),
        "cell": c["cell"].to_numpy(np.uint64),
        "modality": modality.to_numpy(),
        "team": opt("team", "").fillna("").astype(str).str.strip().str.casefold().to_numpy(),
        "topics": opt("topics", "").fillna("").astype(str).str.casefold().to_numpy(),
        "n": 1.0,
        "mission": (~modality.isin(passive)).to_numpy(float),
        "part": total.to_numpy(float),
        "women": women.fillna(0).to_numpy(),
        "women_rec": np.where(women.notna(), total, 0.0),
        "youth": youth.fillna(0).to_numpy(),
        "youth_rec": np.where(youth.notna(), total, 0.0),
        "made": made.fillna(False).astype(bool).to_numpy(),
        "done": status.fillna("").astype(str).str.strip().str.casefold().isin(_DONE).to_numpy(),
    })
    for m in MODALITIES:
        out[f"m_{m}"] = (out["modality"] == m).to_numpy(float)
    return out.reset_index(drop=True)


_SUMS = ["n", "mission", "part", "women", "women_rec", "youth", "youth_rec",
         *(f"m_{m}" for m in MODALITIES)]


def spread_weights(*, cell_admin: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Weight of each cell within its admin unit for spreading admin-level records.

    The cell's share of the unit's population (0 for empty cells); equal shares over the
    unit's cells when the unit has no population data at all.

    Examples
    --------
    >>> spread_weights(cell_admin=np.array(["A", "A", "B"]), population=np.array([1., 3., 0]))
    array([0.25, 0.75, 1.  ])
    """
    pop = np.clip(np.nan_to_num(np.asarray(population, dtype=float), nan=0.0), 0, None)
    key = pd.Series(np.asarray(cell_admin, dtype=object))
    total = pd.Series(pop).groupby(key).transform("sum").to_numpy()
    count = key.groupby(key).transform("size").to_numpy(float)
    return np.where(total > 0, pop / np.where(total > 0, total, 1.0), 1.0 / count)


def _per_cell(rec: pd.DataFrame, pos: np.ndarray, *, cell_admin: np.ndarray,
              weight: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Sum record measures per cell: located records in their cell, the others spread over
    their unit's cells by ``weight`` (aggregated per unit first: linear in records + cells)."""
    n = len(cell_admin)
    point = pos >= 0
    located = (rec.loc[point, columns].groupby(pos[point]).sum()
               .reindex(range(n), fill_value=0.0))
    per_unit = rec.loc[~point, columns].groupby(rec.loc[~point, "admin_pcode"]).sum()
    spread = per_unit.reindex(cell_admin).fillna(0.0).to_numpy() * weight[:, None]
    return pd.DataFrame(located.to_numpy() + spread, columns=columns)


def _distinct_teams(rec: pd.DataFrame, pos: np.ndarray, *, cell_admin: np.ndarray,
                    weight: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    """Distinct teams per cell (located records in the cell, plus the unit's admin-level
    records where they are spread) and per unit."""
    n = len(cell_admin)
    has = rec["team"].to_numpy() != ""
    point = (pos >= 0) & has
    pp = pd.DataFrame({"pos": pos[point], "team": rec["team"].to_numpy()[point]}
                      ).drop_duplicates()
    ap = rec.loc[(pos < 0) & has, ["admin_pcode", "team"]].drop_duplicates()
    own = np.bincount(pp["pos"].to_numpy(np.int64), minlength=n).astype(float)
    unit_teams = ap.groupby("admin_pcode").size()
    spread = unit_teams.reindex(cell_admin).fillna(0).to_numpy() * (weight > 0)
    pp = pp.assign(admin_pcode=cell_admin[pp["pos"].to_numpy(np.int64)])
    both = pp.merge(ap, on=["admin_pcode", "team"])
    both = both.loc[weight[both["pos"].to_numpy(np.int64)] > 0]
    overlap = np.bincount(both["pos"].to_numpy(np.int64), minlength=n)
    per_unit = rec.loc[has, ["admin_pcode", "team"]].drop_duplicates().groupby(
        "admin_pcode").size()
    return own + spread - overlap, per_unit


# ============================================================================ access and reach


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
    out[np.unique(hit)] = True
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


# ============================================================================ the analysis


def analyse_engagement(*, cells: pd.DataFrame, matrix: pd.DataFrame,
                       consultations: pd.DataFrame | None, incidents: pd.DataFrame,
                       bases: pd.DataFrame | None, restrictions: gpd.GeoDataFrame | None,
                       week: pd.Timestamp, config: RunConfig,
                       network: Network | None = None) -> EngagementResult:
    """Coverage, gaps, access, reach, breadth, reprisal exposure, actors and priorities.

    Parameters
    ----------
    cells
        The scored grid (one row per cell): ``cell``, ``admin_pcode``, ``admin_name``,
        ``risk``, ``population``, ``area_km2``, ``restricted``, ``restricted_weeks``; optional
        ``trend``.
    matrix
        The admin matrix: ``admin_pcode``, ``admin_name``, ``level``, ``likelihood``,
        ``expected_incidents``, ``risk_score``, ``population``; optional ``trend``,
        ``level_change``, ``level_prev``.
    consultations, incidents, bases
        Canonical tables as placed by the pipeline (``cell`` 0 = admin level only).
    restrictions
        Restrictions in force in the week.
    week
        Monday of the forecast week; only data dated before it is used.
    config
        Run configuration (``engagement_weeks``, ``min_count``, ``follow_up_weeks``,
        ``base_reach_km``, ``reprisal_sensitive_pcodes``, ``network``, ``[engagement]``).
    network
        An already built network (otherwise read from ``config.network`` when set).

    Returns
    -------
    EngagementResult

    Raises
    ------
    ConfigError
        When a reprisal-sensitive P-code is not in the boundaries (a typo would otherwise
        publish what should be withheld).
    """
    ec = config.engagement
    k = config.min_count
    W = config.engagement_weeks
    units = matrix["admin_pcode"].astype(str).to_numpy()
    withheld = frozenset(config.reprisal_sensitive_pcodes)
    unknown = sorted(withheld - set(units))
    if unknown:
        raise ConfigError(f"reprisal_sensitive_pcodes: {unknown} not in the boundaries file; "
                          "fix the P-codes (engagement there would otherwise be published).")
    if network is None and config.network is not None:
        network = read_network(config.network)

    n = len(cells)
    cell_ids = cells["cell"].to_numpy(np.uint64)
    cell_admin = cells["admin_pcode"].astype(str).to_numpy(dtype=object)
    pop = np.nan_to_num(cells["population"].to_numpy(float), nan=0.0)
    risk = cells["risk"].to_numpy(float)
    cell_withheld = np.isin(cell_admin, list(withheld))
    weight = spread_weights(cell_admin=cell_admin, population=pop)

    rec = _records(consultations, week=week, withheld=withheld, passive=ec.passive_modalities)
    pos = pd.Index(cell_ids).get_indexer(rec["cell"].to_numpy(np.uint64))
    pos = np.where(rec["cell"].to_numpy(np.uint64) > 0, pos, -1)
    in_w = _in_window(rec["date"], week, W)
    in_p = _in_window(rec["date"], week, ec.profile_weeks)
    rec_w, pos_w = rec.loc[in_w].reset_index(drop=True), pos[in_w]

    # ---- coverage per cell (window W)
    cw = _per_cell(rec_w, pos_w, cell_admin=cell_admin, weight=weight, columns=_SUMS)
    teams_c, teams_u = _distinct_teams(rec_w, pos_w, cell_admin=cell_admin, weight=weight)
    mission = rec["mission"].to_numpy() > 0
    located = rec.loc[mission & (pos >= 0)]
    last_c = (located.groupby(pos[mission & (pos >= 0)])["date"].max()
              .reindex(range(n)).to_numpy("datetime64[ns]"))
    admin_level = rec.loc[mission & (pos < 0)]
    last_u_spread = (admin_level.groupby("admin_pcode")["date"].max().reindex(cell_admin)
                     .to_numpy("datetime64[ns]"))
    last_u_spread = np.where(weight > 0, last_u_spread, np.datetime64("NaT"))
    last_c = np.fmax(last_c, last_u_spread)
    cell_status = np.select(
        [cell_withheld, cw["n"].to_numpy() <= 0,
         (cw["n"].to_numpy() < k) | (cw["part"].to_numpy() < k)],
        [WITHHELD, "not engaged", SUPPRESSED], "engaged").astype(object)
    shown_c = cell_status == "engaged"
    cell_out = pd.DataFrame({"coverage_status": cell_status})
    cell_out["coverage_engagements"] = np.where(shown_c, cw["n"].round(1), np.nan)
    for m in MODALITIES:
        cell_out[f"coverage_{m}"] = np.where(shown_c, cw[f"m_{m}"].round(1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        cell_out["coverage_reached_per_1000"] = np.where(
            shown_c & (pop > 0), (cw["part"] / pop * 1000).round(2), np.nan)
        cell_out["coverage_women_share"] = np.where(
            shown_c & (cw["women_rec"] > 0), (cw["women"] / cw["women_rec"]).round(3), np.nan)
        cell_out["coverage_youth_share"] = np.where(
            shown_c & (cw["youth_rec"] > 0), (cw["youth"] / cw["youth_rec"]).round(3), np.nan)
    cell_out["coverage_weeks_since"] = np.where(shown_c, _weeks_since(last_c, week), np.nan)
    cell_out["coverage_teams"] = np.where(shown_c, teams_c, np.nan)

    # ---- under-engaged cells: high risk and fewer than k mission engagements in the window
    populated = pop > 0
    risk_cut = (float(np.quantile(risk[populated], ec.cell_risk_quantile))
                if populated.any() else np.inf)
    cell_mission = cw["mission"].to_numpy()
    under_c = populated & (risk >= risk_cut) & (cell_mission < k) & ~cell_withheld
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_c = np.where(populated, cell_mission / np.where(populated, pop, 1) * 1e3, np.nan)
    score_c = _pct_rank(risk, populated) * (1 - _pct_rank(rate_c, populated & ~cell_withheld))
    cell_out["under_engaged"] = _nullable(under_c, ~cell_withheld).array
    cell_out["under_engaged_score"] = np.where(cell_withheld, np.nan, np.round(score_c, 3))

    # ---- access and reach
    lat, lon = cell_centres(cell_ids)
    obases = open_bases(bases, week)
    restricted = cells["restricted"].to_numpy(bool)
    pairs = reach_pairs(lon=lon, lat=lat, bases=obases, reach_km=config.base_reach_km,
                        restrictions=restrictions, network=network)
    in_reach = np.zeros(n, bool)
    in_reach[pairs["cell"].to_numpy()] = True
    reachable = np.zeros(n, bool)
    reachable[pairs.loc[pairs["open_route"], "cell"].to_numpy()] = True
    reachable &= ~restricted
    access = np.select([restricted, obases.empty, reachable, in_reach],
                       ["restricted", "not assessed", "reachable", "cut off"],
                       "out of reach").astype(object)
    cell_out["access_status"] = access
    if obases.empty:
        cell_out["nearest_base"] = ""
        cell_out["nearest_base_km"] = np.nan
    else:
        blon, blat = obases["lon"].to_numpy(float), obases["lat"].to_numpy(float)
        lat0 = float(np.nanmean(lat))
        _, nb = cKDTree(_local_xy(blon, blat, lat0)).query(_local_xy(lon, lat, lat0))
        cell_out["nearest_base"] = obases["base_name"].astype(str).to_numpy()[nb]
        cell_out["nearest_base_km"] = np.round(_haversine_km(lon, lat, blon[nb], blat[nb]), 1)

    # ---- reprisal exposure: recent civilian targeting where the mission engaged
    inc = incidents.loc[_in_window(incidents["date"], week, W)]
    civ = inc.loc[inc["civilian_targeting"].to_numpy(bool)]
    recent4 = _in_window(civ["date"], week, min(4, W))
    ipos = pd.Index(cell_ids).get_indexer(civ["cell"].to_numpy(np.uint64))
    on = (civ["cell"].to_numpy(np.uint64) > 0) & (ipos >= 0)
    civ_c = np.bincount(ipos[on], minlength=n).astype(float)
    civ4_c = np.bincount(ipos[on & recent4], minlength=n).astype(float)
    origin, nbr, _ = neighbour_pairs(cell_ids, k=1)
    o_pos = pd.Index(cell_ids).get_indexer(origin)
    n_pos = pd.Index(cell_ids).get_indexer(nbr)
    ok = n_pos >= 0
    civ_nb = civ_c + np.bincount(o_pos[ok], weights=civ_c[n_pos[ok]], minlength=n)
    civ4_nb = civ4_c + np.bincount(o_pos[ok], weights=civ4_c[n_pos[ok]], minlength=n)
    rising_c = _rising(civ4_nb, civ_nb, W)
    located_w = np.bincount(pos_w[pos_w >= 0], minlength=n) > 0
    exposed_c = located_w & (civ_nb > 0)
    cell_out["reprisal_exposure"] = pd.Series(np.select(
        [exposed_c & rising_c, exposed_c], list(EXPOSURE[2:0:-1]), EXPOSURE[0]),
        dtype="string").where(~cell_withheld, pd.NA)

    # ---- per admin unit
    unit_pop = pd.Series(pop).groupby(cell_admin).sum().reindex(units).fillna(0).to_numpy()
    uw = rec_w.groupby("admin_pcode")[_SUMS].sum().reindex(units).fillna(0.0)
    rec_p = rec.loc[in_p]
    up = rec_p.groupby("admin_pcode")[_SUMS].sum().reindex(units).fillna(0.0)
    ever = rec.groupby("admin_pcode").size().reindex(units).fillna(0).to_numpy() > 0
    last_m = (rec.loc[mission].groupby("admin_pcode")["date"].max().reindex(units)
              .to_numpy("datetime64[ns]"))
    u_withheld = np.isin(units, list(withheld))
    nw, partw = uw["n"].to_numpy(), uw["part"].to_numpy()
    status = np.select(
        [u_withheld, ~ever, nw <= 0, (nw < k) | (partw < k)],
        [WITHHELD, "never engaged", "not engaged", SUPPRESSED], "engaged").astype(object)
    shown = status == "engaged"
    n_p, part_p = up["n"].to_numpy(), up["part"].to_numpy()
    profile_shown = ~u_withheld & (n_p >= k) & (part_p >= k)
    profile_quiet = ~u_withheld & (n_p <= 0)  # nothing to suppress: no record in the window
    adm = pd.DataFrame({"admin_pcode": units, "engagement_status": status})
    adm["engagements"] = np.where(shown, nw, np.nan)
    for m in MODALITIES:
        adm[f"engagements_{m}"] = np.where(shown, uw[f"m_{m}"].to_numpy(), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        adm["reached_per_1000"] = np.where(shown & (unit_pop > 0),
                                           np.round(partw / unit_pop * 1000, 2), np.nan)
        adm["women_share"] = np.where(shown & (uw["women_rec"] > 0),
                                      np.round(uw["women"] / uw["women_rec"], 3), np.nan)
        adm["youth_share"] = np.where(shown & (uw["youth_rec"] > 0),
                                      np.round(uw["youth"] / uw["youth_rec"], 3), np.nan)
    since = _weeks_since(last_m, week)
    adm["weeks_since_engagement"] = np.where(profile_shown, since, np.nan)
    adm["teams"] = np.where(shown, teams_u.reindex(units).fillna(0).to_numpy(), np.nan)

    # ---- gap flags and the under-engaged score
    mission_p = up["mission"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(unit_pop > 0, mission_p / np.where(unit_pop > 0, unit_pop, 1) * 1e5,
                        np.nan)
    adm["engagements_per_100k"] = np.where(profile_shown, np.round(rate, 2), np.nan)
    expected = matrix["expected_incidents"].to_numpy(float)
    risk_q = float(np.quantile(expected, ec.under_engaged_risk_quantile))
    engaged_rates = rate[~u_withheld & (rate > 0)]
    median_rate = float(np.median(engaged_rates)) if len(engaged_rates) else 0.0
    rate_cut = ec.under_engaged_ratio * median_rate
    under = ~u_withheld & (expected >= risk_q) & (np.nan_to_num(rate, nan=np.inf) <= rate_cut)
    risk_pct = _pct_rank(expected)
    rate_pct = _pct_rank(np.nan_to_num(rate, nan=0.0), ~u_withheld)
    score = risk_pct * (1 - rate_pct)
    never = ~u_withheld & ~ever
    stale_raw = ~never & (np.nan_to_num(since, nan=np.inf) > ec.stale_weeks)
    can_say = profile_shown | profile_quiet
    flags = {
        "never_engaged": _nullable(never, ~u_withheld),
        "no_women": _nullable(up["women"].to_numpy() <= 0,
                              profile_shown & (up["women_rec"].to_numpy() > 0)),
        "no_youth": _nullable(up["youth"].to_numpy() <= 0,
                              profile_shown & (up["youth_rec"].to_numpy() > 0)),
        "stale": _nullable(stale_raw, ~never & can_say),
        "under_engaged": _nullable(under, ~u_withheld),
    }
    for name, col in flags.items():
        adm[name] = col.array
    adm["under_engaged_score"] = np.where(u_withheld, np.nan, np.round(score, 3))

    # ---- follow-up of commitments
    fu = rec.loc[_in_window(rec["date"], week, ec.follow_up_lookback_weeks) & rec["made"]]
    old = (fu["date"] < week - pd.Timedelta(weeks=config.follow_up_weeks)).to_numpy()
    made_u = fu.groupby("admin_pcode").size().reindex(units).fillna(0).to_numpy()
    overdue_u = (fu.loc[old & ~fu["done"].to_numpy()].groupby("admin_pcode").size()
                 .reindex(units).fillna(0).to_numpy())
    adm["commitments"] = np.where(profile_shown, made_u, np.nan)
    adm["commitments_overdue"] = np.where(profile_shown, overdue_u, np.nan)
    adm["follow_up_overdue"] = _nullable(overdue_u > 0, profile_shown).array

    # ---- breadth: towns vs the rest, and who took part (proxy)
    density = pop / np.maximum(cells["area_km2"].to_numpy(float), 1e-9)
    top_cell = pd.Series(pop).groupby(cell_admin).transform("max").to_numpy()
    town = populated & ((pop >= top_cell) | (density >= ec.town_density_km2))
    mp = rec_p.loc[rec_p["mission"] > 0]
    mp_pos = pos[in_p][rec_p["mission"].to_numpy() > 0]
    located_p = mp_pos >= 0
    in_town = np.zeros(len(mp), bool)
    in_town[located_p] = town[mp_pos[located_p]]
    loc_u = mp.loc[located_p].groupby("admin_pcode").size().reindex(units).fillna(0)
    town_u = mp.loc[in_town].groupby("admin_pcode").size().reindex(units).fillna(0)
    town_pop = pd.Series(pop * town).groupby(cell_admin).sum().reindex(units).fillna(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        adm["town_engagement_share"] = np.where(
            profile_shown & (loc_u > 0), np.round(town_u / loc_u, 3), np.nan)
        adm["town_population_share"] = np.round(town_pop.to_numpy() / unit_pop, 3)
    kind = _breadth_kind(mp, ec)
    kinds = (pd.DataFrame({"u": mp["admin_pcode"].to_numpy(), "kind": kind}).value_counts()
             .unstack(fill_value=0).reindex(index=units, columns=list(BREADTH)).fillna(0)
             if len(mp) else pd.DataFrame(0, index=units, columns=list(BREADTH)))
    tot = kinds.sum(axis=1).to_numpy()
    for b in BREADTH:
        with np.errstate(invalid="ignore", divide="ignore"):
            adm[f"share_{b}"] = np.where(profile_shown & (tot > 0),
                                         np.round(kinds[b].to_numpy() / tot, 3), np.nan)

    # ---- access per unit
    restricted_w = cells["restricted_weeks"].to_numpy(float)
    acc = pd.DataFrame({"u": cell_admin, "pop": pop, "access": access,
                        "rw": np.where(restricted, restricted_w, 0.0)})
    by = acc.pivot_table(index="u", columns="access", values="pop", aggfunc="sum",
                         fill_value=0.0).reindex(index=units, columns=list(ACCESS)).fillna(0.0)
    n_cells = (acc.pivot_table(index="u", columns="access", values="pop", aggfunc="size",
                               fill_value=0).reindex(index=units, columns=list(ACCESS))
               .fillna(0).to_numpy(float))
    # share of the people or of the area (cells), whichever is larger: restrictions often
    # cover the sparsely populated part of a unit, which is still a part it cannot reach
    share = np.maximum(by.to_numpy() / np.where(unit_pop > 0, unit_pop, 1.0)[:, None],
                       n_cells / np.maximum(n_cells.sum(axis=1, keepdims=True), 1))
    sh = pd.DataFrame(share, columns=list(ACCESS))
    adm["restricted_weeks_max"] = acc.groupby("u")["rw"].max().reindex(units).fillna(0)\
        .to_numpy().astype(int)
    adm["cut_off_population"] = by["cut off"].round(0).to_numpy()
    adm["out_of_reach_population"] = by["out of reach"].round(0).to_numpy()
    adm["access_status"] = np.select(
        [sh["restricted"] >= 0.5, sh["cut off"] >= 0.5, sh["restricted"] + sh["cut off"] >= 0.25,
         sh["out of reach"] >= 0.5, sh["not assessed"] >= 0.5],
        ["restricted", "cut off", "partly restricted", "outside base reach", "not assessed"],
        "reachable").astype(object)

    # ---- reprisal exposure per unit
    civ_u = civ.groupby("admin_pcode").size().reindex(units).fillna(0).to_numpy()
    civ4_u = civ.loc[recent4].groupby("admin_pcode").size().reindex(units).fillna(0).to_numpy()
    cell_exp = pd.DataFrame({"u": cell_admin, "e": exposed_c, "r": exposed_c & rising_c})
    any_e = cell_exp.groupby("u")[["e", "r"]].any().reindex(units).fillna(False)
    exposed_u = (nw > 0) & ((civ_u > 0) | any_e["e"].to_numpy(bool))
    rising_u = exposed_u & (_rising(civ4_u, civ_u, W) | any_e["r"].to_numpy(bool))
    adm["reprisal_exposure"] = pd.Series(np.select(
        [rising_u, exposed_u], list(EXPOSURE[2:0:-1]), EXPOSURE[0]),
        dtype="string").where(~u_withheld, pd.NA).array
    adm["engagement_gaps"] = _gap_text(adm, k=k, stale_weeks=ec.stale_weeks,
                                       follow_up_weeks=config.follow_up_weeks,
                                       profile_weeks=ec.profile_weeks)

    # ---- bases
    base_tab = _base_table(obases, pairs=pairs, pop=pop, risk=risk, restricted=restricted,
                           rec_w=rec_w, k=k, reach_km=config.base_reach_km)

    # ---- priorities
    prio = _priorities(matrix=matrix, adm=adm, cells=cells, cell_out=cell_out,
                       risk_pct=risk_pct, rate_pct=rate_pct, u_withheld=u_withheld,
                       obases=obases, lon=lon, lat=lat, config=config)
    rank = prio.loc[prio["kind"] == "admin unit"].set_index("admin_pcode")["rank"]
    adm["priority_rank"] = rank.reindex(units).to_numpy()

    actors = actors_table(incidents=incidents, week=week, weeks=W)
    meta = {
        "window_weeks": W,
        "profile_weeks": ec.profile_weeks,
        "min_count": k,
        "suppression": (f"engagement shown only where a cell or unit holds at least {k} "
                        f"engagements and {k} participants; below: '{SUPPRESSED}'"),
        "reprisal_sensitive_pcodes_withheld": len(withheld),
        "admin_level_records_spread": "over the unit's cells by population share",
        "passive_modalities": list(ec.passive_modalities),
        "under_engaged": {
            "method": ("unit flagged when expected incidents >= the "
                       f"{ec.under_engaged_risk_quantile:g} quantile of units and mission "
                       f"engagements per 100,000 people over {ec.profile_weeks} weeks <= "
                       f"{ec.under_engaged_ratio:g} x the median of engaged units"),
            "risk_threshold_expected_incidents": round(risk_q, 4),
            "median_rate_per_100k": round(median_rate, 4),
            "rate_threshold_per_100k": round(rate_cut, 4),
            "score": ("percentile rank of expected incidents x (1 - percentile rank of the "
                      "engagement rate); 1 = highest risk and least engaged"),
            "cell_method": (f"cell flagged when its risk >= the {ec.cell_risk_quantile:g} "
                            f"quantile of populated cells ({risk_cut:.4f}) and it has fewer "
                            f"than {k} mission engagements in {W} weeks"),
            "units_flagged": int(under.sum()),
            "cells_flagged": int(under_c.sum()),
        },
        "stale_weeks": ec.stale_weeks,
        "follow_up": (f"commitments made in the last {ec.follow_up_lookback_weeks} weeks, "
                      f"older than {config.follow_up_weeks} weeks, status not done"),
        "access": {
            "reach_km": config.base_reach_km,
            "measured": "along the network" if network is not None else "straight line",
            "network_nodes": network.n_nodes if network is not None else 0,
            "open_bases": int(len(obases)),
            "cells": {a: int((access == a).sum()) for a in ACCESS},
            "population": {a: round(float(pop[access == a].sum())) for a in ACCESS},
        },
        "breadth_proxy": (
            "towns = most populous cell of each unit and cells of at least "
            f"{ec.town_density_km2:g} people/km² (located records only); kinds of mission "
            "engagement: women_groups (topic women/gender or >= 80% women), youth_groups "
            "(topic youth or >= 80% youth), leaders (topic leaders/elders/chiefs/authorities, "
            f"or a meeting/consultation of at most {ec.leader_max_participants} people with "
            "under 20% women), community (the rest)"),
        "town_engagement_share": _safe_share(int(in_town.sum()), int(located_p.sum())),
        "town_population_share": _safe_share(float((pop * town).sum()), float(pop.sum())),
        "reprisal_exposure": (f"engaged in the last {W} weeks with civilian targeting in the "
                              "same or a neighbouring cell (units: in the unit) in that window; "
                              "rising = last 4 weeks above the rate of the weeks before"),
        "priority": _PRIORITY_METHOD,
    }
    return EngagementResult(cells=cell_out, admin=adm, bases=base_tab, priorities=prio,
                            actors=actors, metadata=meta)


def _safe_share(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def _rising(recent4: np.ndarray, total: np.ndarray, weeks: int) -> np.ndarray:
    """Last 4 weeks above the weekly rate of the rest of the window (and at least 2)."""
    if weeks <= 4:
        return np.zeros(len(total), bool)
    before = (total - recent4) / (weeks - 4)
    return (recent4 >= 2) & (recent4 / 4 > before)


def _breadth_kind(mp: pd.DataFrame, ec: EngagementConfig) -> np.ndarray:
    """Kind of each mission engagement for the breadth proxy (see ``BREADTH``)."""
    if mp.empty:
        return np.zeros(0, dtype=object)
    exploded = mp["topics"].str.replace(r"[,;/]", " ", regex=True).str.split().explode()

    def has(words: tuple[str, ...]) -> np.ndarray:
        return (exploded.isin(words).groupby(level=0).any().reindex(mp.index)
                .fillna(False).to_numpy(bool))

    total = mp["part"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(mp["women_rec"] > 0, mp["women"] / mp["women_rec"], np.nan)
        y = np.where(mp["youth_rec"] > 0, mp["youth"] / mp["youth_rec"], np.nan)
    meeting = mp["modality"].isin(["community_meeting", "consultation"]).to_numpy()
    return np.select(
        [has(_WOMEN_TOPICS) | (w >= 0.8), has(_YOUTH_TOPICS) | (y >= 0.8),
         has(_LEADER_TOPICS) | (meeting & (total <= ec.leader_max_participants) & (w < 0.2))],
        list(BREADTH[:3]), BREADTH[3]).astype(object)


def _gap_text(adm: pd.DataFrame, *, k: int, stale_weeks: int, follow_up_weeks: int,
              profile_weeks: int) -> np.ndarray:
    """Engagement gaps in words (only what the shown columns already say)."""
    def flag(col: str) -> np.ndarray:
        return adm[col].fillna(False).to_numpy(bool)

    overdue = adm["commitments_overdue"].to_numpy(float)
    since = adm["weeks_since_engagement"].to_numpy(float)
    rate = adm["engagements_per_100k"].to_numpy(float)
    return _join_text([
        np.where(adm["engagement_status"] == WITHHELD,
                 "engagement withheld (reprisal-sensitive area)", ""),
        np.where(flag("never_engaged"), "never engaged", ""),
        np.where(flag("stale") & ~flag("never_engaged"),
                 np.where(np.isnan(since),
                          f"no mission engagement in the last {stale_weeks} weeks",
                          _fmt("no mission engagement for %d weeks", np.nan_to_num(since))),
                 ""),
        np.where(flag("under_engaged"),
                 np.where(np.isnan(rate), "under-engaged for its risk",
                          _fmt("under-engaged for its risk (%.1f mission engagements per "
                               f"100,000 people in {profile_weeks} weeks)",
                               np.nan_to_num(rate))), ""),
        np.where(flag("no_women"), "no women heard", ""),
        np.where(flag("no_youth"), "no youth heard", ""),
        np.where(flag("follow_up_overdue"),
                 _fmt("%d commitment(s) without follow-up after "
                      f"{follow_up_weeks} weeks", np.nan_to_num(overdue)), ""),
        np.where(adm["engagement_status"] == SUPPRESSED,
                 f"fewer than {k} engagements or participants recently (suppressed)", ""),
    ])


def _base_table(obases: pd.DataFrame, *, pairs: pd.DataFrame, pop: np.ndarray,
                risk: np.ndarray, restricted: np.ndarray, rec_w: pd.DataFrame, k: int,
                reach_km: float) -> pd.DataFrame:
    """Per open base: people within reach, risk inside it, and its mission engagements in
    the window (records whose ``team`` is the base's name) per liaison staff member."""
    cols = ["base_name", "liaison_staff", "reach_km", "cells_in_reach", "population_in_reach",
            "population_reachable", "population_cut_off", "expected_incidents",
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
    eng = (rec_w.groupby("team").size()
           .reindex(names.str.strip().str.casefold()).fillna(0).to_numpy(float))
    part = (rec_w.groupby("team")["part"].sum()
            .reindex(names.str.strip().str.casefold()).fillna(0).to_numpy(float))
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
        "expected_incidents": np.bincount(b, weights=risk[c], minlength=nb).round(3),
        "engagements": np.where(ok, eng, np.nan),
        "engagements_per_staff": per_staff,
        "engagement_status": np.select([eng <= 0, ~ok], ["not engaged", SUPPRESSED],
                                       "engaged"),
    })[cols]


_PRIORITY_METHOD = (
    "units: score = (0.5 x risk_score/25 + 0.5 x percentile of expected incidents) x "
    "(0.4 + gap) x (1.1 when rising: level up or trend new/intensifying); gap = 1 - percentile "
    "of the mission engagement rate + 0.25 if never engaged or stale + 0.3 each for no women "
    "and no youth heard + 0.15 for commitments overdue (0.5 where engagement is withheld). "
    "Cells: under-engaged cells by risk, then population.")

PRIORITY_COLUMNS = [
    "rank", "kind", "admin_pcode", "admin_name", "cell", "level", "risk", "expected_incidents",
    "trend", "priority_score", "why", "engagement_status", "access_status",
    "reprisal_exposure", "nearest_base", "nearest_base_km", "suggested_modality",
]


def _modality(*, inaccessible: np.ndarray, out_of_reach: np.ndarray, no_women: np.ndarray,
              no_youth: np.ndarray, exposed: np.ndarray, withheld: np.ndarray) -> np.ndarray:
    main = np.select(
        [withheld, inaccessible, out_of_reach],
        ["contact only through established safe channels",
         "remote: phone/SMS focal points and radio",
         "long-range patrol visit, or remote phone/SMS and radio"],
        "in-person community consultation").astype(object)
    groups = np.select([no_women & no_youth, no_women, no_youth],
                       ["women-only and youth sessions", "women-only session (female staff)",
                        "youth session"], "").astype(object)
    groups = np.where(inaccessible & (groups != ""), groups + " by phone/radio", groups)
    main = np.where(groups != "", np.where(inaccessible | withheld | out_of_reach,
                                           main + "; " + groups, groups), main)
    return np.where(exposed | withheld, "do-no-harm review first; then " + main, main)


def _risk_text(level: np.ndarray, risk: np.ndarray, expected: np.ndarray, trend: np.ndarray,
               change: np.ndarray, prev: np.ndarray) -> np.ndarray:
    txt = (np.asarray(level, dtype=object) + " risk (p=" + _fmt("%.2f", risk) + ", "
           + _fmt("%.1f", expected) + " expected incidents)")
    txt = np.where(trend != "", txt + ", trend " + trend, txt)
    return np.where(change == "up", txt + ", up from " + prev, txt)


def _access_text(status: np.ndarray, restricted_weeks: np.ndarray) -> np.ndarray:
    return np.select(
        [status == "restricted", status == "partly restricted", status == "cut off",
         status == "outside base reach", status == "out of reach"],
        ["inside access restrictions (in force " + _fmt("%d", restricted_weeks) + " weeks)",
         "partly under access restrictions (up to " + _fmt("%d", restricted_weeks)
         + " weeks)",
         "cut off: every route from the bases crosses a restriction",
         "mostly outside every base's reach", "outside every base's reach"], "").astype(object)


def _priorities(*, matrix: pd.DataFrame, adm: pd.DataFrame, cells: pd.DataFrame,
                cell_out: pd.DataFrame, risk_pct: np.ndarray, rate_pct: np.ndarray,
                u_withheld: np.ndarray, obases: pd.DataFrame, lon: np.ndarray,
                lat: np.ndarray, config: RunConfig) -> pd.DataFrame:
    """Ranked admin units, then the top under-engaged cells (see ``_PRIORITY_METHOD``)."""
    ec = config.engagement
    m = matrix.reset_index(drop=True)
    a = adm.reset_index(drop=True)

    def flag(col: str) -> np.ndarray:
        return a[col].fillna(False).to_numpy(bool)

    def text(frame: pd.DataFrame, col: str) -> np.ndarray:
        if col not in frame:
            return np.full(len(frame), "", dtype=object)
        return frame[col].fillna("").astype(str).to_numpy(dtype=object)

    risk_part = 0.5 * m["risk_score"].to_numpy(float) / 25 + 0.5 * risk_pct
    gap = ((1 - np.nan_to_num(rate_pct, nan=0.5)) + 0.25 * (flag("never_engaged") | flag("stale"))
           + 0.3 * (flag("no_women").astype(float) + flag("no_youth"))
           + 0.15 * flag("follow_up_overdue"))
    gap = np.where(u_withheld, 0.5, gap)
    trend, change = text(m, "trend"), text(m, "level_change")
    rising = (change == "up") | np.isin(trend, ["new", "intensifying"])
    score = risk_part * (0.4 + gap) * np.where(rising, 1.1, 1.0)
    exposure = a["reprisal_exposure"].fillna("").astype(str).to_numpy()
    exposed = np.char.startswith(exposure.astype(str), "exposed")
    status = a["access_status"].to_numpy(dtype=object)
    inaccessible = np.isin(status, ["restricted", "cut off", "partly restricted"])

    # the unit's focus cell (most people exposed) gives its nearest base
    c_admin = cells["admin_pcode"].astype(str).to_numpy()
    exposure_people = cells["risk"].to_numpy(float) * np.nan_to_num(
        cells["population"].to_numpy(float))
    focus = (pd.Series(exposure_people).groupby(c_admin).idxmax()
             .reindex(m["admin_pcode"].astype(str)))
    has_focus = focus.notna().to_numpy()
    fpos = focus.fillna(0).to_numpy(np.int64)
    nearest = np.where(has_focus, cell_out["nearest_base"].to_numpy(dtype=object)[fpos], "")
    nearest_km = np.where(has_focus, cell_out["nearest_base_km"].to_numpy(float)[fpos], np.nan)

    rw = a["restricted_weeks_max"].to_numpy()
    why = _join_text([
        _risk_text(text(m, "level"), m["likelihood"].to_numpy(float),
                   m["expected_incidents"].to_numpy(float), trend, change,
                   text(m, "level_prev")),
        a["engagement_gaps"].to_numpy(dtype=object),
        _access_text(status, rw),
        np.where(exposed, "reprisal exposure: recent civilian targeting where engaged"
                 + np.where(exposure == "exposed, rising", " (rising)", ""), ""),
    ])
    units = pd.DataFrame({
        "kind": "admin unit",
        "admin_pcode": m["admin_pcode"].to_numpy(),
        "admin_name": text(m, "admin_name"),
        "cell": "",
        "level": text(m, "level"),
        "risk": m["likelihood"].to_numpy(float).round(4),
        "expected_incidents": m["expected_incidents"].to_numpy(float).round(3),
        "trend": trend,
        "priority_score": np.round(score, 4),
        "why": why,
        "engagement_status": a["engagement_status"].to_numpy(),
        "access_status": status,
        "reprisal_exposure": a["reprisal_exposure"].to_numpy(),
        "nearest_base": nearest,
        "nearest_base_km": nearest_km,
        "suggested_modality": _modality(
            inaccessible=inaccessible, out_of_reach=status == "outside base reach",
            no_women=flag("no_women"), no_youth=flag("no_youth"), exposed=exposed,
            withheld=u_withheld),
    }).sort_values(["priority_score", "expected_incidents"], ascending=False,
                   kind="stable").reset_index(drop=True)
    units.insert(0, "rank", np.arange(1, len(units) + 1))

    # top cells: under-engaged (high risk, few mission engagements), by risk then population
    cand = np.flatnonzero(cell_out["under_engaged"].fillna(False).to_numpy(bool))
    order = np.lexsort((-np.nan_to_num(cells["population"].to_numpy(float)[cand]),
                        -cells["risk"].to_numpy(float)[cand]))
    top = cand[order][: ec.priority_cells]
    cc = cells.iloc[top]
    co = cell_out.iloc[top]
    cstat = co["coverage_status"].to_numpy(dtype=object)
    cacc = co["access_status"].to_numpy(dtype=object)
    cexp = co["reprisal_exposure"].fillna("").astype(str).to_numpy()
    ctrend = text(cc, "trend")
    crisk = cc["risk"].to_numpy(float)
    cell_why = _join_text([
        "risk p=" + _fmt("%.2f", crisk) + np.where(ctrend != "", ", trend " + ctrend, ""),
        np.where(cstat == "not engaged", f"no engagement in {config.engagement_weeks} weeks",
                 f"fewer than {config.min_count} mission engagements in "
                 f"{config.engagement_weeks} weeks"),
        _access_text(cacc, cc["restricted_weeks"].to_numpy()),
        np.where(np.char.startswith(cexp.astype(str), "exposed"),
                 "reprisal exposure: recent civilian targeting nearby", ""),
    ])
    cells_tab = pd.DataFrame({
        "rank": np.arange(1, len(top) + 1),
        "kind": "cell",
        "admin_pcode": cc["admin_pcode"].to_numpy(),
        "admin_name": text(cc, "admin_name"),
        "cell": _cell_strings(cc["cell"].to_numpy()),
        "level": cc["risk_band"].to_numpy() if "risk_band" in cc else "",
        "risk": crisk.round(4),
        "expected_incidents": crisk.round(3),
        "trend": ctrend,
        "priority_score": co["under_engaged_score"].to_numpy(),
        "why": cell_why,
        "engagement_status": cstat,
        "access_status": cacc,
        "reprisal_exposure": co["reprisal_exposure"].to_numpy(),
        "nearest_base": co["nearest_base"].to_numpy(),
        "nearest_base_km": co["nearest_base_km"].to_numpy(),
        "suggested_modality": _modality(
            inaccessible=np.isin(cacc, ["restricted", "cut off"]),
            out_of_reach=cacc == "out of reach", no_women=np.zeros(len(top), bool),
            no_youth=np.zeros(len(top), bool),
            exposed=np.char.startswith(cexp.astype(str), "exposed"),
            withheld=np.zeros(len(top), bool)),
    })
    return pd.concat([units, cells_tab], ignore_index=True)[PRIORITY_COLUMNS]


# ============================================================================ actors


def actors_table(*, incidents: pd.DataFrame, week: pd.Timestamp, weeks: int) -> pd.DataFrame:
    """Armed actors active per admin unit in the ``weeks`` before ``week``.

    Actors are taken from ``actor1`` and ``actor2``; civilians, protesters and rioters are not
    armed actors and are left out. ``civilian_targeting`` counts the incidents where the actor
    was the perpetrator (``actor1``) of civilian targeting.

    Returns
    -------
    pandas.DataFrame
        ``admin_pcode``, ``actor``, ``incidents``, ``civilian_targeting``; sorted by unit,
        then most incidents.
    """
    cols = ["admin_pcode", "actor", "incidents", "civilian_targeting"]
    inc = incidents.loc[_in_window(incidents["date"], week, weeks)]
    if inc.empty:
        return pd.DataFrame(columns=cols)
    ev = np.arange(len(inc))
    civ = inc["civilian_targeting"].to_numpy(bool)
    long = pd.DataFrame({
        "event": np.concatenate([ev, ev]),
        "admin_pcode": np.tile(inc["admin_pcode"].astype(str).to_numpy(), 2),
        "actor": np.concatenate([inc["actor1"].fillna("").astype(str).to_numpy(),
                                 inc["actor2"].fillna("").astype(str).to_numpy()]),
        "civ": np.concatenate([civ, np.zeros(len(inc), bool)]),
    })
    long["actor"] = long["actor"].str.strip()
    long = long.loc[(long["actor"] != "")
                    & ~long["actor"].str.contains(_NOT_ARMED, case=False, regex=True)]
    g = long.groupby(["admin_pcode", "actor"]).agg(incidents=("event", "nunique"),
                                                   civilian_targeting=("civ", "sum"))
    out = g.reset_index().sort_values(["admin_pcode", "incidents", "actor"],
                                      ascending=[True, False, True]).reset_index(drop=True)
    out["incidents"] = out["incidents"].astype(int)
    out["civilian_targeting"] = out["civilian_targeting"].astype(int)
    return out[cols]


# ============================================================================ matrix as HTML

MATRIX_HTML_COLUMNS = (
    ("admin_name", "Admin unit"), ("admin_pcode", "P-code"), ("level", "Level"),
    ("likelihood", "P(≥1 incident)"), ("_likelihood", "Likelihood (1-5)"),
    ("_impact", "Impact (1-5)"), ("expected_incidents", "Expected incidents"),
    ("trend", "Trend"), ("level_change", "vs last week"),
    ("engagement_status", "Engagement"), ("engagements", "Engagements"),
    ("engagement_gaps", "Engagement gaps"), ("access_status", "Access"),
    ("restricted_population", "People under restrictions"),
    ("reprisal_exposure", "Reprisal exposure"), ("priority_rank", "Priority"),
)
_LEVEL_COLOURS = {"critical": "#8c0d26", "high": "#dc4b2f", "medium": "#f7a35c", "low": "#fde7c4"}
_LEVEL_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_HTML_FORMATS = {"likelihood": "%.2f", "expected_incidents": "%.1f", "engagements": "%.0f",
                 "restricted_population": "%.0f", "priority_rank": "%.0f"}


def _escape(text: pd.Series) -> np.ndarray:
    """HTML-escape a column of strings (vectorised ``html.escape`` with quotes)."""
    t = text.astype("string").fillna("")
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                 ("'", "&#x27;")):
        t = t.str.replace(a, b, regex=False)
    return t.to_numpy(dtype=object)


def matrix_html(*, matrix: pd.DataFrame, title: str, week: str, synthetic: bool,
                notes: tuple[str, ...] = ()) -> str:
    """The admin risk matrix as one self-contained HTML page (a table sorted by level).

    Every value is HTML-escaped; no script, no external resource.
    """
    m = matrix.assign(_o=matrix["level"].map(_LEVEL_ORDER).fillna(9))
    for key in ("likelihood", "impact"):
        if f"{key}_score" in m and f"{key}_label" in m:
            m[f"_{key}"] = (m[f"{key}_score"].astype("string") + " "
                            + m[f"{key}_label"].astype("string")).fillna("")
    sort = ["_o"] + (["risk_score"] if "risk_score" in m else [])
    m = m.sort_values(sort, ascending=[True] + [False] * (len(sort) - 1), kind="stable")
    cols = [(c, h) for c, h in MATRIX_HTML_COLUMNS if c in m.columns]

    def cell_text(col: str) -> np.ndarray:
        s = m[col]
        txt: pd.Series
        if pd.api.types.is_float_dtype(s):
            v = s.to_numpy(float)
            fmt = _HTML_FORMATS.get(col, "%.3g")
            txt = pd.Series(np.where(np.isnan(v), "", np.char.mod(fmt, np.nan_to_num(v))))
        else:
            txt = s.astype("string").fillna("")
        return _escape(txt)

    body = np.full(len(m), "<tr>", dtype=object)
    for col, _ in cols:
        vals = cell_text(col)
        if col == "level":
            colour = m["level"].map(_LEVEL_COLOURS).fillna("#eee").to_numpy(dtype=object)
            fg = np.where(np.isin(m["level"].to_numpy(), ["critical", "high"]), "#fff", "#000")
            body = (body + '<td style="background:' + colour + ";color:" + fg + '">' + vals
                    + "</td>")
        elif col == "engagement_gaps":
            body = body + '<td class="wide">' + vals + "</td>"
        else:
            body = body + "<td>" + vals + "</td>"
    body = body + "</tr>"
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in cols)
    label = ('<p class="synthetic">SYNTHETIC DATA: fictional scenario, not real events.</p>'
             if synthetic else "")
    note_html = "".join(f"<li>{html.escape(x)}</li>" for x in notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: risk matrix, week of {html.escape(week)}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:3px 6px;text-align:left;
vertical-align:top}}th{{background:#f2f2f2;position:sticky;top:0}}
td.wide{{min-width:24em}}
.synthetic{{background:#fff3cd;border:1px solid #e0c36c;padding:4px 8px;font-weight:bold}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Predictive risk-assessment matrix, week of {html.escape(week)}; sorted by level.</p>
{label}<table><thead><tr>{head}</tr></thead><tbody>
{"".join(body)}
</tbody></table><ul>{note_html}</ul></body></html>
"""


__all__ = [
    "ACCESS",
    "EXPOSURE",
    "PRIORITY_COLUMNS",
    "EngagementResult",
    "Network",
    "actors_table",
    "analyse_engagement",
    "matrix_html",
    "network_from_lines",
    "open_bases",
    "reach_pairs",
    "read_network",
    "spread_weights",
]
