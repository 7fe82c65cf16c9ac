"""Chunks of showings: spike counts cut back out of one run, and the re-show order.

The input schedule of a chunk is tested in tests/test_encoding.py."""
import numpy as np

from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.runners.presentation import Presenter, spikes_per_showing

PARAMS = load_parameters("diehl_cook", None, ["network.n_excitatory=3"])
PERIOD = PARAMS.encoding.presentation + PARAMS.encoding.rest   # 500 ms


def test_spike_counts_split_by_showing_and_presentation_window():
    start, dt = 1000.5, PARAMS.simulation.timestep
    # neuron 0: last step of showing 0's presentation, then first step of its rest;
    # neuron 2: last step of showing 1 (in the rest), first step of showing 2
    times = start + np.array([350.0, 350.0 + dt, 1000.0, 1000.0 + dt])
    neurons = np.array([0, 0, 2, 2])
    counts, totals = spikes_per_showing(times, neurons, start, 3, PARAMS, 3)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(totals, [[2, 0, 0], [0, 0, 1], [0, 0, 1]])


class SilentUntil:
    """A backend stand-in whose neuron 0 answers a showing with ``spikes_at[intensity]``
    spikes: enough to exercise the re-show rule without a simulator."""

    def __init__(self, spikes_at: dict[int, int]):
        self.spikes_at, self.t, self.shown = spikes_at, 0.0, []

    def now(self):
        return self.t

    def set_input_spikes(self, times):
        self.total = sum(t.size for t in times)

    def run(self, duration):
        self.start, self.t = self.t, self.t + duration

    def take_spikes(self):
        times = []
        for k, s in enumerate(self.pending):
            times += [self.start + k * PERIOD + 10.0 + j
                      for j in range(self.spikes_at[s.intensity])]
        return np.array(times), np.zeros(len(times), dtype=np.int64)


def test_reshows_go_to_the_next_run_until_enough_spikes():
    params = PARAMS.with_values({"simulation": {"showings_per_run": 3}}, "test")
    backend = SilentUntil({2: 0, 3: 1, 4: 9})
    images = np.full((5, 784), 200, dtype=np.uint8)
    presenter = Presenter(backend, images, np.zeros(5, dtype=int), "train", params)
    runs = []

    def before(showings):
        backend.pending = showings
        runs.append([(s.example, s.intensity) for s in showings])

    done = [e for e, _, _ in presenter.show(((i, i) for i in range(5)), before_run=before)]
    assert sorted(done) == [0, 1, 2, 3, 4]
    # every example needs intensities 2, 3, 4; re-shows open the next run
    assert runs[0] == [(0, 2), (1, 2), (2, 2)]
    assert runs[1] == [(0, 3), (1, 3), (2, 3)]
    assert runs[2] == [(0, 4), (1, 4), (2, 4)]
    assert runs[3] == [(3, 2), (4, 2)]
    assert presenter.input_spikes > 0


def test_showings_back_to_back_in_one_run_give_the_same_counts():
    """Testing runs several showings per simulator run only for speed: with no re-shows
    (``min_spikes`` = 0) the frozen network answers each example exactly as one per run."""
    from spiking_mnist.inputs import mnist
    from spiking_mnist.models import diehl_cook
    from spiking_mnist.runners.evaluate import responses
    from spiking_mnist.runners.session import open_network

    params = load_parameters("diehl_cook", None, ["network.n_excitatory=20",
                                                  "encoding.min_spikes=0"])
    rng = np.random.default_rng(0)
    weights = diehl_cook.normalise_columns(diehl_cook.initial_weights(params, 784, rng),
                                           params.normalisation.column_sum)
    delays = diehl_cook.input_delays(params, 784, rng)
    theta = diehl_cook.Homeostasis(params).theta

    runs = []

    def frozen():
        backend = open_network(params, "nest", weights, delays, theta, plastic=False)[0]
        run = backend.run
        backend.run = lambda duration: (runs.append(duration), run(duration))
        return backend

    digits = mnist.load("test").subset(np.arange(7))
    one, _ = responses(frozen, digits, "test", params, False, per_run=1)
    assert runs == [PERIOD] * 7 and one.sum() > 0
    runs.clear()
    batched, _ = responses(frozen, digits, "test", params, False, per_run=3)
    assert runs == [3 * PERIOD, 3 * PERIOD, PERIOD]
    np.testing.assert_array_equal(batched, one)
