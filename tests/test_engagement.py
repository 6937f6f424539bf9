"""Engagement gaps, access, reach, follow-up, breadth, reprisal exposure, actors, priorities,
and do no harm: small worlds built here, then the SYNTHETIC scenario against its truth."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, box

from geo_risk.config import (
    BoundariesConfig,
    EngagementConfig,
    ModelConfig,
    RunConfig,
    load_config,
    parse_config,
)
from geo_risk.engagement import (
    actors_table,
    analyse_engagement,
    matrix_html,
    network_from_lines,
    read_network,
    spread_weights,
)
from geo_risk.errors import ConfigError, GeoRiskError, InputFileError
from geo_risk.index import points_to_cells

WEEK = pd.Timestamp("2024-07-01")
RES = 7


def _config(**kw: object) -> RunConfig:
    base = RunConfig(config_path=None, boundaries=BoundariesConfig(
        path=Path("none.gpkg"), pcode_column="p", name_column="n"), incidents=())
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def _cells(cells: np.ndarray, units: list[str], pop: list[float], risk: list[float] | None = None,
           restricted: list[bool] | None = None) -> pd.DataFrame:
    n = len(cells)
    return pd.DataFrame({
        "cell": np.asarray(cells, dtype=np.uint64), "admin_pcode": units,
        "admin_name": [f"Name {u}" for u in units],
        "risk": risk if risk is not None else [0.01] * n, "population": pop,
        "area_km2": [5.0] * n, "restricted": restricted or [False] * n,
        "restricted_weeks": [3 if r else 0 for r in (restricted or [False] * n)],
        "trend": ["persistent"] * n, "risk_band": ["low"] * n,
    })


def _matrix(units: list[str], expected: list[float], score: list[int],
            level: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "admin_pcode": units, "admin_name": [f"Name {u}" for u in units], "level": level,
        "likelihood": [min(0.99, e / 3) for e in expected], "expected_incident_cells": expected,
        "likelihood_label": ["possible"] * len(units),
        "risk_score": score, "trend": ["persistent"] * len(units),
        "level_change": ["same"] * len(units), "level_prev": level,
    })


def _consult(rows: list[dict]) -> pd.DataFrame:
    base = {"lon": np.nan, "lat": np.nan, "modality": "community_meeting",
            "participants_total": 10, "participants_women": 4, "participants_youth": 3,
            "team": "Base One", "topics": "security", "safety_score": 3.0,
            "commitments_made": False, "follow_up_status": "", "cell": np.uint64(0)}
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["cell"] = df["cell"].astype(np.uint64)
    df["participants_women"] = df["participants_women"].astype("Int64")
    df["participants_youth"] = df["participants_youth"].astype("Int64")
    df["consultation_id"] = [f"c{i}" for i in range(len(df))]
    return df


def _incidents(rows: list[dict] | None = None) -> pd.DataFrame:
    cols = {"date": pd.Series(dtype="datetime64[ns]"), "admin_pcode": pd.Series(dtype=object),
            "cell": pd.Series(dtype=np.uint64), "civilian_targeting": pd.Series(dtype=bool),
            "actor1": pd.Series(dtype=object), "actor2": pd.Series(dtype=object)}
    if not rows:
        return pd.DataFrame(cols)
    df = pd.DataFrame(rows)
    df["cell"] = df["cell"].astype(np.uint64)
    return df


def _bases(**kw: object) -> pd.DataFrame:
    b = {"base_name": "Base One", "lon": 30.0, "lat": 5.0, "open_date": pd.NaT,
         "close_date": pd.NaT, "liaison_staff": 2}
    b.update(kw)
    return pd.DataFrame([b])


def _disk(lat: float = 5.0, lon: float = 30.0, k: int = 1) -> np.ndarray:
    centre = h3.latlng_to_cell(lat, lon, RES)
    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, k)), dtype=np.uint64)


def _days(n: int) -> pd.Timestamp:
    return WEEK - pd.Timedelta(days=n)


# ----------------------------------------------------------------------------- coverage


def test_spread_weights_follow_population() -> None:
    w = spread_weights(cell_admin=np.array(["A", "A", "A", "B", "B"]),
                       population=np.array([0.0, 100.0, 300.0, np.nan, np.nan]))
    assert np.allclose(w, [0.0, 0.25, 0.75, 0.5, 0.5])


def test_coverage_spreads_admin_records_suppresses_and_withholds() -> None:
    cells = _disk()
    units = ["A", "A", "A", "B", "B", "C", "C"]
    grid = _cells(cells, units, [0, 100, 300, 50, 50, 10, 10])
    cons = _consult(
        # unit A: twenty records with only the unit known, 10 people each, no youth
        [{"date": _days(3 + i), "admin_pcode": "A", "participants_youth": 0} for i in range(20)]
        # unit B: three meetings at one place (too few to show)
        + [{"date": _days(10), "admin_pcode": "B", "cell": cells[3], "lon": 30.0, "lat": 5.0,
            "participants_total": 20} for _ in range(3)]
        # unit C is reprisal-sensitive: eight meetings that must never show
        + [{"date": _days(5), "admin_pcode": "C", "cell": cells[5], "lon": 30.0, "lat": 5.0}
           for _ in range(8)])
    res = analyse_engagement(
        cells=grid, matrix=_matrix(["A", "B", "C"], [1, 1, 1], [4, 4, 4], ["low"] * 3),
        consultations=cons, incidents=_incidents(), bases=_bases(), restrictions=None,
        week=WEEK, config=_config(reprisal_sensitive_pcodes=("C",)))
    c = res.cells
    # spread over A's populated cells by population (0 / 25% / 75%), never a centroid
    # (B's cell is suppressed with its unit, however many people it held)
    assert c["coverage_status"].tolist() == ["not engaged", "engaged", "engaged",
                                             "suppressed", "not engaged", "withheld",
                                             "withheld"]
    assert c.loc[1, "coverage_engagements"] == 5 and c.loc[2, "coverage_engagements"] == 15
    assert c.loc[2, "coverage_reached_per_1000"] == 500.0  # 150 people / 300
    assert c.loc[2, "coverage_women_share"] == 0.4 and c.loc[2, "coverage_youth_share"] == 0
    assert c.loc[2, "coverage_community_meeting"] == 15
    assert c.loc[2, "coverage_teams"] == 1
    shown = [col for col in c.columns if col.startswith("coverage_") and col != "coverage_status"]
    assert c.loc[[0, 3, 4, 5, 6], shown].isna().all().all()
    assert c.loc[[5, 6], "reprisal_exposure"].isna().all()
    assert c.loc[[5, 6], "under_engaged"].isna().all()
    a = res.admin.set_index("admin_pcode")
    assert a.loc["A", "engagement_status"] == "engaged" and a.loc["A", "engagements"] == 20
    assert a.loc["A", "reached_per_1000"] == 500.0 and a.loc["A", "no_youth"]
    assert a.loc["A", "weeks_since_engagement"] == 0
    assert a.loc["B", "engagement_status"] == "suppressed"
    assert np.isnan(a.loc["B", "engagements"]) and pd.isna(a.loc["B", "no_women"])
    # withheld: every engagement column empty, the reason in words, nothing else
    eng_cols = [col for col in a.columns if col not in (
        "engagement_status", "engagement_gaps", "town_population_share", "restricted_weeks_max",
        "cut_off_population", "out_of_reach_population", "out_of_reach_share",
        "access_status", "priority_rank")]
    assert a.loc["C", eng_cols].isna().all(), a.loc["C", eng_cols].dropna()
    assert a.loc["C", "engagement_status"] == "withheld"
    assert a.loc["C", "engagement_gaps"] == "engagement withheld (reprisal-sensitive area)"
    # the base's count leaves out the withheld unit and the suppressed one (20 in A, not 31):
    # base total minus the shown units must never give a suppressed unit's count away
    assert res.bases.loc[0, "engagements"] == 20
    assert res.bases.loc[0, "engagements_per_staff"] == 10
    p = res.priorities[res.priorities["kind"] == "admin unit"].set_index("admin_pcode")
    assert p.loc["C", "engagement_status"] == "withheld"
    assert "do-no-harm review" in p.loc["C", "suggested_modality"]


def test_a_hidden_cell_is_never_recoverable_from_its_unit_total() -> None:
    from geo_risk.engagement.coverage import complementary

    units = np.array(["A", "A", "A", "B", "B", "B"], dtype=object)
    n = np.array([12.0, 8.0, 2.0, 10.0, 3.0, 3.0])
    status = np.array(["engaged", "engaged", "suppressed", "engaged", "suppressed",
                       "suppressed"], dtype=object)
    out = complementary(status=status, n=n, cell_admin=units,
                        unit_total=pd.Series({"A": 22.0, "B": 16.0}), k=5)
    # A: 22 - 12 - 8 = 2 sits in one hidden cell -> nothing of A is shown;
    # B: 16 - 10 = 6 >= 5 spread over two hidden cells -> B's shown cell stays
    assert out.tolist() == ["suppressed"] * 3 + ["engaged", "suppressed", "suppressed"]
    shown = out == "engaged"
    for unit, total in (("A", 22.0), ("B", 16.0)):
        hidden = (units == unit) & ~shown & (n > 0)
        rest = total - n[(units == unit) & shown].sum()
        assert rest == 0 or (rest >= 5 and hidden.sum() >= 2)


def test_unknown_reprisal_pcode_is_an_error() -> None:
    cells = _disk(k=0)
    with pytest.raises(ConfigError, match="XZ99"):
        analyse_engagement(cells=_cells(cells, ["A"], [10]),
                           matrix=_matrix(["A"], [1], [4], ["low"]), consultations=None,
                           incidents=_incidents(), bases=None, restrictions=None, week=WEEK,
                           config=_config(reprisal_sensitive_pcodes=("XZ99",)))


# ----------------------------------------------------------------------------- gaps, priority


def test_flags_follow_up_and_priorities() -> None:
    cells = _disk(k=1)
    units = ["HI", "HI", "H2", "H2", "LO", "ST", "ST"]
    grid = _cells(cells, units, [1000, 1000, 1000, 1000, 500, 500, 500],
                  risk=[0.5, 0.5, 0.4, 0.4, 0.01, 0.01, 0.01],
                  restricted=[True, True, False, False, False, False, False])
    rows = [{"date": _days(200), "admin_pcode": "HI"}]  # rarely engaged, long ago
    rows += [{"date": _days(7 * (i % 10) + 1), "admin_pcode": "H2", "participants_women": 0,
              "commitments_made": i < 5,
              "follow_up_status": ["done", "pending", "none", "pending", "done", ""][min(i, 5)]}
             for i in range(30)]
    rows += [{"date": _days(20 * 7 + i), "admin_pcode": "ST"} for i in range(10)]
    matrix = _matrix(["HI", "H2", "LO", "ST"], [5.0, 4.0, 0.5, 0.3], [20, 16, 2, 1],
                     ["critical", "high", "low", "low"])
    res = analyse_engagement(cells=grid, matrix=matrix, consultations=_consult(rows),
                             incidents=_incidents(), bases=None, restrictions=None, week=WEEK,
                             config=_config())
    a = res.admin.set_index("admin_pcode")
    assert a["never_engaged"].tolist() == [False, False, True, False]
    assert a.loc["ST", "stale"] and not a.loc["H2", "stale"]
    assert a.loc["ST", "weeks_since_engagement"] == 20
    assert a.loc["H2", "no_women"] and not a.loc["H2", "no_youth"]
    assert a["under_engaged"].tolist() == [True, False, False, False]
    assert a.loc["HI", "under_engaged_score"] > a.loc["H2", "under_engaged_score"]
    # H2: commitments 1, 8, 15, 22, 29 days ago; the one older than 4 weeks was followed up
    assert a.loc["H2", "commitments"] == 5 and a.loc["H2", "commitments_overdue"] == 0
    res2 = analyse_engagement(cells=grid, matrix=matrix, consultations=_consult(rows),
                              incidents=_incidents(), bases=None, restrictions=None, week=WEEK,
                              config=_config(follow_up_weeks=2))
    a2 = res2.admin.set_index("admin_pcode")
    assert a2.loc["H2", "commitments_overdue"] == 2 and a2.loc["H2", "follow_up_overdue"]
    assert "2 commitment(s) past due without follow-up" in a2.loc["H2", "engagement_gaps"]
    # each commitment's own due date wins over the default: due next month is not overdue,
    # and one late commitment among several followed up is not flagged
    due = [{**r, "follow_up_due": WEEK + pd.Timedelta(days=30)} if r.get("commitments_made")
           and r["follow_up_status"] != "done" else r for r in rows]
    a3 = analyse_engagement(cells=grid, matrix=matrix, consultations=_consult(due),
                            incidents=_incidents(), bases=None, restrictions=None, week=WEEK,
                            config=_config(follow_up_weeks=2)).admin.set_index("admin_pcode")
    assert a3.loc["H2", "commitments_overdue"] == 0 and not a3.loc["H2", "follow_up_overdue"]
    # the priority list: the high-risk unit nobody visits first, with why and a modality
    p = res.priorities
    units_p = p[p["kind"] == "admin unit"]
    assert units_p["admin_pcode"].tolist()[:2] == ["HI", "H2"]
    top = units_p.iloc[0]
    assert "critical risk" in top["why"] and "under-engaged" in top["why"]
    assert top["access_status"] == "restricted" and "inside access restrictions" in top["why"]
    assert top["suggested_modality"].startswith("remote")
    assert "women-only" in units_p.iloc[1]["suggested_modality"]
    assert res.admin.set_index("admin_pcode")["priority_rank"].to_dict() == {
        "HI": 1, "H2": 2, "LO": 3, "ST": 4}
    # top cells follow: under-engaged cells only, with their H3 id as text
    cell_rows = p[p["kind"] == "cell"]
    assert len(cell_rows) and set(cell_rows["admin_pcode"]) <= {"HI", "H2"}
    assert all(h3.is_valid_cell(c) for c in cell_rows["cell"])


# ----------------------------------------------------------------------------- access, reach


def _reach_world() -> tuple[pd.DataFrame, gpd.GeoDataFrame, dict[str, int]]:
    pts = {"east_blocked": (30.10, 5.00), "north_open": (30.00, 5.10),
           "far": (30.50, 5.00), "inside": (30.05, 5.00)}
    lon = np.array([p[0] for p in pts.values()])
    lat = np.array([p[1] for p in pts.values()])
    cells = points_to_cells(lat=lat, lon=lon, resolution=RES)
    grid = _cells(cells, ["A"] * 4, [100] * 4, restricted=[False, False, False, True])
    restr = gpd.GeoDataFrame({"restriction_id": ["R"]},
                             geometry=[box(30.035, 4.97, 30.065, 5.03)], crs="EPSG:4326")
    return grid, restr, {k: i for i, k in enumerate(pts)}


def _run_reach(grid: pd.DataFrame, restr: gpd.GeoDataFrame, network: object = None
               ) -> pd.DataFrame:
    res = analyse_engagement(cells=grid, matrix=_matrix(["A"], [1], [4], ["low"]),
                             consultations=None, incidents=_incidents(), bases=_bases(),
                             restrictions=restr, week=WEEK, config=_config(base_reach_km=25),
                             network=network)  # type: ignore[arg-type]
    return res


def test_straight_line_reach_minus_restrictions() -> None:
    grid, restr, ix = _reach_world()
    res = _run_reach(grid, restr)
    status = res.cells["access_status"].tolist()
    assert status[ix["east_blocked"]] == "cut off"
    assert status[ix["north_open"]] == "reachable"
    assert status[ix["far"]] == "out of reach"
    assert status[ix["inside"]] == "restricted"
    b = res.bases.iloc[0]
    assert b["cells_in_reach"] == 3 and b["population_reachable"] == 100
    assert b["population_cut_off"] == 200  # the blocked cell and the one inside
    assert res.cells["nearest_base"].eq("Base One").all()
    assert res.metadata["access"]["measured"] == "straight line"
    # a closed base reaches nobody
    closed = analyse_engagement(cells=grid, matrix=_matrix(["A"], [1], [4], ["low"]),
                                consultations=None, incidents=_incidents(),
                                bases=_bases(close_date=pd.Timestamp("2024-01-01")),
                                restrictions=restr, week=WEEK, config=_config())
    assert closed.cells["access_status"].tolist()[ix["north_open"]] == "not assessed"


def test_network_reach_takes_the_detour(tmp_path: Path) -> None:
    grid, restr, ix = _reach_world()
    road = LineString([(30.0, 5.0), (30.05, 5.0), (30.10, 5.0)])  # through the restriction
    north = LineString([(30.0, 5.0), (30.0, 5.10)])
    detour = LineString([(30.0, 5.0), (30.0, 5.04), (30.10, 5.04), (30.10, 5.0)])
    path = tmp_path / "roads.geojson"
    gpd.GeoDataFrame({"highway": ["track", "track"]}, geometry=[road, north],
                     crs="EPSG:4326").to_file(path, driver="GeoJSON")
    from geo_risk.config import NetworkConfig

    net = read_network(NetworkConfig(path=path))
    assert net.n_nodes == 4  # the shared vertex at the base joins the two ways
    res = _run_reach(grid, restr, network=net)
    assert res.cells["access_status"].tolist()[ix["east_blocked"]] == "cut off"
    assert res.metadata["access"]["measured"] == "along the network"
    with_detour = network_from_lines(lines=gpd.GeoSeries([road, north, detour]))
    res2 = _run_reach(grid, restr, network=with_detour)
    st = res2.cells["access_status"].tolist()
    assert st[ix["east_blocked"]] == "reachable" and st[ix["north_open"]] == "reachable"
    assert st[ix["far"]] == "out of reach" and st[ix["inside"]] == "restricted"
    # a network file without lines, or missing, is a clear error
    pts = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=gpd.points_from_xy([30.0], [5.0]), crs="EPSG:4326").to_file(
        pts, driver="GeoJSON")
    with pytest.raises(InputFileError, match="no line geometries"):
        read_network(NetworkConfig(path=pts))
    with pytest.raises(GeoRiskError, match="network file not found"):
        read_network(NetworkConfig(path=tmp_path / "missing.gpkg"))


# ----------------------------------------------------------------------------- reprisals, actors


def test_reprisal_exposure_and_actors() -> None:
    cells = _disk(k=2)
    n = len(cells)
    grid = _cells(cells, ["A"] * 7 + ["B"] * (n - 7), [100] * n)
    ring = {h3.str_to_int(c) for c in h3.grid_ring(h3.int_to_str(int(cells[0])), 1)}
    nbr = next(c for c in cells if int(c) in ring)
    far = next(c for c in cells if h3.grid_distance(h3.int_to_str(int(c)),
                                                    h3.int_to_str(int(cells[0]))) == 2)
    cons = _consult([{"date": _days(5), "admin_pcode": "A", "cell": cells[0], "lon": 30.0,
                      "lat": 5.0} for _ in range(6)])
    inc = _incidents(
        [{"date": _days(3 + i), "admin_pcode": "A", "cell": nbr, "civilian_targeting": True,
          "actor1": "Group X", "actor2": "Civilians (Testland)"} for i in range(3)]
        + [{"date": _days(40), "admin_pcode": "B", "cell": far, "civilian_targeting": False,
            "actor1": "Group X", "actor2": "Group Y"},
           {"date": _days(400), "admin_pcode": "B", "cell": far, "civilian_targeting": True,
            "actor1": "Old Group", "actor2": ""}])
    res = analyse_engagement(cells=grid, matrix=_matrix(["A", "B"], [1, 1], [4, 4], ["low"] * 2),
                             consultations=cons, incidents=inc, bases=None, restrictions=None,
                             week=WEEK, config=_config())
    exp = res.cells.set_index(grid["cell"])["reprisal_exposure"]
    assert exp[cells[0]] == "exposed, rising"  # 3 in the last 4 weeks, none before
    assert (exp.drop(cells[0]) == "none").all()  # not engaged elsewhere
    a = res.admin.set_index("admin_pcode")
    assert a.loc["A", "reprisal_exposure"] == "exposed, rising"
    assert a.loc["B", "reprisal_exposure"] == "none"
    p = res.priorities[res.priorities["kind"] == "admin unit"].set_index("admin_pcode")
    assert p.loc["A", "suggested_modality"].startswith("do-no-harm review first")
    actors = actors_table(incidents=inc, week=WEEK, weeks=12)
    assert list(actors.columns) == ["admin_pcode", "actor", "incidents", "civilian_targeting"]
    rows = {(r.admin_pcode, r.actor): (r.incidents, r.civilian_targeting)
            for r in actors.itertuples()}
    # civilians are not an armed actor; old events are outside the window
    assert rows == {("A", "Group X"): (3, 3), ("B", "Group X"): (1, 0), ("B", "Group Y"): (1, 0)}


def test_breadth_towns_and_who_takes_part() -> None:
    cells = _disk(k=1)
    grid = _cells(cells, ["A"] * 7, [5000, 100, 100, 100, 100, 100, 100])
    town, village = cells[0], cells[1]
    rows = (
        [{"date": _days(10), "admin_pcode": "A", "cell": town, "participants_total": 6,
          "participants_women": 0, "modality": "consultation"} for _ in range(4)]  # elders
        + [{"date": _days(10), "admin_pcode": "A", "cell": town, "participants_total": 20,
            "participants_women": 20} for _ in range(2)]  # women's group
        + [{"date": _days(10), "admin_pcode": "A", "cell": village, "topics": "youth land"}
           for _ in range(2)]
        + [{"date": _days(10), "admin_pcode": "A", "cell": village, "participants_total": 40}
           for _ in range(2)])
    res = analyse_engagement(cells=grid, matrix=_matrix(["A"], [1], [4], ["low"]),
                             consultations=_consult(rows), incidents=_incidents(), bases=None,
                             restrictions=None, week=WEEK, config=_config())
    a = res.admin.iloc[0]
    assert a["town_engagement_share"] == 0.6  # 6 of 10 in the most populous cell
    assert a["town_population_share"] == round(5000 / 5600, 3)
    assert (a["share_leaders"], a["share_women_groups"], a["share_youth_groups"],
            a["share_community"]) == (0.4, 0.2, 0.2, 0.2)
    assert "breadth_proxy" in res.metadata


# ----------------------------------------------------------------------------- HTML, config


def test_matrix_html_is_escaped_sorted_and_self_contained() -> None:
    m = _matrix(["A", "B", "C"], [0.1, 5, 1], [2, 25, 9], ["low", "critical", "medium"])
    m.loc[0, "admin_name"] = '<script>alert("x")</script> & co'
    page = matrix_html(matrix=m, title="T <b>", week="2024-07-01", synthetic=True)
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)" in page
    assert "T &lt;b&gt;" in page and "SYNTHETIC" in page
    assert not re.search(r"""(src|href)\s*=""", page)
    order = [page.index(f"<td>{p}</td>") for p in ("B", "C", "A")]
    assert order == sorted(order)


def test_config_keys_parse_and_validate(tmp_path: Path) -> None:
    raw = {"boundaries": {"path": "b.gpkg", "pcode_column": "P", "name_column": "N"},
           "incidents": [{"path": "a.csv"}], "follow_up_weeks": 6, "base_reach_km": 40,
           "reprisal_sensitive_pcodes": ["XV0101"], "network": {"path": "roads.gpkg"},
           "engagement": {"stale_weeks": 10, "passive_modalities": ["radio_outreach"]}}
    cfg = parse_config(raw, base_dir=tmp_path, check_files=False)
    assert (cfg.follow_up_weeks, cfg.base_reach_km) == (6, 40.0)
    assert cfg.reprisal_sensitive_pcodes == ("XV0101",)
    assert cfg.network is not None and cfg.network.path == tmp_path / "roads.gpkg"
    assert cfg.engagement == EngagementConfig(stale_weeks=10,
                                              passive_modalities=("radio_outreach",))
    defaults = parse_config({k: raw[k] for k in ("boundaries", "incidents")}, base_dir=tmp_path,
                            check_files=False)
    assert (defaults.follow_up_weeks, defaults.base_reach_km, defaults.network) == (4, 25.0, None)
    bad = {**raw, "follow_up_weeks": 0, "reprisal_sensitive_pcodes": "XV0101",
           "engagement": {"stale_weeeks": 3, "passive_modalities": ["sms"],
                          "under_engaged_ratio": -1}}
    with pytest.raises(ConfigError) as e:
        parse_config(bad, base_dir=tmp_path, check_files=False)
    msg = str(e.value)
    for key in ("follow_up_weeks", "reprisal_sensitive_pcodes", "Did you mean 'stale_weeks'",
                "engagement.passive_modalities", "engagement.under_engaged_ratio"):
        assert key in msg, key


# ============================================================================= SYNTHETIC scenario

WITHHELD_UNIT = "XV0404"  # engaged, in no truth list: withheld in the scenario run
SHARED = ("risk_grid.parquet", "admin_matrix.csv", "admin_matrix.html", "priorities.csv",
          "actors.csv", "base_reach.csv", "map.html", "brief.html", "run.json")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo's SYNTHETIC scenario, scored with the fast conflictology baseline (the demo's
    model ranks the same hotspots; this keeps the test in seconds), one unit withheld."""
    from geo_risk.outputs import write_outputs
    from geo_risk.pipeline import load_inputs, run_week
    from geo_risk.synth import generate_scenario

    root = tmp_path_factory.mktemp("eng")
    files = generate_scenario(out_dir=root / "scenario", seed=42)
    cfg = dataclasses.replace(load_config(files.config),
                              model=ModelConfig(kind="conflictology"),
                              reprisal_sensitive_pcodes=(WITHHELD_UNIT,))
    inputs = load_inputs(cfg, now=pd.Timestamp(files.forecast_week))
    result = run_week(cfg, inputs=inputs)
    write_outputs(result, cfg, root / "out")
    truth = json.loads(files.truth.read_text())
    return cfg, result, root / "out", truth, files


def test_flags_match_the_truth(scenario) -> None:  # type: ignore[no-untyped-def]
    _, result, out, truth, _ = scenario
    m = pd.read_csv(out / "admin_matrix.csv").set_index("admin_pcode")

    def flagged(col: str) -> set[str]:
        return set(m.index[m[col].astype(str) == "True"])

    assert flagged("never_engaged") == set(truth["never_engaged_admin_pcodes"])
    for col in ("no_women", "no_youth"):
        # every true gap is flagged, unless suppression hides the unit's profile (then blank)
        true = set(truth[f"{col}_admin_pcodes"])
        assert flagged(col) <= true and flagged(col), col
        assert m.loc[sorted(true - flagged(col)), col].isna().all(), col
    assert set(truth["under_engaged_admin_pcodes"]) <= flagged("under_engaged")
    # beyond the truth, only high-risk units with too few engagements to show (a suppressed
    # count is never used, so such a unit counts as engaged at the lowest rate)
    extra = sorted(flagged("under_engaged") - set(truth["under_engaged_admin_pcodes"]))
    assert m.loc[extra, "engagement_status"].isin(
        ["suppressed", "not engaged", "never engaged"]).all()
    assert set(m.index[m["restricted_share"] >= 0.25]) == set(truth["restricted_admin_pcodes"])
    assert (m.loc[list(truth["restricted_admin_pcodes"]), "access_status"]
            .isin(["restricted", "partly restricted", "cut off"]).all())
    assert (m.loc[list(truth["never_engaged_admin_pcodes"]), "engagement_status"]
            == "never engaged").all()


def test_priority_list_puts_under_engaged_high_risk_on_top(scenario) -> None:  # type: ignore[no-untyped-def]
    _, result, out, truth, _ = scenario
    p = pd.read_csv(out / "priorities.csv", keep_default_na=False)
    units = p[p["kind"] == "admin unit"]
    under = truth["under_engaged_admin_pcodes"]
    assert units["admin_pcode"].tolist()[:len(under)] == under
    top = units.iloc[0]
    assert "under-engaged" in top["why"] and top["level"] in ("high", "critical")
    assert top["nearest_base"] and float(top["nearest_base_km"]) > 0
    assert (p["suggested_modality"] != "").all() and (p["why"] != "").all()
    assert len(p[p["kind"] == "cell"]) == result.parameters["engagement"]["priority_cells"]
    # the matrix row carries the same rank, and the brief shows the list
    m = pd.read_csv(out / "admin_matrix.csv").set_index("admin_pcode")
    assert m.loc[top["admin_pcode"], "priority_rank"] == 1
    run = json.loads((out / "run.json").read_text())
    ue = run["parameters"]["engagement"]["under_engaged"]
    assert "quantile" in ue["method"] and ue["rate_threshold_per_100k"] >= 0


def _raw_kobo(files) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.read_csv(files.consultations, sep=None, engine="python", dtype=str)


def test_no_shared_output_holds_a_consultation_or_a_person(scenario) -> None:  # type: ignore[no-untyped-def]
    _, _, out, _, files = scenario
    kobo = _raw_kobo(files)
    people = set(kobo["facilitator_name"].dropna()) | set(kobo["facilitator_phone"].dropna())
    uuids = set(kobo["_uuid"].dropna())
    notes = set(kobo["notes"].dropna())
    gps = set(kobo["location/gps"].dropna().head(300))
    coords = (set(kobo["_location/gps_latitude"].dropna())
              | set(kobo["_location/gps_longitude"].dropna()))
    assert len(uuids) > 1000 and len(coords) > 1000
    for name in SHARED:
        blob = (out / name).read_bytes().decode("latin-1")
        for values in (people, notes, gps):
            assert not any(v in blob for v in values), name
        found_ids = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                   blob))
        assert not found_ids & uuids, name
        # no meeting coordinate appears as a number anywhere (all of them, not a sample)
        numbers = set(re.findall(r"(?<![\d.])-?\d{1,3}\.\d{6}(?!\d)", blob))
        assert not numbers & coords, (name, sorted(numbers & coords)[:3])
    for name in ("admin_matrix.csv", "priorities.csv", "actors.csv", "base_reach.csv"):
        cols = pd.read_csv(out / name, nrows=0).columns.str.lower()
        assert not any(re.search(r"name$|phone|note|comment|email|uuid|^lat|^lon|gps|_id$", c)
                       and c not in ("admin_name", "base_name") for c in cols), (name, cols)
    grid = gpd.read_parquet(out / "risk_grid.parquet")
    assert not {"lat", "lon", "latitude", "longitude", "consultation_id", "team",
                "topics"} & set(grid.columns)


def test_suppression_holds_in_every_shared_output(scenario) -> None:  # type: ignore[no-untyped-def]
    cfg, result, out, _, files = scenario
    k = cfg.min_count
    week = result.week
    c = result.inputs.consultations
    recent = c[(c["date"] < week) & (c["date"] >= week - pd.Timedelta(weeks=12))]
    # independent recount from the placed records, per admin unit
    per_unit = recent.groupby("admin_pcode").agg(n=("date", "size"),
                                                 p=("participants_total", "sum"))
    small = set(per_unit.index[(per_unit["n"] < k) | (per_unit["p"] < k)])
    assert small, "the scenario must have small units for this test to mean anything"
    m = pd.read_csv(out / "admin_matrix.csv").set_index("admin_pcode")
    count_cols = [col for col in m.columns if col.startswith("engagements_")
                  or col in ("engagements", "reached_per_1000", "women_share", "youth_share",
                             "teams")]
    count_cols.remove("engagements_per_100k")  # over the longer profile window: below
    assert m.loc[sorted(small), count_cols].isna().all().all()
    year = c[(c["date"] < week) & (c["date"] >= week - pd.Timedelta(weeks=52))]
    per_year = year.groupby("admin_pcode").agg(n=("date", "size"),
                                               p=("participants_total", "sum"))
    small_year = sorted(set(per_year.index[(per_year["n"] < k) | (per_year["p"] < k)]))
    profile_cols = ["engagements_per_100k", "weeks_since_engagement", "no_women", "no_youth",
                    "commitments", "commitments_overdue", "share_community"]
    assert m.loc[small_year, profile_cols].isna().all().all()
    assert set(m.loc[sorted(small), "engagement_status"]) <= {"suppressed", "withheld"}
    shown = m[m["engagement_status"] == "engaged"]
    assert (shown["engagements"] >= k).all()
    page = (out / "admin_matrix.html").read_text(encoding="utf-8")
    for pcode in small - {WITHHELD_UNIT}:
        row = re.search(rf"<tr><td>[^<]*</td><td>{pcode}</td>.*?</tr>", page).group(0)
        assert "<td>suppressed</td><td></td>" in row
    p = pd.read_csv(out / "priorities.csv")
    assert not p[p["admin_pcode"].isin(small) & (p["kind"] == "admin unit")][
        "engagement_status"].eq("engaged").any()
    # per cell: records with a location, recounted independently of the engagement module
    loc = recent[recent["cell"] > 0].groupby("cell").size()
    grid = gpd.read_parquet(out / "risk_grid.parquet")
    ids = np.array([int(x, 16) for x in grid["cell"]], dtype=np.uint64)
    g = grid.assign(raw=pd.Series(ids).map(loc).fillna(0).to_numpy())
    few = g[(g["raw"] > 0) & (g["raw"] < k)]
    assert len(few) > 10 and few["engagements_12w"].isna().all()
    assert few["engagement_status"].isin(["suppressed", "withheld"]).all()
    cov = [col for col in g.columns if col.startswith("coverage_") and col != "coverage_status"]
    assert g.loc[g["coverage_status"] != "engaged", cov].isna().all().all()
    assert (g.loc[g["coverage_status"] == "engaged", "coverage_engagements"] >= k).all()
    b = pd.read_csv(out / "base_reach.csv")
    assert (b["engagements"].dropna() >= k).all()
    assert b.loc[b["engagement_status"] != "engaged", "engagements_per_staff"].isna().all()


def test_reprisal_sensitive_unit_is_withheld_everywhere(scenario) -> None:  # type: ignore[no-untyped-def]
    cfg, result, out, _, files = scenario
    m = pd.read_csv(out / "admin_matrix.csv").set_index("admin_pcode")
    row = m.loc[WITHHELD_UNIT]
    assert row["engagement_status"] == "withheld"
    keep = {"engagement_status", "engagement_gaps", "town_population_share",
            "restricted_weeks_max", "cut_off_population", "out_of_reach_population",
            "out_of_reach_share", "access_status", "priority_rank", "alert_status"}
    eng = [c for c in m.columns[m.columns.get_loc("engagement_status"):] if c not in keep]
    assert row[eng].isna().all(), row[eng].dropna()
    grid = gpd.read_parquet(out / "risk_grid.parquet")
    cells = grid[grid["admin_pcode"] == WITHHELD_UNIT]
    assert (cells["engagement_status"] == "withheld").all()
    assert (cells["coverage_status"] == "withheld").all()
    assert cells["engagements_12w"].isna().all() and cells["reprisal_exposure"].isna().all()
    assert cells["under_engaged"].isna().all()
    p = pd.read_csv(out / "priorities.csv")
    prow = p[(p["admin_pcode"] == WITHHELD_UNIT) & (p["kind"] == "admin unit")].iloc[0]
    assert prow["engagement_status"] == "withheld" and pd.isna(prow["reprisal_exposure"])
    assert not re.search(r"women|youth|commitment|engaged for|suppressed", prow["why"])
    assert not (p["kind"].eq("cell") & p["admin_pcode"].eq(WITHHELD_UNIT)).any()
    page = (out / "admin_matrix.html").read_text(encoding="utf-8")
    hrow = re.search(rf"<tr><td>[^<]*</td><td>{WITHHELD_UNIT}</td>.*?</tr>", page).group(0)
    assert "withheld" in hrow and "no women" not in hrow
    # its records are not in any base's count either (recount from the placed records)
    c = result.inputs.consultations
    recent = c[(c["date"] < result.week) & (c["date"] >= result.week - pd.Timedelta(weeks=12))]
    assert (recent["admin_pcode"] == WITHHELD_UNIT).sum() >= cfg.min_count
    # base totals count only units whose engagement is shown (never a suppressed one)
    shown_units = set(m.index[m["engagement_status"] == "engaged"])
    mission = recent[recent["admin_pcode"].isin(shown_units)
                     & (recent["modality"] != "early_warning_alert")]
    expected = mission.groupby("team").size()
    b = pd.read_csv(out / "base_reach.csv").set_index("base_name")
    shown = b["engagements"].dropna()
    assert (shown == expected.reindex(shown.index)).all()
    # and the list of sensitive units is itself not published in the run record
    assert WITHHELD_UNIT not in (out / "run.json").read_text(encoding="utf-8")


def test_access_counts_add_up(scenario) -> None:  # type: ignore[no-untyped-def]
    _, result, _, _, _ = scenario
    g = result.grid
    acc = result.parameters["engagement"]["access"]
    assert sum(acc["cells"].values()) == len(g)
    assert acc["cells"]["restricted"] == int(g["restricted"].sum())


def test_likelihood_words_follow_the_probability_shown() -> None:
    from geo_risk.analyse import LIKELIHOOD_LABELS, likelihood_legend, likelihood_scale

    p = np.linspace(0, 1, 2001)
    score, words = likelihood_scale(p)
    assert (np.diff(score) >= 0).all()  # monotone: a higher probability never a milder word
    rank = {w: i for i, w in enumerate(LIKELIHOOD_LABELS)}
    assert (np.diff([rank[w] for w in words]) >= 0).all()
    assert likelihood_scale(np.array([0.95, 0.40, 0.22]))[1].tolist() == [
        "almost certain", "possible", "unlikely"]
    assert "almost certain 90%" in likelihood_legend()


def test_reprisal_exposure_needs_targeting_after_and_near_an_engagement() -> None:
    cells = _disk(k=1)
    grid = _cells(cells, ["A"] * 7, [100] * 7)
    cons = _consult([{"date": _days(30), "admin_pcode": "A", "cell": cells[0], "lon": 30.0,
                      "lat": 5.0} for _ in range(6)])

    def exposure(inc_days: int, lon: float) -> str:
        inc = _incidents([{"date": _days(inc_days), "admin_pcode": "A", "cell": cells[0],
                           "lon": lon, "lat": 5.0, "civilian_targeting": True,
                           "actor1": "Group X", "actor2": ""}])
        res = analyse_engagement(cells=grid, matrix=_matrix(["A"], [1], [4], ["low"]),
                                 consultations=cons, incidents=inc, bases=None,
                                 restrictions=None, week=WEEK, config=_config())
        return str(res.admin.loc[0, "reprisal_exposure"])

    assert exposure(20, 30.01) == "exposed"  # 10 days after, ~1 km away
    assert exposure(40, 30.01) == "none"  # before the engagement
    assert exposure(20, 30.5) == "none"  # 55 km away
    assert exposure(1, 30.01) == "none"  # 29 days after: outside the 28-day window


def test_unit_access_sums_are_those_of_pivot_tables_on_the_names() -> None:
    """unit_access groups by integer positions; the people, cell counts and maximum
    restricted weeks per unit are those of the pivot tables it replaced (cells of units
    outside the matrix and unknown statuses left out alike)."""
    from geo_risk.engagement.access import ACCESS, unit_access

    rng = np.random.default_rng(5)
    n = 400
    units = np.array(["U1", "U2", "U3", "U4"], dtype=object)  # U4 has no cell
    cell_admin = rng.choice(["U1", "U2", "U3", "ZZ"], n).astype(object)
    access = rng.choice([*ACCESS, "odd"], n).astype(object)
    pop = rng.gamma(2.0, 500.0, n) * (rng.random(n) > 0.2)
    restricted = rng.random(n) > 0.7
    weeks = rng.integers(0, 9, n).astype(float)
    got = unit_access(units=units, cell_admin=cell_admin, pop=pop, access=access,
                      restricted=restricted, restricted_weeks=weeks)
    acc = pd.DataFrame({"u": cell_admin, "pop": pop, "access": access,
                        "rw": np.where(restricted, weeks, 0.0)})
    by = acc.pivot_table(index="u", columns="access", values="pop", aggfunc="sum",
                         fill_value=0.0).reindex(index=units, columns=list(ACCESS)).fillna(0.0)
    assert np.array_equal(got["cut_off_population"].to_numpy(),
                          by["cut off"].round(0).to_numpy())
    assert np.array_equal(got["out_of_reach_population"].to_numpy(),
                          by["out of reach"].round(0).to_numpy())
    rw = acc.groupby("u")["rw"].max().reindex(units).fillna(0).to_numpy().astype(int)
    assert np.array_equal(got["restricted_weeks_max"].to_numpy(), rw)
    people = by.to_numpy() / np.where(by.to_numpy().sum(axis=1) > 0,
                                      by.to_numpy().sum(axis=1), 1.0)[:, None]
    out_of_reach = people[:, list(ACCESS).index("out of reach")].round(3)
    assert np.array_equal(got["out_of_reach_share"].to_numpy()[:3], out_of_reach[:3])
