"""Show one MNIST digit to an untrained Diehl & Cook network in PyNN and count its spikes.

The network (784 inputs -> N excitatory neurons, each driving an inhibitory neuron that
inhibits all the other excitatory ones) is built from the model description in
``spiking_mnist/models/diehl_cook.toml`` with PyNN's standard types only, here on NEST.
One test image is shown for 350 ms as Poisson spike trains (a pixel of 255 at 63.75 Hz);
the excitatory spikes are recorded with PyNN's ``record`` and read back as Neo data.
An untrained network answers with a few spikes (training shows a digit again, brighter,
when it evokes fewer than ``encoding.min_spikes``). For a trained network, pass a
checkpoint's ``weights``, ``delays`` and ``theta`` to ``build_network``.

Usage: python examples/build_network.py [--neurons N] [--set section.name=value ...]
(e.g. ``--neurons 400 --set simulation.threads=1``; a few seconds at N=100)
"""
import argparse

import numpy as np
import pyNN.nest as sim

import spiking_mnist

# === Parameters ===============================================================

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--neurons", type=int, default=100, help="excitatory neurons (100)")
parser.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                    help="change a parameter of the model description")
args = parser.parse_args()

params = spiking_mnist.load_parameters(
    overrides=[f"network.n_excitatory={args.neurons}", *args.set])
test = spiking_mnist.load_mnist("test")
image, label = test.images[0], test.labels[0]        # a 28 x 28 uint8 picture of a 7

# === Configure the simulator ==================================================

sim.setup(timestep=params.simulation.timestep,         # 0.5 ms, as D&C
          min_delay=params.simulation.timestep,        # show_digit's inputs start 1 step on
          max_delay=params.input_to_exc.delay_max,     # input delays are up to 10 ms
          threads=params.simulation.threads, rng_seed=params.simulation.seed)

# === Build the network ========================================================

# D&C's random initial weights and delays, frozen (no STDP): what training starts from
network = spiking_mnist.build_network(sim, params)
network.excitatory.record("spikes")
print(f"built {network.inputs.size} inputs -> {network.excitatory.size} excitatory "
      f"<-> {network.inhibitory.size} inhibitory neurons, "
      f"{network.input_to_exc.size():,} input synapses")

# === Run the simulation =======================================================

spiking_mnist.show_digit(sim, network, image, params, seed=params.simulation.seed)
sim.run(params.encoding.presentation)

# === Results ==================================================================

spiketrains = network.excitatory.get_data("spikes").segments[0].spiketrains
counts = np.array([len(train) for train in spiketrains])
print(f"digit {label} shown for {params.encoding.presentation:g} ms: "
      f"{counts.sum()} excitatory spikes from {np.count_nonzero(counts)} neurons")
print("most active neurons:")
for neuron in np.argsort(-counts, kind="stable")[:min(10, np.count_nonzero(counts))]:
    print(f"  neuron {neuron:4d}: {counts[neuron]:3d} spikes")

sim.end()
