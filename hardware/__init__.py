"""How each backend runs a network: setup, concrete cell and synapse types, limits, I/O.

One module per backend; :func:`open_backend` imports only the one asked for.
"""
from __future__ import annotations

import importlib

BACKENDS = ("nest", "spinnaker")


class BackendError(RuntimeError):
    """A backend that is unknown or cannot be used here, with what to do about it."""


def _require_spinnaker() -> None:
    try:
        import spynnaker  # noqa: F401
    except ImportError:
        raise BackendError("sPyNNaker is not installed; install the SpiNNaker extra with "
                           "`pip install 'spiking-mnist[spinnaker]'`, or use "
                           "--backend nest") from None


def configure_machine(name: str, board: str | None = None, spalloc: str | None = None,
                      board_version: int = 5) -> str | None:
    """Before a run on backend ``name``: for SpiNNaker, check sPyNNaker is installed and
    make its configuration name the machine asked for (see :mod:`.spinnaker_config`);
    returns what was done, for the user."""
    if name != "spinnaker":
        if board or spalloc:
            from spiking_mnist.models.parameters import ConfigError
            raise ConfigError("--board and --spalloc choose a SpiNNaker machine; add "
                              "--backend spinnaker")
        return None
    _require_spinnaker()
    from .spinnaker_config import prepare
    return prepare(board, spalloc, board_version)


def open_backend(name: str, params):
    """Set up backend ``name`` for a simulation with ``params.simulation`` settings."""
    sim = params.simulation
    max_delay = max(params.input_to_exc.delay_max, params.exc_to_inh.delay,
                    params.inh_to_exc.delay)
    if name == "nest":
        from .nest import NestBackend
        return NestBackend(sim.timestep, sim.threads, sim.seed, max_delay,
                           sim.cell_integration)
    if name == "spinnaker":
        if params.theta.kept != "host":
            from spiking_mnist.models.parameters import ConfigError
            raise ConfigError("SpiNNaker keeps theta on the host (its cells have no "
                              "homeostatic threshold): --set theta.kept=host")
        _require_spinnaker()
        from .spinnaker import SpinnakerBackend
        model = importlib.import_module(f"spiking_mnist.models.{params.name}")

        def build_network(pynn, n_inputs, input_synapse, masks, connectors):
            return model.build(pynn, params, n_inputs, input_synapse, masks, connectors)
        return SpinnakerBackend(sim.timestep, sim.threads, sim.seed, max_delay, build_network)
    raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
