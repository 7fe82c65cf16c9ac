"""Pretrained networks: a trained checkpoint with its neuron labels, in a folder of its own.

A pretrained network ``NAME`` is the folder ``NAME/`` in one of the :func:`search_path`
directories (``$SPIKING_MNIST_PRETRAINED``, then ``spiking_mnist/pretrained/`` of the package):

=================  ============================================================================
``weights.npz``    input -> excitatory weights, (784, N) float32, dimensionless
``delays.npz``     their delays as uint8 whole time steps of the trained network (or float32
                   ms if they are not on that grid)
``theta.npz``      each excitatory neuron's homeostatic threshold rise, (N,) float32 (mV)
``labels.npz``     each excitatory neuron's digit, (N,) int8 (-1: never fired), from the
                   label phase of ``evaluate`` on training images, run once at export
``manifest.json``  the network's parameters, code version, how it was trained (command, seed,
                   examples), how it was labelled, its measured accuracy, and the sha256 and
                   size of each file above
=================  ============================================================================

Every file is checked against its sha256 before it is read (:func:`load`). The folder is
written by ``spiking-mnist pretrained export`` (:func:`spiking_mnist.runners.pretrained.export`)
and read by ``evaluate --pretrained``, ``deploy --pretrained`` and ``pretrained copy``, which
makes a run directory of it (:func:`copy_to_run`) that ``train --resume`` continues.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from spiking_mnist.rundir import checkpoint
from spiking_mnist.rundir.checkpoint import Checkpoint, CheckpointError

FORMAT = 1
#: directories searched before the package's own, separated by os.pathsep
ENVIRONMENT = "SPIKING_MNIST_PRETRAINED"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "pretrained"
ARRAYS = ("weights", "delays", "theta", "labels")
MANIFEST = "manifest.json"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class PretrainedError(CheckpointError):
    """A pretrained network that is unknown, damaged or cannot be written, with what to do."""


@dataclass
class Pretrained:
    """A pretrained network as read from its folder: the trained state as a checkpoint
    (float64 arrays, ready to run or to train further), its neuron labels and manifest."""

    name: str
    folder: Path
    manifest: dict[str, Any]
    checkpoint: Checkpoint
    labels: np.ndarray

    @property
    def accuracy(self) -> dict | None:
        """The accuracy measured at export (``split``, ``examples``, ``accuracy``...)."""
        return self.manifest.get("accuracy")

    @property
    def digest(self) -> str:
        """sha256 of the manifest (which holds every file's sha256): names this exact
        network."""
        return sha256(self.folder / MANIFEST)


def check_name(name: str) -> str:
    """``name`` if it can name a pretrained network (a folder: lower-case letters, digits,
    ``.``, ``_``, ``-``); else PretrainedError."""
    if not _NAME.fullmatch(name):
        raise PretrainedError(f"{name!r} cannot name a pretrained network: use lower-case "
                              "letters, digits, '.', '_' and '-' (at most 64), e.g. n400")
    return name


def search_path(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Where pretrained networks are looked for, first match wins: ``extra``, then the
    directories in ``$SPIKING_MNIST_PRETRAINED``, then the package's own."""
    env = [p for p in os.environ.get(ENVIRONMENT, "").split(os.pathsep) if p]
    return [Path(p) for p in [*extra, *env]] + [PACKAGE_DIR]


def known(search: Iterable[str | os.PathLike[str]] = ()) -> dict[str, Path]:
    """Name -> folder of every pretrained network on the search path (first match wins)."""
    found: dict[str, Path] = {}
    for directory in search_path(search):
        if directory.is_dir():
            for folder in sorted(directory.iterdir()):
                if (folder / MANIFEST).is_file() and _NAME.fullmatch(folder.name):
                    found.setdefault(folder.name, folder)
    return found


def find(name: str, search: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The folder of pretrained network ``name``; PretrainedError naming the known ones."""
    check_name(name)
    networks = known(search)
    if name not in networks:
        where = ", ".join(str(p) for p in search_path(search))
        raise PretrainedError(
            f"no pretrained network {name!r}; known: "
            + (", ".join(sorted(networks)) if networks else "none")
            + f" (looked in {where}; ${ENVIRONMENT} adds directories)")
    return networks[name]


def sha256(path: Path) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def load(name: str, search: Iterable[str | os.PathLike[str]] = ()) -> Pretrained:
    """Read pretrained network ``name``, every file checked against its sha256 first.

    Raises
    ------
    PretrainedError
        If the name is unknown (the message lists the known ones), a file is missing or
        damaged (its checksum differs), or the folder holds another format.
    """
    folder = find(name, search)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise PretrainedError(f"{folder / MANIFEST} cannot be read ({err}): the pretrained "
                              f"network {name!r} is damaged; reinstall spiking-mnist or "
                              "export it again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PretrainedError(f"{folder / MANIFEST} has format "
                              f"{manifest.get('format') if isinstance(manifest, dict) else '?'}"
                              f", this version reads format {FORMAT}")
    for filename, entry in manifest["files"].items():
        path = folder / filename
        if not path.is_file():
            raise PretrainedError(f"pretrained network {name!r} lacks {path}; reinstall "
                                  "spiking-mnist or export it again")
        if sha256(path) != entry["sha256"]:
            raise PretrainedError(
                f"{path} is damaged: its sha256 is not the one in {MANIFEST}; reinstall "
                "spiking-mnist (or export the network again) rather than use a network that "
                "is not the one measured")
    arrays = {}
    for array in ARRAYS:
        with np.load(folder / f"{array}.npz", allow_pickle=False) as data:
            arrays[array] = data[array]
    step = manifest["delays"]["step_ms"]
    delays = arrays["delays"].astype(np.float64) * (step if step else 1.0)
    ckpt = Checkpoint(manifest["model"], manifest["parameters"],
                      arrays["weights"].astype(np.float64), delays,
                      arrays["theta"].astype(np.float64), manifest["trained"]["examples"],
                      manifest["trained"]["backend"], manifest.get("checkpoint_info", {}))
    ckpt.check_shapes()
    labels = arrays["labels"].astype(np.int64)
    if labels.shape != ckpt.theta.shape:
        raise PretrainedError(f"{folder}: {labels.size} neuron labels for a network of "
                              f"{ckpt.theta.size} neurons; export it again")
    return Pretrained(name, folder, manifest, ckpt, labels)


def shipped_arrays(ckpt: Checkpoint, timestep: float) -> tuple[dict[str, np.ndarray], float]:
    """The arrays of ``ckpt`` in the form they are shipped (float32 weights and theta; the
    delays as uint8 whole steps of ``timestep`` when they lie on that grid, else float32
    ms) and the delay step (0.0 for float ms)."""
    steps = ckpt.delays / timestep
    on_grid = np.allclose(steps, np.rint(steps), rtol=0, atol=1e-6) \
        and 0 <= steps.min() and steps.max() <= 255
    delays = np.rint(steps).astype(np.uint8) if on_grid else ckpt.delays.astype(np.float32)
    return {"weights": ckpt.weights.astype(np.float32), "delays": delays,
            "theta": ckpt.theta.astype(np.float32)}, (timestep if on_grid else 0.0)


def as_shipped(ckpt: Checkpoint, timestep: float) -> Checkpoint:
    """``ckpt`` with the precision it has once shipped (what :func:`load` gives back), so
    that labels and accuracy measured on it are those of the shipped network."""
    arrays, step = shipped_arrays(ckpt, timestep)
    delays = arrays["delays"].astype(np.float64) * (step if step else 1.0)
    return Checkpoint(ckpt.model, ckpt.parameters, arrays["weights"].astype(np.float64),
                      delays, arrays["theta"].astype(np.float64), ckpt.examples_seen,
                      ckpt.backend, dict(ckpt.info))


def write(folder: Path, ckpt: Checkpoint, labels: np.ndarray, manifest: dict[str, Any],
          overwrite: bool = False) -> Path:
    """Write pretrained network ``folder.name`` into ``folder`` (a temporary folder beside
    it, renamed into place): the arrays of ``ckpt`` as :func:`shipped_arrays` gives them,
    ``labels``, and ``manifest`` completed with format, files and their sha256."""
    folder = Path(folder)
    check_name(folder.name)
    if folder.exists() and not overwrite:
        raise PretrainedError(f"{folder} exists; choose another name or pass --overwrite")
    timestep = ckpt.parameters["simulation"]["timestep"]
    arrays, step = shipped_arrays(ckpt, timestep)
    arrays["labels"] = np.asarray(labels).astype(np.int8)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        entries = {}
        for name, array in arrays.items():
            path = tmp / f"{name}.npz"
            _write_npz(path, name, array)
            entries[path.name] = {"sha256": sha256(path), "bytes": path.stat().st_size,
                                  "dtype": str(array.dtype), "shape": list(array.shape)}
        manifest = {"format": FORMAT, "name": folder.name, **manifest,
                    "delays": {"step_ms": step,
                               "unit": f"whole steps of {step} ms" if step else "ms"},
                    "files": entries}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PretrainedError(f"could not write {folder} ({err.strerror or err}); check the "
                              "directory is writable") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _write_npz(path: Path, name: str, array: np.ndarray) -> None:
    """``array`` as the compressed ``.npz`` ``np.load`` reads (key ``name``), with a fixed
    timestamp inside, so that the same array gives the same file (and sha256)."""
    with open(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.ascontiguousarray(array),
                                          allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def copy_to_run(network: Pretrained, run_dir: Path) -> Checkpoint:
    """Make ``run_dir`` a run directory of ``network``: its checkpoint (float64 weights and
    theta, the shipped values exactly), which ``evaluate`` tests and ``train --resume``
    trains further. A run directory that already holds this very network is left as it is;
    one holding another run is refused. The caller holds the run's lock."""
    run_dir = Path(run_dir)
    origin = {"name": network.name, "manifest_sha256": network.digest}
    if checkpoint.has_checkpoint(run_dir):
        held = checkpoint.load(run_dir)
        if held.info.get("pretrained") == origin and \
                held.examples_seen == network.checkpoint.examples_seen:
            return held
        raise PretrainedError(f"{run_dir} already holds a run; give a new or empty directory "
                              f"for the pretrained network {network.name!r}")
    if run_dir.is_dir() and any(p.name != ".lock" for p in run_dir.iterdir()):
        raise PretrainedError(f"{run_dir} is not empty and holds no run; give a new or empty "
                              f"directory for the pretrained network {network.name!r}")
    ckpt = network.checkpoint
    copied = Checkpoint(ckpt.model, ckpt.parameters, ckpt.weights, ckpt.delays, ckpt.theta,
                        ckpt.examples_seen, ckpt.backend,
                        {**ckpt.info, "pretrained": origin})
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint.save(run_dir, copied)
    return copied
