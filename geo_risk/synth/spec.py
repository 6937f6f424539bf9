"""What to generate (:class:`ScenarioSpec`) and what was written (:class:`ScenarioFiles`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from geo_risk.errors import ConfigError


@dataclass(frozen=True)
class ScenarioSpec:
    """What to generate.

    Parameters
    ----------
    start : str
        First day of the history, ``YYYY-MM-DD``; must be a Monday.
    weeks : int
        Weeks of history written. The forecast week starts ``weeks * 7`` days after ``start``.
    bbox : tuple of float
        ``(lon_min, lat_min, lon_max, lat_max)`` the country is drawn inside (WGS 84).
    n_adm1, n_adm2 : int
        Number of admin-1 and admin-2 units (admin-2 units nest in admin-1 units).
    n_bases : int
        Mission bases (team sites).
    h3_resolution : int
        H3 resolution of the grid the conflict process is simulated on.
    incident_scale : float
        Multiplies all episode rates (about 3.5k incidents over 260 weeks at 1.0; benchmarks
        that need volume raise it).
    events_per_episode : float
        Mean ACLED rows one violent episode writes in its cell and week (>= 1): real events
        come in clusters (a clash, then looting and arrests in the same place).
    population_total : float
        People in the country (sum of the population raster).
    kobo_delimiter : str
        Field separator of the KoBo CSV export. KoBoToolbox's own default is ``";"``.
    """

    start: str = "2021-01-04"
    weeks: int = 260
    bbox: tuple[float, float, float, float] = (30.0, 4.0, 34.5, 8.0)
    n_adm1: int = 5
    n_adm2: int = 36
    n_bases: int = 8
    h3_resolution: int = 7
    incident_scale: float = 1.0
    events_per_episode: float = 3.0
    population_total: float = 8_000_000
    kobo_delimiter: str = ";"

    @classmethod
    def sparse(cls, **overrides: object) -> ScenarioSpec:
        """The ``sparse`` preset: real-like sparsity (0.042% of res-6 cell-weeks with an event
        for seed 42, ~5 events a week country-wide, most of them in and around the capital).

        Parameters
        ----------
        **overrides
            Any other field of the spec.

        Returns
        -------
        ScenarioSpec
        """
        fields: dict[str, object] = {"incident_scale": 0.3, "events_per_episode": 5.0}
        fields.update(overrides)
        return cls(**fields)  # type: ignore[arg-type]

    @classmethod
    def preset(cls, name: str, **overrides: object) -> ScenarioSpec:
        """A named preset: ``"default"`` or ``"sparse"``.

        Parameters
        ----------
        name : str
            Preset name (one of :data:`PRESETS`).
        **overrides
            Any other field of the spec.

        Returns
        -------
        ScenarioSpec

        Raises
        ------
        ConfigError
            If the name is not a preset.
        """
        if name == "sparse":
            return cls.sparse(**overrides)
        if name == "default":
            return cls(**overrides)  # type: ignore[arg-type]
        raise ConfigError(f"unknown scenario preset {name!r}; use one of {list(PRESETS)}")


#: Scenario presets accepted by ``geo-risk synth --preset`` and :meth:`ScenarioSpec.preset`.
PRESETS = ("default", "sparse")


@dataclass(frozen=True)
class ScenarioFiles:
    """Paths of everything :func:`generate_scenario` wrote, and headline counts.

    ``n_incidents`` counts the valid ACLED rows (the deliberately bad rows, ``n_bad_rows``, come
    on top). ``weekly_base_rate`` is the mean share of simulated cells with at least one event
    per week of history.
    """

    out_dir: Path
    boundaries: Path
    incidents: Path
    consultations: Path
    access_restrictions: Path
    population: Path
    bases: Path
    truth: Path
    truth_cells: Path
    config: Path
    readme: Path
    forecast_week: date
    seed: int
    n_incidents: int
    n_bad_rows: int
    n_consultations: int
    n_restrictions: int
    n_cells: int
    weekly_base_rate: float
    perceptions: Path | None = None  # perception survey, one row per respondent


def _validate(spec: ScenarioSpec) -> date:
    try:
        start = date.fromisoformat(spec.start)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"scenario start {spec.start!r} is not a YYYY-MM-DD date") from exc
    if start.weekday() != 0:
        raise ConfigError(f"scenario start {spec.start} must be a Monday")
    if spec.weeks < 8:
        raise ConfigError(f"scenario weeks must be at least 8, got {spec.weeks}")
    if len(spec.bbox) != 4:
        raise ConfigError("scenario bbox must be (lon_min, lat_min, lon_max, lat_max)")
    lon_min, lat_min, lon_max, lat_max = spec.bbox
    if not (-180 <= lon_min < lon_max <= 180 and -75 <= lat_min < lat_max <= 75):
        raise ConfigError(f"scenario bbox {spec.bbox} is not a valid lon/lat box")
    if lon_max - lon_min < 0.5 or lat_max - lat_min < 0.5:
        raise ConfigError("scenario bbox must be at least 0.5 degrees on each side")
    if (lon_max - lon_min) * (lat_max - lat_min) > 150:
        raise ConfigError("scenario bbox is too large (more than 150 square degrees)")
    if spec.n_adm1 < 1 or spec.n_adm2 < max(spec.n_adm1, 2):
        raise ConfigError("need n_adm1 >= 1 and n_adm2 >= max(n_adm1, 2)")
    if spec.n_bases < 1:
        raise ConfigError("need at least one base")
    if not 4 <= spec.h3_resolution <= 9:
        raise ConfigError("h3_resolution must be between 4 and 9")
    if not spec.incident_scale > 0 or not spec.population_total > 0:
        raise ConfigError("incident_scale and population_total must be positive")
    if not spec.events_per_episode >= 1:
        raise ConfigError("events_per_episode must be at least 1")
    if len(spec.kobo_delimiter) != 1 or spec.kobo_delimiter in '"\n\r':
        raise ConfigError("kobo_delimiter must be one character (not a quote or newline)")
    return start

