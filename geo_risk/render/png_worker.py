"""map.png drawn in a second process while this one writes the other outputs.

Why a process: in a country's weekly run the static map costs ~2.4 s (about half of it
importing matplotlib, the rest drawing and encoding), and nearly all of it holds the GIL, so
a thread cannot overlap it with writing the tables and ``map.html`` (tried: wall time stayed
equal to CPU time). A process started at the beginning of the job imports matplotlib while
this one reads and scores, then draws once the scores are ready; on two cores the map then
costs the weekly run almost nothing (``benchmarks/README.md``, bench_pipeline).

Why a fresh interpreter of its own (``python -c``), and not multiprocessing: a forked child
is cheaper (it inherits the imports) but only safe before any native thread pool has started
(LightGBM's OpenMP, Arrow's, h3ronpy's rayon): it can inherit a pool whose threads are gone
and wait for them forever, and a library cannot tell whether its caller started one.
multiprocessing's "spawn" re-runs the caller's main script in the child unless the script is
guarded by ``if __name__ == "__main__"``, so an unguarded weekly-job script would run twice.
The worker here is a plain subprocess (of the same interpreter, importing this very
geo_risk) that imports the renderer (~2 s of CPU, ~160 MB) on
the otherwise idle second core while the job reads and scores, reads one pickled set of
arguments from its stdin, and writes the PNG's bytes to its stdout. With one core it would
only compete with the job, so the map is then drawn in-process.

The worker is only an accelerator: if it fails in any way, the map is drawn again in this
process, so a real error (a grid without ``risk``) is raised here with its own type and
message, exactly as without a worker.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from geo_risk.runtime import peak_rss_mb

#: The module the worker imports while the job runs (matplotlib comes with it).
_RENDERER = "geo_risk.render.static"
#: The folder holding this geo_risk package (a source checkout, or site-packages).
_ROOT = str(Path(__file__).resolve().parents[2])
#: The worker's program, run with ``-P`` (no current folder on its path) and ``_ROOT`` as its
#: argument. That folder goes first on the path only when it is not there already:
#: site-packages is, and put first it would shadow the standard library. ``_serve`` then
#: draws only if it imported this very geo_risk.
_SERVE = ("import sys\nroot = sys.argv[1]\n"
          "if root not in sys.path:\n    sys.path.insert(0, root)\n"
          "from geo_risk.render.png_worker import _serve\n_serve(root)\n")
#: How much lower the worker's CPU priority is than the job's (``os.nice`` increment).
_NICE = 10


def _serve(root: str) -> None:
    """The worker's main: import the renderer, then draw the one map asked for on stdin.

    It draws nothing when this geo_risk is not the one in ``root`` (another copy earlier on
    the path): the job then draws the map itself. At a lower CPU priority: while the job
    trains its boosters on every core the worker only takes what they leave, and when the job
    runs on one core the worker has the other.
    """
    if Path(root).resolve() != Path(_ROOT):
        return
    if hasattr(os, "nice"):
        os.nice(_NICE)
    importlib.import_module(_RENDERER)
    try:
        kwargs = pickle.load(sys.stdin.buffer)  # from our own parent process only
    except EOFError:  # the job ended (or failed) before it had a map to draw
        return
    try:
        png: bytes | None = _draw(kwargs)
    except Exception:  # any failure: the parent draws again and raises the real error
        png = None
    pickle.dump((png, peak_rss_mb()), sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


def _draw(kwargs: dict[str, Any]) -> bytes:
    from geo_risk.render.static import render_png

    return render_png(**kwargs)


def _inline(kwargs: dict[str, Any]) -> Callable[[], bytes]:
    return lambda: _draw(kwargs)


class PngRenderer:
    """Draws ``map.png`` in a second process, started when the block is entered.

    Use it around the whole job, entered before the work starts, and pass it to
    :func:`geo_risk.outputs.write_outputs`::

        with PngRenderer() as png:
            inputs = load_inputs(config)
            result = run_week(config, inputs=inputs)
            write_outputs(result, config, out, png=png)

    One map per block: a second :meth:`submit` draws in the calling process.

    Parameters
    ----------
    enabled : bool, optional
        Use a worker process. Default: with two or more cores; otherwise (or when the
        process cannot be started) every map is drawn in the calling process.

    Attributes
    ----------
    drawn_in_worker : bool
        Whether the map submitted came back from the worker process.
    worker_peak_mb : float or None
        The worker's peak resident memory once it has drawn the map (Linux), MB.
    """

    def __init__(self, *, enabled: bool | None = None) -> None:
        self.enabled = (os.cpu_count() or 1) >= 2 if enabled is None else enabled
        self._proc: subprocess.Popen[bytes] | None = None
        self.drawn_in_worker = False
        self.worker_peak_mb: float | None = None

    def __enter__(self) -> PngRenderer:
        if self.enabled:
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-P", "-c", _SERVE, _ROOT], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            except OSError:  # no room for another process: draw here
                self._proc = None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()  # the worker reads EOF and exits
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def running(self) -> bool:
        """Whether a worker process is there to take a map."""
        return self._proc is not None and self._proc.poll() is None

    def submit(self, kwargs: dict[str, Any]) -> Callable[[], bytes]:
        """Start drawing :func:`geo_risk.render.static.render_png` with ``kwargs``; the
        returned call waits for the PNG's bytes (drawn again here if the worker failed)."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None or proc.stdin.closed \
                or proc.poll() is not None:
            return _inline(kwargs)
        stdin, stdout = proc.stdin, proc.stdout
        payload = pickle.dumps(kwargs, protocol=pickle.HIGHEST_PROTOCOL)

        def send() -> None:
            # In a thread: the worker reads only once its imports are done, and a pipe
            # holds 64 KB; the job goes on writing its other files meanwhile.
            try:
                stdin.write(payload)
                stdin.close()
            except OSError:  # the worker died; result() draws here
                pass
        sender = threading.Thread(target=send, name="geo-risk-png-send", daemon=True)
        sender.start()

        def result() -> bytes:
            sender.join()
            try:
                png, self.worker_peak_mb = pickle.load(stdout)  # our own worker's answer
            except (EOFError, OSError, pickle.UnpicklingError, TypeError, ValueError):
                png = None
            if isinstance(png, bytes):
                self.drawn_in_worker = True
                return png
            return _draw(kwargs)
        return result


def draw_later(renderer: PngRenderer | None, kwargs: dict[str, Any]) -> Callable[[], bytes]:
    """A call giving the PNG drawn with ``kwargs``: in ``renderer``'s worker when there is
    one (started now), else in this process when called."""
    return renderer.submit(kwargs) if renderer is not None else _inline(kwargs)


__all__ = ["PngRenderer", "draw_later"]
