"""geo_risk.runtime: native pools at one thread and the collector frozen under heavy calls, the
caller's settings restored."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from geo_risk.runtime import heavy_call, n_threads, run_threads


def _pools() -> dict[str, int]:
    """Largest thread count per native API (openmp, blas) loaded in this process."""
    out: dict[str, int] = {}
    for pool in threadpool_info():
        api = pool["user_api"]
        out[api] = max(out.get(api, 0), pool["num_threads"])
    return out


def _load_pools() -> None:
    # scikit-learn loads OpenMP, numpy/scipy load OpenBLAS
    import sklearn.linear_model  # noqa: F401

    np.ones(2) @ np.ones(2)


def test_heavy_call_limits_pools_inside_and_restores_them_after() -> None:
    _load_pools()
    before = _pools()
    seen = heavy_call(_pools)()
    assert seen and all(v == 1 for v in seen.values()), seen
    assert _pools() == before


def test_run_threads_workers_run_openmp_at_one_thread_and_keep_order() -> None:
    _load_pools()

    def openmp() -> int:
        return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"),
                   default=1)

    calls = [(lambda i=i: (i, openmp())) for i in range(6)]
    results = run_threads(calls, n_jobs=2)
    assert [r[0] for r in results] == list(range(6))
    assert all(r[1] == 1 for r in results)


def test_n_threads_is_one_per_core_by_default_and_never_more_than_tasks() -> None:
    assert n_threads(3, 10) == 3
    assert n_threads(8, 2) == 2
    assert n_threads(-1, 1000) >= 1
    assert n_threads(0, 0) == 1


def test_heavy_call_freezes_objects_alive_at_start_and_unfreezes_after() -> None:
    import gc

    assert gc.get_freeze_count() == 0
    kept = [object() for _ in range(10)]  # alive before the call: frozen during it
    assert heavy_call(gc.get_freeze_count)() >= len(kept)
    assert gc.get_freeze_count() == 0


def test_peak_rss_rises_with_memory_touched_and_never_falls() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("VmHWM is Linux's")
    # In a fresh process: this one's high-water mark is whatever earlier tests reached.
    code = ("import numpy as np\n"
            "from geo_risk.runtime import peak_rss_mb\n"
            "before = peak_rss_mb()\n"
            "block = np.ones(300 * 2**20 // 8)\n"  # 300 MB, every page written
            "during = peak_rss_mb()\n"
            "del block\n"
            "print(before, during, peak_rss_mb())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    before, during, after = (float(v) for v in out.split())
    assert 10 < before and during - before > 200
    # a high-water mark: the block is gone, its peak stays (the kernel syncs its per-thread
    # page counters lazily, hence the few MB of slack)
    assert after > during - 5
