"""Threads: our parallelism is Python threads; the native pools beneath stay at one thread.

geo-risk runs its heavy work side by side in Python threads (LightGBM boosters, one per
core, each single-threaded). Below them, scikit-learn's loss functions use OpenMP and scipy's
L-BFGS uses OpenBLAS, each with a pool of one thread per core by default. Left as they are,
the two pools spin against each other and against our threads: on a 2-core machine the unit
model (logistic regression and Poisson GLM on ~9,000 unit-weeks) took 4.3 s instead of 0.6 s,
and a country's first weekly run 17.1 s of scoring instead of 11.1 s
(``benchmarks/README.md``). threadpoolctl (scikit-learn's own dependency for this) limits
the pools while our code runs and restores them after, so a caller's settings are untouched.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")


def one_native_thread(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with the OpenMP and BLAS pools limited to one thread.

    OpenMP's limit holds for the calling thread only; threads started inside ``func`` go
    through :func:`run_threads`, which limits their own.
    """
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1):
            return func(*args, **kwargs)
    return wrapper


def _serial(call: Callable[[], Any]) -> Any:
    # per-thread OpenMP setting; the BLAS limit is process-wide and set by the caller
    with threadpool_limits(limits=1, user_api="openmp"):
        return call()


def n_threads(n_jobs: int, tasks: int) -> int:
    """Threads to use for ``tasks`` independent tasks: ``n_jobs`` (< 1: one per core)."""
    n = (os.cpu_count() or 1) if n_jobs < 1 else n_jobs
    return max(1, min(n, tasks))


def run_threads(calls: list[Callable[[], Any]], *, n_jobs: int = -1) -> list[Any]:
    """Results of ``calls`` in order, at most ``n_jobs`` at a time (< 1: one per core).

    Threads suffice for our work: LightGBM and the heavy numpy work release the GIL.
    """
    k = n_threads(n_jobs, len(calls))
    if k == 1:
        return [c() for c in calls]
    with ThreadPoolExecutor(max_workers=k) as pool:
        return list(pool.map(_serial, calls))
