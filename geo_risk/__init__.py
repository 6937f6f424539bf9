"""geo-risk: geospatial conflict and protection-risk mapping for peacekeeping analysts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("geo-risk")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
