"""A safe output folder: locked while a run writes it, swapped in only when complete.

A weekly run writes every file into a hidden staging folder beside the target
(``.NAME.partial-PID``), ``run.json`` last, flushes it to disk, then swaps it in:

- on Linux with one atomic ``renameat2(RENAME_EXCHANGE)``, so at every instant ``NAME`` holds
  one complete run (the old one, then the new one);
- elsewhere (or on a file system without exchange) with two renames; a run killed between them
  leaves the complete new run in the staging folder, and the next run finishes the swap.

The run that was there before is kept as ``NAME.previous`` (restore it by renaming it back).
``NAME.lock`` beside the target stops a second run on the same folder with a clear message
(or makes it wait, see ``wait_s``). The lock is an operating-system lock on that file
(``flock``), released by the kernel when its process dies, so a lock left by a killed run is
never in the way; the file also records the holder's pid, host and start time for messages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import OutputFolderError

__all__ = ["RUN_RECORD", "output_lock", "previous_folder", "staged_output"]

#: The file a complete run writes last; a folder without it is not a complete run.
RUN_RECORD = "run.json"
_HELD: dict[Path, int] = {}  # locks this process holds (re-entrant), by resolved target
_NOTES: dict[Path, list[str]] = {}  # what acquiring the lock found (stale lock, leftovers)


def lock_path(target: Path) -> Path:
    """``NAME.lock`` beside the output folder ``NAME``."""
    return target.with_name(target.name + ".lock")


def previous_folder(target: str | Path) -> Path:
    """``NAME.previous``: the run that was in the output folder before the last swap."""
    t = Path(target)
    return t.with_name(t.name + ".previous")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # type: ignore[attr-defined]
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _locked_message(target: Path, lock: Path, holder: dict[str, object]) -> str:
    who = (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
           if holder else "another process")
    return (f"{target}: another geo-risk run is writing this folder ({who}). Wait for it to "
            f"finish or choose another --out folder (run --wait SECONDS waits for it). If no "
            f"such run exists any more, delete {lock}.")


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _acquire(target: Path, wait_s: float) -> int:
    lock = lock_path(target)
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise OutputFolderError(_locked_message(target, lock, _holder(lock)))
        try:  # the holder may have removed the file between our open and our lock: retry
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        break
    old = _holder(lock)
    notes: list[str] = []
    pid = old.get("pid")
    if isinstance(pid, int) and old.get("host") == socket.gethostname() and pid != os.getpid():
        state = "still running but not writing" if _pid_alive(pid) else "no longer running"
        notes.append(f"a previous run on {target} (pid {pid}, {state}) did not finish; its "
                     "partial output was discarded and the folder holds the last complete run")
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(record).encode())
    os.fsync(fd)
    _NOTES[target] = notes + _recover(target)
    return fd


def _release(target: Path, fd: int) -> None:
    # Unlink while still holding the lock (a waiter then sees a new file and retries); where
    # an open file cannot be removed (Windows) it stays, unlocked and harmless.
    with contextlib.suppress(OSError):
        lock_path(target).unlink()
    os.close(fd)  # closing releases the OS lock


@contextlib.contextmanager
def output_lock(out_dir: str | Path, *, wait_s: float = 0.0) -> Iterator[list[str]]:
    """Hold the lock of an output folder (re-entrant within a process).

    Parameters
    ----------
    out_dir : str or Path
        The output folder (it need not exist yet).
    wait_s : float
        Seconds to wait for another run to finish before giving up (0 = stop at once).

    Yields
    ------
    list of str
        Notes on what acquiring found (a run that died mid-write, leftovers cleaned up).

    Raises
    ------
    OutputFolderError
        Another run holds the folder (after waiting ``wait_s``).
    """
    target = Path(out_dir).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target in _HELD:
        _HELD[target] += 1
        try:
            yield _NOTES.get(target, [])
        finally:
            _HELD[target] -= 1
        return
    fd = _acquire(target, wait_s)
    _HELD[target] = 1
    try:
        yield _NOTES.get(target, [])
    finally:
        del _HELD[target]
        _NOTES.pop(target, None)
        _release(target, fd)


def _staging_folders(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.partial-*"))


def _recover(target: Path) -> list[str]:
    """Under the lock: finish a swap cut between its two renames, drop partial folders."""
    notes = []
    for stage in _staging_folders(target):
        if not target.exists() and (stage / RUN_RECORD).is_file():
            os.rename(stage, target)
            notes.append(f"finished the swap of a complete run into {target}")
        else:
            shutil.rmtree(stage, ignore_errors=True)
    for trash in target.parent.glob(f".{target.name}.trash-*"):
        shutil.rmtree(trash, ignore_errors=True)
    return notes


def _check_target(target: Path, keep: Sequence[str]) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputFolderError(f"{target}: --out must be a folder, and this is a file; "
                                "choose a folder name.")
    if (target / RUN_RECORD).is_file():
        return
    foreign = sorted(p.name for p in target.iterdir() if p.name not in keep)
    if foreign:
        raise OutputFolderError(
            f"{target}: this folder holds files that are not a geo-risk run (e.g. "
            f"{foreign[0]!r}). A run replaces the whole folder (the old one is kept as "
            f"{previous_folder(target).name}); choose a new or empty folder for --out.")


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder entry to disk (a power cut after the swap loses nothing)."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _fsync_dir(folder: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - folders cannot be opened on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two folders (Linux ``renameat2``); False when not supported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(rc == 0)


def _swap_in(stage: Path, target: Path, keep: Sequence[str]) -> None:
    previous = previous_folder(target)
    if not target.exists():
        os.rename(stage, target)
        return
    for name in keep:  # inputs that live in the folder (the demo's scenario) move along
        if (target / name).exists() and not (stage / name).exists():
            os.rename(target / name, stage / name)
    if not any(target.iterdir()):  # nothing but inputs were there: no previous run to keep
        target.rmdir()
        os.rename(stage, target)
        return
    if previous.exists():  # rename first: a kill mid-delete leaves only a hidden trash folder
        trash = target.with_name(f".{target.name}.trash-{os.getpid()}")
        os.rename(previous, trash)
        shutil.rmtree(trash, ignore_errors=True)
    if _exchange(stage, target):
        os.rename(stage, previous)  # stage now holds the old run
    else:
        os.rename(target, previous)
        os.rename(stage, target)


@contextlib.contextmanager
def staged_output(out_dir: str | Path, *, keep: Sequence[str] = (),
                  wait_s: float = 0.0) -> Iterator[Path]:
    """Write a run into a staging folder and swap it in as ``out_dir`` when complete.

    Parameters
    ----------
    out_dir : str or Path
        The output folder. If it exists it must hold a previous run (``run.json``) or be
        empty apart from ``keep``; that run is kept as ``NAME.previous``.
    keep : sequence of str
        Entries of an existing ``out_dir`` that are inputs, not outputs, and move into the
        new run (the demo's ``scenario`` folder).
    wait_s : float
        Seconds to wait for another run on the same folder (see :func:`output_lock`).

    Yields
    ------
    Path
        The staging folder to write into; ``run.json`` must be written last. It becomes
        ``out_dir`` only if the block ends without an exception and ``run.json`` exists.

    Raises
    ------
    OutputFolderError
        The folder is locked by another run or holds files that are not a geo-risk run.
    """
    target = Path(out_dir).absolute()
    with output_lock(target, wait_s=wait_s):
        _check_target(target, keep)
        stage = target.with_name(f".{target.name}.partial-{os.getpid()}")
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir()
        try:
            yield stage
            if not (stage / RUN_RECORD).is_file():
                raise OutputFolderError(f"{target}: the run wrote no {RUN_RECORD}; the "
                                        "previous run was left in place.")
            _fsync_tree(stage)
            _swap_in(stage, target, keep)
            _fsync_dir(target.parent)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
