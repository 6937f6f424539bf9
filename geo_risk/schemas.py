"""The canonical data model: what every reader produces and every later stage relies on.

Readers turn ACLED/UCDP/KoBo/... files into these tables; nothing after the readers knows
about source formats. Each table is a pandas (or GeoPandas) frame with exactly these columns
plus two provenance columns, ``source_file`` and ``source_row`` (1-based data row number as
a spreadsheet shows it, header = row 1), so a later rejection can still name file and row.

Dates are ``datetime64[ns]`` at day precision (naive, UTC calendar day). Coordinates are
WGS 84 longitude/latitude in degrees. Missing values are NaN/NaT/None, never sentinels.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    dtype: str  # "str", "date", "datetime", "float", "int", "bool", "category", "geometry"
    required: bool
    description: str


@dataclass(frozen=True)
class Table:
    """A canonical table: its name and columns."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


PROVENANCE = ("source_file", "source_row")

#: ``geo_precision`` codes, ACLED's scale: 1 = the named town/village, 2 = within a small area
#: near it, 3 = only the admin unit (or larger) is known. UCDP's ``where_prec`` is mapped onto
#: the same scale by the UCDP reader.
GEO_PRECISION_EXACT = 1
GEO_PRECISION_NEAR = 2
GEO_PRECISION_ADMIN = 3

INCIDENT = Table(
    "incident",
    (
        Column("event_id", "str", True, "Unique id in its source (ACLED event_id_cnty)."),
        Column("date", "date", True, "Day the event happened (start day for multi-day events)."),
        Column("end_date", "date", False, "Last day of multi-day events (UCDP), else date."),
        Column("lon", "float", False, "Longitude, WGS 84; NaN when only the admin unit is known."),
        Column("lat", "float", False, "Latitude, WGS 84; NaN when only the admin unit is known."),
        Column("geo_precision", "int", True, "1 exact place, 2 near a place, 3 admin unit only."),
        Column("time_precision", "int", True, "1 day, 2 week, 3 month (ACLED scale)."),
        Column("event_type", "category", True, "Event type, e.g. 'Violence against civilians'."),
        Column("sub_event_type", "category", False, "Sub-type, e.g. 'Attack'; empty in old files."),
        Column("actor1", "str", False, "Primary actor."),
        Column("actor2", "str", False, "Second actor or target."),
        Column("fatalities", "int", True, "Reported fatalities (UCDP: best estimate)."),
        Column("civilian_targeting", "bool", True, "True when civilians were the target."),
        Column("admin_pcode", "str", False, "Admin P-code when the source gives it (gazetteer)."),
        Column("source", "str", False, "Reporting source(s)."),
        Column("notes", "str", False, "Free-text description."),
    ),
)

#: Engagement modalities geo-risk knows; readers map source values onto these.
MODALITIES = (
    "community_meeting",
    "consultation",
    "perception_survey",
    "early_warning_alert",
    "radio_outreach",
    "remote_engagement",
    "other",
)

CONSULTATION = Table(
    "consultation",
    (
        Column("consultation_id", "str", True, "Unique id of the engagement record."),
        Column("date", "date", True, "Day the engagement took place."),
        Column("lon", "float", False, "Longitude of the meeting place (never published raw)."),
        Column("lat", "float", False, "Latitude of the meeting place (never published raw)."),
        Column("admin_pcode", "str", False, "Admin P-code when only the unit is recorded."),
        Column("modality", "category", True, "One of MODALITIES."),
        Column("participants_total", "int", True, "People taking part."),
        Column("participants_women", "int", False, "Of whom women (NaN if not recorded)."),
        Column("participants_youth", "int", False, "Of whom youth (NaN if not recorded)."),
        Column("team", "str", False, "Base or team that held it."),
        Column("topics", "str", False, "Space-separated topics (KoBo select-multiple style)."),
        Column("safety_score", "float", False, "Perceived safety score (1 low .. 5 high)."),
        Column("trust_score", "float", False, "Trust in the mission score (1 low .. 5 high)."),
        Column("commitments_made", "bool", False, "Whether the mission made commitments."),
        Column("follow_up_status", "str", False, "none / pending / done."),
        Column("follow_up_due", "date", False, "When the commitment's follow-up is due."),
        Column("component", "category", False, "Mission component that engaged (COMPONENTS)."),
        Column("alert_type", "str", False, "Early-warning alerts: kind of threat reported."),
        Column("received_at", "datetime", False, "Alerts: when the mission received it."),
        Column("responded_at", "datetime", False, "Alerts: when the mission responded."),
        Column("response", "str", False, "Alerts: what the mission did ('' = not recorded)."),
        Column("response_base", "str", False, "Alerts: the base that responded."),
    ),
)

#: Mission components that engage communities; readers map source values onto these.
COMPONENTS = (
    "civil_affairs",
    "military",
    "police",
    "human_rights",
    "leadership_visit",
    "other",
)

#: Columns that identify people. Readers drop them unless the config keeps them for local use;
#: no shared output ever contains them.
SENSITIVE_CONSULTATION_COLUMNS = (
    "name",
    "facilitator_name",
    "respondent_name",
    "participant_names",
    "phone",
    "facilitator_phone",
    "phone_number",
    "notes",
    "comments",
    "email",
    "sender_name",
    "sender_phone",
    "sender_number",
)

#: Restriction severities, ordered; readers map words or numbers onto 1..3.
SEVERITIES = {"low": 1, "medium": 2, "high": 3}

ACCESS_RESTRICTION = Table(
    "access_restriction",
    (
        Column("restriction_id", "str", True, "Unique id."),
        Column("start_date", "date", True, "First day in force."),
        Column("end_date", "date", False, "Last day in force; NaT while still in force."),
        Column("geometry", "geometry", True, "Area (points and lines are buffered to polygons)."),
        Column("cause", "category", True, "armed_group, government_denial, terrain_weather, ..."),
        Column("severity", "int", True, "1 low, 2 medium, 3 high."),
    ),
)

BASE = Table(
    "base",
    (
        Column("base_name", "str", True, "Name of the base or team site."),
        Column("lon", "float", True, "Longitude."),
        Column("lat", "float", True, "Latitude."),
        Column("open_date", "date", False, "Opened (NaT = before all data)."),
        Column("close_date", "date", False, "Closed (NaT = still open)."),
        Column("liaison_staff", "int", True, "Community liaison staff at the base."),
        Column("female_liaison_staff", "int", False,
               "Of whom women (NaN when the base table does not record it)."),
    ),
)

FOCAL_POINT = Table(
    "focal_point",
    (
        Column("focal_point_id", "str", True, "Id of the registered early-warning focal point."),
        Column("registered", "date", True, "Day the focal point was registered."),
        Column("ended", "date", False, "Day it stopped (NaT = still active)."),
        Column("lon", "float", False, "Longitude (never published)."),
        Column("lat", "float", False, "Latitude (never published)."),
        Column("admin_pcode", "str", False, "Admin P-code when only the unit is recorded."),
        Column("base", "str", False, "Base that manages the focal point."),
    ),
)

ADMIN_UNIT = Table(
    "admin_unit",
    (
        Column("admin_pcode", "str", True, "P-code of the unit (the join key)."),
        Column("admin_name", "str", True, "Name of the unit."),
        Column("admin_level", "int", True, "Admin level (1, 2, 3)."),
        Column("parent_pcode", "str", False, "P-code of the parent unit."),
        Column("geometry", "geometry", True, "Polygon or multipolygon, WGS 84."),
    ),
)

TABLES = {t.name: t for t in (INCIDENT, CONSULTATION, ACCESS_RESTRICTION, BASE, ADMIN_UNIT,
                              FOCAL_POINT)}
