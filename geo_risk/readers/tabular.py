"""Reading spreadsheets as users have them: any encoding, any delimiter, CSV or XLSX.

Everything is read as text first; typed parsing (dates, numbers) happens column by column with
every failure kept as a reject, never silently turned into a missing value.
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import io
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

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
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M",
)


#: Reason given to the partial last row of a file cut mid-row.
TRUNCATED_REASON = ("file ends mid-row: truncated download? The complete rows before it were "
                    "read; download or export the file again to get this row")
#: Encodings found by detection other than UTF-8 get a warning naming the ``encoding`` key.
_LEGACY = {"cp1252": "Windows Western (cp1252)", "latin-1": "Latin-1"}


@dataclass(frozen=True)
class RawTable:
    """Text cells of a file, with the spreadsheet row number of each data row.

    ``partial`` holds the reject row of a last row cut mid-row (a truncated download), if any;
    ``notes`` are warnings about how the file was read (e.g. a legacy encoding was assumed).
    """

    path: Path
    frame: pd.DataFrame  # all object/str columns, "" for empty
    rows: np.ndarray  # 1-based spreadsheet row numbers (header = 1)
    encoding: str
    delimiter: str
    partial: pd.DataFrame | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def rows_read(self) -> int:
        """Data rows in the file: the rows of ``frame`` plus a partial last row."""
        return len(self.frame) + (0 if self.partial is None else len(self.partial))


def file_sha256(path: Path) -> str:
    """The file's sha256. A run asks for an input's several times (its reader's report, the
    state's keys, run.json): the digest is kept for as long as the file's size, time stamp
    and inode are those it had (a population raster can be hundreds of MB). As git does for
    its index, a file changed in the last seconds is hashed every time: file systems stamp
    writes with a coarse clock, so a second write in the same tick keeps the time stamp."""
    st = Path(path).stat()
    if time.time_ns() - st.st_mtime_ns < _RECENT_NS:
        return _sha256(str(path))
    return _kept_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


_RECENT_NS = 2_000_000_000


@functools.lru_cache(maxsize=256)
def _kept_sha256(path: str, size: int, mtime_ns: int, inode: int) -> str:
    del size, mtime_ns, inode  # part of the cache key only
    return _sha256(path)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _decode(path: Path, data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Text of a file: in ``encoding`` when given, else detected.

    Detection: a byte-order mark (UTF-8, UTF-16 little- or big-endian), else UTF-8, else cp1252
    (what Excel on Windows writes), else Latin-1 (which decodes any byte).
    """
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as e:
            line = data[:e.start].count(b"\n") + 1
            raise InputFileError(path, f"line {line} (byte {e.start}) cannot be read as "
                                 f"{encoding!r}: {e.reason}. Fix the 'encoding' key of this "
                                 "source, or remove it to let geo-risk detect the encoding."
                                 ) from None
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(name), name
            except UnicodeDecodeError as e:
                raise InputFileError(path, f"starts like UTF-16 but byte {e.start} is not: "
                                     "set the right 'encoding' for this source.") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"


def _split_partial_row(text: str, delimiter: str) -> tuple[str, str | None]:
    """Split off the last record of a file cut mid-row: ``(complete text, partial record)``.

    The last record is partial when the file ends inside a quoted value, or ends without a
    line break on a record with fewer fields than the header. A file whose last line is
    complete but has no final line break is whole.
    """
    quotes = text.count('"')
    ends_clean = text.endswith(("\n", "\r"))
    if ends_clean and quotes % 2 == 0:
        return text, None
    # Last line break outside quotes: walk back, counting quotes after each candidate.
    pos, after = len(text), 0
    while True:
        cut = text.rfind("\n", 0, pos)
        if cut < 0:
            return text, None  # one record only (the header): nothing to keep apart
        after += text.count('"', cut, pos)
        if (quotes - after) % 2 == 0:
            break
        pos = cut
    tail = text[cut + 1:]
    if not tail.strip():
        return text, None
    if quotes % 2 == 0:  # balanced quotes: partial only if it has fewer fields than the header
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        fields = next(csv.reader(io.StringIO(tail), delimiter=delimiter), [])
        if len(fields) >= len(header):
            return text, None
    return text[:cut + 1], tail


def _read_csv_text(text: str, delimiter: str) -> pd.DataFrame:
    frame = _read_csv_arrow(text, delimiter)
    if frame is not None:
        return frame
    return pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                       skip_blank_lines=False, engine="c")


#: What ``read_csv(dtype=str)`` gives under pandas 3: text stored by Arrow, NaN for missing.
_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def _read_csv_arrow(text: str, delimiter: str) -> pd.DataFrame | None:
    """The table that pandas' C parser reads from ``text``, parsed by Arrow's CSV reader
    (3-4x faster on large exports), or None where the two may differ: pandas then reads it.

    Arrow refuses ragged rows, blank lines and unbalanced quotes, which pandas pads, keeps
    or reports in its own way (callers rely on that: truncated downloads); pandas also
    renames empty or repeated header names and drops a byte-order mark.
    """
    if text.startswith("\ufeff") or "\x00" in text or text.count('"') % 2:
        return None  # an odd quote count: a value cut at the end (pandas reports it)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: leave them to pandas
        return None
    end = text.find("\n")
    n = text[:end if end >= 0 else len(text)].count(delimiter) + 1
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(use_threads=False, autogenerate_column_names=True),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(n)}, null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if (table.num_columns < 2 or table.num_rows < 2
            or not all(pa.types.is_string(t) for t in table.schema.types)):
        return None
    last = str(table.column(table.num_columns - 1)[-1].as_py())
    if text.endswith('"' + last.replace('"', '""')):
        return None  # maybe a quoted value open at the end: Arrow keeps it, pandas refuses it
    names = [str(table.column(i)[0].as_py()) for i in range(table.num_columns)]
    if "" in names or len(set(names)) < len(names):
        return None
    frame = table.slice(1).to_pandas(types_mapper=lambda _: _STR)
    frame.columns = names
    return frame


def _parse_delimited(path: Path, text: str, delimiter: str) -> tuple[pd.DataFrame, str | None]:
    """The table of a delimited text, without a partial last row (returned apart, if any).

    A cut inside a quoted value makes the parser fail: the text up to the last complete row is
    parsed instead. A cut between separators leaves a short last row that the parser pads: it
    is dropped when it is exactly the partial record found by :func:`_split_partial_row` (a
    stray quote mark elsewhere in the file can never make complete rows go missing).
    """
    try:
        frame = _read_csv_text(text, delimiter)
    except (pd.errors.ParserError, ValueError) as e:
        refused = InputFileError(path, f"cannot parse as a delimited table ({e}). Check that "
                                 "quotes are balanced and every row has the same columns.")
        head, tail = _split_partial_row(text, delimiter)
        if tail is None:
            raise refused from None
        try:
            return _read_csv_text(head, delimiter), tail
        except (pd.errors.ParserError, ValueError):
            raise refused from None
    if text.endswith(("\n", "\r")) or frame.empty:
        return frame, None
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    last_line = text[text.rfind("\n") + 1:]
    for tail in (_split_partial_row(text, delimiter)[1], last_line):
        if tail is None:
            continue
        fields = next(csv.reader(io.StringIO(tail), delimiter=delimiter), [])
        last = frame.iloc[-1, :len(fields)].fillna("").astype(str).tolist()
        if len(fields) < len(header) and last == fields:
            return frame.iloc[:-1], tail
    return frame, None


def _partial_reject(path: Path, frame: pd.DataFrame, tail: str, delimiter: str) -> pd.DataFrame:
    """The reject row of a partial last record, naming the column where it was cut."""
    fields = next(csv.reader(io.StringIO(tail.replace("\r", "")), delimiter=delimiter), [""])
    columns = [str(c).strip() for c in frame.columns]
    column = columns[min(len(fields), len(columns)) - 1] if columns else ""
    return pd.DataFrame({"file": [str(path)], "row": [len(frame) + 2], "column": [column],
                         "value": [tail.strip()[:200]], "reason": [TRUNCATED_REASON]})


def _head_lines(text: str, n: int) -> list[str]:
    """``text.splitlines()[:n]`` without splitting a whole large file."""
    size = 1 << 16
    while True:
        lines = text[:size].splitlines()
        # Two spare lines: a cut inside "\r\n" or mid-line only touches the last ones.
        if len(lines) > n + 1 or size >= len(text):
            return lines[:n]
        size *= 4


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(_head_lines(text, 50))
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = text.split("\n", 1)[0]
        counts = {d: header.count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_table(path: str | Path, *, sheet: str | int | None = None,
               encoding: str | None = None) -> RawTable:
    """Read a CSV/TSV/XLSX/XLS file as text cells.

    Encoding (UTF-8 with or without BOM, UTF-16 LE/BE with BOM, cp1252/Latin-1) and delimiter
    (comma, semicolon, tab, pipe) are detected; ``encoding`` overrides detection. A file cut
    mid-row (a truncated download) keeps its complete rows: the partial last row is returned
    in ``partial`` as a reject instead of the whole file being refused.

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
    partial: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    if p.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        frame = _read_spreadsheet(p, sheet)
        encoding, delimiter = p.suffix.lower().lstrip("."), ""
    else:
        data = p.read_bytes()
        if not data.strip():
            raise InputFileError(p, "file is empty. Export it again; a feed with no rows would "
                                 "otherwise look like a quiet week.")
        chosen = encoding is not None
        text, encoding = _decode(p, data, encoding)
        if encoding in _LEGACY and not chosen:
            notes = (f"not UTF-8: read as {_LEGACY[encoding]}; if accented names look wrong, "
                     "set encoding = \"...\" for this source in the config",)
        delimiter = _sniff_delimiter(text)
        frame, tail = _parse_delimited(p, text, delimiter)
        if tail is not None:
            partial = _partial_reject(p, frame, tail, delimiter)
    frame.columns = [str(c).strip() for c in frame.columns]
    # Drop rows where every cell is empty (trailing blank lines), but keep row numbering.
    rows = np.arange(len(frame)) + 2
    blank = _empty_rows(frame)
    frame = frame.loc[~blank].reset_index(drop=True)
    rows = rows[~blank]
    if frame.columns.empty or len(frame.columns) == 0:
        raise InputFileError(p, "no header row found.")
    if frame.empty:
        raise InputFileError(p, "has a header but no data rows. Export it again; a feed with no "
                             "rows would otherwise look like a quiet week.")
    return RawTable(path=p, frame=frame.fillna(""), rows=rows, encoding=encoding,
                    delimiter=delimiter, partial=partial, notes=notes)


def _empty_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is "" (``(frame == "").all(axis=1)``; missing cells are not "").

    Arrow-backed text columns are compared in Arrow compute, without a frame of booleans.
    """
    if not len(frame.columns):
        return np.ones(len(frame), bool)
    if not all(isinstance(t, pd.StringDtype) and t.storage == "pyarrow" for t in frame.dtypes):
        return (frame == "").all(axis=1).to_numpy()
    empty = np.ones(len(frame), bool)
    for _, column in frame.items():
        empty &= np.asarray(pc.fill_null(pc.equal(pa.array(column.array), ""), False)
                            .to_numpy(zero_copy_only=False), dtype=bool)
    return empty


def _read_spreadsheet(p: Path, sheet: str | int | None) -> pd.DataFrame:
    """An XLSX (openpyxl) or legacy XLS (xlrd) sheet as text cells."""
    engine: Literal["xlrd", "openpyxl"] = "xlrd" if p.suffix.lower() == ".xls" else "openpyxl"
    try:
        with warnings.catch_warnings():
            # pandas 3 announces the end of its xlrd engine; until then xlrd reads .xls fine.
            warnings.filterwarnings("ignore", message="The xlrd engine is deprecated")
            return pd.read_excel(p, sheet_name=sheet or 0, dtype=str, keep_default_na=False,
                                 engine=engine)
    except ImportError:
        raise InputFileError(p, f"reading {p.suffix} files needs the {engine} package; "
                             "install geo-risk with its dependencies, or save the sheet as "
                             "XLSX or CSV.") from None
    except Exception as e:  # openpyxl and xlrd raise many types for broken files
        raise InputFileError(p, f"cannot read this spreadsheet ({type(e).__name__}: {e}). "
                             "Save it again as XLSX or CSV.") from None


#: Separators that date formats write literally (digits, letters and spaces aside).
_SEPARATORS = "-/.:,"
#: Directives that write only digits, letters or spaces (C locale month and day names).
_PLAIN_DIRECTIVES = re.compile(r"%[YymdHMSfBbIpjAaUWw]")


@functools.lru_cache(maxsize=256)
def _format_separators(fmt: str) -> int | None:
    """Separator counts that ``fmt`` writes (packed as by :func:`_separator_counts`), or None
    when one of its directives may write separators too."""
    literal = _PLAIN_DIRECTIVES.sub("", fmt)
    if "%" in literal:  # %z, %x, %c, %%...: separators can come from the directive
        return None
    return sum(min(literal.count(c), 15) << (4 * i) for i, c in enumerate(_SEPARATORS))


def _separator_counts(text: pd.Series) -> np.ndarray:
    """How often each separator occurs in each text, packed 4 bits per separator (at most 15).

    An exact ``to_datetime(format=...)`` match consumes every character through the format,
    and only the format's literals write separators: a text whose counts differ from the
    format's cannot parse with it.
    """
    packed = np.zeros(len(text), dtype=np.int64)
    arr = _arrow_strings(text)
    for i, c in enumerate(_SEPARATORS):
        if arr is None:
            n = text.str.count(re.escape(c)).to_numpy(dtype=np.int64)
        else:
            n = np.asarray(pc.fill_null(pc.count_substring(arr, c), 0).to_numpy(
                zero_copy_only=False), dtype=np.int64)
        packed |= np.minimum(n, 15) << (4 * i)
    return packed


def parse_dates(values: pd.Series, *, formats: tuple[str, ...] = DATE_FORMATS,
                keep_time: bool = False) -> pd.Series:
    """Parse text dates trying each known format on what is still unparsed (vectorised).

    Returns ``datetime64[ns]`` normalised to the day (``keep_time``: with the time of day, for
    alert and response times); NaT where nothing matched or empty.
    Time-zone suffixes (``Z``, ``+00:00``) are dropped: geo-risk works in calendar days.
    Each distinct text is parsed once (an export has far fewer distinct days than rows).
    """
    # str columns (what read_table gives) factorise as they are: a missing value gets code -1
    # and ends NaT like "" does; other dtypes are made text first.
    as_text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
    codes, uniques = pd.factorize(as_text, sort=False)
    text = pd.Series(uniques, dtype="string").fillna("").str.strip()
    # Both rewrites below need a time of day ("HH:MM"): skip them when no text has a colon.
    if text.str.contains(":", regex=False).any():
        # Only after a time of day: "28-07-2021" ends in "-2021", which is not a UTC offset.
        text = text.str.replace(
            r"([T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?:Z|[+-]\d\d:?\d\d)$", r"\1", regex=True)
        if not keep_time:
            # A valid ISO time of day is dropped before parsing: KoBo stamps every submission
            # to the millisecond, so the rows' thousands of distinct texts become a few hundred
            # days (each tried against every format below). An invalid time still fails.
            text = text.str.replace(
                r"^(\d{4}-\d\d-\d\d)[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?$",
                r"\1", regex=True)
    if not keep_time:
        day_codes, day_uniques = pd.factorize(text, sort=False)
        codes = np.where(codes >= 0, day_codes[np.maximum(codes, 0)], -1)
        text = pd.Series(day_uniques, dtype="string")
    parsed_uniques = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    todo = (text != "").to_numpy(dtype=bool)
    seps = _separator_counts(text)
    for fmt in formats:
        if not todo.any():
            break
        # A format is tried only on texts with its separators: the others cannot match it
        # exactly, and failed attempts are what made a late format (alert times) costly.
        want = _format_separators(fmt)
        candidates = todo if want is None else todo & (seps == want)
        if not candidates.any():
            continue
        parsed = pd.to_datetime(text[candidates], format=fmt, errors="coerce").to_numpy()
        ok = ~np.isnat(parsed)
        if ok.any():
            at = np.flatnonzero(candidates)[ok]
            parsed_uniques[at] = parsed[ok].astype("datetime64[ns]")
            todo[at] = False
    day = (parsed_uniques if keep_time
           else pd.Series(parsed_uniques).dt.normalize().to_numpy())
    out = np.where(codes >= 0, day[np.maximum(codes, 0)], np.datetime64("NaT"))
    return pd.Series(out, index=values.index, dtype="datetime64[ns]")


def _arrow_strings(values: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The values as Arrow strings, as pandas' ``string`` dtype holds them (no copy for the
    str columns of :func:`read_table`); None if pandas stores strings without Arrow."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        values = values.astype("string")
        if getattr(values.dtype, "storage", None) != "pyarrow":
            return None
    return pa.array(values.array)


def _blank(values: pd.Series) -> np.ndarray:
    """``values.astype("string").fillna("").str.strip() == ""`` as a numpy mask.

    pandas strips Arrow strings with ``utf8_trim_whitespace``: called here directly, without
    a pandas Series for each step (these checks run on every column of every file).
    """
    arr = _arrow_strings(values)
    if arr is None:
        return (values.astype("string").fillna("").str.strip() == "").to_numpy(dtype=bool)
    empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arr), ""), True)
    return np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)


def parse_numbers(values: pd.Series) -> pd.Series:
    """Text to float; '' -> NaN; accepts a decimal comma when there is no dot."""
    arr = _arrow_strings(values)
    if arr is not None:
        # The steps of the pandas version below, in Arrow compute without a Series each;
        # Arrow's cast parses ~10x faster than to_numeric and accepts the same numbers.
        text = pc.utf8_trim_whitespace(pc.fill_null(arr, ""))
        text = pc.if_else(pc.match_substring(text, "."), text,
                          pc.replace_substring(text, ",", "."))
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
        try:
            parsed = pc.cast(text, pa.float64())
            return pd.Series(parsed.to_numpy(zero_copy_only=False), index=values.index,
                             dtype=float)
        except pa.ArrowInvalid:
            pass  # a text that is not a number: to_numeric below marks each such row NaN
    text = values.astype("string").fillna("").str.strip()
    text = text.where(text.str.contains(".", regex=False), text.str.replace(",", ".", regex=False))
    return pd.Series(pd.to_numeric(text.mask(text == ""), errors="coerce"),
                     index=values.index).astype(float)


def unparsed(text: pd.Series, parsed: pd.Series) -> pd.Series:
    """Rows with a non-empty value that did not parse."""
    if not text.index.equals(parsed.index):  # pandas aligns the two on their labels
        return (text.astype("string").fillna("").str.strip() != "") & parsed.isna()
    return pd.Series(~_blank(text) & parsed.isna().to_numpy(dtype=bool), index=text.index)


def blank(text: pd.Series) -> pd.Series:
    return pd.Series(_blank(text), index=text.index)
