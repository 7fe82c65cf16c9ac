"""Training and coding the patch hierarchy (:mod:`~spiking_mnist.models.patches`) layer by layer.

Steps, each done once and kept in the run directory, so a run stopped anywhere resumes:

1. ``layer1/``: a D&C run (:func:`~spiking_mnist.runners.train.train`) on 5x5 patches with
   ink, from all positions of the training images;
2. ``codes/layer1-<split>-<part>.npz``: spike counts of the 36 frozen copies for the coded
   training, validation and test images (``readout.*_examples``);
3. ``layer2/`` on the 2x2 blocks of the training codes, then its codes; ``layer3/`` likewise;
4. ``metrics.json``: the readouts (:mod:`~spiking_mnist.models.readout`).

Codes pass to the layer above as Poisson rates (:func:`~spiking_mnist.models.patches.as_input`);
layer 3 may read them square-rooted and each image scaled to one total
(``layer3.input_compression``, ``layer3.input_total``).
Training images are coded on stream "label", so their spikes differ from the learning ones.
"""
from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import numpy as np

from spiking_mnist.inputs import mnist
from spiking_mnist.models import patches, readout
from spiking_mnist.models.parameters import ConfigError
from spiking_mnist.rundir import checkpoint, files, lock
from spiking_mnist.rundir.hierarchy import (SPLITS, code_files, images_of, load_codes,
                                          parameters_of, read_part, scale)
from spiking_mnist.runners.evaluate import responses
from spiking_mnist.runners.session import open_network
from spiking_mnist.runners.train import StopOnInterrupt, TrainingInterrupted, resume, train

log = logging.getLogger("spiking_mnist.hierarchy")


class Stopped(Exception):
    """The run stopped at a checkpoint or part, its time budget spent or on a stop signal
    (Ctrl-C, SIGTERM, SIGHUP: ``signum``; None for the budget); ``str()`` says how far it
    got."""

    def __init__(self, message: str, signum: int | None = None):
        super().__init__(message)
        self.signum = signum


def _stopped(message: str, stop: StopOnInterrupt) -> Stopped:
    if stop.requested:
        return Stopped(f"{message} ({signal.Signals(stop.signum).name})", stop.signum)
    return Stopped(f"{message} (its time budget spent)")


def layer1_data(params, data_dir=None) -> mnist.Split:
    """All patches with ink of the training split (padded images), with their digit labels."""
    train, _ = mnist.train_validation_split(
        mnist.load("train", data_dir), params.training.validation, params.simulation.seed)
    first, _ = patches.grids(params)
    cut = patches.pad(train.images, params.geometry.padding)[:, first.cells()]
    inked = cut.max(axis=2) > 0
    side = params.geometry.patch
    return mnist.Split(cut[inked].reshape(-1, side, side),
                       np.repeat(train.labels, first.nodes)[inked.ravel()])


def coding_inputs(run_dir: Path, params, layer: int, split: str, images: mnist.Split,
                  rows: slice) -> np.ndarray:
    """The inputs of ``layer``'s coding network for ``images[rows]``, one row per image."""
    if layer == 1:
        return patches.pad(images.images[rows], params.geometry.padding)
    sources = (1,) if layer == 2 else patches.layer3_sources(params)
    compression = params.layer3.input_compression if layer == 3 else "linear"
    inputs = np.concatenate([patches.as_input(load_codes(run_dir, below, split)[0][rows],
                                              scale(run_dir, params, below), compression)
                             for below in sources], axis=1)
    total = params.layer3.input_total if layer == 3 else 0
    return patches.normalised(inputs, total) if total else inputs


def learning_data(run_dir: Path, params, layer: int, data_dir=None) -> mnist.Split:
    """What ``layer`` learns from: patches (layer 1), blocks of layer-1 codes with activity
    (layer 2), or whole codes (layer 3: ``geometry.layer3_reads``) of the coded training
    images."""
    if layer == 1:
        return layer1_data(params, data_dir)
    images = images_of(params, "train", data_dir)
    inputs = coding_inputs(run_dir, params, layer, "train", images, slice(None))
    labels = images.labels
    if layer == 2:
        receptive = patches.receptive_inputs(params, 2)
        inputs = inputs[:, receptive].reshape(-1, receptive.shape[1])
        labels = np.repeat(labels, len(receptive))
        active = inputs.max(axis=1) > 0
        inputs, labels = inputs[active], labels[active]
    return mnist.Split(inputs, labels)


def learn(run_dir: Path, params, layer: int, backend_name: str, data_dir, progress: bool,
          deadline: float, stop: StopOnInterrupt) -> None:
    """Train ``layer``'s D&C network up to its ``examples``, a checkpoint at a time."""
    lp = patches.layer_parameters(params, layer)
    layer_dir = Path(run_dir) / f"layer{layer}"
    data = learning_data(run_dir, params, layer, data_dir)
    if len(data) == 0:
        raise ConfigError(f"layer {layer} has nothing to learn from: the layer below never "
                          "fired; raise its column_sum or rate_per_intensity")
    with lock.writer(layer_dir):   # held between checkpoints too; clears what a kill left
        _learn(layer, layer_dir, lp, data, backend_name, data_dir, progress, deadline, stop)


def _learn(layer: int, layer_dir: Path, lp, data: mnist.Split, backend_name: str, data_dir,
           progress: bool, deadline: float, stop: StopOnInterrupt) -> None:
    """:func:`learn`, holding the layer directory's lock."""
    total, every = lp.training.examples, lp.training.checkpoint_every
    seen = checkpoint.load(layer_dir).examples_seen \
        if checkpoint.has_checkpoint(layer_dir) else None
    while seen is None or seen < total:
        if time.monotonic() > deadline or stop.requested:
            raise _stopped(f"layer {layer} trained on {seen or 0} of {total} examples", stop)
        target = min(total, (seen or 0) + every)
        try:
            if seen is None:
                first = lp.with_values({"training": {"examples": target}}, "patches")
                ckpt = train(layer_dir, first, backend_name, data_dir, progress, data=data)
            else:
                ckpt = resume(layer_dir, backend_name, data_dir, progress, target, data=data)
        except TrainingInterrupted as err:
            seen = checkpoint.load(layer_dir).examples_seen
            raise Stopped(f"layer {layer} trained on {seen} of {total} examples "
                          f"({signal.Signals(err.signum).name})", err.signum) from None
        seen = ckpt.examples_seen
        log.info("layer %d: %d of %d examples, %.0f s", layer, seen, total,
                 ckpt.info["train_seconds"])


def code(run_dir: Path, params, layer: int, split: str, backend_name: str, data_dir,
         progress: bool, deadline: float, stop: StopOnInterrupt) -> None:
    """Run the frozen copies of ``layer`` on the images of ``split``, a part at a time."""
    images = images_of(params, split, data_dir)
    part = params.code.part
    ckpt = checkpoint.load(Path(run_dir) / f"layer{layer}")
    lp = patches.layer_parameters(params, layer, coding=True)
    receptive = patches.receptive_inputs(params, layer)
    n_inputs = patches.layer_inputs(params, layer)
    k = ckpt.theta.size
    out = Path(run_dir) / "codes"
    out.mkdir(exist_ok=True)
    for start in range(0, len(images), part):
        path = out / f"layer{layer}-{split}-{start // part:04d}.npz"
        rows = slice(start, min(start + part, len(images)))
        if path.exists():
            coded = read_part(path)
            if coded is not None and len(coded["labels"]) == rows.stop - rows.start:
                continue
        if time.monotonic() > deadline or stop.requested:
            raise _stopped(f"layer {layer} coded {start} of {len(images)} {split} images",
                           stop)
        inputs = coding_inputs(run_dir, params, layer, split, images, rows)
        began = time.perf_counter()

        def coding_network():
            return open_network(
                lp, backend_name, patches.copied(ckpt.weights, receptive, n_inputs),
                patches.copied(ckpt.delays, receptive, n_inputs),
                np.tile(ckpt.theta, len(receptive)), plastic=False,
                masks=patches.coding_masks(receptive, n_inputs, k,
                                           lp.network.inhibitory))[0]

        counts, input_spikes = responses(coding_network,
                                         mnist.Split(inputs, images.labels[rows]),
                                         SPLITS[split], lp, progress, first=start)
        files.write_npz(path, counts=counts, labels=images.labels[rows],
                        seconds=time.perf_counter() - began, input_spikes=input_spikes)


def run(run_dir: Path, params=None, backend_name: str = "nest", data_dir=None,
        progress: bool = True, budget: float | None = None) -> dict:
    """Do every step still missing in ``run_dir`` (see the module), within ``budget``
    seconds if given; returns the metrics of the readouts. Past the budget, or after a
    stop signal, it stops at the next checkpoint or part with :class:`Stopped`. Holds the
    run directory's lock (:mod:`~spiking_mnist.rundir.lock`)."""
    run_dir = Path(run_dir)
    with lock.writer(run_dir):
        return _run(run_dir, params, backend_name, data_dir, progress, budget)


def _run(run_dir: Path, params, backend_name: str, data_dir, progress: bool,
         budget: float | None) -> dict:
    """:func:`run`, holding the run directory's lock."""
    params = parameters_of(run_dir, params)
    patches.grids(params)
    deadline = time.monotonic() + (float("inf") if budget is None else budget)
    splits = [s for s in SPLITS if getattr(params.readout, f"{s}_examples") > 0]
    with StopOnInterrupt("part") as stop:
        for layer in patches.LAYERS:
            learn(run_dir, params, layer, backend_name, data_dir, progress, deadline, stop)
            for split in splits:
                code(run_dir, params, layer, split, backend_name, data_dir, progress,
                     deadline, stop)
    metrics = readout.score(run_dir, params, splits, load_codes)
    metrics["synapses"] = patches.synapse_counts(params)
    metrics["seconds"] = timings(run_dir)
    files.write_json(run_dir / "metrics.json", metrics)
    return metrics


def timings(run_dir: Path) -> dict:
    """Seconds spent per layer: learning, and coding per split (simulator time)."""
    out = {}
    for layer in patches.LAYERS:
        ckpt = checkpoint.load(run_dir / f"layer{layer}")
        entry = {"learn": round(ckpt.info["train_seconds"], 1),
                 "learn_examples": ckpt.examples_seen}
        for split in SPLITS:
            files = code_files(run_dir, layer, split)
            if files:
                parts = [np.load(f) for f in files]
                entry[f"code_{split}"] = round(float(sum(p["seconds"] for p in parts)), 1)
                entry[f"code_{split}_images"] = int(sum(len(p["labels"]) for p in parts))
        out[f"layer{layer}"] = entry
    return out
