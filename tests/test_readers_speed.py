"""Shortcuts of the readers' hot paths give what the plain path gives."""

from __future__ import annotations

import io
import random

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon, box

from geo_risk.index import _unit_of_points
from geo_risk.readers.bases import MONTH_FORMATS
from geo_risk.readers.engagement_fields import _key
from geo_risk.readers.tabular import (
    DATE_FORMATS,
    _empty_rows,
    _format_separators,
    _head_lines,
    _read_csv_arrow,
    _separator_counts,
    blank,
    parse_numbers,
    unparsed,
)

FORMATS = tuple(dict.fromkeys([*DATE_FORMATS, *MONTH_FORMATS]))


def _date_texts() -> list[str]:
    """Every known format written out, and the same texts with separators moved or changed."""
    rng = random.Random(1)
    texts = {"", "x", "2021", "1/2/3", "2021-1-5", "5-1-2021", "2021-01-05 7:05",
             "31/12/21 10:00", "Dec 5, 2021", "December 5,2021", "5 Dec. 2021", "05-DEC-21"}
    swaps = [("-", "/"), ("/", "-"), (" ", "T"), ("T", " "), (":", "."), (".", ":"),
             ("-", "."), (",", ""), (" ", ""), ("-", "")]
    for _ in range(60):
        ts = pd.Timestamp("1995-01-01") + pd.Timedelta(seconds=rng.randrange(40 * 365 * 86400),
                                                       microseconds=rng.randrange(10**6))
        for fmt in FORMATS:
            t = ts.strftime(fmt)
            texts |= {t, t + ".5", t + ":00", t + " 10:00", t[:-1], t.upper(), t.lstrip("0")}
            texts |= {t.replace(a, b, 1) for a, b in swaps} | {t.replace(a, b) for a, b in swaps}
    return sorted(texts)


def test_a_date_parses_only_with_formats_of_its_separators() -> None:
    # parse_dates tries a format only on texts with the same separator counts: no text that
    # a format would parse may be left out.
    texts = pd.Series(_date_texts(), dtype="string")
    counts = _separator_counts(texts)
    for fmt in FORMATS:
        want = _format_separators(fmt)
        assert want is not None, fmt
        ok = pd.to_datetime(texts, format=fmt, errors="coerce").notna().to_numpy()
        assert ok.any(), fmt
        assert (counts[ok] == want).all(), (fmt, texts[ok & (counts != want)].tolist()[:5])
    assert _format_separators("%Y-%m-%d%z") is None  # %z writes ":" itself


def test_head_lines_is_splitlines_head() -> None:
    rng = random.Random(0)
    for _ in range(300):
        text = "".join("x" * rng.choice([0, 1, 700, 30000])
                       + rng.choice(["\n", "\r\n", "\r", "\u2028", "\n\n"])
                       for _ in range(rng.randrange(120))) + rng.choice(["", "tail"])
        for n in (0, 1, 50):
            assert _head_lines(text, n) == text.splitlines()[:n]


def test_key_per_distinct_value_matches_row_by_row() -> None:
    for dtype in ("str", object):
        values = pd.Series([" CA ", "Civil - Affairs", "", "ca", "UN POL", " CA "] * 3,
                           dtype=dtype, index=range(100, 118))
        plain = values.str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)
        pd.testing.assert_series_equal(_key(values), plain)
    with_missing = pd.Series(["A b", None], dtype="str")
    pd.testing.assert_series_equal(
        _key(with_missing),
        with_missing.str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True))


def _pandas_csv(text: str, sep: str) -> pd.DataFrame | None:
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                           skip_blank_lines=False, engine="c")
    except (pd.errors.ParserError, ValueError):
        return None


def test_arrow_csv_reads_what_pandas_reads_or_leaves_it_to_pandas() -> None:
    rng = random.Random(3)
    atoms = ["a", "1", "2.5", " ", "", '"', '""', ",", ";", "\n", "\r\n", "\r", "é", "NA",
             "nan", "#", "'", "\u2028"]
    used = 0
    for _ in range(3000):
        sep = rng.choice([",", ";", "\t"])
        ncol = rng.randrange(1, 5)
        eol = rng.choice(["\n", "\r\n", "\r"])

        def field(sep: str = sep) -> str:
            body = "".join(rng.choice(atoms) for _ in range(rng.randrange(4)))
            kind = rng.random()
            if kind < 0.4:
                return '"' + body.replace('"', '""') + '"'
            return "".join(c for c in body if c not in '"\r\n' + sep) if kind < 0.8 else body

        rows = [sep.join(field() for _ in range(ncol if rng.random() < 0.9
                                                 else rng.randrange(ncol + 2)))
                for _ in range(rng.randrange(6))]
        header = sep.join(rng.choice(["id", "", '"a,b"', f"c{i}"]) for i in range(ncol))
        text = header + eol + eol.join(rows) + rng.choice(["", eol, eol + eol])
        got = _read_csv_arrow(text, sep)
        if got is None:
            continue
        used += 1
        want = _pandas_csv(text, sep)
        assert want is not None, repr(text)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert used > 200


def test_arrow_csv_leaves_a_value_cut_at_the_end_to_pandas() -> None:
    # pandas refuses a quoted value open at the end (a truncated download); Arrow keeps it.
    for text in ('a,b\nx,"y\n', 'a,b\nx,"y""\r\n', 'a,b\n1,2\nx,"y', 'a,b\nx,"y,"z"\n"'):
        assert _pandas_csv(text, ",") is None
        assert _read_csv_arrow(text, ",") is None


def test_unit_of_points_is_the_first_unit_the_index_lists() -> None:
    # Four squares sharing borders and a corner, one with a hole, one empty: points on
    # vertices and borders hit several units and must take the index's first, as before.
    squares = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2),
               box(1, 1, 2, 2).difference(box(1.25, 1.25, 1.75, 1.75)), Polygon()]
    admin = gpd.GeoDataFrame({"admin_pcode": list("ABCDE")}, geometry=squares,
                             crs="EPSG:4326")
    rng = np.random.default_rng(0)
    grid = np.round(rng.uniform(-0.5, 2.5, size=(4000, 2)) * 4) / 4  # many on borders
    xy = np.vstack([grid, rng.uniform(-0.5, 2.5, size=(2000, 2))])
    x, y = xy[:, 0], xy[:, 1]
    got = _unit_of_points(admin, x, y)
    hit_pt, hit_poly = admin.sindex.query(shapely.points(x, y), predicate="intersects")
    first = pd.Series(hit_poly, index=hit_pt).groupby(level=0).first()
    want = np.full(len(x), -1)
    want[first.index.to_numpy()] = first.to_numpy()
    np.testing.assert_array_equal(got, want)
    assert (np.bincount(hit_pt) > 1).sum() > 100  # the border case is exercised


def _numbers_in_pandas(values: pd.Series) -> pd.Series:
    text = values.astype("string").fillna("").str.strip()
    text = text.where(text.str.contains(".", regex=False),
                      text.str.replace(",", ".", regex=False))
    return pd.Series(pd.to_numeric(text.mask(text == ""), errors="coerce"),
                     index=values.index).astype(float)


def test_numbers_and_blanks_in_arrow_match_pandas_string_methods() -> None:
    rng = random.Random(5)
    atoms = ["1", "2", ".", ",", "-", "e", " ", "\t", "\u00a0", "nan", "inf", "x", "", "1e5"]
    for _ in range(400):
        vals = ["".join(rng.choice(atoms) for _ in range(rng.randrange(4)))
                for _ in range(rng.randrange(1, 8))]
        for dtype in ("str", object):
            s = pd.Series(vals, dtype=dtype, index=np.arange(len(vals)) * 2 + 5)
            if dtype is object:
                s.iloc[0] = np.nan
            got = parse_numbers(s)
            pd.testing.assert_series_equal(got, _numbers_in_pandas(s), check_exact=True)
            stripped = s.astype("string").fillna("").str.strip()
            np.testing.assert_array_equal(blank(s).to_numpy(), (stripped == "").to_numpy(bool))
            np.testing.assert_array_equal(unparsed(s, got).to_numpy(),
                                          ((stripped != "") & got.isna()).to_numpy(bool))


def test_empty_rows_as_pandas_finds_them() -> None:
    frame = pd.DataFrame({"a": ["", "x", "", None, ""], "b": ["", "", " ", "", None]},
                         dtype="str")
    for f in (frame, frame.astype(object), frame.iloc[:, :0]):
        np.testing.assert_array_equal(
            _empty_rows(f), (f == "").all(axis=1).to_numpy() if len(f.columns)
            else np.ones(len(f), bool))


def test_a_file_digest_is_kept_while_the_file_is_unchanged_and_never_for_a_fresh_file(
        tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import os
    import time

    from geo_risk.readers import tabular

    reads: list[str] = []
    real = tabular._sha256
    monkeypatch.setattr(tabular, "_sha256", lambda p: reads.append(p) or real(p))
    old = tmp_path / "raster.tif"
    old.write_bytes(b"a" * 1000)
    ten_s_ago = time.time_ns() - 10_000_000_000
    os.utime(old, ns=(ten_s_ago, ten_s_ago))
    first = tabular.file_sha256(old)
    assert tabular.file_sha256(old) == first == hashlib.sha256(b"a" * 1000).hexdigest()
    assert len(reads) == 1  # read once
    old.write_bytes(b"b" * 1000)  # rewritten: a new time stamp, read again
    assert tabular.file_sha256(old) == hashlib.sha256(b"b" * 1000).hexdigest()
    fresh = tmp_path / "incidents.csv"
    fresh.write_bytes(b"x" * 10)
    tabular.file_sha256(fresh)
    fresh.write_bytes(b"y" * 10)  # same size, maybe the same clock tick: still read again
    assert tabular.file_sha256(fresh) == hashlib.sha256(b"y" * 10).hexdigest()
