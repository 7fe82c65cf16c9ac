"""The spiking output layer's weights, without a simulator: the linear readout mapped onto
signed synapses keeps its decision in the rate approximation, surrogate-gradient training
learns separable counts, the hidden cells' rate approximation and their training, and the
units of the mapping."""
import numpy as np
import pytest

from spiking_mnist.models import hidden_training, output_layer, output_training, readout
from spiking_mnist.models.parameters import load_parameters


def separable_counts(n: int, inputs: int = 120, seed: int = 0):
    """Poisson spike counts around one sparse prototype per digit (the same for every
    ``seed``), and the digits."""
    prototypes = np.random.default_rng(0).gamma(0.3, 3.0, (10, inputs))
    rng = np.random.default_rng(seed + 1)
    labels = rng.integers(0, 10, n)
    return rng.poisson(prototypes[labels]).astype(float), labels


@pytest.fixture(scope="module")
def params():
    return load_parameters("patches")


@pytest.mark.parametrize("standardise", [False, True])
def test_the_signed_split_keeps_the_linear_readouts_decision_in_the_rate_approximation(
        params, standardise):
    train, labels = separable_counts(600)
    test, _ = separable_counts(300, seed=1)
    full_scale = 7.0
    model = readout.linear(train / full_scale, labels, 1.0, standardise=standardise)
    coef, intercept = readout.per_count(model, full_scale)
    np.testing.assert_allclose(test @ coef.T + intercept,
                               model.decision_function(test / full_scale), atol=1e-9)
    mapped = output_layer.from_linear(coef, intercept, train, params)
    excitatory, inhibitory = output_layer.split(mapped.weights)
    assert (excitatory >= 0).all() and (inhibitory >= 0).all()
    assert not (excitatory * inhibitory).any()            # a pair is one or the other
    np.testing.assert_array_equal(excitatory - inhibitory, mapped.weights)
    drive = output_layer.integrated_drive(test, mapped, params.encoding.presentation)
    assert (output_layer.predict(drive) == model.predict(test / full_scale)).all()
    # the drive is the logit times the gain, less one offset shared by every cell
    gain = params.output.linear_thresholds_per_logit
    offset = drive - gain * model.decision_function(test / full_scale)
    np.testing.assert_allclose(offset, offset[:, :1].repeat(10, axis=1), atol=1e-9)


def test_the_linear_mapping_lifts_the_winner_of_most_training_images_above_rheobase(params):
    train, labels = separable_counts(600)
    model = readout.linear(train, labels, 1.0)
    mapped = output_layer.from_linear(*readout.per_count(model, 1.0), train, params)
    largest = output_layer.integrated_drive(train, mapped, params.encoding.presentation) \
        .max(axis=1)
    needed = params.encoding.presentation / params.output.tau_m
    assert np.mean(largest < needed) == pytest.approx(params.output.linear_silent, abs=0.005)
    # and the leaky cells simulated in discrete time answer as the readout on most images
    fired = output_training.simulate(train, mapped, params)
    assert np.mean(output_layer.predict(fired) == model.predict(train)) > 0.95


def test_surrogate_gradients_learn_separable_counts(params):
    train, labels = separable_counts(500)
    test, test_labels = separable_counts(300, seed=1)
    quick = params.with_values({"output": {"surrogate_epochs": 8}}, "test")
    learnt, losses = output_training.train(train, labels, quick)
    assert losses[-1] < 0.5 * losses[0]
    counts = output_training.simulate(test, learnt, quick)
    assert np.mean(output_layer.predict(counts) == test_labels) > 0.9
    # the digit's cell fires near the target; with the input's fluctuations too
    target = quick.output.surrogate_target_rate * quick.encoding.presentation / 1000
    assert np.median(counts[np.arange(len(test)), test_labels]) > 0.5 * target
    noisy = output_training.simulate(test, learnt, quick, np.random.default_rng(2))
    assert np.mean(output_layer.predict(noisy) == test_labels) > 0.85


def test_surrogate_training_is_reproducible_for_a_seed(params):
    train, labels = separable_counts(100)
    quick = params.with_values({"output": {"surrogate_epochs": 2}}, "test")
    first, _ = output_training.train(train, labels, quick)
    again, _ = output_training.train(train, labels, quick)
    other, _ = output_training.train(train, labels, quick, seed=7)
    np.testing.assert_array_equal(first.weights, again.weights)
    assert not np.array_equal(first.weights, other.weights)


def test_a_weight_of_one_carries_one_thresholds_charge_and_the_bias_its_rate(params):
    o = params.output
    threshold = o.v_thresh - o.v_rest
    assert output_layer.threshold(params) == threshold
    # an exponential current of peak I (nA) and decay tau_syn (ms) carries I tau_syn (pC)
    assert output_layer.synaptic_current(params) * o.tau_syn / o.cm == pytest.approx(threshold)
    # a leak-free cell charged by i_offset reaches threshold 50 times a second
    current = output_layer.bias_current(params, np.array([50.0]))[0]
    assert threshold * o.cm / current == pytest.approx(20.0)          # ms per spike
    cell = output_layer.cell_parameters(params, np.full(10, 50.0))
    assert cell["v_reset"] == o.v_rest and len(cell["i_offset"]) == 10


def test_the_connection_lists_hold_the_non_zero_weights_of_each_method():
    weights = np.array([[0.5, 0.0], [0.0, -0.25]])
    positive, negative = output_layer.split(weights)
    rows = output_layer.connection_list(positive, 2.0, 1.0, first_output=10)
    np.testing.assert_array_equal(rows, [[0, 10, 1.0, 1.0]])
    rows = output_layer.connection_list(negative, -2.0, 1.0)
    np.testing.assert_array_equal(rows, [[1, 1, -0.5, 1.0]])
    outputs = {m: output_layer.OutputWeights(weights, np.zeros(2))
               for m in output_layer.METHODS}
    assert output_layer.synapse_count(outputs) == 2 * len(output_layer.METHODS)
    rows = output_layer.connection_list(positive, 2.0, 1.0, first_output=10, first_input=3)
    np.testing.assert_array_equal(rows, [[3, 10, 1.0, 1.0]])
    # through 3 hidden cells: their synapses count too
    outputs["hidden"] = output_layer.OutputWeights(np.ones((3, 2)), np.zeros(2),
                                                   output_layer.OutputWeights(
                                                       np.eye(2, 3), np.zeros(3)))
    assert output_layer.synapse_count(outputs) == 2 * 2 + 6 + 2


def test_the_largest_input_a_step_brings_sums_the_weights_of_the_neurons_that_spiked(params):
    """A coding neuron spikes at most once a step, so a step brings at most the weights of
    the neurons active in an image: per receptor, the largest over images and cells of both
    ways, in nA."""
    weights = np.array([[0.5, -0.25], [0.25, -1.0], [2.0, 0.0]])
    fire = output_layer.firing_drive(params)
    # two hidden cells: the first fires on image 0 only (a drive of 3 x fire), the second
    # never (its drive stays below fire)
    hidden = output_layer.OutputWeights(np.array([[fire, 0.1], [0.0, 0.1], [0.0, 0.0]]),
                                        np.zeros(2))
    outputs = {"linear": output_layer.OutputWeights(weights, np.zeros(2)),
               "surrogate": output_layer.OutputWeights(-0.5 * weights, np.zeros(2)),
               "hidden": output_layer.OutputWeights(np.array([[0.5, -3.0], [9.0, -9.0]]),
                                                    np.zeros(2), hidden)}
    counts = np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]])     # the third neuron never spikes
    largest = output_layer.largest_step_input(counts, outputs, params)
    unit = output_layer.synaptic_current(params)
    # output cells: excitatory: linear cell 0 gets 0.5 + 0.25 from image 0; inhibitory: the
    # hidden method's cell 1 gets 3 from the one hidden cell that fires (the linear's get
    # 0.25 + 1.0, the surrogate's half of the opposite parts)
    assert largest["output"] == pytest.approx({"excitatory": 0.75 * unit,
                                               "inhibitory": 3.0 * unit})
    # hidden cells: input neurons 0 and 1 spike together in image 0, hidden cell 0 gets
    # fire from them, cell 1 0.1 + 0.1
    assert largest["hidden"] == pytest.approx({"excitatory": fire * unit,
                                               "inhibitory": 0.0})
    assert output_layer.largest_step_input(np.zeros((0, 3)), outputs, params) == \
        {p: {"excitatory": 0.0, "inhibitory": 0.0} for p in ("output", "hidden")}
    del outputs["hidden"]
    outputs["hidden"] = outputs["linear"]
    assert set(output_layer.largest_step_input(counts, outputs, params)) == {"output"}


def test_the_rate_approximation_counts_the_spikes_of_a_cell_under_a_constant_current(params):
    """:func:`cell_counts` against the cells simulated in discrete time (the inputs' mean
    current, no fluctuation): silent below the drive that fires a leaky cell, then within
    the time step's quantisation of the simulated count (whole steps per spike: within 2.5
    spikes below 85 Hz, 15 % above) and, averaged over drives, within a spike."""
    fire = output_layer.firing_drive(params)
    drives = np.linspace(0.2, 8.0, 400) * fire
    # one input spike of weight d carries d thresholds over the presentation
    simulated = output_training.simulate(np.ones((1, 1)), output_layer.OutputWeights(
        drives[None, :], np.zeros(len(drives))), params)[0]
    approx, slope = output_layer.cell_counts(drives, params)
    assert (approx[drives < fire] == 0).all() and (simulated[drives < 0.95 * fire] == 0).all()
    assert simulated.max() > 80                                   # 250 Hz
    slow = simulated < 30
    np.testing.assert_allclose(approx[slow], simulated[slow], atol=2.5)
    np.testing.assert_allclose(approx[~slow], simulated[~slow], rtol=0.15)
    for band in (slow, ~slow):
        assert abs((approx - simulated)[band].mean()) < 1.0
    # its slope is the derivative; smoothed, it is positive below the threshold too
    step = 1e-6 * fire
    numeric = (output_layer.cell_counts(drives + step, params)[0] - approx) / step
    firing = drives > 1.05 * fire
    np.testing.assert_allclose(slope[firing], numeric[firing], rtol=1e-3)
    smooth, smooth_slope = output_layer.cell_counts(drives, params, smoothing=0.05)
    assert (smooth_slope > 0).all() and (smooth >= approx - 1e-9).all()


def test_hidden_cells_learn_separable_counts_and_spike_as_their_rate_approximation(params):
    """Trained as rate units, 40 hidden cells and their output cells classify held-out
    counts; the cells simulated in discrete time with the inputs' fluctuations answer as
    the rate approximation on most images."""
    train, labels = separable_counts(500)
    test, test_labels = separable_counts(300, seed=1)
    quick = params.with_values({"output": {"hidden_cells": 40, "hidden_epochs": 30}}, "test")
    learnt, losses = hidden_training.train(train, labels, 7.0, quick)
    assert learnt.hidden.weights.shape == (120, 40) and learnt.weights.shape == (40, 10)
    assert losses[-1] < 0.5 * losses[0]
    offline = output_layer.predict(output_layer.rate_drive(test, learnt, quick))
    assert np.mean(offline == test_labels) > 0.9
    rng = np.random.default_rng(3)
    hidden = output_training.simulate(test, learnt.hidden, quick, rng)
    spiking = output_layer.predict(output_training.simulate(hidden, learnt, quick, rng))
    assert np.mean(spiking == offline) > 0.9
    again, _ = hidden_training.train(train, labels, 7.0, quick)
    np.testing.assert_array_equal(again.hidden.weights, learnt.hidden.weights)


def test_output_weights_with_hidden_cells_are_stored_as_named_arrays():
    rng = np.random.default_rng(0)
    plain = output_layer.OutputWeights(rng.normal(size=(4, 10)), rng.normal(size=10))
    assert set(plain.arrays()) == {"weights", "bias"}
    deep = output_layer.OutputWeights(plain.weights, plain.bias, output_layer.OutputWeights(
        rng.normal(size=(6, 4)), rng.normal(size=4)))
    back = output_layer.OutputWeights.from_arrays(deep.arrays())
    np.testing.assert_array_equal(back.hidden.weights, deep.hidden.weights)
    np.testing.assert_array_equal(back.bias, deep.bias)
    assert output_layer.OutputWeights.from_arrays(plain.arrays()).hidden is None
