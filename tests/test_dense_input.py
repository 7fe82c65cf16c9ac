"""The input synapses kept beside the cells (``simulation.input_delivery = dense``, the NEST
module's ``DenseInput``) run the same network as one NEST connection per synapse
(``events``): the same spikes, theta and weights, in training and in testing."""
import numpy as np
import pytest

from spiking_mnist.hardware import BackendError
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.rundir import checkpoint
from spiking_mnist.runners.cli import main
from spiking_mnist.runners.session import open_network


def _train(run, delivery: str, *sets: str):
    assert main(["train", "--run-dir", str(run), "--neurons", "20", "--examples", "60",
                 "--quiet", "--set", f"simulation.input_delivery={delivery}",
                 "--set", "training.checkpoint_every=30", *[a for s in sets
                                                          for a in ("--set", s)]]) == 0
    return checkpoint.load(run)


@pytest.mark.parametrize("rule", ["triplet_all_to_all", "triplet_all_to_all post_spike",
                                  "nearest_spike", "power_law", "exponential", "pre_and_post"])
@pytest.mark.parametrize("threads", [1, 2])
def test_training_learns_the_same_network_either_way(tmp_path, rule, threads):
    rule, *potentiation = rule.split()
    sets = (f"stdp.rule={rule}", *(f"stdp.potentiation={p}" for p in potentiation),
            f"simulation.threads={threads}")
    dense, events = (_train(tmp_path / d, d, *sets) for d in ("dense", "events"))
    assert dense.info["spikes"] == events.info["spikes"] > 0
    np.testing.assert_array_equal(dense.theta, events.theta)
    np.testing.assert_allclose(dense.weights, events.weights, rtol=0, atol=1e-12)


def test_potentiation_at_the_postsynaptic_spike_learns_another_network(tmp_path):
    """``stdp.potentiation = post_spike`` reaches the dense layer: normalisation then scales
    weights that hold the last example's potentiation, so the weights differ."""
    at_pre, at_post = (_train(tmp_path / p, "dense", f"stdp.potentiation={p}")
                       for p in ("next_pre_spike", "post_spike"))
    assert np.abs(at_pre.weights - at_post.weights).max() > 1e-4


def _frozen_spikes(params, weights, delays, theta, trains):
    backend, _ = open_network(params, "nest", weights, delays, theta, plastic=False)
    backend.set_input_spikes(trains)
    backend.run(500.0)
    times, index = backend.take_spikes()
    dense = backend._dense is not None
    backend.end()
    order = np.lexsort((index, times))
    return dense, times[order], index[order]


def _network(n_inputs=50, n=10, seed=0):
    params = load_parameters("diehl_cook", None, [f"network.n_excitatory={n}"])
    rng = np.random.default_rng(seed)
    weights = diehl_cook.normalise_columns(rng.uniform(0, 1, (n_inputs, n)), 40.0)
    delays = diehl_cook.input_delays(params, n_inputs, rng)
    trains = [np.unique(np.round(rng.uniform(0, 350, rng.poisson(8)) / 0.5) * 0.5)
              for _ in range(n_inputs)]
    return params, weights, delays, trains


def test_a_frozen_network_answers_the_same_either_way():
    params, weights, delays, trains = _network()
    theta = diehl_cook.Homeostasis(params).theta
    out = {}
    for delivery in ("dense", "events"):
        p = params.with_values({"simulation": {"input_delivery": delivery}}, "the test")
        dense, times, index = _frozen_spikes(p, weights, delays, theta, trains)
        assert dense == (delivery == "dense")
        out[delivery] = (times, index)
    assert len(out["dense"][0]) > 10
    for a, b in zip(out["dense"], out["events"]):
        np.testing.assert_array_equal(a, b)


def test_weights_and_delays_round_trip_by_column():
    params, weights, delays, _ = _network(n_inputs=6, n=5)
    params = params.with_values({"simulation": {"threads": 2}}, "the test")
    backend, _ = open_network(params, "nest", weights, delays,
                              diehl_cook.Homeostasis(params).theta, plastic=True)
    assert backend._dense is not None
    np.testing.assert_array_equal(backend.get_weights(), weights)
    np.testing.assert_array_equal(backend.get_weights([3, 1]), weights[:, [3, 1]])
    backend.set_weights(weights[:, [4]] * 2, [4])
    expected = weights.copy()
    expected[:, 4] *= 2
    np.testing.assert_array_equal(backend.get_weights(), expected)
    backend.normalise_in_place(3.0, [4, 0])
    expected[:, [4, 0]] = diehl_cook.normalise_columns(expected[:, [4, 0]], 3.0)
    np.testing.assert_allclose(backend.get_weights(), expected, rtol=1e-15)
    with pytest.raises(ValueError, match="delays of 1 step"):
        backend.set_delays(np.full(weights.shape, 100.0))   # beyond the longest delay
    backend.end()


def test_a_projection_that_is_not_all_to_all_runs_static_as_events_and_refuses_learning():
    params, weights, delays, trains = _network(n_inputs=8, n=4)
    mask = np.ones(weights.shape, dtype=bool)
    mask[0, 0] = False
    theta = diehl_cook.Homeostasis(params).theta
    backend, _ = open_network(params, "nest", weights * mask, delays, theta, plastic=False,
                              masks={"input_to_exc": mask})
    assert backend._dense is None    # its static connections carry the spikes
    backend.end()
    with pytest.raises(BackendError, match="input_delivery=events"):
        open_network(params, "nest", weights * mask, delays, theta, plastic=True,
                     masks={"input_to_exc": mask})
