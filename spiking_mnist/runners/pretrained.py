"""Exporting a trained run as a pretrained network, and testing one with its shipped labels.

``spiking-mnist pretrained export RUN_DIR NAME`` labels the run's neurons once, on training
images, with the label phase of ``evaluate`` (same images, same input spikes), tests the
network with those labels, and writes the folder :mod:`spiking_mnist.rundir.pretrained`
describes; labels and accuracy are measured on the network as shipped (float32), so
``spiking-mnist evaluate --pretrained NAME`` gives the very accuracy in its manifest (for the
same thread count). ``pretrained copy NAME RUN_DIR`` makes a run directory of it, which
``train --resume`` trains further.
"""
from __future__ import annotations

import logging
import os
import shlex
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from spiking_mnist.inputs import mnist
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.network import DIEHL_COOK, NetworkModel, model_of_checkpoint
from spiking_mnist.models.parameters import Parameters, load_defaults
from spiking_mnist.models.readout import metrics_of
from spiking_mnist.rundir import checkpoint, files, lock, pretrained
from spiking_mnist.rundir.checkpoint import Checkpoint
from spiking_mnist.runners.evaluate import evaluation_overrides, responses
from spiking_mnist.runners.session import open_network
from spiking_mnist.runners.train import only_digits, training_split

log = logging.getLogger("spiking_mnist.pretrained")

#: label examples of an export unless told otherwise
LABEL_EXAMPLES = 10000


# -- the label and test phases of evaluate ------------------------------------------------
def parameters_of(ckpt: Checkpoint, overrides: Sequence[str] = (),
                  model: NetworkModel = DIEHL_COOK) -> Parameters:
    """The parameters of a trained network, with ``evaluation.*`` overrides and
    ``simulation.threads`` (how many cores test it; NEST's results can differ in the last
    spikes between thread counts); ``model`` the network that made it (refused if
    another)."""
    model_of_checkpoint(ckpt.model, ckpt.model_file, ckpt.model_sha256, model)
    params = model.defaults().with_values(ckpt.parameters, "checkpoint")
    threads = [o for o in overrides if o.replace(" ", "").startswith("simulation.threads=")]
    params = params.with_overrides(threads)
    return params.with_overrides(evaluation_overrides(
        [o for o in overrides if o not in threads]))


def labelling_split(params: Parameters, n_label: int, digits, data_dir=None) -> mnist.Split:
    """The training images ``evaluate`` labels neurons on: the first ``n_label`` of the
    training split (validation carved out) permuted with seed ``(simulation.seed, 2)``."""
    train = training_split(params, data_dir, digits)
    rows = np.random.default_rng((params.simulation.seed, 2)).permutation(len(train))
    return train.subset(rows[:n_label])


def tested_split(params: Parameters, split: str, n_test: int, digits,
                 data_dir=None) -> mnist.Split:
    """The first ``n_test`` images of ``split`` ("test" or "validation"), as ``evaluate``
    tests them."""
    if split == "test":
        target = mnist.load("test", data_dir)
    elif split == "validation":
        _, target = mnist.train_validation_split(mnist.load("train", data_dir),
                                                 params.training.validation,
                                                 params.simulation.seed)
    else:
        raise ValueError(f"unknown split {split!r}: use 'test' or 'validation'")
    target = only_digits(target, digits)
    return target.subset(np.arange(min(n_test, len(target))))


def frozen_responses(params: Parameters, backend_name: str, ckpt: Checkpoint,
                     examples: mnist.Split, stream: str, progress: bool,
                     assignments: np.ndarray | None = None,
                     model: NetworkModel = DIEHL_COOK) -> tuple[np.ndarray, int]:
    """Spike counts of the frozen network of ``ckpt`` (plasticity off, theta folded into
    the thresholds) on ``examples``, built by ``backend_name`` with ``params`` (which may
    differ from the trained ones, e.g. a board's time step), as ``evaluate`` runs it."""
    def frozen_network():
        return open_network(params, backend_name, ckpt.weights, ckpt.delays, ckpt.theta,
                            plastic=False, model=model)[0]
    return responses(frozen_network, examples, stream, params, progress,
                     assignments=assignments, theta=ckpt.theta,
                     restart_every=params.evaluation.restart_every,
                     per_run=params.evaluation.showings_per_run)


def label(params: Parameters, backend_name: str, ckpt: Checkpoint, examples: mnist.Split,
          progress: bool, model: NetworkModel = DIEHL_COOK) -> np.ndarray:
    """Each neuron's digit (-1: silent) from its responses to ``examples`` (D&C)."""
    counts, _ = frozen_responses(params, backend_name, ckpt, examples, "label", progress,
                                 model=model)
    return diehl_cook.assign_labels(counts, examples.labels)


def test(params: Parameters, backend_name: str, ckpt: Checkpoint, target: mnist.Split,
         split: str, assignments: np.ndarray, progress: bool,
         model: NetworkModel = DIEHL_COOK) -> tuple[dict, np.ndarray]:
    """The metrics ``evaluate`` writes (labels given) and the test responses."""
    start = time.perf_counter()
    counts, input_spikes = frozen_responses(params, backend_name, ckpt, target, split,
                                            progress, assignments, model)
    seconds = time.perf_counter() - start
    predictions = diehl_cook.predict(counts, assignments)
    metrics = {"split": split, "digits": ckpt.info.get("digits"), "examples": len(target),
               "examples_trained": ckpt.examples_seen,
               "n_excitatory": params.network.n_excitatory,
               **metrics_of(target.labels, predictions),
               "neurons_per_class": np.bincount(assignments[assignments >= 0],
                                                minlength=10).tolist(),
               "unlabelled_neurons": int((assignments < 0).sum()),
               "test_seconds": seconds,
               "test_examples_per_second": len(target) / max(seconds, 1e-9),
               "test_input_spikes": input_spikes}
    return metrics, counts


def write_results(run_dir: Path, name: str, metrics: dict, counts: np.ndarray,
                  target: mnist.Split, assignments: np.ndarray, stream: str) -> None:
    """``metrics`` into ``run_dir/name`` and the responses to ``target`` into
    ``responses-<stream>.npz``, as ``evaluate`` writes them."""
    files.write_npz(run_dir / f"responses-{stream}.npz", responses=counts,
                    labels=target.labels, predictions=diehl_cook.predict(counts, assignments),
                    assignments=assignments)
    files.write_json(run_dir / name, metrics)


def trained_checkpoint(run_dir: Path) -> Checkpoint:
    """The checkpoint of ``run_dir``; CheckpointError if there is none or it has seen no
    training example (``train`` saves the untrained network before its first example)."""
    ckpt = checkpoint.load(run_dir)
    if ckpt.examples_seen == 0:
        raise checkpoint.CheckpointError(
            f"{run_dir} holds an untrained network (its checkpoint has seen 0 examples: the "
            "training stopped before its first checkpoint); train it first with "
            f"`spiking-mnist train --resume {run_dir}`")
    return ckpt


# -- export ---------------------------------------------------------------------------------
def training_command(params: Parameters, examples: int, digits=None) -> str:
    """The ``spiking-mnist train`` command that trains a network of ``params``: every value
    that differs from the defaults, as ``--set``."""
    defaults = load_defaults(params.name).values()
    words = ["spiking-mnist", "train", "--run-dir", "RUN_DIR",
             "--neurons", str(params.network.n_excitatory), "--examples", str(examples)]
    if digits:
        words += ["--digits", ",".join(map(str, digits))]
    for section, entries in params.values().items():
        for key, value in entries.items():
            if f"{section}.{key}" in ("network.n_excitatory", "training.examples"):
                continue
            if defaults.get(section, {}).get(key) != value:
                words += ["--set", f"{section}.{key}={value}"]
    return shlex.join(words)


def export(run_dir: Path, name: str, label_examples: int = LABEL_EXAMPLES,
           test_examples: int | None = None, into: Path | None = None,
           command: str | None = None, backend_name: str = "nest", data_dir=None,
           progress: bool = True, overwrite: bool = False,
           threads: int | None = None) -> pretrained.Pretrained:
    """Export the trained run in ``run_dir`` as pretrained network ``name`` into ``into``
    (default: the package's ``spiking_mnist/pretrained/``).

    The network is rounded to its shipped precision first; its neurons are labelled on
    ``label_examples`` training images (the label phase of ``evaluate``), then it is tested
    on ``test_examples`` test images (default all; 0: not tested) with those labels, on
    ``threads`` NEST threads (default: the run's own; ``evaluate --pretrained`` tests on
    as many). ``command`` records how it was trained (default: rebuilt from its parameters).
    """
    pretrained.check_name(name)
    folder = Path(into or pretrained.PACKAGE_DIR) / name
    if folder.exists() and not overwrite:
        raise pretrained.PretrainedError(f"{folder} exists; choose another name or pass "
                                         "--overwrite")
    trained = trained_checkpoint(run_dir)
    if trained.model_file is not None:
        raise checkpoint.CheckpointError(
            f"{run_dir} was trained with the network module {trained.model_file}; a "
            "pretrained network is D&C's network: test the run with `spiking-mnist evaluate "
            f"{run_dir} --model {trained.model_file}`")
    params = parameters_of(trained, [] if threads is None else
                           [f"simulation.threads={threads}"])
    ckpt = pretrained.as_shipped(trained, params.simulation.timestep)
    digits = ckpt.info.get("digits")
    labelling = labelling_split(params, label_examples, digits, data_dir)
    ckpt.check_inputs(labelling.images.shape[1:], "the training split")
    began = time.perf_counter()
    labels = label(params, backend_name, ckpt, labelling, progress)
    label_seconds = time.perf_counter() - began
    accuracy = None
    n_test = params.evaluation.test_examples if test_examples is None else test_examples
    if n_test > 0:
        target = tested_split(params, "test", n_test, digits, data_dir)
        metrics, _ = test(params, backend_name, ckpt, target, "test", labels, progress)
        accuracy = {"split": "test", "examples": metrics["examples"],
                    "accuracy": metrics["accuracy"],
                    "per_class_accuracy": metrics["per_class_accuracy"],
                    "backend": backend_name, "threads": params.simulation.threads,
                    "test_seconds": round(metrics["test_seconds"], 1),
                    "command": f"spiking-mnist evaluate --pretrained {name}"
                               + (f" --examples {n_test}" if n_test < 10000 else "")}
        log.info("pretrained %s: test accuracy %.4f on %d images", name,
                 metrics["accuracy"], metrics["examples"])
    source = checkpoint.checkpoint_dir(run_dir) / "manifest.json"
    run_manifest = files.read_json(source) if source.is_file() else {}
    manifest = {
        "model": ckpt.model, "parameters": ckpt.parameters,
        "code_version": checkpoint.code_version(),
        "trained": {"command": command or training_command(params, ckpt.examples_seen,
                                                           digits),
                    "seed": params.simulation.seed, "examples": ckpt.examples_seen,
                    "neurons": params.network.n_excitatory, "digits": digits,
                    "backend": ckpt.backend,
                    "threads": trained.parameters["simulation"]["threads"],
                    "train_seconds": round(float(ckpt.info.get("train_seconds", 0.0)), 1),
                    "code_version": run_manifest.get("code_version", "unknown")},
        "labels": {"examples": len(labelling), "backend": backend_name,
                   "images": "training images: the first of the training split (validation "
                             "carved out) permuted with seed (simulation.seed, 2), as "
                             "`spiking-mnist evaluate` labels",
                   "seconds": round(label_seconds, 1),
                   "neurons_per_class": np.bincount(labels[labels >= 0],
                                                    minlength=10).tolist(),
                   "unlabelled_neurons": int((labels < 0).sum())},
        "accuracy": accuracy,
        "checkpoint_info": ckpt.info,
    }
    pretrained.write(folder, trained, labels, manifest, overwrite)
    return pretrained.load(name, [folder.parent])


# -- using one ------------------------------------------------------------------------------
def default_run_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/spiking-mnist/runs/NAME-YYYYmmdd-HHMMSS`` (else ``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "spiking-mnist" / "runs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def copy(name: str, run_dir: Path, search: Iterable[str] = ()) -> Checkpoint:
    """Make ``run_dir`` (new or empty) a run directory holding pretrained network ``name``,
    under the run's lock."""
    network = pretrained.load(name, search)
    with lock.writer(Path(run_dir)):
        return pretrained.copy_to_run(network, Path(run_dir))


def evaluate(name: str, run_dir: Path | None = None, split: str = "test",
             examples: int | None = None, label_examples: int | None = None,
             backend_name: str = "nest", data_dir=None, progress: bool = True,
             overrides: Sequence[str] = (), search: Iterable[str] = ()) -> dict:
    """Test pretrained network ``name`` with its shipped labels (no training, no label
    phase) in ``run_dir`` (default :func:`default_run_dir`): copied there as a run, then
    ``metrics.json`` and ``responses-<split>.npz`` written as ``evaluate`` writes them. With
    ``label_examples`` the neurons are labelled anew, as ``evaluate`` labels them."""
    network = pretrained.load(name, search)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(name)
    with lock.writer(run_dir):
        ckpt = pretrained.copy_to_run(network, run_dir)
        if label_examples is not None:
            from spiking_mnist.runners.evaluate import evaluate as evaluate_run
            metrics = evaluate_run(run_dir, split, examples, label_examples, backend_name,
                                   data_dir, progress, overrides=overrides)
            return {**metrics, "run_dir": str(run_dir), "pretrained": name}
        measured = (network.accuracy or {}).get("threads")
        if measured is not None and not any("simulation.threads" in o for o in overrides):
            overrides = [f"simulation.threads={measured}", *overrides]   # as measured
        params = parameters_of(ckpt, overrides)
        n_test = examples or params.evaluation.test_examples
        target = tested_split(params, split, n_test, ckpt.info.get("digits"), data_dir)
        ckpt.check_inputs(target.images.shape[1:], f"the {split} split")
        metrics, counts = test(params, backend_name, ckpt, target, split, network.labels,
                               progress)
        metrics.update({"label_examples": network.manifest["labels"]["examples"],
                        "labels": f"shipped with the pretrained network {name}",
                        "pretrained": name, "pretrained_sha256": network.digest,
                        "label_seconds": 0.0})
        write_results(run_dir, "metrics.json" if split == "test" else f"metrics-{split}.json",
                      metrics, counts, target, network.labels, split)
    log.info("%s accuracy %.4f on %d examples", split, metrics["accuracy"], len(target))
    return {**metrics, "run_dir": str(run_dir)}


def summary(network: pretrained.Pretrained) -> str:
    """A few lines on ``network``: size, how it was trained and labelled, its accuracy."""
    m = network.manifest
    t, labels, accuracy = m["trained"], m["labels"], m.get("accuracy")
    return "\n".join([
        f"{network.name}: N={t['neurons']}, {t['examples']:,} training examples (seed "
        f"{t['seed']}, {t['backend']}, {t['threads']} thread(s)); spiking-mnist "
        f"{m['code_version']}; {network.folder}",
        f"  trained with: {t['command']}",
        f"  neurons labelled on {labels['examples']:,} training images "
        f"({labels['unlabelled_neurons']} never fired)",
        f"  accuracy: {100 * accuracy['accuracy']:.2f} % on {accuracy['examples']:,} test "
        f"images with those labels ({accuracy['backend']}, {accuracy['threads']} thread(s))"
        if accuracy else "  accuracy: not measured"])
