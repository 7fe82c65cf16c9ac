"""Building a Diehl & Cook network on a backend with given weights, delays and theta."""
from __future__ import annotations

import numpy as np

from spiking_mnist.hardware import open_backend
from spiking_mnist.models import diehl_cook


def open_network(params, backend_name: str, weights: np.ndarray, delays: np.ndarray,
                 theta: np.ndarray, plastic: bool, recording=None, masks=None):
    """Set up the backend, build the network and install the state; returns (backend, network).

    With ``plastic`` the input synapses learn by STDP; otherwise they are static (testing).
    ``recording`` (a :class:`~spiking_mnist.runners.recording.RecordingPlan`) sets up what
    the backend records; ``masks`` restrict projections to some pairs (see
    :func:`diehl_cook.build`), e.g. for the frozen copies of
    :mod:`~spiking_mnist.models.patches`.
    """
    backend = open_backend(backend_name, params)
    stdp = params.stdp if plastic else None
    synapse = backend.input_synapse(
        stdp, 1e3 * diehl_cook.synaptic_unit(params, "excitatory", "excitatory"))

    def build(sim, input_synapse, connectors=None):
        return diehl_cook.build(sim, params, weights.shape[0], input_synapse, masks,
                                connectors, cell_types=backend.cell_types)
    network = build(backend.sim, synapse)
    backend.attach(network, stdp, build)
    if recording is not None:
        backend.record(recording.backend_populations(), recording.signals, recording.neurons)
    backend.set_weights(weights)
    backend.set_delays(delays)
    homeostasis = diehl_cook.Homeostasis(params, theta)
    if plastic and params.theta.kept == "cells":
        backend.keep_theta_in_cells(homeostasis.theta, params.excitatory.v_thresh
                                    - params.theta.offset, params.theta.plus, params.theta.tau)
    else:
        backend.set_thresholds(homeostasis.thresholds())
    return backend, network
