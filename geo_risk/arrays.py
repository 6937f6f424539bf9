"""Set operations on cell- and row-sized arrays, through pandas' hash tables.

Two NumPy costs that grow badly with size, measured on this project's 2-core machines:

- ``np.unique`` (NumPy >= 2.3 hashes first): ~3 s for a million distinct integers, where
  NumPy 2.2 took 0.1 s and ``pandas.unique`` + ``np.sort`` takes under 0.5 s;
- ``np.isin`` on text (object) arrays compares every value with every test value: 39 s for
  2.2 million P-codes against 720 units, 0.8 s with ``pandas.Series.isin``.

The functions here give the same results as the NumPy calls they replace (sorted uniques,
inverse codes into them), for 1-D arrays; :func:`unique_rows` does the same for the rows of a
2-D integer array with one ``np.lexsort``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def unique(values: Any) -> np.ndarray:
    """Sorted distinct values of a 1-D array (``np.unique(values)``)."""
    return np.sort(pd.unique(np.asarray(values).ravel()))


def unique_inverse(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and, per element, the position of its value in them
    (``np.unique(values, return_inverse=True)``)."""
    codes, uniques = pd.factorize(np.asarray(values).ravel(), sort=True,
                                  use_na_sentinel=False)
    return np.asarray(uniques), codes.astype(np.intp)


def isin(values: Any, test: Any) -> np.ndarray:
    """Boolean mask: which elements of ``values`` are among ``test`` (``np.isin``)."""
    return pd.Series(np.asarray(values).ravel()).isin(list(test)).to_numpy(dtype=bool)


def unique_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First row of each distinct row, each row's group and the rows per group, groups in
    lexicographic order: ``np.unique(matrix, axis=0, return_index=True, return_inverse=True,
    return_counts=True)`` without the uniques, ~10x faster (one stable lexsort of integer
    columns instead of a sort of the rows as structured records)."""
    n = len(matrix)
    order = np.lexsort(matrix.T[::-1]) if matrix.shape[1] else np.arange(n)
    rows = matrix[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse, np.diff(np.append(np.flatnonzero(new), n))
