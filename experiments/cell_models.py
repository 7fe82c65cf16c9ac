"""Other cell and synapse models against D&C's on a trained network, on the same input spikes.

    python experiments/cell_models.py RUN_DIR --examples 300 \
        --variant simulation.cell_integration=fixed_step \
        --variant network.synapses=current,excitatory.v_synaptic=-35,inhibitory.v_synaptic=-35

Shows the first ``--examples`` validation images (plasticity off, the run's weights and
theta, identical Poisson input) to the reference network (conductance synapses, NEST's
``iaf_cond_exp``; ``--reference`` changes it) and to each ``--variant`` (comma-separated
``--set`` assignments over the reference), and prints how alike their excitatory responses
are: spike counts, the most active neuron, first-spike times, seconds per example, and the
accuracy of each with neurons labelled on ``--label-examples`` training images by that same
model.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from spiking_mnist.inputs import mnist
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_defaults
from spiking_mnist.rundir import checkpoint
from spiking_mnist.runners.presentation import Presenter
from spiking_mnist.runners.session import open_network
from spiking_mnist.runners.train import training_split

REFERENCE = "network.synapses=conductance,simulation.cell_integration=adaptive"


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
    ap.add_argument("--reference", default=REFERENCE, metavar="SECTION.NAME=V,...",
                    help=f"the reference model (default: {REFERENCE})")
    ap.add_argument("--variant", action="append", required=True, metavar="SECTION.NAME=V,...",
                    help="a model to compare with the reference (repeatable)")
    ap.add_argument("--threads", type=int, help="simulator threads (default: the run's)")
    args = ap.parse_args()
    ckpt = checkpoint.load(args.run_dir)
    base = load_defaults(ckpt.model).with_values(ckpt.parameters, "checkpoint")
    if args.threads:
        base = base.with_values({"simulation": {"threads": args.threads}}, "--threads")
    train = training_split(base, None, ckpt.info.get("digits"))
    label = train.subset(np.arange(args.label_examples))
    _, validation = mnist.train_validation_split(mnist.load("train"),
                                                 base.training.validation,
                                                 base.simulation.seed)
    target = validation.subset(np.arange(args.examples))
    base = base.with_overrides(_assignments(args.reference))
    reference = _measured(base, ckpt, label, target)
    print(json.dumps({"reference": args.reference,
                      **{k: v for k, v in reference.items()
                         if k in ("seconds_per_example", "accuracy")}}))
    for setting in args.variant:
        variant = _measured(base.with_overrides(_assignments(setting)), ckpt, label, target)
        print(json.dumps({"variant": setting, **_likeness(reference, variant)}, indent=1))


def _assignments(setting: str) -> list[str]:
    return [a for a in setting.split(",") if a]


def _measured(params, ckpt, label: mnist.Split, target: mnist.Split) -> dict:
    """Responses of ``params``'s network to ``target``, one showing per run, and its
    accuracy with neurons labelled on ``label``."""
    params = params.with_values({"simulation": {"showings_per_run": 1}}, "benchmark")
    label_counts, _, _ = responses(params, ckpt, label, "label")
    counts, first, seconds = responses(params, ckpt, target, "validation")
    assignments = diehl_cook.assign_labels(label_counts, label.labels)
    return {"counts": counts, "first": first, "seconds_per_example": seconds / len(target),
            "accuracy": float((diehl_cook.predict(counts, assignments)
                               == target.labels).mean())}


def _likeness(reference: dict, variant: dict) -> dict:
    """How alike the variant's responses are to the reference's."""
    ref, cur = reference["counts"], variant["counts"]
    shift = np.abs(variant["first"] - reference["first"])
    shift = shift[np.isfinite(shift)]
    return {
        "examples": len(ref),
        "spikes_per_example": {"reference": float(ref.sum(1).mean()),
                               "variant": float(cur.sum(1).mean())},
        "total_count_ratio": float(cur.sum() / max(ref.sum(), 1)),
        "same_most_active_neuron": float((ref.argmax(1) == cur.argmax(1)).mean()),
        "count_correlation": float(np.corrcoef(ref.ravel(), cur.ravel())[0, 1]),
        "first_spike_shift_ms": {"median": float(np.median(shift)),
                                 "within_2ms": float((shift <= 2.0).mean())},
        "seconds_per_example": round(variant["seconds_per_example"], 4),
        "accuracy": {"reference": reference["accuracy"], "variant": variant["accuracy"]},
    }


if __name__ == "__main__":
    main()
