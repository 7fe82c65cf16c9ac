"""Surrogate-gradient training of the spiking output layer (:mod:`.output_layer`) on spike
counts, in numpy.

The output cells are simulated as they run in the network, in discrete time: one step of
``simulation.timestep`` ms over the ``encoding.presentation`` ms an image is shown, the
membrane (in thresholds) decaying by exp(-dt / tau_m) per step, a spike when it reaches 1,
then reset to 0 and held there for ``tau_refrac``. An image's input spike counts drive the
cells as the constant current they average to over the presentation (the mean effect of
each spike: ``weight`` thresholds of charge). The spike count of each cell is compared with
a target, ``output.surrogate_target_rate`` (Hz) for the image's digit and none for the
others (mean squared error, as seed 002 does); the gradient passes the threshold through
the derivative of a sigmoid of sharpness ``output.surrogate_sharpness`` (per threshold) and
back through time, the resets and refractory steps taken as given. Adam steps on
minibatches of training images.
"""
from __future__ import annotations

import numpy as np

from .output_layer import N_CLASSES, OutputWeights, leak_factor
from .parameters import Parameters


def _steps(params: Parameters) -> tuple[int, int]:
    """Time steps of one presentation, and the refractory steps after a spike."""
    dt = params.simulation.timestep
    return (max(1, int(round(params.encoding.presentation / dt))),
            int(round(params.output.tau_refrac / dt)))


def _input_per_step(params: Parameters) -> tuple[float, float]:
    """Thresholds the membrane gains in one step from one threshold of input charge spread
    over the presentation, and from 1 Hz of bias (a constant current over a step of a
    leaky membrane: tau_m (1 - exp(-dt / tau_m)) ms of it)."""
    per_ms = params.output.tau_m * (1.0 - leak_factor(params))
    return per_ms / params.encoding.presentation, per_ms / 1000.0


def _noise_scale(params: Parameters) -> float:
    """Standard deviation of a step's input (thresholds) per square root of the summed
    squared weights of the spikes expected in it: Poisson arrivals, smoothed by the
    synaptic current (the membrane's variance shrinks by tau_m / (tau_m + tau_syn))."""
    o = params.output
    steps, _ = _steps(params)
    per_input, _ = _input_per_step(params)
    return per_input * steps * np.sqrt(o.tau_m / (o.tau_m + o.tau_syn) / steps)


def simulate(counts: np.ndarray, output: OutputWeights, params: Parameters,
             rng: np.random.Generator | None = None, keep: bool = False):
    """Spike counts (images, 10) of output cells with weights ``output`` driven by input
    ``counts`` (images, inputs): by the mean current alone, or with ``rng`` also by the
    fluctuation of Poisson input spikes around it (Gaussian, each step's drawn anew). With
    ``keep`` also, per step, the membrane before the threshold, the spikes, the cells that
    integrated and the fluctuation drawn, and the fluctuation's scale (for
    :func:`gradients`)."""
    steps, refractory = _steps(params)
    per_input, per_hz = _input_per_step(params)
    beta = leak_factor(params)
    current = counts @ output.weights * per_input + output.bias * per_hz
    spread = _noise_scale(params) * np.sqrt(counts @ output.weights ** 2) \
        if rng is not None else np.zeros_like(current)
    v = np.zeros_like(current)
    hold = np.zeros(current.shape, dtype=np.int64)       # refractory steps left
    total = np.zeros_like(current)
    kept = []
    for _ in range(steps):
        active = hold == 0
        drawn = rng.standard_normal(current.shape) if rng is not None else 0.0
        v = np.where(active, beta * v + current + spread * drawn, 0.0)
        spikes = (v >= 1.0) & active
        if keep:
            kept.append((v, spikes, active, drawn))
        total += spikes
        hold = np.where(spikes, refractory, np.maximum(hold - 1, 0))
        v = np.where(spikes, 0.0, v)
    return (total, kept, spread) if keep else total


def _surrogate(v: np.ndarray, sharpness: float) -> np.ndarray:
    """d spike / d v: the derivative of a sigmoid of sharpness ``sharpness`` centred on the
    threshold (its argument clipped, as seed 002 does, so it cannot overflow)."""
    x = np.clip(sharpness * (v - 1.0), -10.0, 10.0)
    s = 1.0 / (1.0 + np.exp(-x))
    return sharpness * s * (1.0 - s)


def gradients(counts: np.ndarray, labels: np.ndarray, output: OutputWeights,
              params: Parameters, rng: np.random.Generator | None = None
              ) -> tuple[float, np.ndarray, np.ndarray]:
    """The loss (mean over images of half the summed squared count errors) and its
    surrogate gradients with respect to the weights and the bias; with ``rng`` the cells
    see the input's fluctuations (:func:`simulate`), whose size depends on the weights
    too."""
    o = params.output
    beta = leak_factor(params)
    per_input, per_hz = _input_per_step(params)
    total, kept, spread = simulate(counts, output, params, rng, keep=True)
    target = np.zeros_like(total)
    target[np.arange(len(labels)), labels] = o.surrogate_target_rate \
        * params.encoding.presentation / 1000.0
    error = (total - target) / len(labels)
    loss = 0.5 * float(((total - target) ** 2).sum()) / len(labels)
    grad_current = np.zeros_like(total)     # d loss / d mean input of a step
    grad_spread = np.zeros_like(total)      # d loss / d fluctuation scale
    grad_after = np.zeros_like(total)       # d loss / d membrane after the step's reset
    for v, spikes, active, drawn in reversed(kept):
        grad_v = error * _surrogate(v, o.surrogate_sharpness) + grad_after * ~spikes
        grad_v = grad_v * active
        grad_current += grad_v
        grad_spread += grad_v * drawn
        grad_after = grad_v * beta
    grad_w = counts.T @ grad_current * per_input
    if rng is not None:       # spread = scale sqrt(counts @ w^2)
        factor = np.where(spread > 0, _noise_scale(params) ** 2 / np.where(
            spread > 0, spread, 1.0), 0.0) * grad_spread
        grad_w += counts.T @ factor * output.weights
    return loss, grad_w, grad_current.sum(axis=0) * per_hz


class Adam:
    """Adam steps (Kingma & Ba 2015) on a list of arrays, in place, each with its own step
    size (``rates``)."""

    def __init__(self, arrays: list[np.ndarray], rates: list[float],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-12):
        self.arrays, self.rates, self.betas, self.eps = arrays, rates, betas, eps
        self.m = [np.zeros_like(a) for a in arrays]
        self.v = [np.zeros_like(a) for a in arrays]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for a, g, m, v, rate in zip(self.arrays, grads, self.m, self.v, self.rates):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            a -= rate * (m / (1 - b1 ** self.t)) / (np.sqrt(v / (1 - b2 ** self.t))
                                                        + self.eps)


def train(counts: np.ndarray, labels: np.ndarray, params: Parameters,
          seed: int | None = None) -> tuple[OutputWeights, list[float]]:
    """Output weights trained on the training ``counts`` (images, inputs) and ``labels``
    for ``output.surrogate_epochs`` passes in minibatches of ``output.surrogate_batch``
    images; returns them and the mean loss of each epoch.

    The weights start small and random (``seed``: ``simulation.seed`` unless given), each
    input's at the scale that gives an image of average input the target drive, and the
    bias at the drive a leaky cell needs to fire at all.
    """
    o = params.output
    rng = np.random.default_rng((params.simulation.seed if seed is None else seed, 11))
    counts = np.asarray(counts, dtype=float)
    labels = np.asarray(labels, dtype=np.int64)
    mean_total = max(float(counts.sum(axis=1).mean()), 1.0)
    target = o.surrogate_target_rate * params.encoding.presentation / 1000.0
    weights = rng.normal(0.0, target / mean_total, (counts.shape[1], N_CLASSES))
    bias = np.full(N_CLASSES, 1000.0 / o.tau_m)
    # steps as fractions of the target drive: per weight, spread over an average image's
    # input spikes; for the bias, in Hz
    adam = Adam([weights, bias], [o.surrogate_learning_rate * target / mean_total,
                                  o.surrogate_learning_rate * target * 1000.0
                                  / params.encoding.presentation])
    losses = []
    for _ in range(o.surrogate_epochs):
        order = rng.permutation(len(labels))
        epoch = []
        for start in range(0, len(order), o.surrogate_batch):
            rows = order[start:start + o.surrogate_batch]
            loss, grad_w, grad_b = gradients(counts[rows], labels[rows],
                                             OutputWeights(weights, bias), params, rng)
            adam.step([grad_w, grad_b])
            epoch.append(loss * len(rows))
        losses.append(sum(epoch) / max(len(labels), 1))
    return OutputWeights(weights.copy(), bias.copy()), losses
