"""Readers: source formats in, canonical tables (see :mod:`geo_risk.schemas`) out."""

from .bases import read_bases
from .common import InputReport, ReadResult
from .consultations import read_consultations
from .hxl import read_hxl_consultations
from .incidents import read_acled, read_incident_csv, read_incidents
from .spatial import read_boundaries, read_restrictions
from .tabular import parse_dates, read_table
from .ucdp import read_ucdp

__all__ = [
    "InputReport",
    "ReadResult",
    "parse_dates",
    "read_acled",
    "read_bases",
    "read_boundaries",
    "read_consultations",
    "read_hxl_consultations",
    "read_incident_csv",
    "read_incidents",
    "read_restrictions",
    "read_table",
    "read_ucdp",
]
