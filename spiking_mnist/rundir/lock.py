"""One writer per run directory: an exclusive lock that names its holder.

Whatever writes into a run directory (``train``, fresh or ``--resume``; ``evaluate``; the
recordings they make; ``patches``) holds :func:`writer` on it; a second writer is refused with
:class:`RunInUse`, which names the holder's process id, command and start time. Readers
(``analyse``) take no lock.

The lock is ``flock`` on ``RUN_DIR/.lock``, so the kernel releases it when its holder dies,
however it dies: a lock file left by a killed process is taken over (and its name logged). The
file's text (process id, command, start time, host) only informs. Locks nest within a process:
``train`` validating with ``evaluate`` holds the one lock twice.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shlex
import shutil
import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from spiking_mnist.rundir import files
from spiking_mnist.rundir.checkpoint import CheckpointError

log = logging.getLogger("spiking_mnist.rundir")

LOCK_FILE = ".lock"

_held: dict[str, list] = {}        # real path of a run directory -> [fd, depth]
_guard = threading.Lock()


class RunInUse(CheckpointError):
    """Another process writes into the run directory; ``str()`` names it and what to do."""


def command_line() -> str:
    """This process's command, as the user typed it (on one line)."""
    if Path(sys.argv[0]).name in ("spiking-mnist", "cli.py"):
        words = ["spiking-mnist", *sys.argv[1:]]
    else:
        words = getattr(sys, "orig_argv", sys.argv)
    return " ".join(shlex.join(words).split())


def holder(path: Path) -> dict[str, str]:
    """What the lock file at ``path`` says of its holder (empty if nothing yet)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return {}
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


@contextmanager
def writer(run_dir: Path, create: bool = True) -> Iterator[None]:
    """Hold the writer's lock of ``run_dir`` (created if missing and ``create``; removed
    again on leaving if this call created it and nothing was written into it).
    :class:`RunInUse` if another process holds it."""
    run_dir = Path(run_dir)
    made = create and not run_dir.exists()
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(run_dir)
    with _guard:
        if key in _held:
            _held[key][1] += 1
        else:
            _held[key] = [_acquire(run_dir), 1]
    try:
        yield
    finally:
        with _guard:
            _held[key][1] -= 1
            if _held[key][1] == 0:
                fd = _held.pop(key)[0]
                (run_dir / LOCK_FILE).unlink(missing_ok=True)   # still ours: we hold it
                os.close(fd)
                if made and not any(run_dir.iterdir()):
                    run_dir.rmdir()


def _acquire(run_dir: Path) -> int:
    path = run_dir / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunInUse(_in_use(run_dir, holder(path))) from None
        except BaseException:
            os.close(fd)
            raise
        try:   # its last holder may have removed the file between our open and flock
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    previous = holder(path)
    if previous:
        log.warning("%s: taking over the lock of process %s (%s), which is no longer "
                    "running", run_dir, previous.get("pid", "?"), previous.get("command", "?"))
    for leftover in files.leftovers(run_dir):   # of writes that a crash cut short
        log.info("removing %s, left by an interrupted write", leftover)
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    text = (f"pid: {os.getpid()}\ncommand: {command_line()}\n"
            f"started: {time.strftime('%Y-%m-%d %H:%M:%S %z')}\nhost: {socket.gethostname()}\n")
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)
    return fd


def _in_use(run_dir: Path, who: dict[str, str]) -> str:
    if not who:
        return (f"{run_dir} is in use by another spiking-mnist process that is just starting; "
                "wait for it to finish, or stop it, and run this again")
    pid = who.get("pid", "?")
    here = who.get("host") in (None, socket.gethostname())
    return (f"{run_dir} is in use: process {pid} (`{who.get('command', '?')}`, started "
            f"{who.get('started', '?')}"
            + ("" if here else f" on {who.get('host')}") + ") writes into it. "
            "Wait for it to finish, or stop it first"
            + (f" (`kill {pid}` makes a training write a checkpoint and exit)" if here else "")
            + "; two processes writing one run would mix their files")
