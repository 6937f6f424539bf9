"""Gazetteer geocoding: admin P-codes for rows that carry only a P-code or a place name.

Field data often names the county or territoire instead of giving coordinates ("Kajo Keji",
"Oicha", "Luakpiny/Nasir County"). Such rows are matched against the names of the boundary
file (case-, accent-, punctuation- and spelling-tolerant) and get the admin unit, at admin
precision: they count in the unit but are never pinned to a made-up point in the hex grid.

Matching works on distinct names, never per row: exact matches are a join, and only the
distinct names left over are compared (difflib similarity) with the gazetteer's names.
A name that fits two units equally well, or none well enough, is not guessed: the caller
rejects the row, and the reason lists the closest candidates.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Words naming the kind of unit, dropped before comparing ("Juba County" == "Juba").
ADMIN_TYPE_WORDS = (
    "county", "counties", "territoire", "territory", "district", "province", "state",
    "prefecture", "sous", "sub", "region", "payam", "commune", "cercle", "departement",
    "department", "municipality", "ville", "city", "chefferie", "secteur",
)
_TYPE_RE = re.compile(r"\b(?:" + "|".join(ADMIN_TYPE_WORDS) + r")\b")

#: Default similarity (0..1, difflib ratio of the normalised names) a spelling variant needs.
DEFAULT_MIN_SIMILARITY = 0.8
#: A runner-up this close to the best match makes the name ambiguous.
AMBIGUITY_MARGIN = 0.06

MATCH_PCODE = "pcode"
MATCH_EXACT = "exact"
MATCH_FUZZY = "fuzzy"
MATCH_AMBIGUOUS = "ambiguous"
MATCH_NONE = "unmatched"


def normalise_names(values: pd.Series) -> pd.Series:
    """Comparable keys of names: no accents, no case, no punctuation, no spaces, no unit type.

    Examples
    --------
    >>> normalise_names(pd.Series(["Kajo-Keji County", "Oïcha", " BOR  south"])).tolist()
    ['kajokeji', 'oicha', 'borsouth']
    """
    text = values.astype("string").fillna("")
    text = (text.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
            .str.lower())
    spaced = text.str.replace(r"[^a-z0-9]+", " ", regex=True)
    stripped = spaced.str.replace(_TYPE_RE, " ", regex=True)
    # A unit called only "Ville" or "Region" keeps its word rather than becoming empty.
    stripped = stripped.where(stripped.str.strip() != "", spaced)
    return stripped.str.replace(" ", "", regex=False).astype(object)


@dataclass(frozen=True)
class GazetteerMatch:
    """Per input row: the P-code found ('' if none), how, and a reason when not found."""

    pcode: pd.Series
    how: pd.Series
    reason: pd.Series

    @property
    def matched(self) -> pd.Series:
        return self.pcode != ""


class Gazetteer:
    """Names and P-codes of the admin units of a boundary file.

    Parameters
    ----------
    admin
        Canonical admin units (``admin_pcode``, ``admin_name``; ``parent_pcode`` optional).
    alt_names
        Other names per P-code (COD-AB alternative-name and other-language columns).
    parent_names
        Name of each unit's parent (e.g. ADM1_EN), used to tell apart units of the same name.
    min_similarity
        Default similarity (0..1) a misspelt name needs to be accepted.
    """

    def __init__(self, admin: pd.DataFrame, *,
                 alt_names: Mapping[str, Sequence[str]] | None = None,
                 parent_names: Mapping[str, str] | None = None,
                 min_similarity: float = DEFAULT_MIN_SIMILARITY) -> None:
        self.min_similarity = float(min_similarity)
        levels = admin["admin_level"] if "admin_level" in admin.columns else pd.Series([2])
        self.level = int(levels.iloc[0]) if len(levels) else 2
        pcode = admin["admin_pcode"].astype(str).to_numpy(object)
        names = [pd.DataFrame({"admin_pcode": pcode, "name": admin["admin_name"].astype(str)})]
        if alt_names:
            alt = pd.Series(alt_names, dtype=object).explode().dropna()
            names.append(pd.DataFrame({"admin_pcode": alt.index.astype(str),
                                       "name": alt.astype(str).to_numpy()}))
        table = pd.concat(names, ignore_index=True)
        # "Luakpiny/Nasir", "Canal/Pigi": each part is also a name of the unit.
        parts = table.assign(name=table["name"].str.split("/")).explode("name")
        table = pd.concat([table, parts], ignore_index=True)
        table["key"] = normalise_names(table["name"])
        table = table.loc[table["key"] != ""].drop_duplicates(["key", "admin_pcode"])
        self.display = pd.Series(admin["admin_name"].astype(str).to_numpy(), index=pcode)
        parent = pd.Series(parent_names or {}, dtype=object).reindex(pcode)
        self.parent_key = pd.Series(normalise_names(parent.fillna("")).to_numpy(), index=pcode)
        self.keys = table[["key", "admin_pcode"]].reset_index(drop=True)
        self._pcode_lookup = pd.Series(pcode, index=pd.Index(pcode).str.upper())
        self._pcode_lookup = self._pcode_lookup[~self._pcode_lookup.index.duplicated()]
        self._key_list = sorted(set(self.keys["key"]))
        self._by_key = self.keys.groupby("key")["admin_pcode"].agg(lambda s: sorted(set(s)))

    @classmethod
    def from_admin(cls, admin: pd.DataFrame, *,
                   min_similarity: float = DEFAULT_MIN_SIMILARITY) -> Gazetteer:
        """Build from a frame made by :func:`geo_risk.readers.read_boundaries`, which leaves the
        alternative and parent names of the boundary file in ``admin.attrs``."""
        return cls(admin, alt_names=admin.attrs.get("alt_names"),
                   parent_names=admin.attrs.get("parent_names"), min_similarity=min_similarity)

    def __len__(self) -> int:
        return len(self.display)

    def is_pcode(self, values: pd.Series) -> pd.Series:
        """True where a value is a P-code of the boundaries (any case, spaces trimmed)."""
        text = values.astype("string").fillna("").str.strip().str.upper()
        return text.isin(self._pcode_lookup.index).astype(bool)

    def describe(self, pcodes: Sequence[str]) -> str:
        return ", ".join(f"{self.display.get(p, p)} ({p})" for p in pcodes)

    def _closest(self, key: str, n: int = 3) -> list[tuple[float, str]]:
        """Best (similarity, key) pairs for one distinct name, best first."""
        close = difflib.get_close_matches(key, self._key_list, n=8, cutoff=0.3)
        prefixed = [k for k in self._key_list if len(key) >= 3 and k.startswith(key)][:8]
        scored = {k: difflib.SequenceMatcher(None, key, k).ratio() for k in [*close, *prefixed]}
        return sorted(((s, k) for k, s in scored.items()), reverse=True)[: max(n, 8)]

    def _by_parent(self, pcodes: Sequence[str], parent: str) -> list[str]:
        """The units among ``pcodes`` whose parent has the given (normalised) name."""
        if not parent:
            return []
        return [p for p in pcodes if self.parent_key.get(p, "") == parent]

    def _fuzzy(self, key: str, parent: str, min_similarity: float) -> tuple[str, str, str]:
        """(pcode, how, reason) for one distinct unmatched name."""
        ranked = self._closest(key)
        units: list[tuple[float, str]] = []
        for score, k in ranked:
            for p in self._by_key[k]:
                if p not in [u for _, u in units]:
                    units.append((score, p))
        if not units:
            return "", MATCH_NONE, ("no admin unit has a name like this in the boundaries file;"
                                    " correct the name or give the P-code")
        best, best_p = units[0]
        rivals = [p for s, p in units[1:] if s >= best - AMBIGUITY_MARGIN and s >= 0.5]
        shown = self.describe([p for _, p in units[:3]])
        if best >= min_similarity and rivals:
            # The parent unit (e.g. ACLED admin1) breaks a tie; it never excludes alone, as
            # sources and boundary vintages often disagree on province names.
            in_parent = self._by_parent([best_p, *rivals], parent)
            if len(in_parent) == 1:
                return in_parent[0], MATCH_FUZZY, ""
        if best >= min_similarity and not rivals:
            return best_p, MATCH_FUZZY, ""
        if rivals and best >= 0.5:
            return "", MATCH_AMBIGUOUS, (f"ambiguous admin name: could be "
                                         f"{self.describe([best_p, *rivals][:4])}; write the "
                                         "name as in the boundaries file or give the P-code")
        return "", MATCH_NONE, (f"no admin unit of this name in the boundaries file (closest: "
                                f"{shown}); correct the name or give the P-code")

    def match(self, names: pd.Series, *, parents: pd.Series | None = None,
              min_similarity: float | None = None) -> GazetteerMatch:
        """Match place or admin names (or P-codes) to admin units.

        Parameters
        ----------
        names
            One name per row; empty names are left unmatched with an empty reason.
        parents
            Optional parent-unit names per row (e.g. ACLED ``admin1``) to separate units that
            share a name.
        min_similarity
            Similarity (0..1) a misspelt name needs to be accepted (default: the gazetteer's).

        Returns
        -------
        GazetteerMatch
            Aligned with ``names``. ``how`` is one of 'pcode', 'exact', 'fuzzy',
            'ambiguous', 'unmatched', or '' for empty names.
        """
        cutoff = self.min_similarity if min_similarity is None else float(min_similarity)
        # Work on distinct (name, parent) pairs only, then broadcast back to the rows.
        name = names.astype("string").fillna("").str.strip()
        parent = (parents.astype("string").fillna("").str.strip() if parents is not None
                  else pd.Series("", index=names.index, dtype="string"))
        codes, uniq = pd.factorize(name + "\x1f" + parent.to_numpy())
        distinct = pd.Series(uniq, dtype="string").str.split("\x1f", n=1, expand=True,
                                                              regex=False)
        if distinct.shape[1] < 2:  # no rows at all
            distinct = pd.DataFrame({0: pd.Series(dtype="string"), 1: pd.Series(dtype="string")})
        res = self._match_distinct(distinct[0], distinct[1], cutoff)
        take = np.asarray(codes)

        def spread(values: pd.Series) -> pd.Series:
            return pd.Series(values.to_numpy(object)[take], index=names.index, dtype=object)

        return GazetteerMatch(spread(res.pcode), spread(res.how), spread(res.reason))

    def _match_distinct(self, text: pd.Series, parents: pd.Series,
                        cutoff: float) -> GazetteerMatch:
        index = text.index
        keys = pd.Series(normalise_names(text).to_numpy(object), index=index)
        pkeys = pd.Series(normalise_names(parents).to_numpy(object), index=index)
        pcode = pd.Series("", index=index, dtype=object)
        how = pd.Series("", index=index, dtype=object)
        reason = pd.Series("", index=index, dtype=object)

        as_code = text.str.upper().map(self._pcode_lookup).fillna("").astype(object)
        is_code = (as_code != "").to_numpy()
        pcode[is_code] = as_code[is_code]
        how[is_code] = MATCH_PCODE
        todo = ~is_code & (keys != "").to_numpy()
        if not todo.any():
            return GazetteerMatch(pcode, how, reason)

        # Exact key matches: a join on distinct (name, parent) pairs.
        pairs = pd.DataFrame({"key": keys[todo], "parent": pkeys[todo]}).drop_duplicates()
        hits = pairs.merge(self.keys, on="key", how="inner")
        hits = hits.drop_duplicates(["key", "parent", "admin_pcode"])
        n_hits = hits.groupby(["key", "parent"])["admin_pcode"].agg(["first", "size", list])
        resolved: dict[tuple[str, str], tuple[str, str, str]] = {}
        for k, par, first, size, units in zip(  # one per distinct name, not per row
                n_hits.index.get_level_values(0), n_hits.index.get_level_values(1),
                n_hits["first"], n_hits["size"], n_hits["list"], strict=True):
            in_parent = self._by_parent(list(units), str(par)) if size > 1 else []
            if size == 1:
                resolved[(str(k), str(par))] = (str(first), MATCH_EXACT, "")
            elif len(in_parent) == 1:
                resolved[(str(k), str(par))] = (in_parent[0], MATCH_EXACT, "")
            else:
                resolved[(str(k), str(par))] = ("", MATCH_AMBIGUOUS, (
                    f"ambiguous admin name: {self.describe(list(units)[:4])} share it; give "
                    "the parent unit or the P-code"))
        for k, par in pairs.itertuples(index=False):
            if (k, par) not in resolved:
                resolved[(k, par)] = self._fuzzy(k, par, cutoff)
        table = pd.DataFrame.from_dict(resolved, orient="index",
                                       columns=["pcode", "how", "reason"])
        table.index = pd.MultiIndex.from_tuples(table.index, names=["key", "parent"])
        wanted = pd.MultiIndex.from_arrays([keys[todo].to_numpy(), pkeys[todo].to_numpy()])
        got = table.reindex(wanted)
        pcode[todo] = got["pcode"].to_numpy(object)
        how[todo] = got["how"].to_numpy(object)
        reason[todo] = got["reason"].to_numpy(object)
        return GazetteerMatch(pcode, how, reason)


def match_counts(m: GazetteerMatch) -> dict[str, int]:
    """How many rows were matched each way (for run.json / warnings)."""
    counts = m.how[m.how != ""].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


__all__ = [
    "DEFAULT_MIN_SIMILARITY",
    "Gazetteer",
    "GazetteerMatch",
    "match_counts",
    "normalise_names",
]
