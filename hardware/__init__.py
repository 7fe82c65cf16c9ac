"""How each backend runs a network: setup, concrete cell and synapse types, limits, I/O.

One module per backend; :func:`open_backend` imports only the one asked for.
"""
from __future__ import annotations

BACKENDS = ("nest", "spinnaker")


class BackendError(RuntimeError):
    """A backend that is unknown or cannot be used here, with what to do about it."""


def open_backend(name: str, params):
    """Set up backend ``name`` for a simulation with ``params.simulation`` settings."""
    if name == "nest":
        from .nest import NestBackend
        sim = params.simulation
        max_delay = max(params.input_to_exc.delay_max, params.exc_to_inh.delay,
                        params.inh_to_exc.delay)
        return NestBackend(sim.timestep, sim.threads, sim.seed, max_delay)
    if name == "spinnaker":
        try:
            import spynnaker  # noqa: F401
        except ImportError:
            raise BackendError("sPyNNaker is not installed; install the SpiNNaker extra with "
                               "`pip install 'spiking-mnist[spinnaker]'`, or use "
                               "--backend nest") from None
        raise BackendError("this version cannot train or test on SpiNNaker yet; "
                           "use --backend nest")
    raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
