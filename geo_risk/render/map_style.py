"""Colours, class breaks and fixed limits shared by ``map.html`` and ``map.png``."""

from __future__ import annotations

#: Simplification tolerance (degrees, about 220 m at the equator) for boundaries and
#: restriction areas. Boundaries are simplified as one coverage (shared borders stay shared,
#: :mod:`geo_risk.render.coverage`); restrictions, which overlap, polygon by polygon.
BOUNDARY_SIMPLIFY_DEG = 0.002
#: At most this many past weeks are offered in the week selector (most recent kept).
MAX_HISTORY_WEEKS = 26

#: Upper bounds of the probability classes (last class open-ended up to 1).
RISK_BREAKS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
RISK_COLOURS = (
    "#fff7d1",
    "#fee79b",
    "#fed070",
    "#fdae4b",
    "#f88b3a",
    "#ec5f2e",
    "#d3362b",
    "#a8182f",
    "#6b0a2e",
)
#: Upper bounds (percentage points) of the change classes.
CHANGE_BREAKS_PP = (-10.0, -5.0, -2.0, -0.5, 0.5, 2.0, 5.0, 10.0)
CHANGE_COLOURS = (
    "#1f4e8c",
    "#3b78b7",
    "#76a8d3",
    "#b9d5ea",
    "#f4f4f2",
    "#f6c1a6",
    "#e9866a",
    "#c94a3b",
    "#8e1b22",
)
NO_DATA_COLOUR = "#d4d4d4"
_KNOWN_TREND = {
    "onset": "#7b1d8f",
    "new": "#7b1d8f",
    "emerging": "#7b1d8f",
    "intensifying": "#d3362b",
    "rising": "#d3362b",
    "increasing": "#d3362b",
    "up": "#d3362b",
    "persistent": "#f08a3a",
    "sporadic": "#f5c95c",
    "stable": "#a3a3a3",
    "steady": "#a3a3a3",
    "diminishing": "#3b78b7",
    "falling": "#3b78b7",
    "decreasing": "#3b78b7",
    "declining": "#3b78b7",
    "down": "#3b78b7",
    "none": "#ededed",
    "no history": "#ededed",
    "quiet": "#ededed",
}
_KNOWN_ENGAGEMENT = {
    "engaged": "#2b8a4b",
    "regularly engaged": "#2b8a4b",
    "rarely engaged": "#f0a33a",
    "no women": "#8e5bb5",
    "no youth": "#b58ed6",
    "never engaged": "#c8553d",
    "not engaged": "#f4a582",
    "suppressed": "#9a9a9a",
    "withheld": "#6f6f6f",
}
#: Restriction outline/hatch colour per severity (1 low, 2 medium, 3 high), as in ``map.js``.
SEVERITY_COLOURS = {1: "#9c7400", 2: "#d9480f", 3: "#7a0019"}
SEVERITY_TEXT = {1: "low", 2: "medium", 3: "high"}
#: Colour of each admin level of the risk matrix (map, brief and GIS styles).
LEVEL_COLOURS = {"critical": "#8c0d26", "high": "#dc4b2f", "medium": "#f7a35c", "low": "#fde7c4"}
_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666")

_REQUIRED_GRID = ("cell", "risk", "admin_pcode", "admin_name")
_PROB_COLUMNS = ("risk_low", "risk_high", "risk_prev")
_TEXT_COLUMNS = ("risk_band", "trend", "drivers", "under_engaged_reason")
_COUNT_COLUMNS = ("incidents_4w", "incidents_52w")
