"""The backend contract: what every backend provides to the runners, and what is optional.

A backend runs a network built from a :mod:`spiking_mnist.models` description with its own
PyNN module. The runners (:mod:`spiking_mnist.runners`) talk to it only through
:class:`Backend`; every backend is a subclass, constructed the same way,
``Backend(simulation, max_delay)``, by :func:`spiking_mnist.hardware.open_backend`, which
first calls :meth:`Backend.check` with the run's parameters.

Required (abstract here): the PyNN module :attr:`Backend.sim`, the input synapse type, wiring
the built network, weights, delays and thresholds in bulk, input spike schedules, runs,
spike counts, recordings and :meth:`Backend.end`.

Optional, declared as class attributes rather than probed:

- :attr:`Backend.normalises_in_place`: :meth:`Backend.normalise_in_place` scales weight
  columns inside the simulator (else the runners read, scale and write them back);
- :attr:`Backend.keeps_theta_in_cells`: :meth:`Backend.keep_theta_in_cells` lets each
  excitatory cell raise its own threshold at every spike (else theta is kept on the host
  and written with :meth:`Backend.set_thresholds` after each run);
- :attr:`Backend.cell_types`: the backend's own classes for PyNN standard cell types, used
  by the model's ``build`` in place of the standard ones (same parameters);
- :attr:`Backend.standard_stdp`: the PyNN standard timing and weight dependences it runs,
  for a network whose learning rule is PyNN's standard STDP
  (:class:`~spiking_mnist.models.network.StandardSTDP`; :meth:`Backend.check_rule`).

Backends that cannot change a mapped network (SpiNNaker) rebuild it with the ``rebuild``
callable given to :meth:`Backend.attach`. Adding a backend: ``docs/adding-a-backend.md``.
"""
from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np


class BackendError(RuntimeError):
    """A backend that is unknown or cannot be used here, with what to do about it."""


#: ``rebuild(sim, input_synapse, connectors)`` builds the model's network again with the
#: PyNN module ``sim`` (``connectors``: projection name -> PyNN connector replacing its rule)
Rebuild = Callable[[Any, Any, "dict | None"], Any]


class Backend(abc.ABC):
    """One simulation of one network on one backend (see the module docstring).

    Parameters
    ----------
    simulation : Section
        The ``[simulation]`` parameters: ``timestep`` (ms), ``threads``, ``seed`` and the
        backend's own settings (NEST: ``cell_integration``).
    max_delay : float
        The longest synaptic delay of the network (ms).
    """

    #: the name users choose it by (``--backend``)
    name: ClassVar[str]
    #: the backend can scale weight columns inside the simulator
    normalises_in_place: ClassVar[bool] = False
    #: the backend's excitatory cells can keep D&C's homeostatic theta themselves
    keeps_theta_in_cells: ClassVar[bool] = False
    #: PyNN standard STDP it runs: ``timing_dependence`` and ``weight_dependence`` -> the
    #: class names of its PyNN module (see :meth:`check_rule`)
    standard_stdp: ClassVar[Mapping[str, tuple[str, ...]]] = {"timing_dependence": (),
                                                              "weight_dependence": ()}

    #: the PyNN module of this backend (``pyNN.nest``, ``pyNN.spiNNaker``)
    sim: Any
    #: the simulation time step (ms)
    timestep: float
    #: PyNN standard cell type name -> the backend's own class for it (may be empty)
    cell_types: Mapping[str, type]

    @classmethod
    def check(cls, params) -> None:
        """Refuse parameters this backend cannot run, before anything is built.

        Parameters
        ----------
        params : Parameters
            The run's parameters.

        Raises
        ------
        ConfigError
            With what to change.
        """

    @classmethod
    def check_rule(cls, rule) -> None:
        """Refuse a network's standard learning ``rule`` (a
        :class:`~spiking_mnist.models.network.StandardSTDP`) this backend lacks, before
        anything is built.

        Raises
        ------
        ConfigError
            Naming what is missing and what the backend runs.
        """
        from spiking_mnist.models.parameters import ConfigError
        for part in ("timing_dependence", "weight_dependence"):
            name = getattr(rule, part)
            if name not in cls.standard_stdp[part]:
                raise ConfigError(
                    f"the {cls.name} backend has no {name} ({part} of the network's "
                    f"learning rule {rule.describe()}); it runs "
                    f"{', '.join(cls.standard_stdp[part]) or 'none'}")

    @abc.abstractmethod
    def input_synapse(self, stdp, native_per_unit: float, target: str = "IF_cond_exp"):
        """The PyNN synapse type of input -> excitatory: D&C's STDP (``stdp``, the
        ``[stdp]`` parameters, rule by ``stdp.rule``), PyNN's standard STDP (``stdp`` a
        :class:`~spiking_mnist.models.network.StandardSTDP`) or static (``stdp`` None);
        one dimensionless weight is ``native_per_unit`` of the backend's weight unit;
        ``target`` is the PyNN standard cell type of the excitatory cells (a backend may
        run a rule differently onto different cells)."""

    @abc.abstractmethod
    def attach(self, network, stdp, rebuild: Rebuild) -> None:
        """Take the built ``network`` (once, before the first run)."""

    @abc.abstractmethod
    def get_weights(self, columns: Sequence[int] | None = None) -> np.ndarray:
        """Input -> excitatory weights (dimensionless), shape (n_inputs, len(columns));
        all columns if ``columns`` is None."""

    @abc.abstractmethod
    def set_weights(self, weights: np.ndarray, columns: Sequence[int] | None = None) -> None:
        """Write dimensionless input -> excitatory weights, shape (n_inputs, len(columns))."""

    @abc.abstractmethod
    def set_delays(self, delays: np.ndarray) -> None:
        """Write input -> excitatory delays (ms), shape (n_inputs, n_excitatory)."""

    @abc.abstractmethod
    def set_thresholds(self, v_thresh: np.ndarray) -> None:
        """Excitatory firing thresholds (mV), one per neuron."""

    @abc.abstractmethod
    def now(self) -> float:
        """The current simulation time (ms)."""

    @abc.abstractmethod
    def set_input_spikes(self, spike_times: list[np.ndarray]) -> None:
        """Schedule the next run's input: per input, spike times (ms) after :meth:`now`."""

    @abc.abstractmethod
    def run(self, duration: float) -> None:
        """Simulate ``duration`` ms."""

    @abc.abstractmethod
    def take_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """Excitatory spikes since the last call: (times in ms, neuron index)."""

    @abc.abstractmethod
    def record(self, populations: Sequence[str], signals: Sequence[str],
               neurons: Sequence[int]) -> None:
        """Keep, for :meth:`take_recorded`, the spikes of ``populations`` (``excitatory``,
        ``inhibitory``, or the label of a population a network module added, see
        :meth:`added_populations`) and the ``signals`` (``v``, ``gsyn_exc``, ``gsyn_inh``)
        of their ``neurons``."""

    def added_populations(self) -> dict[str, int]:
        """The populations the attached network has beside D&C's roles, by label, with their
        sizes (those :meth:`record` can record besides ``excitatory`` and ``inhibitory``)."""
        return {}

    @abc.abstractmethod
    def take_recorded(self) -> dict:
        """What :meth:`record` asked for since the last call: ``{population: {"spikes":
        (times, index), signal: (times, index, values)}}``."""

    @abc.abstractmethod
    def end(self) -> None:
        """End the simulation and free what it holds."""

    # -- optional: declared by the class attributes above ------------------------------
    def normalise_in_place(self, column_sum: float, columns: Sequence[int] | None = None) -> None:
        """Scale the input weights of ``columns`` (None: all) to sum to ``column_sum``
        inside the simulator; only where :attr:`normalises_in_place`."""
        raise BackendError(f"the {self.name} backend cannot normalise weights in place")

    def keep_theta_in_cells(self, theta: np.ndarray, v_thresh: float, plus: float,
                            tau: float) -> None:
        """Let each excitatory cell raise its threshold ``v_thresh + theta`` (mV) by
        ``plus`` (mV) at each spike, theta decaying with ``tau`` (ms); only where
        :attr:`keeps_theta_in_cells`."""
        raise BackendError(f"the {self.name} backend keeps theta on the host only: "
                           "--set theta.kept=host")

    def theta_of_cells(self) -> np.ndarray:
        """The excitatory cells' own theta (mV), see :meth:`keep_theta_in_cells`."""
        raise BackendError(f"the {self.name} backend keeps theta on the host only")
