"""geo_risk.arrays gives NumPy's set results (sorted uniques, inverse codes, membership)."""

from __future__ import annotations

import numpy as np
import pytest

from geo_risk.arrays import isin, unique, unique_inverse, unique_rows

_RNG = np.random.default_rng(7)
CASES = {
    "int64 with repeats": _RNG.integers(-50, 50, 2000),
    "H3-sized uint64": _RNG.integers(2**62, 2**63, 2000).astype(np.uint64),
    "rounded probabilities": np.round(_RNG.random(2000), 3),
    "P-code text": np.array([f"XV{v:04d}" for v in _RNG.integers(0, 40, 500)], dtype=object),
}


@pytest.mark.parametrize("name", list(CASES))
def test_unique_and_inverse_equal_numpy(name: str) -> None:
    a = CASES[name]
    np.testing.assert_array_equal(unique(a), np.unique(a))
    u, inv = unique_inverse(a)
    u_np, inv_np = np.unique(a, return_inverse=True)
    np.testing.assert_array_equal(u, u_np)
    np.testing.assert_array_equal(inv, inv_np.ravel())
    np.testing.assert_array_equal(u[inv], a)  # the codes rebuild the input


def test_isin_on_text_and_numbers_equals_numpy() -> None:
    text = CASES["P-code text"]
    wanted = {"XV0003", "XV0017", "not a code"}
    np.testing.assert_array_equal(isin(text, wanted), np.isin(text, list(wanted)))
    assert 0 < isin(text, wanted).sum() < len(text)
    nums = CASES["int64 with repeats"]
    np.testing.assert_array_equal(isin(nums, [-3, 0, 49]), np.isin(nums, [-3, 0, 49]))
    assert not isin(np.array([], dtype=object), wanted).any()


def test_unique_rows_match_numpy_unique_along_rows() -> None:
    rng = np.random.default_rng(7)
    for shape in ((500, 6), (40, 1), (1, 3), (300, 19)):
        m = rng.integers(-2, 3, size=shape).astype(np.int64)  # many repeated rows, negatives
        _, first, inverse, counts = np.unique(m, axis=0, return_index=True,
                                              return_inverse=True, return_counts=True)
        got = unique_rows(m)
        np.testing.assert_array_equal(got[0], first)
        np.testing.assert_array_equal(got[1], inverse.ravel())
        np.testing.assert_array_equal(got[2], counts)
