"""The spiking output layer of the patch hierarchy: 10 output neurons, one per digit, driven
by the excitatory neurons of the frozen layer-1 copies in the same network and read by the
most active output neuron.

An output neuron is a leaky integrate-and-fire cell with current synapses (``IF_curr_exp``,
``[output]`` in ``patches.toml``). Its weights are dimensionless: a weight ``u`` from a
coding neuron delivers, per spike, the charge that moves the membrane ``u`` thresholds
(``u * threshold`` mV, leak aside); a bias ``b`` (Hz) is a constant current that alone would
make a leak-free cell fire ``b`` times a second. Signed weights are split between an
excitatory and an inhibitory projection from the same coding neurons (positive and negative
parts, :func:`split`), the bias is the cells' ``i_offset``. Over one presentation of ``T``
ms the membrane then integrates ``counts @ u + b T / 1000`` thresholds
(:func:`integrated_drive`): the output neurons' rate approximation, linear in the layer-1
spike counts the linear readout reads.

Two ways to learn the weights from the training codes: :func:`from_linear` maps a logistic
regression's weights (:mod:`.readout`) onto the cells, the integrated drive proportional to
the logit; :mod:`.output_training` trains the cells' own discrete-time dynamics with
surrogate gradients. Nothing here imports a simulator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .diehl_cook import DiehlCookNetwork
from .network import STEP_INPUT
from .parameters import Parameters

N_CLASSES = 10
#: ways of learning the output weights, in the order their output neurons are built
METHODS = ("linear", "surrogate")


@dataclass(frozen=True)
class OutputWeights:
    """Weights of one output layer: ``weights`` (inputs, 10), thresholds per input spike;
    ``bias`` (10,), Hz of a leak-free cell (see the module)."""

    weights: np.ndarray
    bias: np.ndarray


@dataclass
class NetworkWithOutput(DiehlCookNetwork):
    """A coding network (:class:`~.diehl_cook.DiehlCookNetwork`) with output neurons: one
    group of 10 per method (:data:`METHODS` order), fed by its excitatory neurons."""

    output: Any = None
    exc_to_output_excitatory: Any = None
    exc_to_output_inhibitory: Any = None


def threshold(params: Parameters) -> float:
    """The distance (mV) from rest (= reset) to the firing threshold of an output cell."""
    return params.output.v_thresh - params.output.v_rest


def cell_parameters(params: Parameters, bias: np.ndarray) -> dict:
    """PyNN ``IF_curr_exp`` parameters of the output cells, with ``bias`` (Hz, one per
    cell) as their constant current ``i_offset`` (nA)."""
    o = params.output
    return {"cm": o.cm, "tau_m": o.tau_m, "v_rest": o.v_rest, "v_reset": o.v_rest,
            "v_thresh": o.v_thresh, "tau_refrac": o.tau_refrac, "tau_syn_E": o.tau_syn,
            "tau_syn_I": o.tau_syn, "i_offset": bias_current(params, bias)}


def bias_current(params: Parameters, bias: np.ndarray) -> np.ndarray:
    """The current (nA) that makes a leak-free output cell fire ``bias`` (Hz)."""
    return np.asarray(bias, dtype=float) / 1000.0 * threshold(params) * params.output.cm


def synaptic_current(params: Parameters) -> float:
    """The peak current (nA) of a dimensionless weight of 1: its exponential current
    (``output.tau_syn``) carries the charge of one threshold, ``cm * threshold``."""
    o = params.output
    return threshold(params) * o.cm / o.tau_syn


def split(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed weights as (excitatory, inhibitory) magnitudes, both >= 0, their difference
    the weights."""
    return np.clip(weights, 0.0, None), np.clip(-weights, 0.0, None)


def integrated_drive(counts: np.ndarray, output: OutputWeights, presentation: float) -> np.ndarray:
    """The rate approximation (images, 10): thresholds an output cell's membrane integrates
    over ``presentation`` ms from the input ``counts`` (images, inputs) and its bias, leak
    aside."""
    return counts @ output.weights + output.bias * presentation / 1000.0


def predict(output_counts: np.ndarray) -> np.ndarray:
    """The digit of the most active output neuron per image ((images, 10) spike counts;
    ties: the lowest digit, a silent layer answers 0)."""
    return np.asarray(output_counts).argmax(axis=1)


def from_linear(coef: np.ndarray, intercept: np.ndarray, train_counts: np.ndarray,
                params: Parameters) -> OutputWeights:
    """Map a linear readout of spike counts (logits ``counts @ coef.T + intercept``;
    ``coef`` (10, inputs) per spike, ``intercept`` (10,)) onto output cells whose integrated
    drive over one presentation is ``output.linear_thresholds_per_logit`` times the logit,
    less one offset for every cell (which keeps the decision): the one that leaves the
    largest logit of a fraction ``output.linear_silent`` of the training images
    (``train_counts``) below the drive a leaky cell needs to fire at all
    (``presentation / tau_m`` thresholds)."""
    o, presentation = params.output, params.encoding.presentation
    gain = o.linear_thresholds_per_logit
    coef, intercept = np.asarray(coef, dtype=float), np.asarray(intercept, dtype=float)
    largest = (train_counts @ coef.T + intercept).max(axis=1)
    offset = np.quantile(largest, o.linear_silent) - presentation / o.tau_m / gain \
        if len(largest) else 0.0
    return OutputWeights(gain * coef.T, gain * (intercept - offset) * 1000.0 / presentation)


def connection_list(weights: np.ndarray, unit: float, delay: float,
                    first_output: int = 0) -> np.ndarray:
    """Rows (pre, post, weight, delay) of the non-zero ``weights`` (pre, post) times
    ``unit``, posts counted from ``first_output``: a ``FromListConnector``'s list, which
    every backend takes (SpiNNaker takes no weight arrays)."""
    pre, post = np.nonzero(weights)
    return np.column_stack([pre, post + first_output, weights[pre, post] * unit,
                            np.full(pre.size, delay)])


def largest_step_input(counts: np.ndarray, outputs: dict[str, OutputWeights],
                       params: Parameters) -> dict[str, float]:
    """Per receptor (``excitatory``, ``inhibitory``), the largest current (nA) the output
    cells' synapses bring in one time step on the images whose layer-1 spike ``counts``
    (images, inputs) are given: a coding neuron spikes at most once a step (its refractory
    period is longer) and every output synapse has the same delay, so a step brings at
    most the weights of the neurons that spike in the image. 0 with no images."""
    counts = np.asarray(counts)
    if not len(counts):
        return {"excitatory": 0.0, "inhibitory": 0.0}
    active = (counts.reshape(len(counts), -1) > 0).astype(float)
    return {receptor: synaptic_current(params) * max(
                float((active @ split(outputs[m].weights)[part]).max()) for m in METHODS)
            for part, receptor in enumerate(("excitatory", "inhibitory"))}


def build(sim, params: Parameters, network: DiehlCookNetwork,
          outputs: dict[str, OutputWeights], step_input: dict[str, float] | None = None
          ) -> NetworkWithOutput:
    """Add the output neurons of each method in ``outputs`` (:data:`METHODS` order) to the
    coding ``network``, built with the PyNN module ``sim``; their weights and bias are
    given at creation. ``step_input`` (see :func:`largest_step_input`) becomes the output
    population's :data:`STEP_INPUT` annotation."""
    missing = [m for m in METHODS if m not in outputs]
    if missing:
        raise ValueError(f"no output weights for {', '.join(missing)}")
    bias = np.concatenate([outputs[m].bias for m in METHODS])
    output = sim.Population(len(bias), sim.IF_curr_exp(**cell_parameters(params, bias)),
                            initial_values={"v": params.output.v_rest}, label="output")
    if step_input is not None:
        output.annotations[STEP_INPUT] = dict(step_input)
    unit, delay = synaptic_current(params), params.simulation.timestep
    lists = {"excitatory": [], "inhibitory": []}
    for k, method in enumerate(METHODS):
        positive, negative = split(outputs[method].weights)
        lists["excitatory"].append(connection_list(positive, unit, delay, k * N_CLASSES))
        lists["inhibitory"].append(connection_list(negative, -unit, delay, k * N_CLASSES))
    projections = {
        receptor: sim.Projection(network.excitatory, output,
                                 sim.FromListConnector(np.concatenate(rows),
                                                       column_names=["weight", "delay"]),
                                 sim.StaticSynapse(), receptor_type=receptor,
                                 label=f"exc_to_output_{receptor}")
        for receptor, rows in lists.items()}
    return NetworkWithOutput(**vars(network), output=output,
                             exc_to_output_excitatory=projections["excitatory"],
                             exc_to_output_inhibitory=projections["inhibitory"])


def synapse_count(outputs: dict[str, OutputWeights]) -> int:
    """Synapses of the output layers: one per non-zero weight (excitatory or inhibitory)."""
    return int(sum(np.count_nonzero(o.weights) for o in outputs.values()))


def leak_factor(params: Parameters) -> float:
    """The membrane's decay over one time step, exp(-dt / tau_m)."""
    return math.exp(-params.simulation.timestep / params.output.tau_m)
