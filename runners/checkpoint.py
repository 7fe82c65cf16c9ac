"""Checkpoints: numpy arrays plus a JSON manifest in ``RUN_DIR/checkpoint/``, written atomically.

A new checkpoint is written into a temporary directory beside the old one, flushed to disk,
then renamed into place, so an interruption leaves either the old or the new one, whole.
"""
from __future__ import annotations

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
                f"do not fit its own network of {n} excitatory neurons; the files are damaged")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoint"


def save(run_dir: Path, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` atomically into ``run_dir/checkpoint``."""
    ckpt.check_shapes()
    final = checkpoint_dir(run_dir)
    tmp = final.with_name(f"checkpoint.tmp-{os.getpid()}")
    old = final.with_name("checkpoint.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name in ARRAYS:
            with open(tmp / f"{name}.npy", "wb") as f:
                np.save(f, getattr(ckpt, name))
                f.flush()
                os.fsync(f.fileno())
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
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.exists() and old.exists():
            old.rename(final)
        raise
    return final


def remove_run(run_dir: Path) -> None:
    """Delete what a run wrote into ``run_dir`` (checkpoint and results), nothing else."""
    run_dir = Path(run_dir)
    shutil.rmtree(checkpoint_dir(run_dir), ignore_errors=True)
    for pattern in ("metrics*.json", "responses-*.npz"):
        for path in run_dir.glob(pattern):
            path.unlink()


def load(run_dir: Path) -> Checkpoint:
    """Read the checkpoint of ``run_dir``; CheckpointError if there is none or it is damaged."""
    path = checkpoint_dir(run_dir)
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
    ckpt = Checkpoint(manifest["model"], manifest["parameters"], arrays["weights"],
                      arrays["delays"], arrays["theta"], manifest["examples_seen"],
                      manifest["backend"], manifest.get("info", {}))
    ckpt.check_shapes()
    return ckpt
