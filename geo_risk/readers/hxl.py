"""HXL-tagged engagement data (as shared on HDX) into the canonical Consultation table.

An HXL file is an ordinary table with one extra row of hashtags (``#date``, ``#adm2+code``,
``#geo+lat``, ``#reached+f`` ...) between the human headers and the data; the hashtag row can
also be the only header. Attributes (``+f``) refine a hashtag; their order and spacing do not
matter. Columns are found by tag, not by header text, so any language or wording of the
headers works. Row numbers in rejects are spreadsheet rows: the header is row 1, the hashtag
row row 2, the first data row row 3.

Mapping: the defaults below (``#adm2`` becomes the boundaries' level), overridden per
canonical column by the ``tags`` option of the ``[[consultations]]`` entry, e.g.
``tags = { participants_women = "#affected+women" }``. A
pattern matches a column when the hashtags agree and all the pattern's attributes are on the
column; of several matching columns the one with the fewest extra attributes wins (so
``#reached`` picks the total, not ``#reached+f``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import SourceConfig
from ..errors import ConfigError, InputFileError
from .common import ReadResult, table_report, today, with_partial
from .consultation_table import (
    build_consultations,
    default_modality,
    is_sensitive,
    note_dropped,
    refuse_sensitive,
    select_multiple,
    sensitive_names,
)
from .tabular import read_table

if TYPE_CHECKING:
    from ..gazetteer import Gazetteer

_TAG_RE = re.compile(r"^\s*#([a-z][a-z0-9_]*)((?:\s*\+\s*[a-z][a-z0-9_]*)*)\s*$", re.IGNORECASE)
#: Attributes that make a head count a part of the total (sex, age, other subgroups).
_SUBGROUP = frozenset({"f", "m", "women", "men", "female", "male", "girls", "boys", "children",
                       "youth", "adolescents", "adults", "elderly", "infants", "i",
                       "disabled", "idps", "refugees"})


@dataclass(frozen=True)
class Tag:
    """A parsed HXL hashtag with its attributes (lower case, order ignored)."""

    hashtag: str
    attributes: frozenset[str]

    @classmethod
    def parse(cls, value: str) -> Tag | None:
        m = _TAG_RE.match(str(value))
        if m is None:
            return None
        attrs = frozenset(a.strip().lower() for a in m.group(2).split("+") if a.strip())
        return cls(m.group(1).lower(), attrs)

    def __str__(self) -> str:
        return "#" + self.hashtag + "".join(f"+{a}" for a in sorted(self.attributes))


@dataclass(frozen=True)
class Pattern:
    """A column the mapping looks for: a tag, minus attributes it must not carry."""

    tag: Tag
    exclude: frozenset[str] = frozenset()

    def fits(self, tag: Tag) -> bool:
        return (tag.hashtag == self.tag.hashtag and self.tag.attributes <= tag.attributes
                and not (tag.attributes - self.tag.attributes) & self.exclude)


def _p(tag: str, exclude: Sequence[str] | frozenset[str] = ()) -> Pattern:
    parsed = Tag.parse(tag)
    assert parsed is not None, tag
    return Pattern(parsed, frozenset(exclude))


#: Default tag patterns per canonical column, in order of preference.
DEFAULT_TAGS: dict[str, tuple[Pattern, ...]] = {
    "consultation_id": (_p("#activity+id"), _p("#activity+code"), _p("#meta+id"),
                        _p("#event+id"), _p("#x_id")),
    "date": (_p("#date", ("end", "reported", "updated", "submitted")),),
    "lat": (_p("#geo+lat"),),
    "lon": (_p("#geo+lon"),),
    "admin_pcode": (_p("#adm2+code"),),
    "admin_name": (_p("#adm2+name"), _p("#adm2", ("code",))),
    "modality": (_p("#activity+type"), _p("#activity+modality"), _p("#x_modality")),
    "participants_total": (_p("#reached", _SUBGROUP), _p("#affected", _SUBGROUP),
                           _p("#targeted", _SUBGROUP)),
    "participants_women": (_p("#reached+f"), _p("#reached+women"), _p("#affected+f"),
                           _p("#affected+women"), _p("#reached+female")),
    "participants_youth": (_p("#reached+youth"), _p("#affected+youth"),
                           _p("#reached+adolescents")),
    "team": (_p("#org+impl"), _p("#org", ("funder", "prog")), _p("#loc+base")),
    "topics": (_p("#activity+topics"), _p("#meta+topics"), _p("#x_topics")),
    "safety_score": (_p("#indicator+safety"), _p("#x_safety")),
    "trust_score": (_p("#indicator+trust"), _p("#x_trust")),
    "commitments_made": (_p("#activity+commitments"), _p("#x_commitments")),
    "follow_up_status": (_p("#status+follow_up"), _p("#status+followup"), _p("#status")),
}
#: Hashtags of personal data: dropped like the sensitive columns of KoBo files.
SENSITIVE_TAGS = (_p("#contact"), _p("#beneficiary+name"), _p("#respondee+name"),
                  _p("#meta+notes"), _p("#description+notes"))


def _tag_row(frame: pd.DataFrame) -> int:
    """Index of the hashtag row among the first 25 rows, -1 if the header is the tag row."""
    def share(values: Sequence[str]) -> float:
        filled = [v for v in values if str(v).strip()]
        return (sum(Tag.parse(v) is not None for v in filled) / len(filled)) if filled else 0.0

    if share(list(frame.columns)) >= 0.5:
        return -1
    head = frame.head(25).astype(str)
    for i, row in enumerate(head.itertuples(index=False)):  # at most 25 header rows
        if share(list(row)) >= 0.5:
            return i
    raise InputFileError(frame.attrs.get("path", "<hxl>"), "no HXL hashtag row found (a row "
                         "of #tags such as #date, #adm2+code under the headers). Tag the file, "
                         "or use format = \"kobo\" or \"csv\" with a columns map.")


def _pick(tags: Mapping[str, Tag], patterns: Sequence[Pattern]) -> str | None:
    """The column best fitting the first pattern that fits any column."""
    for pattern in patterns:
        fits = [(len(t.attributes - pattern.tag.attributes), i, col)
                for i, (col, t) in enumerate(tags.items()) if pattern.fits(t)]
        if fits:
            return min(fits)[2]
    return None


def read_hxl_consultations(source: SourceConfig, *, now: pd.Timestamp | None = None,
                           gazetteer: Gazetteer | None = None) -> ReadResult:
    """Read an HXL-tagged CSV/XLSX of engagements, alerts or survey results.

    Options of the ``[[consultations]]`` entry: ``tags`` (canonical column -> HXL tag
    pattern), ``modality`` (for files that are all one kind, e.g. ``"early_warning_alert"``),
    ``sensitive_columns`` (more headers or tags to drop), ``sheet``.

    Raises
    ------
    ConfigError
        A tag mapping names a sensitive column or is not a valid hashtag.
    InputFileError
        No hashtag row, or no column tagged for the record id or date.
    """
    now = now if now is not None else today()
    sensitive = sensitive_names(source)
    overrides = {str(k): str(v) for k, v in dict(source.options.get("tags", {})).items()}
    default_modality(source)
    patterns: dict[str, tuple[Pattern, ...]] = dict(DEFAULT_TAGS)
    level = gazetteer.level if gazetteer is not None else 2
    if level != 2:  # boundaries at another admin level: #adm1+code, #adm3+name ...
        patterns["admin_pcode"] = (_p(f"#adm{level}+code"),)
        patterns["admin_name"] = (_p(f"#adm{level}+name"), _p(f"#adm{level}", ("code",)))
    for key, value in overrides.items():
        parsed = Tag.parse(value)
        if parsed is None or key not in DEFAULT_TAGS:
            what = (f"{value!r} is not an HXL hashtag (e.g. \"#reached+f\")" if parsed is None
                    else f"{key!r} is not a consultation column; use one of "
                    f"{', '.join(DEFAULT_TAGS)}")
            raise ConfigError(f"{source.path}: tags.{key}: {what}.")
        patterns[key] = (Pattern(parsed),)
    raw = read_table(source.path, sheet=source.options.get("sheet"),
                     encoding=source.options.get("encoding"))
    frame = raw.frame
    frame.attrs["path"] = str(raw.path)
    at = _tag_row(frame)
    if at < 0:
        tag_values = list(frame.columns)
        headers = [""] * len(tag_values)
        data, rows = frame, raw.rows
    else:
        tag_values = [str(v) for v in frame.iloc[at].tolist()]
        headers = list(frame.columns)
        data, rows = frame.iloc[at + 1:], raw.rows[at + 1:]
    if data.empty:
        raise InputFileError(raw.path, "has headers and a hashtag row but no data rows. Export "
                             "it again; a feed with no rows would otherwise look like a quiet "
                             "week.")
    # Column labels: the human header where there is one, else the tag; unique.
    labels: list[str] = []
    for h, t in zip(headers, tag_values, strict=True):
        h = "" if str(h).startswith("Unnamed:") else str(h).strip()
        label = h or t.strip() or f"column {len(labels) + 1}"
        labels.append(label if label not in labels else f"{label} {t.strip()}".strip())
    data = data.set_axis(labels, axis=1).reset_index(drop=True)
    tag_list = [Tag.parse(v) for v in tag_values]  # one per column
    tags = {lab: t for lab, t in zip(labels, tag_list, strict=True) if t is not None}
    personal = {lab for lab, t in tags.items()
                if any(p.fits(t) for p in SENSITIVE_TAGS) or str(t) in sensitive}
    personal |= {lab for lab in labels if is_sensitive(lab, sensitive)}
    mapped_personal = {k: str(tags[lab]) for k in overrides
                       if (lab := _pick(tags, patterns[k])) in personal}
    refuse_sensitive(raw.path, mapped_personal, set(mapped_personal.values()) | sensitive)
    report = table_report(raw, name=source.name, kind="consultations", fmt="hxl",
                          data_rows=len(data))
    note_dropped(report, sorted(personal), {p.lower() for p in personal})
    usable = {lab: t for lab, t in tags.items() if lab not in personal}
    cols = {k: _pick(usable, pats) for k, pats in patterns.items()}
    missing = [k for k in ("consultation_id", "date") if cols[k] is None]
    if missing:
        wanted = "; ".join(f"{k}: {' or '.join(str(p.tag) for p in patterns[k])}"
                           for k in missing)
        raise InputFileError(raw.path, f"no column tagged for {wanted}. The tags are "
                             f"{', '.join(sorted({str(t) for t in tags.values()}))}. Map them "
                             "with tags = { date = \"#date+occurred\" } in the config.")
    data = data[[lab for lab in labels if lab not in personal]]
    topics = None
    if cols["topics"] is not None:
        topics = select_multiple(data, cols["topics"], cols["topics"])
    result = build_consultations(f=data, rows=np.asarray(rows), path=raw.path, cols=cols,
                                 source=source, now=now, report=report, gazetteer=gazetteer,
                                 topics=topics)
    result.rejects = with_partial(result.rejects, raw)
    return result


__all__ = ["DEFAULT_TAGS", "SENSITIVE_TAGS", "Tag", "read_hxl_consultations"]
