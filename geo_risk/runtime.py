"""How geo-risk's heavy calls run in this process: native thread pools and the collector.

**Threads.** geo-risk runs its heavy work side by side in Python threads (LightGBM boosters,
one per core, each single-threaded). Below them, scikit-learn's loss functions use OpenMP and
scipy's L-BFGS uses OpenBLAS, each with a pool of one thread per core by default. Left as they
are, the pools spin against each other and against our threads: on a 2-core machine the unit
model (logistic regression and Poisson GLM on ~9,000 unit-weeks) took 4.3 s instead of 0.6 s,
and a country's first weekly run 17.1 s of scoring instead of 11.1 s (``benchmarks/README.md``).
threadpoolctl (scikit-learn's own dependency for this) limits the pools while our code runs
and restores them after, so a caller's settings are untouched.

**Garbage collector.** A weekly run holds ~200,000 Python objects (inputs, scored week,
imported modules), and every full collection walks them all: 0.4 s of a next-week run went to
collections that found nothing among them. ``gc.freeze`` leaves the objects alive at the start
of a heavy call out of the collector while it runs; garbage made during the call is still
collected, and the frozen objects return to the collector afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def gc_frozen() -> Iterator[None]:
    """Leave the objects alive now out of the cyclic collector until the block ends.

    A caller that froze objects already keeps its own setting (nested calls do nothing).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def heavy_call(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with the OpenMP and BLAS pools at one thread and the objects alive at the
    start out of the collector (see the module's notes); both restored after.

    OpenMP's limit holds for the calling thread only; threads started inside ``func`` go
    through :func:`run_threads`, which limits their own.
    """
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1), gc_frozen():
            return func(*args, **kwargs)
    return wrapper


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far, MB (None where it cannot be read).

    Linux: ``VmHWM`` from ``/proc/self/status``, not ``getrusage``'s ``ru_maxrss``, which
    survives ``exec`` (a subprocess would report its parent's peak when that was higher).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on most systems


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
