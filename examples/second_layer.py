"""D&C's network with a second excitatory layer: inputs -> excitatory (learns, D&C's STDP)
<-> inhibitory, and excitatory -> layer2, a second excitatory layer driven through static
random connections.

A network module (docs/your-own-network.md), written out in PyNN: the package trains,
checkpoints, resumes, records, analyses, labels, evaluates and maps it on SpiNNaker. The
first layer is the one that learns and is labelled (the roles inputs, excitatory and
input_to_exc); layer2 is built, run and mapped with it.

Usage: spiking-mnist train --model examples/second_layer.py --run-dir runs/two
       spiking-mnist evaluate runs/two --model examples/second_layer.py
"""
import numpy as np

from spiking_mnist.models.diehl_cook import cell_parameters, cell_type, synaptic_unit
from spiking_mnist.models.network import Network
from spiking_mnist.models.parameters import ConfigError

# === Parameters ===
# D&C's parameters, and the [layer2] section of this file (value, unit, meaning each)
PARAMETERS = "second_layer.toml"


def validate(params):
    if params.layer2.delay < params.simulation.timestep:
        raise ConfigError(f"layer2.delay = {params.layer2.delay} ms is shorter than the time "
                          f"step {params.simulation.timestep} ms")


def max_delay(params):
    return params.layer2.delay


# === Build the network ===
def build(sim, params, n_inputs, learning_synapse, connectors=None, cell_types=None):
    """The populations and projections, by name; ``connectors`` and ``cell_types`` are
    what a backend replaces (SpiNNaker: the input weights in a list; NEST: its cells)."""
    connectors, own = connectors or {}, cell_types or {}
    cell = own.get(cell_type(sim, params).__name__, cell_type(sim, params))
    source = own.get("SpikeSourceArray", sim.SpikeSourceArray)
    n, p2 = params.network.n_excitatory, params.layer2

    def neurons(size, role, label):
        return sim.Population(size, cell(**cell_parameters(params, role)),
                              initial_values={"v": getattr(params, role).v_init}, label=label)

    def static(weight, onto, receptor, delay):
        return sim.StaticSynapse(weight=weight * synaptic_unit(params, onto, receptor),
                                 delay=delay)

    inputs = sim.Population(n_inputs, source(spike_times=[]), label="inputs")
    excitatory = neurons(n, "excitatory", "excitatory")
    inhibitory = neurons(n, "inhibitory", "inhibitory")
    layer2 = neurons(p2.n_excitatory, "excitatory", "layer2")

    input_to_exc = sim.Projection(
        inputs, excitatory, connectors.get("input_to_exc", sim.AllToAllConnector()),
        learning_synapse, receptor_type="excitatory", label="input_to_exc")
    exc_to_inh = sim.Projection(
        excitatory, inhibitory, sim.OneToOneConnector(),
        static(params.exc_to_inh.weight, "inhibitory", "excitatory", params.exc_to_inh.delay),
        receptor_type="excitatory", label="exc_to_inh")
    inh_to_exc = sim.Projection(
        inhibitory, excitatory, sim.AllToAllConnector(allow_self_connections=False),
        static(params.inh_to_exc.weight, "excitatory", "inhibitory", params.inh_to_exc.delay),
        receptor_type="inhibitory", label="inh_to_exc")
    # the random pairs drawn here, the same on every backend (sPyNNaker takes no rng)
    drawn = np.random.default_rng(p2.seed).random((n, p2.n_excitatory))
    exc_to_layer2 = sim.Projection(
        excitatory, layer2, sim.FromListConnector(
            np.argwhere(drawn < p2.connection_probability)),
        static(p2.weight, "excitatory", "excitatory", p2.delay),
        receptor_type="excitatory", label="exc_to_layer2")
    return Network(inputs=inputs, excitatory=excitatory, inhibitory=inhibitory,
                   layer2=layer2, input_to_exc=input_to_exc, exc_to_inh=exc_to_inh,
                   inh_to_exc=inh_to_exc, exc_to_layer2=exc_to_layer2)
