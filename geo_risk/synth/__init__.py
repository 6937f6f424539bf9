"""Synthetic scenario generator: a fictional country, "Veridia", written in real file formats.

``geo-risk synth`` and ``geo-risk demo`` call :func:`generate_scenario`. It writes the files a
JMAC analyst would have (COD-AB style boundaries, an ACLED-style export, a KoBo export of a
community-engagement form, access restrictions, a WorldPop-style raster, mission bases) for a
country that does not exist, plus the ground truth the files were drawn from, so the pipeline,
the models and the maps can be tested against known answers. Everything is labelled SYNTHETIC.

One module per generated source: :mod:`.boundaries` (country, admin units, towns),
:mod:`.population` (raster and the H3 cells the process runs on), :mod:`.bases`,
:mod:`.conflict` (the weekly conflict process), :mod:`.incidents` (the ACLED export),
:mod:`.restrictions`, :mod:`.consultations` (the KoBo export, early-warning alerts included),
:mod:`.truth`, :mod:`.scenario` (the writer, config and README) and :mod:`.spec`.

Deterministic: every random draw comes from ``numpy.random.default_rng`` streams spawned from the
seed; no global random state and no wall clock, so the same seed gives byte-identical CSV,
GeoJSON and JSON files.
"""

from __future__ import annotations

from ._common import ACLED_COLUMNS, COUNTRY_NAME, KOBO_COLUMNS
from .scenario import generate_scenario
from .spec import PRESETS, ScenarioFiles, ScenarioSpec
from .stats import scenario_statistics

__all__ = [
    "ACLED_COLUMNS",
    "COUNTRY_NAME",
    "KOBO_COLUMNS",
    "PRESETS",
    "ScenarioFiles",
    "ScenarioSpec",
    "generate_scenario",
    "scenario_statistics",
]
