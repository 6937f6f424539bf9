"""Inputs placed on the dask cluster: blocks of rows located by the workers.

Reading a file stays on the driver: every row must be accounted for (accepted, or rejected with
its file row number), and a CSV cannot be cut into byte ranges safely when quoted fields hold
line breaks, as ACLED notes do. Placing the rows (admin unit by spatial index, nearest unit
within the tolerance, H3 cell) is what grows with millions of rows and depends on nothing but
each row's coordinates, so it runs in blocks on the workers.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np

from ..index import locate_points
from ..pipeline import Locator

#: Rows per block sent to a worker (a block's arrays are ~4 MB).
ROWS_PER_BLOCK = 250_000


def dask_locator(client: Any, *, rows_per_block: int = ROWS_PER_BLOCK) -> Locator:
    """A :data:`geo_risk.pipeline.Locator` that places blocks of rows on ``client``'s workers.

    Parameters
    ----------
    client : distributed.Client
        The dask client (see :func:`geo_risk.engine.dask_client`).
    rows_per_block : int
        Rows per task; files with no more rows than this are placed here, on the driver.

    Returns
    -------
    Locator
        Same results as :func:`geo_risk.index.locate_points`, row for row.
    """
    def locate(*, lon: np.ndarray, lat: np.ndarray, admin: gpd.GeoDataFrame,
               tolerance_km: float, resolution: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        kw: dict[str, Any] = {"tolerance_km": tolerance_km, "resolution": resolution}
        if len(lon) <= rows_per_block:
            return locate_points(lon=lon, lat=lat, admin=admin, **kw)
        [shared] = client.scatter([admin], broadcast=True)
        starts = range(0, len(lon), rows_per_block)
        futures = [client.submit(locate_points, lon=lon[a:a + rows_per_block],
                                 lat=lat[a:a + rows_per_block], admin=shared, **kw,
                                 pure=False) for a in starts]
        parts = client.gather(futures)
        pcode, dist, cell = (np.concatenate([p[i] for p in parts]) for i in range(3))
        return pcode, dist, cell
    return locate
