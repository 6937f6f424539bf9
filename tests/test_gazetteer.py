"""Gazetteer: names and P-codes to admin units, tolerant of case, accents and spelling."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from conftest import SHARED_DATA, require_files

from geo_risk.config import BoundariesConfig
from geo_risk.gazetteer import Gazetteer, normalise_names
from geo_risk.readers import read_boundaries

UNITS = pd.DataFrame({
    "admin_pcode": ["XX01", "XX02", "XX03", "XX04", "XX05", "YY01"],
    "admin_name": ["Mundri West", "Mundri East", "Luakpiny/Nasir", "Oïcha", "Kajo-keji",
                   "Kajo-keji"],
    "admin_level": 2,
})
PARENTS = {"XX01": "Western Equatoria", "XX02": "Western Equatoria", "XX03": "Upper Nile",
           "XX04": "Nord-Kivu", "XX05": "Central Equatoria", "YY01": "Elsewhere"}


def test_normalise() -> None:
    out = normalise_names(pd.Series(["Kajo Keji County", "OÏCHA", "Luakpiny / Nasir", None]))
    assert out.tolist() == ["kajokeji", "oicha", "luakpinynasir", ""]


def test_exact_fuzzy_ambiguous_unmatched() -> None:
    g = Gazetteer(UNITS, parent_names=PARENTS)
    names = pd.Series(["mundri west county", "Mundri Wes", "Mundri Wast", "Oicha", "Nasir",
                       "xx02", "Atlantis", "", "Kajo Keji", "Kajo Keji", "Nasir", "Kajo Kej"])
    # A parent breaks ties between units of one name; a wrong parent never excludes a match.
    parents = pd.Series([""] * 8 + ["Central Equatoria", "", "Jonglei", "Elsewhere"])
    m = g.match(names, parents=parents)
    assert m.pcode.tolist() == ["XX01", "XX01", "", "XX04", "XX03", "XX02", "", "", "XX05", "",
                                "XX03", "YY01"]
    assert m.how.tolist() == ["exact", "fuzzy", "ambiguous", "exact", "exact", "pcode",
                              "unmatched", "", "exact", "ambiguous", "exact", "fuzzy"]
    assert "Mundri West (XX01)" in m.reason[2] and "Mundri East (XX02)" in m.reason[2]
    assert "Kajo-keji (XX05)" in m.reason[9] and "Kajo-keji (YY01)" in m.reason[9]
    assert m.reason[0] == "" and m.reason[7] == ""


def test_matching_is_per_distinct_name() -> None:
    g = Gazetteer(UNITS)
    names = pd.Series(["Mundri Wes", "Oicha", "Atlantis"] * 100_000)
    t0 = time.perf_counter()
    m = g.match(names)
    assert time.perf_counter() - t0 < 3.0
    assert m.matched.sum() == 200_000


def test_alt_names_are_used() -> None:
    g = Gazetteer(UNITS, alt_names={"XX04": ["Oicha-Beni"]})
    assert g.match(pd.Series(["oicha beni"])).pcode.tolist() == ["XX04"]


def _real(stem: str, name: str) -> Gazetteer:
    path = SHARED_DATA / "boundaries" / f"{stem}.shp"
    require_files(path)
    admin = read_boundaries(BoundariesConfig(path=path, pcode_column="ADM2_PCODE",
                                             name_column=name))
    return Gazetteer.from_admin(admin)


@pytest.mark.realdata
def test_real_south_sudan_county_names() -> None:
    g = _real("ssd_admbnda_adm2_imwg_nbs_20180817", "ADM2_EN")
    cases = {
        "Kajo Keji": "SS0102", "KAJO-KEJI COUNTY": "SS0102", "Rumbek Center": "SS0403",
        "Panyijar": "SS0607", "Nasir": "SS0704", "Aweil Centre": "SS0501",
        "Terkeka": "SS0105",  # the COD's alternative spelling (ADM2ALT1EN)
        "Mundri Wes": "SS1005", "juba": "SS0101", "Canal": "SS0304",
    }
    m = g.match(pd.Series(list(cases)))
    assert dict(zip(cases, m.pcode, strict=True)) == cases
    bad = g.match(pd.Series(["Tonj", "Yei River", "Twik"]))
    assert bad.how.tolist() == ["ambiguous", "unmatched", "unmatched"]
    assert "Tonj North" in bad.reason[0] and "Yei (SS0106)" in bad.reason[1]
    assert "Twic (SS0806)" in bad.reason[2]


@pytest.mark.realdata
def test_real_drc_territoire_names() -> None:
    g = _real("cod_admbnda_adm2_rgc_20190911", "ADM2_FR")
    names = pd.Series(["Oicha", "OÏCHA", "Mbuji Mayi", "Kasongo Lunda", "Rutshuru territoire",
                       "Malemba Nkulu", "Bukavou", "Kinshasa"])
    m = g.match(names)
    pc = dict(zip(names, m.pcode, strict=True))
    assert pc["Oicha"] == pc["OÏCHA"] == "CD6107"
    assert all(m.matched), m.reason[~m.matched].tolist()
    assert m.how[names == "Bukavou"].iloc[0] == "fuzzy"
