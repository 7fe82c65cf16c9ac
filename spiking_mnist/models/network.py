"""Your own network: what a network module provides to be trained, checkpointed, recorded,
analysed, labelled, evaluated and mapped on SpiNNaker by the package, unchanged.

A network module is a Python file (``spiking-mnist train --model my_net.py``; D&C's own is
:mod:`.diehl_cook`). It must define

``build(sim, params, n_inputs, learning_synapse, connectors=None, cell_types=None)``
    Create the network with the PyNN module ``sim`` and return an object whose attributes
    are its PyNN Populations and Projections by name (:class:`Network`, or any namespace).
    Four names are roles the package drives (:data:`ROLES`): ``inputs``, a population of
    ``n_inputs`` ``SpikeSourceArray`` sources (one per pixel); ``excitatory``, the
    population that learns, whose spikes are counted, labelled and vote, and whose
    thresholds hold the homeostatic theta (``[theta]``); ``inhibitory``, the population
    that inhibits it (recorded on request); ``input_to_exc``, the projection ``inputs`` ->
    ``excitatory`` made with ``learning_synapse``, the only one that learns: its weights
    are set, read, normalised (``normalisation.column_sum`` per excitatory neuron) and
    checkpointed by the package. ``connectors`` (projection name -> PyNN connector) replaces the
    connector of a projection of that name, and ``cell_types`` (PyNN standard cell type
    name -> class) a standard cell type, where a backend needs it (SpiNNaker gives the
    input weights in a ``FromListConnector``; NEST runs ``IF_cond_exp`` with a fixed step).

and may define

``PARAMETERS``
    The file name (beside the module) of its parameter file: the sections it adds to D&C's
    parameters, in the format of ``diehl_cook.toml`` (``name = {value, unit, meaning}``).
``learning_rule(params)``
    The rule of ``input_to_exc``: a :class:`StandardSTDP` (PyNN's standard STDP, run by
    every backend that has it), or None for D&C's rule chosen by ``stdp.rule`` (each
    backend's own table). Without it, D&C's rule.
``validate(params)``
    Refuse, with a ConfigError, parameter combinations its own checks see (D&C's
    :func:`~.diehl_cook.validate` runs first).
``max_delay(params)``
    The longest synaptic delay of the network (ms), if longer than D&C's.

A population may carry, as the PyNN annotation :data:`STEP_INPUT`, the largest input its
synapses can bring in one time step per receptor (``{"excitatory": x, "inhibitory": y}``,
in the weights' unit): a backend that holds weights in fixed point (SpiNNaker) sizes its
grid by it instead of guessing from assumed rates; others ignore it.

Nothing here imports a simulator; the module is imported from its file and checked
(:func:`load_model`) before anything is built.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

from . import diehl_cook
from .parameters import ConfigError, Parameters, load_defaults, parse_parameter_file

#: attribute names of a built network the package drives (see the module docstring)
ROLES = ("inputs", "excitatory", "inhibitory", "input_to_exc")
#: a population's annotation: the largest input per time step of each receptor (see above)
STEP_INPUT = "largest_step_input"
#: the arguments ``build`` is called with
BUILD_ARGUMENTS = ("sim", "params", "n_inputs", "learning_synapse", "connectors", "cell_types")


@dataclass(frozen=True)
class StandardSTDP:
    """PyNN's standard STDP (``sim.STDPMechanism``) as data, for a backend to build with its
    own PyNN module: the timing and weight dependences by their PyNN class names and their
    parameters in PyNN's units, except ``w_min`` and ``w_max``, which are dimensionless
    weights (multiples of the network's weight unit, as every weight the package handles).

    Examples
    --------
    >>> rule = StandardSTDP("SpikePairRule", {"tau_plus": 20.0, "tau_minus": 20.0,
    ...                                       "A_plus": 0.01, "A_minus": 0.001},
    ...                     "MultiplicativeWeightDependence", {"w_min": 0.0, "w_max": 1.0})
    >>> rule.describe()
    'SpikePairRule + MultiplicativeWeightDependence'
    """

    timing_dependence: str
    timing_parameters: Mapping[str, float]
    weight_dependence: str
    weight_parameters: Mapping[str, float]

    def synapse(self, sim, pynn_per_unit: float, delay: float):
        """The ``sim.STDPMechanism`` of this rule, one dimensionless weight being
        ``pynn_per_unit`` of PyNN's weight unit (uS or nA); initial weight 0."""
        weights = {name: value * pynn_per_unit if name in ("w_min", "w_max") else value
                   for name, value in self.weight_parameters.items()}
        return sim.STDPMechanism(
            timing_dependence=getattr(sim, self.timing_dependence)(**self.timing_parameters),
            weight_dependence=getattr(sim, self.weight_dependence)(**weights),
            weight=0.0, delay=delay)

    def describe(self) -> str:
        return f"{self.timing_dependence} + {self.weight_dependence}"


class Network:
    """The populations and projections of a built network, as attributes named by the
    keyword arguments (``Network(inputs=..., excitatory=..., input_to_exc=..., ...)``);
    ``masks`` as :class:`~.diehl_cook.DiehlCookNetwork`'s (none unless given)."""

    def __init__(self, masks: dict | None = None, **parts: Any):
        self.masks = masks or {}
        for name, part in parts.items():
            setattr(self, name, part)


@dataclass(frozen=True)
class NetworkModel:
    """A network module and what the package knows of it: ``name`` (the module's), the
    ``file`` it was imported from and that file's ``sha256`` (None for D&C, which is part
    of the package)."""

    name: str
    module: ModuleType
    file: Path | None = None
    sha256: str | None = None
    sections: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def packaged(self) -> bool:
        return self.file is None

    def defaults(self) -> Parameters:
        """D&C's parameters with the sections of the module's parameter file."""
        base = load_defaults(diehl_cook.MODEL)
        return base if self.packaged else base.with_sections(self.name, self.sections)

    def validate(self, params: Parameters) -> None:
        """D&C's checks, then the module's own."""
        diehl_cook.validate(params)
        if not self.packaged and hasattr(self.module, "validate"):
            self.module.validate(params)

    def learning_rule(self, params: Parameters) -> StandardSTDP | None:
        """The module's rule of ``input_to_exc`` (None: D&C's, by ``stdp.rule``)."""
        rule = getattr(self.module, "learning_rule", None)
        found = None if rule is None else rule(params)
        if found is not None and not isinstance(found, StandardSTDP):
            raise ConfigError(f"{self.where()}: learning_rule(params) returned "
                              f"{type(found).__name__}; return a StandardSTDP (from "
                              "spiking_mnist.models.network) or None for D&C's rule")
        return found

    def max_delay(self, params: Parameters) -> float:
        """The longest synaptic delay (ms): D&C's, or the module's if it says."""
        dc = max(params.input_to_exc.delay_max, params.exc_to_inh.delay,
                 params.inh_to_exc.delay)
        own = getattr(self.module, "max_delay", None)
        return dc if own is None or self.packaged else max(dc, float(own(params)))

    def build(self, sim, params: Parameters, n_inputs: int, learning_synapse,
              masks=None, connectors=None, cell_types=None):
        """The module's ``build``; ``masks`` go to D&C's only (the hierarchy's copies)."""
        if self.packaged:
            return diehl_cook.build(sim, params, n_inputs, learning_synapse, masks,
                                    connectors, cell_types)
        if masks:
            raise ConfigError(f"{self.where()}: masks are given to D&C's network only")
        return self.module.build(sim, params, n_inputs, learning_synapse,
                                 connectors=connectors, cell_types=cell_types)

    def where(self) -> str:
        return f"network module {self.file}" if self.file else f"network {self.name}"


#: D&C's winner-take-all network, the package's own network module
DIEHL_COOK = NetworkModel(diehl_cook.MODEL, diehl_cook)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_model(path: str | Path | None) -> NetworkModel:
    """The network module in the Python file ``path`` (None: D&C's), imported and checked
    against the interface (see the module docstring) before anything is built.

    Raises
    ------
    ConfigError
        If the file is missing, does not import, or lacks what the interface requires,
        saying what.
    """
    if path is None:
        return DIEHL_COOK
    path = Path(path).resolve()
    if not path.is_file() or path.suffix != ".py":
        raise ConfigError(f"--model {path}: no such Python file; give the .py file of a "
                          "network module (see docs/your-own-network.md)")
    name = path.stem
    if name == diehl_cook.MODEL or not name.isidentifier():
        raise ConfigError(f"--model {path}: name the file as a Python module other than "
                          f"{diehl_cook.MODEL!r} (letters, digits, underscores)")
    spec = importlib.util.spec_from_file_location(f"spiking_mnist_user_model.{name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ConfigError(f"--model {path} does not import: {type(err).__name__}: {err}") \
            from None
    sys.modules.pop(spec.name, None)
    model = NetworkModel(name, module, path, file_digest(path), _own_sections(module, path))
    _check_module(model)
    return model


def _own_sections(module: ModuleType, path: Path) -> dict:
    """The sections of the module's ``PARAMETERS`` file; new sections only."""
    declared = getattr(module, "PARAMETERS", None)
    if declared is None:
        return {}
    file = path.parent / str(declared)
    if not file.is_file():
        raise ConfigError(f"network module {path}: PARAMETERS = {declared!r}, but there is "
                          f"no {file}; write the parameter file or remove PARAMETERS")
    sections = parse_parameter_file(file.read_text(), str(file))
    clash = sorted(set(sections) & set(load_defaults(diehl_cook.MODEL).section_names()))
    if clash:
        raise ConfigError(f"{file} declares [{'], ['.join(clash)}], which D&C's parameters "
                          "already have; declare new sections only (change D&C's values "
                          "with --config or --set)")
    return sections


def _check_module(model: NetworkModel) -> None:
    """Refuse a module without a ``build`` of the interface's arguments, or with optional
    names that are not callables."""
    where = model.where()
    build = getattr(model.module, "build", None)
    if not callable(build):
        raise ConfigError(f"{where} has no build(sim, params, n_inputs, learning_synapse, "
                          "connectors=None, cell_types=None): define it to return the "
                          "network's populations and projections (see "
                          "docs/your-own-network.md)")
    parameters = inspect.signature(build).parameters
    missing = [a for a in BUILD_ARGUMENTS if a not in parameters]
    if missing:
        raise ConfigError(f"{where}: build takes no {', '.join(missing)}; its arguments "
                          f"must be ({', '.join(BUILD_ARGUMENTS)})")
    for optional in ("learning_rule", "validate", "max_delay"):
        if hasattr(model.module, optional) and not callable(getattr(model.module, optional)):
            raise ConfigError(f"{where}: {optional} must be a function of params")


def check_roles(network: Any, model: NetworkModel) -> None:
    """Refuse a built network that lacks a role (:data:`ROLES`) or whose learning
    projection does not join ``inputs`` to ``excitatory``."""
    missing = [role for role in ROLES if getattr(network, role, None) is None]
    if missing:
        raise ConfigError(
            f"{model.where()}: build returned a network without {', '.join(missing)}; "
            "return an object whose attributes name its populations and projections, with "
            "inputs (the spike sources), excitatory (the population that learns, is "
            "labelled and holds theta), inhibitory (the population that inhibits it) and "
            "input_to_exc (the projection inputs -> excitatory made with learning_synapse)")
    projection = network.input_to_exc
    if projection.pre is not network.inputs or projection.post is not network.excitatory:
        raise ConfigError(f"{model.where()}: input_to_exc must join inputs to excitatory "
                          f"(it joins {projection.pre.label} to {projection.post.label})")


def model_of_checkpoint(name: str, model_file: str | None, sha256: str | None,
                        given: NetworkModel) -> None:
    """Refuse ``given`` for a run made by network ``name`` from ``model_file`` (None:
    D&C's) whose contents had digest ``sha256``: a run continues, is tested and mapped with
    the network that made it."""
    if model_file is None:
        if not given.packaged:
            raise ConfigError(f"this run is D&C's network, not {given.file}; leave out "
                              "--model")
        return
    if given.packaged:
        raise ConfigError(f"this run was made by the network module {model_file}; give it "
                          f"with --model {model_file} (a module is never imported because "
                          "a run directory names it)")
    if given.sha256 != sha256:
        raise ConfigError(f"this run was made by the network module {model_file} "
                          f"(sha256 {sha256[:12]}...), and --model {given.file} differs "
                          f"(sha256 {given.sha256[:12]}...); give the module that made it, "
                          "unchanged, or train a new run")
