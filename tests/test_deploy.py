"""`spiking-mnist deploy` on sPyNNaker's virtual board: the frozen network at the board's
time step maps, says what it takes and how far the held weights are from the trained ones
(the model of sPyNNaker's fixed point agrees with the weights read back); N=400 maps within a
minute; the deployment-cost benchmark runs on a tiny network."""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spiking_mnist.inputs.mnist import find_data_dir
from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.runners import deploy
from spiking_mnist.runners.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from bad_inputs import write_run  # noqa: E402


# -- without a simulator ---------------------------------------------------------------------
def test_board_parameters_take_the_boards_step_and_whole_delays():
    params = load_parameters("diehl_cook", None, ["network.n_excitatory=10"])
    board = deploy.board_parameters(params)
    assert board.simulation.timestep == 1.0
    assert board.exc_to_inh.delay == 1.0 and board.inh_to_exc.delay == 1.0
    assert board.theta.kept == "host"
    assert board.encoding.max_intensity == 31     # at most 1,000 Hz at 1 ms
    # the rest is the trained network's
    trained, frozen = params.values(), board.values()
    for section in ("excitatory", "inhibitory", "network", "encoding", "input_to_exc"):
        for key, value in trained[section].items():
            if (section, key) != ("encoding", "max_intensity"):
                assert frozen[section][key] == value, (section, key)
    np.testing.assert_array_equal(
        deploy.board_delays(np.array([0.5, 1.0, 1.5, 2.0, 2.5, 9.5, 10.0])),
        [1.0, 1.0, 2.0, 2.0, 2.0, 10.0, 10.0])


def test_held_weights_are_16_bit_multiples_of_the_shifted_s1615_step():
    w = np.array([0.0, 1e-7, 0.1, 0.25, 1.0])
    held = deploy.held_weights(w, 1.0, shift=0)      # 1 nS units: step 2**-15 / 1024 uS
    step = 2.0 ** -15 / 1024 / 1e-3
    np.testing.assert_allclose(held, np.rint(w / step) * step)
    assert np.all(np.abs(held - w) <= step / 2)
    q = deploy.quantisation(w[1:], deploy.held_weights(w[1:], 1.0, shift=5))
    assert q["zeroed"] == 1 and q["relative_of"] == 3 and q["max_abs"] <= 32 * step / 2


# -- on the virtual board ----------------------------------------------------------------------
spynnaker = pytest.importorskip("spynnaker", reason="sPyNNaker is not installed")


@pytest.fixture
def virtual_home(tmp_path, monkeypatch):
    """A home without sPyNNaker configuration (deploy writes one for the virtual board);
    sPyNNaker's reports in tmp; MNIST found before leaving the checkout, passed on by
    $SPIKING_MNIST_DATA (the shared copy is looked for beside the working directory)."""
    monkeypatch.setenv("SPIKING_MNIST_DATA", str(find_data_dir(download=False)))
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_deploy_maps_the_frozen_run_on_a_virtual_board_and_stops(virtual_home, capsys):
    run = virtual_home / "run"
    write_run(run)
    assert main(["deploy", str(run), "--board", "virtual", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "machine: a virtual SpiNN-5 board" in out
    assert "frozen (static synapses, theta folded into the thresholds) at the board's 1.0 ms "\
           "step (trained at 0.5 ms)" in out
    assert "board(s)" in out and "cores" in out and "MiB SDRAM" in out
    assert "weight quantisation: max abs error" in out
    assert "virtual board: mapped, nothing runs" in out
    result = json.loads((run / deploy.RESULTS).read_text())
    assert result["virtual"] and result["metrics"] is None
    assert result["resources"]["cores"] > 0 and result["resources"]["boards"] == 1
    # write_run's delays are all 1 ms: on the grid; its weights are in [0, 1)
    assert result["delays_changed"] == 0
    q = result["quantisation"]
    step = result["weight_steps_nS"]["excitatory"]["excitatory"] / result["unit_conductance"]
    assert 0 < q["max_abs"] <= step / 2 + 1e-12
    assert q["max_rel"] < 1e-2


def test_held_weights_model_agrees_with_the_weights_read_back(virtual_home):
    from spiking_mnist.hardware import configure_machine
    from spiking_mnist.rundir import checkpoint
    write_run(virtual_home / "run", n=10)
    ckpt = checkpoint.load(virtual_home / "run")
    configure_machine("spinnaker", "virtual")
    params, frozen = deploy.board_twin(ckpt)
    images = np.random.default_rng(0).integers(0, 256, (2, 784))
    mapped = deploy.map_frozen(params, frozen, images)
    step = mapped["steps"]["excitatory"]["excitatory"]      # nS
    shift = int(round(np.log2(step * 1e-3 * 1024 * 2 ** 15)))
    np.testing.assert_allclose(
        mapped["held"], deploy.held_weights(ckpt.weights, params.network.unit_conductance,
                                            shift), rtol=0, atol=1e-12)


def test_on_a_real_machine_deploy_labels_tests_and_writes_metrics(virtual_home, monkeypatch,
                                                                   capsys):
    """The path after the mapping on a real board, with NEST standing in for the board
    (this project has none): labelled on the board's responses, tested, metrics written."""
    from spiking_mnist.hardware.spinnaker_resources import Resources
    write_run(virtual_home / "run")
    manifest = virtual_home / "run" / "checkpoint" / "manifest.json"
    values = json.loads(manifest.read_text())
    values["parameters"]["simulation"]["threads"] = 1
    manifest.write_text(json.dumps(values))

    def mapped_on_a_board(params, frozen, images, machine, model=None):
        return {"held": frozen.weights, "steps": {}, "virtual": False,
                "resources": Resources(1, 1, 3, 49, 1 << 20, 1, 48),
                "mapping_seconds": 1.0, "build_and_map_seconds": 2.0}
    monkeypatch.setattr(deploy, "map_frozen", mapped_on_a_board)
    monkeypatch.setattr(deploy, "BOARD_BACKEND", "nest")
    assert main(["deploy", str(virtual_home / "run"), "--board", "192.0.2.1", "--examples",
                 "10", "--label-examples", "10", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "machine: the SpiNN-5 board 192.0.2.1" in out
    assert "test accuracy on SpiNNaker:" in out and "labelled on the board on 10" in out
    result = json.loads((virtual_home / "run" / deploy.RESULTS).read_text())
    assert not result["virtual"] and result["metrics"]["examples"] == 10
    assert 0 <= result["metrics"]["accuracy"] <= 1
    responses = np.load(virtual_home / "run" / "responses-spinnaker.npz")
    assert responses["responses"].shape == (10, 10)
    assert not (virtual_home / "run" / "metrics.json").exists()   # NEST's own left alone


def test_a_board_that_does_not_answer_is_refused_with_exit_code_3(virtual_home, capsys):
    """192.0.2.1 (TEST-NET-1) is never assigned: sPyNNaker can neither talk to it nor boot it."""
    write_run(virtual_home / "run")
    assert main(["deploy", str(virtual_home / "run"), "--board", "192.0.2.1", "--quiet"]) == 3
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("spiking-mnist: error: could not reach the SpiNN-5 board 192.0.2.1")
    assert not (virtual_home / "run" / deploy.RESULTS).exists()


def test_deploy_maps_n400_within_a_minute(virtual_home):
    run = virtual_home / "n400"
    write_run(run, n=400)
    began = time.perf_counter()
    result = deploy.deploy(run, board="virtual", progress=False)
    seconds = time.perf_counter() - began
    assert seconds < 60, seconds
    assert result["resources"]["chips"] >= 1 and result["n_excitatory"] == 400


def test_deployment_cost_benchmark_runs_on_a_tiny_network(virtual_home):
    run = virtual_home / "tiny"
    assert main(["train", "--run-dir", str(run), "--examples", "10", "--neurons", "10",
                 "--quiet", "--set", "simulation.threads=1"]) == 0
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "deployment_cost.py"), str(run),
         "--examples", "10", "--label-examples", "10", "--quiet", "--causes",
         "--out", str(virtual_home / "cost.json")],
        capture_output=True, text=True, timeout=900, cwd=virtual_home)
    assert out.returncode == 0, out.stderr
    assert "| original (trained weights and delays) | 0.5 |" in out.stdout
    assert "| board twin (held weights, delays in whole steps) | 1 |" in out.stdout
    rows = json.loads((virtual_home / "cost.json").read_text())["rows"]
    assert [r["network"].split(" (")[0] for r in rows] == [
        "original", "board twin", "board twin", "time step only", "weights only"]
    assert rows[0]["minus_original_points"] == 0.0
    assert all(0 <= r["accuracy"] <= 1 for r in rows)


def test_deploy_without_spynnaker_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    run = tmp_path / "run"
    write_run(run)
    for name in [m for m in sys.modules if m == "spynnaker" or m.startswith("spynnaker.")
                 or m == "spiking_mnist.hardware.spinnaker"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "spynnaker", None)     # import spynnaker: ImportError
    assert main(["deploy", str(run), "--board", "virtual"]) == 3
    err = capsys.readouterr().err
    assert "pip install 'spiking-mnist[spinnaker]'" in err and "Traceback" not in err
