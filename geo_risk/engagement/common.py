"""Shared pieces of the engagement analysis: constants, small vectorised helpers, and the
engagement records reduced to the numeric measures every other module aggregates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schemas import MODALITIES

SUPPRESSED = "suppressed"
WITHHELD = "withheld"
_DONE = ("done", "completed", "complete", "closed", "yes")
_EARTH_KM = 6371.0088

def _haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
                  ) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(np.asarray(lon2) - lon1) / 2) ** 2)
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _local_xy(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    """Equirectangular kilometres around ``lat0``: good enough to find neighbours."""
    return np.column_stack([np.asarray(lon, float) * 111.32 * np.cos(np.radians(lat0)),
                            np.asarray(lat, float) * 110.57])


def _pct_rank(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Percentile rank (0..1], ties averaged, among ``mask``; NaN outside it."""
    v = pd.Series(np.asarray(values, dtype=float))
    if mask is not None:
        v = v.where(mask)
    return v.rank(pct=True, method="average").to_numpy()


def _join_text(parts: list[np.ndarray], sep: str = "; ") -> np.ndarray:
    """Element-wise join of string arrays, skipping empty strings (a loop over parts only)."""
    out = np.asarray(parts[0], dtype=object)
    for p in parts[1:]:
        p = np.asarray(p, dtype=object)
        both = (out != "") & (p != "")
        out = np.where(both, out + sep + p, np.where(p != "", p, out))
    return out


def _fmt(template: str, values: np.ndarray) -> np.ndarray:
    """``template % value`` element-wise on numbers (numpy string formatting, no row loop)."""
    return np.char.mod(template, np.asarray(values)).astype(object)


def _in_window(dates: pd.Series, week: pd.Timestamp, weeks: int) -> np.ndarray:
    d = dates.to_numpy()
    return np.asarray((d < week.to_datetime64())
                      & (d >= (week - pd.Timedelta(weeks=weeks)).to_datetime64()))


def _weeks_since(last: np.ndarray, week: pd.Timestamp) -> np.ndarray:
    """Whole weeks from a date to the Monday of the forecast week (0 = less than 7 days
    before it); NaN if NaT."""
    days = (week.to_datetime64() - np.asarray(last, dtype="datetime64[ns]")).astype(
        "timedelta64[D]").astype(float)
    days[np.isnat(np.asarray(last, dtype="datetime64[ns]"))] = np.nan
    return np.floor(days / 7)


def _nullable(values: np.ndarray, shown: np.ndarray) -> pd.Series:
    """A nullable boolean column: the value where ``shown``, <NA> elsewhere."""
    return pd.Series(np.asarray(values, dtype=bool)).astype("boolean").where(shown, pd.NA)


def _records(consultations: pd.DataFrame | None, *, week: pd.Timestamp,
             withheld: frozenset[str], passive: tuple[str, ...]) -> pd.DataFrame:
    """Engagement records before ``week`` outside withheld units, with numeric measures.

    Only the columns needed for aggregation are kept (no id, no free text). The meeting
    point (``lon``/``lat``, NaN when only the unit is known) is kept for the reprisal
    distance test only; no output carries it. ``due`` is the commitment's own follow-up due
    date where the form records one (``follow_up_due``), else NaT.
    """
    if consultations is None:
        consultations = pd.DataFrame({
            "date": pd.Series(dtype="datetime64[ns]"), "cell": pd.Series(dtype=np.uint64),
            **{col: pd.Series(dtype=object) for col in (
                "admin_pcode", "modality", "participants_total", "participants_women",
                "participants_youth", "team", "topics", "commitments_made",
                "follow_up_status")}})
    c = consultations
    keep = (c["date"] < week) & ~c["admin_pcode"].astype(str).isin(withheld)
    # only the columns read below travel through the row filter (the table has many more)
    c = c.loc[keep, [col for col in _READ if col in c.columns]]

    def opt(name: str, default: object) -> pd.Series:  # optional canonical columns
        return c[name] if name in c else pd.Series(default, index=c.index, dtype=object)

    total = pd.to_numeric(c["participants_total"], errors="coerce").fillna(0).clip(lower=0)
    women = pd.to_numeric(opt("participants_women", np.nan), errors="coerce").astype(float)
    youth = pd.to_numeric(opt("participants_youth", np.nan), errors="coerce").astype(float)
    modality = c["modality"].astype(str)
    modality = modality.where(modality.isin(MODALITIES), "other")
    status, made = opt("follow_up_status", ""), opt("commitments_made", False)
    out = pd.DataFrame({
        "date": c["date"].to_numpy(),
        "admin_pcode": c["admin_pcode"].astype(str).to_numpy(),
        "cell": c["cell"].to_numpy(np.uint64),
        "modality": modality.to_numpy(),
        "team": opt("team", "").fillna("").astype(str).str.strip().str.casefold().to_numpy(),
        "topics": opt("topics", "").fillna("").astype(str).str.casefold().to_numpy(),
        "n": 1.0,
        "mission": (~modality.isin(passive)).to_numpy(float),
        "part": total.to_numpy(float),
        "women": women.fillna(0).to_numpy(),
        "women_rec": np.where(women.notna(), total, 0.0),
        "youth": youth.fillna(0).to_numpy(),
        "youth_rec": np.where(youth.notna(), total, 0.0),
        "made": made.fillna(False).astype(bool).to_numpy(),
        "done": status.fillna("").astype(str).str.strip().str.casefold().isin(_DONE).to_numpy(),
        "due": pd.to_datetime(opt("follow_up_due", pd.NaT), errors="coerce").to_numpy(
            "datetime64[ns]"),
        "lon": pd.to_numeric(opt("lon", np.nan), errors="coerce").to_numpy(float),
        "lat": pd.to_numeric(opt("lat", np.nan), errors="coerce").to_numpy(float),
        **{f"m_{m}": (modality == m).to_numpy(float) for m in MODALITIES},
    })
    return out.reset_index(drop=True)


#: The consultation columns :func:`_records` reads.
_READ = ("date", "admin_pcode", "cell", "modality", "participants_total", "participants_women",
         "participants_youth", "team", "topics", "commitments_made", "follow_up_status",
         "follow_up_due", "lon", "lat")

_SUMS = ["n", "mission", "part", "women", "women_rec", "youth", "youth_rec",
         *(f"m_{m}" for m in MODALITIES)]


def spread_weights(*, cell_admin: np.ndarray | pd.Index, population: np.ndarray
                   ) -> np.ndarray:
    """Weight of each cell within its admin unit for spreading admin-level records.

    The cell's share of the unit's population (0 for empty cells); equal shares over the
    unit's cells when the unit has no population data at all.

    Examples
    --------
    >>> spread_weights(cell_admin=np.array(["A", "A", "B"]), population=np.array([1., 3., 0]))
    array([0.25, 0.75, 1.  ])
    """
    pop = np.clip(np.nan_to_num(np.asarray(population, dtype=float), nan=0.0), 0, None)
    # an Index (of str) is used as it is: converting it to objects and back costs more
    key = pd.Series(cell_admin if isinstance(cell_admin, pd.Index)
                    else np.asarray(cell_admin, dtype=object))
    total = pd.Series(pop).groupby(key).transform("sum").to_numpy()
    count = key.groupby(key).transform("size").to_numpy(float)
    return np.where(total > 0, pop / np.where(total > 0, total, 1.0), 1.0 / count)


