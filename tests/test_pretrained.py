"""Pretrained networks: a tiny trained run (N=10) exported into a temporary pretrained folder
labels its neurons as `evaluate` does and measures the accuracy `evaluate --pretrained` then
gives without training or labelling; the folder's files are checked by sha256; a copy is a
run that `train --resume` continues."""
import json

import numpy as np
import pytest

import spiking_mnist
from spiking_mnist.rundir import checkpoint, pretrained
from spiking_mnist.runners.cli import main

N_TRAIN, N_LABEL, N_TEST = 20, 20, 20
TRAIN = ["--examples", str(N_TRAIN), "--neurons", "10", "--quiet",
         "--set", "simulation.threads=1", "--set", "training.checkpoint_every=10"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(run directory, folder of pretrained networks) holding a run trained on 20 examples
    and its export as "tiny", labelled on 20 training images and tested on 20."""
    root = tmp_path_factory.mktemp("pretrained")
    run, folder = root / "run", root / "networks"
    assert main(["train", "--run-dir", str(run), *TRAIN]) == 0
    assert main(["pretrained", "export", str(run), "tiny", "--into", str(folder),
                 "--label-examples", str(N_LABEL), "--test-examples", str(N_TEST),
                 "--quiet"]) == 0
    return run, folder


@pytest.fixture
def search(exported, monkeypatch):
    """The temporary pretrained folder on the search path, the user cache in tmp."""
    monkeypatch.setenv(pretrained.ENVIRONMENT, str(exported[1]))
    return exported[1]


def test_export_ships_compact_arrays_with_their_checksums_and_record(exported):
    run, folder = exported
    manifest = json.loads((folder / "tiny" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"weights.npz", "delays.npz", "theta.npz", "labels.npz"}
    for name, entry in manifest["files"].items():
        assert pretrained.sha256(folder / "tiny" / name) == entry["sha256"]
    assert manifest["files"]["weights.npz"]["dtype"] == "float32"
    assert manifest["files"]["weights.npz"]["shape"] == [784, 10]
    assert manifest["files"]["delays.npz"]["dtype"] == "uint8"
    assert manifest["files"]["labels.npz"]["dtype"] == "int8"
    assert manifest["delays"]["step_ms"] == 0.5
    trained = manifest["trained"]
    assert trained["examples"] == N_TRAIN and trained["seed"] == 1 and trained["neurons"] == 10
    assert trained["command"].startswith("spiking-mnist train --run-dir RUN_DIR --neurons 10 "
                                         f"--examples {N_TRAIN}")
    assert "--set simulation.threads=1" in trained["command"]
    assert manifest["labels"]["examples"] == N_LABEL
    assert manifest["accuracy"]["examples"] == N_TEST
    assert manifest["code_version"] == checkpoint.code_version()

    network = pretrained.load("tiny", [folder])
    ckpt = checkpoint.load(run)
    # float32 weights and theta, delays exact
    np.testing.assert_allclose(network.checkpoint.weights, ckpt.weights, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(network.checkpoint.delays, ckpt.delays)
    np.testing.assert_allclose(network.checkpoint.theta, ckpt.theta, rtol=1e-6)
    assert network.checkpoint.parameters == ckpt.parameters


def test_labels_are_those_of_evaluates_label_phase_and_the_accuracy_is_evaluates(
        exported, tmp_path):
    """Exporting labels on the training images `evaluate` labels on, once: the run evaluated
    with the same numbers gives the same labels and accuracy."""
    run, folder = exported
    network = pretrained.load("tiny", [folder])
    assert main(["evaluate", str(run), "--label-examples", str(N_LABEL),
                 "--examples", str(N_TEST), "--quiet"]) == 0
    evaluated = np.load(run / "responses-test.npz")
    np.testing.assert_array_equal(network.labels, evaluated["assignments"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert network.accuracy["accuracy"] == metrics["accuracy"]


def test_evaluate_pretrained_tests_without_labelling_into_a_new_run_dir(search, tmp_path,
                                                                       monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    network = pretrained.load("tiny")
    assert main(["evaluate", "--pretrained", "tiny", "--examples", str(N_TEST),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"test accuracy: {100 * network.accuracy['accuracy']:.2f} %" in out
    (run_dir,) = (tmp_path / "cache" / "spiking-mnist" / "runs").iterdir()
    assert run_dir.name.startswith("tiny-") and str(run_dir) in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["accuracy"] == network.accuracy["accuracy"]
    assert metrics["label_seconds"] == 0.0 and metrics["pretrained"] == "tiny"
    assert metrics["label_examples"] == N_LABEL
    np.testing.assert_array_equal(np.load(run_dir / "responses-test.npz")["assignments"],
                                  network.labels)
    # the directory is a run of its own: its checkpoint is the shipped network
    ckpt = checkpoint.load(run_dir)
    np.testing.assert_array_equal(ckpt.weights, network.checkpoint.weights)
    assert ckpt.info["pretrained"]["name"] == "tiny"


def test_python_api_loads_and_evaluates_a_pretrained_network(exported, tmp_path):
    folder = exported[1]
    network = spiking_mnist.load_pretrained("tiny", search=[folder])
    assert network.labels.shape == (10,) and network.checkpoint.weights.dtype == np.float64
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(pretrained.ENVIRONMENT, str(folder))
        metrics = spiking_mnist.evaluate(tmp_path / "api", examples=N_TEST, progress=False,
                                         pretrained="tiny")
    assert metrics["accuracy"] == network.accuracy["accuracy"]
    assert (tmp_path / "api" / "metrics.json").is_file()


def test_a_copy_is_a_run_that_training_continues(search, tmp_path, capsys):
    run = tmp_path / "copy"
    assert main(["pretrained", "copy", "tiny", str(run)]) == 0
    assert f"train --resume {run}" in capsys.readouterr().out
    copied = checkpoint.load(run)
    assert copied.examples_seen == N_TRAIN
    assert main(["train", "--resume", str(run), "--examples", str(N_TRAIN + 10),
                 "--quiet"]) == 0
    resumed = checkpoint.load(run)
    assert resumed.examples_seen == N_TRAIN + 10
    assert not np.array_equal(resumed.weights, copied.weights)   # it learned
    # a directory holding another run is refused
    assert main(["pretrained", "copy", "tiny", str(run)]) == 2


def test_list_names_each_network_with_its_training_and_accuracy(search, capsys):
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tiny: N=10, 20 training examples (seed 1")
    assert "trained with: spiking-mnist train" in out and "% on 20 test images" in out


def test_a_damaged_file_is_refused_before_it_is_read(exported, tmp_path):
    import shutil
    folder = tmp_path / "networks"
    shutil.copytree(exported[1] / "tiny", folder / "tiny")
    weights = folder / "tiny" / "weights.npz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(pretrained.PretrainedError, match="weights.npz is damaged"):
        pretrained.load("tiny", [folder])


@pytest.mark.parametrize("name, n, at_least", [("n100", 100, 0.85), ("n400", 400, 0.90)])
def test_the_shipped_networks_load_whole_with_their_record(name, n, at_least, monkeypatch):
    monkeypatch.delenv("SPIKING_MNIST_PRETRAINED", raising=False)
    network = pretrained.load(name)       # every file checked against its sha256
    assert network.checkpoint.weights.shape == (784, n)
    assert network.checkpoint.examples_seen == network.manifest["trained"]["examples"] == 60000
    assert network.labels.shape == (n,) and set(network.labels.tolist()) == set(range(10))
    assert network.accuracy["examples"] == 10000 and network.accuracy["split"] == "test"
    assert network.accuracy["accuracy"] >= at_least
