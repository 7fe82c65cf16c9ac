"""Training of the spiking readout with a hidden layer: ``output.hidden_cells`` leaky
integrate-and-fire cells between the layer-1 copies and 10 output cells, in numpy.

The hidden cells are the output cells' kind (``[output]`` in ``patches.toml``) and their
weights are in the same units (:mod:`.output_layer`): a weight of ``u`` delivers ``u``
thresholds of charge per input spike, a bias of ``b`` Hz is a constant current. They are
trained as rate units: an image's layer-1 spike counts give each hidden cell a mean current
and it fires :func:`.output_layer.cell_counts` spikes over the presentation, the rate of a
leaky integrate-and-fire cell under that current, smoothed at the threshold by a softplus of
width ``output.hidden_smoothing`` so that a silent cell still has a gradient (Hunsberger &
Eliasmith 2015, "soft LIF"). The 10 output logits are linear in
the hidden cells' spike counts; weights and logits are fitted together by Adam steps on the
cross-entropy, with an L2 penalty, and the hidden counts see Gaussian noise of
``output.hidden_count_noise`` spikes per square-root spike while training, so that the
readout tolerates the irregularity of spiking cells. The logits are then fitted again, by
the linear readout's logistic regression (:func:`.readout.linear`, ``readout.*``), on the
hidden cells' spike counts as the cells fire them on the training images, simulated in
discrete time with the input's fluctuations (:func:`.output_training.simulate`): the rate
approximation misses that fluctuations make cells near their threshold fire more. They are
mapped onto output cells as the linear readout is (:func:`.output_layer.from_linear`).
"""
from __future__ import annotations

import numpy as np

from .output_layer import N_CLASSES, OutputWeights, cell_counts, firing_drive, from_linear
from .output_training import Adam, simulate
from .parameters import Parameters
from .readout import linear, per_count


def train(train_counts: np.ndarray, labels: np.ndarray, full_scale: float,
          params: Parameters, seed: int | None = None
          ) -> tuple[OutputWeights, list[float]]:
    """The output cells' weights with their hidden cells' (see the module), and the mean
    loss of each epoch of the joint fit.

    Parameters
    ----------
    train_counts, labels
        The layer-1 spike counts (images, inputs) of the training images and their digits.
    full_scale
        The count the joint fit takes as a full-scale input (counts are divided by it).
    params
        ``output.hidden_*`` set the fit: ``hidden_epochs`` passes in minibatches of
        ``hidden_batch`` images; ``readout.inverse_regularisation`` the refit.
    seed
        Of the initial weights, the order of the images and the noise drawn;
        ``simulation.seed`` unless given.
    """
    o = params.output
    rng = np.random.default_rng((params.simulation.seed if seed is None else seed, 13))
    x_all = np.asarray(train_counts, dtype=np.float32) / np.float32(full_scale)
    labels = np.asarray(labels, dtype=np.int64)
    n_in, n_hidden = x_all.shape[1], o.hidden_cells
    fire = firing_drive(params)     # the hidden weights in units of it: 1 reaches threshold
    # the logits read hidden counts in units of a cell firing once per tau_m + tau_refrac
    spike_scale = params.encoding.presentation / (o.tau_m + o.tau_refrac)
    w_in = rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_hidden)).astype(np.float32)
    b_in = np.ones(n_hidden, dtype=np.float32)
    w_out = rng.normal(0.0, np.sqrt(1.0 / n_hidden), (n_hidden, N_CLASSES)).astype(np.float32)
    b_out = np.zeros(N_CLASSES, dtype=np.float32)
    adam = Adam([w_in, b_in, w_out, b_out], [o.hidden_learning_rate] * 4)
    losses = []
    for _ in range(o.hidden_epochs):
        order = rng.permutation(len(labels))
        total = 0.0
        for start in range(0, len(order), o.hidden_batch):
            rows = order[start:start + o.hidden_batch]
            x, y = x_all[rows], labels[rows]
            spikes, d_spikes = cell_counts(fire * (x @ w_in + b_in), params,
                                           o.hidden_smoothing)
            seen = spikes + o.hidden_count_noise * np.sqrt(spikes) \
                * rng.standard_normal(spikes.shape)
            h = (seen / spike_scale).astype(np.float32)
            logits = h @ w_out + b_out
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            total += -float(np.log(p[np.arange(len(y)), y] + 1e-12).sum())
            g = p
            g[np.arange(len(y)), y] -= 1.0
            g /= len(y)
            g_h = g @ w_out.T / spike_scale
            g_current = (g_h * d_spikes * fire).astype(np.float32)
            adam.step([x.T @ g_current + o.hidden_l2 * w_in, g_current.sum(axis=0),
                       h.T @ g + o.hidden_l2 * w_out, g.sum(axis=0)])
        losses.append(total / max(len(labels), 1))
    hidden = OutputWeights(fire * w_in.astype(float) / full_scale,
                           fire * b_in.astype(float) * 1000.0 / params.encoding.presentation)
    spiking = simulate(np.asarray(train_counts, dtype=float), hidden, params, rng)
    model = linear(spiking / spike_scale, labels, params.readout.inverse_regularisation)
    output = from_linear(*per_count(model, spike_scale), spiking, params)
    return OutputWeights(output.weights, output.bias, hidden), losses
