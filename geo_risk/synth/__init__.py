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

How realistic (:func:`scenario_statistics` at H3 res 6, measured 2026-12-01 with
``benchmarks/bench_synth_realism.py``; real ACLED exports: 0.04% of cell-weeks with an event,
~20% onsets, AP conflictology ~0.21 >= historical average ~0.17 >> persistence ~0.06):

============== ========= ====== =========== ==============================================
run            base rate onsets events/week AP conflictology / historical avg / persistence
============== ========= ====== =========== ==============================================
default, 42    0.136%    19%    11.9        0.130 / 0.088 / 0.061
default, 1     0.124%    26%    10.7        0.134 / 0.049 / 0.042
default, 2     0.110%    24%    10.1        0.207 / 0.158 / 0.115
sparse, 42     0.042%    36%    5.4         0.095 / 0.023 / 0.025
============== ========= ====== =========== ==============================================

Truth (``truth.json``) is what the files were drawn from; its engagement gaps are the clear
cases: ``under_engaged_admin_pcodes`` lists units whose true expected incident cells over the
last 8 weeks of history are at least twice the top-quarter cut of units and that the mission
rarely visited in the last year (by design the remote conflict zone's unit).

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
