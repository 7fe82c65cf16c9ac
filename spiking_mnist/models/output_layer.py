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

Three ways to learn the weights from the training codes: :func:`from_linear` maps a
logistic regression's weights (:mod:`.readout`) onto the cells, the integrated drive
proportional to the logit; :mod:`.output_training` trains the cells' own discrete-time
dynamics with surrogate gradients; :mod:`.hidden_training` puts ``output.hidden_cells``
cells of the same kind between the coding neurons and the output cells, trained as rate
units (:func:`cell_counts`) with the output cells' logits. Nothing here imports a simulator.
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
METHODS = ("linear", "surrogate", "hidden")


@dataclass(frozen=True)
class OutputWeights:
    """Weights of one output layer: ``weights`` (inputs, 10), thresholds per input spike;
    ``bias`` (10,), Hz of a leak-free cell (see the module). With ``hidden`` (the hidden
    cells' own weights (inputs, cells) and bias) the output cells read hidden cells, which
    read the inputs: ``weights`` is then (hidden cells, 10)."""

    weights: np.ndarray
    bias: np.ndarray
    hidden: "OutputWeights | None" = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights as named arrays (``hidden_weights``, ``hidden_bias`` if hidden)."""
        out = {"weights": self.weights, "bias": self.bias}
        if self.hidden is not None:
            out |= {"hidden_weights": self.hidden.weights, "hidden_bias": self.hidden.bias}
        return out

    @classmethod
    def from_arrays(cls, arrays) -> "OutputWeights":
        """The weights named as :meth:`arrays` names them."""
        hidden = cls(np.asarray(arrays["hidden_weights"]), np.asarray(arrays["hidden_bias"])) \
            if "hidden_weights" in arrays else None
        return cls(np.asarray(arrays["weights"]), np.asarray(arrays["bias"]), hidden)


@dataclass
class NetworkWithOutput(DiehlCookNetwork):
    """A coding network (:class:`~.diehl_cook.DiehlCookNetwork`) with output neurons: one
    group of 10 per method (:data:`METHODS` order), fed by its excitatory neurons or, for a
    method with hidden cells, by those (``hidden``, the methods' hidden cells one after the
    other), which its excitatory neurons feed."""

    output: Any = None
    exc_to_output_excitatory: Any = None
    exc_to_output_inhibitory: Any = None
    hidden: Any = None
    exc_to_hidden_excitatory: Any = None
    exc_to_hidden_inhibitory: Any = None
    hidden_to_output_excitatory: Any = None
    hidden_to_output_inhibitory: Any = None


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


def firing_drive(params: Parameters) -> float:
    """The drive (thresholds over one presentation) a leaky cell needs to fire at all:
    ``presentation / tau_m``."""
    return params.encoding.presentation / params.output.tau_m


def cell_counts(drive: np.ndarray, params: Parameters, smoothing: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """The rate approximation of a cell's spikes over one presentation under an integrated
    ``drive`` (see :func:`integrated_drive`) spread evenly over it, and their derivative
    with respect to the drive: a leaky integrate-and-fire cell under the constant current
    ``J = drive / firing_drive`` (thresholds) fires once per ``tau_m ln(J / (J - 1))`` plus
    its refractory time and half a time step (the mean wait for the next step). With
    ``smoothing`` (thresholds), ``J - 1`` passes through a softplus of that width, so a
    silent cell keeps a gradient (Hunsberger & Eliasmith 2015, "soft LIF")."""
    o, presentation = params.output, params.encoding.presentation
    excess = np.asarray(drive, dtype=float) / firing_drive(params) - 1.0
    if smoothing > 0:
        z = excess / smoothing
        excess = smoothing * np.logaddexp(0.0, z)
        d_excess = np.where(excess > 1e-300, 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0))),
                            0.0)
        excess = np.maximum(excess, 1e-300)
    else:
        d_excess = (excess > 0).astype(float)
    firing = excess > 0
    excess = np.where(firing, excess, 1.0)
    period = o.tau_m * np.log1p(1.0 / excess) + o.tau_refrac + params.simulation.timestep / 2
    spikes = np.where(firing, presentation / period, 0.0)
    d_period = -o.tau_m / (excess * (excess + 1.0)) * d_excess
    return spikes, np.where(firing, -spikes / period * d_period / firing_drive(params), 0.0)


def rate_drive(counts: np.ndarray, output: OutputWeights, params: Parameters) -> np.ndarray:
    """The output cells' integrated drive (images, 10) by the rate approximation, through
    the hidden cells' :func:`cell_counts` if ``output`` has them: the offline readout the
    spiking one approximates."""
    presentation = params.encoding.presentation
    if output.hidden is not None:
        counts = cell_counts(integrated_drive(counts, output.hidden, presentation), params)[0]
    return integrated_drive(counts, output, presentation)


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
    offset = np.quantile(largest, o.linear_silent) - firing_drive(params) / gain \
        if len(largest) else 0.0
    return OutputWeights(gain * coef.T, gain * (intercept - offset) * 1000.0 / presentation)


def connection_list(weights: np.ndarray, unit: float, delay: float,
                    first_output: int = 0, first_input: int = 0) -> np.ndarray:
    """Rows (pre, post, weight, delay) of the non-zero ``weights`` (pre, post) times
    ``unit``, posts counted from ``first_output``, pres from ``first_input``: a
    ``FromListConnector``'s list, which every backend takes (SpiNNaker takes no weight
    arrays)."""
    pre, post = np.nonzero(weights)
    return np.column_stack([pre + first_input, post + first_output, weights[pre, post] * unit,
                            np.full(pre.size, delay)])


def largest_step_input(counts: np.ndarray, outputs: dict[str, OutputWeights],
                       params: Parameters) -> dict[str, dict[str, float]]:
    """Per population (``output``, and ``hidden`` if a method has hidden cells) and
    receptor (``excitatory``, ``inhibitory``), the largest current (nA) its synapses bring
    in one time step on the images whose layer-1 spike ``counts`` (images, inputs) are
    given: a cell spikes at most once a step (its refractory period is no shorter) and
    every output synapse has the same delay, so a step brings at most the weights of the
    cells that spike in the image; hidden cells spike where their rate approximation's
    drive reaches :func:`firing_drive`. 0 with no images."""
    counts = np.asarray(counts, dtype=float)
    if not len(counts):
        return {population: {"excitatory": 0.0, "inhibitory": 0.0} for population in
                ("output", "hidden")[:1 + any(outputs[m].hidden is not None for m in METHODS)]}
    counts = counts.reshape(len(counts), -1)
    active = (counts > 0).astype(float)
    largest: dict[str, list[float]] = {"output": [], "hidden": []}
    for m in METHODS:
        o = outputs[m]
        if o.hidden is None:
            largest["output"].append(_largest(active, o.weights))
            continue
        largest["hidden"].append(_largest(active, o.hidden.weights))
        drive = integrated_drive(counts, o.hidden, params.encoding.presentation)
        largest["output"].append(_largest((drive >= firing_drive(params)).astype(float),
                                          o.weights))
    return {population: {receptor: synaptic_current(params) * max(
                (v[part] for v in values), default=0.0)
                for part, receptor in enumerate(("excitatory", "inhibitory"))}
            for population, values in largest.items() if values}


def _largest(active: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """The largest summed excitatory and inhibitory weight of the ``active`` (images,
    inputs) inputs of an image."""
    return tuple(float((active @ part).max()) for part in split(weights))


def build(sim, params: Parameters, network: DiehlCookNetwork,
          outputs: dict[str, OutputWeights],
          step_input: dict[str, dict[str, float]] | None = None) -> NetworkWithOutput:
    """Add the output neurons of each method in ``outputs`` (:data:`METHODS` order) and the
    hidden cells of those that have them to the coding ``network``, built with the PyNN
    module ``sim``; their weights and bias are given at creation. ``step_input`` (see
    :func:`largest_step_input`) becomes each population's :data:`STEP_INPUT` annotation."""
    missing = [m for m in METHODS if m not in outputs]
    if missing:
        raise ValueError(f"no output weights for {', '.join(missing)}")
    step_input = step_input or {}
    unit, delay = synaptic_current(params), params.simulation.timestep

    def population(bias, label):
        cells = sim.Population(len(bias), sim.IF_curr_exp(**cell_parameters(params, bias)),
                               initial_values={"v": params.output.v_rest}, label=label)
        if label in step_input:
            cells.annotations[STEP_INPUT] = dict(step_input[label])
        return cells

    def project(pre, post, lists, label):
        return {receptor: sim.Projection(pre, post, sim.FromListConnector(
                    np.concatenate(rows), column_names=["weight", "delay"]),
                    sim.StaticSynapse(), receptor_type=receptor, label=f"{label}_{receptor}")
                for receptor, rows in lists.items() if rows}

    output = population(np.concatenate([outputs[m].bias for m in METHODS]), "output")
    direct = {"excitatory": [], "inhibitory": []}
    to_hidden = {"excitatory": [], "inhibitory": []}
    from_hidden = {"excitatory": [], "inhibitory": []}
    hidden_bias = []
    for k, method in enumerate(METHODS):
        o = outputs[method]
        first_hidden = sum(len(b) for b in hidden_bias)
        if o.hidden is not None:
            hidden_bias.append(o.hidden.bias)
            _add_rows(to_hidden, o.hidden.weights, unit, delay, first_hidden)
        _add_rows(from_hidden if o.hidden is not None else direct, o.weights, unit, delay,
                  k * N_CLASSES, first_hidden if o.hidden is not None else 0)
    built = {"output": output}
    for receptor, projection in project(network.excitatory, output, direct,
                                        "exc_to_output").items():
        built[f"exc_to_output_{receptor}"] = projection
    if hidden_bias:
        hidden = built["hidden"] = population(np.concatenate(hidden_bias), "hidden")
        for label, pre, post, lists in (("exc_to_hidden", network.excitatory, hidden,
                                         to_hidden),
                                        ("hidden_to_output", hidden, output, from_hidden)):
            for receptor, projection in project(pre, post, lists, label).items():
                built[f"{label}_{receptor}"] = projection
    return NetworkWithOutput(**vars(network), **built)


def _add_rows(lists: dict, weights: np.ndarray, unit: float, delay: float,
              first_output: int, first_input: int = 0) -> None:
    """Append the connection lists of signed ``weights`` to ``lists`` per receptor."""
    positive, negative = split(weights)
    lists["excitatory"].append(connection_list(positive, unit, delay, first_output,
                                               first_input))
    lists["inhibitory"].append(connection_list(negative, -unit, delay, first_output,
                                               first_input))


def synapse_count(outputs: dict[str, OutputWeights]) -> int:
    """Synapses of the output layers, hidden cells' included: one per non-zero weight
    (excitatory or inhibitory)."""
    return int(sum(np.count_nonzero(o.weights) + (np.count_nonzero(o.hidden.weights)
                                                  if o.hidden is not None else 0)
                   for o in outputs.values()))


def leak_factor(params: Parameters) -> float:
    """The membrane's decay over one time step, exp(-dt / tau_m)."""
    return math.exp(-params.simulation.timestep / params.output.tau_m)
