"""Configuration of the community's voice over time: ``[perceptions]``, ``[topics]`` and
``[benchmarks]`` (read by :func:`geo_risk.config.parse_config`, used by
:mod:`geo_risk.engagement.voice`).

Kept apart from :mod:`geo_risk.config` so that module stays small; the checks report through
the same collector, so every problem of a config is still listed at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config_checks import Problems as _Problems
from .config_checks import number as _num
from .schemas import MODALITIES

#: Likert-style canonical columns a perception measure can read (1 low .. 5 high).
LIKERT_COLUMNS = ("safety_score", "trust_score")



@dataclass(frozen=True)
class PerceptionConfig:
    """How perceptions are summarised (:mod:`geo_risk.engagement.perceptions`).

    ``measures`` maps a measure name shown in outputs to a Likert column of the canonical
    consultation table (map the source question onto that column with the source's
    ``columns`` option). Records of ``modalities`` with a value are the responses; each record
    counts once (a respondent, or a group's collective answer) and ``respondents`` sums their
    participants. A period is ``period_weeks`` long; the change is this period's mean minus the
    previous period's, with a Welch ``confidence`` interval; a change whose interval holds 0 is
    "within noise".
    """

    measures: tuple[tuple[str, str], ...] = (("safety", "safety_score"),
                                             ("trust", "trust_score"))
    modalities: tuple[str, ...] = ("perception_survey",)
    period_weeks: int = 13
    confidence: float = 0.95
    series_weeks: int = 26


@dataclass(frozen=True)
class TopicConfig:
    """Grievances and needs by topic (:mod:`geo_risk.engagement.topics`).

    ``names``: the select-multiple choices reported (empty = every choice that at least
    ``min_count`` records raise; only choice-like words, never free text).
    """

    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class BenchmarkConfig:
    """The mission's engagement benchmarks (:mod:`geo_risk.engagement.benchmarks`).

    Each target is optional (None = not set). Every weekly value is measured over the
    ``window_weeks`` before that week. ``engagements_per_100k``: mission engagements per
    100,000 people per window in each high-risk unit (matrix level in ``high_risk_levels``);
    ``women_share`` / ``youth_share``: minimum share of participants; ``follow_up_share`` of
    the commitments due in the window (due on their own date, else ``follow_up_weeks`` after)
    are done; ``alert_response_share`` of the alerts of the window had a response within
    ``alert_response_hours`` (needs a ``response_hours`` column; else "no data").
    """

    engagements_per_100k: float | None = None
    women_share: float | None = None
    youth_share: float | None = None
    follow_up_weeks: int | None = None
    follow_up_share: float = 0.8
    alert_response_hours: float | None = None
    alert_response_share: float = 0.8
    window_weeks: int = 13
    high_risk_levels: tuple[str, ...] = ("high", "critical")

    @property
    def any_set(self) -> bool:
        """True when the mission set at least one target."""
        return any(v is not None for v in (self.engagements_per_100k, self.women_share,
                                            self.youth_share, self.follow_up_weeks,
                                            self.alert_response_hours))


@dataclass(frozen=True)
class VoiceConfig:
    """The three sections together (``RunConfig.voice``)."""

    perceptions: PerceptionConfig = field(default_factory=PerceptionConfig)
    topics: TopicConfig = field(default_factory=TopicConfig)
    benchmarks: BenchmarkConfig = field(default_factory=BenchmarkConfig)


VOICE_KEYS = ("perceptions", "topics", "benchmarks")


def _words(c: _Problems, key: str, value: Any, allowed: tuple[str, ...] | None) -> Any:
    if not (isinstance(value, list) and all(isinstance(x, str) and x.strip() for x in value)
            and (allowed is None or all(x in allowed for x in value))):
        hint = f" from {list(allowed)}" if allowed is not None else ""
        c.add(key, f"must be a list of words{hint}.")
        return None
    return tuple(x.strip() for x in value)


def _section(c: _Problems, raw: Mapping[str, Any], name: str, known: set[str]
             ) -> dict[str, Any]:
    sec = raw.get(name, {})
    if not isinstance(sec, dict):
        c.add(name, f"must be a table: [{name}] with keys {sorted(known)}.")
        return {}
    c.unknown(f"{name}.", set(sec), known)
    return sec


def parse_voice(c: _Problems, raw: Mapping[str, Any]) -> VoiceConfig:
    """Check ``[perceptions]``, ``[topics]`` and ``[benchmarks]`` of a parsed config.

    Parameters
    ----------
    c : geo_risk.config._Collector
        Collects each problem with its key.
    raw : mapping
        The parsed TOML document.

    Returns
    -------
    VoiceConfig
        Defaults where a key is absent or wrong (the problem is reported).
    """
    p = _section(c, raw, "perceptions", set(PerceptionConfig.__dataclass_fields__))
    pk: dict[str, Any] = {}
    if "measures" in p:
        m = p["measures"]
        if not (isinstance(m, dict) and m and all(isinstance(k, str) and k.isidentifier()
                                                  and v in LIKERT_COLUMNS
                                                  for k, v in m.items())):
            c.add("perceptions.measures", "must map a measure name to a Likert column, e.g. "
                  f"{{ safety = \"safety_score\", trust = \"trust_score\" }} (columns: "
                  f"{list(LIKERT_COLUMNS)}; map the survey question onto one with the "
                  "source's columns option).")
        else:
            pk["measures"] = tuple((str(k), str(v)) for k, v in m.items())
    if "modalities" in p and (v := _words(c, "perceptions.modalities", p["modalities"],
                                          MODALITIES)) is not None:
        pk["modalities"] = v
    for key, kind, lo, hi in (("period_weeks", int, 1, 104), ("confidence", float, 0.5, 0.999),
                              ("series_weeks", int, 26, 520)):
        if key in p and (v := _num(c, f"perceptions.{key}", p[key], kind, lo, hi)) is not None:
            pk[key] = v
    t = _section(c, raw, "topics", {"names"})
    tk: dict[str, Any] = {}
    if "names" in t and (v := _words(c, "topics.names", t["names"], None)) is not None:
        tk["names"] = tuple(x.casefold() for x in v)
    b = _section(c, raw, "benchmarks", set(BenchmarkConfig.__dataclass_fields__))
    bk: dict[str, Any] = {}
    for key, kind, lo, hi in (
        ("engagements_per_100k", float, 0, 10**6), ("women_share", float, 0, 1),
        ("youth_share", float, 0, 1), ("follow_up_weeks", int, 1, 520),
        ("follow_up_share", float, 0, 1), ("alert_response_hours", float, 0, 10**4),
        ("alert_response_share", float, 0, 1), ("window_weeks", int, 1, 104),
    ):
        if key in b and (v := _num(c, f"benchmarks.{key}", b[key], kind, lo, hi)) is not None:
            bk[key] = v
    if "high_risk_levels" in b and (v := _words(
            c, "benchmarks.high_risk_levels", b["high_risk_levels"],
            ("low", "medium", "high", "critical"))) is not None:
        bk["high_risk_levels"] = v
    return VoiceConfig(perceptions=PerceptionConfig(**pk), topics=TopicConfig(**tk),
                       benchmarks=BenchmarkConfig(**bk))


__all__ = ["LIKERT_COLUMNS", "VOICE_KEYS", "BenchmarkConfig", "PerceptionConfig",
           "TopicConfig", "VoiceConfig", "parse_voice"]
