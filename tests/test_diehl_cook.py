"""The simulator-free parts of the Diehl & Cook model: weights, homeostasis, labels."""
import numpy as np

from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_parameters


def params(*overrides):
    return load_parameters("diehl_cook", None, list(overrides))


def test_normalised_columns_sum_to_target():
    w = np.random.default_rng(0).uniform(0, 1, (784, 37))
    w[:, 5] = 0.0  # a silent column stays silent instead of dividing by zero
    out = diehl_cook.normalise_columns(w, 78.0)
    sums = out.sum(axis=0)
    np.testing.assert_allclose(np.delete(sums, 5), 78.0)
    assert sums[5] == 0.0
    np.testing.assert_allclose(out[:, 0] / w[:, 0], out[0, 0] / w[0, 0])  # a pure scaling


def test_initial_weights_and_delays():
    p = params("network.n_excitatory=50")
    rng = np.random.default_rng(1)
    w = diehl_cook.initial_weights(p, 784, rng)
    d = diehl_cook.input_delays(p, 784, rng)
    assert w.shape == d.shape == (784, 50)
    assert 0.003 <= w.min() and w.max() <= 0.303 and abs(w.mean() - 0.153) < 0.005
    assert d.min() == 0.5 and d.max() == 10.0
    np.testing.assert_allclose(d / 0.5, np.round(d / 0.5))


def test_cell_parameters_make_unit_leak_conductance():
    p = params()
    for role in ("excitatory", "inhibitory"):
        cell = diehl_cook.cell_parameters(p, role)
        assert np.isclose(cell["cm"] / cell["tau_m"], 0.001)  # g_L = 1 nS in uS
    assert np.isclose(17.0 * diehl_cook.synaptic_unit(p, "excitatory", "inhibitory"), 0.017)


def test_current_synapses_carry_the_conductance_charge_at_v_synaptic():
    p = params("network.synapses=current")
    # inhibition onto an excitatory cell: 1 nS * (-100 - -55) mV = -45 pA
    assert np.isclose(diehl_cook.synaptic_unit(p, "excitatory", "inhibitory"), -0.045)
    assert np.isclose(diehl_cook.synaptic_unit(p, "inhibitory", "excitatory"), 0.050)
    assert "e_rev_E" not in diehl_cook.cell_parameters(p, "excitatory")


def test_homeostasis_rises_per_spike_and_decays():
    p = params("network.n_excitatory=3")
    h = diehl_cook.Homeostasis(p)
    np.testing.assert_allclose(h.thresholds(), -52.0)
    h.update(np.array([0, 2, 10]), elapsed=500.0)
    decay = np.exp(-500.0 / 1e7)
    np.testing.assert_allclose(h.theta, 20.0 * decay + np.array([0, 0.1, 0.5]))
    assert h.thresholds()[2] > h.thresholds()[1] > h.thresholds()[0]


def test_labels_and_votes_on_synthetic_responses():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(10), 20)
    preferred = np.arange(30) % 10          # neuron j answers class j % 10
    responses = rng.poisson(0.3, (200, 30))
    responses += 5 * (labels[:, None] == preferred[None, :])
    responses[:, 29] = 0                    # never fires: unlabelled
    assigned = diehl_cook.assign_labels(responses, labels)
    np.testing.assert_array_equal(assigned[:29], preferred[:29])
    assert assigned[29] == -1
    predicted = diehl_cook.predict(responses, assigned)
    assert (predicted == labels).mean() > 0.95


def test_the_likelihood_readout_weighs_neurons_that_tell_classes_apart_the_vote_ignores():
    """Neuron A fires 10 spikes for 0s and 6 for 1s (labelled 0), neuron B 2 for 1s and none
    for 0s (labelled 1). A 1 (A: 6, B: 2) goes to 0 by D&C's vote, A's group being the most
    active, and to 1 by the Poisson likelihood, which matches both means."""
    labels = np.array([0, 0, 1, 1])
    responses = np.array([[10, 0], [10, 0], [6, 2], [6, 2]])
    rates = diehl_cook.class_rates(responses, labels)
    np.testing.assert_array_equal(rates[:2], [[10, 0], [6, 2]])
    assert not rates[2:].any()                       # classes without examples
    one = np.array([[6, 2]])
    assert diehl_cook.predict(one, diehl_cook.assign_labels(responses, labels))[0] == 0
    # class 1: 6 log 6 - 6 + 2 log 2 - 2 = 4.1; class 0: 6 log 10 - 10 + 2 log 0.001 = -10.0
    assert diehl_cook.predict_likelihood(one, rates)[0] == 1
    np.testing.assert_array_equal(diehl_cook.predict_likelihood(responses, rates), labels)
