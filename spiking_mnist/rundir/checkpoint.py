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
    """A trained state: weights (n_inputs, n_exc) dimensionless, delays (ms), theta (mV)."""

    model: str
    parameters: dict[str, dict[str, Any]]
    weights: np.ndarray
    delays: np.ndarray
    theta: np.ndarray
    examples_seen: int
    backend: str
    info: dict[str, Any] = field(default_factory=dict)

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
        with open(tmp / "manifest.json", "w") as f:
            json.dump(manifest, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        tmp.rename(final)
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
    with open(path, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())


def _fsync_directory(path: Path) -> None:
    """Make the renames in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_run(run_dir: Path) -> None:
    """Delete what a run wrote into ``run_dir`` (checkpoint and results), nothing else."""
    run_dir = Path(run_dir)
    for folder in ("checkpoint", "recordings", "analysis"):
        shutil.rmtree(run_dir / folder, ignore_errors=True)
    for pattern in ("metrics*.json", "responses-*.npz", "history.json"):
        for path in run_dir.glob(pattern):
            path.unlink()


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
    if manifest.get("model") not in MODELS:
        raise CheckpointError(f"checkpoint in {path} holds a {manifest.get('model')!r} model; "
                              f"this version trains and tests {', '.join(MODELS)}")
    ckpt = Checkpoint(manifest["model"], manifest["parameters"], arrays["weights"],
                      arrays["delays"], arrays["theta"], manifest["examples_seen"],
                      manifest["backend"], manifest.get("info", {}))
    ckpt.check_shapes()
    return ckpt
