"""Neo recordings of chosen populations, variables and examples, flushed to disk in chunks.

The layout of the files is documented in ``docs/recordings.md``. A chunk of ``chunk``
recorded examples is held in memory as numpy arrays, then written as one Neo Block with one
Segment, so memory stays bounded however many examples are recorded.
"""
from __future__ import annotations

import ctypes
import dataclasses
import functools
import gc
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spiking_mnist.models.parameters import ConfigError
from spiking_mnist.rundir import files

POPULATIONS = ("input", "excitatory", "inhibitory")
VARIABLES = ("spikes", "v", "gsyn_exc", "gsyn_inh", "theta")
FORMATS = {"nix": ".nix", "pickle": ".pkl"}
M_MMAP_THRESHOLD = -3   # glibc mallopt parameter


@dataclass(frozen=True)
class ExampleSelection:
    """Which example indices of a phase are recorded: all, every n-th, or a set."""

    every: int = 1
    indices: frozenset[int] | None = None

    @classmethod
    def parse(cls, text: str) -> "ExampleSelection":
        """``all``, ``every:N``, or indices and ranges such as ``0-9,15,20``."""
        text = text.strip()
        if text == "all":
            return cls()
        if m := re.fullmatch(r"every:(\d+)", text):
            if int(m[1]) < 1:
                raise ConfigError("--record-examples every:N needs N >= 1")
            return cls(every=int(m[1]))
        indices: set[int] = set()
        for part in text.split(","):
            m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
            if not m or (m[2] is not None and int(m[2]) < int(m[1])):
                raise ConfigError(f"--record-examples {text!r}: write all, every:N, or "
                                  "indices and ranges such as 0-9,15")
            indices.update(range(int(m[1]), int(m[2] or m[1]) + 1))
        return cls(indices=frozenset(indices))

    def __contains__(self, example: int) -> bool:
        if self.indices is not None:
            return example in self.indices
        return example % self.every == 0


@dataclass(frozen=True)
class RecordingPlan:
    """What to record: ``populations`` (of :data:`POPULATIONS`, or labels of populations a
    network module adds), ``variables`` (of
    :data:`VARIABLES`), the ``examples`` selected, the ``neurons`` (indices) whose signals
    are kept, the file ``format`` and the recorded examples per file (``chunk``)."""

    populations: tuple[str, ...]
    variables: tuple[str, ...] = ("spikes",)
    examples: ExampleSelection = ExampleSelection()
    neurons: tuple[int, ...] = tuple(range(10))
    format: str = "nix"
    chunk: int = 1000

    def __post_init__(self):
        unknown = sorted(set(self.variables) - set(VARIABLES))
        if unknown:
            raise ConfigError(f"cannot record variable {', '.join(unknown)}; "
                              f"choose from {', '.join(VARIABLES)}")
        # beside D&C's, the label of a population a network module adds (the backend checks
        # that the network has it before anything is simulated)
        unknown = sorted(p for p in self.populations if p not in POPULATIONS
                         and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p))
        if unknown or not self.populations:
            raise ConfigError(f"cannot record population {', '.join(unknown) or '(none)'}; "
                              f"choose from {', '.join(POPULATIONS)} or the label of a "
                              "population the network module adds")
        if self.format not in FORMATS:
            raise ConfigError(f"unknown recording format {self.format!r}; choose nix or pickle")
        if self.chunk < 1:
            raise ConfigError("--record-chunk must be at least 1 example")

    def for_network(self, network) -> "RecordingPlan":
        """This plan with the neurons a network (``params.network``) has."""
        if network.inhibitory == "shared" and "inhibitory" in self.populations:
            raise ConfigError("with network.inhibitory = shared the inhibitory population is "
                              "one neuron; record the excitatory and input populations, or "
                              "set network.inhibitory=paired")
        return dataclasses.replace(self, neurons=tuple(i for i in self.neurons
                                                       if i < network.n_excitatory))

    @property
    def signals(self) -> tuple[str, ...]:
        """The sampled variables (v, gsyn_exc, gsyn_inh) asked for."""
        return tuple(v for v in self.variables if v in ("v", "gsyn_exc", "gsyn_inh"))

    def backend_populations(self) -> tuple[str, ...]:
        """Populations whose activity the backend records (inputs are known on the host)."""
        return tuple(p for p in self.populations if p != "input")


def block_annotations(params, model: str, image_shape, backend: str) -> dict:
    """What every recorded Block says about the network that made it."""
    return {"model": model, "n_excitatory": params.network.n_excitatory,
            "image_shape": [int(n) for n in image_shape], "backend": backend,
            "timestep": params.simulation.timestep, "presentation": params.encoding.presentation,
            "rest": params.encoding.rest, "v_thresh": params.excitatory.v_thresh,
            "theta_offset": params.theta.offset}


class Recorder:
    """Collects the recorded examples of one phase and writes them to ``run_dir``.

    ``annotations`` (see :func:`block_annotations`) go on every Block. Unless ``fresh`` is
    false (a resumed training), files of an earlier recording of the phase are removed.
    """

    def __init__(self, plan: RecordingPlan, run_dir: Path, phase: str, annotations: dict,
                 fresh: bool = True):
        self.plan, self.phase = plan, phase
        self.directory = Path(run_dir) / "recordings" / phase
        self.directory.mkdir(parents=True, exist_ok=True)
        if fresh:  # a new recording of the phase replaces the old one, whole
            for old in self.directory.glob("chunk-*"):
                old.unlink()
        n = annotations["n_excitatory"]
        self._counts = {"input": int(np.prod(annotations["image_shape"])), "excitatory": n,
                        "inhibitory": n}
        self._annotations = annotations
        self._backend = None
        _tuned_glibc()   # from now on, arrays above 128 KiB get their own mappings
        self._clear()

    def _clear(self) -> None:
        self._spikes = {p: [] for p in self.plan.populations}
        self._signals: dict[tuple[str, str], list] = {}   # (first sample ms, table) runs
        self._epochs: list[tuple] = []
        self._theta: list[tuple[float, np.ndarray]] = []
        self._open: set[int] = set()     # examples waiting for a re-show
        self._finished = 0

    def attach(self, backend) -> None:
        """Take recordings from ``backend``, set up by ``open_network(..., recording=plan)``
        (a new one after each simulation restart)."""
        self._backend = backend
        self._counts.update(backend.added_populations())

    def add_run(self, run, labels: np.ndarray, final: np.ndarray, predicted: np.ndarray,
                theta: np.ndarray | None = None) -> None:
        """Take what the backend recorded during ``run`` (a
        :class:`~spiking_mnist.runners.presentation.SimulatorRun` just done) and keep the showings of
        recorded examples; per showing its ``labels``, whether it is its example's ``final``
        one and the ``predicted`` digit (-1: none); ``theta`` (mV) the excitatory
        thresholds' increments after it. A file is written once it would hold
        ``plan.chunk`` examples, each with all its showings."""
        recorded = self._backend.take_recorded()
        kept = [k for k, s in enumerate(run.showings) if s.example in self.plan.examples]
        if not kept:
            return
        period = run.period
        starts = run.start + np.array(kept) * period
        for k, start in zip(kept, starts):
            s = run.showings[k]
            self._epochs.append((start, period, s.example, labels[k], predicted[k],
                                 s.number + 1, s.intensity))
            (self._open.discard if final[k] else self._open.add)(s.example)
            self._finished += bool(final[k])
            if "input" in self.plan.populations:
                sizes = [t.size for t in run.input_times[k]]
                self._spikes["input"].append((np.concatenate(run.input_times[k]) + start,
                                              np.repeat(np.arange(len(sizes)), sizes)))
        for population, data in recorded.items():
            if "spikes" in self.plan.variables:
                times, index = data["spikes"]
                inside = _inside(times, starts, period)
                self._spikes[population].append((times[inside], index[inside]))
            for signal in self.plan.signals:
                times, index, values = data[signal]
                inside = _inside(times, starts, period, sampled=True)
                self._signals.setdefault((population, signal), []).extend(_regular_runs(
                    times[inside], index[inside], values[inside], self.plan.neurons,
                    self._annotations["timestep"]))
        if "theta" in self.plan.variables and theta is not None:
            self._theta.append((run.start + len(run.showings) * period,
                                np.asarray(theta)[list(self.plan.neurons)]))
        if self._finished >= self.plan.chunk and not self._open:
            self.flush()

    def flush(self) -> Path | None:
        """Write the examples collected so far as one file; None if there were none."""
        if not self._epochs:
            return None
        path = self.directory / f"chunk-{self._epochs[0][2]:06d}{FORMATS[self.plan.format]}"
        _write(self._block(), path, self.plan.format)
        self._clear()
        _release_memory()
        return path

    def _block(self):
        import neo
        import quantities as pq

        epochs = np.array(self._epochs, dtype=float)
        t_start, t_stop = epochs[0, 0], float((epochs[:, 0] + epochs[:, 1]).max())
        block = neo.Block(name=f"{self.phase} examples {int(epochs[0, 2])}-{int(epochs[-1, 2])}",
                          phase=self.phase, **self._annotations)
        segment = neo.Segment(name=block.name)
        block.segments.append(segment)
        for population, pieces in self._spikes.items():
            if not pieces:
                continue
            times = np.concatenate([p[0] for p in pieces])
            index = np.concatenate([p[1] for p in pieces])
            order = np.lexsort((times, index))
            times, index = times[order], index[order]
            bounds = np.searchsorted(index, np.arange(self._counts[population] + 1))
            for i in range(self._counts[population]):
                segment.spiketrains.append(neo.SpikeTrain(
                    times[bounds[i]:bounds[i + 1]], units="ms", t_start=t_start * pq.ms,
                    t_stop=t_stop * pq.ms, population=population, index=i))
        for (population, signal), runs in self._signals.items():
            for first, values in _joined(runs, self._annotations["timestep"]):
                segment.analogsignals.append(neo.AnalogSignal(
                    values, units="mV" if signal == "v" else "nS",
                    sampling_period=self._annotations["timestep"] * pq.ms,
                    t_start=first * pq.ms, name=signal, population=population,
                    array_annotations={"index": np.array(self.plan.neurons)}))
        if self._theta:
            segment.irregularlysampledsignals.append(neo.IrregularlySampledSignal(
                [t for t, _ in self._theta] * pq.ms, np.array([v for _, v in self._theta]),
                units="mV", time_units="ms", name="theta",
                array_annotations={"index": np.array(self.plan.neurons)}))
        segment.epochs.append(neo.Epoch(
            times=epochs[:, 0] * pq.ms, durations=epochs[:, 1] * pq.ms,
            labels=np.array([str(int(k)) for k in epochs[:, 2]]), name="examples",
            array_annotations={"example": epochs[:, 2].astype(int),
                               "label": epochs[:, 3].astype(int),
                               "predicted": epochs[:, 4].astype(int),
                               "showing": epochs[:, 5].astype(int),
                               "intensity": epochs[:, 6].astype(int)}))
        return block


def _inside(times: np.ndarray, starts: np.ndarray, period: float,
            sampled: bool = False) -> np.ndarray:
    """Which ``times`` (ms) lie in a window of sorted ``starts``: (start, start + period] for
    spikes, which NEST stamps at the end of a step, [start, start + period) for ``sampled``
    signals, which multimeters stamp at its start."""
    if not starts.size:
        return np.zeros(times.size, dtype=bool)
    slot = np.searchsorted(starts, times, side="right" if sampled else "left") - 1
    end = starts[np.clip(slot, 0, None)] + period
    return (slot >= 0) & ((times < end - 1e-9) if sampled else (times <= end + 1e-9))


def _regular_runs(times: np.ndarray, index: np.ndarray, values: np.ndarray, neurons,
                  timestep: float):
    """The samples of one run of the simulator as (first sample ms, values (samples,
    neurons)) tables, one per stretch without gaps, so a chunk holds 8 bytes per sample and
    neuron rather than three arrays per sample."""
    column = np.full(max(neurons, default=-1) + 2, -1)
    column[list(neurons)] = np.arange(len(neurons))
    samples = np.unique(times)
    table = np.full((samples.size, len(neurons)), np.nan)
    table[np.searchsorted(samples, times), column[index]] = values
    gaps = np.flatnonzero(np.diff(samples) > 1.5 * timestep) + 1
    for rows in np.split(np.arange(samples.size), gaps):
        if rows.size:
            yield float(samples[rows[0]]), table[rows[0]:rows[-1] + 1]


def _joined(runs: list[tuple[float, np.ndarray]], timestep: float):
    """``runs`` of :func:`_regular_runs`, in time order, with each run that starts one step
    after the previous one ends joined to it: one table per stretch of consecutive
    recorded showings."""
    group: list[np.ndarray] = []
    first = end = 0.0
    for start, table in runs:
        if group and abs(start - end) > 0.5 * timestep:
            yield first, np.concatenate(group)
            group = []
        if not group:
            first = start
        group.append(table)
        end = start + table.shape[0] * timestep
    if group:
        yield first, np.concatenate(group)


def _release_memory() -> None:
    """Free a written Block now and give its pages back to the system. A Neo Block is a
    reference cycle (its segments point back to it), so it would live on until Python's
    next full collection; HDF5 keeps the blocks of a written NIX file on its free lists
    (about 25 MiB); and glibc keeps freed heap pages that NEST's allocations sit above.
    Without this each file added about 250 MiB to peak memory (docs/recordings.md)."""
    gc.collect()
    hdf5 = _hdf5_library()
    if hdf5 is not None:
        hdf5.H5garbage_collect()
    libc = _tuned_glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _tuned_glibc():
    """The C library if it is glibc (whose allocator keeps freed pages), else None. Arrays
    above 128 KiB are then given their own mappings (``M_MMAP_THRESHOLD``), returned to the
    system when freed, rather than glibc's default threshold, which grows to 32 MiB after
    the first large array is freed and leaves a chunk's arrays fragmenting the heap."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        return libc
    except (OSError, AttributeError):   # not glibc: its allocator returns memory itself
        return None


def _hdf5_library():
    """The HDF5 library loaded into this process (by h5py, for NIX files), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/libhdf5" in line
                     and "libhdf5_hl" not in line}
        return ctypes.CDLL(sorted(paths)[0]) if paths else None
    except (OSError, AttributeError):   # no /proc (not Linux) or not a library
        return None


def _write(block, path: Path, fmt: str) -> None:
    """``block`` into ``path`` (replaced if it exists), via a temporary file flushed to disk."""
    import neo

    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    if fmt == "nix":
        io = neo.NixIO(str(tmp), mode="ow")
        try:
            io.write_block(block)
        finally:
            io.close()
    else:
        neo.PickleIO(str(tmp)).write_block(block)
    files.fsync_directory(tmp)          # on disk before it is renamed into place
    tmp.replace(path)
    files.fsync_directory(path.parent)
