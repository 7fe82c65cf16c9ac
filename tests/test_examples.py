"""Every script in examples/ runs, at a small size, and prints sane figures.

Each runs in its own process, as a user runs it, from a temporary working directory (with
MNIST found through ``$SPIKING_MNIST_DATA``) and one NEST thread.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spiking_mnist.inputs import mnist
from spiking_mnist.models import diehl_cook

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ONE_THREAD = ["--set", "simulation.threads=1"]


def run_example(name: str, args: list[str], cwd: Path, **env: str) -> str:
    """Run ``examples/name`` with ``args``; its standard output (it must exit with 0)."""
    environment = {key: value for key, value in os.environ.items()
                   if key != "XDG_CONFIG_HOME"}          # sPyNNaker looks there too
    environment.update(SPIKING_MNIST_DATA=str(mnist.find_data_dir()), PYNEST_QUIET="1", **env)
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.stdout


#: network modules (``spiking-mnist train --model``), run by tests/test_your_own_network.py
NETWORK_MODULES = ["pair_stdp.py", "second_layer.py"]


def test_every_example_is_short_and_tested():
    scripts = ["build_network.py", "map_on_spinnaker.py", "train_and_evaluate.py"]
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(scripts + NETWORK_MODULES)
    for script in scripts:
        text = (EXAMPLES / script).read_text()
        assert len(text.splitlines()) <= 80, script
        assert text.startswith('"""') and "Usage: python examples/" + script in text
        assert "\n# === Parameters ===" in text and "\n# === Results ===" in text, script
    for module in NETWORK_MODULES:
        text = (EXAMPLES / module).read_text()
        assert len(text.splitlines()) <= 80, module
        assert text.startswith('"""') and f"--model examples/{module}" in text, module
        assert "\n# === Parameters ===" in text and "\n# === Build the network ===" in text
        assert (EXAMPLES / module).with_suffix(".toml").is_file(), module


def test_build_network_shows_a_digit_and_counts_spikes(tmp_path):
    out = run_example("build_network.py", ["--neurons", "30", *ONE_THREAD], tmp_path)
    assert "built 784 inputs -> 30 excitatory <-> 30 inhibitory neurons, 23,520 input " \
           "synapses" in out
    total = re.search(r"digit (\d) shown for 350 ms: (\d+) excitatory spikes from (\d+) "
                      r"neurons", out)
    assert total, out
    spikes, firing = int(total[2]), int(total[3])
    assert spikes > 0 and 0 < firing <= 30
    listed = [(int(n), int(c)) for n, c in re.findall(r"neuron +(\d+): +(\d+) spikes", out)]
    assert len(listed) == min(10, firing)
    counts = [c for _, c in listed]
    assert all(0 < c <= spikes for c in counts) and counts == sorted(counts, reverse=True)
    assert all(0 <= n < 30 for n, _ in listed) and len({n for n, _ in listed}) == len(listed)


def test_train_and_evaluate_prints_accuracy_and_a_table(tmp_path):
    out = run_example("train_and_evaluate.py",
                      ["--neurons", "10", "--examples", "100", "--test-examples", "50",
                       "--run-dir", str(tmp_path / "run"), *ONE_THREAD], tmp_path)
    assert "trained N=10 on 100 examples" in out
    accuracy = re.search(r"test accuracy: ([\d.]+) % on 50 images \(neurons labelled on "
                         r"100 training images\)", out)
    assert accuracy and 0.0 <= float(accuracy[1]) <= 100.0, out
    rows = re.findall(r"^ +(\d) +(\d+) +([\d.]+) % +(\d+)$", out, re.MULTILINE)
    assert [int(r[0]) for r in rows] == list(range(10))
    assert sum(int(r[1]) for r in rows) == 50 and sum(int(r[3]) for r in rows) <= 10
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # beside D&C's vote, the likelihood readout of the same responses
    saved = np.load(tmp_path / "run" / "responses-test.npz")
    likely = diehl_cook.predict_likelihood(saved["responses"], saved["class_rates"])
    np.testing.assert_array_equal(likely, saved["likelihood_predictions"])
    assert metrics["likelihood"]["accuracy"] == float(np.mean(likely == saved["labels"]))
    assert np.sum(metrics["likelihood"]["confusion"]) == 50


@pytest.mark.skipif(importlib.util.find_spec("spynnaker") is None,
                    reason="sPyNNaker is not installed (pip install '.[spinnaker]')")
def test_map_on_spinnaker_prints_the_resources(tmp_path):
    home = tmp_path / "home"             # the virtual board's config, not the user's
    home.mkdir()
    out = run_example("map_on_spinnaker.py", ["--neurons", "50", "--examples", "2"],
                      tmp_path, HOME=str(home))
    assert f"wrote {home / '.spynnaker.cfg'} for a virtual SpiNN-5 board" in out
    assert "pyNN.spiNNaker: 784 inputs -> 50 excitatory <-> 50 inhibitory, 2 digits" in out
    figures = dict(re.findall(r"^(boards|chips|cores|SDRAM): ([\d.]+)", out, re.MULTILINE))
    assert set(figures) == {"boards", "chips", "cores", "SDRAM"}, out
    assert int(figures["boards"]) == 1 and int(figures["chips"]) >= 1
    assert int(figures["cores"]) > 2 and float(figures["SDRAM"]) > 0
