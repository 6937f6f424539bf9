"""The weekly run's state folder: next week's run adds one week instead of rebuilding years.

A run keeps, in ``.geo-risk/`` next to the config file (``state_dir`` in the config moves it,
``geo-risk run --no-state`` ignores it):

- the streamed feature state (decayed histories of every cell) at the first of the map's
  history weeks, so that the next run (any later week) can stream on from there;
- the training rows of every week before that snapshot (each drawn with its own seed, so they
  are the same whichever run draws them), in files of weeks: the next state links the files it
  keeps and writes only the weeks it streamed (a retraining week rewrites them as one file);
- the trained scorer (LightGBM's own model text plus JSON, never pickle, see
  :mod:`geo_risk.model_io`) with its validation and training metadata, and the admin units'
  model of the same retraining week (JSON), both reused until the next retraining week
  (``[model] retrain_every_weeks``);
- the scores of the map's history weeks, so that a run with the same scorer scores only the
  forecast week and those after the saved one.

It is used only when it is exactly what a run from scratch would compute (``tests/test_state.py``
runs both and compares the risk grids):

- the *key* must match: state format and code/package versions, the model configuration, the
  grid (cells, admin units, population, area) and the distance to open bases;
- the *fingerprint* of every input row dated before the week the state was saved for must be
  unchanged (incidents and engagement records that feed the features, access restrictions as
  they stood before that week): appending next week's rows keeps it, editing, deleting or
  back-dating an earlier row changes it, and the state is then rebuilt from scratch;
- the streaming must have started at the same week.

Anything else (another week before the saved one, a corrupt or half-written folder) means a
run from scratch, and the reason is recorded in ``run.json`` (``model.state``). Writes are
atomic: a new state is written beside the old one and a one-line pointer file is replaced
(``os.replace``) to switch to it, so a killed run leaves the old state or the new one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .config import ModelConfig, RunConfig
from .features import CellGrid, HistoryState, TrainingSet
from .model_io import (
    MODEL_FORMAT,
    model_from_json,
    model_to_json,
    unit_model_from_json,
    unit_model_to_json,
)

#: Bumped whenever what a state holds, or how features or training rows are drawn, changes.
STATE_FORMAT = 4  # 4: training rows in files of weeks, linked from state to state
#: 3: the check scores the newest training weeks (no validation weeks streamed)
#: Default folder name, next to the config file.
STATE_FOLDER = ".geo-risk"
_POINTER = "current.json"
_VERSIONED = ("numpy", "pandas", "scikit-learn", "lightgbm", "h3", "h3ronpy")


def state_folder(config: RunConfig) -> Path | None:
    """Where the run's state lives: ``state_dir`` of the config, else ``.geo-risk`` next to
    the config file (None when the config came from no file)."""
    explicit = getattr(config, "state_dir", None)
    if explicit is not None:
        return Path(explicit)
    if config.config_path is None:
        return None
    return Path(config.config_path).resolve().parent / STATE_FOLDER


def _sha(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if isinstance(a, (str, bytes)):
            h.update(a.encode() if isinstance(a, str) else a)
        else:
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(b"|")
    return h.hexdigest()


def _versions() -> dict[str, str]:
    return dict(_installed_versions())


@functools.cache  # installed packages do not change under a running process
def _installed_versions() -> tuple[tuple[str, str], ...]:
    out = {"geo-risk": __version__, "state_format": str(STATE_FORMAT),
           "model_format": str(MODEL_FORMAT)}
    for name in _VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return tuple(out.items())


def _model_defaults() -> str:
    """The scorer's built-in settings (bins, leaves, trees...): a saved scorer trained with
    other ones is not what this code would train, even under the same version number."""
    from .model import RiskModel

    params = {k: v for k, v in RiskModel().get_params().items()
              if k != "n_jobs"}  # threads change the speed, never the model
    return _sha(json.dumps(params, sort_keys=True, default=str))


def state_key(grid: CellGrid, config: ModelConfig) -> dict[str, str]:
    """What a state must match besides the data: versions, model settings and the grid.

    Parameters
    ----------
    grid
        The scored grid, with ``base_distance_km`` for the forecast week when there are bases.
    config
        The model configuration.

    Returns
    -------
    dict of str to str
    """
    pcodes = pd.util.hash_pandas_object(pd.Series(grid.admin_pcode, dtype=object),
                                        index=False).to_numpy()
    return {**_versions(),
            "model_config": _sha(json.dumps(asdict(config), sort_keys=True, default=str)),
            "model_defaults": _model_defaults(),
            "grid": _sha(grid.cells, pcodes, grid.population, grid.area_km2),
            "base_distance": _sha(grid.base_distance_km if grid.base_distance_km is not None
                                  else "none")}


def _rows_hash(frame: pd.DataFrame | None, columns: list[str]) -> str:
    if frame is None or not len(frame):
        return "none"
    cols = [c for c in columns if c in frame.columns]
    return _sha(pd.util.hash_pandas_object(frame[cols], index=False).to_numpy(), *cols)


_INCIDENT_COLUMNS = ["cell", "admin_pcode", "date", "event_type", "civilian_targeting",
                     "fatalities"]
_RECORD_COLUMNS = ["cell", "admin_pcode", "date", "modality", "safety_score"]


class DataFingerprint:
    """A hash of every input row that features, labels and models before a week use; called
    with the week's first day, it gives a sha256 hex digest.

    Incidents (all placed rows: cell, unit, date, type, civilian targeting, fatalities) and
    engagement records dated before that day, in file order; access restrictions that started
    before it, with end dates on or after it read as "still in force" (as the features saw
    them). Rows dated later do not count: next week's rows may be appended.

    A run asks for two weeks (the saved state's, to check it, and its own, to save it):
    ``hash_pandas_object`` hashes each row on its own, so the rows before a week are a mask
    over the same row hashes, made at the first call.
    """

    def __init__(self, *, incidents: pd.DataFrame, consultations: pd.DataFrame | None,
                 restrictions: pd.DataFrame | None) -> None:
        self._frames = [(incidents, _INCIDENT_COLUMNS)]
        if consultations is not None and len(consultations):
            self._frames.append((consultations, _RECORD_COLUMNS))
        self._restrictions = restrictions

    @functools.cached_property
    def _tables(self) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
        return [self._hashed(frame, cols) for frame, cols in self._frames]

    @staticmethod
    def _hashed(frame: pd.DataFrame, columns: list[str]
                ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        cols = [c for c in columns if c in frame.columns]
        rows = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
        return frame["date"].to_numpy(), rows, cols

    def __call__(self, before: pd.Timestamp) -> str:
        parts = []
        for dates, rows, cols in self._tables:
            keep = dates < np.datetime64(before)
            parts.append(_sha(rows[keep], *cols) if keep.any() else "none")
        r = self._restrictions
        if r is not None and len(r):
            r = r.loc[r["start_date"] < before]
            seen = pd.DataFrame({
                "wkb": r.geometry.to_wkb() if hasattr(r, "geometry") else "",
                "start": r["start_date"],
                "end": r["end_date"].where(r["end_date"] < before),
                "severity": r["severity"]})
            parts.append(_rows_hash(seen, list(seen.columns)))
        return _sha(*parts)


@dataclass
class Snapshot:
    """The arrays of a :class:`~geo_risk.features.HistoryState` at the start of ``week``."""

    week: int
    first_week: int
    state: np.ndarray
    last_week: np.ndarray
    event_weeks: np.ndarray
    admin_state: np.ndarray

    @classmethod
    def of(cls, hs: HistoryState) -> Snapshot:
        assert hs.week is not None and hs.first_week is not None
        return cls(week=hs.week, first_week=hs.first_week, state=hs.state.copy(),
                   last_week=hs.last_week.copy(), event_weeks=hs.event_weeks.copy(),
                   admin_state=hs.admin_state.copy())

    def restore(self, hs: HistoryState) -> bool:
        """Put the arrays into ``hs``; False when their shapes do not fit it."""
        if (self.state.shape != hs.state.shape
                or self.admin_state.shape != hs.admin_state.shape
                or self.last_week.shape != hs.last_week.shape):
            return False
        hs.state[:] = self.state
        hs.last_week[:] = self.last_week
        hs.event_weeks[:] = self.event_weeks
        hs.admin_state[:] = self.admin_state
        hs.week, hs.first_week = self.week, self.first_week
        return True


@dataclass
class SavedModel:
    """The scorer trained in week ``trained_week`` (row weeks before it), and what to say
    about it (validation, training rows) when it is reused."""

    trained_week: int
    validation_weeks: int
    estimator: Any
    meta: dict[str, Any] = field(default_factory=dict)
    units: Any = None  # geo_risk.unit_forecast.UnitModel of the same retraining week
    #: the state folder whose model files hold this very scorer (a save links them)
    files: Path | None = None


_PART_ARRAYS = ("X", "y", "weight", "week", "onset")
#: What reading a damaged or half-written state raises (a torn .npz is a BadZipFile).
UNREADABLE = (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile)


@dataclass(frozen=True)
class PartFile:
    """A file of a saved state holding the training rows of ``weeks``."""

    path: Path
    weeks: frozenset[int]


class PartStore(MutableMapping[int, TrainingSet]):
    """Training rows per week: those a run made, and those of the state it started from.

    The saved weeks stay in their files until a retraining week reads them
    (:meth:`load_all`); a week that only reuses the scorer never reads them, and
    :func:`save_state` links the files it keeps whole into the new state instead of writing
    them again (~12 MB for a country's two years of rows, ~0.1 MB a week).
    """

    def __init__(self, parts: Mapping[int, TrainingSet] | None = None, *,
                 files: Sequence[PartFile] = (), feature_names: Sequence[str] = (),
                 dropped: frozenset[int] = frozenset()) -> None:
        self._parts: dict[int, TrainingSet] = dict(parts or {})
        self._files = list(files)
        self._names = list(feature_names)
        self._dropped = dropped

    @property
    def feature_names(self) -> list[str]:
        return next((p.feature_names for p in self._parts.values()), self._names)

    def _filed(self) -> dict[int, PartFile]:
        return {w: f for f in self._files for w in f.weeks
                if w not in self._dropped and w not in self._parts}

    def __contains__(self, week: object) -> bool:
        return week in self._parts or week in self._filed()

    def __getitem__(self, week: int) -> TrainingSet:
        if week not in self._parts:
            f = self._filed().get(week)
            if f is None:
                raise KeyError(week)
            self._read(f)
        return self._parts[week]

    def __setitem__(self, week: int, part: TrainingSet) -> None:
        self._parts[week] = part

    def __delitem__(self, week: int) -> None:
        if week not in self:
            raise KeyError(week)
        self._parts.pop(week, None)
        self._dropped = self._dropped | {week}

    def __iter__(self) -> Iterator[int]:
        return iter(sorted({*self._parts, *self._filed()}))

    def __len__(self) -> int:
        return len({*self._parts, *self._filed()})

    def _read(self, f: PartFile) -> None:
        for w, part in _read_parts(f, self._names).items():
            if w not in self._dropped:
                self._parts.setdefault(w, part)

    def load_all(self) -> None:
        """Read every saved week now (a retraining week needs them all), so that a damaged
        file is found before the run relies on it."""
        for f in {id(f): f for f in self._filed().values()}.values():
            self._read(f)

    def kept(self, keep: Callable[[int], bool]) -> PartStore:
        """The weeks for which ``keep`` is true (files stay unread)."""
        return PartStore({w: p for w, p in self._parts.items() if keep(w)}, files=self._files,
                         feature_names=self._names,
                         dropped=self._dropped | {w for f in self._files for w in f.weeks
                                                  if not keep(w)})

    def split(self) -> tuple[list[PartFile], dict[int, TrainingSet]]:
        """The files kept whole and still unread (linked by a save), and every other week's
        rows (read now if need be: written by a save)."""
        whole = [f for f in self._files
                 if f.weeks and not f.weeks & self._dropped and not f.weeks & self._parts.keys()]
        linked = {w for f in whole for w in f.weeks}
        return whole, {w: self[w] for w in self if w not in linked}


def _read_parts(f: PartFile, names: Sequence[str]) -> dict[int, TrainingSet]:
    with np.load(f.path, allow_pickle=False) as z:
        a = {k: z[k] for k in _PART_ARRAYS}
    out: dict[int, TrainingSet] = {}
    if len(a["week"]):
        bounds = np.flatnonzero(np.diff(a["week"])) + 1
        for sl in np.split(np.arange(len(a["week"])), bounds):
            out[int(a["week"][sl[0]])] = TrainingSet(
                X=a["X"][sl], y=a["y"][sl], weight=a["weight"][sl], week=a["week"][sl],
                onset=a["onset"][sl], feature_names=list(names))
    for w in f.weeks:  # a week whose thinning kept no row is still a week of the state
        out.setdefault(w, TrainingSet.empty(list(names)))
    return out


@dataclass
class ForecastState:
    """Everything a run saves for the next one (see the module docstring)."""

    key: dict[str, str]
    start_week: int
    data_week: int  # the forecast week of the run that saved it
    fingerprint: str  # of the input rows dated before data_week
    snapshot: Snapshot
    parts: PartStore  # training rows per week, weeks before snapshot.week
    model: SavedModel | None = None
    #: P(event) per cell of the map's history weeks, as ``model`` scored them
    scores: dict[int, np.ndarray] = field(default_factory=dict)


def check(saved: ForecastState | None, *, key: dict[str, str], start_week: int, week: int,
          fingerprint: Any) -> str | None:
    """Why ``saved`` cannot be used for ``week`` (None when it can).

    ``fingerprint`` is called with the saved state's week and returns the fingerprint of the
    current inputs before it.
    """
    if saved is None:
        return "no state saved yet"
    changed = sorted(k for k in set(key) | set(saved.key) if key.get(k) != saved.key.get(k))
    if changed:
        return "changed since the state was saved: " + ", ".join(changed)
    if saved.start_week != start_week:
        return "the streamed history starts at another week (yearly re-anchoring)"
    if week < saved.data_week:
        return "the state was saved for a later week"
    if fingerprint(saved.data_week) != saved.fingerprint:
        return ("input rows dated before the saved week changed (edited, removed or "
                "back-dated rows)")
    return None


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _link(source: Path, target: Path) -> bool:
    """A hard link to ``source`` (False where the file system has none)."""
    try:
        os.link(source, target)
        return True
    except OSError:
        return False


def _link_or_write_parts(stage: Path, whole: list[PartFile], rest: dict[int, TrainingSet]
                         ) -> tuple[list[Path], list[dict[str, Any]]]:
    """The part files of a new state: ``whole`` files linked (copied where links fail), the
    ``rest`` written into one new file. Returns the files written and their entries."""
    written: list[Path] = []
    entries: list[dict[str, Any]] = []
    for f in whole:
        target = stage / f.path.name
        if not _link(f.path, target):
            shutil.copyfile(f.path, target)
            written.append(target)
        entries.append({"file": target.name, "weeks": sorted(f.weeks)})
    if rest:
        weeks = sorted(rest)
        parts = [rest[w] for w in weeks]
        target = stage / f"parts-{weeks[0]}-{weeks[-1]}-{os.urandom(4).hex()}.npz"
        arrays: dict[str, Any] = {k: np.concatenate([getattr(p, k) for p in parts])
                                  for k in _PART_ARRAYS}
        np.savez(target, **arrays)
        written.append(target)
        entries.append({"file": target.name, "weeks": weeks})
    return written, entries


def _model_files(stage: Path, m: SavedModel) -> list[Path]:
    """The scorer's files in a new state: linked from the state that holds this very scorer
    (:attr:`SavedModel.files`), else written. Returns the files written."""
    if m.files is not None:
        names = ["model.json", *(p.name for p in sorted(m.files.glob("booster_*.txt")))]
        names += ["unit_model.json"] if m.units is not None else []
        if all(_link(m.files / n, stage / n) for n in names):
            return []
        for n in names:  # never write through a link into the old state's file
            (stage / n).unlink(missing_ok=True)
    mdoc, boosters = model_to_json(m.estimator)
    written = [stage / "model.json"]
    _write_json(written[0], mdoc)
    for i, text in enumerate(boosters):
        written.append(stage / f"booster_{i}.txt")
        written[-1].write_text(text, encoding="utf-8")
    if m.units is not None:
        written.append(stage / "unit_model.json")
        _write_json(written[-1], unit_model_to_json(m.units))
    return written


def save_state(folder: Path, st: ForecastState) -> Path:
    """Write ``st`` into ``folder`` atomically and remove older states there.

    Files of the state it started from that hold the same rows or the same scorer (see
    :class:`PartStore`, :attr:`SavedModel.files`) are linked, not written again.

    Returns
    -------
    Path
        The folder of the new state.
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = f"forecast-{st.data_week}-{os.getpid()}-{os.urandom(4).hex()}"
    stage = folder / f".{name}.partial"
    stage.mkdir()
    try:
        store = st.parts
        whole, rest = store.split()
        written, part_files = _link_or_write_parts(stage, whole, rest)
        written.append(stage / "arrays.npz")
        arrays: dict[str, Any] = {
            "state": st.snapshot.state, "last_week": st.snapshot.last_week,
            "event_weeks": st.snapshot.event_weeks, "admin_state": st.snapshot.admin_state,
            "score_weeks": np.array(sorted(st.scores), dtype=np.int64),
            "scores": (np.stack([st.scores[w] for w in sorted(st.scores)]) if st.scores
                       else np.zeros((0, 0)))}
        np.savez(stage / "arrays.npz", **arrays)
        doc: dict[str, Any] = {
            "format": STATE_FORMAT, "key": st.key, "start_week": st.start_week,
            "data_week": st.data_week, "fingerprint": st.fingerprint,
            "snapshot": {"week": st.snapshot.week, "first_week": st.snapshot.first_week},
            "feature_names": store.feature_names,
            "parts": part_files,
            "model": None}
        if st.model is not None:
            written += _model_files(stage, st.model)
            doc["model"] = {"trained_week": st.model.trained_week,
                            "validation_weeks": st.model.validation_weeks,
                            "meta": st.model.meta, "units": st.model.units is not None}
        _write_json(stage / "state.json", doc)  # written last: a state without it is partial
        for f in [*written, stage / "state.json", *([stage] if os.name == "posix" else [])]:
            _fsync(f)  # linked files were made durable by the run that wrote them
        os.rename(stage, folder / name)
        tmp = folder / f".{_POINTER}.{os.getpid()}"
        _write_json(tmp, {"state": name})
        _fsync(tmp)
        os.replace(tmp, folder / _POINTER)
        if os.name == "posix":
            _fsync(folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    try:  # another run may have switched the pointer since: never delete its state
        current = json.loads((folder / _POINTER).read_text(encoding="utf-8"))["state"]
    except (OSError, ValueError, KeyError):
        current = name
    for old in folder.iterdir():  # older states and leftovers of killed runs
        if old.name not in (name, current) and (old.name.startswith("forecast-")
                                                or old.name.startswith(".forecast-")):
            shutil.rmtree(old, ignore_errors=True)
    return folder / name


def load_state(folder: Path) -> tuple[ForecastState | None, str]:
    """The state saved in ``folder`` and "" — or None and why it could not be read."""
    pointer = folder / _POINTER
    if not pointer.is_file():
        return None, "no state saved yet"
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["state"]
        where = folder / Path(str(name)).name
        doc = json.loads((where / "state.json").read_text(encoding="utf-8"))
        if doc.get("format") != STATE_FORMAT:
            return None, f"state format {doc.get('format')} (this version reads {STATE_FORMAT})"
        with np.load(where / "arrays.npz", allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        snap = Snapshot(week=int(doc["snapshot"]["week"]),
                        first_week=int(doc["snapshot"]["first_week"]), state=a["state"],
                        last_week=a["last_week"], event_weeks=a["event_weeks"],
                        admin_state=a["admin_state"])
        files = [PartFile(where / Path(str(e["file"])).name,
                          frozenset(int(w) for w in e["weeks"])) for e in doc["parts"]]
        missing = [f.path.name for f in files if not f.path.is_file()]
        if missing:
            raise FileNotFoundError(f"training rows {', '.join(missing)} are missing")
        parts = PartStore(files=files, feature_names=list(doc["feature_names"]))
        model = None
        if doc["model"] is not None:
            mdoc = json.loads((where / "model.json").read_text(encoding="utf-8"))
            boosters = [(where / f"booster_{i}.txt").read_text(encoding="utf-8")
                        for i in range(int(mdoc.get("boosters", 0) or 0))]
            units = (unit_model_from_json(json.loads(
                (where / "unit_model.json").read_text(encoding="utf-8")))
                if doc["model"].get("units") else None)
            model = SavedModel(trained_week=int(doc["model"]["trained_week"]),
                               validation_weeks=int(doc["model"]["validation_weeks"]),
                               estimator=model_from_json(mdoc, boosters),
                               meta=doc["model"]["meta"], units=units, files=where)
        scores = {int(w): a["scores"][i] for i, w in enumerate(a["score_weeks"])}
        return ForecastState(key=dict(doc["key"]), start_week=int(doc["start_week"]),
                             data_week=int(doc["data_week"]), fingerprint=doc["fingerprint"],
                             snapshot=snap, parts=parts, model=model, scores=scores), ""
    except UNREADABLE as e:
        return None, f"the saved state could not be read ({type(e).__name__}: {e}); rebuilt"


def cached_population(folder: Path, *, path: Path, cells: np.ndarray,
                      compute: Callable[[], np.ndarray]) -> np.ndarray:
    """People per cell from a raster, kept in the state folder for the next run.

    Keyed by the sha256 of the raster (and its sidecar files), the cells and the versions, so
    a changed raster or grid is counted again; the zonal sums are otherwise the same every week.

    Parameters
    ----------
    folder
        The state folder.
    path
        The population raster.
    cells
        The grid's H3 cells (``uint64``).
    compute
        Counts the people per cell when nothing matching is cached.

    Returns
    -------
    numpy.ndarray
        People per cell, aligned with ``cells``.
    """
    from .manifest import data_files
    from .readers.tabular import file_sha256

    return cached_per_cell(folder, name="population", cells=cells, compute=compute,
                           key=[file_sha256(f) for f in data_files(Path(path))])


def cached_per_cell(folder: Path, *, name: str, cells: np.ndarray,
                    compute: Callable[[], np.ndarray], key: Sequence[str] = ()) -> np.ndarray:
    """A float per cell that only the cells (and ``key``) decide, kept in the state folder.

    See :func:`cached_arrays`; the values are ``float64``, aligned with ``cells``.
    """
    kept = cached_arrays(folder, name=name, key=[*key, np.asarray(cells, np.uint64)],
                         compute=lambda: {"values": np.asarray(compute(), dtype=np.float64)})
    values = kept["values"]
    if values.shape != (len(cells),):  # cannot happen with the same key: computed afresh
        values = np.asarray(compute(), dtype=np.float64)
    return values


def cached_arrays(folder: Path, *, name: str, key: Sequence[Any],
                  compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Arrays that only ``key`` decides (the grid's cells, a raster's sha256...), kept in the
    state folder for the next run.

    The file is named by the sha256 of ``key`` and the package versions, so another grid or
    version computes them again; one file per ``name`` is kept. A file that cannot be read or
    written is computed again, nothing worse.

    Parameters
    ----------
    folder
        The state folder.
    name
        What the arrays are (``population``, ``area``, ``polygons``...): the file's prefix.
    key
        Strings and arrays the values depend on.
    compute
        Computes the arrays (numeric, no objects) when nothing matching is kept.

    Returns
    -------
    dict of str to numpy.ndarray
    """
    digest = _sha(*key, json.dumps(_versions(), sort_keys=True))
    target = folder / f"{name}-{digest[:40]}.npz"
    if target.is_file():
        try:
            with np.load(target, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError):
            pass
    out = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{target.stem}.{os.getpid()}.npz"
        arrays: dict[str, Any] = dict(out)
        np.savez(tmp, **arrays)
        os.replace(tmp, target)
        for old in folder.glob(f"{name}-*.np[yz]"):
            if old != target:
                old.unlink(missing_ok=True)
    except OSError:  # a read-only or full disk: computed again next week
        pass
    return out
