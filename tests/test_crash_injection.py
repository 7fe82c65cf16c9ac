"""Crash injection, after SQLite's crash testing: a training run and a patch-hierarchy run are
killed at many points, inside every step of a checkpoint or file write, then run again.

``$SPIKING_MNIST_FAULT_AT=k`` makes a process die at its k-th write step as ``kill -9`` kills
it (``os._exit``; at a "half written" step after cutting the file to half its length), see
``spiking_mnist/rundir/files.py``. A run never killed lists the steps
(``$SPIKING_MNIST_FAULT_LOG``). After each kill the run is started again as a user would: the
training with ``train --resume`` (or its first command again if the kill came before its first
checkpoint was in place), the hierarchy with its own command. Each must exit with 0 and print
no traceback, leave no temporary file or lock behind, and end with the files of the run never
killed: the training's weights, theta and spike count bit for bit, the hierarchy's weights of
every layer, codes and readouts.

The default run tries 15 training and 14 hierarchy points (2 at a time, one NEST thread each);
``pytest -m slow tests/test_crash_injection.py`` tries every step of the training and every
third of the hierarchy (86 and 73). Each test prints its figure (``-rP`` shows it); the
figures are in docs/reproducibility.md.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from spiking_mnist.rundir import files
from spiking_mnist.rundir.hierarchy import load_codes
from spiking_mnist.rundir.lock import LOCK_FILE

CLI = [sys.executable, "-m", "spiking_mnist.runners.cli"]
TRAIN = ["--examples", "30", "--neurons", "10", "--digits", "0,1", "--quiet",
         "--set", "training.checkpoint_every=10", "--set", "simulation.threads=1"]
HIERARCHY = ["--quiet"] + [a for s in (
    "layer1.n_excitatory=3", "layer1.examples=20", "layer2.n_excitatory=4",
    "layer2.examples=10", "layer3.n_excitatory=10", "layer3.examples=10",
    "readout.train_examples=10", "readout.validation_examples=10", "code.part=5",
    "training.checkpoint_every=10", "simulation.threads=1") for a in ("--set", s)]
WORKERS = 2


def launch(args: list[str], fault_at: int | None = None,
           log: Path | None = None) -> tuple[int, str]:
    """Run ``spiking-mnist args`` in a new process; (exit code, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in (files.FAULT_AT, files.FAULT_LOG)}
    if fault_at is not None:
        env[files.FAULT_AT] = str(fault_at)
    if log is not None:
        env[files.FAULT_LOG] = str(log)
    done = subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=900)
    return done.returncode, done.stderr


def write_steps(log: Path) -> list[str]:
    return [line.split("\t", 1)[1] for line in log.read_text().splitlines()]


@dataclass
class Outcome:
    point: int
    step: str
    killed: int            # exit code of the killed process: files.FAULT_EXIT
    resumed: int | None    # exit code of the run started again; None: nothing to resume
    identical: bool
    tracebacks: int
    leftovers: list[str]
    said: str = ""         # the last line on stderr, to tell what went wrong

    @property
    def good(self) -> bool:
        return self.killed == files.FAULT_EXIT and self.resumed in (0, None) \
            and self.identical and not self.tracebacks and not self.leftovers


def leftovers(run_dir: Path) -> list[str]:
    """Temporary files, half-replaced checkpoints and locks left in ``run_dir`` and below."""
    found = [p for d in [run_dir, *run_dir.glob("layer*")] for p in files.leftovers(d)]
    found += list(run_dir.rglob(LOCK_FILE)) + list(run_dir.rglob("checkpoint.old"))
    return sorted(str(p.relative_to(run_dir)) for p in found)


def sweep(points: list[int], steps: list[str], attempt) -> list[Outcome]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda k: attempt(k, steps[k - 1]), points))


def figure(what: str, outcomes: list[Outcome]) -> str:
    resumed = [o for o in outcomes if o.resumed == 0]
    rest = sum(o.resumed is None for o in outcomes)
    return (f"{what}: {len(outcomes)} kill points tried, {len(resumed)} resumed with exit "
            f"code 0" + (f" ({rest} had nothing left to do: killed after the last "
                         "checkpoint was in place)" if rest else "") + ", "
            f"{sum(o.identical for o in outcomes)} ended bit-identical to the run never "
            f"killed, {sum(o.tracebacks for o in outcomes)} tracebacks, "
            f"{sum(bool(o.leftovers) for o in outcomes)} left temporary files or locks")


def report(what: str, outcomes: list[Outcome]) -> None:
    print(figure(what, outcomes))
    bad = [o for o in outcomes if not o.good]
    assert not bad, "\n".join(map(str, bad))


# --- training ----------------------------------------------------------------------------

def training_state(run_dir: Path):
    ckpt = run_dir / "checkpoint"
    manifest = json.loads((ckpt / "manifest.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    return (np.load(ckpt / "weights.npy"), np.load(ckpt / "theta.npy"),
            np.load(ckpt / "delays.npy"), manifest["info"]["spikes"],
            manifest["examples_seen"], [h["examples_seen"] for h in history["speed"]])


def same_training(ours, theirs) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(ours[:3], theirs[:3])) \
        and ours[3:] == theirs[3:]


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    """A training run never killed, and the write steps it passed."""
    root = tmp_path_factory.mktemp("crash-training")
    log = root / "steps.log"
    code, err = launch(["train", "--run-dir", str(root / "whole"), *TRAIN], log=log)
    assert code == 0, err
    return root, training_state(root / "whole"), write_steps(log)


def last_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[-1]


def kill_training(root: Path, expected, k: int, step: str) -> Outcome:
    run = root / f"killed-{k}"
    killed, err = launch(["train", "--run-dir", str(run), *TRAIN], fault_at=k)
    said = last_line(err)
    tracebacks = err.count("Traceback")
    resumed = None
    manifest = run / "checkpoint" / "manifest.json"
    if not (manifest.exists() and json.loads(manifest.read_text())["examples_seen"] == 30):
        again = ["--resume", str(run), "--quiet"] if (run / "checkpoint").exists() \
            or (run / "checkpoint.old").exists() else ["--run-dir", str(run), *TRAIN]
        resumed, err = launch(["train", *again])
        said = last_line(err)
        tracebacks += err.count("Traceback")
        if resumed == 0 and "taking over the lock of process" not in err:
            said = "the lock of the killed process was not taken over"
    return Outcome(k, step, killed, resumed, same_training(training_state(run), expected),
                   tracebacks, [] if resumed is None else leftovers(run), said)


def training_points(steps: list[str]) -> list[int]:
    """Each kind of step where it first matters: every step of the first checkpoint's first
    file and its rename into place, every step of the first ``history.json``, the second
    checkpoint's manifest cut short and its commit (the previous one moved aside, the new
    one renamed), and the last two steps of all: killed at the last, the run is complete
    (its checkpoint.old and lock file are left for the next writer to clear). Each file of
    a checkpoint is written by the same code; ``-m slow`` tries every step."""
    first_history = next(i for i, s in enumerate(steps, 1) if "history.json" in s)
    moved_aside = next(i for i, s in enumerate(steps, 1) if "previous one moved aside" in s)
    n = len(steps)
    return sorted({1, 2, 3, 4, first_history - 1,
                   *range(first_history, first_history + 5),
                   moved_aside - 3, moved_aside, moved_aside + 1, n - 1, n})


def test_training_killed_anywhere_resumes_bit_identical(training, tmp_path):
    _, expected, steps = training
    assert len(steps) == 86   # 4 checkpoints of 4 files, 3 history.json writes
    points = training_points(steps)
    assert len(points) == 15
    outcomes = sweep(points, steps, lambda k, s: kill_training(tmp_path, expected, k, s))
    report("training", outcomes)


@pytest.mark.slow
def test_training_killed_at_every_write_step_resumes_bit_identical(training, tmp_path):
    _, expected, steps = training
    outcomes = sweep(list(range(1, len(steps) + 1)), steps,
                     lambda k, s: kill_training(tmp_path, expected, k, s))
    report("training, every step", outcomes)


# --- hierarchy ---------------------------------------------------------------------------

def hierarchy_state(run_dir: Path):
    layers = [np.load(run_dir / f"layer{k}" / "checkpoint" / "weights.npy") for k in (1, 2, 3)]
    codes = [c for k in (1, 2, 3) for split in ("train", "validation")
             for c in load_codes(run_dir, k, split)]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return layers + codes, (metrics["vote"], metrics["linear"], metrics["examples"])


def same_hierarchy(ours, theirs) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(ours[0], theirs[0])) \
        and ours[1] == theirs[1]


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-hierarchy")
    log = root / "steps.log"
    code, err = launch(["patches", str(root / "whole"), *HIERARCHY], log=log)
    assert code == 0, err
    return root, hierarchy_state(root / "whole"), write_steps(log)


def kill_hierarchy(root: Path, expected, k: int, step: str) -> Outcome:
    run = root / f"killed-{k}"
    killed, err = launch(["patches", str(run), *HIERARCHY], fault_at=k)
    tracebacks = err.count("Traceback")
    said = last_line(err)
    resumed, err = launch(["patches", str(run), *HIERARCHY])
    tracebacks += err.count("Traceback")
    identical = resumed == 0 and same_hierarchy(hierarchy_state(run), expected)
    return Outcome(k, step, killed, resumed, identical, tracebacks, leftovers(run),
                   said if resumed == 0 else last_line(err))


def hierarchy_points(steps: list[str]) -> list[int]:
    """The first write of parameters.json, a coded part, scales.json and metrics.json, each
    cut short and renamed into place (every file is written by the same code, whose other
    steps the training tries); the commit of each layer's first checkpoint and of a later
    one (the previous one moved aside), a checkpoint file cut short in layer 2 and a
    history.json cut short in layer 3. ``-m slow`` tries every third step."""
    first: dict[str, int] = {}
    for i, step in enumerate(steps, 1):
        first.setdefault(re.sub(r"layer\d-\w+-\d+\.npz", "PART", step), i)
    chosen = [i for step, i in first.items()
              if re.match(r"(\w+/(parameters|scales|metrics)\.json|codes/PART): "
                          r"(half written|renamed into place)", step)]
    chosen += [first[f"layer{k}/checkpoint: renamed into place"] for k in (1, 2, 3)]
    chosen += [first["layer1/checkpoint: the previous one moved aside"],
               first["layer2/checkpoint/manifest.json: half written"],
               first["layer3/history.json: half written"]]
    return sorted(set(chosen))


def test_hierarchy_killed_anywhere_resumes_to_the_same_run(hierarchy, tmp_path):
    _, expected, steps = hierarchy
    points = hierarchy_points(steps)
    assert len(points) == 14
    outcomes = sweep(points, steps, lambda k, s: kill_hierarchy(tmp_path, expected, k, s))
    report("hierarchy", outcomes)


@pytest.mark.slow
def test_hierarchy_killed_at_every_third_write_step_resumes_to_the_same_run(hierarchy,
                                                                           tmp_path):
    _, expected, steps = hierarchy
    outcomes = sweep(list(range(1, len(steps) + 1, 3)), steps,
                     lambda k, s: kill_hierarchy(tmp_path, expected, k, s))
    report("hierarchy, every third step", outcomes)
