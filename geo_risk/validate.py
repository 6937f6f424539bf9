"""Row-level checks shared by every reader, and the rejects table.

A check is a boolean mask of bad rows plus the column it concerns and a reason a user can act
on. :func:`apply_checks` runs them all at once (vectorised) and splits a frame into accepted rows
and one reject row per bad input row (all its reasons joined), so counts always add up:
rows read = rows accepted + rows rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

REJECT_COLUMNS = ["file", "row", "column", "value", "reason"]


@dataclass(frozen=True)
class Check:
    """Rows where ``bad`` is True are rejected for ``reason``; ``column`` names the culprit."""

    bad: np.ndarray | pd.Series
    column: str
    reason: str
    value: pd.Series | None = None  # what to show as the offending value (default: the column)


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in REJECT_COLUMNS})


def rejects_for(frame: pd.DataFrame, *, column: str, reason: str | pd.Series,
                value: pd.Series | None = None) -> pd.DataFrame:
    """Reject rows of a canonical frame (one that carries source_file/source_row)."""
    if value is None:
        value = frame[column] if column in frame.columns else pd.Series("", index=frame.index)
    return pd.DataFrame({
        "file": frame["source_file"].to_numpy(),
        "row": frame["source_row"].to_numpy(),
        "column": column,
        "value": value.astype("string").fillna("").str.slice(0, 200).to_numpy(),
        "reason": reason.to_numpy() if isinstance(reason, pd.Series) else reason,
    })


def apply_checks(frame: pd.DataFrame, checks: Sequence[Check], *,
                 raw: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into (accepted, rejects).

    Parameters
    ----------
    frame
        Canonical rows with ``source_file`` and ``source_row``.
    checks
        Checks to run; masks align with ``frame``'s index.
    raw
        The source columns as read, used to show the offending value as the user wrote it.
    """
    if not checks or frame.empty:
        return frame, empty_rejects()
    n = len(frame)
    first_col = np.full(n, "", dtype=object)
    first_val = np.full(n, "", dtype=object)
    reasons = np.full(n, "", dtype=object)
    any_bad = np.zeros(n, dtype=bool)
    for check in checks:
        bad = np.asarray(check.bad, dtype=bool)
        if not bad.any():
            continue
        new = bad & ~any_bad
        if check.value is not None:
            shown = check.value
        elif raw is not None and check.column in raw.columns:
            shown = raw[check.column]
        elif check.column in frame.columns:
            shown = frame[check.column]
        else:
            shown = pd.Series("", index=frame.index)
        shown_arr = shown.astype("string").fillna("").to_numpy(dtype=object)
        first_col[new] = check.column
        first_val[new] = shown_arr[new]
        joined = np.where(any_bad & bad, reasons + "; " + check.reason, reasons)
        reasons = np.where(new, check.reason, joined)
        any_bad |= bad
    rejected = frame.loc[any_bad]
    rejects = pd.DataFrame({
        "file": rejected["source_file"].to_numpy(),
        "row": rejected["source_row"].to_numpy(),
        "column": first_col[any_bad],
        "value": pd.Series(first_val[any_bad], dtype="string").str.slice(0, 200).to_numpy(),
        "reason": reasons[any_bad],
    })
    return frame.loc[~any_bad].copy(), rejects
