"""Showing examples to a running network, with Diehl & Cook's re-show rule.

One simulator run shows up to ``simulation.showings_per_run`` examples back to back: each
showing is ``presentation`` ms of Poisson input then ``rest`` ms of silence. An example
whose presentation evokes fewer than ``min_spikes`` excitatory spikes is shown again at
intensity + 1 at the start of the next simulator run (D&C show it again at once; with one
showing per run that is what happens here too).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Callable, Iterable, Iterator

import numpy as np

from spiking_mnist.inputs.encoding import (schedule_spike_times, poisson_spike_times, rates_hz,
                                           spike_rng)


@dataclass(frozen=True)
class Showing:
    """One showing of one example: its index in the stream, image row, intensity (1 =
    pixel/8 Hz) and number (0 = first showing)."""

    example: int
    row: int
    intensity: int
    number: int = 0


@dataclass(frozen=True)
class SimulatorRun:
    """The showings of one run, from ``start`` (ms), one every ``period`` ms; ``counts``
    (showings, neurons) are the excitatory spikes of each presentation window, ``totals``
    those of each whole period (rest included)."""

    start: float
    period: float
    showings: list[Showing]
    input_times: list[list[np.ndarray]]
    counts: np.ndarray
    totals: np.ndarray

    def final(self, min_spikes: int, max_intensity: int) -> np.ndarray:
        """Per showing, whether it ends its example (enough spikes or the intensity cap)."""
        return ((self.counts.sum(axis=1) >= min_spikes)
                | (np.array([s.intensity for s in self.showings]) >= max_intensity))


def spikes_per_showing(times: np.ndarray, neurons: np.ndarray, start: float, n_showings: int,
                       params, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
    """Split spikes (ms, neuron index) of a simulator run from ``start`` into per-showing counts
    of the presentation windows and of the whole periods, each (n_showings, n_neurons)."""
    enc, dt = params.encoding, params.simulation.timestep
    per_period = int(round((enc.presentation + enc.rest) / dt))
    step = np.rint((times - start) / dt).astype(np.int64) - 1   # spikes stamp a step's end
    slot, within = np.divmod(step, per_period)
    flat = slot * n_neurons + neurons
    size = n_showings * n_neurons
    totals = np.bincount(flat, minlength=size).reshape(n_showings, n_neurons)
    presented = within < int(round(enc.presentation / dt))
    counts = np.bincount(flat[presented], minlength=size).reshape(n_showings, n_neurons)
    return counts, totals


class Presenter:
    """Shows examples of one stream (see :data:`~spiking_mnist.inputs.encoding.STREAMS`) to
    ``backend``, ``per_run`` showings per simulator run (``simulation.showings_per_run``
    unless given).

    ``images`` are flattened uint8 images; ``recorder``
    (:class:`~spiking_mnist.runners.recording.Recorder`) receives every simulator run, with the
    excitatory theta (mV) that ``theta()`` returns after it.
    """

    def __init__(self, backend, images: np.ndarray, labels: np.ndarray, stream: str, params,
                 recorder=None, theta: Callable[[], np.ndarray] | None = None,
                 per_run: int | None = None):
        self._backend, self._images, self._labels = backend, images, labels
        self._stream, self._params, self._recorder = stream, params, recorder
        self._theta = theta
        self.input_spikes = 0   #: input spikes shown so far
        self._per_run = per_run or params.simulation.showings_per_run
        self._pending: list[Showing] = []

    def show(self, examples: Iterable[tuple[int, int]],
             before_run: Callable[[list[Showing]], None] | None = None,
             after_run: Callable[[SimulatorRun], None] | None = None,
             predict: Callable[[np.ndarray], int] | None = None,
             ) -> Iterator[tuple[int, int, np.ndarray]]:
        """Show each ``(example, row)`` until done; yield ``(example, row, counts)`` as each
        example ends, ``counts`` being the excitatory spikes per neuron of its last
        presentation. Returns once every example given, re-shows included, is done.

        ``before_run(showings)`` runs before each simulator run (weight normalisation),
        ``after_run(run)`` after it (homeostasis); ``predict(counts)`` gives the digit
        a recorder notes for each example's last showing.
        """
        enc = self._params.encoding
        new = iter(examples)
        while True:
            batch, self._pending = self._pending, []
            batch += [Showing(e, r, enc.initial_intensity)
                      for e, r in islice(new, max(self._per_run - len(batch), 0))]
            if not batch:
                return
            if before_run is not None:
                before_run(batch)
            run = self._run(batch)
            if after_run is not None:
                after_run(run)
            final = run.final(enc.min_spikes, enc.max_intensity)
            self._pending = [Showing(s.example, s.row, s.intensity + 1, s.number + 1)
                             for s, done in zip(batch, final) if not done]
            if self._recorder is not None:
                predicted = [predict(c) if done and predict is not None else -1
                             for c, done in zip(run.counts, final)]
                self._recorder.add_run(run, self._labels[[s.row for s in batch]], final,
                                       np.array(predicted),
                                       None if self._theta is None else self._theta())
            for s, counts, done in zip(batch, run.counts, final):
                if done:
                    yield s.example, s.row, counts

    def _run(self, batch: list[Showing]) -> SimulatorRun:
        """Run ``batch`` back to back in one simulator run."""
        p, backend = self._params, self._backend
        enc, dt = p.encoding, p.simulation.timestep
        period = enc.presentation + enc.rest
        input_times = [
            poisson_spike_times(rates_hz(self._images[s.row], enc.rate_per_intensity,
                                         s.intensity), enc.presentation, dt,
                                spike_rng(p.simulation.seed, self._stream, s.example, s.number))
            for s in batch]
        start = backend.now()
        self.input_spikes += sum(t.size for showing in input_times for t in showing)
        backend.set_input_spikes(schedule_spike_times(input_times, period))
        backend.run(len(batch) * period)
        times, neurons = backend.take_spikes()
        counts, totals = spikes_per_showing(times, neurons, start, len(batch), p,
                                            p.network.n_excitatory)
        return SimulatorRun(start, period, batch, input_times, counts, totals)

