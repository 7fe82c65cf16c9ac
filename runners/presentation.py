"""Showing one example to a running network, with Diehl & Cook's re-show rule."""
from __future__ import annotations

from typing import Callable

import numpy as np

from spiking_mnist.inputs.encoding import poisson_spike_times, rates_hz, spike_rng


def present(backend, image: np.ndarray, stream: str, example: int, params,
            before_showing: Callable[[], None] | None = None,
            after_showing: Callable[[np.ndarray, float], None] | None = None,
            recorder=None) -> np.ndarray:
    """Show ``image`` until it evokes ``min_spikes`` excitatory spikes or the intensity cap.

    Each showing is ``presentation`` ms of Poisson input then ``rest`` ms of silence; a
    showing with too few spikes is repeated at intensity + 1. ``before_showing()`` runs
    before each showing (weight normalisation), ``after_showing(counts, elapsed_ms)`` after
    it with all its excitatory spikes, rest included (homeostasis). ``stream`` and
    ``example`` select the input spikes (see :func:`spike_rng`); a ``recorder``
    (:class:`~spiking_mnist.runners.recording.Recorder`) receives each showing. Returns the
    excitatory spike counts (per neuron) of the presentation window of the last showing.
    """
    enc, dt = params.encoding, params.simulation.timestep
    intensity, showing = enc.initial_intensity, 0
    while True:
        if before_showing is not None:
            before_showing()
        rates = rates_hz(image, enc.rate_per_intensity, intensity)
        rng = spike_rng(params.simulation.seed, stream, example, showing)
        input_times = poisson_spike_times(rates, enc.presentation, dt, rng)
        start = backend.now()
        backend.set_input_spikes(input_times)
        backend.run(enc.presentation)
        counts = backend.take_spike_counts()
        if enc.rest > 0:
            backend.run(enc.rest)
        if after_showing is not None:
            after_showing(counts + backend.take_spike_counts(), enc.presentation + enc.rest)
        else:
            backend.take_spike_counts()
        if recorder is not None:
            recorder.showing(example, start, input_times)
        if counts.sum() >= enc.min_spikes or intensity >= enc.max_intensity:
            return counts
        intensity += 1
        showing += 1
