"""Training and coding the patch hierarchy (:mod:`~spiking_mnist.models.patches`) layer by layer.

Steps, each done once and kept in the run directory, so a run stopped anywhere resumes:

1. ``layer1/``: a D&C run (:func:`~spiking_mnist.runners.train.train`) on 5x5 patches with
   ink, from all positions of the training images;
2. ``codes/layer1-train-<part>.npz``: spike counts of the 36 frozen copies for the coded
   training images (``readout.train_examples``);
3. ``output/``: the spiking readout: output cells (:mod:`~spiking_mnist.models.output_layer`)
   whose weights are learnt from the layer-1 training codes, each way of
   :data:`~spiking_mnist.models.output_layer.METHODS` (``weights-<method>.npz``), added to
   the layer-1 coding network, which codes the validation and test images with them: the
   output cells' spike counts (``<split>-<part>.npz``) and, where missing, the layer-1
   codes (``codes/layer1-<split>-<part>.npz``) come from the same simulation, as the output
   cells do not act back on layer 1. It reads layer 1 alone, so it comes before layer 2;
4. ``layer2/`` on the 2x2 blocks of the training codes, then its codes; ``layer3/`` likewise;
5. ``metrics.json``: the readouts (:mod:`~spiking_mnist.models.readout`), offline and spiking.

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
from spiking_mnist.models import (hidden_training, output_layer, output_training, patches,
                                  readout)
from spiking_mnist.models.parameters import ConfigError
from spiking_mnist.rundir import checkpoint, files, lock
from spiking_mnist.rundir.hierarchy import (OUTPUT, SPLITS, code_files, images_of, load_codes,
                                          load_output, output_part_files, parameters_of,
                                          read_part, scale)
from spiking_mnist.runners.evaluate import responses
from spiking_mnist.runners.presentation import spikes_per_showing
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
    """All patches with ink (any input above 0) of the training split (padded images, each
    channel's patch above the next), with their digit labels."""
    train, _ = mnist.train_validation_split(
        mnist.load("train", data_dir), params.training.validation, params.simulation.seed)
    receptive = patches.receptive_inputs(params, 1)
    cut = patches.image_inputs(params, train.images)[:, receptive]
    inked = cut.max(axis=2) > 0
    side = params.geometry.patch
    return mnist.Split(cut[inked].reshape(-1, patches.channels(params) * side, side),
                       np.repeat(train.labels, len(receptive))[inked.ravel()])


def coding_inputs(run_dir: Path, params, layer: int, split: str, images: mnist.Split,
                  rows: slice) -> np.ndarray:
    """The inputs of ``layer``'s coding network for ``images[rows]``, one row per image."""
    if layer == 1:
        return patches.image_inputs(params, images.images[rows])
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
    lp = patches.layer_parameters(params, layer, coding=True)
    out = Path(run_dir) / "codes"
    out.mkdir(exist_ok=True)
    for start in range(0, len(images), part):
        path = out / f"layer{layer}-{split}-{start // part:04d}.npz"
        rows = slice(start, min(start + part, len(images)))
        if _complete(path, rows) is not None:
            continue
        if time.monotonic() > deadline or stop.requested:
            raise _stopped(f"layer {layer} coded {start} of {len(images)} {split} images",
                           stop)
        inputs = coding_inputs(run_dir, params, layer, split, images, rows)
        began = time.perf_counter()
        counts, input_spikes = responses(coding_network(run_dir, params, layer, backend_name),
                                         mnist.Split(inputs, images.labels[rows]),
                                         SPLITS[split], lp, progress, first=start)
        files.write_npz(path, counts=counts, labels=images.labels[rows],
                        seconds=time.perf_counter() - began, input_spikes=input_spikes)


def coding_network(run_dir: Path, params, layer: int, backend_name: str, extend=None,
                   weights: np.ndarray | None = None, lp=None):
    """A callable that builds the frozen copies of ``layer`` on a fresh simulator and
    returns its backend; ``extend`` adds to the network (see
    :func:`~spiking_mnist.runners.session.open_network`). ``weights`` (inputs, copies x k)
    and ``lp`` (the copies' D&C parameters) replace the trained weights and
    :func:`~spiking_mnist.models.patches.layer_parameters`, e.g. by those a SpiNNaker board
    holds (:mod:`~spiking_mnist.runners.hierarchy_board`)."""
    ckpt = checkpoint.load(Path(run_dir) / f"layer{layer}")
    lp = lp or patches.layer_parameters(params, layer, coding=True)
    receptive = patches.receptive_inputs(params, layer)
    n_inputs = patches.layer_inputs(params, layer)
    masks = patches.coding_masks(receptive, n_inputs, ckpt.theta.size, lp.network.inhibitory)
    if weights is None:
        weights = patches.copied(ckpt.weights, receptive, n_inputs)

    def build():
        return open_network(lp, backend_name, weights,
                            patches.copied(ckpt.delays, receptive, n_inputs),
                            np.tile(ckpt.theta, len(receptive)), plastic=False, masks=masks,
                            extend=extend)[0]
    return build


class OutputCounter:
    """Counts the output cells' spikes of each example's last showing, as
    :func:`~spiking_mnist.runners.evaluate.responses` shows them (its ``recorder``)."""

    def __init__(self, params, n_examples: int, first: int):
        self._params, self._first = params, first
        self.counts = np.zeros((n_examples, len(output_layer.METHODS) * output_layer.N_CLASSES),
                               dtype=np.int64)

    def attach(self, backend) -> None:
        self._backend = backend
        backend.record(["output"], [], [])

    def add_run(self, run, labels, final, predicted, theta=None) -> None:
        times, index = self._backend.take_recorded()["output"]["spikes"]
        counts, _ = spikes_per_showing(times, index, run.start, len(run.showings),
                                       self._params, self.counts.shape[1])
        for showing, c, done in zip(run.showings, counts, final):
            if done:
                self.counts[showing.example - self._first] = c

    def flush(self) -> None:
        """Nothing to write: the counts are kept in :attr:`counts`."""


def output_weights(run_dir: Path, params) -> dict[str, output_layer.OutputWeights]:
    """The output weights of each method, learnt from the layer-1 training codes (kept in
    ``output/``, learnt again when the [readout] or [output] values they were learnt with
    change; then the output parts coded with the old ones are removed)."""
    out_dir = Path(run_dir) / OUTPUT
    learnt_with = {s: params.values()[s] for s in ("readout", "output")}
    learnt_with["layer1_train_images"] = len(load_codes(run_dir, 1, "train")[1])
    record = out_dir / "learnt_with.json"
    paths = {m: out_dir / f"weights-{m}.npz" for m in output_layer.METHODS}
    try:
        current = files.read_json(record) == learnt_with and all(p.exists() for p in
                                                                paths.values())
    except (OSError, ValueError):
        current = False
    if current:
        return {m: output_layer.OutputWeights.from_arrays(np.load(p)) for m, p in paths.items()}
    out_dir.mkdir(exist_ok=True)
    for stale in list(out_dir.glob("*.npz")) + [record]:
        stale.unlink(missing_ok=True)
    train, labels = load_codes(run_dir, 1, "train")
    r = params.readout
    full_scale = readout.full_scales({1: train}, params.code.full_scale_quantile)[1]
    model = readout.linear(train / full_scale, labels, r.inverse_regularisation,
                           standardise=r.scaling == "standardised")
    began = time.perf_counter()
    learnt = {"linear": output_layer.from_linear(*readout.per_count(model, full_scale),
                                                 train, params)}
    log.info("output layer: linear mapping, %.1f s", time.perf_counter() - began)
    began = time.perf_counter()
    learnt["surrogate"], losses = output_training.train(train, labels, params)
    log.info("output layer: surrogate gradients, %d epochs, %.1f s, loss %s",
             params.output.surrogate_epochs, time.perf_counter() - began,
             [round(v, 1) for v in losses])
    began = time.perf_counter()
    learnt["hidden"], losses = hidden_training.train(train, labels, full_scale, params)
    log.info("output layer: %d hidden cells, %d epochs, %.1f s, loss %s",
             params.output.hidden_cells, params.output.hidden_epochs,
             time.perf_counter() - began, [round(v, 4) for v in losses])
    for method, weights in learnt.items():
        files.write_npz(paths[method], **weights.arrays())
    files.write_json(record, learnt_with)
    return learnt


def code_output(run_dir: Path, params, split: str, outputs: dict, backend_name: str,
                data_dir, progress: bool, deadline: float, stop: StopOnInterrupt,
                into: str = OUTPUT, weights: np.ndarray | None = None, lp=None,
                keep_codes: bool = False) -> None:
    """Code the images of ``split`` with the layer-1 copies, the output cells of ``outputs``
    added to their network, a part at a time, into ``run_dir/into``; keep the output cells'
    counts and whether each image's layer-1 code is the stored one. With ``keep_codes``, a
    layer-1 part not yet stored is stored from this simulation (its output part then takes
    no seconds of its own). ``weights`` and ``lp``: as :func:`coding_network`'s; a run
    coded with other weights needs every layer-1 part stored already.

    Raises
    ------
    ConfigError
        If a layer-1 part is missing and ``keep_codes`` is False.
    """
    images = images_of(params, split, data_dir)
    part = params.code.part
    lp = lp or patches.layer_parameters(params, 1, coding=True)
    (Path(run_dir) / into).mkdir(exist_ok=True)

    def with_output(sim, network):
        return output_layer.build(sim, params, network, outputs)
    for start in range(0, len(images), part):
        path = Path(run_dir) / into / f"{split}-{start // part:04d}.npz"
        rows = slice(start, min(start + part, len(images)))
        if _complete(path, rows) is not None:
            continue
        code_path = Path(run_dir) / "codes" / f"layer1-{split}-{start // part:04d}.npz"
        stored = _complete(code_path, rows)
        if stored is None and not keep_codes:
            raise ConfigError(f"{code_path} is missing: finish the run first "
                              f"(`spiking-mnist patches {run_dir}`)")
        if time.monotonic() > deadline or stop.requested:
            raise _stopped(f"the output layer ({into}/) coded {start} of {len(images)} "
                           f"{split} images", stop)
        inputs = coding_inputs(run_dir, params, 1, split, images, rows)
        counter = OutputCounter(lp, rows.stop - rows.start, start)
        began = time.perf_counter()
        code1, input_spikes = responses(
            coding_network(run_dir, params, 1, backend_name, with_output, weights, lp),
            mnist.Split(inputs, images.labels[rows]), SPLITS[split], lp, progress,
            recorder=counter, first=start)
        seconds = time.perf_counter() - began
        if stored is None:
            code_path.parent.mkdir(exist_ok=True)
            files.write_npz(code_path, counts=code1, labels=images.labels[rows],
                            seconds=seconds, input_spikes=input_spikes)
            stored, seconds = {"counts": code1}, 0.0
        files.write_npz(path, counts=counter.counts, labels=images.labels[rows],
                        same_code=(code1 == stored["counts"]).all(axis=1), seconds=seconds)


def _complete(path: Path, rows: slice) -> dict[str, np.ndarray] | None:
    """The arrays of the part at ``path`` if it exists, reads and holds the images of
    ``rows``, else None."""
    coded = read_part(path) if path.exists() else None
    return coded if coded is not None and len(coded["labels"]) == rows.stop - rows.start \
        else None


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
    if params is not None:      # refused before a new run saves them
        patches.grids(params)
        patches.channels(params)
    params = parameters_of(run_dir, params)
    deadline = time.monotonic() + (float("inf") if budget is None else budget)
    splits = [s for s in SPLITS if getattr(params.readout, f"{s}_examples") > 0]
    held_out = [s for s in splits if s != "train"]
    with StopOnInterrupt("part") as stop:
        learn(run_dir, params, 1, backend_name, data_dir, progress, deadline, stop)
        code(run_dir, params, 1, "train", backend_name, data_dir, progress, deadline, stop)
        outputs = output_weights(run_dir, params)
        for split in held_out:   # the layer-1 codes of these images with them
            code_output(run_dir, params, split, outputs, backend_name, data_dir, progress,
                        deadline, stop, keep_codes=True)
        for layer in patches.LAYERS[1:]:
            learn(run_dir, params, layer, backend_name, data_dir, progress, deadline, stop)
            for split in splits:
                code(run_dir, params, layer, split, backend_name, data_dir, progress,
                     deadline, stop)
    metrics = readout.score(run_dir, params, splits, load_codes)
    metrics["spiking"] = readout.score_spiking(run_dir, params, splits, load_codes,
                                               load_output, outputs)
    metrics["spiking"]["synapses"] = output_layer.synapse_count(outputs)
    metrics["synapses"] = patches.synapse_counts(params)
    metrics["seconds"] = timings(run_dir)
    files.write_json(run_dir / "metrics.json", metrics)
    return metrics


def timings(run_dir: Path) -> dict:
    """Seconds spent per layer: learning, and coding per split (simulator time); and coding
    again with the output cells (0 for the parts coded with layer 1's own codes, whose
    seconds are layer 1's)."""
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
    for split in SPLITS:
        parts = [np.load(f) for f in output_part_files(run_dir, split)]
        if parts:
            out.setdefault("output", {})[f"code_{split}"] = round(
                float(sum(p["seconds"] for p in parts)), 1)
            out["output"][f"code_{split}_images"] = int(sum(len(p["labels"]) for p in parts))
    return out
