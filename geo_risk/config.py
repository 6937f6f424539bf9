"""Run configuration: a TOML file read into frozen dataclasses.

Every problem in a configuration is collected and reported at once (file, key, what to do),
and relative paths are resolved against the folder of the configuration file, so a config
and its data can be moved together.
"""

from __future__ import annotations

import codecs
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_checks import number as _number
from .errors import ConfigError, Problem
from .schemas import MODALITIES, SENSITIVE_CONSULTATION_COLUMNS
from .voice_config import VOICE_KEYS, VoiceConfig, parse_voice

INCIDENT_FORMATS = ("acled", "ucdp", "csv")
CONSULTATION_FORMATS = ("kobo", "hxl", "csv")

#: Options a source entry may carry besides path/format/name, per kind of input.
SOURCE_OPTIONS = {
    "incidents": {"columns", "sheet", "layer", "event_type", "max_where_prec",
                  "stale_after_days", "encoding", "id_column"},
    "consultations": {"columns", "tags", "sheet", "modality", "sensitive_columns",
                      "stale_after_days", "encoding", "one_row_per_respondent",
                      "components"},
    "access_restrictions": {"sheet", "layer", "default_radius_km", "default_buffer_km",
                            "stale_after_days", "encoding"},
    "bases": {"sheet", "encoding", "columns"},
    "focal_points": {"sheet", "encoding", "columns", "sensitive_columns"},
}
BASES_FORMATS = ("csv", "panel")


@dataclass(frozen=True)
class SourceConfig:
    """One input file: where it is, its format, and format options (column mappings...)."""

    path: Path
    format: str
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BoundariesConfig:
    path: Path
    pcode_column: str
    name_column: str
    layer: str | None = None
    parent_pcode_column: str | None = None
    level: int = 2
    # Other names of each unit for the gazetteer (None = detect COD-AB columns such as
    # ADM2_FR, ADM2ALT1EN, admin2RefN) and the parent unit's name column (None = detect).
    alt_name_columns: tuple[str, ...] | None = None
    parent_name_column: str | None = None


@dataclass(frozen=True)
class PopulationConfig:
    path: Path
    # For a per-admin CSV table instead of a raster:
    pcode_column: str | None = None
    population_column: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    """Which scorer the weekly run uses, and its parameters.

    ``kind`` is "model" (calibrated LightGBM, the default) or a baseline: "persistence",
    "historical_average", "conflictology". ``half_lives_weeks`` are the decay half-lives of
    the incident history features.
    """

    kind: str = "model"
    half_lives_weeks: tuple[float, ...] = (1.0, 4.0, 26.0, 104.0)
    training_weeks: int = 104
    inactive_sample: int = 20000
    max_rows: int = 150_000  # training rows after thinning the negatives (all positives kept)
    n_estimators: int = 100
    n_seeds: int = 2
    seed: int = 0
    history_weeks: int = 4  # weeks scored for the map's week selector (forecast week included)
    #: Every candidate is checked out of sample on the newest block of the training weeks
    #: (about a third) when that block has at least this many weeks; with kind "model" the
    #: week is scored by whichever did best there (0 = no check; geo_risk.validation).
    validation_weeks: int = 13
    #: The scorer is retrained (and validated) in weeks that are multiples of this many weeks
    #: and reused until then (see geo_risk.forecast.Plan); 1 = every week.
    retrain_every_weeks: int = 4


@dataclass(frozen=True)
class MatrixConfig:
    """How likelihood and impact map to 1..5 scores and scores to a level.

    ``likelihood_bins`` are cut points on the probability of at least one incident in the
    admin unit next week (rare / unlikely / possible / likely / almost certain; see
    :func:`geo_risk.analyse.likelihood_scale`); ``exposure_bins`` on expected people exposed
    (sum over cells of population x probability); ``civilian_bins`` on civilian-targeting
    incidents in the last 12 weeks; ``fatality_bins`` on reported fatalities in the last 12
    weeks. Impact is the largest of the three impact scores. The level comes from
    likelihood x impact (1..25) against ``level_cuts``: <= low, <= medium, <= high, else critical.

    ``bins = "data"`` (the default) replaces the three bin lists in each run by quantiles
    ``bin_quantiles`` of the data (:func:`geo_risk.analyse.matrix_bins`): likelihood of the
    past unit-weeks' out-of-fold forecasts, civilian targeting of the past unit-weeks'
    12-week counts, exposure of this week's units; ``bins = "fixed"`` uses the lists as given.
    """

    bins: str = "data"
    bin_quantiles: tuple[float, ...] = (0.4, 0.7, 0.9, 0.97)
    likelihood_bins: tuple[float, ...] = (0.1, 0.3, 0.6, 0.9)
    exposure_bins: tuple[float, ...] = (1000.0, 5000.0, 20000.0, 50000.0)
    civilian_bins: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0)
    fatality_bins: tuple[float, ...] = (1.0, 5.0, 20.0, 50.0)
    level_cuts: tuple[int, int, int] = (4, 9, 16)


@dataclass(frozen=True)
class NetworkConfig:
    """A road or path network (OSM-style lines) along which reach from bases is measured."""

    path: Path
    layer: str | None = None


@dataclass(frozen=True)
class EngagementConfig:
    """Tuning of the engagement-gap analysis (:mod:`geo_risk.engagement`).

    ``profile_weeks`` is the longer look-back for who the mission hears from (the
    under-engaged rate and the no-women / no-youth flags); coverage itself uses the run's
    ``engagement_weeks``. A unit is *under-engaged* when its expected incidents are at or above
    the ``under_engaged_risk_quantile`` of all units and its mission engagements per 100,000
    people over ``profile_weeks`` are at most ``under_engaged_ratio`` x the median of the
    engaged units; a cell when its risk is at or above ``cell_risk_quantile`` of populated
    cells and its coverage is below ``min_count``. *Stale*: engaged before, none in the last
    ``stale_weeks``. ``passive_modalities`` come from communities (SMS alerts), not visits: they
    count as coverage but not as mission engagement. Towns are the most populous cell of each
    unit and cells of at least ``town_density_km2`` people per km². Meetings of at most
    ``leader_max_participants`` people with under 20% women stand in for leaders/elders.
    Commitments made in the last ``follow_up_lookback_weeks`` count for follow-up.
    ``priority_cells``: how many cells the priority list adds after the admin units.
    A unit's follow-up is overdue when at least ``follow_up_overdue_share`` of its due
    commitments (own due date, else ``follow_up_weeks`` after) are not done. Reprisal
    exposure: civilians targeted within ``reprisal_window_days`` after and
    ``reprisal_distance_km`` of a mission engagement.
    """

    profile_weeks: int = 52
    stale_weeks: int = 8
    under_engaged_risk_quantile: float = 0.75
    under_engaged_ratio: float = 0.25
    cell_risk_quantile: float = 0.95
    town_density_km2: float = 1000.0
    leader_max_participants: int = 10
    follow_up_lookback_weeks: int = 52
    passive_modalities: tuple[str, ...] = ("early_warning_alert",)
    priority_cells: int = 20
    follow_up_overdue_share: float = 0.5
    reprisal_window_days: int = 28
    reprisal_distance_km: float = 10.0


@dataclass(frozen=True)
class AlertsConfig:
    """Early-warning alerts and their response (:mod:`geo_risk.engagement.alerts`).

    Alerts of the last ``window_days`` before the forecast week are shown (aggregated per cell
    and unit) and their response times measured; a response within
    ``response_within_hours`` counts as timely. A unit has an *alert channel* when an alert
    came from it or a registered focal point was active there in the last ``channel_weeks``;
    a *network gap* is a populated unit without one whose expected incident cells are at or
    above the ``high_risk_quantile`` of units.
    """

    window_days: int = 28
    response_within_hours: float = 24.0
    channel_weeks: int = 12
    high_risk_quantile: float = 0.75


@dataclass(frozen=True)
class RunConfig:
    """Everything one weekly run needs."""

    config_path: Path | None
    boundaries: BoundariesConfig
    incidents: tuple[SourceConfig, ...]
    consultations: tuple[SourceConfig, ...] = ()
    access_restrictions: tuple[SourceConfig, ...] = ()
    population: PopulationConfig | None = None
    bases: SourceConfig | None = None
    title: str = "Weekly protection-risk map"
    synthetic: bool = False
    h3_resolution: int = 7
    admin_tolerance_km: float = 2.0
    hex_max_geo_precision: int = 2
    stale_after_days: int = 14
    engagement_weeks: int = 12
    min_count: int = 5
    forecast_week: str | None = None
    # Engagement gaps, access and do-no-harm (geo_risk.engagement).
    follow_up_weeks: int = 4
    base_reach_km: float = 25.0
    reprisal_sensitive_pcodes: tuple[str, ...] = ()
    network: NetworkConfig | None = None
    engagement: EngagementConfig = field(default_factory=EngagementConfig)
    # Consultation columns never read (personal data): these defaults plus the config's list.
    sensitive_columns: tuple[str, ...] = SENSITIVE_CONSULTATION_COLUMNS
    # Similarity (0..1) a misspelt admin or place name needs to match a boundary name.
    gazetteer_min_similarity: float = 0.8
    # Map colour classes: "data" (from this week's distribution) or "fixed" (absolute).
    map_classes: str = "data"
    model: ModelConfig = field(default_factory=ModelConfig)
    matrix: MatrixConfig = field(default_factory=MatrixConfig)
    #: Folder of the weekly run's state (geo_risk.state); None = ".geo-risk" next to the config.
    state_dir: Path | None = None
    # Perceptions, topics and benchmarks over time (geo_risk.engagement.voice).
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    # Alert network and response (geo_risk.engagement.alerts).
    focal_points: SourceConfig | None = None
    alerts: AlertsConfig = field(default_factory=AlertsConfig)


_TOP_KEYS = {
    "title", "synthetic", "h3_resolution", "admin_tolerance_km", "hex_max_geo_precision",
    "stale_after_days",
    "engagement_weeks", "min_count", "forecast_week", "boundaries", "incidents",
    "consultations", "access_restrictions", "population", "bases", "model", "matrix",
    "sensitive_columns", "gazetteer_min_similarity", "map_classes",
    "follow_up_weeks", "base_reach_km", "reprisal_sensitive_pcodes", "network", "engagement",
    "state_dir",
    *VOICE_KEYS,
    "focal_points", "alerts",
}
_SOURCE_KEYS = {"path", "format", "name"}
_BOUNDARY_KEYS = {"path", "layer", "pcode_column", "name_column", "parent_pcode_column", "level",
                  "alt_name_columns", "parent_name_column"}


class _Collector:
    """Collects problems so the user sees all of them in one go."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, f"[{key}] {message}"))

    def unknown(self, section: str, keys: set[str], known: set[str]) -> None:
        for key in sorted(keys - known):
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Known keys: {sorted(known)}."
            self.add(f"{section}{key}", f"unknown key.{hint}")


def _path(c: _Collector, base: Path, key: str, value: Any, must_exist: bool) -> Path:
    if not isinstance(value, str) or not value:
        c.add(key, "needs 'path = \"file\"' naming an input file.")
        return Path()
    p = Path(value).expanduser()
    p = p if p.is_absolute() else base / p
    if must_exist and not p.exists():
        c.add(key, f"file not found: {p}. Check the path (relative paths start at the "
              "config folder).")
    return p


def _source(c: _Collector, base: Path, key: str, raw: Any, formats: tuple[str, ...] | None,
            default_format: str, must_exist: bool) -> SourceConfig | None:
    if not isinstance(raw, dict):
        c.add(key, "must be a table with at least 'path'.")
        return None
    fmt = str(raw.get("format", default_format)).lower()
    kind = key.split("[", 1)[0]
    if kind in SOURCE_OPTIONS:
        c.unknown(f"{key}.", set(raw) - _SOURCE_KEYS, SOURCE_OPTIONS[kind])
    if formats is not None and fmt not in formats:
        c.add(f"{key}.format", f"unknown format {fmt!r}; use one of {list(formats)}.")
    path = _path(c, base, f"{key}.path", raw.get("path"), must_exist)
    options = {k: v for k, v in raw.items() if k not in _SOURCE_KEYS}
    if "encoding" in options:
        try:
            codecs.lookup(str(options["encoding"]))
        except LookupError:
            c.add(f"{key}.encoding", f"unknown encoding {options['encoding']!r}; use e.g. "
                  "\"utf-8\", \"cp1252\", \"utf-16\" or \"latin-1\", or remove the key to "
                  "let geo-risk detect it.")
    return SourceConfig(path=path, format=fmt, name=str(raw.get("name", path.name)),
                        options=options)


def _sources(c: _Collector, base: Path, key: str, raw: Any, formats: tuple[str, ...] | None,
             default_format: str, must_exist: bool) -> tuple[SourceConfig, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, item in enumerate(items):
        s = _source(c, base, f"{key}[{i}]", item, formats, default_format, must_exist)
        if s is not None:
            out.append(s)
    return tuple(out)


def parse_config(raw: Mapping[str, Any], *, base_dir: Path, config_path: Path | None = None,
                 check_files: bool = True) -> RunConfig:
    """Turn a parsed TOML mapping into a :class:`RunConfig`, reporting every problem at once.

    Parameters
    ----------
    raw
        The parsed TOML document.
    base_dir
        Folder that relative paths are resolved against.
    config_path
        The file it came from, for messages and provenance.
    check_files
        Also check that every named input file exists.

    Raises
    ------
    ConfigError
        Listing every problem found, each with the key to change.
    """
    c = _Collector(str(config_path or "<config>"))
    c.unknown("", set(raw), _TOP_KEYS)
    kw: dict[str, Any] = {}

    b = raw.get("boundaries")
    boundaries = None
    if not isinstance(b, dict):
        c.add("boundaries", "missing. Add a [boundaries] table with path, pcode_column, "
              "name_column.")
    else:
        c.unknown("boundaries.", set(b), _BOUNDARY_KEYS)
        for k in ("pcode_column", "name_column"):
            if not isinstance(b.get(k), str):
                c.add(f"boundaries.{k}", "missing: name the column of the boundary file "
                      "(e.g. ADM2_PCODE / ADM2_EN; `geo-risk validate` lists the columns).")
        level = b.get("level", 2)
        alt = b.get("alt_name_columns")
        if alt is not None and not (isinstance(alt, list)
                                    and all(isinstance(x, str) for x in alt)):
            c.add("boundaries.alt_name_columns", "must be a list of column names.")
            alt = None
        boundaries = BoundariesConfig(
            path=_path(c, base_dir, "boundaries.path", b.get("path"), check_files),
            pcode_column=str(b.get("pcode_column", "")),
            name_column=str(b.get("name_column", "")),
            layer=b.get("layer"),
            parent_pcode_column=b.get("parent_pcode_column"),
            level=_number(c, "boundaries.level", level, int, 0, 5) or 2,
            alt_name_columns=tuple(alt) if alt is not None else None,
            parent_name_column=b.get("parent_name_column"),
        )

    incidents = _sources(c, base_dir, "incidents", raw.get("incidents"), INCIDENT_FORMATS,
                         "acled", check_files)
    if not incidents:
        c.add("incidents", "no incident file. Add at least one [[incidents]] table with path "
              "and format (acled | ucdp | csv).")
    consultations = _sources(c, base_dir, "consultations", raw.get("consultations"),
                             CONSULTATION_FORMATS, "kobo", check_files)
    restrictions = _sources(c, base_dir, "access_restrictions", raw.get("access_restrictions"),
                            None, "auto", check_files)
    bases = _sources(c, base_dir, "bases", raw.get("bases"), BASES_FORMATS, "csv", check_files)
    if len(bases) > 1:
        c.add("bases", "give one bases file.")

    pop = raw.get("population")
    population = None
    if isinstance(pop, dict):
        population = PopulationConfig(
            path=_path(c, base_dir, "population.path", pop.get("path"), check_files),
            pcode_column=pop.get("pcode_column"),
            population_column=pop.get("population_column"),
        )
    elif pop is not None:
        c.add("population", "must be a table with 'path'.")

    for key, kind, lo, hi in (
        ("h3_resolution", int, 0, 15),
        ("admin_tolerance_km", float, 0, 100),
        ("hex_max_geo_precision", int, 1, 3),
        ("stale_after_days", int, 1, 3650),
        ("engagement_weeks", int, 1, 520),
        ("min_count", int, 1, 1000),
        ("follow_up_weeks", int, 1, 520),
        ("base_reach_km", float, 0.1, 2000),
    ):
        if key in raw:
            value = _number(c, key, raw[key], kind, lo, hi)
            if value is not None:
                kw[key] = value
    if "title" in raw:
        kw["title"] = str(raw["title"])
    if "state_dir" in raw:
        sd = raw["state_dir"]
        if not isinstance(sd, str) or not sd.strip():
            c.add("state_dir", "must be a folder path (relative paths start at the config "
                  "folder), e.g. state_dir = \".geo-risk\".")
        else:
            p = Path(sd).expanduser()
            kw["state_dir"] = p if p.is_absolute() else base_dir / p
    if "synthetic" in raw:
        kw["synthetic"] = bool(raw["synthetic"])
    if "map_classes" in raw:
        if raw["map_classes"] in ("data", "fixed"):
            kw["map_classes"] = raw["map_classes"]
        else:
            c.add("map_classes", '"data" (map colours from this week\'s distribution) or "fixed" '
                  "(absolute probability classes).")
    if "forecast_week" in raw:
        kw["forecast_week"] = str(raw["forecast_week"])
    if "sensitive_columns" in raw:
        sc = raw["sensitive_columns"]
        if not (isinstance(sc, list) and all(isinstance(x, str) and x.strip() for x in sc)):
            c.add("sensitive_columns", "must be a list of column names (or HXL tags) holding "
                  "personal data, e.g. [\"respondent_name\", \"#contact+phone\"].")
        else:
            # The built-in list always applies: a config can add columns, never remove them.
            kw["sensitive_columns"] = tuple(dict.fromkeys(
                [*SENSITIVE_CONSULTATION_COLUMNS, *(x.strip() for x in sc)]))
    if "gazetteer_min_similarity" in raw:
        value = _number(c, "gazetteer_min_similarity", raw["gazetteer_min_similarity"], float,
                        0.5, 1.0)
        if value is not None:
            kw["gazetteer_min_similarity"] = value

    _engagement_keys(c, raw, base_dir, kw, check_files)
    kw["voice"] = parse_voice(c, raw)
    _alert_keys(c, raw, base_dir, kw, check_files)

    model = raw.get("model", {})
    if isinstance(model, dict):
        known = {"kind", "half_lives_weeks", "training_weeks", "inactive_sample", "max_rows",
                 "n_estimators", "n_seeds", "seed", "history_weeks", "validation_weeks",
                 "retrain_every_weeks"}
        c.unknown("model.", set(model), known)
        m: dict[str, Any] = {}
        if "kind" in model:
            kinds = ("model", "persistence", "historical_average", "conflictology")
            if model["kind"] not in kinds:
                c.add("model.kind", f"unknown model {model['kind']!r}; use one of {list(kinds)}.")
            else:
                m["kind"] = model["kind"]
        if "half_lives_weeks" in model:
            hl = model["half_lives_weeks"]
            if not (isinstance(hl, list) and hl and all(isinstance(x, (int, float)) and x > 0
                                                       for x in hl)):
                c.add("model.half_lives_weeks", "must be a list of positive numbers of weeks.")
            else:
                m["half_lives_weeks"] = tuple(float(x) for x in hl)
        for key, lo, hi in (("training_weeks", 8, 2000), ("inactive_sample", 0, 10**7),
                            ("max_rows", 1000, 10**8), ("n_estimators", 10, 5000),
                            ("n_seeds", 1, 20), ("seed", 0, 2**31), ("history_weeks", 1, 26),
                            ("validation_weeks", 0, 104), ("retrain_every_weeks", 1, 52)):
            if key in model:
                value = _number(c, f"model.{key}", model[key], int, lo, hi)
                if value is not None:
                    m[key] = value
        kw["model"] = ModelConfig(**m)

    matrix = raw.get("matrix", {})
    if isinstance(matrix, dict):
        known = {"bins", "bin_quantiles", "likelihood_bins", "exposure_bins", "civilian_bins",
                 "fatality_bins", "level_cuts"}
        c.unknown("matrix.", set(matrix), known)
        mm: dict[str, Any] = {}
        if "bins" in matrix:
            if matrix["bins"] in ("data", "fixed"):
                mm["bins"] = matrix["bins"]
            else:
                c.add("matrix.bins", '"data" (cut points from this run\'s data) or "fixed" '
                      "(likelihood_bins, exposure_bins, civilian_bins, fatality_bins as "
                      "given).")
        for key, n in (("bin_quantiles", 4), ("likelihood_bins", 4), ("exposure_bins", 4),
                       ("civilian_bins", 4), ("fatality_bins", 4), ("level_cuts", 3)):
            if key in matrix:
                v = matrix[key]
                if not (isinstance(v, list) and len(v) == n and v == sorted(v)):
                    c.add(f"matrix.{key}", f"must be a list of {n} increasing numbers.")
                elif key == "bin_quantiles" and not all(0 < x < 1 for x in v):
                    c.add("matrix.bin_quantiles", "must be quantiles between 0 and 1, e.g. "
                          "[0.4, 0.7, 0.9, 0.97].")
                elif key == "likelihood_bins" and not all(0 < x < 1 for x in v):
                    c.add("matrix.likelihood_bins", "must be probabilities between 0 and 1 "
                          "(of at least one incident in the unit next week), e.g. "
                          "[0.1, 0.3, 0.6, 0.9]; they are no longer counts of incidents.")
                else:
                    mm[key] = tuple(v)
        kw["matrix"] = MatrixConfig(**mm)

    if c.problems or boundaries is None:
        raise ConfigError("\n".join(str(p) for p in c.problems))
    return RunConfig(
        config_path=config_path,
        boundaries=boundaries,
        incidents=incidents,
        consultations=consultations,
        access_restrictions=restrictions,
        population=population,
        bases=bases[0] if bases else None,
        **kw,
    )


def _engagement_keys(c: _Collector, raw: Mapping[str, Any], base_dir: Path,
                     kw: dict[str, Any], check_files: bool) -> None:
    """Validate reprisal_sensitive_pcodes, [network] and [engagement] into ``kw``."""
    if "reprisal_sensitive_pcodes" in raw:
        rs = raw["reprisal_sensitive_pcodes"]
        if not (isinstance(rs, list) and all(isinstance(x, str) and x.strip() for x in rs)):
            c.add("reprisal_sensitive_pcodes", "must be a list of admin P-codes, e.g. "
                  "[\"SS0101\"]: engagement there is never shown, not even aggregated.")
        else:
            kw["reprisal_sensitive_pcodes"] = tuple(dict.fromkeys(x.strip() for x in rs))
    net = raw.get("network")
    if isinstance(net, dict):
        c.unknown("network.", set(net), {"path", "layer"})
        layer = net.get("layer")
        if layer is not None and not isinstance(layer, str):
            c.add("network.layer", "must be the name of a layer of the network file.")
            layer = None
        kw["network"] = NetworkConfig(
            path=_path(c, base_dir, "network.path", net.get("path"), check_files), layer=layer)
    elif net is not None:
        c.add("network", "must be a table with 'path' naming a file of road or path lines.")
    eng = raw.get("engagement", {})
    if not isinstance(eng, dict):
        c.add("engagement", "must be a table of engagement settings.")
        return
    known = set(EngagementConfig.__dataclass_fields__)
    c.unknown("engagement.", set(eng), known)
    e: dict[str, Any] = {}
    for key, kind, lo, hi in (
        ("profile_weeks", int, 1, 520), ("stale_weeks", int, 1, 520),
        ("under_engaged_risk_quantile", float, 0, 1), ("under_engaged_ratio", float, 0, 10),
        ("cell_risk_quantile", float, 0, 1), ("town_density_km2", float, 0, 10**6),
        ("leader_max_participants", int, 1, 10**4),
        ("follow_up_lookback_weeks", int, 1, 520), ("priority_cells", int, 0, 10**4),
        ("follow_up_overdue_share", float, 0, 1), ("reprisal_window_days", int, 1, 3650),
        ("reprisal_distance_km", float, 0, 1000),
    ):
        if key in eng:
            value = _number(c, f"engagement.{key}", eng[key], kind, lo, hi)
            if value is not None:
                e[key] = value
    if "passive_modalities" in eng:
        pm = eng["passive_modalities"]
        if not (isinstance(pm, list) and all(isinstance(x, str) and x in MODALITIES
                                             for x in pm)):
            c.add("engagement.passive_modalities", f"must be a list of modalities from "
                  f"{list(MODALITIES)}.")
        else:
            e["passive_modalities"] = tuple(pm)
    kw["engagement"] = EngagementConfig(**e)


def _alert_keys(c: _Collector, raw: Mapping[str, Any], base_dir: Path, kw: dict[str, Any],
                check_files: bool) -> None:
    """Validate [focal_points] and [alerts] into ``kw``."""
    if "focal_points" in raw:
        fp = _sources(c, base_dir, "focal_points", raw["focal_points"], None, "csv",
                      check_files)
        if len(fp) > 1:
            c.add("focal_points", "give one focal-point file.")
        elif fp:
            kw["focal_points"] = fp[0]
    al = raw.get("alerts", {})
    if not isinstance(al, dict):
        c.add("alerts", "must be a table of alert settings (window_days, ...).")
        return
    c.unknown("alerts.", set(al), set(AlertsConfig.__dataclass_fields__))
    a: dict[str, Any] = {}
    for key, kind, lo, hi in (("window_days", int, 1, 3650),
                              ("response_within_hours", float, 0.1, 24 * 365),
                              ("channel_weeks", int, 1, 520),
                              ("high_risk_quantile", float, 0, 1)):
        if key in al:
            value = _number(c, f"alerts.{key}", al[key], kind, lo, hi)
            if value is not None:
                a[key] = value
    kw["alerts"] = AlertsConfig(**a)


def load_config(path: str | Path, *, check_files: bool = True) -> RunConfig:
    """Read a TOML configuration file.

    Raises
    ------
    ConfigError
        When the file is missing, is not valid TOML, or has wrong or missing keys.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: configuration file not found.")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML ({e}). Fix the line it names.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file; save it as UTF-8.") from None
    return parse_config(raw, base_dir=p.resolve().parent, config_path=p, check_files=check_files)
