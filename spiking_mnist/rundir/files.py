"""Writing the files of a run so that a crash leaves the old file or the new one, whole.

:func:`write_atomic` writes into a temporary file beside the target (``.NAME.tmp-PID``, which
no reader's pattern matches), flushes it to disk, renames it over the target and makes the
rename durable; :func:`write_synced` is its first half, for files inside a directory that is
renamed into place as a whole (the checkpoint).

Crash testing (``tests/test_crash_injection.py``): every step of a write is a
:func:`fault_point`. With ``$SPIKING_MNIST_FAULT_AT=k`` the process dies at its k-th point as
``kill -9`` would kill it (``os._exit``, nothing cleaned up, exit code :data:`FAULT_EXIT`);
at a "half written" point it first cuts the file to half its length, as a write cut short by a
crash of the machine leaves it. ``$SPIKING_MNIST_FAULT_LOG=FILE`` appends the name of every
point passed to FILE, so a test can count them.
"""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

FAULT_AT = "SPIKING_MNIST_FAULT_AT"
FAULT_LOG = "SPIKING_MNIST_FAULT_LOG"
FAULT_EXIT = 86
TMP_MARK = ".tmp-"

_points_passed = 0


def fault_point(what: str, cut: IO[bytes] | None = None) -> None:
    """Die here if this is the point ``$SPIKING_MNIST_FAULT_AT`` names (a test hook; see the
    module); ``cut``: a file to cut to half its length first."""
    global _points_passed
    at, log = os.environ.get(FAULT_AT), os.environ.get(FAULT_LOG)
    if at is None and log is None:
        return
    _points_passed += 1
    if log:
        with open(log, "a") as f:
            f.write(f"{_points_passed}\t{what}\n")
    if at is not None and int(at) == _points_passed:
        if cut is not None:
            cut.truncate(cut.tell() // 2)
            cut.flush()
        os._exit(FAULT_EXIT)


def write_synced(path: Path, write: Callable[[IO[bytes]], Any], name: str | None = None) -> None:
    """Create ``path`` and fill it with ``write(file)``; on disk when this returns. ``name``:
    what the file is called in the fault points' log."""
    path = Path(path)
    name = name or path.name
    with open(path, "wb") as f:
        fault_point(f"{name}: created")
        write(f)
        f.flush()
        fault_point(f"{name}: half written", f)
        fault_point(f"{name}: written, not synced")
        os.fsync(f.fileno())
    fault_point(f"{name}: synced")


def write_atomic(path: Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Replace ``path`` by what ``write(file)`` writes, atomically: a crash at any moment
    leaves the old file (or none) or the new one, whole. A full disk or a read-only directory
    is a :class:`~spiking_mnist.rundir.checkpoint.CheckpointError` saying so."""
    path = Path(path)
    tmp = temporary(path)
    name = f"{path.parent.name}/{path.name}"
    try:
        write_synced(tmp, write, name)
        os.replace(tmp, path)
        fault_point(f"{name}: renamed into place")
        fsync_directory(path.parent)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            from spiking_mnist.rundir.checkpoint import CheckpointError
            full = err.errno in (errno.ENOSPC, errno.EDQUOT)
            raise CheckpointError(
                f"could not write {path} ({err.strerror or err}); "
                + ("free some disk space" if full else "check the directory is writable")
                + " and run the command again: the files already there are intact") from None
        raise
    return path


def temporary(path: Path) -> Path:
    """The temporary file this process writes ``path`` into (hidden: ``.NAME.tmp-PID``)."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def write_json(path: Path, value: Any, indent: int | None = 1) -> Path:
    """``value`` as JSON into ``path``, atomically."""
    text = json.dumps(value, indent=indent).encode()
    return write_atomic(path, lambda f: f.write(text))


def write_npz(path: Path, **arrays) -> Path:
    """``arrays`` as a compressed ``.npz`` into ``path``, atomically."""
    return write_atomic(path, lambda f: np.savez_compressed(f, **arrays))


def read_json(path: Path) -> Any:
    """The JSON value in ``path``; ValueError if the file is not whole JSON (a write an older
    version had cut short)."""
    text = Path(path).read_bytes()
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not whole JSON ({len(text)} bytes: {err})") from None


def fsync_directory(path: Path) -> None:
    """Make the renames in directory ``path`` durable (or flush file ``path``, written by a
    library that does not, to disk)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def leftovers(directory: Path) -> list[Path]:
    """Temporary files and checkpoint directories of writes that a crash cut short in
    ``directory`` (and its ``codes/``), never those of this process; and the previous
    checkpoint if a save died after renaming the new one into place."""
    directory = Path(directory)
    own = f"{TMP_MARK}{os.getpid()}"
    found = [p for folder in (directory, directory / "codes") if folder.is_dir()
             for p in folder.glob(f".*{TMP_MARK}*") if not p.name.endswith(own)]
    found += [p for p in directory.glob(f"checkpoint{TMP_MARK}*") if not p.name.endswith(own)]
    if (directory / "checkpoint" / "manifest.json").is_file() \
            and (directory / "checkpoint.old").exists():
        found.append(directory / "checkpoint.old")
    return found
