"""Checkpoints: numpy arrays plus a JSON manifest in ``RUN_DIR/checkpoint/``, written atomically.

A new checkpoint is written into a temporary directory beside the old one, flushed to disk,
then renamed into place, so an interruption leaves either the old or the new one, whole.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from spiking_mnist.rundir import files

FORMAT = 1
ARRAYS = ("weights", "delays", "theta")
MODELS = ("diehl_cook",)


class CheckpointError(Exception):
    """A run directory or checkpoint that cannot be used as asked, with what to do."""


def code_version() -> str:
    try:
        return metadata.version("spiking-mnist")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class Checkpoint:
    """A trained state: weights (n_inputs, n_exc) dimensionless, delays (ms), theta (mV);
    ``model_file`` and ``model_sha256`` name the network module that made it and its
    contents' digest (None for D&C's network, part of the package)."""

    model: str
    parameters: dict[str, dict[str, Any]]
    weights: np.ndarray
    delays: np.ndarray
    theta: np.ndarray
    examples_seen: int
    backend: str
    info: dict[str, Any] = field(default_factory=dict)
    model_file: str | None = None
    model_sha256: str | None = None

    def check_shapes(self) -> None:
        n = self.parameters["network"]["n_excitatory"]
        if self.weights.ndim != 2 or self.weights.shape[1] != n or self.theta.shape != (n,) \
                or self.delays.shape != self.weights.shape:
            raise CheckpointError(
                f"checkpoint arrays (weights {self.weights.shape}, theta {self.theta.shape}) "
                f"do not fit its own network of {n} excitatory neurons: the files come from "
                "different runs or are damaged; train again or restore the whole checkpoint "
                "directory")

    def check_inputs(self, shape: tuple[int, ...], source: str) -> None:
        """Refuse images of ``shape`` (rows, cols) that do not fit the trained input layer."""
        pixels = int(np.prod(shape))
        if pixels != self.weights.shape[0]:
            size = f" ({'x'.join(map(str, shape))})" if len(shape) == 2 else ""
            raise CheckpointError(
                f"this network was trained on images of {self.weights.shape[0]} pixels, but "
                f"{source} holds images of {pixels} pixels{size}; give the data it was "
                "trained on (--data-dir) or train a new network on this data")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoint"


def save(run_dir: Path, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` atomically into ``run_dir/checkpoint``."""
    ckpt.check_shapes()
    final = checkpoint_dir(run_dir)
    tmp = final.with_name(f"checkpoint.tmp-{os.getpid()}")
    old = final.with_name("checkpoint.old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        for name in ARRAYS:
            _write_array(tmp / f"{name}.npy", getattr(ckpt, name))
        manifest = {"format": FORMAT, "model": ckpt.model, "examples_seen": ckpt.examples_seen,
                    "backend": ckpt.backend, "code_version": code_version(),
                    "parameters": ckpt.parameters, "info": ckpt.info}
        if ckpt.model_file is not None:
            manifest.update(model_file=ckpt.model_file, model_sha256=ckpt.model_sha256)
        text = json.dumps(manifest, indent=1).encode()
        files.write_synced(tmp / "manifest.json", lambda f: f.write(text),
                           f"{final.parent.name}/checkpoint/manifest.json")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            fault_point(f"{final.parent.name}/checkpoint: the previous one moved aside")
        tmp.rename(final)
        fault_point(f"{final.parent.name}/checkpoint: renamed into place")
        _fsync_directory(final.parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.exists() and old.exists():
            old.rename(final)
        if isinstance(err, OSError):
            full = err.errno in (errno.ENOSPC, errno.EDQUOT)
            raise CheckpointError(
                f"could not write the checkpoint of {ckpt.examples_seen} examples into {final}"
                f" ({err.strerror or err}); "
                + ("free some disk space" if full else "check the directory is writable")
                + (f", then continue with `spiking-mnist train --resume {run_dir}`: the "
                   f"checkpoint already there is intact" if final.exists() else "")) from None
        raise
    return final


def _write_array(path: Path, array: np.ndarray) -> None:
    """``array`` as ``.npy`` at ``path``, on disk when this returns."""
    files.write_synced(path, lambda f: np.save(f, array),
                       f"{path.parent.parent.name}/checkpoint/{path.name}")


_fsync_directory = files.fsync_directory
fault_point = files.fault_point


def has_checkpoint(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a checkpoint :func:`load` reads (perhaps the previous one,
    if a save died between its two renames)."""
    path = checkpoint_dir(run_dir)
    return (path / "manifest.json").is_file() \
        or (path.with_name("checkpoint.old") / "manifest.json").is_file()


def run_kind(run_dir: Path) -> str | None:
    """``"training run"`` or ``"patch-hierarchy run"``: what ``run_dir`` holds, by the files
    this project writes there; None for anything else."""
    run_dir = Path(run_dir)
    if (run_dir / "parameters.json").is_file() or (run_dir / "codes").is_dir() \
            or (run_dir / "layer1").is_dir():   # see rundir/hierarchy.py
        return "patch-hierarchy run"
    if has_checkpoint(run_dir):
        return "training run"
    return None


# what a training run writes into its directory, and nothing else: `--overwrite` removes these
RUN_FOLDERS = ("checkpoint", "checkpoint.old")
RUN_FILES = ("metrics*.json", "responses-*.npz", "history.json")
RECORDINGS = ("chunk-*.nix", "chunk-*.pkl", "chunk-*.tmp")   # in recordings/<phase>/
ANALYSIS = ("*.png", "metrics.json")                         # in analysis/


def foreign_entries(run_dir: Path) -> list[str]:
    """The entries of ``run_dir`` a training run did not write (``name/`` for folders)."""
    from spiking_mnist.rundir.lock import LOCK_FILE
    ours = {*RUN_FOLDERS, "recordings", "analysis", LOCK_FILE} \
        | {p.name for p in files.leftovers(run_dir)} \
        | {p.name for pattern in RUN_FILES for p in Path(run_dir).glob(pattern)}
    return sorted(p.name + ("/" if p.is_dir() else "") for p in Path(run_dir).iterdir()
                  if p.name not in ours)


def remove_run(run_dir: Path) -> list[str]:
    """Delete what a training run wrote into ``run_dir`` (checkpoint, results, recordings,
    figures), nothing else; the entries left (``name/`` for folders)."""
    run_dir = Path(run_dir)
    for folder in RUN_FOLDERS:
        shutil.rmtree(run_dir / folder, ignore_errors=True)
    for path in files.leftovers(run_dir):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    for pattern in RUN_FILES:
        for path in run_dir.glob(pattern):
            path.unlink()
    recordings = run_dir / "recordings"
    phases = [p for p in recordings.iterdir() if p.is_dir()] if recordings.is_dir() else []
    for directory, patterns in [(phase, RECORDINGS) for phase in phases] \
            + [(recordings, ()), (run_dir / "analysis", ANALYSIS)]:
        for path in [p for pattern in patterns for p in directory.glob(pattern)]:
            path.unlink()
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    from spiking_mnist.rundir.lock import LOCK_FILE
    return sorted(p.name + ("/" if p.is_dir() else "") for p in run_dir.iterdir()
                  if p.name != LOCK_FILE)


def load(run_dir: Path) -> Checkpoint:
    """Read the checkpoint of ``run_dir``; CheckpointError if there is none or it is damaged."""
    path = checkpoint_dir(run_dir)
    if not path.exists() and path.with_name("checkpoint.old").exists():
        path = path.with_name("checkpoint.old")  # a save died between its two renames
    if not (path / "manifest.json").is_file():
        raise CheckpointError(f"{run_dir} holds no checkpoint (no {path / 'manifest.json'}); "
                              "give the directory a `spiking-mnist train --run-dir` wrote")
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        arrays = {name: np.load(path / f"{name}.npy") for name in ARRAYS}
    except (OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint in {path} cannot be read ({err}); it is damaged: "
                              "train again or restore it from a copy") from None
    if manifest.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint in {path} has format {manifest.get('format')}, "
                              f"this version reads format {FORMAT}")
    if manifest.get("model") not in MODELS and not manifest.get("model_file"):
        raise CheckpointError(f"checkpoint in {path} holds a {manifest.get('model')!r} model; "
                              f"this version trains and tests {', '.join(MODELS)} and "
                              "network modules given with --model")
    ckpt = Checkpoint(manifest["model"], manifest["parameters"], arrays["weights"],
                      arrays["delays"], arrays["theta"], manifest["examples_seen"],
                      manifest["backend"], manifest.get("info", {}),
                      manifest.get("model_file"), manifest.get("model_sha256"))
    ckpt.check_shapes()
    return ckpt
