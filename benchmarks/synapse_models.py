"""Conductance against current synapses on a trained network, on the same input spikes.

    python benchmarks/synapse_models.py RUN_DIR --examples 300

Shows the first ``--examples`` validation images (plasticity off, the run's weights and
theta, identical Poisson input) to the network with ``network.synapses`` = conductance (D&C,
the reference) and = current, and prints how alike their excitatory responses are: spike
counts, the most active neuron, first-spike times, seconds per example, and the accuracy of
each with neurons labelled on ``--label-examples`` training images by that same model.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from spiking_mnist.inputs import mnist
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_defaults
from spiking_mnist.runners import checkpoint
from spiking_mnist.runners.presentation import Presenter
from spiking_mnist.runners.session import open_network
from spiking_mnist.runners.train import training_split


def responses(params, ckpt, split: mnist.Split, stream: str):
    """(spike counts (examples, neurons), first excitatory spike time (ms from the start of
    the last showing, nan if none), seconds) of the frozen network, one showing per run."""
    backend, _ = open_network(params, "nest", ckpt.weights, ckpt.delays, ckpt.theta,
                              plastic=False)
    runs: list = []
    take = backend.take_spikes

    def keep():
        times, neurons = take()
        runs.append((backend.now(), times))
        return times, neurons

    backend.take_spikes = keep
    counts = np.zeros((len(split), params.network.n_excitatory), dtype=np.int64)
    first = np.full(len(split), np.nan)
    presenter = Presenter(backend, split.images.reshape(len(split), -1), split.labels, stream,
                          params)
    period = params.encoding.presentation + params.encoding.rest
    began = time.perf_counter()
    for example, _, c in presenter.show((i, i) for i in range(len(split))):
        counts[example] = c
        end, times = runs[-1]   # one showing per run: the last run was the example's last
        if times.size:
            first[example] = times.min() - (end - period)
    seconds = time.perf_counter() - began
    backend.end()
    return counts, first, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--label-examples", type=int, default=1000)
    args = ap.parse_args()
    ckpt = checkpoint.load(args.run_dir)
    base = load_defaults(ckpt.model).with_values(ckpt.parameters, "checkpoint")
    train = training_split(base, None, ckpt.info.get("digits"))
    label = train.subset(np.arange(args.label_examples))
    _, validation = mnist.train_validation_split(mnist.load("train"),
                                                 base.training.validation,
                                                 base.simulation.seed)
    target = validation.subset(np.arange(args.examples))
    out = {}
    for synapses in ("conductance", "current"):
        params = base.with_values({"network": {"synapses": synapses},
                                   "simulation": {"showings_per_run": 1}}, "benchmark")
        label_counts, _, _ = responses(params, ckpt, label, "label")
        counts, first, seconds = responses(params, ckpt, target, "validation")
        assignments = diehl_cook.assign_labels(label_counts, label.labels)
        accuracy = float((diehl_cook.predict(counts, assignments) == target.labels).mean())
        out[synapses] = {"counts": counts, "first": first,
                         "seconds_per_example": seconds / len(target),
                         "accuracy": accuracy}
    ref, cur = out["conductance"]["counts"], out["current"]["counts"]
    shift = np.abs(out["current"]["first"] - out["conductance"]["first"])
    shift = shift[np.isfinite(shift)]
    summary = {
        "examples": len(target),
        "spikes_per_example": {k: float(v["counts"].sum(1).mean()) for k, v in out.items()},
        "total_count_ratio": float(cur.sum() / max(ref.sum(), 1)),
        "same_most_active_neuron": float((ref.argmax(1) == cur.argmax(1)).mean()),
        "count_correlation": float(np.corrcoef(ref.ravel(), cur.ravel())[0, 1]),
        "first_spike_shift_ms": {"median": float(np.median(shift)),
                                 "within_2ms": float((shift <= 2.0).mean())},
        "seconds_per_example": {k: round(v["seconds_per_example"], 4) for k, v in out.items()},
        "accuracy": {k: v["accuracy"] for k, v in out.items()},
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
