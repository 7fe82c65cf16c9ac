"""Poisson rate coding: rates, grid, statistics and reproducibility."""
import numpy as np
import pytest

from spiking_mnist.inputs.encoding import (schedule_spike_times, poisson_spike_times, rates_hz,
                                          spike_rng)


def test_rates_follow_diehl_cook():
    image = np.array([[0, 255], [128, 64]], dtype=np.uint8)
    rates = rates_hz(image, 31.875, 2)
    np.testing.assert_allclose(rates, [0.0, 63.75, 128 / 4, 16.0])


def test_mean_rate_near_target():
    rates = np.full(2000, 63.75)
    times = poisson_spike_times(rates, 350.0, 0.5, spike_rng(1, "train", 0, 0))
    counts = np.array([t.size for t in times])
    expected = 63.75 * 0.35
    # binomial(700, p) per input: the mean of 2000 inputs is within ~4 standard errors
    assert abs(counts.mean() - expected) < 4 * np.sqrt(expected / 2000)
    assert abs(counts.var() - 700 * (63.75 / 2000) * (1 - 63.75 / 2000)) < 0.15 * expected


def test_times_on_grid_sorted_and_inside_window():
    rates = np.linspace(0, 60, 50)
    times = poisson_spike_times(rates, 100.0, 0.5, spike_rng(3, "test", 7, 1))
    assert len(times) == 50 and times[0].size == 0
    for t in times:
        assert np.all(np.diff(t) > 0)
        assert np.all((t > 0) & (t <= 100.0))
        np.testing.assert_allclose(t / 0.5, np.round(t / 0.5))


def test_same_seed_same_spikes_other_stream_other_spikes():
    rates = np.full(100, 40.0)
    a = poisson_spike_times(rates, 350.0, 0.5, spike_rng(5, "train", 11, 0))
    b = poisson_spike_times(rates, 350.0, 0.5, spike_rng(5, "train", 11, 0))
    c = poisson_spike_times(rates, 350.0, 0.5, spike_rng(5, "label", 11, 0))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_rate_above_one_spike_per_step_is_refused():
    with pytest.raises(ValueError, match="exceeds one spike"):
        poisson_spike_times(np.array([3000.0]), 10.0, 0.5, spike_rng(0, "train", 0, 0))


def test_chunk_schedule_puts_every_example_in_its_own_window():
    images = np.random.default_rng(0).integers(0, 256, (6, 784)).astype(np.uint8)
    images[3] = 0  # a blank example contributes nothing and shifts nothing
    showings = [poisson_spike_times(rates_hz(img, 31.875, 2), 350.0, 1.0,
                                    spike_rng(1, "train", k, 0))
                for k, img in enumerate(images)]
    chunk = schedule_spike_times(showings, 500.0)
    assert len(chunk) == 784
    for i, times in enumerate(chunk):
        assert np.all(np.diff(times) > 0)
        for k, showing in enumerate(showings):
            window = times[(times > k * 500.0) & (times <= (k + 1) * 500.0)]
            np.testing.assert_array_equal(window - k * 500.0, showing[i])
    assert sum(t.size for t in chunk) == sum(t.size for s in showings for t in s)


def test_a_single_showing_is_its_own_schedule():
    showing = poisson_spike_times(rates_hz(np.full(784, 200, dtype=np.uint8), 31.875, 2),
                                  350.0, 0.5, spike_rng(1, "train", 0, 0))
    pair = schedule_spike_times([showing, showing], 500.0)
    alone = schedule_spike_times([showing], 500.0)
    assert len(alone) == 784
    for i, times in enumerate(alone):
        np.testing.assert_array_equal(times, showing[i])
        np.testing.assert_array_equal(times, pair[i][pair[i] <= 500.0])


def test_chunk_schedule_refuses_a_showing_longer_than_its_window():
    with pytest.raises(ValueError, match="outside"):
        schedule_spike_times([[np.array([10.0, 600.0])]], 500.0)
