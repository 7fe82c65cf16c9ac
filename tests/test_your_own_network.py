"""Your own network: the two network modules of examples/ go through the package unchanged,
at a tiny size on one NEST thread: `train --model`, resume, `evaluate`, `analyse` and a
virtual SpiNNaker mapping; their checkpoints name the module that made them."""
import json
from pathlib import Path

import numpy as np
import pytest

from spiking_mnist.inputs.mnist import find_data_dir
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.network import StandardSTDP, load_model
from spiking_mnist.rundir import checkpoint
from spiking_mnist.runners.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NETWORKS = ("pair_stdp.py", "second_layer.py")
TINY = ["--neurons", "10", "--examples", "20", "--quiet", "--set", "simulation.threads=1",
        "--set", "training.checkpoint_every=10"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each example network trained on 20 examples (two checkpoints), and its run; MNIST
    found through $SPIKING_MNIST_DATA (the virtual-board tests leave the checkout)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPIKING_MNIST_DATA", str(find_data_dir(download=False)))
        runs = {}
        for name in NETWORKS:
            run = tmp_path_factory.mktemp(Path(name).stem) / "run"
            assert main(["train", "--model", str(EXAMPLES / name), "--run-dir", str(run),
                         *TINY]) == 0
            runs[name] = run
        yield runs


@pytest.mark.parametrize("name", NETWORKS)
def test_an_example_network_trains_evaluates_and_is_analysed(trained, name, capsys):
    run, model = trained[name], EXAMPLES / name
    ckpt = checkpoint.load(run)
    assert ckpt.examples_seen == 20 and ckpt.model == Path(name).stem
    manifest = json.loads((run / "checkpoint" / "manifest.json").read_text())
    assert manifest["model_file"] == str(model)
    assert manifest["model_sha256"] == load_model(model).sha256
    initial = diehl_cook.normalise_columns(
        diehl_cook.initial_weights(load_model(model).defaults().with_values(
            ckpt.parameters, "test"), 784, np.random.default_rng(1)), 78.0)
    assert not np.allclose(ckpt.weights, initial)          # it learned
    np.testing.assert_allclose(ckpt.weights.sum(axis=0), 78.0, rtol=0.05)  # normalised
    assert (ckpt.theta > 20.0).any()                         # theta rose where neurons fired

    assert main(["evaluate", str(run), "--model", str(model), "--examples", "10",
                 "--label-examples", "10", "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["examples"] == 10 and 0.0 <= metrics["accuracy"] <= 1.0
    assert main(["analyse", str(run)]) == 0
    assert (run / "analysis" / "receptive-fields.png").is_file()
    assert "confusion" in capsys.readouterr().out


def test_a_run_resumes_only_with_the_module_that_made_it(trained, capsys):
    run, model = trained["pair_stdp.py"], EXAMPLES / "pair_stdp.py"
    assert main(["train", "--resume", str(run), "--examples", "30"]) == 2
    assert f"give it with --model {model}" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--examples", "30",
                 "--model", str(EXAMPLES / "second_layer.py")]) == 2
    assert "give the module that made it, unchanged" in capsys.readouterr().err
    assert main(["evaluate", str(trained["second_layer.py"]), "--model", str(model)]) == 2
    assert main(["train", "--resume", str(run), "--examples", "30", "--model", str(model),
                 "--quiet"]) == 0
    assert checkpoint.load(run).examples_seen == 30


def test_a_module_s_parameters_are_d_and_c_s_and_its_own_sections():
    from spiking_mnist.models.parameters import ConfigError, load_parameters
    model = load_model(EXAMPLES / "second_layer.py")
    params = load_parameters(model.name, None, ["layer2.weight=4", "stdp.nu_post=0.02"],
                             base=model.defaults())
    assert params.name == "second_layer" and params.layer2.weight == 4.0
    assert params.stdp.nu_post == 0.02 and params.spec("layer2", "delay").unit == "ms"
    with pytest.raises(ConfigError, match="layer2.connection_probability = 2.0 is above"):
        params.with_overrides(["layer2.connection_probability=2"])


def test_a_standard_rule_is_built_in_pynn_units_by_the_pynn_module_given():
    import pyNN.mock as sim
    model = load_model(EXAMPLES / "pair_stdp.py")
    sim.setup(timestep=0.5, min_delay=0.5)
    synapse = model.learning_rule(model.defaults()).synapse(sim, 1e-3, 0.5)
    assert type(synapse.timing_dependence).__name__ == "SpikePairRule"
    assert synapse.weight_dependence.parameter_space["w_max"].base_value == 1e-3   # 1 -> uS
    assert synapse.timing_dependence.parameter_space["A_minus"].base_value == 0.001
    sim.end()


def test_the_pair_rule_is_pynn_s_standard_stdp():
    model = load_model(EXAMPLES / "pair_stdp.py")
    rule = model.learning_rule(model.defaults())
    assert rule == StandardSTDP("SpikePairRule", {"tau_plus": 20.0, "tau_minus": 20.0,
                                                  "A_plus": 0.01, "A_minus": 0.001},
                                "MultiplicativeWeightDependence", {"w_min": 0.0, "w_max": 1.0})
    assert load_model(EXAMPLES / "second_layer.py").learning_rule(model.defaults()) is None


# -- on sPyNNaker's virtual board ------------------------------------------------------------
@pytest.fixture
def virtual_home(tmp_path, monkeypatch):
    """A home without sPyNNaker configuration; sPyNNaker's reports in tmp."""
    pytest.importorskip("spynnaker", reason="sPyNNaker is not installed")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", NETWORKS)
def test_an_example_network_maps_on_a_virtual_spinnaker_board(trained, name, virtual_home,
                                                               capsys):
    run = trained[name]
    assert main(["deploy", str(run), "--model", str(EXAMPLES / name), "--board", "virtual",
                 "--quiet"]) == 0
    assert "virtual board: mapped, nothing runs" in capsys.readouterr().out
    result = json.loads((run / "metrics-spinnaker.json").read_text())
    cores = result["resources"]["cores"]
    assert result["virtual"] and cores >= 3    # inputs, excitatory, inhibitory (+ layer2)


def test_the_pair_rule_learns_on_spinnaker_mapped_with_its_plastic_synapses(virtual_home):
    """The plastic network, PyNN's SpikePairRule with multiplicative weights, passes
    sPyNNaker's preflight and maps with its weights (nothing runs on a virtual board)."""
    from spiking_mnist.hardware import configure_machine
    from spiking_mnist.models.parameters import load_parameters
    from spiking_mnist.runners.session import open_network
    model = load_model(EXAMPLES / "pair_stdp.py")
    params = load_parameters(model.name, "spinnaker", ["network.n_excitatory=10"],
                             base=model.defaults())
    configure_machine("spinnaker", "virtual")
    rng = np.random.default_rng(0)
    weights = diehl_cook.normalise_columns(diehl_cook.initial_weights(params, 784, rng), 78.0)
    backend, _ = open_network(params, "spinnaker", weights,
                              diehl_cook.input_delays(params, 784, rng), np.full(10, 20.0),
                              plastic=True, model=model)
    try:
        backend.set_input_spikes([np.array([1.0 + k % 300]) for k in range(784)])
        backend.run(params.encoding.presentation + params.encoding.rest)
        assert backend.resources.cores >= 3
        dynamics = backend._network.input_to_exc._synapse_information.synapse_dynamics
        assert type(dynamics.timing_dependence).__name__ == "TimingDependenceSpikePair"
        assert type(dynamics.weight_dependence).__name__ == "WeightDependenceMultiplicative"
        np.testing.assert_allclose(backend.get_weights(), weights, atol=1e-3 * weights.max())
    finally:
        backend.end()


def test_the_python_api_builds_and_trains_a_network_module(tmp_path, monkeypatch):
    import spiking_mnist as sm
    from spiking_mnist.hardware.nest import import_pynn_nest
    monkeypatch.setenv("SPIKING_MNIST_DATA", str(find_data_dir(download=False)))
    module = EXAMPLES / "second_layer.py"
    params = sm.load_parameters(module, overrides=[
        "network.n_excitatory=5", "layer2.n_excitatory=3", "simulation.threads=1",
        "training.checkpoint_every=5"])
    assert params.layer2.n_excitatory == 3
    sim, _ = import_pynn_nest()
    sim.setup(timestep=0.5, min_delay=0.5, threads=1)
    network = sm.build_network(sim, params, model=module)
    assert network.layer2.size == 3 and network.exc_to_layer2.pre is network.excitatory
    np.testing.assert_allclose(network.excitatory.get("v_thresh"), -52.0)  # theta - offset
    sim.end()
    ckpt = sm.train(tmp_path / "run", params, examples=5, progress=False, model=module)
    assert ckpt.examples_seen == 5 and ckpt.model_file == str(module)


def test_a_module_s_own_population_is_recorded_by_its_label(trained, tmp_path):
    """``--record layer2``: the second layer of ``second_layer.py`` in the Neo recording,
    one spike train per neuron; a label the network lacks is refused, naming those it has."""
    from spiking_mnist.analysis.run_files import read_block
    model = str(EXAMPLES / "second_layer.py")
    run = tmp_path / "recorded"
    assert main(["train", "--model", model, "--run-dir", str(run), *TINY[:3], "5",
                 *TINY[4:], "--record", "excitatory,layer2", "--record-examples", "all"]) == 0
    size = load_model(Path(model)).defaults().layer2.n_excitatory
    (chunk,) = (run / "recordings" / "train").glob("chunk-*")
    trains = read_block(chunk).segments[0].spiketrains
    layer2 = [t for t in trains if t.annotations["population"] == "layer2"]
    assert len(layer2) == size and [t.annotations["index"] for t in layer2] == list(range(size))
    assert sum(len(t) for t in trains if t.annotations["population"] == "excitatory") > 0
    assert main(["train", "--model", model, "--run-dir", str(tmp_path / "typo"), *TINY,
                 "--record", "layer9"]) == 3
