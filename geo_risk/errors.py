"""All exceptions raised by geo-risk, in one place.

Every error a user can cause derives from :class:`GeoRiskError`; the CLI turns it into a
one-line message and a non-zero exit code instead of a traceback. Errors also subclass the
closest built-in (``ValueError``, ``FileNotFoundError``) so callers can catch them generically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class GeoRiskError(Exception):
    """Base class for every error geo-risk raises on purpose."""


class ConfigError(GeoRiskError, ValueError):
    """The configuration file is missing a key, has a wrong value, or names a missing file."""


class InputFileError(GeoRiskError, ValueError):
    """An input file cannot be used at all (unreadable, empty, wrong columns, wrong CRS)."""

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class MissingInputError(InputFileError, FileNotFoundError):
    """An input file named in the configuration does not exist."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating: where it is and what to do about it."""

    file: str
    message: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"


class ValidationError(GeoRiskError, ValueError):
    """Several problems found at once; raised after validating everything, not at the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        head = f"{len(lines)} problem(s) found:" if len(lines) > 1 else ""
        super().__init__("\n".join([head, *lines]) if head else (lines[0] if lines else "invalid"))


class OutputFolderError(GeoRiskError, OSError):
    """The output folder cannot be written safely: another run holds it, or it holds files
    that are not a geo-risk run (and would be moved aside by the swap)."""
