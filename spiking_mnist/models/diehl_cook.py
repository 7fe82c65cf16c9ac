"""The Diehl & Cook (2015) winner-take-all network, described once in PyNN.

``inputs`` (one spike source per pixel) -> all-to-all, plastic -> ``excitatory`` (LIF with a
homeostatic threshold theta) -> one-to-one -> ``inhibitory`` -> every other excitatory
neuron (or, with ``network.inhibitory = "shared"``, all excitatory neurons -> one inhibitory
neuron -> all of them: the same inhibition for N + N instead of N + N(N-1) synapses).
Weights are D&C's dimensionless numbers; a weight ``w`` is a conductance jump of
``w * unit_conductance`` or, with ``network.synapses = "current"``, a current jump of the
same charge at the membrane potential ``v_synaptic`` (see :func:`synaptic_unit`). The
homeostatic threshold is kept on the host (see :class:`Homeostasis`), so any backend that
can set a neuron's threshold between runs runs it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .parameters import ConfigError, Parameters

MODEL = "diehl_cook"


@dataclass
class DiehlCookNetwork:
    """The populations and projections of one built network."""

    inputs: Any
    excitatory: Any
    inhibitory: Any
    input_to_exc: Any
    exc_to_inh: Any
    inh_to_exc: Any
    #: projection name -> boolean (pre, post) array of the pairs it connects; every
    #: projection not named here is all-to-all (see :func:`build`)
    masks: dict[str, np.ndarray] = field(default_factory=dict)


def highest_intensity(rate_per_intensity: float, timestep: float) -> float:
    """The largest intensity whose full-scale input (``rate_per_intensity`` Hz per unit) is
    at most one spike per ``timestep`` ms; infinite without an input rate."""
    return math.floor(1000.0 / (timestep * rate_per_intensity)) if rate_per_intensity > 0 \
        else math.inf


def validate(params: Parameters) -> None:
    """Refuse combinations no single value check can see."""
    dt = params.simulation.timestep
    for name in ("presentation", "rest"):
        duration = getattr(params.encoding, name)
        if abs(duration / dt - round(duration / dt)) > 1e-9:
            raise ConfigError(f"encoding.{name} = {duration} ms is not a whole number of "
                              f"time steps of {dt} ms; change one of them")
    for section in ("exc_to_inh", "inh_to_exc"):
        delay = getattr(params, section).delay
        if delay < dt:
            raise ConfigError(f"{section}.delay = {delay} ms is shorter than the time step "
                              f"{dt} ms; a delay must be at least one step")
    if params.input_to_exc.delay_max < dt:
        raise ConfigError(f"input_to_exc.delay_max = {params.input_to_exc.delay_max} ms is "
                          f"shorter than the time step {dt} ms")
    for low, high in (("weight_min", "weight_max"), ("delay_min", "delay_max")):
        if getattr(params.input_to_exc, low) > getattr(params.input_to_exc, high):
            raise ConfigError(f"input_to_exc.{low} is above input_to_exc.{high}")
    if params.input_to_exc.weight_max > params.stdp.w_max:
        raise ConfigError("input_to_exc.weight_max is above stdp.w_max")
    if params.encoding.initial_intensity > params.encoding.max_intensity:
        raise ConfigError("encoding.initial_intensity is above encoding.max_intensity")
    enc = params.encoding
    if enc.max_intensity > highest_intensity(enc.rate_per_intensity, dt):
        raise ConfigError(
            f"encoding.max_intensity = {enc.max_intensity} gives a full-scale input "
            f"{enc.max_intensity * enc.rate_per_intensity:g} Hz, more than one spike per "
            f"{dt} ms time step; lower encoding.max_intensity to at most "
            f"{highest_intensity(enc.rate_per_intensity, dt)} or the time step")


def in_phase(params: Parameters, examples_seen: int) -> Parameters:
    """``params`` with the STDP potentiation rate of the learning phase that
    ``examples_seen`` is in: ``stdp.nu_post``, or ``stdp.nu_post_refine`` from
    ``stdp.refine_from`` examples on (when that is set)."""
    s = params.stdp
    if s.refine_from == 0 or examples_seen < s.refine_from:
        return params
    return params.with_values({"stdp": {"nu_post": s.nu_post_refine}}, "stdp.refine_from")


def cell_parameters(params: Parameters, role: str) -> dict[str, float]:
    """PyNN ``IF_cond_exp`` (or, with current synapses, ``IF_curr_exp``) parameters of
    ``role`` ("excitatory" or "inhibitory").

    The capacitance is chosen so that the leak conductance is ``unit_conductance``:
    then ``tau_m dv/dt = (v_rest - v) + g_e (E_e - v) + g_i (E_i - v)`` with D&C's
    dimensionless ``g`` exactly.
    """
    p = getattr(params, role)
    g_leak_uS = params.network.unit_conductance * 1e-3
    cell = {"cm": p.tau_m * g_leak_uS, "tau_m": p.tau_m, "v_rest": p.v_rest,
            "v_reset": p.v_reset, "v_thresh": p.v_thresh, "tau_refrac": p.tau_refrac,
            "tau_syn_E": p.tau_syn_E, "tau_syn_I": p.tau_syn_I, "i_offset": 0.0}
    if params.network.synapses == "conductance":
        cell.update(e_rev_E=p.e_rev_E, e_rev_I=p.e_rev_I)
    return cell


def cell_type(sim, params: Parameters):
    """The PyNN standard cell type of both populations."""
    return sim.IF_cond_exp if params.network.synapses == "conductance" else sim.IF_curr_exp


def synaptic_unit(params: Parameters, role: str, receptor: str) -> float:
    """One dimensionless D&C weight onto ``role``'s ``receptor`` ("excitatory" or
    "inhibitory") in PyNN units: a conductance (uS) or, with current synapses, the current
    (nA, negative for inhibition) that conductance drives at ``v_synaptic``."""
    g_uS = params.network.unit_conductance * 1e-3
    if params.network.synapses == "conductance":
        return g_uS
    p = getattr(params, role)
    e_rev = p.e_rev_E if receptor == "excitatory" else p.e_rev_I
    return g_uS * (e_rev - p.v_synaptic)


def initial_weights(params: Parameters, n_inputs: int, rng: np.random.Generator) -> np.ndarray:
    """Input -> excitatory weights, shape (n_inputs, n_excitatory), uniform in the set range."""
    p = params.input_to_exc
    return rng.uniform(p.weight_min, p.weight_max, (n_inputs, params.network.n_excitatory))


def input_delays(params: Parameters, n_inputs: int, rng: np.random.Generator) -> np.ndarray:
    """Input -> excitatory delays (ms), shape (n_inputs, n_excitatory), on the time grid."""
    p, dt = params.input_to_exc, params.simulation.timestep
    raw = rng.uniform(p.delay_min, p.delay_max, (n_inputs, params.network.n_excitatory))
    return np.clip(np.round(raw / dt), 1, None) * dt


def inhibition_masks(kind: str, copies: int, k: int) -> dict[str, np.ndarray]:
    """The ``exc_to_inh`` and ``inh_to_exc`` pairs (boolean (pre, post) arrays) of
    ``copies`` winner-take-all networks of ``k`` excitatory neurons side by side (neurons
    ``c k .. (c + 1) k - 1`` make copy ``c``). ``kind`` "paired": each excitatory neuron
    drives its own inhibitory neuron, which inhibits the other neurons of its copy; "shared":
    all neurons of a copy drive one inhibitory neuron, which inhibits all of them (the
    winner too: its own inhibition arrives while it is refractory and outlasts that)."""
    group = np.kron(np.eye(copies, dtype=bool), np.ones((k, 1), dtype=bool))  # (n, copies)
    if kind == "shared":
        return {"exc_to_inh": group, "inh_to_exc": group.T.copy()}
    own = np.eye(copies * k, dtype=bool)
    return {"exc_to_inh": own, "inh_to_exc": (group @ group.T) & ~own}


def build(sim, params: Parameters, n_inputs: int, input_synapse,
          masks: dict[str, np.ndarray] | None = None, connectors: dict | None = None,
          cell_types: dict | None = None) -> DiehlCookNetwork:
    """Create the network with the PyNN module ``sim``.

    ``input_synapse`` is the PyNN synapse type of input -> excitatory: plastic for training,
    static for testing, in units of :func:`synaptic_unit`; its weights and delays are
    installed afterwards from :func:`initial_weights` / :func:`input_delays` or a checkpoint.
    ``masks`` (``input_to_exc``, ``exc_to_inh``, ``inh_to_exc`` -> boolean (pre, post)
    array) keeps only the pairs marked, instead of every input -> every excitatory neuron
    and the inhibition of one winner-take-all (:func:`inhibition_masks`; e.g. the frozen
    copies of :mod:`.patches`); ``exc_to_inh`` has a column per inhibitory neuron.
    ``connectors`` (projection name -> PyNN connector) replaces the rule of a projection by
    an equivalent explicit one, for a backend that needs it (SpiNNaker:
    weights given at creation, see ``hardware/spinnaker.py``). ``cell_types`` (PyNN
    standard cell type name -> class) gives a backend's own implementation of a standard
    cell type, with the same parameters (NEST: ``IF_cond_exp`` integrated with a fixed
    step and ``SpikeSourceArray`` as one node per input, ``hardware/nest.py``).
    """
    n = params.network.n_excitatory
    own = cell_types or {}
    cell = cell_type(sim, params)
    cell = own.get(cell.__name__, cell)
    source = own.get("SpikeSourceArray", sim.SpikeSourceArray)
    masks = {**inhibition_masks(params.network.inhibitory, 1, n), **(masks or {})}
    connectors = connectors or {}
    n_inh = np.shape(masks["exc_to_inh"])[-1]
    shapes = {"input_to_exc": (n_inputs, n), "exc_to_inh": (n, n_inh),
              "inh_to_exc": (n_inh, n)}
    for name, mask in masks.items():
        if name not in shapes or np.shape(mask) != shapes[name] \
                or np.asarray(mask).dtype != bool:
            raise ValueError(f"mask {name!r}: give boolean arrays of shape (pre, post) for "
                             f"{', '.join(f'{k} {v}' for k, v in shapes.items())}")

    def rule(name: str):
        if name in connectors:
            return connectors[name]
        mask = masks.get(name)
        if name == "exc_to_inh" and n_inh == n and mask.sum() == n and mask.diagonal().all():
            return sim.OneToOneConnector()      # the identity, without an n x n comparison
        return sim.ArrayConnector(mask) if mask is not None else sim.AllToAllConnector()
    inputs = sim.Population(n_inputs, source(spike_times=[]), label="inputs")
    excitatory = sim.Population(n, cell(**cell_parameters(params, "excitatory")),
                                initial_values={"v": params.excitatory.v_init},
                                label="excitatory")
    inhibitory = sim.Population(n_inh, cell(**cell_parameters(params, "inhibitory")),
                                initial_values={"v": params.inhibitory.v_init},
                                label="inhibitory")
    input_to_exc = sim.Projection(inputs, excitatory,
                                  rule("input_to_exc"),
                                  input_synapse, receptor_type="excitatory",
                                  label="input_to_exc")
    exc_to_inh = sim.Projection(
        excitatory, inhibitory, rule("exc_to_inh"),
        sim.StaticSynapse(weight=params.exc_to_inh.weight
                          * synaptic_unit(params, "inhibitory", "excitatory"),
                          delay=params.exc_to_inh.delay),
        receptor_type="excitatory", label="exc_to_inh")
    inh_to_exc = sim.Projection(
        inhibitory, excitatory,
        rule("inh_to_exc"),
        sim.StaticSynapse(weight=params.inh_to_exc.weight
                          * synaptic_unit(params, "excitatory", "inhibitory"),
                          delay=params.inh_to_exc.delay),
        receptor_type="inhibitory", label="inh_to_exc")
    return DiehlCookNetwork(inputs, excitatory, inhibitory, input_to_exc, exc_to_inh,
                            inh_to_exc, masks)


class Homeostasis:
    """The adaptive threshold theta (mV) of the excitatory neurons.

    D&C raise theta by ``plus`` at every spike and let it decay with ``tau``. With
    ``theta.kept = host`` theta is updated here after each run from its spike counts
    (:meth:`update`), so within a run a neuron's threshold stays put (D&C: it rises by
    0.05 mV per spike, ~1 mV per showing); with ``cells`` the cells keep it and
    :attr:`theta` is a copy read back after each run.
    """

    def __init__(self, params: Parameters, theta: np.ndarray | None = None):
        p = params.theta
        self._plus, self._tau, self._offset = p.plus, p.tau, p.offset
        self._v_thresh = params.excitatory.v_thresh
        n = params.network.n_excitatory
        self.theta = np.full(n, p.initial) if theta is None else np.asarray(theta, float)
        if self.theta.shape != (n,):
            raise ValueError(f"theta has shape {self.theta.shape}, the network {n} neurons")

    def thresholds(self) -> np.ndarray:
        """Firing thresholds (mV) to give the excitatory neurons."""
        return self._v_thresh + self.theta - self._offset

    def update(self, spike_counts: np.ndarray, elapsed: float) -> None:
        """Decay theta over ``elapsed`` ms, then add ``plus`` per spike."""
        self.theta *= np.exp(-elapsed / self._tau)
        self.theta += self._plus * spike_counts


def normalise_columns(weights: np.ndarray, column_sum: float) -> np.ndarray:
    """Scale each column (one excitatory neuron's inputs) to sum to ``column_sum``."""
    sums = weights.sum(axis=0)
    return weights * (column_sum / np.where(sums > 0, sums, 1.0))


def class_rates(responses: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Each neuron's mean response per class, (n_classes, n_neurons): ``responses`` is
    (n_examples, n_neurons) spike counts, ``labels`` (n_examples,); 0 for a class without
    examples."""
    means = np.zeros((n_classes, responses.shape[1]))
    for c in range(n_classes):
        rows = labels == c
        if rows.any():
            means[c] = responses[rows].mean(axis=0)
    return means


def assign_labels(responses: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Each neuron's class: the one with its highest mean response (D&C).

    ``responses`` is (n_examples, n_neurons) spike counts, ``labels`` (n_examples,). A neuron
    that never fired gets -1 and takes no part in votes.
    """
    means = class_rates(responses, labels, n_classes)
    assigned = means.argmax(axis=0)
    assigned[means.max(axis=0) <= 0] = -1
    return assigned


def predict(responses: np.ndarray, assignments: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """The class whose neurons fired most on average, per example (ties: lowest class)."""
    votes = np.zeros((responses.shape[0], n_classes))
    for c in range(n_classes):
        members = assignments == c
        if members.any():
            votes[:, c] = responses[:, members].mean(axis=1)
    return votes.argmax(axis=1)


#: the least mean response (spikes per example) :func:`predict_likelihood` gives a neuron
#: for a class: one spike in a thousand examples
LIKELIHOOD_FLOOR = 1e-3


def predict_likelihood(responses: np.ndarray, rates: np.ndarray,
                       floor: float = LIKELIHOOD_FLOOR) -> np.ndarray:
    """The most likely class per example (not D&C's): each neuron's count a Poisson
    variable whose mean for class c is its mean response ``rates[c]`` on the labelling
    examples (:func:`class_rates`, floored at ``floor``), the neurons independent and the
    classes equally likely. Unlike the vote it weighs every neuron by how its response
    differs between classes, not only by its best one. Ties: the lowest class."""
    rates = np.maximum(np.asarray(rates, dtype=float), floor)
    return (np.asarray(responses, dtype=float) @ np.log(rates).T
            - rates.sum(axis=1)).argmax(axis=1)
