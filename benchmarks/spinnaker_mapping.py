"""Mapping time and machine resources of the SpiNNaker variant on sPyNNaker's virtual board.

For each N, the training network (STDP on) is built from ``spiking_mnist/models/`` with the SpiNNaker
variant's parameters and a chunk of MNIST training examples as one input schedule, then
mapped: ``run`` on a virtual board places, routes and generates every core's data, and
nothing executes. With ``--hierarchy``, the frozen copies of each layer of the patch
hierarchy (``spiking_mnist/models/patches.toml`` under the variant's constraints) are mapped the same way:
layer 1 on padded MNIST images, layers 2 and 3 on made-up codes (a fifth of the inputs
active), with kernels drawn in D&C's initial weight range (what is mapped does not depend on
learnt values), then layer 1 again with the spiking readout's hidden and output cells. Prints a
Markdown table; run it with no other heavy job on the machine:

    python benchmarks/spinnaker_mapping.py --neurons 100 400 1600 --examples 100
    python benchmarks/spinnaker_mapping.py --neurons --hierarchy --examples 100

Writes ``~/.spynnaker.cfg`` for a virtual board only if there is no configuration (an
existing one must configure a virtual board); sPyNNaker's reports go to ``./reports``.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

from spiking_mnist.hardware import configure_machine
from spiking_mnist.inputs import mnist
from spiking_mnist.inputs.encoding import schedule_spike_times, poisson_spike_times, rates_hz, \
    spike_rng
from spiking_mnist.models import diehl_cook, output_layer, patches
from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.runners.session import open_network

VARIANT = Path(__file__).resolve().parents[1] / "spiking_mnist" / "models" / "variants" / "spinnaker.toml"


def chunk_of_examples(params, images: np.ndarray) -> list[np.ndarray]:
    """First showings of ``images`` as one schedule, a showing every presentation + rest."""
    enc, dt = params.encoding, params.simulation.timestep
    showings = [poisson_spike_times(rates_hz(img, enc.rate_per_intensity,
                                             enc.initial_intensity),
                                    enc.presentation, dt, spike_rng(params.simulation.seed,
                                                                    "train", k, 0))
                for k, img in enumerate(images)]
    return schedule_spike_times(showings, enc.presentation + enc.rest)


def measure(n: int, images: np.ndarray) -> dict:
    """Build and map the variant with ``n`` excitatory neurons on one chunk of ``images``."""
    params = load_parameters("diehl_cook", VARIANT, [f"network.n_excitatory={n}"])
    rng = np.random.default_rng(params.simulation.seed)
    weights = diehl_cook.normalise_columns(
        diehl_cook.initial_weights(params, images.shape[1], rng),
        params.normalisation.column_sum)
    delays = diehl_cook.input_delays(params, images.shape[1], rng)
    return mapped(params, images, weights, delays, plastic=True, masks=None) | {"n": f"N={n}"}


def measure_layer(layer: int, images: np.ndarray, output: bool = False) -> dict:
    """Build and map the frozen copies of hierarchy layer ``layer`` on one chunk of inputs
    (``images`` padded for layer 1, made-up codes above); with ``output`` (layer 1) the
    spiking readout's output cells too, every weight non-zero as a learnt readout's are."""
    hierarchy = load_parameters(patches.MODEL)
    params = patches.layer_parameters(hierarchy, layer, coding=True).with_values(
        tomllib.loads(VARIANT.read_text()), VARIANT.name)
    receptive = patches.receptive_inputs(hierarchy, layer)
    n_inputs = patches.layer_inputs(hierarchy, layer)
    rng = np.random.default_rng(params.simulation.seed)
    fan_in, k = receptive.shape[1], getattr(hierarchy, f"layer{layer}").n_excitatory
    p = params.input_to_exc
    kernel = rng.uniform(p.weight_min, p.weight_max, (fan_in, k))
    delays = diehl_cook.input_delays(params, fan_in, rng)[:, :k]
    if layer == 1:
        inputs = patches.image_inputs(hierarchy, images.reshape(-1, 28, 28))
    else:
        inputs = rng.integers(0, 256, (len(images), n_inputs)) \
            * (rng.random((len(images), n_inputs)) < 0.2)
    extend = None
    if output:
        coded = patches.code_size(hierarchy, layer)
        outputs = {m: output_layer.OutputWeights(rng.normal(0.0, 0.05, (coded, 10)),
                                                 rng.uniform(-20.0, 60.0, 10))
                   for m in output_layer.METHODS}
        cells = hierarchy.output.hidden_cells
        outputs["hidden"] = output_layer.OutputWeights(
            rng.normal(0.0, 0.3, (cells, 10)), rng.uniform(-20.0, 60.0, 10),
            output_layer.OutputWeights(rng.normal(0.0, 0.5, (coded, cells)),
                                       rng.uniform(0.0, 30.0, cells)))

        def extend(sim, network):
            return output_layer.build(sim, hierarchy, network, outputs)
    out = mapped(params, inputs, patches.copied(kernel, receptive, n_inputs),
                 patches.copied(delays, receptive, n_inputs), plastic=False,
                 masks=patches.coding_masks(receptive, n_inputs, k, params.network.inhibitory),
                 extend=extend)
    cells = f" + {hierarchy.output.hidden_cells} hidden and " \
        f"{10 * len(output_layer.METHODS)} output cells" if output else ""
    return out | {"n": f"hierarchy layer {layer}: {len(receptive)} x {k}{cells}"}


def mapped(params, inputs: np.ndarray, weights, delays, plastic: bool, masks,
           extend=None) -> dict:
    """Build the network of ``params`` with its state and a chunk of ``inputs`` (and what
    ``extend`` adds to it); map it."""
    began = time.perf_counter()
    backend, _ = open_network(params, "spinnaker", weights, delays,
                              diehl_cook.Homeostasis(params).theta, plastic=plastic,
                              masks=masks, extend=extend)
    chunk = chunk_of_examples(params, inputs)
    backend.set_input_spikes(chunk)
    prepared = time.perf_counter()
    backend.run(len(inputs) * (params.encoding.presentation + params.encoding.rest))
    done = time.perf_counter()
    backend.end()
    return {"spikes": sum(t.size for t in chunk), "build_s": prepared - began,
            "map_s": backend.mapping_seconds, "total_s": done - began,
            "resources": backend.resources}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--neurons", type=int, nargs="*", default=[100, 400, 1600],
                        help="sizes of the D&C network mapped (none: only --hierarchy)")
    parser.add_argument("--hierarchy", action="store_true",
                        help="also map the frozen layers of the patch hierarchy")
    parser.add_argument("--examples", type=int, default=100,
                        help="training examples in the chunk mapped (default: 100)")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    print(configure_machine("spinnaker", "virtual"), file=sys.stderr)
    images = mnist.load("train", args.data_dir).images[:args.examples]
    images = images.reshape(len(images), -1)
    print(f"| network | input spikes ({args.examples} examples) | preflight + build + schedule (s) | "
          "map + generate data (s) | boards | chips | cores (+ sPyNNaker's) | SDRAM (MiB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    measured = (measure(n, images) for n in args.neurons)
    if args.hierarchy:
        measured = itertools.chain(measured, (measure_layer(layer, images)
                                              for layer in patches.LAYERS),
                                   [measure_layer(1, images, output=True)])
    for m in measured:
        r = m["resources"]
        print(f"| {m['n']} | {m['spikes']:,} | {m['build_s']:.1f} | {m['map_s']:.1f} | "
              f"{r.boards} | {r.chips} | {r.cores} (+{r.system_cores}) | "
              f"{r.sdram_bytes / 2**20:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
