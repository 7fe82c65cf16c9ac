"""``spiking-mnist analyse``: every figure the files of a run allow, and a summary of numbers.

Figures whose inputs are missing are skipped with the command that would produce them.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from spiking_mnist.analysis import figures
from spiking_mnist.analysis.recordings import Chunk, FiringRates
from spiking_mnist.analysis.run_files import PHASES, RunFiles
from spiking_mnist.models.parameters import ConfigError
from spiking_mnist.models.readout import metrics_of
from spiking_mnist.rundir import checkpoint, files

log = logging.getLogger("spiking_mnist.analyse")

SHOWN_PHASES = ("test", "validation", "label", "train")  # first recorded one is drawn
WINDOW = 5  # examples drawn in the raster and membrane figures
OUTPUTS = 10  # test examples drawn in the output-count figure
MEMBRANES = 3  # neurons drawn by default: the most active recorded ones


@dataclass
class Scan:
    """What one pass over the recordings yields: rates (Hz) per phase and population, the
    range of examples per phase, the chunk holding the drawn example, test thumbnails."""

    rates: dict[str, dict[str, float]] = field(default_factory=dict)
    examples: dict[str, np.ndarray] = field(default_factory=dict)
    phase: str | None = None
    chunk: Chunk | None = None
    image_shape: tuple[int, int] | None = None
    thumbnails: dict[int, np.ndarray] = field(default_factory=dict)


def analyse(run_dir: str | Path, out_dir: str | Path | None = None, example: int = 0,
            neurons: list[int] | None = None, allow_pickle: bool = False) -> dict:
    """Write the figures of the run in ``run_dir`` and ``metrics.json`` into ``out_dir``
    (default ``RUN_DIR/analysis``) and return that summary. ``example`` is the index, in
    the drawn phase, of the example in the input, raster and membrane figures; ``neurons``
    are the excitatory neurons whose membrane potential is drawn. A run holding pickle
    recordings is refused unless ``allow_pickle`` (see :mod:`.run_files`)."""
    run = RunFiles(run_dir, allow_pickle)
    ckpt = run.checkpoint
    n = ckpt.theta.size
    if example < 0:
        raise ConfigError(f"--example {example}: give the index of a recorded example (>= 0)")
    if neurons is not None and not all(0 <= k < n for k in neurons):
        raise ConfigError(f"--neurons {neurons}: this network has excitatory neurons 0-{n - 1}")
    if out_dir is not None:
        check_out_dir(run.dir, out_dir)
    out = Path(out_dir) if out_dir is not None else run.dir / "analysis"
    out.mkdir(parents=True, exist_ok=True)

    scan = scan_recordings(run, example)
    responses = run.responses("test")
    image_shape = scan.image_shape or square_shape(ckpt.weights.shape[0])
    drawn, skipped = {}, {}

    def draw(name: str, made: Figure | str) -> None:
        if isinstance(made, str):
            skipped[name] = made
            return
        drawn[name] = figures.save(made, out / f"{name}.png").name

    made, drawn_example = example_figures(run, scan, example, neurons)
    for name, figure in made.items():
        draw(name, figure)
    draw("receptive-fields", figures.receptive_fields(ckpt.weights, image_shape))
    draw("theta", figures.theta_histogram(ckpt.theta))
    no_responses = f"no responses-test.npz: run `spiking-mnist evaluate {run.dir}`"
    if responses is not None:
        scores = metrics_of(responses["labels"], responses["predictions"])
        assignments = responses["assignments"]
        draw("labels", figures.label_map(assignments))
        shown = min(OUTPUTS, len(responses["labels"]))
        draw("outputs", figures.output_counts(
            responses["responses"][:shown], assignments, responses["labels"][:shown],
            responses["predictions"][:shown],
            [scan.thumbnails.get(k) for k in range(shown)] if scan.thumbnails else None))
        per_label = np.bincount(assignments[assignments >= 0], minlength=10).tolist()
        unlabelled = int((assignments < 0).sum())
    else:  # what `evaluate` wrote, if anything
        evaluated = run.json("metrics.json") or {}
        scores = {k: evaluated[k] for k in ("accuracy", "per_class_accuracy", "confusion")
                  if k in evaluated}
        per_label = evaluated.get("neurons_per_class")
        unlabelled = evaluated.get("unlabelled_neurons")
        draw("labels", no_responses)
        draw("outputs", no_responses)
    draw("confusion", figures.confusion_matrix(np.array(scores["confusion"]))
         if "confusion" in scores else no_responses.replace("responses-test.npz", "metrics.json"))
    history = run.json("history.json") or {}
    curves = {name: (np.array([h["examples_seen"] for h in history[key]]),
                     np.array([h["accuracy"] for h in history[key]]))
              for key, name in (("validation", "validation split (frozen network)"),
                                ("training", "training examples (running estimate)"))
              if history.get(key)}
    draw("accuracy", figures.accuracy_curve(curves) if curves else
         "no accuracies in history.json: train with this version, and "
         "`--set training.validate_every=K` for validation accuracies every K examples")

    summary = {
        "run_dir": str(run.dir), "out_dir": str(out), "model": ckpt.model,
        "examples_seen": ckpt.examples_seen, "n_excitatory": n,
        "accuracy": scores.get("accuracy"), "per_class_accuracy": scores.get("per_class_accuracy"),
        "confusion": scores.get("confusion"),
        "test_examples": None if responses is None else len(responses["labels"]),
        "firing_rates_hz": scan.rates,
        "theta_mv": {"mean": float(ckpt.theta.mean()), "min": float(ckpt.theta.min()),
                     "max": float(ckpt.theta.max())},
        "neurons_per_label": per_label, "unlabelled_neurons": unlabelled,
        "drawn_example": drawn_example,
        "figures": drawn, "skipped": skipped}
    files.write_json(out / "metrics.json", summary)
    return summary


def check_out_dir(run_dir: str | Path, out_dir: str | Path) -> None:
    """CheckpointError if ``out_dir`` holds a run (this one or another): the figures and
    ``metrics.json`` written there would replace that run's own."""
    kind = checkpoint.run_kind(Path(out_dir))
    if kind is None:
        return
    same = Path(out_dir).resolve() == Path(run_dir).resolve()
    raise checkpoint.CheckpointError(
        f"--out {out_dir} " + ("is the run directory itself" if same else
                               f"holds a {kind} of its own")
        + "; analyse writes metrics.json and figures into --out and would replace "
        + ("the metrics.json evaluate wrote" if same else "that run's metrics.json")
        + f": give a new directory or one for figures (default: {Path(run_dir) / 'analysis'})")


def square_shape(pixels: int) -> tuple[int, int]:
    """(side, side) if ``pixels`` is a square number, else one row of ``pixels``."""
    side = math.isqrt(pixels)
    return (side, side) if side * side == pixels else (1, pixels)


def scan_recordings(run: RunFiles, example: int) -> Scan:
    """Read every recording once: firing rates per phase, the chunk holding ``example`` in
    the first recorded phase of SHOWN_PHASES, and the input images of the first test
    examples."""
    scan = Scan()
    recorded = [p for p in PHASES if run.recording_files(p)]
    scan.phase = next((p for p in SHOWN_PHASES if p in recorded), None)
    for phase in recorded:
        rates, examples = FiringRates(), []
        for chunk in run.chunks(phase):
            log.info("read %s", chunk.path)
            rates.add(chunk)
            scan.image_shape = chunk.image_shape
            examples.append(chunk.examples.example)
            if phase == scan.phase and scan.chunk is None and chunk.position(example) is not None:
                scan.chunk = chunk
            if phase == "test" and "input" in chunk.spikes:
                for k in range(OUTPUTS):
                    position = chunk.position(k)
                    if position is not None:
                        scan.thumbnails[k] = chunk.input_image(position)
        scan.rates[phase] = rates.hz()
        scan.examples[phase] = np.concatenate(examples)
    return scan


def example_figures(run: RunFiles, scan: Scan, example: int, neurons: list[int] | None
                    ) -> tuple[dict[str, Figure | str], dict | None]:
    """Input frames, 3D input raster, population raster and membrane potentials around
    ``example``: a Figure each, or the reason it cannot be drawn; and which phase, example
    and membrane neurons were drawn (None if none)."""
    names = ("input-frames", "input-raster-3d", "raster", "membrane")
    if scan.phase is None:
        return dict.fromkeys(names, f"no recordings in {run.dir / 'recordings'}: run "
                             f"`spiking-mnist evaluate {run.dir} --record ...`"), None
    chunk = scan.chunk
    if chunk is None:
        held = scan.examples[scan.phase]
        return dict.fromkeys(names, f"example {example} is not in recordings/{scan.phase}: "
                             + (f"give --example between {held.min()} and {held.max()}"
                                if held.size else "they hold no examples")), None
    ex = chunk.examples
    at = chunk.position(example)
    end = min(at + WINDOW, ex.start.size)
    start, stop = ex.start[at], ex.start[end - 1] + ex.duration[end - 1]
    about = f"{scan.phase} example {example} (digit {ex.label[at]})"
    made: dict[str, Figure | str] = {}
    drawn = {"phase": scan.phase, "example": example, "membrane_neurons": []}

    if "input" in chunk.spikes:
        times, pixels = chunk.input_spikes(at)
        made["input-frames"] = figures.input_frames(
            times, pixels, chunk.image_shape, chunk.presentation,
            title=f"{about}: input spikes of its last showing (showing {ex.showing[at]})")
        made["input-raster-3d"] = figures.input_raster_3d(
            times, pixels, chunk.image_shape, title=f"{about}: input spikes of its last showing")
    else:
        made["input-frames"] = made["input-raster-3d"] = (
            f"recordings/{scan.phase} hold no input spikes: record the input population")

    window = {p: chunk.spikes[p].between(start, stop) for p in ("excitatory", "inhibitory")
              if p in chunk.spikes}
    made["raster"] = figures.raster(
        {p: (s.times, s.index) for p, s in window.items()}, ex.start[at:end],
        [str(d) for d in ex.label[at:end]], stop,
        title=f"{scan.phase} examples {example}-{ex.example[end - 1]}, true digit at each "
              "start") if window else (
        f"recordings/{scan.phase} hold no excitatory or inhibitory spikes: record them")

    v = chunk.signals.get(("excitatory", "v"))
    if v is None:
        made["membrane"] = (f"recordings/{scan.phase} hold no excitatory membrane potential "
                            "`v`: record it")
        return made, drawn
    if neurons is None:
        counts = np.bincount(window["excitatory"].index, minlength=v.index.max() + 1) \
            if "excitatory" in window else np.zeros(v.index.max() + 1)
        chosen = sorted(int(k) for k in
                        v.index[np.argsort(-counts[v.index], kind="stable")[:MEMBRANES]])
    else:
        chosen = [k for k in neurons if v.column(k) is not None]
    if not chosen:
        made["membrane"] = (f"neurons {neurons} have no recorded `v` in recordings/"
                            f"{scan.phase} (recorded: {v.index.tolist()}); choose among those")
        return made, drawn
    keep = (v.times >= start) & (v.times < stop)
    times = v.times[keep]
    made["membrane"] = figures.membrane(
        times, np.stack([v.column(k)[keep] for k in chosen], axis=1), chosen,
        np.stack([chunk.threshold(k, times, run.checkpoint.theta[k]) for k in chosen], axis=1),
        title=f"{scan.phase} examples {example}-{ex.example[end - 1]}: excitatory membrane "
              "potential and threshold")
    drawn["membrane_neurons"] = chosen
    return made, drawn
