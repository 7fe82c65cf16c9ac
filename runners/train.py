"""Unsupervised training of the Diehl & Cook network: STDP, homeostasis, normalisation."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spiking_mnist.inputs import mnist
from spiking_mnist.models import diehl_cook
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


def train(run_dir: Path, params, backend_name: str = "nest", data_dir=None,
          progress: bool = True, digits=None, overwrite: bool = False) -> checkpoint.Checkpoint:
    """Train from scratch into ``run_dir``, which must not hold a run unless ``overwrite``.

    ``digits`` restricts training (and later labelling and testing) to those classes.
    """
    run_dir = Path(run_dir)
    if checkpoint.checkpoint_dir(run_dir).exists() and not overwrite:
        raise checkpoint.CheckpointError(
            f"{run_dir} already holds a run; choose another --run-dir, or pass --overwrite "
            "to replace it")
    diehl_cook.validate(params)
    if overwrite:
        checkpoint.remove_run(run_dir)
    digits = None if digits is None else sorted({int(d) for d in digits})
    data = training_split(params, data_dir, digits)
    if len(data) == 0:
        raise mnist.DatasetError(f"no training examples of digits {digits}")
    images = data.images.reshape(len(data), -1)
    n_inputs = images.shape[1]
    rng = np.random.default_rng(params.simulation.seed)
    weights = diehl_cook.normalise_columns(
        diehl_cook.initial_weights(params, n_inputs, rng), params.normalisation.column_sum)
    delays = diehl_cook.input_delays(params, n_inputs, rng)
    order = np.random.default_rng((params.simulation.seed, 1)).permutation(len(data))
    homeostasis = diehl_cook.Homeostasis(params)
    backend, _ = open_network(params, backend_name, weights, delays, homeostasis.theta,
                              plastic=True)
    n = params.network.n_excitatory
    normaliser = ColumnNormaliser(backend, params.normalisation.column_sum,
                                  params.normalisation.full_every, n)

    def after_showing(counts: np.ndarray, elapsed: float) -> None:
        homeostasis.update(counts, elapsed)
        backend.set_thresholds(homeostasis.thresholds())
        normaliser.fired |= counts > 0

    run_dir.mkdir(parents=True, exist_ok=True)
    n_examples = params.training.examples
    start = time.perf_counter()
    spikes = 0
    bar = tqdm(range(n_examples), desc="train", unit="ex", disable=not progress,
               dynamic_ncols=True)
    for k in bar:
        normaliser.example_started(k)
        image = images[order[k % len(order)]]
        counts = present(backend, image, "train", k, params, normaliser, after_showing)
        spikes += int(counts.sum())
        if progress and k % 20 == 0:
            bar.set_postfix(spikes_per_ex=f"{spikes / (k + 1):.1f}")
    seconds = time.perf_counter() - start
    weights = backend.get_weights()
    backend.end()
    ckpt = checkpoint.Checkpoint(
        model=diehl_cook.MODEL, parameters=params.values(), weights=weights, delays=delays,
        theta=homeostasis.theta.copy(), examples_seen=n_examples, backend=backend_name,
        info={"digits": digits, "train_seconds": seconds,
              "train_examples_per_second": n_examples / seconds if seconds else None,
              "mean_spikes_per_example": spikes / max(n_examples, 1)})
    checkpoint.save(run_dir, ckpt)
    log.info("trained %d examples in %.0f s (%.2f ex/s)", n_examples, seconds,
             n_examples / max(seconds, 1e-9))
    return ckpt
