"""Testing a trained Diehl & Cook network: plasticity off, theta frozen, neurons labelled
on training examples, digits predicted by the most active label group (D&C's vote) and,
beside it, by the Poisson likelihood of the responses."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from spiking_mnist.inputs import mnist
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.network import DIEHL_COOK, NetworkModel, model_of_checkpoint
from spiking_mnist.models.parameters import ConfigError
from spiking_mnist.models.readout import metrics_of
from spiking_mnist.rundir import checkpoint, files, lock
from spiking_mnist.runners.presentation import Presenter
from spiking_mnist.runners.recording import Recorder, RecordingPlan, block_annotations
from spiking_mnist.runners.session import open_network
from spiking_mnist.runners.train import only_digits, training_split

log = logging.getLogger("spiking_mnist.evaluate")


def responses(open_backend, split: mnist.Split, stream: str, params, progress: bool,
              recorder=None, assignments: np.ndarray | None = None,
              theta: np.ndarray | None = None, first: int = 0,
              restart_every: int | None = None,
              per_run: int | None = None) -> tuple[np.ndarray, int]:
    """Excitatory spike counts, shape (n_examples, n_excitatory), of the frozen network, and
    the number of input spikes shown. The examples are numbers ``first``, ``first + 1``...
    of ``stream`` (their input spikes depend on that number).

    ``open_backend()`` builds the frozen network on a fresh simulator; it is built again
    every ``restart_every`` examples (never if None), because NEST's memory grows with the
    simulated time until its kernel is reset (about 12 KiB per 500 ms example; see
    docs/recordings.md). The ``recorder`` writes a file at each restart.

    With ``assignments`` (neuron labels), the progress bar shows the running accuracy and the
    ``recorder`` gets each example's prediction. ``per_run`` showings go in one simulator run
    (``simulation.showings_per_run`` unless given).
    """
    images = split.images.reshape(len(split), -1)
    out = np.zeros((len(split), params.network.n_excitatory), dtype=np.int64)
    predict = None if assignments is None else \
        (lambda counts: int(diehl_cook.predict(counts[None], assignments)[0]))
    part = restart_every or max(len(split), 1)
    correct = done = input_spikes = 0
    with tqdm(total=len(split), desc=stream, unit="ex", disable=not progress,
              dynamic_ncols=True) as bar:
        for start in range(0, len(split), part):
            backend = open_backend()
            if recorder is not None:
                recorder.attach(backend)
            presenter = Presenter(backend, images, split.labels, stream, params, recorder,
                                  None if theta is None else (lambda: theta), per_run)
            rows = range(start, min(start + part, len(split)))
            for _, i, counts in presenter.show(((first + i, i) for i in rows),
                                               predict=predict):
                out[i] = counts
                done += 1
                if predict is not None:
                    correct += predict(counts) == split.labels[i]
                    bar.set_postfix(accuracy=f"{correct / done:.3f}", refresh=False)
                bar.update(1)
            if recorder is not None:
                recorder.flush()
            input_spikes += presenter.input_spikes
            backend.end()
    return out, input_spikes


def evaluation_overrides(overrides: Sequence[str]) -> list[str]:
    """``overrides``, checked to touch only the [evaluation] section: the network and its
    simulation are the trained ones."""
    for text in overrides:
        if not text.strip().startswith("evaluation."):
            raise ConfigError(f"--set {text!r}: evaluation changes only evaluation.* "
                              "parameters (the network is the trained one); retrain with "
                              "`spiking-mnist train --set ...` to change the rest")
    return list(overrides)


def evaluate(run_dir: Path, split: str = "test", examples: int | None = None,
             label_examples: int | None = None, backend_name: str = "nest", data_dir=None,
             progress: bool = True, recording: RecordingPlan | None = None,
             overrides: Sequence[str] = (), model: NetworkModel = DIEHL_COOK) -> dict:
    """Label the neurons on training examples, test on ``split`` and write metrics.json;
    with ``recording``, Neo recordings of both phases into ``run_dir/recordings``.
    ``overrides`` (``evaluation.name=value``) change how the trained network is tested;
    ``model`` is the network that made the run (refused if another)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        checkpoint.load(run_dir)   # says it holds no checkpoint
    with lock.writer(run_dir, create=False):
        return _evaluate(run_dir, split, examples, label_examples, backend_name, data_dir,
                         progress, recording, overrides, model)


def _evaluate(run_dir: Path, split: str, examples: int | None, label_examples: int | None,
              backend_name: str, data_dir, progress: bool, recording: RecordingPlan | None,
              overrides: Sequence[str], model: NetworkModel) -> dict:
    """:func:`evaluate`, holding the run directory's lock."""
    ckpt = checkpoint.load(run_dir)
    model_of_checkpoint(ckpt.model, ckpt.model_file, ckpt.model_sha256, model)
    params = model.defaults().with_values(ckpt.parameters, "checkpoint")
    params = params.with_overrides(evaluation_overrides(overrides))
    n_label = label_examples or params.evaluation.label_examples
    n_test = examples or params.evaluation.test_examples
    digits = ckpt.info.get("digits")
    train = training_split(params, data_dir, digits)
    label_rows = np.random.default_rng((params.simulation.seed, 2)).permutation(len(train))
    labelling = train.subset(label_rows[:n_label])
    if split == "test":
        target = mnist.load("test", data_dir)
    elif split == "validation":
        _, target = mnist.train_validation_split(mnist.load("train", data_dir),
                                                 params.training.validation,
                                                 params.simulation.seed)
    else:
        raise ValueError(f"unknown split {split!r}: use 'test' or 'validation'")
    target = only_digits(target, digits)
    target = target.subset(np.arange(min(n_test, len(target))))
    ckpt.check_inputs(target.images.shape[1:], f"the {split} split")

    if recording is not None:
        recording = recording.for_network(params.network)

    def frozen_network():
        return open_network(params, backend_name, ckpt.weights, ckpt.delays, ckpt.theta,
                            plastic=False, recording=recording, model=model)[0]

    recorders = {}
    if recording is not None:
        annotations = block_annotations(params, ckpt.model, target.images.shape[1:],
                                        backend_name)
        for phase in ("label", split):
            recorders[phase] = Recorder(recording, run_dir, phase, annotations)
    # while recording, a fresh simulator every --record-chunk examples shown keeps memory flat
    restart_every = params.evaluation.restart_every if recording is None \
        else min(params.evaluation.restart_every, recording.chunk)
    # a recording file closes between runs in which no recorded example awaits a re-show:
    # with many showings per run that may never happen
    per_run = None if recording is not None else params.evaluation.showings_per_run
    start = time.perf_counter()
    label_responses, _ = responses(frozen_network, labelling, "label", params, progress,
                                   recorders.get("label"), theta=ckpt.theta,
                                   restart_every=restart_every, per_run=per_run)
    assignments = diehl_cook.assign_labels(label_responses, labelling.labels)
    rates = diehl_cook.class_rates(label_responses, labelling.labels)
    mid = time.perf_counter()
    test_responses, input_spikes = responses(frozen_network, target, split, params, progress,
                                             recorders.get(split), assignments, ckpt.theta,
                                             restart_every=restart_every, per_run=per_run)
    end = time.perf_counter()
    predictions = diehl_cook.predict(test_responses, assignments)
    likely = diehl_cook.predict_likelihood(test_responses, rates)
    metrics = {"split": split, "digits": digits, "examples": len(target),
               "label_examples": len(labelling),
               "examples_trained": ckpt.examples_seen,
               "n_excitatory": params.network.n_excitatory,
               **metrics_of(target.labels, predictions),
               "neurons_per_class": np.bincount(assignments[assignments >= 0],
                                                minlength=10).tolist(),
               "unlabelled_neurons": int((assignments < 0).sum()),
               "likelihood": metrics_of(target.labels, likely),
               "label_seconds": mid - start, "test_seconds": end - mid,
               "test_examples_per_second": len(target) / max(end - mid, 1e-9),
               "test_input_spikes": input_spikes}
    name = "metrics.json" if split == "test" else f"metrics-{split}.json"
    files.write_npz(run_dir / f"responses-{split}.npz", responses=test_responses,
                    labels=target.labels, predictions=predictions, assignments=assignments,
                    likelihood_predictions=likely, class_rates=rates)
    files.write_json(run_dir / name, metrics)
    log.info("%s accuracy %.4f on %d examples", split, metrics["accuracy"], len(target))
    return metrics
