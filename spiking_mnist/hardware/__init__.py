"""How each backend runs a network: setup, concrete cell and synapse types, limits, I/O.

One module per backend, each a :class:`~.backend.Backend` (the contract all of them meet);
:func:`open_backend` imports only the one asked for.
"""
from __future__ import annotations

import importlib

from .backend import Backend, BackendError

#: backend name -> (module, class): the backends users can choose with ``--backend``
BACKEND_CLASSES = {"nest": ("spiking_mnist.hardware.nest", "NestBackend"),
                   "spinnaker": ("spiking_mnist.hardware.spinnaker", "SpinnakerBackend")}
BACKENDS = tuple(BACKEND_CLASSES)

__all__ = ["BACKENDS", "Backend", "BackendError", "backend_class", "configure_machine",
           "open_backend"]


def _require_spinnaker() -> None:
    try:
        import spynnaker  # noqa: F401
    except ImportError:
        raise BackendError("sPyNNaker is not installed; install the SpiNNaker extra with "
                           "`pip install 'spiking-mnist[spinnaker]'`, or use "
                           "--backend nest") from None


def backend_class(name: str) -> type[Backend]:
    """The :class:`~.backend.Backend` subclass of backend ``name``.

    Raises
    ------
    BackendError
        If ``name`` is unknown or its simulator is not installed.
    """
    if name not in BACKEND_CLASSES:
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    if name == "spinnaker":
        _require_spinnaker()
    module, cls = BACKEND_CLASSES[name]
    return getattr(importlib.import_module(module), cls)


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


def open_backend(name: str, params, max_delay: float | None = None) -> Backend:
    """Set up backend ``name`` for a simulation of the network of ``params``.

    Parameters
    ----------
    name : str
        One of :data:`BACKENDS`.
    params : Parameters
        The run's parameters; ``params.simulation`` sets up the simulator.
    max_delay : float, optional
        The network's longest synaptic delay (ms); D&C's by default.

    Returns
    -------
    Backend
        A fresh simulation, ready for a network to be built with its ``sim`` module.

    Raises
    ------
    BackendError
        If the backend is unknown or cannot be used here.
    ConfigError
        If the backend cannot run these parameters.
    """
    cls = backend_class(name)
    cls.check(params)
    if max_delay is None:
        max_delay = max(params.input_to_exc.delay_max, params.exc_to_inh.delay,
                        params.inh_to_exc.delay)
    return cls(params.simulation, max_delay)
