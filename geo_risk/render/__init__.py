"""Rendering: the self-contained, offline interactive risk map (``map.html``).

See :mod:`geo_risk.render.map` for the design; :func:`render_map` returns the page as text and
:func:`write_map` writes it.
"""

from __future__ import annotations

from geo_risk.render.map import MapMeta, render_map, write_map

__all__ = ["MapMeta", "render_map", "write_map"]
