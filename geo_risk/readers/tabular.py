"""Reading spreadsheets as users have them: any encoding, any delimiter, CSV or XLSX.

Everything is read as text first; typed parsing (dates, numbers) happens column by column with
every failure kept as a reject, never silently turned into a missing value.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError, MissingInputError

#: Date formats seen in real exports, tried in this order on values not yet parsed.
#: ACLED: "06 December 2022", "28-Jul-21", "2022-12-06"; day/month/year with 2- or 4-digit
#: years; UCDP/KoBo: ISO dates and timestamps; Excel cells read as text: "2022-12-06 00:00:00".
DATE_FORMATS = (
    "%Y-%m-%d",
    "%d %B %Y",
    "%d %b %Y",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%d/%m/%Y",
    "%d/%m/%y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%B %d, %Y",
)


@dataclass(frozen=True)
class RawTable:
    """Text cells of a file, with the spreadsheet row number of each data row."""

    path: Path
    frame: pd.DataFrame  # all object/str columns, "" for empty
    rows: np.ndarray  # 1-based spreadsheet row numbers (header = 1)
    encoding: str
    delimiter: str


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # cp1252 is what Excel on Windows writes; it decodes almost any byte, like Latin-1.
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = text.split("\n", 1)[0]
        counts = {d: header.count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_table(path: str | Path, *, sheet: str | int | None = None) -> RawTable:
    """Read a CSV/TSV/XLSX file as text cells.

    Encoding (UTF-8 with or without BOM, UTF-16, cp1252/Latin-1) and delimiter (comma,
    semicolon, tab, pipe) are detected.

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputFileError
        The file is empty, has no header, or cannot be parsed.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingInputError(p, "file not found. Check the path in the config.")
    if p.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        try:
            frame = pd.read_excel(p, sheet_name=sheet or 0, dtype=str, keep_default_na=False,
                                  engine="openpyxl" if p.suffix.lower() != ".xls" else None)
        except Exception as e:  # openpyxl raises many types for broken files
            raise InputFileError(p, f"cannot read this spreadsheet ({e}). Save it again as "
                                 "XLSX or CSV.") from None
        encoding, delimiter = "xlsx", ""
    else:
        data = p.read_bytes()
        if not data.strip():
            raise InputFileError(p, "file is empty. Export it again; a feed with no rows would "
                                 "otherwise look like a quiet week.")
        text, encoding = _decode(p, data)
        delimiter = _sniff_delimiter(text)
        try:
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str,
                                keep_default_na=False, skip_blank_lines=False, engine="c")
        except (pd.errors.ParserError, ValueError) as e:
            raise InputFileError(p, f"cannot parse as a delimited table ({e}). Check that "
                                 "quotes are balanced and every row has the same columns."
                                 ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    # Drop rows where every cell is empty (trailing blank lines), but keep row numbering.
    rows = np.arange(len(frame)) + 2
    blank = ((frame == "").all(axis=1).to_numpy() if len(frame.columns)
             else np.ones(len(frame), bool))
    frame = frame.loc[~blank].reset_index(drop=True)
    rows = rows[~blank]
    if frame.columns.empty or len(frame.columns) == 0:
        raise InputFileError(p, "no header row found.")
    if frame.empty:
        raise InputFileError(p, "has a header but no data rows. Export it again; a feed with no "
                             "rows would otherwise look like a quiet week.")
    return RawTable(path=p, frame=frame.fillna(""), rows=rows, encoding=encoding,
                    delimiter=delimiter)


def parse_dates(values: pd.Series, *, formats: tuple[str, ...] = DATE_FORMATS) -> pd.Series:
    """Parse text dates trying each known format on what is still unparsed (vectorised).

    Returns ``datetime64[ns]`` normalised to the day; NaT where nothing matched or empty.
    Time-zone suffixes (``Z``, ``+00:00``) are dropped: geo-risk works in calendar days.
    Each distinct text is parsed once (an export has far fewer distinct days than rows).
    """
    codes, uniques = pd.factorize(values.astype("string").fillna(""), sort=False)
    text = pd.Series(uniques, dtype="string").str.strip()
    # Only after a time of day: "28-07-2021" ends in "-2021", which is not a UTC offset.
    text = text.str.replace(r"([T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?:Z|[+-]\d\d:?\d\d)$",
                            r"\1", regex=True)
    parsed_uniques = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    todo = text != ""
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        ok = parsed.notna()
        if ok.any():
            idx = parsed.index[ok]
            parsed_uniques.loc[idx] = parsed[ok].to_numpy().astype("datetime64[ns]")
            todo.loc[idx] = False
    day = parsed_uniques.dt.normalize().to_numpy()
    out = np.where(codes >= 0, day[np.maximum(codes, 0)], np.datetime64("NaT"))
    return pd.Series(out, index=values.index, dtype="datetime64[ns]")


def parse_numbers(values: pd.Series) -> pd.Series:
    """Text to float; '' -> NaN; accepts a decimal comma when there is no dot."""
    text = values.astype("string").fillna("").str.strip()
    text = text.where(text.str.contains(".", regex=False), text.str.replace(",", ".", regex=False))
    return pd.Series(pd.to_numeric(text.mask(text == ""), errors="coerce"),
                     index=values.index).astype(float)


def unparsed(text: pd.Series, parsed: pd.Series) -> pd.Series:
    """Rows with a non-empty value that did not parse."""
    return (text.astype("string").fillna("").str.strip() != "") & parsed.isna()


def blank(text: pd.Series) -> pd.Series:
    return text.astype("string").fillna("").str.strip() == ""
