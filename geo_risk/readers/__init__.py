"""Readers: source formats in, canonical tables (see :mod:`geo_risk.schemas`) out."""

from .common import InputReport, ReadResult
from .consultations import read_consultations
from .incidents import read_acled, read_incident_csv, read_incidents
from .spatial import read_bases, read_boundaries, read_restrictions
from .tabular import parse_dates, read_table

__all__ = [
    "InputReport",
    "ReadResult",
    "parse_dates",
    "read_acled",
    "read_bases",
    "read_boundaries",
    "read_consultations",
    "read_incident_csv",
    "read_incidents",
    "read_restrictions",
    "read_table",
]
