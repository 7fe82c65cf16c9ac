"""Poisson rate coding of images, as in Diehl & Cook (2015).

A pixel of value ``x`` fires at ``x / 255 * rate_per_intensity * intensity`` Hz. Like Brian's
``PoissonGroup``, each pixel spikes in each time step independently with probability
``rate * timestep``, so at most once per step and always on the time grid.
"""
from __future__ import annotations

import numpy as np


STREAMS = {"train": 0, "label": 1, "test": 2, "validation": 3}


def spike_rng(seed: int, stream: str, example: int, showing: int) -> np.random.Generator:
    """The generator of one showing of one example: the same spikes whatever the backend,
    the showings per simulator run or a resume, for a given seed, stream (one of :data:`STREAMS`: training,
    labelling, test or validation), example index and showing (0 = first)."""
    return np.random.default_rng((seed, STREAMS[stream], example, showing))


def rates_hz(image: np.ndarray, rate_per_intensity: float, intensity: float) -> np.ndarray:
    """Firing rates (Hz) of the flattened ``image`` (uint8 pixels)."""
    return image.reshape(-1).astype(np.float64) / 255.0 * rate_per_intensity * intensity


def poisson_spike_times(rates: np.ndarray, duration: float, timestep: float,
                        rng: np.random.Generator) -> list[np.ndarray]:
    """Spike times (ms, in ``(0, duration]``, multiples of ``timestep``) for each rate (Hz).

    Returns one sorted float64 array per input, empty for silent inputs.
    """
    n_steps = int(round(duration / timestep))
    p = rates * (timestep * 1e-3)
    if np.any(p > 1.0):
        raise ValueError(f"a rate of {rates.max():.1f} Hz exceeds one spike per {timestep} ms "
                         "time step; lower the intensity or the time step")
    active = np.flatnonzero(p > 0)
    spikes = rng.random((active.size, n_steps)) < p[active, None]
    counts = np.zeros(rates.size, dtype=np.int64)
    counts[active] = spikes.sum(axis=1)
    _, steps = np.nonzero(spikes)            # row-major: grouped by input, times ascending
    return split_by_counts((steps + 1) * timestep, counts)


def schedule_spike_times(showings: list[list[np.ndarray]], period: float) -> list[np.ndarray]:
    """One input schedule for several showings back to back, for a backend that runs it in one go.

    ``showings[k]`` holds, per input, the spike times (ms, in ``(0, period]``) of showing
    ``k``, as :func:`poisson_spike_times` gives them; they are moved into showing k's window
    ``(k * period, (k + 1) * period]``. Returns one sorted array per input: a single
    showing's own arrays.
    """
    if not showings:
        return []
    n_inputs = len(showings[0])
    inputs, times = [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
    for k, showing in enumerate(showings):
        if len(showing) != n_inputs:
            raise ValueError(f"showing {k} has {len(showing)} inputs, showing 0 {n_inputs}")
        flat = np.concatenate(showing) if n_inputs else np.zeros(0)
        if flat.size and (flat.min() <= 0 or flat.max() > period):
            raise ValueError(f"showing {k} has spikes outside (0, {period}] ms")
        if len(showings) == 1:   # already one sorted array per input, in its window
            return list(showing)
        inputs.append(np.repeat(np.arange(n_inputs), [t.size for t in showing]))
        times.append(flat + k * period)
    inputs, times = np.concatenate(inputs), np.concatenate(times)
    order = np.lexsort((times, inputs))
    return split_by_counts(times[order], np.bincount(inputs, minlength=n_inputs))


def split_by_counts(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """``values`` cut into consecutive pieces of ``counts`` elements (views, as
    ``np.split`` gives them, at a tenth of its cost for 784 pieces)."""
    ends = np.cumsum(counts).tolist()
    return [values[end - count:end] for count, end in zip(counts.tolist(), ends)]


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """``images`` (n, rows, cols) convolved with a normalised Gaussian of ``sigma`` pixels
    (truncated at 3 sigma, zero beyond the border), rows then columns."""
    radius = max(1, int(np.ceil(3.0 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = np.asarray(images, dtype=np.float64)
    for axis in (1, 2):
        width = [(0, 0)] * 3
        width[axis] = (radius, radius)
        padded = np.pad(out, width)
        size = out.shape[axis]
        out = sum(tap * np.take(padded, np.arange(k, k + size), axis=axis)
                  for k, tap in enumerate(taps))
    return out


def on_off(images: np.ndarray, center: float, surround: float) -> np.ndarray:
    """ON and OFF channels of ``images`` (n, rows, cols; 0..255), as retinal ganglion cells
    and Kheradpisheh et al. (2018) code them: the difference of Gaussians (``center`` minus
    ``surround`` sigma, in pixels), its positive part (ON: brighter than the surround) and
    negative part (OFF: darker), each image's scaled so that its strongest response is 255
    and rounded to whole intensities, as in an 8-bit image (the Gaussians' faint tails
    vanish). Returns (n, 2, rows, cols), uint8 like the images; an image with no contrast
    is silent."""
    dog = gaussian_blur(images, center) - gaussian_blur(images, surround)
    peak = np.abs(dog).max(axis=(1, 2), keepdims=True)
    dog = np.round(dog * (255.0 / np.where(peak > 0, peak, 1.0)))
    return np.stack([np.clip(dog, 0, 255), np.clip(-dog, 0, 255)], axis=1).astype(np.uint8)
