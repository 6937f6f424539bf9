"""Who engaged and how the mission answered: the mission component of an engagement record and
the response fields of an early-warning alert log, shared by the KoBo/CSV and HXL readers.

* ``component``: the mission component that held the engagement (civil affairs, military,
  police, human rights, a leadership visit). Source values are mapped by the built-in aliases
  and the source's ``components = { "CA" = "civil_affairs" }`` option; an unknown value is a
  rejected row that names the value and the option to add.
* Alert logs: ``alert_type`` (kind of threat), ``received_at`` (when the alert came in; when
  the log has no such column, the date column is used if it carries a time of day),
  ``responded_at``, ``response`` (what was done; ``none``/``no`` = no response) and
  ``response_base``. A response time that cannot be read, or that lies before the alert was
  received, rejects the row.

No sender number or name is read: those columns stay sensitive (dropped by the readers).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import ConfigError
from ..schemas import COMPONENTS
from ..validate import Check
from .common import text
from .tabular import parse_dates, unparsed

#: Source values understood without a mapping (lower case, spaces/hyphens as "_").
COMPONENT_ALIASES = {
    "ca": "civil_affairs", "civil_affairs": "civil_affairs", "cad": "civil_affairs",
    "cla": "civil_affairs", "mil": "military", "military": "military", "force": "military",
    "troops": "military", "police": "police", "unpol": "police", "fpu": "police",
    "hr": "human_rights", "hrd": "human_rights", "human_rights": "human_rights",
    "leadership": "leadership_visit", "leadership_visit": "leadership_visit",
    "srsg": "leadership_visit", "town_hall_leadership": "leadership_visit", "other": "other",
}
#: ``response`` values meaning that the mission did not respond.
NO_RESPONSE = ("none", "no", "no response", "no_response", "not responded", "pending", "0")
_TIME_OF_DAY = r"\d{1,2}:\d\d"


def _key(values: pd.Series) -> pd.Series:
    """Values stripped, lower case, runs of spaces/hyphens as "_" (same dtype as ``values``).

    Done once per distinct value: a log has a handful of components and alert types.
    """
    codes, uniques = pd.factorize(values, sort=False)
    if (codes < 0).any():  # missing values: keep them where they are
        return values.str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)
    keys = pd.Series(uniques, dtype=values.dtype).str.strip().str.lower().str.replace(
        r"[\s\-]+", "_", regex=True)
    return pd.Series(keys.array.take(codes), index=values.index, dtype=keys.dtype)


def component_mapping(source: SourceConfig) -> dict[str, str]:
    """The source's ``components`` option merged over the aliases (keys normalised).

    Raises
    ------
    ConfigError
        When the option is not a table or maps onto an unknown component.
    """
    raw = source.options.get("components", {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source.path}: components must be a table such as components = "
                          "{ CA = \"civil_affairs\", UNPOL = \"police\" }.")
    out = dict(COMPONENT_ALIASES)
    bad = {str(k): str(v) for k, v in raw.items() if str(v) not in COMPONENTS}
    if bad:
        raise ConfigError(f"{source.path}: components maps {bad} onto unknown components; use "
                          f"one of {', '.join(COMPONENTS)}.")
    keys = _key(pd.Series([str(k) for k in raw], dtype=object))
    out.update(dict(zip(keys, (str(v) for v in raw.values()), strict=True)))
    return out


def engagement_fields(f: pd.DataFrame, cols: Mapping[str, str | None], *,
                      source: SourceConfig, path: Path, date_column: str | None,
                      date: pd.Series | None = None
                      ) -> tuple[dict[str, pd.Series], list[Check]]:
    """Component and alert-response columns of a table, and the checks that reject rows.

    Parameters
    ----------
    f : pandas.DataFrame
        The source rows (text), not modified.
    cols : mapping
        Canonical name to source column (``component``, ``alert_type``, ``received_at``,
        ``responded_at``, ``response``, ``response_base``; missing keys = not in the file).
    source : SourceConfig
        The source entry (``components`` option).
    path : Path
        The file, for messages.
    date_column : str, optional
        The record's date column: its time of day (if any) is the alert's received time when
        no ``received_at`` column is mapped.
    date : pandas.Series, optional
        ``date_column`` already parsed by :func:`~geo_risk.readers.tabular.parse_dates`
        (the caller has it): saves parsing it again.

    Returns
    -------
    tuple
        The canonical columns (aligned with ``f``) and the row checks.
    """
    del path  # messages name the column; the file is named by the rejects table
    mapping = component_mapping(source)
    comp_col = cols.get("component")
    comp_text = text(f, comp_col)
    comp = _key(comp_text).map(mapping)
    unknown = (comp_text != "") & comp.isna()
    recv_col = cols.get("received_at")
    recv_text = text(f, recv_col) if recv_col else text(f, date_column)
    if not recv_col:  # a date without a time of day says nothing about hours
        recv_text = recv_text.where(recv_text.str.contains(_TIME_OF_DAY, regex=True), "")
    received = parse_dates(recv_text, keep_time=True)
    resp_col = cols.get("responded_at")
    resp_text = text(f, resp_col)
    responded = parse_dates(resp_text, keep_time=True)
    if date_column:
        day = date if date is not None else parse_dates(text(f, date_column))
    else:
        day = received.dt.normalize()
    start = received.fillna(day)
    before = (responded < start).to_numpy()
    columns = {
        "component": comp.fillna("").astype(object),
        "alert_type": _key(text(f, cols.get("alert_type"))).str.replace("_", " "),
        "received_at": received,
        "responded_at": responded,
        "response": text(f, cols.get("response")).str.lower(),
        "response_base": text(f, cols.get("response_base")),
    }
    checks = [
        Check(unknown.to_numpy(), comp_col or "component",
              f"unknown mission component; use one of {', '.join(COMPONENTS)} or map the value "
              "in the config: components = { \"<value>\" = \"civil_affairs\" }"),
        Check(unparsed(recv_text, received).to_numpy(), recv_col or "received_at",
              "time the alert was received not understood; write it as YYYY-MM-DD HH:MM"),
        Check(unparsed(resp_text, responded).to_numpy(), resp_col or "responded_at",
              "response time not understood; write it as YYYY-MM-DD HH:MM"),
        Check(before & ~unparsed(resp_text, responded).to_numpy(), resp_col or "responded_at",
              "the response is dated before the alert was received; check both times"),
    ]
    return columns, checks


def responded(response: pd.Series, responded_at: pd.Series) -> np.ndarray:
    """Whether the mission responded: a response time, or a response other than 'none'."""
    said = response.fillna("").astype(str).str.strip().str.lower()
    return (responded_at.notna() | ((said != "") & ~said.isin(NO_RESPONSE))).to_numpy(bool)


__all__ = ["COMPONENT_ALIASES", "NO_RESPONSE", "component_mapping", "engagement_fields",
           "responded"]
