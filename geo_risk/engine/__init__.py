"""Engines that run the weekly forecast past one process: ``dask`` (see
:func:`geo_risk.engine.driver.forecast_dask`)."""

from .driver import CELLS_PER_PARTITION, EngineError, dask_client, forecast_dask, partition_bounds
from .readers import dask_locator

__all__ = ["CELLS_PER_PARTITION", "EngineError", "dask_client", "dask_locator", "forecast_dask",
           "partition_bounds"]
