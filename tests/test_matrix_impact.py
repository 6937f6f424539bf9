"""The matrix's impact score: lethal violence counts even without a population raster."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from geo_risk.analyse import admin_matrix, fatality_history, matrix_bins
from geo_risk.config import MatrixConfig

WEEK = pd.Timestamp("2024-01-01")


def _inputs(fatalities_a: float) -> tuple[pd.DataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    cells = pd.DataFrame({"admin_pcode": ["A", "A", "B", "B"], "risk": [0.5, 0.4, 0.5, 0.4],
                          "risk_prev": [0.5, 0.4, 0.5, 0.4], "population": np.nan,
                          "restricted": False})
    admin = gpd.GeoDataFrame({"admin_pcode": ["A", "B"], "admin_name": ["Alpha", "Beta"]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    days = pd.to_datetime(["2023-12-04", "2023-12-11", "2023-12-18"])
    incidents = pd.DataFrame({
        "date": list(days) * 2, "admin_pcode": ["A"] * 3 + ["B"] * 3,
        "civilian_targeting": False,
        "fatalities": [fatalities_a] * 3 + [0.0] * 3})
    return cells, admin, incidents


def test_units_with_many_fatalities_and_no_population_get_a_higher_impact_and_level() -> None:
    cells, admin, incidents = _inputs(fatalities_a=20.0)
    m = admin_matrix(cells=cells, admin=admin, incidents=incidents, week=WEEK,
                     cfg=MatrixConfig(bins="fixed")).set_index("admin_pcode")
    # 60 deaths in 12 weeks: above the last fixed cut point (50) -> "severe", driven by them
    assert m.loc["A", "impact_label"] == "severe"
    assert m.loc["A", "impact_driver"] == "fatalities"
    # the same likelihood with no deaths, no civilians targeted and no population: minimal
    assert m.loc["B", "impact_label"] == "minimal" and m.loc["B", "impact_driver"] == ""
    levels = ["low", "medium", "high", "critical"]
    assert levels.index(m.loc["A", "level"]) > levels.index(m.loc["B", "level"])


def test_data_fatality_bins_come_from_past_unit_weeks_and_ignore_the_forecast_week() -> None:
    _, _, incidents = _inputs(fatalities_a=4.0)
    later = pd.DataFrame({"date": [WEEK, WEEK + pd.Timedelta(days=3)], "admin_pcode": "A",
                          "civilian_targeting": False, "fatalities": [1000.0, 1000.0]})
    hist = fatality_history(pd.concat([incidents, later], ignore_index=True), week=WEEK)
    # 12-week sums of unit A's deaths before the week: 4, 8 and then 12 for weeks 3..12
    assert hist.max() == 12.0 and hist.min() == 4.0
    bins = matrix_bins(MatrixConfig(), fatalities=np.repeat(hist, 3))
    # quantiles of those sums (strictly increasing), not the fixed fallback (1, 5, 20, 50)
    assert 4.0 <= bins.fatalities[0] <= 12.0 and bins.fatalities[-1] < 20.0
    assert bins.as_dict()["fatality_bins"] == [round(x, 2) for x in bins.fatalities]
