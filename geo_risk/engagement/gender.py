"""Gender-disaggregated view: women's participation per base, bases without female liaison
staff, and the units where no women were reached next to the base that serves them.

Per unit the matrix already has ``women_share`` (engagement window) and ``no_women`` (profile
window, :mod:`.gaps`). This module adds, per open base, its engagements over the profile
window (records whose ``team`` is the base's name), women's share of their participants,
``female_liaison_staff`` from the base table and the units with no women reached whose main
base (the nearest base of most of their people) it is; per unit, that main base and its
female liaison staff.

Do no harm: base figures count only records of units whose engagement is shown (as every
base total does), and women's share is empty below ``min_count`` engagements or
participants. Units are named only through flags the matrix already shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .common import _nullable

GENDER_BASE_COLUMNS = ["base_name", "liaison_staff", "female_liaison_staff",
                       "no_female_liaison_staff", "engagements", "participants",
                       "women_share", "units_no_women", "units_no_women_names"]


def main_base(*, cell_admin: np.ndarray, nearest_base: np.ndarray, pop: np.ndarray,
              units: np.ndarray) -> np.ndarray:
    """The base nearest to most of each unit's people ('' when no base is in reach)."""
    f = pd.DataFrame({"u": cell_admin, "b": pd.Series(nearest_base).fillna("").astype(str),
                      "p": np.nan_to_num(pop) + 1e-9})  # empty units: most cells decide
    f = f.loc[f["b"] != ""]
    if f.empty:
        return np.full(len(units), "", dtype=object)
    s = f.groupby(["u", "b"])["p"].sum().reset_index().sort_values(
        ["u", "p", "b"], ascending=[True, False, True])
    return s.drop_duplicates("u").set_index("u")["b"].reindex(units).fillna("").to_numpy(object)


def gender_view(*, rec: pd.DataFrame, adm: pd.DataFrame, obases: pd.DataFrame,
                unit_base: np.ndarray, names: pd.Series, shown_units: set[str], k: int
                ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Per-base gender table, per-unit base columns, and summary figures.

    Parameters
    ----------
    rec : pandas.DataFrame
        Engagement records of the profile window (:func:`.common._records`: ``team``
        case-folded, ``mission``, ``part``, ``women``, ``women_rec``, ``admin_pcode``).
    adm : pandas.DataFrame
        Unit columns so far (``admin_pcode``, ``no_women``), aligned with ``unit_base``.
    obases : pandas.DataFrame
        Bases open in the week (``base_name``, ``liaison_staff``, optional
        ``female_liaison_staff``).
    unit_base : numpy.ndarray
        Main base of each unit (:func:`main_base`).
    names : pandas.Series
        Unit name by P-code.
    shown_units : set of str
        Units whose engagement is shown; base totals count only their records.
    k : int
        ``min_count``.

    Returns
    -------
    tuple
        ``gender_bases`` (:data:`GENDER_BASE_COLUMNS`), unit columns (``admin_pcode``,
        ``main_base``, ``main_base_female_staff``) and figures for the brief/run.json.
    """
    b = obases.drop_duplicates("base_name").reset_index(drop=True)
    base_names = b["base_name"].astype(str)
    female = (pd.to_numeric(b["female_liaison_staff"], errors="coerce")
              if "female_liaison_staff" in b.columns else pd.Series(np.nan, index=b.index))
    staff = pd.to_numeric(b.get("liaison_staff", pd.Series(0, index=b.index)),
                          errors="coerce").fillna(0)
    r = rec.loc[(rec["mission"] > 0).to_numpy() & rec["admin_pcode"].isin(shown_units)]
    g = r.groupby("team")[["part", "women", "women_rec"]].sum()
    g["n"] = r.groupby("team").size()
    g = g.reindex(base_names.str.strip().str.casefold().to_numpy()).fillna(0)
    shown = (g["n"] >= k) & (g["part"] >= k)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(shown & (g["women_rec"] >= k), (g["women"] / g["women_rec"]).round(3),
                         np.nan)
    no_women = adm["no_women"].astype("boolean").fillna(False).to_numpy(bool)
    nw = pd.DataFrame({"base": unit_base[no_women],
                       "name": names.reindex(adm["admin_pcode"].to_numpy()[no_women])
                       .fillna("").to_numpy()})
    nw_names = nw.sort_values("name").groupby("base")["name"].agg("; ".join)
    table = pd.DataFrame({
        "base_name": base_names.to_numpy(),
        "liaison_staff": staff.to_numpy(),
        "female_liaison_staff": female.to_numpy(float),
        "no_female_liaison_staff": _nullable((female == 0).to_numpy(),
                                             female.notna().to_numpy()).array,
        "engagements": np.where(shown, g["n"].to_numpy(), np.nan),
        "participants": np.where(shown, g["part"].to_numpy(), np.nan),
        "women_share": share,
        "units_no_women": nw.groupby("base").size().reindex(base_names).fillna(0)
        .astype(int).to_numpy(),
        "units_no_women_names": nw_names.reindex(base_names).fillna("").to_numpy(),
    })[GENDER_BASE_COLUMNS]
    by_base = pd.Series(female.to_numpy(float), index=base_names.to_numpy())
    by_base = by_base[~by_base.index.duplicated()]
    units = pd.DataFrame({"admin_pcode": adm["admin_pcode"].to_numpy(),
                          "main_base": unit_base,
                          "main_base_female_staff": pd.Series(unit_base).map(by_base)
                          .to_numpy(float)})
    without = table.loc[table["no_female_liaison_staff"].fillna(False).astype(bool),
                        "base_name"].tolist()
    meta = {
        "bases_recorded": int(female.notna().sum()),
        "bases_without_female_staff": without,
        "units_no_women": int(no_women.sum()),
        "units_no_women_served_by_base_without_female_staff": int(
            (no_women & pd.Series(unit_base).isin(without).to_numpy()).sum()),
    }
    return table, units, meta


__all__ = ["GENDER_BASE_COLUMNS", "gender_view", "main_base"]
