"""Layer 3 of the patch hierarchy again, on the frozen layers 1 and 2 of a finished run: a new
run directory that shares SOURCE's layers 1-2 and their codes (the first ``--train`` coded
training images and the validation ones), with other layer-3 values, so a layer-3 setting
is tried in minutes. Prints the readouts on the validation split and how many layer-3
neurons learnt: the spread (std / mean) of each neuron's input weights (the uniform initial
weights have 0.57; a learnt prototype is far above) and its theta (20 mV at the start,
higher for neurons that fired while learning); and the learnt weights as prototypes
compared without spikes (the vote they would give, and how often the spiking winner is
the best match). With several ``--examples``, layer 3 learns
on to each and is scored there (a learning curve; the coded training images are shown again
when it learns more than them). The test images are not read.

    python experiments/patches_layer3.py runs/p-k50-20k runs/l3-a --train 5000 \\
        --examples 5000 10000 --set geometry.layer3_reads=layer1 --set layer3.column_sum=180
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.rundir import checkpoint
from spiking_mnist.rundir.hierarchy import PARAMETERS
from spiking_mnist.runners import hierarchy

FROZEN = ("layer1", "layer2")


def prepare(source: Path, target: Path, train: int, overrides: list[str]):
    """``target`` holding ``source``'s layers 1-2, their codes and the new parameters."""
    base = hierarchy.parameters_of(source)
    params = load_parameters("patches", None, [*overrides, f"readout.train_examples={train}",
                                               "readout.test_examples=0"], base=base)
    changed = [f"{s}.{k}" for s, entries in params.values().items() for k, v in entries.items()
               if s not in ("layer3", "readout") and f"{s}.{k}" != "geometry.layer3_reads"
               and base.values()[s][k] != v]
    if changed:
        raise SystemExit(f"only layer3, geometry.layer3_reads and readout values may change "
                         f"(not {', '.join(changed)}): layers 1-2 are reused")
    per_part = base.code.part
    if train % per_part or train > base.readout.train_examples:
        raise SystemExit(f"--train must be a multiple of {per_part} and at most the "
                         f"{base.readout.train_examples} coded training images of {source}")
    (target / "codes").mkdir(parents=True)
    for layer in FROZEN:
        shutil.copytree(source / layer, target / layer)
    shutil.copy(source / "codes" / "scales.json", target / "codes")
    for layer in (1, 2):
        files = hierarchy.code_files(source, layer, "train")[:train // per_part]
        files += hierarchy.code_files(source, layer, "validation")
        for f in files:
            shutil.copy(f, target / "codes")
    (target / PARAMETERS).write_text(json.dumps(params.values(), indent=1))
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a hierarchy run with layers 1-2 coded")
    parser.add_argument("target", type=Path, help="a new run directory")
    parser.add_argument("--train", type=int, default=5000,
                        help="coded training images layer 3 learns from and is labelled on")
    parser.add_argument("--examples", type=int, nargs="+", default=[],
                        help="layer3.examples to learn on to, one after the other (default: "
                             "layer3.examples)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    if not args.target.exists():
        prepare(args.source, args.target, args.train, args.set)
    for examples in args.examples or [None]:
        if examples is not None:
            relearn(args.target, examples)
        report(args.target, hierarchy.run(args.target, None, "nest", args.data_dir,
                                          progress=False))


def relearn(target: Path, examples: int) -> None:
    """Set ``layer3.examples`` and drop the layer-3 codes, so the next run learns on to it
    and codes again."""
    path = target / PARAMETERS
    values = json.loads(path.read_text())
    if values["layer3"]["examples"] != examples:
        values["layer3"]["examples"] = examples
        path.write_text(json.dumps(values, indent=1))
        for f in hierarchy.code_files(target, 3, "train") + \
                hierarchy.code_files(target, 3, "validation"):
            f.unlink()


def prototypes(target: Path, weights: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """The learnt weights taken as prototypes: the validation accuracy when every image takes
    the label of the weights at the smallest angle to its inputs (each labelled by the digit
    most of the training images nearest to it show), and how often the neuron that spiked
    most for a validation image (``counts``) is the one with the largest drive."""
    params = hierarchy.parameters_of(target)
    unit = weights / np.maximum(np.linalg.norm(weights, axis=0), 1e-12)

    def inputs(split: str, n: int) -> np.ndarray:
        return hierarchy.coding_inputs(target, params, 3, split, None, slice(0, n))

    train_labels = hierarchy.load_codes(target, 1, "train")[1]
    nearest = (inputs("train", len(train_labels)) @ unit).argmax(axis=1)
    digit = np.array([np.bincount(train_labels[nearest == j], minlength=10).argmax()
                      for j in range(weights.shape[1])])
    truth = hierarchy.load_codes(target, 1, "validation")[1]
    validation = inputs("validation", len(truth))
    accuracy = float((digit[(validation @ unit).argmax(axis=1)] == truth).mean())
    agreement = float(((validation @ weights).argmax(axis=1) == counts.argmax(axis=1)).mean())
    return accuracy, agreement


def report(target: Path, metrics: dict) -> None:
    ckpt = checkpoint.load(target / "layer3")
    spread = ckpt.weights.std(axis=0) / ckpt.weights.mean(axis=0)
    counts, _ = hierarchy.load_codes(target, 3, "validation")
    nearest, agreement = prototypes(target, ckpt.weights, counts)
    print(f"{ckpt.examples_seen} images learnt ({metrics['seconds']['layer3']['learn']} s): "
          f"vote {100 * metrics['vote']['validation']['accuracy']:.2f} %, linear layer 3 "
          f"{100 * metrics['linear']['layer3']['validation']:.2f} % (validation); weight "
          f"spread percentiles 10/50/90 {np.percentile(spread, [10, 50, 90]).round(2)}, "
          f"theta (mV) {np.percentile(ckpt.theta, [10, 50, 90]).round(1)}; "
          f"{len(set(counts.argmax(axis=1)))} neurons win a validation image, "
          f"{counts.sum(axis=1).mean():.1f} spikes per image; the weights as prototypes "
          f"(nearest by angle) {100 * nearest:.2f} %, the neuron that spikes most has the "
          f"largest drive for {100 * agreement:.1f} % of the images", flush=True)


if __name__ == "__main__":
    main()
