"""Building a network (D&C's or a network module's) on a backend with given weights, delays
and theta."""
from __future__ import annotations

import contextlib

import numpy as np

from spiking_mnist.hardware import backend_class, open_backend
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.network import DIEHL_COOK, NetworkModel, check_roles
from spiking_mnist.models.parameters import ConfigError, Parameters


def open_network(params, backend_name: str, weights: np.ndarray, delays: np.ndarray,
                 theta: np.ndarray, plastic: bool, recording=None, masks=None,
                 model: NetworkModel = DIEHL_COOK, extend=None):
    """Set up the backend, build the network and install the state; returns (backend, network).

    With ``plastic`` the input synapses learn (by ``model``'s rule: D&C's STDP unless the
    network module names PyNN's standard STDP); otherwise they are static (testing).
    ``recording`` (a :class:`~spiking_mnist.runners.recording.RecordingPlan`) sets up what
    the backend records; ``masks`` restrict projections to some pairs (see
    :func:`diehl_cook.build`), e.g. for the frozen copies of
    :mod:`~spiking_mnist.models.patches`. ``extend(sim, network)`` returns the built network
    with what a model adds to it (e.g. the output cells of
    :mod:`~spiking_mnist.models.output_layer`); a backend that rebuilds the network adds it
    again.
    """
    backend = open_backend(backend_name, params, model.max_delay(params))
    stdp = None
    if plastic:
        stdp = model.learning_rule(params) or params.stdp
    synapse = backend.input_synapse(
        stdp, 1e3 * diehl_cook.synaptic_unit(params, "excitatory", "excitatory"),
        diehl_cook.cell_type(backend.sim, params).__name__)

    def build(sim, input_synapse, connectors=None):
        network = model.build(sim, params, weights.shape[0], input_synapse, masks,
                              connectors, cell_types=backend.cell_types)
        return network if extend is None else extend(sim, network)
    network = build(backend.sim, synapse)
    if not model.packaged:
        try:
            check_roles(network, model)
        except Exception:
            backend.end()
            raise
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


def check_model(model: NetworkModel, params: Parameters, backend_name: str,
                n_inputs: int) -> None:
    """Refuse, before anything is simulated, what ``model`` and ``params`` cannot run on
    ``backend_name``: its parameters (D&C's checks and the module's own), its learning rule
    on that backend, and, for a network module, the roles of the network its ``build``
    makes (built small with PyNN's mock backend, which simulates nothing).

    Raises
    ------
    ConfigError
        Saying what is missing or what to change.
    """
    model.validate(params)
    cls = backend_class(backend_name)
    cls.check(params)
    rule = model.learning_rule(params)
    if rule is not None:
        cls.check_rule(rule)
    if model.packaged:
        return
    import pyNN.mock as mock
    small = params.with_values({"network": {"n_excitatory": min(
        params.network.n_excitatory, 2)}}, "the check of the network module")
    mock.setup(timestep=params.simulation.timestep, min_delay=params.simulation.timestep,
               max_delay=max(model.max_delay(params), 2 * params.simulation.timestep))
    try:
        try:
            synapse = mock.StaticSynapse(weight=0.0, delay=params.simulation.timestep) \
                if rule is None else rule.synapse(mock, 1e-3, params.simulation.timestep)
        except Exception as err:
            raise ConfigError(f"{model.where()}: PyNN refuses its learning rule "
                              f"{rule.describe()}: {type(err).__name__}: {err}") from None
        try:
            network = model.build(mock, small, n_inputs, synapse, None, cell_types={})
        except ConfigError:
            raise
        except Exception as err:
            raise ConfigError(f"{model.where()}: build failed on PyNN's mock backend: "
                              f"{type(err).__name__}: {err}") from None
        check_roles(network, model)
    finally:
        with contextlib.suppress(Exception):
            mock.end()
