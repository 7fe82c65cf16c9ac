"""Unsupervised training of the Diehl & Cook network: STDP, homeostasis, normalisation."""
from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spiking_mnist.inputs import mnist
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_defaults
from spiking_mnist.runners import checkpoint
from spiking_mnist.runners.presentation import present
from spiking_mnist.runners.session import open_network

log = logging.getLogger("spiking_mnist.train")


def only_digits(split: mnist.Split, digits) -> mnist.Split:
    """The examples of ``split`` whose label is in ``digits`` (all if None)."""
    if digits is None:
        return split
    return split.subset(np.flatnonzero(np.isin(split.labels, list(digits))))


def training_split(params, data_dir=None, digits=None) -> mnist.Split:
    """The training images minus the validation set carved from them."""
    full = mnist.load("train", data_dir)
    train, _ = mnist.train_validation_split(full, params.training.validation,
                                            params.simulation.seed)
    return only_digits(train, digits)


class ColumnNormaliser:
    """Keeps every excitatory neuron's input weights summing to ``column_sum`` (D&C).

    D&C rescale all columns before every example. A column changes noticeably only when its
    neuron fires (STDP potentiates at postsynaptic spikes; depression scales with a trace
    that has decayed to ~e^-7.5 after a 150 ms rest), so before each showing only the
    columns of neurons that fired since the last one are read and rescaled, and every
    ``full_every`` examples all of them are.
    """

    def __init__(self, backend, column_sum: float, full_every: int, n: int):
        self._backend, self._sum, self._every = backend, column_sum, full_every
        self.fired = np.zeros(n, dtype=bool)
        self._due_full = False

    def example_started(self, index: int) -> None:
        self._due_full = index > 0 and index % self._every == 0

    def __call__(self) -> None:
        columns = (np.arange(self.fired.size) if self._due_full
                   else np.flatnonzero(self.fired))
        if columns.size:
            w = self._backend.get_weights(columns)
            self._backend.set_weights(diehl_cook.normalise_columns(w, self._sum), columns)
        self.fired[:] = False
        self._due_full = False


class TrainingInterrupted(Exception):
    """Training stopped on request after writing a checkpoint; ``str()`` says how to resume."""


class StopOnInterrupt:
    """The first Ctrl-C (SIGINT) asks training to stop after the current example and write a
    checkpoint; a second one interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stopping after this example (Ctrl-C again to stop at once)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def train(run_dir: Path, params, backend_name: str = "nest", data_dir=None,
          progress: bool = True, digits=None, overwrite: bool = False) -> checkpoint.Checkpoint:
    """Train from scratch into ``run_dir``, which must not hold a run unless ``overwrite``.

    ``digits`` restricts training (and later labelling and testing) to those classes.
    """
    run_dir = Path(run_dir)
    if checkpoint.checkpoint_dir(run_dir).exists() and not overwrite:
        raise checkpoint.CheckpointError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir}, choose "
            "another --run-dir, or pass --overwrite to replace it")
    diehl_cook.validate(params)
    if overwrite:
        checkpoint.remove_run(run_dir)
    digits = None if digits is None else sorted({int(d) for d in digits})
    n_inputs = _training_images(params, data_dir, digits).shape[1]
    rng = np.random.default_rng(params.simulation.seed)
    weights = diehl_cook.normalise_columns(
        diehl_cook.initial_weights(params, n_inputs, rng), params.normalisation.column_sum)
    start = checkpoint.Checkpoint(
        model=diehl_cook.MODEL, parameters=params.values(), weights=weights,
        delays=diehl_cook.input_delays(params, n_inputs, rng),
        theta=diehl_cook.Homeostasis(params).theta, examples_seen=0, backend=backend_name,
        info={"digits": digits, "fired": [], "spikes": 0, "train_seconds": 0.0})
    run_dir.mkdir(parents=True, exist_ok=True)
    return _continue(run_dir, params, start, backend_name, data_dir, progress)


def resume(run_dir: Path, backend_name: str = "nest", data_dir=None, progress: bool = True,
           examples: int | None = None) -> checkpoint.Checkpoint:
    """Continue the run in ``run_dir`` from its checkpoint, up to ``training.examples`` (or
    ``examples``, to train further)."""
    ckpt = checkpoint.load(run_dir)
    params = load_defaults(ckpt.model).with_values(ckpt.parameters, "checkpoint")
    if examples is not None:
        params = params.with_values({"training": {"examples": examples}}, "--examples")
    if ckpt.examples_seen >= params.training.examples:
        raise checkpoint.CheckpointError(
            f"{run_dir} has already seen {ckpt.examples_seen} examples; pass --examples with "
            "a larger total to train further")
    return _continue(Path(run_dir), params, ckpt, backend_name, data_dir, progress)


def _training_images(params, data_dir, digits) -> np.ndarray:
    data = training_split(params, data_dir, digits)
    if len(data) == 0:
        raise mnist.DatasetError(f"no training examples of digits {digits}")
    return data.images.reshape(len(data), -1)


def _continue(run_dir: Path, params, ckpt: checkpoint.Checkpoint, backend_name: str,
              data_dir, progress: bool) -> checkpoint.Checkpoint:
    """Train from the state in ``ckpt`` to ``training.examples``, checkpointing as set.

    The simulation is restarted from every checkpoint it writes (fresh membranes and traces,
    the saved weights, theta and pending normalisations), so a run resumed from a periodic
    checkpoint is bit-identical to one never interrupted, for a given thread count.
    """
    images = _training_images(params, data_dir, ckpt.info["digits"])
    order = np.random.default_rng((params.simulation.seed, 1)).permutation(len(images))
    n_examples, every = params.training.examples, params.training.checkpoint_every
    k, spikes = ckpt.examples_seen, ckpt.info["spikes"]
    seconds = seconds_start = ckpt.info["train_seconds"]
    k_start = ckpt.examples_seen
    homeostasis = diehl_cook.Homeostasis(params, ckpt.theta.copy())
    bar = tqdm(total=n_examples, initial=k, desc="train", unit="ex", disable=not progress,
               dynamic_ncols=True)
    with StopOnInterrupt() as stop:
        while k < n_examples:
            backend, _ = open_network(params, backend_name, ckpt.weights, ckpt.delays,
                                      homeostasis.theta, plastic=True)
            normaliser = ColumnNormaliser(backend, params.normalisation.column_sum,
                                          params.normalisation.full_every,
                                          params.network.n_excitatory)
            normaliser.fired[ckpt.info["fired"]] = True

            def after_showing(counts: np.ndarray, elapsed: float) -> None:
                homeostasis.update(counts, elapsed)
                backend.set_thresholds(homeostasis.thresholds())
                normaliser.fired |= counts > 0

            segment_end = min(n_examples, (k // every + 1) * every)
            began = time.perf_counter()
            while k < segment_end and not stop.requested:
                normaliser.example_started(k)
                counts = present(backend, images[order[k % len(order)]], "train", k, params,
                                 normaliser, after_showing)
                spikes += int(counts.sum())
                k += 1
                bar.update(1)
                bar.set_postfix(spikes_per_ex=f"{spikes / k:.1f}", refresh=False)
            seconds += time.perf_counter() - began
            # the normalisation the next showing would start with: saved weights are then
            # what D&C test with, not the last winner's column grown by ~20 units
            normaliser()
            ckpt = checkpoint.Checkpoint(
                model=diehl_cook.MODEL, parameters=params.values(),
                weights=backend.get_weights(), delays=ckpt.delays,
                theta=homeostasis.theta.copy(), examples_seen=k, backend=backend_name,
                info={"digits": ckpt.info["digits"],
                      "fired": np.flatnonzero(normaliser.fired).tolist(), "spikes": spikes,
                      "train_seconds": seconds,
                      "train_examples_per_second":
                          (k - k_start) / max(seconds - seconds_start, 1e-9),
                      "mean_spikes_per_example": spikes / max(k, 1)})
            backend.end()
            checkpoint.save(run_dir, ckpt)
            if stop.requested and k < n_examples:
                bar.close()
                raise TrainingInterrupted(
                    f"stopped after {k} of {n_examples} examples; checkpoint in "
                    f"{checkpoint.checkpoint_dir(run_dir)}; continue with "
                    f"`spiking-mnist train --resume {run_dir}`")
    bar.close()
    log.info("trained %d examples in %.0f s", k, seconds)
    return ckpt
