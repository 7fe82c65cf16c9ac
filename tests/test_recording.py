"""Neo recordings: the chosen examples, populations and variables, reloadable in a fresh
process, agreeing with the spike counts the runners computed."""
import json
import subprocess
import sys

import numpy as np
import pytest

from spiking_mnist.inputs.encoding import poisson_spike_times, rates_hz, spike_rng
from spiking_mnist.models.parameters import ConfigError, load_defaults, load_parameters
from spiking_mnist.runners.cli import main
from spiking_mnist.runners.evaluate import evaluate
from spiking_mnist.runners.recording import ExampleSelection, RecordingPlan
from spiking_mnist.runners.train import train

RELOAD = """
import json, sys
from pathlib import Path
import neo
out = {}
for path in sorted(Path(sys.argv[1]).glob("chunk-*")):
    io = neo.NixIO(str(path), mode="ro") if path.suffix == ".nix" else neo.PickleIO(str(path))
    block = io.read_block()
    seg = block.segments[0]
    epoch = [e for e in seg.epochs if e.name == "examples"][0]
    for k, (start, duration) in enumerate(zip(epoch.times.magnitude, epoch.durations.magnitude)):
        example = int(epoch.array_annotations["example"][k])
        counts = {}
        for st in seg.spiketrains:
            t = st.magnitude
            n = int(((t > start) & (t <= start + block.annotations["presentation"])).sum())
            if n:
                pop = st.annotations["population"]
                counts.setdefault(pop, {})[str(st.annotations["index"])] = n
        out[example] = {"label": int(epoch.array_annotations["label"][k]),
                        "predicted": int(epoch.array_annotations["predicted"][k]),
                        "showing": int(epoch.array_annotations["showing"][k]),
                        "intensity": int(epoch.array_annotations["intensity"][k]),
                        "rows": len(epoch), "start": float(start),
                        "counts": counts, "file": path.name,
                        "signals": sorted({(s.name, s.annotations["population"], s.shape[1])
                                           for s in seg.analogsignals}),
                        "theta": [s.shape[0] for s in seg.irregularlysampledsignals],
                        "n_signals": len(seg.analogsignals)}
    if hasattr(io, "close"):
        io.close()
print(json.dumps({"examples": out, "simulators": [m for m in ("nest", "pyNN.nest") if m in sys.modules]}))
"""


def reload(directory):
    """What a fresh process that imports only neo reads back, per example."""
    result = subprocess.run([sys.executable, "-c", RELOAD, str(directory)],
                            capture_output=True, text=True, check=True)
    data = json.loads(result.stdout)
    assert data["simulators"] == []
    return {int(k): v for k, v in data["examples"].items()}


def test_example_selection():
    assert [k for k in range(10) if k in ExampleSelection.parse("every:3")] == [0, 3, 6, 9]
    assert [k for k in range(10) if k in ExampleSelection.parse("1-3,7")] == [1, 2, 3, 7]
    assert all(k in ExampleSelection.parse("all") for k in range(5))
    for bad in ("every:0", "3-1", "x", "1,,2"):
        with pytest.raises(ConfigError):
            ExampleSelection.parse(bad)


def test_plan_refuses_unknown_names():
    """A population is one of D&C's or a label a network module may give (the backend
    checks that the network has it: test_your_own_network.py)."""
    with pytest.raises(ConfigError, match="choose from input"):
        RecordingPlan(populations=("exc itatory",))
    with pytest.raises(ConfigError, match="choose from input"):
        RecordingPlan(populations=())
    assert RecordingPlan(populations=("layer2",)).backend_populations() == ("layer2",)
    with pytest.raises(ConfigError, match="variable w"):
        RecordingPlan(populations=("excitatory",), variables=("w",))


def test_plan_refuses_inhibitory_signals_of_a_shared_inhibitory_neuron():
    params = load_parameters("diehl_cook", None, ["network.inhibitory=shared"])
    with pytest.raises(ConfigError, match="network.inhibitory=paired"):
        RecordingPlan(populations=("excitatory", "inhibitory")).for_network(params.network)
    plan = RecordingPlan(populations=("excitatory",), neurons=(0, 99, 100))
    assert plan.for_network(params.network).neurons == (0, 99)


@pytest.fixture(scope="module")
def untrained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("rec") / "run"
    assert main(["train", "--run-dir", str(run), "--neurons", "10", "--examples", "0",
                 "--quiet"]) == 0   # an untrained network, checkpointed
    return run


@pytest.mark.parametrize("fmt", ["nix", "pickle"])
def test_test_recording_matches_counts_and_labels(untrained_run, fmt):
    # NIX writes each spike train as an object of its own (slow): its run records the
    # input's 784 trains only in the pickle run, which checks them against the encoder
    inputs = ("input",) if fmt == "pickle" else ()
    plan = RecordingPlan(populations=inputs + ("excitatory", "inhibitory"),
                         variables=("spikes", "v", "theta"), examples=ExampleSelection.parse("0-4"),
                         neurons=(0, 3), format=fmt, chunk=3)
    evaluate(untrained_run, "test", examples=6, label_examples=4, progress=False,
             recording=plan)
    saved = np.load(untrained_run / "responses-test.npz")
    test = reload(untrained_run / "recordings" / "test")
    assert sorted(test) == [0, 1, 2, 3, 4]                       # example 5 not chosen
    suffix = {"nix": ".nix", "pickle": ".pkl"}[fmt]
    assert {v["file"] for v in test.values()} == {f"chunk-000000{suffix}", f"chunk-000003{suffix}"}
    assert sorted(reload(untrained_run / "recordings" / "label")) == [0, 1, 2, 3]
    from spiking_mnist.inputs import mnist
    images = mnist.load("test").images
    params = load_defaults("diehl_cook")
    for k, example in test.items():
        assert example["label"] == saved["labels"][k]
        assert example["predicted"] == saved["predictions"][k]
        assert example["signals"] == [["v", "excitatory", 2], ["v", "inhibitory", 2]]
        assert example["n_signals"] == 2   # consecutive showings: one signal per variable
        assert example["theta"] == [example["rows"]]   # one sample per run of one showing
        # the last showing's presentation window holds the counts used, and its inputs
        exc = example["counts"].get("excitatory", {})
        assert [exc.get(str(i), 0) for i in range(10)] == saved["responses"][k].tolist()
        enc = params.encoding
        expected = poisson_spike_times(
            rates_hz(images[k], enc.rate_per_intensity, example["intensity"]),
            enc.presentation, params.simulation.timestep,
            spike_rng(params.simulation.seed, "test", k, example["showing"] - 1))
        if inputs:
            got = example["counts"]["input"]
            assert {str(i): t.size for i, t in enumerate(expected) if t.size} == got
        else:
            assert "input" not in example["counts"]


def test_training_records_every_nth_example_with_theta(tmp_path):
    plan = RecordingPlan(populations=("excitatory",), variables=("spikes", "theta"),
                         examples=ExampleSelection.parse("every:2"), neurons=tuple(range(5)))
    run = tmp_path / "run"
    train(run, load_parameters("diehl_cook", None, ["network.n_excitatory=5",
                                                    "training.examples=6",
                                                    "training.checkpoint_every=4"]),
          progress=False, recording=plan)
    recorded = reload(run / "recordings" / "train")
    assert sorted(recorded) == [0, 2, 4]
    # a file per simulation (checkpoints restart it): examples 0-3, then 4-5
    assert {recorded[0]["file"], recorded[4]["file"]} == {"chunk-000000.nix", "chunk-000004.nix"}
    assert all(v["predicted"] == -1 for v in recorded.values())


def test_evaluation_restarts_the_simulator_and_writes_a_file_at_each_restart(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), "--neurons", "10", "--examples", "0",
                 "--set", "evaluation.restart_every=2", "--quiet"]) == 0
    plan = RecordingPlan(populations=("excitatory",), variables=("spikes",), chunk=100)
    evaluate(run, "test", examples=5, label_examples=3, progress=False, recording=plan)
    saved = np.load(run / "responses-test.npz")
    test = reload(run / "recordings" / "test")
    assert {k: v["file"] for k, v in test.items()} == {
        0: "chunk-000000.nix", 1: "chunk-000000.nix", 2: "chunk-000002.nix",
        3: "chunk-000002.nix", 4: "chunk-000004.nix"}
    for k, example in test.items():   # each file's times start again with its simulator
        exc = example["counts"].get("excitatory", {})
        assert [exc.get(str(i), 0) for i in range(10)] == saved["responses"][k].tolist()
    assert sorted({v["file"] for v in reload(run / "recordings" / "label").values()}) == [
        "chunk-000000.nix", "chunk-000002.nix"]


def test_evaluation_while_recording_restarts_the_simulator_with_each_file(tmp_path):
    """Without recording the frozen network is rebuilt only every evaluation.restart_every
    (10,000) examples; while recording, also every --record-chunk examples, so NEST's memory
    and a file's clock never run on past a file."""
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), "--neurons", "10", "--examples", "0",
                 "--quiet"]) == 0
    plan = RecordingPlan(populations=("excitatory",), variables=("spikes",), chunk=2)
    evaluate(run, "test", examples=5, label_examples=1, progress=False, recording=plan)
    test = reload(run / "recordings" / "test")
    assert [test[k]["file"] for k in range(5)] == [
        "chunk-000000.nix", "chunk-000000.nix", "chunk-000002.nix", "chunk-000002.nix",
        "chunk-000004.nix"]
    period = 500.0   # ms: 350 ms shown, 150 ms of rest; a re-show starts a period later
    first_showing = {k: v["start"] - (v["showing"] - 1) * period for k, v in test.items()}
    assert first_showing[1] == first_showing[0] + test[0]["showing"] * period
    assert first_showing[2] == first_showing[4] == first_showing[0]


def test_memory_release_finds_hdf5_and_glibc(tmp_path):
    """The recorder's memory release is silent when it finds nothing: check it finds the
    HDF5 library that h5py loaded for NIX files, and glibc on Linux."""
    import platform

    import neo

    from spiking_mnist.runners import recording
    io = neo.NixIO(str(tmp_path / "x.nix"), mode="ow")
    io.close()
    hdf5 = recording._hdf5_library()
    assert hdf5 is not None and hdf5.H5garbage_collect() >= 0
    if platform.libc_ver()[0] == "glibc":
        assert recording._tuned_glibc() is not None
