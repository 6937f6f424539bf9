"""map.png's worker process: the same bytes as drawing in-process, and every failure of the
worker ends in a map drawn here (or the real error), never a hang or a lost file."""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h3
import numpy as np
import pandas as pd
import pytest

import geo_risk
from geo_risk.errors import ValidationError
from geo_risk.render.png_worker import _ROOT, _SERVE, PngRenderer, draw_later
from geo_risk.render.static import render_png

WEEK = dt.date(2024, 5, 6)


def _kwargs(**over: Any) -> dict[str, Any]:
    cells = np.array([h3.str_to_int(c) for c in h3.grid_disk("872a1072bffffff", 6)],
                     dtype=np.uint64)
    risk = np.linspace(0.001, 0.3, len(cells))
    grid = pd.DataFrame({"cell": cells, "risk": risk})
    kw: dict[str, Any] = {"grid": grid, "title": "Worker test (SYNTHETIC)", "week": WEEK,
                          "synthetic": True, "h3_resolution": 7, "dpi": 50}
    return kw | over


def _wait_dead(png: PngRenderer, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while png.running and time.monotonic() < end:
        time.sleep(0.05)


def test_png_from_the_worker_is_byte_identical_to_drawing_in_process() -> None:
    kw = _kwargs()
    with PngRenderer(enabled=True) as png:
        assert png.running
        got = draw_later(png, kw)()
        assert png.drawn_in_worker
    assert got == render_png(**kw)
    assert got.startswith(b"\x89PNG")


def test_without_a_worker_the_map_is_drawn_in_process() -> None:
    kw = _kwargs()
    with PngRenderer(enabled=False) as png:
        assert not png.running
        got = draw_later(png, kw)()
        assert not png.drawn_in_worker
    assert got == render_png(**kw)
    assert draw_later(None, kw)() == got


def test_a_grid_error_is_raised_here_with_its_own_type_and_message() -> None:
    bad = _kwargs(grid=pd.DataFrame({"cell": [0x872A1072BFFFFFF]}))  # no risk column
    with pytest.raises(ValidationError) as inline:
        render_png(**bad)
    with PngRenderer(enabled=True) as png:
        call = png.submit(bad)
        with pytest.raises(ValidationError) as via_worker:
            call()
        assert not png.drawn_in_worker
    assert str(via_worker.value) == str(inline.value)


def test_a_worker_that_died_before_the_map_is_replaced_by_drawing_here() -> None:
    kw = _kwargs()
    with PngRenderer(enabled=True) as png:
        assert png._proc is not None
        png._proc.kill()
        png._proc.wait()
        got = png.submit(kw)()
        assert not png.drawn_in_worker
    assert got == render_png(**kw)


def test_a_worker_killed_while_drawing_is_replaced_by_drawing_here() -> None:
    kw = _kwargs()
    with PngRenderer(enabled=True) as png:
        call = png.submit(kw)
        assert png._proc is not None
        png._proc.kill()
        got = call()
        assert not png.drawn_in_worker
    assert got == render_png(**kw)


def test_the_worker_exits_when_the_job_ends_without_a_map() -> None:
    png = PngRenderer(enabled=True)
    with png:
        proc = png._proc
        assert proc is not None and proc.poll() is None
    assert proc.poll() is not None  # waited for on leaving the block
    assert not png.running


def test_the_worker_exits_when_the_job_fails() -> None:
    png = PngRenderer(enabled=True)
    with pytest.raises(RuntimeError, match="job failed"), png:
        proc = png._proc
        raise RuntimeError("job failed")
    assert proc is not None and proc.poll() is not None


def test_a_second_map_in_one_block_is_drawn_in_process() -> None:
    kw = _kwargs()
    with PngRenderer(enabled=True) as png:
        first = png.submit(kw)()
        _wait_dead(png)  # the worker draws one map, then exits
        second = png.submit(_kwargs(title="Second"))()
    assert first == render_png(**kw)
    assert second == render_png(**_kwargs(title="Second"))
    assert first != second


def _serve_once(root: str, kwargs: dict[str, Any]) -> bytes:
    """What the worker program writes when asked for one map, started on ``root``."""
    return subprocess.run([sys.executable, "-P", "-c", _SERVE, root],
                          input=pickle.dumps(kwargs), capture_output=True, check=False,
                          timeout=120).stdout


def test_the_worker_draws_only_with_the_very_geo_risk_of_this_process(tmp_path: Path) -> None:
    kw = _kwargs()
    png, peak = pickle.loads(_serve_once(_ROOT, kw))
    assert png == render_png(**kw)
    assert peak is None or peak > 50  # its own peak memory, MB
    assert Path(_ROOT) == Path(geo_risk.__file__).resolve().parents[1]
    # started on another folder (a different geo_risk could be found first): no map, so the
    # job draws it itself
    assert _serve_once(str(tmp_path), kw) == b""
