"""The NEST profile: how the embedded default backend runs a network built from ``models/``.

Translation of roles to NEST:

=========================  ==================================================================
role                       on NEST
=========================  ==================================================================
excitatory neuron          PyNN ``IF_cond_exp`` as ``iaf_cond_exp_fixed_step`` (this project's NEST
                           module: ``iaf_cond_exp``'s equations with a fixed step, see
                           :mod:`.nest_extension`) or, with ``simulation.cell_integration =
                           adaptive``, NEST's ``iaf_cond_exp``; homeostatic theta on the
                           host, written into ``V_th`` after each run, or (``theta.kept =
                           cells``) raised by each fixed-step cell at each of its spikes
inhibitory neuron          the same as the excitatory neuron
input spike source         PyNN ``SpikeSourceArray`` as NEST's ``spike_train_injector``: one
                           node per input that sends its own spikes (PyNN builds a
                           ``spike_generator`` device per thread and a ``parrot_neuron``
                           relay per input), spike times one step later than PyNN's
                           generator, so targets get each spike when they would through the
                           relay
input -> excitatory STDP   by ``stdp.rule`` (:data:`STDP_RULES`): ``triplet_all_to_all``,
                           D&C's rule with traces summed over all spikes (D&C reset them to
                           1): onto the fixed-step cell this project's ``stdp_dc_synapse``
                           (``all_to_all``), onto NEST's cells NEST's
                           ``stdp_triplet_synapse`` with only the pair depression
                           (``Aminus``) and triplet potentiation (``Aplus_triplet``) terms;
                           ``nearest_spike``, ``stdp_dc_synapse``: D&C's rule
                           as their code states it (its header says what still differs);
                           ``power_law``, ``exponential`` and ``pre_and_post``, this
                           project's ``stdp_trace_synapse``: the other rules D&C compared;
                           with ``simulation.input_delivery = dense`` (the default) all
                           these rules (and static testing synapses) onto fixed-step cells are
                           instead kept beside the cells (the module's ``DenseInput``: a
                           matrix of weights, delays and rule state that the cells read the
                           input trains through), when every input drives every cell: the
                           same network without a NEST event per synapse
=========================  ==================================================================

A network module whose learning rule is PyNN's standard STDP
(:class:`~spiking_mnist.models.network.StandardSTDP`, :data:`NestBackend.standard_stdp`)
gets PyNN's ``STDPMechanism`` on NEST, ``stdp_synapse``, whose weights are read, written
and normalised through NEST's connection dictionaries.

With ``network.synapses = "current"`` both cell types are PyNN ``IF_curr_exp``
(``iaf_psc_exp``, integrated exactly). PyNN passes native synapse parameters and weights
through unconverted, so everything given to the STDP synapse is in NEST units
(nS, or pA with current synapses). Input weights are read and written through the
project's NEST module (:class:`.nest_extension.KernelConnections`, in place: ~15 ns per connection
against ~5 us for ``Projection.get``/``set``), which is also installed with NEST's own cell.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from pyNN.standardmodels import build_translations

from spiking_mnist.hardware import nest_extension
from spiking_mnist.hardware.backend import Backend, BackendError
from spiking_mnist.models.network import StandardSTDP
from spiking_mnist.models.parameters import ConfigError

NAME = "nest"
#: PyNN's names of the signals a recording may ask for -> NEST's ``iaf_cond_exp`` recordables
SIGNALS = {"v": "V_m", "gsyn_exc": "g_ex", "gsyn_inh": "g_in"}


@dataclass(frozen=True)
class StdpRule:
    """How NEST runs one ``stdp.rule``: its synapse model, the model's parameters from the
    ``[stdp]`` section ``s`` and the NEST units ``g`` of one dimensionless weight, and the
    excitatory cells' parameters it needs; ``fixed_step_cell``: it runs only onto this
    project's fixed-step conductance cell."""

    synapse_model: str
    synapse: Callable[..., dict]
    cells: Callable[..., dict]
    fixed_step_cell: bool = False
    #: how NEST runs the rule onto its own cells, for a rule that runs faster onto the
    #: fixed-step cell (None: it runs only there)
    other_cells: "StdpRule | None" = None


def stdp_rule(name: str, fixed_step_cell: bool) -> StdpRule:
    """How NEST runs ``stdp.rule`` ``name`` onto the fixed-step conductance cell
    (``fixed_step_cell``) or onto NEST's own cells."""
    rule = STDP_RULES[name]
    return rule.other_cells if rule.other_cells and not fixed_step_cell else rule


def _trace_rule(s, g: float, weight_dependence: str, depression: bool) -> dict:
    """``stdp_trace_synapse``'s parameters for one of D&C's presynaptic-trace rules, in NEST
    units of ``g`` per dimensionless weight: a power-law change nu * (...) * (w_max - w)^mu
    is g^(1 - mu) times itself in those units, an exponential one nu * (...) * exp(-beta w)
    g times, with beta / g."""
    scale = g if weight_dependence == "exponential" else g ** (1.0 - s.mu)
    return dict(tau_pre=s.tau_pre, tau_post=s.tau_post1, x_tar=s.x_tar, mu=s.mu,
                beta=s.beta / g, Wmax=s.w_max * g,
                nu_post=s.nu_post * scale, nu_pre=s.nu_pre * scale if depression else 0.0,
                exponential=weight_dependence == "exponential")


def _dc_rule(s, g: float) -> dict:
    """``stdp_dc_synapse``'s parameters for D&C's triplet rule, in NEST units of ``g`` per
    dimensionless weight."""
    return dict(tau_pre=s.tau_pre, tau_post1=s.tau_post1, tau_post2=s.tau_post2,
                nu_pre=s.nu_pre * g, nu_post=s.nu_post * g, Wmax=s.w_max * g)


#: ``stdp.rule`` -> how NEST runs it
STDP_RULES = {
    # D&C's triplet rule with traces summed over all spikes: this project's stdp_dc_synapse
    # onto the fixed-step cell; onto other cells NEST's stdp_triplet_synapse with D&C's two
    # terms, Aminus * post1 at a presynaptic spike and Aplus_triplet * pre * post2 at a
    # postsynaptic one, the cells keeping the post traces (the same rule: ~22 % more per
    # synaptic event at N=400, benchmarks/nest_costs.py --stdp)
    "triplet_all_to_all": StdpRule(
        "stdp_dc_synapse",
        lambda s, g: dict(_dc_rule(s, g), all_to_all=True,
                          potentiate_on_read=s.potentiation == "post_spike"),
        lambda s: {}, fixed_step_cell=True,
        other_cells=StdpRule(
            "stdp_triplet_synapse",
            lambda s, g: dict(tau_plus=s.tau_pre,
                              tau_plus_triplet=s.tau_pre,  # unused: Aminus_triplet is 0
                              Aplus=0.0, Aplus_triplet=s.nu_post * g,
                              Aminus=s.nu_pre * g, Aminus_triplet=0.0, Wmax=s.w_max * g),
            lambda s: dict(tau_minus=s.tau_post1, tau_minus_triplet=s.tau_post2))),
    "nearest_spike": StdpRule(
        "stdp_dc_synapse",
        lambda s, g: dict(_dc_rule(s, g), all_to_all=False),
        lambda s: {}, fixed_step_cell=True),
    # the presynaptic-trace rules; a power-law weight change scales as weight^(1 - mu)
    "power_law": StdpRule(
        "stdp_trace_synapse",
        lambda s, g: _trace_rule(s, g, "power_law", depression=False),
        lambda s: {}, fixed_step_cell=True),
    "exponential": StdpRule(
        "stdp_trace_synapse",
        lambda s, g: _trace_rule(s, g, "exponential", depression=False),
        lambda s: {}, fixed_step_cell=True),
    "pre_and_post": StdpRule(
        "stdp_trace_synapse",
        lambda s, g: _trace_rule(s, g, "power_law", depression=True),
        lambda s: {}, fixed_step_cell=True),
}


def _connection_values(connections, key: str) -> list:
    """``connections.get(key)`` minus the emptiness check PyNEST makes on every call: a full
    ``GetKernelStatus``, which cost 85 % of training time at N=100 and grows with the run."""
    from nest import nestkernel_api
    return [status[key] for status in nestkernel_api.llapi_get_connection_status(
        connections._datum)]


def _set_connection_values(connections, key: str, values) -> None:
    """``connections.set({key: values})`` minus PyNEST's kernel-status checks (see above)."""
    from nest import nestkernel_api
    nestkernel_api.llapi_set_connection_status(connections._datum,
                                               [{key: v} for v in values])


def _set_node_values(nodes, values: list[dict]) -> None:
    """``nodes.set(values)`` (one dict per node) minus PyNEST's status reads on every call
    (which nodes are local, the first node's whole status: ~10 ms at N=400)."""
    from nest import nestkernel_api
    nestkernel_api.llapi_set_nc_status(nodes._datum, values)


def _node_ids(nodes) -> list[int]:
    """``NodeCollection.tolist()`` from NEST's array of node IDs: NEST 3.10 reads every
    node's whole status for it (~3 ms for 784 inputs), and PyNN calls it for each target it
    connects (1,200 times for an N=400 network: half of building it)."""
    from nest import nestkernel_api
    return [int(i) for i in nestkernel_api.llapi_node_collection_to_array(nodes._datum, "all")] \
        if len(nodes) else []


def _not_synaptic_current_init(record: logging.LogRecord) -> bool:
    """Drop PyNN's warning that NEST refuses initial synaptic currents: IF_curr_exp asks for
    0, which NEST starts from anyway, and PyNN logs it for every population; and its three
    lines saying it chose ``stdp_synapse`` for PyNN's standard STDP, at every build."""
    message = record.getMessage()
    return not (message.startswith("NEST does not allow setting an initial value for I_syn")
                or message.startswith(("Several STDP models are available",
                                       "By default, stdp_synapse"))
                or message == "stdp_synapse")


def import_pynn_nest():
    """``pyNN.nest`` without NEST's banner and PyNN's extension-build warning.

    PyNN tries to build its NEST extensions at import and warns that ``nest-config`` is
    missing, or that building failed; the extensions are not used here. NEST's
    ``NodeCollection.tolist`` is replaced by :func:`_node_ids` (the same list, without a
    status read per node).
    """
    os.environ.setdefault("PYNEST_QUIET", "1")
    logging.getLogger("PyNN").addFilter(_not_synaptic_current_init)
    # PyNN's own NEST calls use APIs NEST 3.10 deprecates; nothing a user can act on
    warnings.filterwarnings("ignore", category=UserWarning,
                            message=r"\s*(Provided for backward compatibility|\w+\(\) is deprecated)")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cannot find nest-config")
        warnings.filterwarnings("ignore", message="Unable to build")
        # in an activated environment PyNN finds the wheel's nest-config and tries to build
        # them with the compiler NEST was built with, which is not on the user's machine
        warnings.filterwarnings("ignore", message="Problem running cmake")
        warnings.filterwarnings("ignore", message="Unable to compile NEST extensions")
        try:
            import pyNN.nest as sim
            import nest
        except ImportError as err:
            raise BackendError(f"NEST cannot be imported ({err}); install it with "
                               "`pip install nest-simulator`") from None
    from nest import nestkernel_api
    if hasattr(nestkernel_api, "llapi_node_collection_to_array"):   # else NEST's own
        nest.NodeCollection.tolist = _node_ids
    return sim, nest


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_warned_threads: set[tuple[int, int]] = set()


def _warn_if_threads_exceed_cores(threads: int) -> None:
    """Once per process: NEST's threads spin while they wait for one another, so threads
    beyond the cores slow every step down (64 threads on 2 cores: ~1 example/s)."""
    cores = available_cores()
    if threads > cores and (threads, cores) not in _warned_threads:
        _warned_threads.add((threads, cores))
        logging.getLogger(__name__).warning(
            "simulation.threads = %d, but this process has %d core(s): NEST's threads spin "
            "while they wait for one another, so threads beyond the cores slow the run down "
            "severely; set simulation.threads=%d or fewer", threads, cores, cores)


def _install_for_weights(nest) -> bool:
    """Install the NEST module only for its weight access (NEST's own cells run); without a
    compiler, weights go through PyNEST, ~300x slower for D&C's input synapses."""
    try:
        nest_extension.install(nest)
        return True
    except BackendError as err:
        logging.getLogger(__name__).warning(
            "%s\nWeights are read through PyNEST instead (~5 us per connection): set "
            "normalisation.full_every=500 to rescale all columns less often", err)
        return False


def fixed_step_cell_type(sim):
    """PyNN's ``IF_cond_exp`` (same parameters and translations) run as ``iaf_cond_exp_fixed_step``,
    which must be installed (:func:`nest_extension.install`)."""
    class IF_cond_exp(sim.IF_cond_exp):
        __doc__ = sim.IF_cond_exp.__doc__
        nest_name = {"on_grid": "iaf_cond_exp_fixed_step", "off_grid": "iaf_cond_exp_fixed_step"}
    return IF_cond_exp


def injector_source_type(sim):
    """PyNN's ``SpikeSourceArray`` run as ``spike_train_injector``: no per-thread generator
    device and no parrot relay to update at every step (see the module). Spike times are
    passed through as given; :meth:`NestBackend.set_input_spikes` delays them by the relay's
    step."""
    class SpikeSourceArray(sim.SpikeSourceArray):
        __doc__ = sim.SpikeSourceArray.__doc__
        translations = build_translations(("spike_times", "spike_times"))
        nest_name = {"on_grid": "spike_train_injector", "off_grid": "spike_train_injector"}
        uses_parrot = False
    return SpikeSourceArray


class NestBackend(Backend):
    """One NEST simulation: setup, synapse types, input, runs, spike counts and weights.

    ``simulation.cell_integration`` chooses the cells: ``fixed_step`` (this project's
    module, which can keep theta in the cells) or ``adaptive`` (NEST's ``iaf_cond_exp``).
    """

    name = NAME
    #: PyNN's standard STDP on NEST: ``stdp_synapse`` (or ``stdp_synapse_hom``), whose
    #: weight dependences PyNN translates to its ``mu_plus`` and ``mu_minus``
    standard_stdp = {"timing_dependence": ("SpikePairRule",),
                     "weight_dependence": ("AdditiveWeightDependence",
                                           "MultiplicativeWeightDependence",
                                           "AdditivePotentiationMultiplicativeDepression",
                                           "GutigWeightDependence")}

    @classmethod
    def check(cls, params) -> None:
        fixed_step_cell = (params.network.synapses == "conductance"
                           and params.simulation.cell_integration == "fixed_step")
        if params.theta.kept == "cells" and not fixed_step_cell:
            raise ConfigError("theta.kept = cells needs the fixed-step conductance cell "
                              "(network.synapses = conductance, simulation.cell_integration "
                              "= fixed_step); or keep theta on the host: --set theta.kept=host")
        rule = stdp_rule(params.stdp.rule, fixed_step_cell)
        if (params.stdp.rule == "triplet_all_to_all" and params.stdp.potentiation == "post_spike"
                and not fixed_step_cell):
            raise ConfigError("stdp.potentiation = post_spike runs in this project's "
                              "stdp_dc_synapse, onto the fixed-step conductance cell "
                              "(network.synapses = conductance, simulation.cell_integration "
                              "= fixed_step); NEST's stdp_triplet_synapse adds it at the next "
                              "presynaptic spike: --set stdp.potentiation=next_pre_spike")
        if rule.fixed_step_cell and not fixed_step_cell:
            raise ConfigError(f"stdp.rule = {params.stdp.rule} runs as {rule.synapse_model}, "
                              "which keeps its postsynaptic spikes in the fixed-step "
                              "conductance cell (network.synapses = conductance, "
                              "simulation.cell_integration = fixed_step); or --set "
                              "stdp.rule=triplet_all_to_all")

    def __init__(self, simulation, max_delay: float):
        timestep, threads, seed = simulation.timestep, simulation.threads, simulation.seed
        _warn_if_threads_exceed_cores(threads)
        cell_integration = simulation.cell_integration
        self.sim, self._nest = import_pynn_nest()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.sim.setup(timestep=timestep, min_delay=timestep,
                           max_delay=max(max_delay, 2 * timestep), threads=threads,
                           rng_seed=seed, spike_precision="on_grid")
        #: PyNN standard cell type name -> the class that runs it here (see diehl_cook.build)
        self.cell_types = {"SpikeSourceArray": injector_source_type(self.sim)}
        if cell_integration == "fixed_step":
            nest_extension.install(self._nest)
            self.cell_types["IF_cond_exp"] = fixed_step_cell_type(self.sim)
            self._module_installed = True
        else:
            self._module_installed = _install_for_weights(self._nest)
        self.keeps_theta_in_cells = cell_integration == "fixed_step"
        #: input synapses kept beside the cells when the network allows (input_synapse)
        self._dense_wanted = (cell_integration == "fixed_step"
                              and getattr(simulation, "input_delivery", "dense") == "dense")
        self._dense = None            # the nest_extension.DenseInput, once attached
        self._dense_rule = None       # its rule: the module synapse's parameters, or None
        self._dense_model = None      # that synapse model
        self._dense_static = False    # the input projection's synapses are static
        self._feed_injectors = True   # the input nodes also get the spikes (other targets)
        #: input weights are read, written and normalised inside NEST (the module)
        self.normalises_in_place = self._module_installed
        self._kernel = self._kernel_by_column = None
        self._stdp_rule = None   # how the input synapses run D&C's rule (input_synapse)
        self.timestep = timestep
        self._injectors = None
        self._t = 0.0
        self._recorder = None
        self._first_counted = 0
        self._n_columns = 0
        # without the module: per column, its connections and the input (row) of each
        self._columns: list = []
        self._rows: list[np.ndarray] = []
        # with it: all input connections in the kernel's memory order (reading column by
        # column would miss the cache at every connection: 3x slower); for each entry its
        # input (row) and column, and for each column where its entries are
        self._kernel_rows = self._kernel_columns = np.zeros(0, dtype=np.int64)
        self._kernel_entries: list[np.ndarray] = []
        self._n_inputs = 0
        self._native_per_unit = 1.0
        self._populations: dict = {}
        self._spike_recorders: dict = {}
        self._meters: dict = {}
        self._recorded: dict[str, list] = {}

    # -- synapse types ------------------------------------------------------------------
    def input_synapse(self, stdp, native_per_unit: float, target: str = "IF_cond_exp"):
        """The input -> excitatory synapse type: D&C STDP by ``stdp.rule``
        (:func:`stdp_rule`: onto the fixed-step cell when ``target``, the PyNN standard
        cell type of the excitatory cells, is ``IF_cond_exp`` and this simulation runs it
        so), or static if ``stdp`` is None; one dimensionless weight is
        ``native_per_unit`` in NEST's units (nS or pA)."""
        self._native_per_unit = native_per_unit
        fixed_step = target == "IF_cond_exp" and "IF_cond_exp" in self.cell_types
        static = self.sim.StaticSynapse(weight=0.0, delay=self.timestep)
        if stdp is None:
            self._dense_static = self._dense_wanted and fixed_step
            return static
        if isinstance(stdp, StandardSTDP):   # PyNN's: NEST's stdp_synapse (PyNN units)
            return stdp.synapse(self.sim, native_per_unit * 1e-3, self.timestep)
        rule = self._stdp_rule = stdp_rule(stdp.rule, fixed_step)
        if self._dense_wanted and rule.synapse_model in nest_extension.SYNAPSE_MODELS:
            # the rule runs beside the cells (attach): the projection's own connections
            # carry no spikes
            self._dense_rule = rule.synapse(stdp, native_per_unit)
            self._dense_model = rule.synapse_model
            return static
        return self.sim.native_synapse_type(rule.synapse_model)(
            weight=0.0, delay=self.timestep, **rule.synapse(stdp, native_per_unit))

    def attach(self, network, stdp, rebuild=None) -> None:
        """Wire the backend's bookkeeping to a built network (once, before the first run);
        NEST changes a network in place, so it never needs ``rebuild``."""
        nest = self._nest
        exc = network.excitatory.node_collection
        if stdp is not None and not isinstance(stdp, StandardSTDP) \
                and (cells := self._stdp_rule.cells(stdp)):
            exc.set(**cells)
        if isinstance(stdp, StandardSTDP):
            # the module scales only its own and D&C's synapse types in place; NEST's
            # stdp_synapse weights are read, scaled and written back through its dictionaries
            self.normalises_in_place = False
        # PyNN's own SpikeSourceArray (a network built without self.cell_types) has a
        # generator and a relay per input: set_input_spikes refuses it
        self._injectors = None if network.inputs.celltype.uses_parrot \
            else network.inputs.node_collection
        self._recorder = nest.Create("spike_recorder")
        nest.Connect(exc, self._recorder)
        self._first_counted = exc[0].global_id
        sources = network.inputs.node_collection
        self._n_inputs, self._n_columns = len(sources), len(exc)
        first_source, first_target = sources[0].global_id, exc[0].global_id
        if not self._module_installed:
            self._columns = [nest.GetConnections(sources, exc[j]) for j in range(len(exc))]
            self._rows = [np.asarray(_connection_values(c, "source")) - first_source
                          for c in self._columns]
        self._excitatory = network.excitatory
        self._populations = {"excitatory": exc, "inhibitory": network.inhibitory.node_collection}
        # populations a model adds beside D&C's (the patch hierarchy's output cells), by label
        self._populations.update({
            p.label: p.node_collection for p in vars(network).values()
            if isinstance(p, self.sim.Population)
            and not any(p is q for q in (network.inputs, network.excitatory,
                                         network.inhibitory))})
        self.sim.run(self.timestep)
        self._t = float(self._nest.biological_time)
        if (self._dense_rule is not None or self._dense_static) \
                and not self._attach_dense(network, sources, exc):
            if self._dense_rule is not None:
                raise BackendError(
                    "the input synapses kept beside the cells need this backend's input "
                    "nodes (build with cell_types=backend.cell_types) and a projection that "
                    "joins every input to every excitatory cell once: run the network with "
                    "one NEST connection per synapse, --set simulation.input_delivery=events")
            self._dense_static = False   # its static connections carry the spikes
        if self._dense is None and self._module_installed:
            # listed once NEST has sorted them, at the first run
            synapse_id = nest.GetDefaults(network.input_to_exc.nest_synapse_model)[
                "synapse_modelid"]
            self._kernel = nest_extension.KernelConnections.of_projection(
                nest, synapse_id, (first_source, len(sources)), (first_target, len(exc)))
            self._kernel_rows = self._kernel.ids[:, 0] - first_source
            self._kernel_columns = self._kernel.ids[:, 1] - first_target
            self._kernel_by_column = self._kernel.columns(self._kernel_columns, len(exc))
            self._kernel_entries = np.split(
                np.argsort(self._kernel_columns, kind="stable"),
                np.cumsum(np.bincount(self._kernel_columns, minlength=len(exc)))[:-1])

    def _attach_dense(self, network, sources, exc) -> bool:
        """Keep the input synapses beside the excitatory cells (``DenseInput``) if the inputs
        are injectors and their projection joins every input to every cell once (else
        False); its own static connections stay, carrying no spikes unless the inputs drive
        other cells too."""
        if self._injectors is None:
            return False
        synapse_id = self._nest.GetDefaults(network.input_to_exc.nest_synapse_model)[
            "synapse_modelid"]
        listed = nest_extension.KernelConnections.of_projection(
            self._nest, synapse_id, (sources[0].global_id, len(sources)),
            (exc[0].global_id, len(exc)))
        if len(listed) != len(sources) * len(exc) or len(np.unique(
                listed.ids[:, 0] * len(exc) + listed.ids[:, 1])) != len(listed):
            return False
        self._feed_injectors = any(
            isinstance(p, self.sim.Projection) and p.pre is network.inputs
            and p is not network.input_to_exc for p in vars(network).values())
        self._dense = nest_extension.DenseInput(self._nest, len(sources), len(exc),
                                                self._dense_rule, self._dense_model)
        # the cells of one thread in neighbouring columns, so that two threads seldom
        # touch neighbouring memory
        vp = np.asarray(exc.get("vp"), dtype=np.int64).reshape(-1)
        self._dense_column = np.empty(len(exc), dtype=np.int64)
        self._dense_column[np.argsort(vp, kind="stable")] = np.arange(len(exc))
        self._dense.attach(_node_ids(exc), self._dense_column)
        self.normalises_in_place = True
        return True

    # -- weights --------------------------------------------------------------------------
    def get_weights(self, columns=None) -> np.ndarray:
        """Input -> excitatory weights (dimensionless), shape (n_inputs, len(columns))."""
        if self._dense is not None:
            cells = self._dense_column if columns is None else self._dense_column[columns]
            return self._dense.get_weights()[:, cells] / self._native_per_unit
        if self._kernel is None:
            columns = range(self._n_columns) if columns is None else columns
            out = np.zeros((self._n_inputs, len(columns)))
            for k, j in enumerate(columns):
                out[self._rows[j], k] = _connection_values(self._columns[j], "weight")
            return out / self._native_per_unit
        index, rows, position = self._kernel_entries_of(columns)
        out = np.zeros((self._n_inputs, self._n_columns if columns is None else len(columns)))
        out[rows, position] = self._kernel.get_weights(index) / self._native_per_unit
        return out

    def set_weights(self, weights: np.ndarray, columns=None) -> None:
        """Write dimensionless weights, shape (n_inputs, len(columns))."""
        native = weights * self._native_per_unit
        if self._dense is not None:
            whole = self._dense.get_weights() if columns is not None \
                else np.empty(self._dense.shape)
            whole[:, self._dense_column if columns is None else self._dense_column[columns]] \
                = native
            self._dense.set_weights(whole)
            return
        if self._kernel is None:
            self._set_columns("weight", native, columns)
            return
        index, rows, position = self._kernel_entries_of(columns)
        self._kernel.set_weights(native[rows, position], index)

    def normalise_in_place(self, column_sum: float, columns=None) -> None:
        """Scale the input weights of ``columns`` (None: all) so that each column sums to
        ``column_sum`` (dimensionless), inside NEST (STDP synapses); needs this
        project's NEST module (:attr:`normalises_in_place`)."""
        selected = None
        if columns is not None:
            selected = np.zeros(self._n_columns, dtype=bool)
            selected[columns] = True
        if self._dense is not None:
            if selected is not None:
                in_columns = np.zeros(self._n_columns, dtype=bool)
                in_columns[self._dense_column] = selected
                selected = in_columns
            self._dense.normalise(column_sum * self._native_per_unit, selected)
            return
        self._kernel_by_column.normalise(column_sum * self._native_per_unit, selected)

    def _kernel_entries_of(self, columns) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """The module's entries for the input connections of ``columns`` (None: all), with
        the input (row) of each and its index in ``columns``."""
        if columns is None:
            return None, self._kernel_rows, self._kernel_columns
        entries = [self._kernel_entries[j] for j in columns]
        index = np.concatenate(entries) if entries else np.zeros(0, dtype=np.int64)
        return index, self._kernel_rows[index], np.repeat(np.arange(len(entries)),
                                                          [len(e) for e in entries])

    def set_delays(self, delays: np.ndarray) -> None:
        """Write input -> excitatory delays (ms), shape (n_inputs, n_excitatory)."""
        if self._dense is not None:   # in steps, rounded as NEST rounds a delay
            steps = np.empty(self._dense.shape)
            steps[:, self._dense_column] = np.floor(np.asarray(delays) / self.timestep + 0.5)
            self._dense.set_delays(steps)
            return
        if self._kernel is None:
            self._set_columns("delay", delays, None)
        else:
            self._kernel.set_delays(delays[self._kernel_rows, self._kernel_columns])

    def _set_columns(self, key: str, values: np.ndarray, columns) -> None:
        columns = range(self._n_columns) if columns is None else columns
        for k, j in enumerate(columns):
            _set_connection_values(self._columns[j], key, values[self._rows[j], k].tolist())

    # -- running --------------------------------------------------------------------------
    def now(self) -> float:
        """Current simulation time (ms); kept here, as asking NEST costs ~20 ms."""
        return self._t

    def set_input_spikes(self, spike_times: list[np.ndarray]) -> None:
        """Schedule the next run's input: per input, spike times (ms) after now."""
        if self._injectors is None:
            raise BackendError("the network's inputs are PyNN's SpikeSourceArray: build it "
                               "with cell_types=backend.cell_types to run them here")
        # one step later: the step PyNN's generator -> parrot relay takes (module docstring)
        t0 = self.now() + self.timestep
        if self._dense is not None:
            # each spike's time stamp as the injector would give it, in time order (inputs
            # in order within a step)
            stamps = np.rint((t0 + np.concatenate(spike_times)) / self.timestep).astype(np.int64)
            inputs = np.repeat(np.arange(len(spike_times)), [t.size for t in spike_times])
            order = np.argsort(stamps, kind="stable")
            self._dense.set_spikes(stamps[order], inputs[order])
            if not self._feed_injectors:
                return
        # an injector keeps its old times, all in the past: only the ones that spike now
        # need new ones (~150 of 784 pixels for one digit)
        active = [i for i, t in enumerate(spike_times) if t.size]
        if active:
            _set_node_values(self._injectors[active],
                             [{"spike_times": (t0 + spike_times[i]).tolist()} for i in active])

    def run(self, duration: float) -> None:
        self._nest.Simulate(duration)
        self._t += duration

    def take_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """Excitatory spikes since the last call: (times ms, neuron index)."""
        times, index = self._take_spikes(self._recorder, self._first_counted)
        if "excitatory" in self._spike_recorders:
            self._recorded["excitatory"].append((times, index))
        return times, index

    # -- recording ------------------------------------------------------------------------
    def record(self, populations, signals, neurons) -> None:
        """Keep, for :meth:`take_recorded`, the spike times of ``populations`` (excitatory,
        inhibitory, or the label of a population a model added) and the ``signals`` (keys of
        :data:`SIGNALS`) of their ``neurons``."""
        nest = self._nest
        unknown = [name for name in populations if name not in self._populations]
        if unknown:
            raise BackendError(f"the network has no population {', '.join(unknown)} to "
                               f"record; it has input, {', '.join(self._populations)}")
        for name in populations:
            nodes = self._populations[name]
            self._spike_recorders[name] = self._recorder if name == "excitatory" else \
                nest.Create("spike_recorder")
            if name != "excitatory":
                nest.Connect(nodes, self._spike_recorders[name])
            self._recorded[name] = []
            missing = [s for s in signals if SIGNALS[s] not in nodes[0].get("recordables")]
            if missing:
                raise BackendError(f"{nodes[0].get('model')} cells have no {', '.join(missing)}"
                                   " (current synapses have no conductances): record "
                                   "spikes, v or theta")
            if signals:
                meter = nest.Create("multimeter", params={
                    "record_from": [SIGNALS[s] for s in signals], "interval": self.timestep})
                nest.Connect(meter, nodes[[i for i in neurons if i < len(nodes)]])
                self._meters[name] = (meter, [(s, SIGNALS[s]) for s in signals])

    def added_populations(self) -> dict[str, int]:
        return {name: len(nodes) for name, nodes in self._populations.items()
                if name not in ("excitatory", "inhibitory")}

    def _take_spikes(self, recorder, first_id: int) -> tuple[np.ndarray, np.ndarray]:
        events = recorder.get("events")
        recorder.n_events = 0
        return (np.asarray(events["times"], dtype=float),
                np.asarray(events["senders"], dtype=np.int64) - first_id)

    def take_recorded(self) -> dict:
        """What :meth:`record` asked for since the last call: ``{population: {"spikes":
        (times ms, neuron index), signal: (times ms, neuron index, values)}}``; signals in
        mV (v) and nS (gsyn_exc, gsyn_inh)."""
        out: dict = {}
        for name, recorder in self._spike_recorders.items():
            first = self._populations[name][0].global_id
            if name != "excitatory":
                self._recorded[name].append(self._take_spikes(recorder, first))
            pieces = self._recorded[name] or [(np.zeros(0), np.zeros(0, dtype=np.int64))]
            out[name] = {"spikes": (np.concatenate([p[0] for p in pieces]),
                                    np.concatenate([p[1] for p in pieces]))}
            self._recorded[name] = []
        for name, (meter, names) in self._meters.items():
            events = meter.get("events")
            meter.n_events = 0
            times = np.asarray(events["times"], dtype=float)
            index = np.asarray(events["senders"], dtype=np.int64) \
                - self._populations[name][0].global_id
            for ours, theirs in names:
                out[name][ours] = (times, index, np.asarray(events[theirs], dtype=float))
        return out

    def set_thresholds(self, v_thresh: np.ndarray) -> None:
        """Excitatory firing thresholds (mV)."""
        _set_node_values(self._excitatory.node_collection,
                         [{"V_th": v} for v in v_thresh.tolist()])

    def keep_theta_in_cells(self, theta: np.ndarray, v_thresh: float, plus: float,
                            tau: float) -> None:
        """Let each excitatory cell raise its threshold ``v_thresh + theta`` (mV) by ``plus``
        (mV) at every spike, ``theta`` decaying with ``tau`` (ms); fixed-step cells only."""
        cells = self._excitatory.node_collection
        if cells[0].get("model") != "iaf_cond_exp_fixed_step":
            raise BackendError("theta kept in the cells needs simulation.cell_integration = "
                               "fixed_step")
        cells.set(V_th=v_thresh, theta_plus=plus, tau_theta=tau, theta=theta.tolist())

    def theta_of_cells(self) -> np.ndarray:
        """The excitatory cells' own theta (mV), see :meth:`keep_theta_in_cells`."""
        return np.asarray(self._excitatory.node_collection.get("theta"), dtype=float)

    def end(self) -> None:
        self.sim.end()
        if self._dense is not None:
            self._dense.free()
            self._dense = None
