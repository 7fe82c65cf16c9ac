"""Every bad input we know of, as a ``spiking-mnist`` call, and the message it gets.

``tests/test_bad_input.py`` runs each case and checks the message is in
``docs/bad-input.md``; ``python tests/bad_inputs.py > docs/bad-input.md`` rewrites that table.
Paths inside the temporary directory of a case are shown as ``TMP``. Rewriting the table needs
the SpiNNaker extra (``pip install '.[spinnaker]'``) for the cases that need sPyNNaker.
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import os
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from unittest import mock

import numpy as np

from spiking_mnist.inputs import mnist
from spiking_mnist.models.parameters import load_defaults
from spiking_mnist.rundir import checkpoint
from spiking_mnist.runners.cli import main


@dataclass
class Case:
    """``argv`` (with ``TMP`` for the case's directory) after ``prepare(tmp)``; the exit code
    and a fragment the message must contain. ``patches(tmp)`` gives context managers that
    stand in for the world (a missing package, a full disk); ``after(tmp)`` checks what the
    case left behind."""

    what: str
    argv: str
    code: int
    fragment: str
    prepare: Callable[[Path], None] = lambda tmp: None
    patches: Callable[[Path], list] = field(default=lambda tmp: [])
    after: Callable[[Path], None] = lambda tmp: None
    needs: str | None = None


# --- data ------------------------------------------------------------------------------

def _idx(array: np.ndarray) -> bytes:
    return struct.pack(f">BBBB{array.ndim}I", 0, 0, 8, array.ndim, *array.shape) \
        + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_data(directory: Path, n_train: int = 12, n_test: int = 6, size: int = 28,
               n_labels: int | None = None, max_label: int = 9) -> Path:
    """Four small, valid (unless told otherwise) MNIST-format gzip files."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        labels = rng.integers(0, max_label + 1, n if n_labels is None else n_labels,
                              dtype=np.uint8)
        labels[0] = max_label
        image_name, label_name = mnist.FILES[split]
        (directory / f"{image_name}.gz").write_bytes(gzip.compress(_idx(images)))
        (directory / f"{label_name}.gz").write_bytes(gzip.compress(_idx(labels)))
    return directory


def _mangle(tmp: Path, name: str, how: Callable[[bytes], bytes]) -> None:
    write_data(tmp / "data")
    path = tmp / "data" / f"{name}.gz"
    path.write_bytes(how(path.read_bytes()))


def _flip_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) \
        + data[middle + 64:]


# --- runs ------------------------------------------------------------------------------

def write_run(run_dir: Path, n: int = 10, n_inputs: int = 784, manifest_n: int | None = None,
              model: str = "diehl_cook") -> None:
    """A checkpoint as `train` writes it, with made-up weights, for a data set of >= 20
    training images."""
    params = load_defaults("diehl_cook").values()
    params["network"]["n_excitatory"] = n
    params["training"]["validation"] = 10
    rng = np.random.default_rng(0)
    checkpoint.save(run_dir, checkpoint.Checkpoint(
        "diehl_cook", params, rng.random((n_inputs, n)), np.ones((n_inputs, n)),
        np.full(n, 20.0), 100, "nest", {"digits": None, "fired": [], "spikes": 0,
                                        "train_seconds": 0.0}))
    manifest_path = run_dir / "checkpoint" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"] = model
    if manifest_n is not None:
        manifest["parameters"]["network"]["n_excitatory"] = manifest_n
    manifest_path.write_text(json.dumps(manifest))


def _truncate_weights(tmp: Path) -> None:
    write_run(tmp / "run")
    path = tmp / "run" / "checkpoint" / "weights.npy"
    path.write_bytes(path.read_bytes()[:1000])


def _disk_full_on_second_checkpoint(tmp: Path) -> list:
    real, calls = checkpoint._write_array, []

    def write(path: Path, array: np.ndarray) -> None:
        calls.append(path)
        if len(calls) > 2 * len(checkpoint.ARRAYS):  # the untrained and first checkpoints fit
            path.write_bytes(b"\x93NUMPY")       # what fitted on the disk
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, array)
    return [mock.patch.object(checkpoint, "_write_array", write)]


VARIANT = Path(__file__).resolve().parents[1] / "spiking_mnist" / "models" / "variants" / "spinnaker.toml"
TINY_SPINNAKER = ("--examples 2 --neurons 5 --set training.validation=2 --data-dir TMP/data "
                  "--quiet --backend spinnaker --board virtual")


def _spinnaker_world(tmp: Path) -> list:
    """A home without sPyNNaker configuration, sPyNNaker's reports in ``tmp``."""
    (tmp / "home").mkdir(exist_ok=True)
    return [mock.patch.dict("os.environ", {"HOME": str(tmp / "home"),
                                           "XDG_CONFIG_HOME": str(tmp / "home" / ".config")}),
            _working_directory(tmp)]


@contextlib.contextmanager
def _working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _spinnaker_data_and_variant(tmp: Path) -> None:
    write_data(tmp / "data")
    shutil.copy(VARIANT, tmp / "spinnaker.toml")


def _binaries_without_triplet_synapses(tmp: Path) -> list:
    """An sPyNNaker install lacking the synapse-core binary of the triplet rule."""
    from spiking_mnist.hardware import spinnaker_binaries
    listing = tmp / "binaries"
    listing.mkdir()
    for name in spinnaker_binaries.installed(spinnaker_binaries.binaries_directory()):
        if name != "synapses_stdp_mad_pfister_triplet_additive":
            (listing / f"{name}.aplx").touch()
    return _spinnaker_world(tmp) + [
        mock.patch.object(spinnaker_binaries, "binaries_directory", lambda: listing)]


def _first_checkpoint_intact(tmp: Path) -> None:
    assert checkpoint.load(tmp / "run").examples_seen == 1
    # no half-written checkpoint or temporary file beside them
    assert sorted(p.name for p in (tmp / "run").iterdir()) == ["checkpoint", "history.json"]


@contextlib.contextmanager
def _another_writer(run_dir: Path):
    """``run_dir`` locked by another training (here: this process on a file of its own,
    which flock tells apart), which the lock file names."""
    import fcntl
    import socket
    from spiking_mnist.rundir.lock import LOCK_FILE
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"pid: 4242\ncommand: spiking-mnist train --resume {run_dir} --examples "
                     f"3000\nstarted: 2026-12-06 14:02:11 +0000\nhost: {socket.gethostname()}\n"
                 .encode())
        yield
    finally:
        os.close(fd)


def _a_thesis(tmp: Path) -> None:
    (tmp / "thesis" / "figures").mkdir(parents=True)
    (tmp / "thesis" / "thesis.tex").write_text("\\documentclass{book}")


def _thesis_untouched(tmp: Path) -> None:
    assert sorted(p.name for p in (tmp / "thesis").iterdir()) == ["figures", "thesis.tex"]


def _two_runs(tmp: Path) -> None:
    write_run(tmp / "run")
    write_run(tmp / "other")
    (tmp / "other" / "metrics.json").write_text('{"accuracy": 0.9}')


def _other_metrics_kept(tmp: Path) -> None:
    assert (tmp / "other" / "metrics.json").read_text() == '{"accuracy": 0.9}'


def _no_run_saved(tmp: Path) -> None:
    assert not (tmp / "p" / "parameters.json").exists(), "refused values were saved as a run"


def _hierarchy_run_older_than_input_total(tmp: Path) -> None:
    """A patch-hierarchy run directory saved before ``layer3.input_total`` existed."""
    values = load_defaults("patches").values()
    del values["layer3"]["input_total"]
    (tmp / "p").mkdir()
    (tmp / "p" / "parameters.json").write_text(json.dumps(values))


def _hierarchy_run_started(tmp: Path) -> None:
    """A patch-hierarchy run directory that has saved its parameters and learnt nothing."""
    (tmp / "p").mkdir()
    (tmp / "p" / "parameters.json").write_text(json.dumps(load_defaults("patches").values()))


def _hierarchy_run_output_learnt_again(tmp: Path) -> None:
    """A patch-hierarchy run whose output layer was learnt again: weights, layer-1 codes of
    validation images, no output counts yet."""
    _hierarchy_run_started(tmp)
    output, codes = tmp / "p" / "output", tmp / "p" / "codes"
    output.mkdir()
    codes.mkdir()
    for way in ("linear", "surrogate"):
        np.savez(output / f"weights-{way}.npz", weights=np.zeros((3600, 10)), bias=np.zeros(10))
    np.savez(output / "weights-hidden.npz", weights=np.zeros((2, 10)), bias=np.zeros(10),
             hidden_weights=np.zeros((3600, 2)), hidden_bias=np.zeros(2))
    np.savez(codes / "layer1-validation-0000.npz", counts=np.zeros((2, 3600)),
             labels=np.zeros(2, dtype=np.int64))


def _run_with_pickle_recording(tmp: Path) -> None:
    """A run whose test phase was recorded with ``--record-format pickle``."""
    import neo
    write_run(tmp / "run")
    (tmp / "run" / "recordings" / "test").mkdir(parents=True)
    neo.io.PickleIO(str(tmp / "run" / "recordings" / "test" / "chunk-000000.pkl")).write_block(
        neo.Block(phase="test"))


def _nothing_analysed(tmp: Path) -> None:
    assert not (tmp / "run" / "analysis").exists()


def _pretrained_networks(tmp: Path) -> None:
    """Two made-up pretrained networks, n100 and n400 (tiny ones), in TMP/networks."""
    from spiking_mnist.rundir import pretrained
    for name in ("n100", "n400"):
        write_run(tmp / "runs" / name)
        ckpt = checkpoint.load(tmp / "runs" / name)
        pretrained.write(tmp / "networks" / name, ckpt, np.arange(10) % 10, {
            "model": ckpt.model, "parameters": ckpt.parameters, "code_version": "0.1.0",
            "trained": {"command": "spiking-mnist train", "seed": 1, "examples": 100,
                        "neurons": 10, "backend": "nest", "threads": 1},
            "labels": {"examples": 20, "unlabelled_neurons": 0}, "accuracy": None,
            "checkpoint_info": ckpt.info})


def _only_these_pretrained(tmp: Path) -> list:
    """The pretrained networks of TMP/networks and no others."""
    from spiking_mnist.rundir import pretrained
    environment = {k: v for k, v in os.environ.items() if k != pretrained.ENVIRONMENT}
    return [mock.patch.object(pretrained, "PACKAGE_DIR", tmp / "networks"),
            mock.patch.dict("os.environ", environment, clear=True)]


def _damaged_pretrained(tmp: Path) -> None:
    _pretrained_networks(tmp)
    path = tmp / "networks" / "n400" / "weights.npz"
    path.write_bytes(_flip_middle(path.read_bytes()))


def _nothing_copied(tmp: Path) -> None:
    assert not (tmp / "run").exists()


def _untrained_run(tmp: Path) -> None:
    """A run stopped before its first checkpoint: the untrained network, 0 examples."""
    write_run(tmp / "run")
    manifest_path = tmp / "run" / "checkpoint" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["examples_seen"] = 0
    manifest_path.write_text(json.dumps(manifest))


def _board_not_answering(tmp: Path) -> list:
    """A board that does not answer: sPyNNaker's connection fails as it does for one
    (tests/test_deploy.py tries a real address that never answers)."""
    from spinnman.exceptions import SpinnmanIOException
    from spiking_mnist.runners import deploy
    return _spinnaker_world(tmp) + [mock.patch.object(
        deploy, "open_network",
        side_effect=SpinnmanIOException("Failed to communicate with the machine"))]


# --- network modules (--model) ------------------------------------------------------------

GOOD_BUILD = """
from spiking_mnist.models import diehl_cook


def build(sim, params, n_inputs, learning_synapse, connectors=None, cell_types=None):
    return diehl_cook.build(sim, params, n_inputs, learning_synapse,
                            connectors=connectors, cell_types=cell_types)
"""


def _module(text: str, name: str = "net.py", parameters: str | None = None):
    """A ``prepare`` writing the network module ``TMP/name`` (and its parameter file)."""
    def prepare(tmp: Path) -> None:
        (tmp / name).write_text(text)
        if parameters is not None:
            (tmp / "net.toml").write_text(parameters)
    return prepare


def _run_of_module(model_file: str | None, sha256: str = "0" * 64, module: str = GOOD_BUILD):
    """A ``prepare`` writing ``TMP/net.py`` and a run made by the network module
    ``model_file`` (``TMP`` in it: the case's directory) whose contents had ``sha256``."""
    def prepare(tmp: Path) -> None:
        (tmp / "net.py").write_text(module)
        write_run(tmp / "run")
        if model_file is not None:
            path = tmp / "run" / "checkpoint" / "manifest.json"
            manifest = json.loads(path.read_text())
            manifest.update(model="net", model_file=model_file.replace("TMP", str(tmp)),
                            model_sha256=sha256)
            path.write_text(json.dumps(manifest))
    return prepare


def _no_checkpoint_written(tmp: Path) -> None:
    assert not (tmp / "run" / "checkpoint").exists()


TINY_TRAINING = "--examples 2 --neurons 5 --digits 0,1 --quiet --set training.checkpoint_every=1"

CASES = [
    Case("`--data-dir` names a directory that does not exist",
         "train --run-dir TMP/run --data-dir TMP/nowhere", 2, "TMP/nowhere does not exist"),
    Case("the data directory is empty",
         "train --run-dir TMP/run --data-dir TMP/empty", 2, "TMP/empty lacks",
         prepare=lambda tmp: (tmp / "empty").mkdir()),
    Case("MNIST is nowhere and the download fails",
         "train --run-dir TMP/run", 2, "the download failed",
         patches=lambda tmp: [
             mock.patch.dict("os.environ", {"XDG_CACHE_HOME": str(tmp / "cache")}),
             mock.patch.object(mnist, "_shared_dirs", lambda: [tmp / "shared"]),
             mock.patch.object(mnist, "MIRRORS", ("http://127.0.0.1:9/",))]),
    Case("a truncated gzip file",
         "train --run-dir TMP/run --data-dir TMP/data", 2, "corrupt or truncated gzip",
         prepare=lambda tmp: _mangle(tmp, "train-images-idx3-ubyte",
                                     lambda data: data[:len(data) // 2])),
    Case("a corrupt gzip file (bytes changed)",
         "train --run-dir TMP/run --data-dir TMP/data", 2, "corrupt or truncated gzip",
         prepare=lambda tmp: _mangle(tmp, "train-images-idx3-ubyte", _flip_middle)),
    Case("a file that is not IDX (wrong magic number)",
         "train --run-dir TMP/run --data-dir TMP/data", 2, "is not an IDX file",
         prepare=lambda tmp: _mangle(tmp, "train-labels-idx1-ubyte",
                                     lambda data: gzip.compress(b"PK\x03\x04" + b"\0" * 40))),
    Case("image and label counts differ",
         "train --run-dir TMP/run --data-dir TMP/data", 2, "do not belong together",
         prepare=lambda tmp: write_data(tmp / "data", n_labels=11)),
    Case("labels out of range",
         "train --run-dir TMP/run --data-dir TMP/data", 2, "MNIST labels are 0..9",
         prepare=lambda tmp: write_data(tmp / "data", max_label=12)),
    Case("fewer training images than the validation split takes",
         "train --run-dir TMP/run --data-dir TMP/data", 2, "holds only 12",
         prepare=lambda tmp: write_data(tmp / "data")),
    Case("testing a network trained on 28x28 images with 32x32 images",
         "evaluate TMP/run --data-dir TMP/data --quiet", 2, "trained on images of 784 pixels",
         prepare=lambda tmp: (write_run(tmp / "run"),
                              write_data(tmp / "data", n_train=60, size=32))),
    Case("changing the network of a trained run while evaluating it",
         "evaluate TMP/run --set network.n_excitatory=400", 2,
         "evaluation changes only evaluation.* parameters",
         prepare=lambda tmp: write_run(tmp / "run")),
    Case("an evaluation parameter out of range",
         "evaluate TMP/run --set evaluation.restart_every=0", 2, "restart_every",
         prepare=lambda tmp: write_run(tmp / "run")),
    Case("a config file that is not TOML",
         "train --run-dir TMP/run --config TMP/my.toml", 2, "is not valid TOML",
         prepare=lambda tmp: (tmp / "my.toml").write_text("[network\nn_excitatory = 3\n")),
    Case("a config file with an unknown key",
         "train --run-dir TMP/run --config TMP/my.toml", 2, "did you mean 'n_excitatory'",
         prepare=lambda tmp: (tmp / "my.toml").write_text("[network]\nn_excitory = 400\n")),
    Case("a config value of the wrong type",
         "train --run-dir TMP/run --config TMP/my.toml", 2, "must be a number in ms",
         prepare=lambda tmp: (tmp / "my.toml").write_text('[excitatory]\ntau_m = "100"\n')),
    Case("N <= 0", "train --run-dir TMP/run --neurons 0", 2, "below its minimum"),
    Case("a negative input rate",
         "train --run-dir TMP/run --set encoding.rate_per_intensity=-0.25", 2,
         "below its minimum"),
    Case("a time step that does not divide the presentation time",
         "train --run-dir TMP/run --set simulation.timestep=0.3", 2,
         "not a whole number of time steps"),
    Case("a delay shorter than the time step",
         "train --run-dir TMP/run --set simulation.timestep=1.0 --set exc_to_inh.delay=0.5", 2,
         "shorter than the time step"),
    Case("a re-show cap whose input rate exceeds one spike per time step",
         "train --run-dir TMP/run --set simulation.timestep=1.0 --set exc_to_inh.delay=1.0 "
         "--set inh_to_exc.delay=1.0", 2, "more than one spike per 1.0 ms time step"),
    Case("theta kept in the cells with NEST's own (adaptive) cell",
         "train --run-dir TMP/run --set theta.kept=cells --set simulation.cell_integration=adaptive",
         2, "--set theta.kept=host"),
    Case("a rule of the NEST module (stdp.rule = pre_and_post) with NEST's own (adaptive) cell",
         "train --run-dir TMP/run --set stdp.rule=pre_and_post "
         "--set simulation.cell_integration=adaptive", 2, "runs as stdp_trace_synapse"),
    Case("no C++ compiler to build the NEST module",
         f"train --run-dir TMP/run {TINY_TRAINING}", 3, "cell_integration=adaptive",
         patches=lambda tmp: [mock.patch.dict("os.environ", {
             "CXX": "no-such-compiler", "SPIKING_MNIST_NEST_MODULE_DIR": str(tmp / "modules")})]),
    Case("an unknown backend", "train --run-dir TMP/run --backend brian2", 2,
         "invalid choice: 'brian2'"),
    Case("`--backend spinnaker` without sPyNNaker installed",
         "evaluate TMP/run --backend spinnaker", 3, "sPyNNaker is not installed",
         prepare=lambda tmp: (write_run(tmp / "run"), write_data(tmp / "data", n_train=60)),
         patches=lambda tmp: [mock.patch.dict(sys.modules, {"spynnaker": None}),
                              mock.patch.dict("os.environ",
                                              {"SPIKING_MNIST_DATA": str(tmp / "data")})]),
    Case("`--backend spinnaker` with no sPyNNaker configuration and no machine given",
         "evaluate TMP/run --backend spinnaker", 3, "no sPyNNaker configuration found",
         prepare=lambda tmp: write_run(tmp / "run"), patches=_spinnaker_world,
         needs="spynnaker"),
    Case("`--board` of another machine than the user's ~/.spynnaker.cfg",
         "evaluate TMP/run --backend spinnaker --board virtual", 3, "does not overwrite it",
         prepare=lambda tmp: (write_run(tmp / "run"), (tmp / "home").mkdir(),
                              (tmp / "home" / ".spynnaker.cfg").write_text(
                                  "[Machine]\nmachine_name = 192.168.240.1\nversion = 5\n")),
         patches=_spinnaker_world, needs="spynnaker"),
    Case("`--board` without `--backend spinnaker`", "evaluate TMP/run --board virtual", 2,
         "add --backend spinnaker"),
    Case("`--board` that is no host name or IP address (a `%`, a line break: it would go "
         "into ~/.spynnaker.cfg)", "evaluate TMP/run --backend spinnaker --board spinn-5%0A", 2,
         "give `virtual`, a host name (letters, digits, hyphens and dots) or an IP address"),
    Case("`--spalloc` that is no http(s) URL (here a bad port; its credentials are masked)",
         "evaluate TMP/run --backend spinnaker --spalloc https://me:secret@spalloc.example:99999/",
         2, "'https://***@spalloc.example:99999/': give the http:// or https:// URL"),
    Case("`analyse` of a run holding pickle recordings, without `--allow-pickle`",
         "analyse TMP/run", 2, "unpickling a file runs code",
         prepare=_run_with_pickle_recording,
         after=_nothing_analysed),
    Case("SpiNNaker with D&C's 1 nS unit conductance (STDP steps lost to fixed point)",
         f"train --run-dir TMP/run {TINY_SPINNAKER}", 3, "becomes 0.89 times itself",
         prepare=lambda tmp: write_data(tmp / "data"), patches=_spinnaker_world,
         needs="spynnaker"),
    Case("an sPyNNaker install without a binary the network needs (preflight, before mapping)",
         f"train --run-dir TMP/run --config TMP/spinnaker.toml {TINY_SPINNAKER}", 3,
         "cannot run this network", prepare=_spinnaker_data_and_variant,
         patches=_binaries_without_triplet_synapses, needs="spynnaker"),
    Case("D&C's nearest-spike triplet rule on SpiNNaker (sPyNNaker has none)",
         f"train --run-dir TMP/run --config TMP/spinnaker.toml --set stdp.rule=nearest_spike "
         f"{TINY_SPINNAKER}", 2, "which sPyNNaker lacks", prepare=_spinnaker_data_and_variant,
         patches=_spinnaker_world, needs="spynnaker"),
    Case("D&C's triplet rule on SpiNNaker with potentiation at the postsynaptic spike "
         "(the board applies it at the next presynaptic spike)",
         f"train --run-dir TMP/run --config TMP/spinnaker.toml --set stdp.potentiation=post_spike "
         f"{TINY_SPINNAKER}", 2, "has no sPyNNaker equivalent: the board",
         prepare=_spinnaker_data_and_variant, patches=_spinnaker_world, needs="spynnaker"),
    Case("D&C's rule with exponential weight dependence on SpiNNaker (sPyNNaker has none)",
         f"train --run-dir TMP/run --config TMP/spinnaker.toml --set stdp.rule=exponential "
         f"{TINY_SPINNAKER}", 2, "needs an exponential weight dependence",
         prepare=_spinnaker_data_and_variant, patches=_spinnaker_world, needs="spynnaker"),
    Case("D&C's power-law rule on SpiNNaker with their mu = 0.2 and x_tar = 0.4",
         f"train --run-dir TMP/run --config TMP/spinnaker.toml --set stdp.rule=power_law "
         f"{TINY_SPINNAKER}", 2, "has no sPyNNaker equivalent",
         prepare=_spinnaker_data_and_variant, patches=_spinnaker_world, needs="spynnaker"),
    Case("pre-and-post STDP on SpiNNaker as a multiplicative pair rule, with D&C's nu_pre "
         "(below the board's fixed-point grid)",
         f"train --run-dir TMP/run --config TMP/spinnaker.toml --set stdp.rule=pre_and_post "
         f"--set stdp.mu=1 --set stdp.x_tar=0 {TINY_SPINNAKER}", 3, "at least 3.1e-4",
         prepare=_spinnaker_data_and_variant, patches=_spinnaker_world, needs="spynnaker"),
    Case("a run directory that already holds a run",
         "train --run-dir TMP/run", 2, "already holds a run",
         prepare=lambda tmp: write_run(tmp / "run")),
    Case("`--resume` of a directory without a checkpoint",
         "train --resume TMP/run", 2, "holds no checkpoint",
         prepare=lambda tmp: (tmp / "run").mkdir()),
    Case("`--resume` with a different N",
         "train --resume TMP/run --neurons 1600", 2, "with its own parameters",
         prepare=lambda tmp: write_run(tmp / "run")),
    Case("checkpoint arrays of a network of another size (seed 003: 400 vs 1600)",
         "evaluate TMP/run", 2, "do not fit its own network of 1600",
         prepare=lambda tmp: write_run(tmp / "run", n=400, manifest_n=1600)),
    Case("a checkpoint of another model",
         "evaluate TMP/run", 2, "holds a 'patch_hierarchy' model",
         prepare=lambda tmp: write_run(tmp / "run", model="patch_hierarchy")),
    Case("a damaged checkpoint file", "evaluate TMP/run", 2, "it is damaged",
         prepare=_truncate_weights),
    Case("ON/OFF inputs whose surround is no wider than their centre",
         "patches TMP/p --set encoding.channels=on_off --set encoding.dog_surround=1", 2,
         "must be larger than encoding.dog_center", after=_no_run_saved),
    Case("a patch-hierarchy run saved before a parameter it now has existed",
         "patches TMP/p", 2, "lacks layer3.input_total (saved by an older version)",
         prepare=_hierarchy_run_older_than_input_total),
    Case("the disk fills up while a checkpoint is written",
         f"train --run-dir TMP/run {TINY_TRAINING}", 2, "No space left on device",
         patches=_disk_full_on_second_checkpoint, after=_first_checkpoint_intact),
    Case("a second writer: `--resume` of a run another process is training",
         "train --resume TMP/run --examples 6000", 2, "is in use: process 4242",
         prepare=lambda tmp: write_run(tmp / "run"),
         patches=lambda tmp: [_another_writer(tmp / "run")]),
    Case("`--overwrite` pointed at a directory that holds no run",
         "train --run-dir TMP/thesis --overwrite", 2, "holds no run of spiking-mnist",
         prepare=_a_thesis, after=_thesis_untouched),
    Case("`--overwrite` pointed at a patch-hierarchy run",
         "train --run-dir TMP/p --overwrite", 2, "train --overwrite replaces only a training run",
         prepare=_hierarchy_run_older_than_input_total),
    Case("`analyse --out` pointed at another run (it would replace that run's metrics.json)",
         "analyse TMP/run --out TMP/other", 2, "holds a training run of its own",
         prepare=_two_runs, after=_other_metrics_kept),
    Case("an unknown pretrained network", "evaluate --pretrained n4000 --run-dir TMP/run", 2,
         "known: n100, n400", prepare=_pretrained_networks, patches=_only_these_pretrained,
         after=_nothing_copied),
    Case("a damaged pretrained network (a file whose sha256 is not the manifest's)",
         "evaluate --pretrained n400 --run-dir TMP/run", 2, "weights.npz is damaged",
         prepare=_damaged_pretrained, patches=_only_these_pretrained, after=_nothing_copied),
    Case("`deploy` of a directory without a trained checkpoint",
         "deploy TMP/run --board virtual", 2, "holds no checkpoint",
         prepare=lambda tmp: (tmp / "run").mkdir()),
    Case("exporting a run stopped before its first checkpoint (an untrained network)",
         "pretrained export TMP/run n100 --into TMP/networks", 2,
         "holds an untrained network", prepare=_untrained_run),
    Case("`deploy` of a network too large for the board asked for (N=6400 on a SpiNN-3)",
         "deploy TMP/run --board virtual --board-version 3", 2, "At most N=6,200 fits",
         prepare=lambda tmp: write_run(tmp / "run", n=6400)),
    Case("`deploy` of a patch-hierarchy run whose output layer is not learnt yet",
         "deploy TMP/p --board virtual", 2,
         "has no output weights for linear, surrogate, hidden yet",
         prepare=_hierarchy_run_started),
    Case("`deploy --twin` of a patch-hierarchy run whose output layer was learnt again and "
         "has not coded its images with it yet",
         "deploy TMP/p --board virtual --twin", 2,
         "has not coded its validation images with its output cells yet",
         prepare=_hierarchy_run_output_learnt_again),
    Case("`deploy --examples` of a patch-hierarchy run (its images are the run's own)",
         "deploy TMP/p --board virtual --examples 100", 2,
         "--examples: not for a patch-hierarchy run", prepare=_hierarchy_run_started),
    Case("`deploy --twin` of a D&C run (the twin is the patch hierarchy's)",
         "deploy TMP/run --board virtual --twin", 2, "--twin goes with a patch-hierarchy run",
         prepare=lambda tmp: write_run(tmp / "run")),
    Case("`deploy` to a board that cannot be reached", "deploy TMP/run --board 192.0.2.1", 3,
         "could not reach the SpiNN-5 board 192.0.2.1", prepare=lambda tmp: write_run(tmp / "run"),
         patches=_board_not_answering, needs="spynnaker"),
    Case("`--model` that names no Python file", "train --run-dir TMP/run --model TMP/net.py",
         2, "no such Python file"),
    Case("a network module without `build`", "train --run-dir TMP/run --model TMP/net.py", 2,
         "has no build(sim, params, n_inputs, learning_synapse",
         prepare=_module('"""A network that forgot to say how it is built."""\n')),
    Case("a network module whose `build` lacks an argument of the interface",
         "train --run-dir TMP/run --model TMP/net.py", 2, "build takes no connectors, cell_types",
         prepare=_module("def build(sim, params, n_inputs, learning_synapse):\n    pass\n")),
    Case("a network module whose parameter file declares a section D&C's parameters have",
         "train --run-dir TMP/run --model TMP/net.py", 2, "declare new sections only",
         prepare=_module('PARAMETERS = "net.toml"\n' + GOOD_BUILD, parameters=(
             '[stdp]\nnu_post = { value = 0.02, unit = "1", meaning = "potentiation" }\n'))),
    Case("a network module whose network has no learning projection (found before anything "
         "is simulated or written)",
         f"train --run-dir TMP/run --model TMP/net.py {TINY_TRAINING}", 2,
         "build returned a network without input_to_exc",
         prepare=_module(GOOD_BUILD.replace("    return diehl_cook.build(", "    net = diehl_cook.build(")
                         .replace("cell_types=cell_types)\n",
                                  "cell_types=cell_types)\n    net.input_to_exc = None\n"
                                  "    return net\n")),
         after=_no_checkpoint_written),
    Case("a network module whose learning rule the backend lacks",
         f"train --run-dir TMP/run --model TMP/net.py {TINY_TRAINING}", 2,
         "the nest backend has no SpikeNearestPairRule",
         prepare=_module(GOOD_BUILD + """
from spiking_mnist.models.network import StandardSTDP


def learning_rule(params):
    return StandardSTDP("SpikeNearestPairRule", {}, "AdditiveWeightDependence", {})
"""), after=_no_checkpoint_written),
    Case("`--resume` of a network module's run without `--model`",
         "train --resume TMP/run --examples 200", 2, "give it with --model TMP/net.py",
         prepare=_run_of_module("TMP/net.py")),
    Case("`evaluate` of a network module's run with another module (its file changed)",
         "evaluate TMP/run --model TMP/net.py", 2, "give the module that made it, unchanged",
         prepare=_run_of_module("TMP/net.py")),
    Case("`--model` with a run of D&C's network", "evaluate TMP/run --model TMP/net.py", 2,
         "this run is D&C's network", prepare=_run_of_module(None)),
]


def run(case: Case, tmp: Path) -> tuple[int, str]:
    """Prepare ``case`` in ``tmp``, run it; (exit code, stderr with ``tmp`` shown as TMP)."""
    case.prepare(tmp)
    argv = case.argv.replace("TMP", str(tmp)).split()
    err = io.StringIO()
    with contextlib.ExitStack() as stack:
        for patch in case.patches(tmp):
            stack.enter_context(patch)
        stack.enter_context(contextlib.redirect_stderr(err))
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse: its usage text (omitted here), then the error
            code = exit_.code
            err = io.StringIO(err.getvalue().strip().splitlines()[-1])
    return code, err.getvalue().replace(str(tmp), "TMP").strip()


def as_cell(text: str) -> str:
    """``text`` as one cell of a Markdown table."""
    return text.replace("|", "\\|").replace("\n", "<br>")


def table() -> str:
    lines = ["# Bad input and what the user sees", "",
             "Every case is run by `tests/test_bad_input.py`, which checks the message below is "
             "still the one printed; `python tests/bad_inputs.py > docs/bad-input.md` rewrites "
             "this file. `TMP` stands for the directory the case ran in. Exit codes: 2 bad "
             "input (data, configuration, run directory, disk), 3 backend unavailable.", "",
             "| bad input | command | exit | message |", "| --- | --- | --- | --- |"]
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            code, message = run(case, Path(tmp))
        lines.append(f"| {case.what} | `spiking-mnist {case.argv}` | {code} | "
                     f"{as_cell(message)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table())
