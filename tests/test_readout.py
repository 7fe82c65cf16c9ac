"""The linear readout of the patch hierarchy's codes."""
import numpy as np

from spiking_mnist.models import readout


def test_each_layer_is_read_in_units_of_its_own_full_scale_from_training_counts():
    train = {1: np.array([[0, 10], [4, 0]]), 2: np.array([[2, 0], [0, 0]])}
    scored = {1: np.array([[5, 20]]), 2: np.array([[1, 3]])}
    scales = readout.full_scales(train, quantile=1.0)
    assert scales == {1: 10.0, 2: 2.0}
    features = readout.in_full_scale(scored, scales)
    assert np.allclose(features, [[0.5, 2.0, 0.5, 1.5]])


def test_standardising_weighs_a_rarely_active_count_as_much_as_a_busy_one():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    busy = 20.0 + 10.0 * labels + rng.normal(0, 6, 400)          # informative, always active
    rare = (rng.random(400) < 0.02) * rng.integers(1, 3, 400)     # noise, seldom non-zero
    counts = np.column_stack([busy, rare]).astype(float)
    full_scale = readout.linear(counts / 30.0, labels, 1.0)
    standardised = readout.linear(counts, labels, 1.0, standardise=True)
    plain = full_scale.coef_[0]
    rescaled = standardised[-1].coef_[0] / standardised[0].scale_
    assert abs(plain[1] / plain[0]) < 0.1 * abs(rescaled[1] / rescaled[0])
