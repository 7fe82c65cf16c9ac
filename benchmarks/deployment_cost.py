"""What deploying a trained network on SpiNNaker costs in accuracy, measured on NEST.

The board twin of a trained network is the network ``spiking-mnist deploy`` maps: frozen,
at the board's time step (1 ms, every delay in whole steps), theta folded into the
thresholds, and the input weights as sPyNNaker holds them (16-bit fixed point: read back from
a mapping on sPyNNaker's virtual board, so sPyNNaker must be installed). Both the twin and the
original network (its own time step, 0.5 ms for the defaults, and float weights) run on NEST
on the same test images with the same input spikes; the twin is scored with the original's
neuron labels and relabelled on its own responses to the same training images. Prints a
Markdown table (and writes JSON with ``--out``).

(``experiments/variant_cost.py`` is another study: it *trains* the SpiNNaker variant and
the reference network and compares them.)

    python benchmarks/deployment_cost.py --pretrained n400
    python benchmarks/deployment_cost.py RUN_DIR --label-examples 10000 --examples 10000
    python benchmarks/deployment_cost.py --pretrained n100 --causes   # time step, weights apart

A pretrained network is scored with its shipped labels (labelled on the original at export);
a run directory's neurons are labelled on ``--label-examples`` training images first. On 2
cores, N=400 takes about as long as four ``evaluate`` phases of that many images (label and
test, original and twin). Writes ``~/.spynnaker.cfg`` for a virtual board only if there is
no sPyNNaker configuration (an existing one must configure a virtual board); sPyNNaker's
reports go to ``./reports``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from spiking_mnist.hardware import configure_machine
from spiking_mnist.models import diehl_cook
from spiking_mnist.rundir import checkpoint, pretrained
from spiking_mnist.rundir.checkpoint import Checkpoint
from spiking_mnist.runners import deploy, pretrained as shipped


def held_by_the_board(params, frozen: Checkpoint, images: np.ndarray) -> dict:
    """The mapping of the board twin on sPyNNaker's virtual board: held weights, grid,
    resources."""
    print(configure_machine("spinnaker", "virtual"), file=sys.stderr)
    return deploy.map_frozen(params, frozen, images, "a virtual SpiNN-5 board")


def with_threads(params, threads: int | None):
    return params if threads is None else params.with_values(
        {"simulation": {"threads": threads}}, "--threads")


def measure(ckpt: Checkpoint, labels: np.ndarray | None, label_examples: int,
            test_examples: int, threads: int | None, causes: bool, data_dir=None,
            progress: bool = True) -> dict:
    """Test the original network and its board twin on NEST; see the module docstring."""
    original = with_threads(shipped.parameters_of(ckpt), threads)
    board_params, twin = deploy.board_twin(ckpt)
    board_params = with_threads(board_params, threads)
    digits = ckpt.info.get("digits")
    target = shipped.tested_split(original, "test", test_examples, digits, data_dir)
    labelling = shipped.labelling_split(original, label_examples, digits, data_dir)
    flat = target.images.reshape(len(target), -1)
    mapped = held_by_the_board(board_params, twin, flat)
    held = Checkpoint(twin.model, twin.parameters, mapped["held"], twin.delays, twin.theta,
                      twin.examples_seen, twin.backend, twin.info)
    rows, began = [], time.perf_counter()
    if labels is None:
        labels = shipped.label(original, "nest", ckpt, labelling, progress)
        origin = f"original's, on {len(labelling):,} training images"
    else:
        origin = "original's, shipped"

    def scored(name, params, state, relabel: bool) -> None:
        metrics, counts = shipped.test(params, "nest", state, target, "test", labels, progress)
        rows.append({"network": name, "timestep": params.simulation.timestep,
                     "labels": origin, "accuracy": metrics["accuracy"],
                     "test_seconds": metrics["test_seconds"]})
        if relabel:
            own = shipped.label(params, "nest", state, labelling, progress)
            accuracy = float((diehl_cook.predict(counts, own) == target.labels).mean())
            rows.append({"network": name, "timestep": params.simulation.timestep,
                         "labels": f"relabelled on its own responses to the same "
                                   f"{len(labelling):,} training images",
                         "accuracy": accuracy, "test_seconds": metrics["test_seconds"]})

    scored("original (trained weights and delays)", original, ckpt, relabel=False)
    scored("board twin (held weights, delays in whole steps)", board_params, held, relabel=True)
    if causes:
        scored("time step only (trained weights, delays in whole steps)", board_params, twin,
               relabel=False)
        scored("weights only (held weights, original time step and delays)", original,
               Checkpoint(ckpt.model, ckpt.parameters, mapped["held"], ckpt.delays,
                          ckpt.theta, ckpt.examples_seen, ckpt.backend, ckpt.info),
               relabel=False)
    base = rows[0]["accuracy"]
    for row in rows:
        row["minus_original_points"] = 100 * (row["accuracy"] - base)
    return {"n_excitatory": original.network.n_excitatory,
            "examples_trained": ckpt.examples_seen, "test_examples": len(target),
            "label_examples": len(labelling), "threads": original.simulation.threads,
            "quantisation": deploy.quantisation(ckpt.weights, mapped["held"]),
            "weight_steps_nS": mapped["steps"], "rows": rows,
            "seconds": time.perf_counter() - began}


def table(result: dict) -> str:
    lines = [f"N={result['n_excitatory']}, {result['examples_trained']:,} training examples; "
             f"{result['test_examples']:,} test images; NEST, "
             f"{result['threads']} thread(s); "
             f"{deploy.describe_quantisation(result['quantisation'])}",
             "", "| network | time step (ms) | neuron labels | accuracy | minus original |",
             "| --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        lines.append(f"| {row['network']} | {row['timestep']:g} | {row['labels']} | "
                     f"{100 * row['accuracy']:.2f} % | "
                     f"{row['minus_original_points']:+.2f} points |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", help="a run directory written by `train`")
    parser.add_argument("--pretrained", metavar="NAME", help="a pretrained network instead")
    parser.add_argument("--examples", type=int, default=10000, help="test images (10,000)")
    parser.add_argument("--label-examples", type=int, default=None, help="training images the "
                        "neurons are labelled on (default: a pretrained network's own "
                        "number; else 10,000)")
    parser.add_argument("--threads", type=int, help="NEST threads (default: the network's)")
    parser.add_argument("--causes", action="store_true", help="also the time step alone and "
                        "the held weights alone")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", help="write the results as JSON into this file")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if (args.run_dir is None) == (args.pretrained is None):
        parser.error("give a run directory or --pretrained NAME")
    if args.pretrained:
        network = pretrained.load(args.pretrained)
        ckpt, labels = network.checkpoint, network.labels
        n_label = args.label_examples or network.manifest["labels"]["examples"]
        if args.label_examples and args.label_examples != network.manifest["labels"]["examples"]:
            labels = None     # labelled anew on the number asked for
    else:
        ckpt, labels, n_label = checkpoint.load(args.run_dir), None, args.label_examples or 10000
    result = measure(ckpt, labels, n_label, args.examples, args.threads, args.causes,
                     args.data_dir, not args.quiet)
    print(table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
