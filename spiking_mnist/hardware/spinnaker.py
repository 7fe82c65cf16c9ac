"""The SpiNNaker profile: how sPyNNaker (1!7.x) runs a network built from ``models/``.

Translation of roles to sPyNNaker:

=========================  ==================================================================
role                       on SpiNNaker
=========================  ==================================================================
excitatory neuron          ``IF_cond_exp``; homeostatic theta on the host, written into
                           ``v_thresh`` when the network is built for the next chunk
inhibitory neuron          ``IF_cond_exp``
input spike source         ``SpikeSourceArray``: a whole chunk of examples as one schedule
input -> excitatory STDP   ``PfisterSpikeTriplet`` with ``WeightDependenceAdditiveTriplet``,
                           only the pair depression (``A_minus``) and triplet potentiation
                           (``A3_plus``) terms: the NEST profile's ``triplet_all_to_all``
                           rule, all-to-all traces (sPyNNaker has no nearest-spike triplet
                           rule for ``nearest_spike``). No combined binary exists, so it runs
                           on split cores
                           (``IF_cond_exp_neuron`` + ``synapses_stdp_mad_pfister_triplet_additive``);
                           ``power_law`` and ``pre_and_post`` with ``mu = 1`` and ``x_tar =
                           0``: ``SpikePairRule`` with ``MultiplicativeWeightDependence``
                           (split cores, ``synapses_stdp_mad_pair_multiplicative``); other
                           rules and constants are refused (:func:`unmapped_rule`)
input -> excitatory        ``FromListConnector`` of every pair (or of the model's mask), its
weights and delays         weights and delays in the list: sPyNNaker takes no weight arrays
                           and has no ``Projection.set``
inhibitory -> excitatory   ``FromListConnector`` of the model's mask (D&C: every pair but
                           i -> i): sPyNNaker 7.4's ``ArrayConnector`` counts whole rows per
                           core, so N=400 cannot map; excitatory -> inhibitory likewise when
                           the inhibition is shared (else ``OneToOneConnector``)
neurons per core           :data:`NEURONS_PER_CORE`; 256 makes input rows longer than the
                           254 plastic synapses a row holds
largest input per step     a population annotated with it (``largest_step_input``: nA or uS
                           per receptor, e.g. the hierarchy's output cells) gets it as its
                           ``max_expected_summed_weight``: the ring buffer, and so the 16-bit
                           weight grid, sized by it instead of sPyNNaker's estimate from
                           assumed rates (:func:`size_ring_buffers`)
=========================  ==================================================================

A network module whose learning rule is PyNN's standard STDP
(:class:`~spiking_mnist.models.network.StandardSTDP`) gets sPyNNaker's ``STDPMechanism``
of it (:data:`SpinnakerBackend.standard_stdp`); the preflight checks its binary.

A SpiNNaker network cannot be changed in place, so the backend keeps the state the runners
set (weights, delays, thresholds, input schedule) on the host and builds the network anew,
from the same ``models/`` description, at the first :meth:`SpinnakerBackend.run` after a
change: a chunk of examples is one build and one mapping. Weights are read back after a run.
On a virtual board a run maps the network and generates its data but nothing executes.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time

import numpy as np
from spynnaker.pyNN.models.populations import Population
from spynnaker.pyNN.models.projection import Projection

from spiking_mnist.hardware.backend import Backend, BackendError
from spiking_mnist.hardware import spinnaker_binaries, spinnaker_config, spinnaker_resources
from spiking_mnist.models.network import STEP_INPUT, StandardSTDP

NAME = "spinnaker"
#: most neurons of each population on one core (see the table above)
NEURONS_PER_CORE = {"excitatory": 200, "inhibitory": 200}
#: sPyNNaker multiplies conductances (uS) by this before holding them as S16.15 numbers
CONDUCTANCE_SCALE = 1024.0
S1615_STEP = 2.0 ** -15
#: largest relative rounding of an STDP amplitude on the board that is accepted
MAX_ROUNDING = 0.05

SPINNAKER_LOGGERS = ("spinn_utilities", "spinn_machine", "spinnman", "pacman",
                     "spinn_front_end_common", "spynnaker")

log = logging.getLogger("spiking_mnist.spinnaker")



#: ``stdp.rule`` values the board runs with a multiplicative pair rule (see :func:`unmapped_rule`)
PAIR_RULES = ("power_law", "pre_and_post")


def unmapped_rule(stdp) -> str | None:
    """Why sPyNNaker cannot run the input STDP rule ``stdp`` (a ``[stdp]`` section), or None.

    The board runs ``triplet_all_to_all`` (``PfisterSpikeTriplet``) and, of D&C's
    presynaptic-trace rules, those its ``SpikePairRule`` (traces summed over all spikes, as
    D&C's) with ``MultiplicativeWeightDependence`` (``A_plus * (w_max - w)``, ``A_minus * w``)
    is: ``power_law`` and ``pre_and_post`` with ``mu = 1`` and ``x_tar = 0``.
    """
    rule = stdp.rule
    if rule == "triplet_all_to_all" and stdp.potentiation == "post_spike":
        return ("stdp.potentiation = post_spike has no sPyNNaker equivalent: the board "
                "applies a postsynaptic spike's potentiation when the synapse's next "
                "presynaptic spike arrives, so weights read between examples lack it; --set "
                "stdp.potentiation=next_pre_spike")
    if rule == "triplet_all_to_all":
        return None
    if rule == "nearest_spike":
        return ("stdp.rule = nearest_spike is D&C's nearest-spike triplet rule, which "
                "sPyNNaker lacks: its SpikeNearestPairRule resets traces to 1 but is a pair "
                "rule (its potentiation has no factor post2, the slow postsynaptic trace "
                "just before the spike), and its PfisterSpikeTriplet has that factor but "
                "sums its traces over all spikes; --set stdp.rule=triplet_all_to_all runs "
                "the latter")
    if rule == "exponential":
        return ("stdp.rule = exponential needs an exponential weight dependence, which "
                "sPyNNaker lacks (it has additive and multiplicative ones, and no target "
                "trace x_tar); --set stdp.rule=triplet_all_to_all, or pre_and_post with "
                "--set stdp.mu=1 --set stdp.x_tar=0 (SpikePairRule with "
                "MultiplicativeWeightDependence)")
    if stdp.mu != 1 or stdp.x_tar != 0:
        return (f"stdp.rule = {rule} with mu = {stdp.mu} and x_tar = {stdp.x_tar} has no "
                "sPyNNaker equivalent: its SpikePairRule potentiates by A_plus * x_pre, with "
                "no target trace x_tar, and its weight dependences are additive or "
                "multiplicative (mu = 1), not a power law; --set stdp.mu=1 --set "
                f"stdp.x_tar=0 runs {rule} as SpikePairRule with "
                "MultiplicativeWeightDependence, or --set stdp.rule=triplet_all_to_all")
    return None


RECEPTORS = ("excitatory", "inhibitory")


def size_ring_buffers(population) -> None:
    """Give ``population`` its :data:`STEP_INPUT` annotation, if any, as sPyNNaker's
    ``max_expected_summed_weight`` (one value per receptor, the population's weight unit).

    sPyNNaker 7.4 takes it only when a population is created (``additional_parameters``,
    which other simulators refuse); the model names it as an annotation, so it is set on
    the population's vertex here, before the mapping reads it."""
    largest = population.annotations.get(STEP_INPUT)
    if largest is None:
        return
    vertex = population._vertex
    if not hasattr(vertex, "_PopulationVertex__max_expected_summed_weight"):
        raise BackendError(f"this sPyNNaker's {type(vertex).__name__} sizes its ring buffers "
                           "another way; the population's largest input per step cannot "
                           "be given to it")
    vertex._PopulationVertex__max_expected_summed_weight = [
        max(float(largest[r]), 0.0) for r in RECEPTORS]


def stdp_rounding(stdp, nS_per_unit: float) -> list[str]:
    """The STDP amplitudes the board would round by more than :data:`MAX_ROUNDING`.

    sPyNNaker holds the triplet rule's ``A * w_max`` (uS) times :data:`CONDUCTANCE_SCALE`
    as an S16.15 number, for D&C ``nu * unit_conductance``; a multiplicative pair rule's
    ``A`` (``nu``, dimensionless) as one. The rate of a refinement phase
    (``stdp.refine_from``) is checked too, so a run is refused before it learns.
    """
    problems = []
    scale = 1.0 if stdp.rule in PAIR_RULES else nS_per_unit * 1e-3 * CONDUCTANCE_SCALE
    depresses = stdp.rule != "power_law"
    for name in ("nu_pre",) * depresses + ("nu_post",) \
            + (("nu_post_refine",) if stdp.refine_from else ()):
        exact = getattr(stdp, name) * scale
        held = round(exact / S1615_STEP) * S1615_STEP
        if exact > 0 and abs(held - exact) > MAX_ROUNDING * exact:
            problems.append(f"stdp.{name} = {getattr(stdp, name)} becomes {held / exact:.2f} "
                            f"times itself")
    return problems


class SpinnakerBackend(Backend):
    """One sPyNNaker session: the backend contract, with the network rebuilt and mapped
    whenever its state changed between runs."""

    name = NAME
    cell_types: dict = {}
    #: PyNN's standard STDP in sPyNNaker (pair rule, additive or multiplicative weights)
    standard_stdp = {"timing_dependence": ("SpikePairRule",),
                     "weight_dependence": ("AdditiveWeightDependence",
                                           "MultiplicativeWeightDependence")}

    @classmethod
    def check(cls, params) -> None:
        from spiking_mnist.models.parameters import ConfigError
        if params.theta.kept != "host":
            raise ConfigError("SpiNNaker keeps theta on the host (its cells have no "
                              "homeostatic threshold): --set theta.kept=host")
        if reason := unmapped_rule(params.stdp):
            raise ConfigError(reason)

    def __init__(self, simulation, max_delay: float):
        """``simulation.threads``, ``seed`` and ``max_delay`` are not used (nothing random
        runs on the board; sPyNNaker adds delay cores for long delays itself)."""
        if not spinnaker_config.user_files():
            raise BackendError("no sPyNNaker configuration found; choose a machine with "
                               + spinnaker_config.CHOICES)
        import pyNN.spiNNaker as sim
        from spinn_utilities.config_holder import get_config_bool
        for library in SPINNAKER_LOGGERS:  # their INFO lines would drown the runners' own
            logging.getLogger(library).setLevel(logging.WARNING)
        self.sim = sim
        self.timestep = simulation.timestep
        self._rebuild = None
        self._setup()
        self.virtual = bool(get_config_bool("Machine", "virtual_board"))
        self._stdp = None
        self._nS_per_unit = 1.0
        self._split_classes: dict[type, bool] = {}
        self._synapse_cores = 1
        self._n_inputs = self._n = 0
        self._masks: dict[str, np.ndarray] = {}
        self._weights = self._delays = self._thresholds = None
        self._schedule: list[np.ndarray] = []
        self._schedule_start = 0.0      # model time (ms) the schedule is relative to
        self._network = None            # the network mapped in the current session
        self._stale = True              # the host state differs from the mapped network
        self._weights_current = True    # the host weights are those on the board
        self._t = self._built_at = self._taken_until = 0.0
        self._first_run_of_build = False
        self.resources: spinnaker_resources.Resources | None = None
        self.mapping_seconds: float | None = None

    def _setup(self) -> None:
        self.sim.setup(timestep=self.timestep, min_delay=self.timestep)

    # -- synapse types ------------------------------------------------------------------
    def input_synapse(self, stdp, unit_conductance_nS: float, target: str = "IF_cond_exp"):
        """The input -> excitatory synapse type: D&C STDP, or static if ``stdp`` is None
        (onto any ``target`` cell type)."""
        self._stdp, self._nS_per_unit = stdp, unit_conductance_nS
        if stdp is not None and not isinstance(stdp, StandardSTDP) \
                and (problems := stdp_rounding(stdp, unit_conductance_nS)):
            self.end()  # a refused network leaves no sPyNNaker session behind
            if stdp.rule in PAIR_RULES:
                raise BackendError(
                    "SpiNNaker holds a multiplicative rule's rates as fixed-point numbers "
                    f"(steps of 2^-15): {'; '.join(problems)}. Use rates of at least 3.1e-4 "
                    "(10 steps)")
            raise BackendError(
                "SpiNNaker holds STDP steps as fixed-point conductances: at "
                f"network.unit_conductance = {unit_conductance_nS} nS, "
                + "; ".join(problems) + ". Use the SpiNNaker variant (--config "
                "spiking_mnist/models/variants/spinnaker.toml) or raise network.unit_conductance")
        return self._synapse_type()

    def _synapse_type(self):
        sim, s = self.sim, self._stdp
        if s is None:
            return sim.StaticSynapse(weight=0.0, delay=self.timestep)
        if isinstance(s, StandardSTDP):
            return s.synapse(sim, self._uS(1.0), self.timestep)
        if s.rule in PAIR_RULES:
            return sim.STDPMechanism(
                timing_dependence=sim.SpikePairRule(
                    tau_plus=s.tau_pre, tau_minus=s.tau_post1, A_plus=s.nu_post,
                    A_minus=s.nu_pre if s.rule == "pre_and_post" else 0.0),
                weight_dependence=sim.MultiplicativeWeightDependence(
                    w_min=0.0, w_max=self._uS(s.w_max)),
                weight=0.0, delay=self.timestep)
        per_w_max = 1.0 / s.w_max if s.w_max > 0 else 0.0  # sPyNNaker multiplies A by w_max
        return sim.STDPMechanism(
            timing_dependence=sim.extra_models.PfisterSpikeTriplet(
                tau_plus=s.tau_pre, tau_minus=s.tau_post1, tau_x=s.tau_pre,
                tau_y=s.tau_post2, A_plus=0.0, A_minus=s.nu_pre * per_w_max),
            weight_dependence=sim.extra_models.WeightDependenceAdditiveTriplet(
                w_min=0.0, w_max=self._uS(s.w_max), A3_plus=s.nu_post * per_w_max,
                A3_minus=0.0),
            weight=0.0, delay=self.timestep)

    def _uS(self, weights):
        return weights * self._nS_per_unit * 1e-3

    # -- the network ----------------------------------------------------------------------
    def attach(self, network, stdp, rebuild) -> None:
        """Check the network against the installed binaries (before anything is mapped)
        and take its sizes; the network itself is rebuilt with ``rebuild`` for every
        mapping."""
        self._rebuild = rebuild
        try:
            self._plan_cores(network)
        except BackendError:
            self.end()  # a refused network leaves no sPyNNaker session behind
            raise
        self._n_inputs, self._n = network.inputs.size, network.excitatory.size
        self._masks = network.masks
        self._weights = np.zeros((self._n_inputs, self._n))
        self._delays = np.full((self._n_inputs, self._n), self.timestep)
        self._stale = True

    def _plan_cores(self, network) -> None:
        """Run the preflight; choose split or combined cores per cell type and the
        synapse cores of a split one."""
        binaries = spinnaker_binaries.binaries_directory()
        cores = self._population_cores(network)
        kinds = spinnaker_binaries.check(cores, binaries)
        populations = self._neuron_populations(network)
        self._split_classes = {}
        for label, population in populations.items():
            cls = type(population.celltype)
            self._split_classes[cls] = self._split_classes.get(cls, False) \
                or kinds[label] == "split"
        # sPyNNaker sets split cores per cell type: its other populations must split too
        spinnaker_binaries.check([dataclasses.replace(c, combined_capable=False) for c in cores
                                  if self._split_classes[type(populations[c.label].celltype)]],
                                 binaries)
        # sPyNNaker's own estimate of the synapse cores a split population needs
        self._synapse_cores = max([1] + [p._vertex.n_synapse_cores_required
                                         for label, p in populations.items()
                                         if kinds[label] == "split"])

    def _neuron_populations(self, network) -> dict:
        return {p.label: p for p in vars(network).values()
                if isinstance(p, Population) and hasattr(p.celltype, "_model")}

    def _population_cores(self, network) -> list[spinnaker_binaries.PopulationCores]:
        """Each neuron population's cell binary and the merged dynamics of its inputs."""
        incoming: dict[str, list] = {}
        for projection in vars(network).values():
            if isinstance(projection, Projection):
                incoming.setdefault(projection.post.label, []).append(
                    projection._synapse_information.synapse_dynamics)
        out = []
        for label, population in self._neuron_populations(network).items():
            dynamics = incoming.get(label, [])
            suffixes = {d.get_vertex_executable_suffix() for d in dynamics} - {""}
            if len(suffixes) > 1:
                raise BackendError(f"{label} receives {len(suffixes)} kinds of plastic "
                                   f"synapses ({', '.join(sorted(suffixes))}); sPyNNaker runs "
                                   "one per population")
            out.append(spinnaker_binaries.PopulationCores(
                label, os.path.splitext(population.celltype._model.binary_name)[0],
                suffixes.pop() if suffixes else "",
                all(d.is_combined_core_capable for d in dynamics),
                all(d.is_split_core_capable for d in dynamics)))
        return out

    def _connectors(self) -> dict:
        """Explicit connectors holding the host state and the model's pairs (see the table
        above)."""
        pairs = self._masks.get("input_to_exc")
        i, j = np.indices(self._weights.shape).reshape(2, -1) if pairs is None \
            else np.nonzero(pairs)
        rows = np.column_stack([i, j, self._uS(self._weights[i, j]), self._delays[i, j]])
        connectors = {"input_to_exc": self.sim.FromListConnector(rows)}
        if "inh_to_exc" in self._masks:
            connectors["inh_to_exc"] = self.sim.FromListConnector(
                np.argwhere(self._masks["inh_to_exc"]))
        if "exc_to_inh" in self._masks \
                and self._masks["exc_to_inh"].shape[1] != self._n:   # shared: not one-to-one
            connectors["exc_to_inh"] = self.sim.FromListConnector(
                np.argwhere(self._masks["exc_to_inh"]))
        return connectors

    def _map(self) -> None:
        """End the sPyNNaker session and build the network anew with the host state."""
        if not self._weights_current:
            self._read_weights()
        self.sim.end()
        self._setup()
        for cls, split in self._split_classes.items():
            self.sim.set_number_of_synapse_cores(cls, self._synapse_cores if split else 0)
        network = self._rebuild(self.sim, self._synapse_type(), self._connectors())
        for label, population in self._neuron_populations(network).items():
            if label in NEURONS_PER_CORE:
                population.set_max_atoms_per_core(NEURONS_PER_CORE[label])
            size_ring_buffers(population)
        if self._thresholds is not None:
            network.excitatory.set(v_thresh=self._thresholds)
        network.inputs.set(spike_times=self._board_schedule())
        # sPyNNaker 7.4.1 keeps times set after creation as a list, which its partitioner
        # cannot index per core; creation turns them into this object array
        inputs = network.inputs._vertex
        inputs.send_buffer_times = np.array(inputs.send_buffer_times, dtype=object)
        network.excitatory.record("spikes")
        self._network = network
        self._built_at = self._taken_until = self._t
        self._stale, self._first_run_of_build = False, True

    def _board_schedule(self) -> list[list[float]]:
        """The input spikes still to come, in board time (ms after the build's start)."""
        elapsed = self._t - self._schedule_start
        if not self._schedule:
            return [[] for _ in range(self._n_inputs)]
        return [(t[t > elapsed] - elapsed).tolist() for t in self._schedule]

    # -- weights --------------------------------------------------------------------------
    def _read_weights(self) -> None:
        """Take the board's weights (uS) into the host state (dimensionless)."""
        board = self._network.input_to_exc.get("weight", format="array")
        self._weights = np.nan_to_num(np.asarray(board, dtype=float)) / self._uS(1.0)
        self._weights_current = True

    def get_weights(self, columns=None) -> np.ndarray:
        """Input -> excitatory weights (dimensionless), shape (n_inputs, len(columns)): read
        from the board after a run (on a virtual board: as mapped, fixed-point included)."""
        if not self._weights_current:
            self._read_weights()
        return self._weights[:, slice(None) if columns is None else columns].copy()

    @property
    def mapped_network(self):
        """The network (its PyNN populations and projections) of the current mapping, None
        before a run: read its projections' weights as the board holds them."""
        return self._network

    def held_weights(self) -> np.ndarray:
        """The input -> excitatory weights (dimensionless) of the network mapped last, read
        back from the mapping: sPyNNaker's fixed point included (see :meth:`weight_steps`),
        on a virtual board too; the host state is left as it is."""
        if self._network is None:
            raise BackendError("no network is mapped yet: run it first")
        board = self._network.input_to_exc.get("weight", format="array")
        return np.nan_to_num(np.asarray(board, dtype=float)) / self._uS(1.0)

    def weight_steps(self) -> dict[str, dict[str, float]]:
        """The grid (nS) of the weights each population of the mapped network holds, per
        receptor: sPyNNaker keeps a weight as a 16-bit multiple of ``2 ** (shift - 15) /``
        :data:`CONDUCTANCE_SCALE` uS, ``shift`` (its ring buffer's) chosen per population and
        receptor for the largest summed input it expects."""
        if self._network is None:
            raise BackendError("no network is mapped yet: run it first")
        steps = {}
        for label, population in self._neuron_populations(self._network).items():
            shifts = population._vertex.get_ring_buffer_shifts()
            steps[label] = {receptor: 1e3 * 2.0 ** (shift - 15) / CONDUCTANCE_SCALE
                            for receptor, shift in zip(("excitatory", "inhibitory"), shifts)}
        return steps

    def set_weights(self, weights: np.ndarray, columns=None) -> None:
        """Dimensionless weights, shape (n_inputs, len(columns)), for the next build (only
        the pairs the network connects are mapped)."""
        if not self._weights_current:
            self._read_weights()
        self._weights[:, slice(None) if columns is None else columns] = weights
        self._stale = True

    def set_delays(self, delays: np.ndarray) -> None:
        """Input -> excitatory delays (ms), shape (n_inputs, n_excitatory), next build."""
        self._delays = np.asarray(delays, dtype=float).copy()
        self._stale = True

    def set_thresholds(self, v_thresh: np.ndarray) -> None:
        """Excitatory firing thresholds (mV) for the next build."""
        self._thresholds = np.asarray(v_thresh, dtype=float).copy()
        self._stale = True

    # -- running --------------------------------------------------------------------------
    def now(self) -> float:
        """Model time (ms) run so far, over all builds."""
        return self._t

    def set_input_spikes(self, spike_times: list[np.ndarray]) -> None:
        """Schedule the input: per input, spike times (ms) relative to now; a whole chunk of
        examples is one schedule, mapped with the next build."""
        self._schedule = [np.asarray(t, dtype=float) for t in spike_times]
        self._schedule_start = self._t
        self._stale = True

    def run(self, duration: float) -> None:
        """Run ``duration`` ms, first building and mapping the network if its state changed;
        on a virtual board this maps and generates data, and nothing executes."""
        if self._stale:
            self._map()
        began = time.perf_counter()
        self.sim.run(duration)
        if self._first_run_of_build:
            self._first_run_of_build = False
            self.mapping_seconds = time.perf_counter() - began
            resources = spinnaker_resources.measure(set(self._neuron_populations(
                self._network)) | {self._network.inputs.label})
            if resources != self.resources:
                log.info("mapped on SpiNNaker in %.1f s: %s%s", self.mapping_seconds,
                         resources, "; virtual board: nothing executes" if self.virtual else "")
            self.resources = resources
        self._t += duration
        self._weights_current = self._stdp is None

    def take_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(times ms, excitatory neuron index) of the spikes since the last call."""
        if self.virtual:
            raise BackendError("a virtual SpiNNaker board maps the network and generates its "
                               "data but runs nothing, so it has no spikes; use a real "
                               "machine (--board HOST or --spalloc URL) or --backend nest")
        times, index = [np.zeros(0)], [np.zeros(0, dtype=np.int64)]
        if self._network is not None:
            trains = self._network.excitatory.get_data("spikes").segments[-1].spiketrains
            for k, train in enumerate(trains):
                t = self._built_at + np.asarray(train.rescale("ms").magnitude, dtype=float)
                t = t[(t > self._taken_until) & (t <= self._t)]
                times.append(t)
                index.append(np.full(t.size, train.annotations.get("source_index", k)))
        self._taken_until = self._t
        return np.concatenate(times), np.concatenate(index).astype(np.int64)

    def record(self, populations, signals, neurons) -> None:
        raise BackendError("recordings (--record) are made on NEST for now; train or "
                           "evaluate with --backend nest to record")

    def take_recorded(self) -> dict:
        return {}   # nothing is recorded here (see record)

    def end(self) -> None:
        self.sim.end()
