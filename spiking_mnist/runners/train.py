"""Unsupervised training of the Diehl & Cook network: STDP, homeostasis, normalisation."""
from __future__ import annotations

import logging
import resource
from collections import deque
from itertools import takewhile
import signal
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spiking_mnist.hardware import backend_class
from spiking_mnist.inputs import mnist
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.network import DIEHL_COOK, NetworkModel, model_of_checkpoint
from spiking_mnist.models.parameters import ConfigError
from spiking_mnist.rundir import checkpoint, files, lock
from spiking_mnist.runners.presentation import Presenter, Showing, SimulatorRun
from spiking_mnist.runners.recording import Recorder, RecordingPlan, block_annotations
from spiking_mnist.runners.session import check_model, open_network

log = logging.getLogger("spiking_mnist.train")


def only_digits(split: mnist.Split, digits) -> mnist.Split:
    """The examples of ``split`` whose label is in ``digits`` (all if None)."""
    if digits is None:
        return split
    return split.subset(np.flatnonzero(np.isin(split.labels, list(digits))))


def training_split(params, data_dir=None, digits=None) -> mnist.Split:
    """The training images minus the validation set carved from them."""
    full = mnist.load("train", data_dir)
    if params.training.validation >= len(full):
        raise ConfigError(f"training.validation = {params.training.validation} examples, but "
                          f"the training file holds only {len(full)}; set a smaller one, "
                          "e.g. --set training.validation=" + str(len(full) // 6))
    train, _ = mnist.train_validation_split(full, params.training.validation,
                                            params.simulation.seed)
    return only_digits(train, digits)


def add_to_history(run_dir: Path, key: str, entry: dict) -> None:
    """Append ``entry`` (with ``examples_seen``) to list ``key`` of run_dir/history.json,
    dropping entries of a later point that a resumed run is now redoing."""
    path = run_dir / "history.json"
    try:
        history = files.read_json(path) if path.exists() else {}
    except ValueError as err:
        log.warning("%s; it is begun anew (its accuracies and speeds so far are lost)", err)
        history = {}
    kept = [h for h in history.get(key, []) if h["examples_seen"] < entry["examples_seen"]]
    history[key] = kept + [entry]
    files.write_json(path, history)


def _validate(run_dir: Path, backend_name: str, data_dir, params,
              model: NetworkModel = DIEHL_COOK) -> None:
    """Test the checkpoint just written on the validation split; append to history.json."""
    from spiking_mnist.runners.evaluate import evaluate
    m = evaluate(run_dir, "validation", params.training.validation_examples,
                 backend_name=backend_name, data_dir=data_dir, progress=False, model=model)
    add_to_history(run_dir, "validation", {"examples_seen": m["examples_trained"],
                                           "accuracy": m["accuracy"],
                                           "examples": m["examples"]})
    log.info("validation accuracy %.3f after %d examples", m["accuracy"],
             m["examples_trained"])


class ColumnNormaliser:
    """Keeps every excitatory neuron's input weights summing to ``column_sum`` (D&C).

    D&C rescale all columns before every example, and so does the default (``full_every``
    = 1). With ``full_every`` = k, all columns are rescaled before every k-th example and in
    between only those of the neurons that fired since the last run: a column changes
    mostly when its neuron fires (STDP potentiates at postsynaptic spikes; depression scales
    with a trace that has decayed to ~e^-7.5 after a 150 ms rest). NEST applies that
    potentiation only at each synapse's next presynaptic spike, so a column can still grow
    after its neuron's last run (by up to 0.5 %, N=400, first 1,000 examples, k = 500).
    """

    def __init__(self, backend, column_sum: float, full_every: int, n: int):
        self._backend, self._sum, self._every = backend, column_sum, full_every
        self.fired = np.zeros(n, dtype=bool)

    def before_run(self, showings: list[Showing]) -> None:
        """Normalise before a run of ``showings``."""
        full = any(s.number == 0 and s.example > 0 and s.example % self._every == 0
                   for s in showings)
        self.normalise(full)

    def normalise(self, full: bool = False) -> None:
        """Rescale the columns of the neurons that fired since the last call, or all."""
        columns = None if full else np.flatnonzero(self.fired)   # None: all, in one call
        if columns is None or columns.size:
            if self._backend.normalises_in_place:   # NEST with this project's module
                self._backend.normalise_in_place(self._sum, columns)
            else:
                w = self._backend.get_weights(columns)
                self._backend.set_weights(diehl_cook.normalise_columns(w, self._sum), columns)
        self.fired[:] = False


class RunningAccuracy:
    """D&C's training monitor: each example is predicted with neuron labels assigned from the
    responses to the ``window`` training examples before it (relabelled every 100)."""

    def __init__(self, window: int, n_neurons: int):
        self._responses = np.zeros((window, n_neurons), dtype=np.int64)
        self._labels = np.full(window, -1)
        self._assignments = None
        self._seen = 0
        self._outcomes: deque[bool] = deque(maxlen=window)

    def add(self, counts: np.ndarray, label: int) -> float | None:
        """Record one example; the accuracy over the last ``window`` predictions, if any."""
        window = len(self._labels)
        if self._assignments is not None and (self._assignments >= 0).any():
            predicted = diehl_cook.predict(counts[None], self._assignments)[0]
            self._outcomes.append(bool(predicted == label))
        self._responses[self._seen % window], self._labels[self._seen % window] = counts, label
        self._seen += 1
        if self._seen >= window and self._seen % 100 == 0:
            self._assignments = diehl_cook.assign_labels(self._responses, self._labels)
        return float(np.mean(self._outcomes)) if self._outcomes else None


def segment_speed(examples_seen: int, examples: int, loop_seconds: float,
                  wall_seconds: float) -> dict:
    """One checkpoint segment's speed for history.json: training examples per second in the
    showing loop and in wall time (building the network and writing the checkpoint included),
    and the process's peak resident memory so far (MiB)."""
    return {"examples_seen": examples_seen,
            "examples_per_second": round(examples / max(loop_seconds, 1e-9), 3),
            "wall_examples_per_second": round(examples / max(wall_seconds, 1e-9), 3),
            "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


class TrainingInterrupted(Exception):
    """Training stopped on request after writing a checkpoint; ``str()`` says how to resume,
    ``signum`` is the signal that asked."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = signum


class Interrupted(KeyboardInterrupt):
    """A second stop signal: stopped at once; ``signum`` is that signal."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopOnInterrupt:
    """The first stop signal sets ``requested`` and ``signum``: training stops after the
    current example and writes a checkpoint (``unit`` names what the caller finishes first);
    a second one interrupts at once (:class:`Interrupted`). The signals are Ctrl-C (SIGINT;
    also heard in a background job, which starts with SIGINT ignored), SIGTERM (``kill``,
    Slurm, systemd, ``docker stop``) and SIGHUP (the terminal closed; not under ``nohup``,
    which ignores it)."""

    def __init__(self, unit: str = "example"):
        self.requested = False
        self.signum: int | None = None
        self._unit = unit
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise Interrupted(signum)
        self.requested, self.signum = True, signum
        again = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        log.warning("%s: stopping after this %s (%s again to stop at once)",
                    signal.Signals(signum).name, self._unit, again)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            # SIGTERM and SIGHUP stay ignored if they are (`nohup` ignores SIGHUP)
            self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS
                              if s == signal.SIGINT or signal.getsignal(s) != signal.SIG_IGN}
        return self

    def __exit__(self, *exc):
        for s, previous in self._previous.items():
            if previous is not None:   # None: a handler set outside Python, left in place
                signal.signal(s, previous)


def train(run_dir: Path, params, backend_name: str = "nest", data_dir=None,
          progress: bool = True, digits=None, overwrite: bool = False,
          recording: RecordingPlan | None = None,
          data: mnist.Split | None = None,
          model: NetworkModel = DIEHL_COOK) -> checkpoint.Checkpoint:
    """Train from scratch into ``run_dir``, which must not hold a run unless ``overwrite``.

    ``digits`` restricts training (and later labelling and testing) to those classes;
    ``recording`` writes Neo recordings of the chosen training examples. ``data`` replaces
    the MNIST training split by other inputs (the patches and codes of
    :mod:`~spiking_mnist.runners.hierarchy`; give the same again to :func:`resume`).
    ``model`` is the network trained (:func:`~spiking_mnist.models.network.load_model`;
    D&C's by default); its checkpoints name its file.
    """
    run_dir = Path(run_dir)
    with lock.writer(run_dir):
        return _train(run_dir, params, backend_name, data_dir, progress, digits, overwrite,
                      recording, data, model)


def _train(run_dir: Path, params, backend_name: str, data_dir, progress: bool, digits,
           overwrite: bool, recording: RecordingPlan | None,
           data: mnist.Split | None, model: NetworkModel) -> checkpoint.Checkpoint:
    """:func:`train`, holding the run directory's lock."""
    if checkpoint.has_checkpoint(run_dir) and not overwrite:
        raise checkpoint.CheckpointError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir}, choose "
            "another --run-dir, or pass --overwrite to replace it")
    if overwrite:
        refuse_to_overwrite(run_dir)
    model.validate(params)
    backend_class(backend_name).check(params)
    if overwrite and checkpoint.has_checkpoint(run_dir):
        kept = checkpoint.remove_run(run_dir)
        log.info("--overwrite: removed the run in %s%s", run_dir,
                 f"; kept what it did not write: {', '.join(kept)}" if kept else "")
    digits = None if digits is None else sorted({int(d) for d in digits})
    if data is None:
        data = training_split(params, data_dir, digits)
    n_inputs = data.images[0].size
    check_model(model, params, backend_name, n_inputs)
    rng = np.random.default_rng(params.simulation.seed)
    weights = diehl_cook.normalise_columns(
        diehl_cook.initial_weights(params, n_inputs, rng), params.normalisation.column_sum)
    start = checkpoint.Checkpoint(
        model=model.name, parameters=params.values(), weights=weights,
        delays=diehl_cook.input_delays(params, n_inputs, rng),
        theta=diehl_cook.Homeostasis(params).theta, examples_seen=0, backend=backend_name,
        info={"digits": digits, "fired": [], "spikes": 0, "input_spikes": 0,
              "train_seconds": 0.0},
        model_file=None if model.packaged else str(model.file), model_sha256=model.sha256)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint.save(run_dir, start)  # the untrained network: a run from its first moment
    return _continue(run_dir, params, start, backend_name, data_dir, progress, recording, data,
                     model)


def resume(run_dir: Path, backend_name: str = "nest", data_dir=None, progress: bool = True,
           examples: int | None = None,
           recording: RecordingPlan | None = None,
           data: mnist.Split | None = None,
           model: NetworkModel = DIEHL_COOK) -> checkpoint.Checkpoint:
    """Continue the run in ``run_dir`` from its checkpoint, up to ``training.examples`` (or
    ``examples``, to train further); ``data`` as given to :func:`train`; ``model`` the
    network that made the run (refused if another)."""
    if not Path(run_dir).is_dir():
        checkpoint.load(run_dir)   # says it holds no checkpoint
    with lock.writer(run_dir, create=False):
        ckpt = checkpoint.load(run_dir)
        model_of_checkpoint(ckpt.model, ckpt.model_file, ckpt.model_sha256, model)
        params = model.defaults().with_values(ckpt.parameters, "checkpoint")
        if examples is not None:
            params = params.with_values({"training": {"examples": examples}}, "--examples")
        if ckpt.examples_seen >= params.training.examples:
            raise checkpoint.CheckpointError(
                f"{run_dir} has already seen {ckpt.examples_seen} examples; pass --examples "
                "with a larger total to train further")
        return _continue(Path(run_dir), params, ckpt, backend_name, data_dir, progress,
                         recording, data, model)


def refuse_to_overwrite(run_dir: Path) -> None:
    """CheckpointError unless ``run_dir`` is new, empty or holds a training run of this
    project: ``--overwrite`` replaces a run, never a user's other files."""
    kind = checkpoint.run_kind(run_dir)
    if kind == "patch-hierarchy run":
        raise checkpoint.CheckpointError(
            f"{run_dir} holds a patch-hierarchy run (parameters.json, layer1/, codes/); "
            "train --overwrite replaces only a training run: choose another --run-dir")
    if kind is None and run_dir.is_dir():
        found = checkpoint.foreign_entries(run_dir)
        if found:
            shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5
                                            else "")
            raise checkpoint.CheckpointError(
                f"{run_dir} holds no run of spiking-mnist (no checkpoint/manifest.json) but "
                f"{len(found)} other entr{'y' if len(found) == 1 else 'ies'} ({shown}); "
                "--overwrite replaces only a run: choose a new or empty --run-dir")


def _continue(run_dir: Path, params, ckpt: checkpoint.Checkpoint, backend_name: str,
              data_dir, progress: bool, recording: RecordingPlan | None,
              data: mnist.Split | None = None,
              model: NetworkModel = DIEHL_COOK) -> checkpoint.Checkpoint:
    """Train from the state in ``ckpt`` to ``training.examples``, checkpointing as set.

    The simulation is restarted from every checkpoint it writes (fresh membranes and traces,
    the saved weights, theta and pending normalisations), so a run resumed from a periodic
    checkpoint is bit-identical to one never interrupted, for a given thread count.
    """
    if data is None:
        data = training_split(params, data_dir, ckpt.info["digits"])
    if len(data) == 0:
        raise mnist.DatasetError(f"no training examples of digits {ckpt.info['digits']}")
    ckpt.check_inputs(data.images.shape[1:], "the training split")
    images = data.images.reshape(len(data), -1)
    order = np.random.default_rng((params.simulation.seed, 1)).permutation(len(images))
    n_examples, every = params.training.examples, params.training.checkpoint_every
    validate_every = params.training.validate_every
    k, spikes = ckpt.examples_seen, ckpt.info["spikes"]
    input_spikes = ckpt.info.get("input_spikes", 0)
    seconds = seconds_start = ckpt.info["train_seconds"]
    k_start = ckpt.examples_seen
    homeostasis = diehl_cook.Homeostasis(params, ckpt.theta.copy())
    bar = tqdm(total=n_examples, initial=k, desc="train", unit="ex", disable=not progress,
               dynamic_ncols=True)
    monitor = RunningAccuracy(params.training.running_accuracy_window,
                              params.network.n_excitatory)
    accuracy = None
    if recording is not None:
        recording = recording.for_network(params.network)
    recorder = None if recording is None else Recorder(
        recording, run_dir, "train",
        block_annotations(params, ckpt.model, data.images.shape[1:], backend_name),
        fresh=ckpt.examples_seen == 0)
    with StopOnInterrupt() as stop:
        while k < n_examples:
            segment_began, segment_k = time.perf_counter(), k
            backend, _ = open_network(diehl_cook.in_phase(params, k), backend_name,
                                      ckpt.weights, ckpt.delays, homeostasis.theta,
                                      plastic=True, recording=recording, model=model)
            if recorder is not None:
                recorder.attach(backend)
            normaliser = ColumnNormaliser(backend, params.normalisation.column_sum,
                                          params.normalisation.full_every,
                                          params.network.n_excitatory)
            normaliser.fired[ckpt.info["fired"]] = True

            def after_run(run: SimulatorRun) -> None:
                if params.theta.kept == "cells":
                    homeostasis.theta = backend.theta_of_cells()
                else:
                    for totals in run.totals:
                        homeostasis.update(totals, run.period)
                    backend.set_thresholds(homeostasis.thresholds())
                normaliser.fired |= run.totals.any(axis=0)

            presenter = Presenter(backend, images, data.labels, "train", params, recorder,
                                  lambda: homeostasis.theta)
            segment_end = min(n_examples, (k // every + 1) * every)
            if k < params.stdp.refine_from:   # the slower phase needs a network of its own
                segment_end = min(segment_end, params.stdp.refine_from)
            fed = takewhile(lambda _: not stop.requested, range(k, segment_end))
            began = time.perf_counter()
            for _, row, counts in presenter.show(((j, order[j % len(order)]) for j in fed),
                                                 normaliser.before_run, after_run):
                accuracy = monitor.add(counts, int(data.labels[row]))
                spikes += int(counts.sum())
                k += 1
                bar.update(1)
                bar.set_postfix(spikes_per_ex=f"{spikes / k:.1f}", refresh=False,
                                **({} if accuracy is None else {"acc~": f"{accuracy:.2f}"}))
            loop_seconds = time.perf_counter() - began
            seconds += loop_seconds
            input_spikes += presenter.input_spikes
            # the normalisation the next showing would start with: saved weights are then
            # what D&C test with, not the last winner's column grown by ~20 units
            normaliser.normalise()
            ckpt = checkpoint.Checkpoint(
                model=ckpt.model, parameters=params.values(),
                weights=backend.get_weights(), delays=ckpt.delays,
                theta=homeostasis.theta.copy(), examples_seen=k, backend=backend_name,
                info={"digits": ckpt.info["digits"],
                      "fired": np.flatnonzero(normaliser.fired).tolist(), "spikes": spikes,
                      "input_spikes": input_spikes,
                      "train_seconds": seconds,
                      "train_examples_per_second":
                          (k - k_start) / max(seconds - seconds_start, 1e-9),
                      "mean_spikes_per_example": spikes / max(k, 1)},
                model_file=ckpt.model_file, model_sha256=ckpt.model_sha256)
            if recorder is not None:
                recorder.flush()
            backend.end()
            # history first, the checkpoint last: it commits the segment (a crash before
            # it, and the resumed run redoes the segment and replaces these entries)
            add_to_history(run_dir, "speed", segment_speed(
                k, k - segment_k, loop_seconds, time.perf_counter() - segment_began))
            if accuracy is not None:
                add_to_history(run_dir, "training", {
                    "examples_seen": k, "accuracy": accuracy,
                    "window": params.training.running_accuracy_window})
            checkpoint.save(run_dir, ckpt)
            if validate_every and k % validate_every == 0 and not stop.requested:
                _validate(run_dir, backend_name, data_dir, params, model)
            if stop.requested and k < n_examples:
                bar.close()
                raise TrainingInterrupted(
                    f"stopped ({signal.Signals(stop.signum).name}) after {k} of {n_examples} "
                    f"examples; checkpoint in {checkpoint.checkpoint_dir(run_dir)}; continue "
                    f"with `spiking-mnist train --resume {run_dir}`", stop.signum)
    bar.close()
    log.info("trained %d examples in %.0f s", k, seconds)
    return ckpt
