"""D&C's network learning with PyNN's standard STDP: SpikePairRule with
MultiplicativeWeightDependence, the rule every PyNN backend and sPyNNaker run.

A network module (docs/your-own-network.md): the package trains it, checkpoints and
resumes it, records, analyses, labels and evaluates it and maps it on SpiNNaker as it does
D&C's own network. Only the learning rule of input -> excitatory differs from D&C's.

Usage: spiking-mnist train --model examples/pair_stdp.py --run-dir runs/pair
       spiking-mnist evaluate runs/pair --model examples/pair_stdp.py
"""
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.network import StandardSTDP
from spiking_mnist.models.parameters import ConfigError

# === Parameters ===
# D&C's parameters, and the [pair_stdp] section of this file (value, unit, meaning each)
PARAMETERS = "pair_stdp.toml"


def validate(params):
    """The initial weights must lie below the rule's w_max."""
    if params.input_to_exc.weight_max > params.pair_stdp.w_max:
        raise ConfigError("input_to_exc.weight_max is above pair_stdp.w_max")


# === The learning rule ===
def learning_rule(params):
    """input -> excitatory learns by PyNN's SpikePairRule, weights multiplicative; each
    backend builds it with its own PyNN module (NEST: stdp_synapse)."""
    p = params.pair_stdp
    return StandardSTDP("SpikePairRule", {"tau_plus": p.tau_plus, "tau_minus": p.tau_minus,
                                          "A_plus": p.A_plus, "A_minus": p.A_minus},
                        "MultiplicativeWeightDependence", {"w_min": 0.0, "w_max": p.w_max})


# === Build the network ===
def build(sim, params, n_inputs, learning_synapse, connectors=None, cell_types=None):
    """D&C's populations and projections (inputs, excitatory, inhibitory; input_to_exc,
    exc_to_inh, inh_to_exc), input_to_exc made with the synapse of learning_rule."""
    return diehl_cook.build(sim, params, n_inputs, learning_synapse,
                            connectors=connectors, cell_types=cell_types)
