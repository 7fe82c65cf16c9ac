"""D&C's learning rules on SpiNNaker: the board runs the triplet rule and, of the
presynaptic-trace rules, power_law and pre_and_post with mu = 1 and x_tar = 0 (sPyNNaker's
SpikePairRule with MultiplicativeWeightDependence, mapped on split cores); everything else is
refused before anything is built, naming what sPyNNaker lacks."""
import numpy as np
import pytest

pytest.importorskip("spynnaker", reason="sPyNNaker is not installed (pip install '.[spinnaker]')")

from spiking_mnist.hardware import BackendError, backend_class  # noqa: E402
from spiking_mnist.hardware.spinnaker import stdp_rounding, unmapped_rule  # noqa: E402
from spiking_mnist.models import diehl_cook  # noqa: E402
from spiking_mnist.models.parameters import ConfigError, load_parameters  # noqa: E402
from spiking_mnist.runners.session import open_network  # noqa: E402
from test_spinnaker import VARIANT, virtual_board  # noqa: E402,F401

#: the multiplicative pair rule: mu = 1, no target trace, rates the S16.15 grid holds
PAIR = ["stdp.mu=1", "stdp.x_tar=0", "stdp.nu_pre=0.001"]


def _params(rule, *more):
    return load_parameters("diehl_cook", VARIANT, [f"stdp.rule={rule}",
                                                   "network.n_excitatory=5", *more])


@pytest.mark.parametrize("rule, fragment", [
    ("nearest_spike", "SpikeNearestPairRule resets traces to 1 but is a pair rule"),
    ("exponential", "needs an exponential weight dependence, which sPyNNaker lacks"),
    ("power_law", "with mu = 0.2 and x_tar = 0.4 has no sPyNNaker equivalent"),
    ("pre_and_post", "--set stdp.mu=1 --set stdp.x_tar=0 runs pre_and_post as SpikePairRule"),
])
def test_the_preflight_refuses_rules_sPyNNaker_lacks(rule, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        backend_class("spinnaker").check(_params(rule))


@pytest.mark.parametrize("rule", ["triplet_all_to_all", "power_law", "pre_and_post"])
def test_the_preflight_takes_the_rules_it_runs(rule):
    backend_class("spinnaker").check(_params(rule, *PAIR))
    assert unmapped_rule(_params(rule, *PAIR).stdp) is None
    # the exponential weight dependence stays refused whatever its constants
    assert unmapped_rule(_params("exponential", *PAIR).stdp) is not None


def test_a_pair_rule_rate_is_held_unscaled_on_the_grid():
    """A multiplicative rule's A is dimensionless: the unit conductance does not help it."""
    paper = _params("pre_and_post", "stdp.mu=1", "stdp.x_tar=0")
    assert stdp_rounding(paper.stdp, paper.network.unit_conductance) == [
        "stdp.nu_pre = 0.0001 becomes 0.92 times itself"]
    assert stdp_rounding(_params("pre_and_post", *PAIR).stdp, 100.0) == []
    # power_law has no depression: its nu_pre is never used
    assert stdp_rounding(_params("power_law", "stdp.mu=1", "stdp.x_tar=0").stdp, 100.0) == []


def test_pre_and_post_maps_as_a_multiplicative_pair_rule_on_split_cores(virtual_board):
    params = _params("pre_and_post", *PAIR)
    rng = np.random.default_rng(0)
    weights = diehl_cook.normalise_columns(diehl_cook.initial_weights(params, 784, rng), 78.0)
    backend, _ = open_network(params, "spinnaker", weights,
                              diehl_cook.input_delays(params, 784, rng),
                              np.full(5, 20.0), plastic=True)
    backend.set_input_spikes([np.array([2.0])] + [np.zeros(0)] * 783)
    backend.run(10.0)
    dynamics = backend._network.input_to_exc._synapse_information.synapse_dynamics
    assert dynamics.get_vertex_executable_suffix() == "_stdp_mad_pair_multiplicative"
    timing, weight = dynamics.timing_dependence, dynamics.weight_dependence
    assert (timing.A_plus, timing.A_minus) == (params.stdp.nu_post, params.stdp.nu_pre)
    assert (weight.w_min, weight.w_max) == (0.0, pytest.approx(0.1))   # 1 unit = 100 nS
    assert backend.resources.cores > 2   # neuron cores plus the split synapse cores
    backend.end()


def test_a_rate_off_the_grid_is_refused_before_mapping(virtual_board):
    params = _params("pre_and_post", "stdp.mu=1", "stdp.x_tar=0")
    with pytest.raises(BackendError, match="at least 3.1e-4"):
        open_network(params, "spinnaker", np.zeros((784, 5)), np.ones((784, 5)),
                     np.full(5, 20.0), plastic=True)
