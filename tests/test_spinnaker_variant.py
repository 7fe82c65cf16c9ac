"""The SpiNNaker variant (spiking_mnist/models/variants/spinnaker.toml) is a network NEST runs too, and its
larger unit conductance, chosen for the board's fixed point, changes nothing but units."""
from pathlib import Path

import numpy as np

from spiking_mnist.inputs.encoding import poisson_spike_times, rates_hz, spike_rng
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.runners.session import open_network

VARIANT = Path(__file__).resolve().parents[1] / "spiking_mnist" / "models" / "variants" / "spinnaker.toml"


def one_showing_on_nest(overrides: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Excitatory spike counts and weights after one 500 ms showing of a random image."""
    params = load_parameters("diehl_cook", VARIANT, ["network.n_excitatory=10",
                                                     "simulation.threads=1", *overrides])
    rng = np.random.default_rng(2)
    weights = diehl_cook.normalise_columns(diehl_cook.initial_weights(params, 784, rng), 78.0)
    backend, _ = open_network(params, "nest", weights,
                              diehl_cook.input_delays(params, 784, rng),
                              diehl_cook.Homeostasis(params).theta, plastic=True)
    image = rng.integers(0, 256, 784).astype(np.uint8)
    backend.set_input_spikes(poisson_spike_times(rates_hz(image, 31.875, 2), 350.0,
                                                 params.simulation.timestep,
                                                 spike_rng(1, "train", 0, 0)))
    backend.run(500.0)
    counts = np.bincount(backend.take_spikes()[1], minlength=params.network.n_excitatory)
    learnt = backend.get_weights()
    backend.end()
    return counts, learnt - weights


def test_nest_runs_the_variant_and_its_unit_conductance_changes_nothing():
    counts, change = one_showing_on_nest([])
    assert counts.sum() > 0 and np.abs(change).max() > 0  # it fires and learns
    counts_1nS, change_1nS = one_showing_on_nest(["network.unit_conductance=1.0"])
    np.testing.assert_array_equal(counts, counts_1nS)
    np.testing.assert_allclose(change, change_1nS, atol=1e-9)
