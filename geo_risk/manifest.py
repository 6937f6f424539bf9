"""What run.json records so a run can be checked and repeated: every input file with its
sha256 (sidecar files included), every package that shaped the numbers, and the seeds."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from . import __version__
from .config import RunConfig
from .readers.tabular import file_sha256

#: Packages whose version can change a number, a map or a file of the run.
PACKAGES = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "pyarrow",
            "rasterio", "exactextract", "h3", "h3ronpy", "scikit-learn", "scipy", "lightgbm",
            "matplotlib", "pillow", "jinja2", "markupsafe",
            "django-js-lib-leaflet", "openpyxl", "xlrd")

#: Files read together with a data file of the same name (Shapefile parts, GDAL sidecars,
#: world files). Suffixes are matched case-insensitively against ``stem + suffix`` and
#: ``name + suffix``.
SIDECAR_SUFFIXES = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".fix",
                    ".aih", ".ain", ".atx", ".xml", ".aux.xml", ".ovr", ".tfw", ".tifw",
                    ".wld", ".jgw", ".pgw", ".msk")


def package_versions() -> dict[str, str]:
    """Versions of Python, geo-risk, GDAL/PROJ and every package in :data:`PACKAGES`.

    Returns
    -------
    dict of str to str
        Name to version; ``"not installed"`` for optional packages that are absent.
    """
    out = {"python": platform.python_version(), "geo-risk": __version__}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    try:
        import pyogrio
        import pyproj

        out["gdal"] = str(pyogrio.__gdal_version_string__)
        out["proj"] = str(pyproj.proj_version_str)
    except ImportError:  # pragma: no cover - both are dependencies of geopandas
        pass
    return out


def data_files(path: Path) -> list[Path]:
    """The file itself and every sidecar read with it (``.shx``/``.dbf``/``.prj``... or
    ``.aux.xml``/world files); all files of a folder dataset (e.g. a FileGDB).

    Parameters
    ----------
    path : Path
        The data file named in the configuration.

    Returns
    -------
    list of Path
        Existing files, sorted by name.
    """
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    if not path.parent.is_dir():
        return []
    wanted = {(base + suffix).lower() for base in (path.stem, path.name)
              for suffix in SIDECAR_SUFFIXES}
    wanted.add(path.name.lower())
    return sorted(p for p in path.parent.iterdir() if p.is_file() and p.name.lower() in wanted)


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def input_files(config: RunConfig) -> list[dict[str, Any]]:
    """Every file the run reads, with its role, size and sha256.

    The configuration itself, the boundaries with all sidecar files, incidents,
    consultations, access restrictions, population, bases, the road network and the
    focal-point registry. Paths are
    relative to the configuration's folder when inside it.

    Parameters
    ----------
    config : RunConfig
        The run's configuration.

    Returns
    -------
    list of dict
        ``role``, ``path``, ``bytes`` and ``sha256`` per file, in configuration order.
    """
    named: list[tuple[str, Path]] = []
    if config.config_path is not None:
        named.append(("config", Path(config.config_path)))
    named.append(("boundaries", config.boundaries.path))
    for role, sources in (("incidents", config.incidents),
                          ("consultations", config.consultations),
                          ("access_restrictions", config.access_restrictions)):
        named.extend((role, s.path) for s in sources)
    for role, extra in (("population", config.population), ("bases", config.bases),
                        ("network", config.network),
                        ("focal_points", getattr(config, "focal_points", None))):
        if extra is not None:
            named.append((role, extra.path))
    root = Path(config.config_path).parent if config.config_path is not None else None
    out: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for role, path in named:
        for f in data_files(Path(path)):
            if f in seen:
                continue
            seen.add(f)
            out.append({"role": role, "path": _shown(f, root), "bytes": f.stat().st_size,
                        "sha256": file_sha256(f)})
    return out


def seeds(config: RunConfig) -> dict[str, Any]:
    """Every random seed of the run (model training and sampling).

    Parameters
    ----------
    config : RunConfig
        The run's configuration.

    Returns
    -------
    dict
        ``model_seed`` (``[model] seed``), the LightGBM ``random_state`` of each seed-averaged
        booster, and the seed of the training-set sample of inactive cells.
    """
    m = config.model
    return {"model_seed": m.seed, "n_seeds": m.n_seeds,
            "lightgbm_random_states": [m.seed + s for s in range(m.n_seeds)],
            "training_sample_seed": m.seed}


__all__ = ["PACKAGES", "data_files", "input_files", "package_versions", "seeds"]
