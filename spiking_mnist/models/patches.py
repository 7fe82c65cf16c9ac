"""The patch hierarchy (issue 7): D&C winner-take-all networks on patches, blocks, codes.

Each layer learns as ONE Diehl & Cook network (:mod:`.diehl_cook`: STDP, homeostatic theta,
normalisation) on the inputs of every position of that layer; its weights and theta are then
copied to one frozen node per position and the copies code every image in one network:
``inputs`` -> ``excitatory`` (copies x k, each copy reading its own patch or block through
the shared kernel) -> one-to-one ``inhibitory`` -> the other excitatory neurons of the SAME
copy (``layerN.code_inhibitory = "shared"``: the copy's k excitatory neurons -> one inhibitory
neuron -> all k). A node's code is the spike counts of all its neurons (graded, not only
the winner).
Nothing here imports a simulator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..inputs import encoding
from . import diehl_cook
from .parameters import ConfigError, Parameters, load_defaults

MODEL = "patches"
LAYERS = (1, 2, 3)


@dataclass(frozen=True)
class Grid:
    """Square grid of nodes: ``side`` x ``side`` nodes, each reading ``size`` x ``size``
    cells of an ``input_side`` x ``input_side`` input, ``stride`` cells apart."""

    input_side: int
    size: int
    stride: int

    @property
    def side(self) -> int:
        return (self.input_side - self.size) // self.stride + 1

    @property
    def nodes(self) -> int:
        return self.side ** 2

    def cells(self) -> np.ndarray:
        """Indices (row-major) of the input cells each node reads, shape (nodes, size**2)."""
        offsets = (np.arange(self.size)[:, None] * self.input_side
                   + np.arange(self.size)[None, :]).ravel()
        corners = np.arange(self.side) * self.stride
        starts = (corners[:, None] * self.input_side + corners[None, :]).ravel()
        return starts[:, None] + offsets[None, :]


def grids(params: Parameters) -> tuple[Grid, Grid]:
    """The layer-1 grid of patches over the padded image and the layer-2 grid of blocks over
    the layer-1 grid; refuses a geometry that leaves pixels or nodes uncovered."""
    g = params.geometry
    padded = g.image_side + 2 * g.padding
    first = Grid(padded, g.patch, g.stride)
    if g.patch > padded or (padded - g.patch) % g.stride:
        raise ConfigError(f"patches of {g.patch} pixels every {g.stride} do not tile the "
                          f"{padded}x{padded} padded image; choose geometry.padding, patch and "
                          "stride with (image_side + 2 padding - patch) divisible by stride")
    second = Grid(first.side, g.block, g.block_stride)
    if g.block > first.side or (first.side - g.block) % g.block_stride:
        raise ConfigError(f"blocks of {g.block} nodes every {g.block_stride} do not tile the "
                          f"{first.side}x{first.side} grid of layer-1 nodes; change "
                          "geometry.block or block_stride")
    return first, second


def pad(images: np.ndarray, padding: int) -> np.ndarray:
    """Images (n, side, side) with ``padding`` zero pixels on every side, flattened."""
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding)))
    return padded.reshape(len(images), -1)


def channels(params: Parameters) -> int:
    """Channels layer 1 reads of an image (``encoding.channels``): 1, or 2 for ON and OFF."""
    e = params.encoding
    if e.channels == "intensity":
        return 1
    if e.dog_surround <= e.dog_center:
        raise ConfigError(f"encoding.dog_surround ({e.dog_surround} pixels) must be larger "
                          f"than encoding.dog_center ({e.dog_center} pixels), the surround of "
                          "an ON centre being the wider Gaussian: raise dog_surround or "
                          "lower dog_center")
    return 2


def image_inputs(params: Parameters, images: np.ndarray) -> np.ndarray:
    """The inputs of layer 1's coding network for ``images`` (n, side, side; 0..255): each
    channel (:func:`channels`) padded with ``geometry.padding`` zeros on every side and
    flattened, the channels one after the other, one row per image."""
    if channels(params) == 1:
        return pad(images, params.geometry.padding)
    e = params.encoding
    both = encoding.on_off(images, e.dog_center, e.dog_surround)
    return np.concatenate([pad(both[:, c], params.geometry.padding) for c in range(2)],
                          axis=1)


def layer_inputs(params: Parameters, layer: int) -> int:
    """Inputs of the coding network of ``layer`` (all positions together)."""
    if layer == 1:
        return channels(params) * grids(params)[0].input_side ** 2
    if layer == 2:
        return code_size(params, 1)
    return sum(code_size(params, below) for below in layer3_sources(params))


def code_size(params: Parameters, layer: int) -> int:
    """Counts in the code of layer 1 or 2: nodes x k."""
    first, second = grids(params)
    nodes = {1: first.nodes, 2: second.nodes}[layer]
    return nodes * getattr(params, f"layer{layer}").n_excitatory


def layer3_sources(params: Parameters) -> tuple[int, ...]:
    """The layers whose codes, side by side in this order, are the inputs of layer 3."""
    return {"layer2": (2,), "layer1": (1,), "both": (2, 1)}[params.geometry.layer3_reads]


def receptive_inputs(params: Parameters, layer: int) -> np.ndarray:
    """Which inputs of the coding network each copy of ``layer`` reads, (copies, inputs per
    copy), in the order of the learning network's inputs. Layer 3 has one copy."""
    first, second = grids(params)
    if layer == 1:
        cells = first.cells()           # each channel's patch, the channels side by side
        return np.concatenate([cells + c * first.input_side ** 2
                               for c in range(channels(params))], axis=1)
    if layer == 2:
        k = params.layer1.n_excitatory
        nodes = second.cells()                       # (blocks, block**2) layer-1 nodes
        return (nodes[:, :, None] * k + np.arange(k)).reshape(len(nodes), -1)
    return np.arange(layer_inputs(params, 3))[None, :]


def layer_parameters(params: Parameters, layer: int, coding: bool = False) -> Parameters:
    """The D&C parameters of ``layer``'s learning network, or with ``coding`` of its frozen
    copies (``code_inhibitory``, ``code_inhibition``, ``code_intensity``, n_excitatory =
    copies x k). The lateral delays are one time step (D&C has none), whatever
    ``simulation.timestep``."""
    if layer not in LAYERS:
        raise ConfigError(f"layer {layer}: the hierarchy has layers {LAYERS}")
    p = getattr(params, f"layer{layer}")
    copies = len(receptive_inputs(params, layer)) if coding else 1
    values = {
        "network": {"n_excitatory": p.n_excitatory * copies,
                    "synapses": p.synapses,
                    "inhibitory": p.code_inhibitory if coding else p.inhibitory},
        "normalisation": {"column_sum": p.column_sum},
        "encoding": {"rate_per_intensity": p.rate_per_intensity,
                     "presentation": params.encoding.presentation,
                     "rest": params.encoding.rest},
        "exc_to_inh": {"delay": params.simulation.timestep},
        "inh_to_exc": {"weight": p.code_inhibition if coding else p.inhibition,
                       "delay": params.simulation.timestep},
        "theta": {"plus": p.theta_plus, "tau": p.theta_tau},
        "stdp": {"nu_post": p.nu_post, "refine_from": p.refine_from,
                 "nu_post_refine": p.nu_post_refine},
        "simulation": {"timestep": params.simulation.timestep,
                       "showings_per_run": params.simulation.showings_per_run if coding
                       else p.showings_per_run,
                       "threads": params.simulation.threads, "seed": params.simulation.seed},
        "training": {"examples": p.examples, "validation": params.training.validation,
                     "checkpoint_every": params.training.checkpoint_every,
                     "validate_every": 0},
    }
    # D&C's re-show cap (32), lowered to the most a time step carries (1 spike per step)
    cap = min(32, diehl_cook.highest_intensity(p.rate_per_intensity,
                                                params.simulation.timestep))
    values["encoding"]["max_intensity"] = max(p.code_intensity, cap) if coding else cap
    if coding:
        values["encoding"]["initial_intensity"] = p.code_intensity
    return load_defaults("diehl_cook").with_values(values, f"layer{layer} of patches.toml")


def copied(kernel: np.ndarray, receptive: np.ndarray, n_inputs: int) -> np.ndarray:
    """The (n_inputs, copies x k) weights (or delays) of the coding network: ``kernel``
    (inputs per copy, k) placed at each copy's ``receptive`` inputs, zero elsewhere."""
    copies, k = len(receptive), kernel.shape[1]
    out = np.zeros((n_inputs, copies * k))
    for c, rows in enumerate(receptive):
        out[rows, c * k:(c + 1) * k] = kernel
    return out


def coding_masks(receptive: np.ndarray, n_inputs: int, k: int,
                 inhibitory: str) -> dict[str, np.ndarray]:
    """The pairs that make :func:`diehl_cook.build` a network of frozen copies (its
    ``masks``): each copy's excitatory neurons read only its inputs, and its inhibition
    (``inhibitory``: "paired" or "shared", see :func:`diehl_cook.inhibition_masks`) stays
    inside the copy."""
    reads = copied(np.ones((receptive.shape[1], k)), receptive, n_inputs) > 0
    return {"input_to_exc": reads,
            **diehl_cook.inhibition_masks(inhibitory, len(receptive), k)}


def synapse_counts(params: Parameters) -> dict[str, int]:
    """Synapses of the coding network of each layer (input, exc -> inh, inh -> exc) and
    their total: the whole frozen hierarchy."""
    out = {}
    for layer in LAYERS:
        receptive = receptive_inputs(params, layer)
        copies, fan_in = receptive.shape
        p = getattr(params, f"layer{layer}")
        k = p.n_excitatory
        inhibition = k + k * (k - 1) if p.code_inhibitory == "paired" else 2 * k
        out[f"layer{layer}"] = copies * (fan_in * k + inhibition)
    out["total"] = sum(out.values())
    return out


def code_scale(codes: np.ndarray, quantile: float) -> float:
    """The spike count that becomes a full-scale input of the layer above: ``quantile`` of
    the non-zero counts of ``codes`` (at least 1)."""
    active = codes[codes > 0]
    return max(1.0, float(np.quantile(active, quantile))) if active.size else 1.0


def as_input(codes: np.ndarray, scale: float, compression: str = "linear") -> np.ndarray:
    """Spike counts as input "pixels" of the layer above (0..255, like an image): count /
    ``scale``, clipped at 1, or with ``compression="sqrt"`` its square root."""
    full = np.clip(codes / scale, 0.0, 1.0)
    return (np.sqrt(full) if compression == "sqrt" else full) * 255.0


def normalised(inputs: np.ndarray, total: float) -> np.ndarray:
    """``inputs`` (images, inputs; 0..255) with each image's row scaled to sum to ``total``
    full-scale (255) inputs, clipped at 255; a silent image stays silent."""
    sums = inputs.sum(axis=1, keepdims=True)
    return np.clip(inputs * (255.0 * total / np.where(sums > 0, sums, 1.0)), 0.0, 255.0)
