"""One Neo recording file (a chunk of consecutive examples) as numpy arrays.

The layout read here is the one of ``docs/recordings.md``: one Block with one Segment,
SpikeTrains annotated with ``population`` and ``index``, signals with an ``index`` array
annotation, a ``theta`` IrregularlySampledSignal and the ``examples`` Epoch. Times are in ms.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spiking_mnist.rundir.checkpoint import CheckpointError

UNITS = {"v": "mV", "gsyn_exc": "nS", "gsyn_inh": "nS", "theta": "mV"}


@dataclass(frozen=True)
class Spikes:
    """Spikes of one population: ``times`` (ms) and ``index`` of the neuron that fired, and
    the indices of every ``recorded`` neuron (silent ones included)."""

    times: np.ndarray
    index: np.ndarray
    recorded: np.ndarray

    def between(self, start: float, stop: float) -> Spikes:
        """The spikes in [start, stop) ms."""
        keep = (self.times >= start) & (self.times < stop)
        return Spikes(self.times[keep], self.index[keep], self.recorded)


@dataclass(frozen=True)
class Signal:
    """Samples at ``times`` (ms): ``values`` (samples, neurons) in mV (v, theta) or nS
    (conductances), column j belonging to neuron ``index[j]`` of its population."""

    times: np.ndarray
    values: np.ndarray
    index: np.ndarray

    def column(self, neuron: int) -> np.ndarray | None:
        """The samples of ``neuron``, None if it was not recorded."""
        hits = np.flatnonzero(self.index == neuron)
        return self.values[:, hits[0]] if hits.size else None


@dataclass(frozen=True)
class Examples:
    """The ``examples`` Epoch, one row per showing: its ``start`` and ``duration`` (ms), the
    ``example`` index in the phase, true ``label``, ``predicted`` digit (-1: none, or not the
    example's last showing) and which ``showing`` of the example it is (1 = first)."""

    start: np.ndarray
    duration: np.ndarray
    example: np.ndarray
    label: np.ndarray
    predicted: np.ndarray
    showing: np.ndarray


@dataclass(frozen=True)
class Chunk:
    """The contents of one recording file; ``presentation`` and ``rest`` in ms, ``v_thresh``
    and ``theta_offset`` in mV, ``signals`` keyed by (population, name), ``theta`` (mV) the
    excitatory thresholds' increments sampled at the end of each example, if recorded."""

    path: Path
    phase: str
    image_shape: tuple[int, int]
    presentation: float
    rest: float
    v_thresh: float
    theta_offset: float
    spikes: dict[str, Spikes]
    signals: dict[tuple[str, str], Signal]
    theta: Signal | None
    examples: Examples

    @classmethod
    def from_block(cls, block, path: Path) -> Chunk:
        """Convert a ``neo.Block`` read from ``path``; CheckpointError if it lacks a part."""
        if len(block.segments) != 1:
            raise _invalid(path, f"holds {len(block.segments)} segments, not one")
        segment = block.segments[0]
        epochs = [e for e in segment.epochs if e.name == "examples"]
        if not epochs:
            raise _invalid(path, "has no `examples` Epoch")
        ann = block.annotations
        try:
            return cls(
                path=path, phase=str(ann["phase"]),
                image_shape=tuple(int(n) for n in ann["image_shape"]),
                presentation=float(ann["presentation"]), rest=float(ann["rest"]),
                v_thresh=float(ann["v_thresh"]), theta_offset=float(ann["theta_offset"]),
                spikes=_spikes(segment.spiketrains),
                signals=_signals(segment.analogsignals, path),
                theta=next((_signal(s) for s in segment.irregularlysampledsignals
                            if s.name == "theta"), None),
                examples=_examples(epochs[0]))
        except KeyError as err:
            raise _invalid(path, f"lacks the annotation {err}") from None

    def position(self, example: int) -> int | None:
        """The row of the last showing of ``example`` (index in the phase) in this chunk:
        the one whose excitatory spikes count as its response; None if elsewhere."""
        hits = np.flatnonzero(self.examples.example == example)
        return int(hits[np.argmax(self.examples.showing[hits])]) if hits.size else None

    def input_spikes(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """Input spikes of the showing at ``position`` (all in its presentation): times
        (ms from the showing's start) and pixel indices."""
        start = float(self.examples.start[position])
        spikes = self.spikes["input"].between(start, start + self.presentation + self.rest)
        return spikes.times - start, spikes.index

    def input_image(self, position: int) -> np.ndarray:
        """Input spike counts per pixel of that showing, shape ``image_shape``."""
        _, pixels = self.input_spikes(position)
        return np.bincount(pixels, minlength=int(np.prod(self.image_shape))).reshape(
            self.image_shape)

    def threshold(self, neuron: int, times: np.ndarray, theta: float) -> np.ndarray:
        """Firing threshold (mV) of excitatory ``neuron`` at ``times`` (ms):
        ``v_thresh + theta - theta_offset``. Theta is the recorded one in force then (the
        sample at the end of the previous example; the first sample before it), else the
        given ``theta`` (mV, e.g. the checkpoint's, which is exact while theta is frozen)."""
        samples = None if self.theta is None else self.theta.column(neuron)
        if samples is None:
            in_force = np.full(times.shape, float(theta))
        else:
            after = np.searchsorted(self.theta.times, times, side="right") - 1
            in_force = samples[np.clip(after, 0, None)]
        return self.v_thresh + in_force - self.theta_offset


class FiringRates:
    """Mean firing rate per population over chunks: spikes / (recorded neurons x time shown)."""

    def __init__(self):
        self._spikes: dict[str, int] = {}
        self._neuron_ms: dict[str, float] = {}

    def add(self, chunk: Chunk) -> None:
        shown = float(chunk.examples.duration.sum())
        for population, spikes in chunk.spikes.items():
            self._spikes[population] = self._spikes.get(population, 0) + spikes.times.size
            self._neuron_ms[population] = (self._neuron_ms.get(population, 0.0)
                                           + spikes.recorded.size * shown)

    def hz(self) -> dict[str, float]:
        """Population -> mean rate in Hz."""
        return {p: 1000.0 * n / self._neuron_ms[p] if self._neuron_ms[p] else 0.0
                for p, n in self._spikes.items()}


def _invalid(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"recording {path} {what}, unlike docs/recordings.md; record it "
                           "again with this version")


def _spikes(spiketrains) -> dict[str, Spikes]:
    parts: dict[str, tuple[list, list, list]] = {}
    for train in spiketrains:
        times, index, recorded = parts.setdefault(train.annotations["population"], ([], [], []))
        neuron = int(train.annotations["index"])
        times.append(train.rescale("ms").magnitude)
        index.append(np.full(len(train), neuron))
        recorded.append(neuron)
    return {p: Spikes(np.concatenate(t).astype(float), np.concatenate(i).astype(int),
                      np.array(sorted(r), dtype=int))
            for p, (t, i, r) in parts.items()}


def _signals(analogsignals, path: Path) -> dict[tuple[str, str], Signal]:
    """Signals by (population, name), the runs of one variable (a gap between recorded
    examples starts a new AnalogSignal) joined in time order."""
    runs: dict[tuple[str, str], list[Signal]] = {}
    for signal in analogsignals:
        runs.setdefault((signal.annotations["population"], signal.name), []).append(
            _signal(signal))
    joined = {}
    for key, parts in runs.items():
        if any(not np.array_equal(p.index, parts[0].index) for p in parts):
            raise _invalid(path, f"holds {key[1]} signals of {key[0]} neurons that differ "
                           "in their recorded neurons")
        order = np.argsort([p.times[0] for p in parts])
        joined[key] = Signal(np.concatenate([parts[k].times for k in order]),
                             np.concatenate([parts[k].values for k in order]), parts[0].index)
    return joined


def _signal(signal) -> Signal:
    if signal.name in UNITS:
        signal = signal.rescale(UNITS[signal.name])
    return Signal(signal.times.rescale("ms").magnitude,
                  np.asarray(signal.magnitude, dtype=float).reshape(len(signal.times), -1),
                  np.atleast_1d(signal.array_annotations["index"]).astype(int))


def _examples(epoch) -> Examples:
    ann = epoch.array_annotations
    return Examples(epoch.times.rescale("ms").magnitude, epoch.durations.rescale("ms").magnitude,
                    *(np.atleast_1d(ann[k]).astype(int)
                      for k in ("example", "label", "predicted", "showing")))
