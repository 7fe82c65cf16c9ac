"""Map the Diehl & Cook training network on a virtual SpiNNaker board; print its resources.

The SpiNNaker variant of the parameters (``spiking_mnist/models/variants/spinnaker.toml``:
1 ms time step, a larger conductance unit so STDP steps survive fixed point) builds the
same network as on NEST with ``pyNN.spiNNaker``: STDP on the input synapses, a few digits
as one input schedule. On a virtual board sPyNNaker places, routes and generates every
core's data, and nothing executes (so there are no spikes to read).

Writes ``~/.spynnaker.cfg`` for a virtual board if there is no sPyNNaker configuration
(an existing one must configure a virtual board); sPyNNaker's reports go to ``./reports``.

Usage: python examples/map_on_spinnaker.py [--neurons 100] [--examples 10]  (~30 s)
"""
import argparse

import numpy as np

import spiking_mnist
from spiking_mnist.hardware import configure_machine
from spiking_mnist.inputs import encoding
from spiking_mnist.models import diehl_cook
from spiking_mnist.runners.session import open_network

# === Parameters ===============================================================

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--neurons", type=int, default=100, help="excitatory neurons (100)")
parser.add_argument("--examples", type=int, default=10, help="digits in the input (10)")
args = parser.parse_args()

params = spiking_mnist.load_parameters(
    config="spinnaker", overrides=[f"network.n_excitatory={args.neurons}"])
images = spiking_mnist.load_mnist("train").images[:args.examples]
enc, period = params.encoding, params.encoding.presentation + params.encoding.rest

# === Configure the simulator ==================================================

print(configure_machine("spinnaker", "virtual", None, 5))

# === Build the network ========================================================

rng = np.random.default_rng(params.simulation.seed)         # D&C's initial state
weights = diehl_cook.normalise_columns(diehl_cook.initial_weights(params, 784, rng),
                                       params.normalisation.column_sum)
delays = diehl_cook.input_delays(params, 784, rng)
backend, network = open_network(params, "spinnaker", weights, delays,
                                diehl_cook.Homeostasis(params).theta, plastic=True)
showings = [encoding.poisson_spike_times(
    encoding.rates_hz(image, enc.rate_per_intensity, enc.initial_intensity),
    enc.presentation, params.simulation.timestep, np.random.default_rng(k))
    for k, image in enumerate(images)]
schedule = encoding.schedule_spike_times(showings, period)   # one after the other
backend.set_input_spikes(schedule)
print(f"{backend.sim.__name__}: {network.inputs.size} inputs -> {args.neurons} excitatory "
      f"<-> {network.inhibitory.size} inhibitory, {len(images)} digits, "
      f"{sum(t.size for t in schedule):,} input spikes")

# === Run the simulation (map only) ============================================

backend.run(len(images) * period)

# === Results ==================================================================

used = backend.resources
print(f"mapped in {backend.mapping_seconds:.1f} s")
print(f"boards: {used.boards}")
print(f"chips: {used.chips}")
print(f"cores: {used.cores} (+{used.system_cores} sPyNNaker system cores)")
print(f"SDRAM: {used.sdram_bytes / 2**20:.1f} MiB")
backend.end()
