"""Reproducibility and interrupted training: the same seed and thread count give the same run;
SIGKILL then --resume gives the very weights of an uninterrupted run; Ctrl-C writes a
checkpoint and exits with 130."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from spiking_mnist.runners.cli import EXIT_INTERRUPTED, main

RUN = ["--examples", "30", "--neurons", "10", "--digits", "0,1", "--quiet",
       "--set", "training.checkpoint_every=10"]


def start_training(run_dir):
    return subprocess.Popen([sys.executable, "-m", "spiking_mnist.runners.cli", "train",
                             "--run-dir", str(run_dir), *RUN],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def examples_seen(run_dir):
    manifest = run_dir / "checkpoint" / "manifest.json"
    return json.loads(manifest.read_text())["examples_seen"] if manifest.exists() else 0


def wait_for_checkpoint(process, run_dir, timeout=300.0):
    deadline = time.monotonic() + timeout
    while examples_seen(run_dir) == 0:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)


def state(run_dir):
    ckpt = run_dir / "checkpoint"
    manifest = json.loads((ckpt / "manifest.json").read_text())
    return (np.load(ckpt / "weights.npy"), np.load(ckpt / "theta.npy"),
            manifest["info"]["spikes"], manifest["examples_seen"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "whole"
    assert main(["train", "--run-dir", str(run), *RUN]) == 0
    return state(run)


def test_same_seed_and_threads_give_identical_runs(tmp_path, uninterrupted):
    run = tmp_path / "again"
    assert main(["train", "--run-dir", str(run), *RUN]) == 0
    weights, theta, spikes, seen = state(run)
    assert spikes == uninterrupted[2] and spikes > 0
    assert np.array_equal(weights, uninterrupted[0]) and np.array_equal(theta, uninterrupted[1])
    speed = json.loads((run / "history.json").read_text())["speed"]
    assert [s["examples_seen"] for s in speed] == [10, 20, 30]   # one per checkpoint segment
    assert all(s["examples_per_second"] > s["wall_examples_per_second"] > 0
               and s["peak_memory_mib"] > 0 for s in speed)


def test_another_seed_gives_another_run(tmp_path, uninterrupted):
    run = tmp_path / "other"
    assert main(["train", "--run-dir", str(run), *RUN, "--set", "simulation.seed=2"]) == 0
    assert not np.array_equal(state(run)[0], uninterrupted[0])


def test_killed_run_resumes_bit_identical(tmp_path, uninterrupted):
    run = tmp_path / "killed"
    process = start_training(run)
    wait_for_checkpoint(process, run)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < examples_seen(run) < 30
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    weights, theta, spikes, seen = state(run)
    assert seen == 30 and spikes == uninterrupted[2]
    assert np.array_equal(weights, uninterrupted[0])   # bit for bit
    assert np.array_equal(theta, uninterrupted[1])


def test_ctrl_c_writes_checkpoint_and_exits_130(tmp_path):
    run = tmp_path / "stopped"
    process = start_training(run)
    wait_for_checkpoint(process, run)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert f"--resume {run}" in err
    assert 0 < examples_seen(run) < 30
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert examples_seen(run) == 30


def test_resume_of_a_finished_run_asks_for_more_examples(tmp_path, uninterrupted, capsys):
    run = tmp_path / "done"
    assert main(["train", "--run-dir", str(run), "--examples", "2", "--neurons", "10",
                 "--quiet"]) == 0
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    assert "larger total" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--examples", "3", "--quiet"]) == 0
    assert examples_seen(run) == 3


def test_theta_kept_in_the_cells_resumes_exactly(tmp_path):
    cells = ["--set", "theta.kept=cells"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main(["train", "--run-dir", str(whole), *RUN, *cells]) == 0
    first_20 = ["20" if a == "30" else a for a in RUN]
    assert main(["train", "--run-dir", str(part), *first_20, *cells]) == 0
    assert main(["train", "--resume", str(part), "--examples", "30", "--quiet"]) == 0
    weights, theta, spikes, seen = state(part)
    expected = state(whole)
    assert seen == expected[3] == 30 and spikes == expected[2]
    assert np.array_equal(weights, expected[0]) and np.array_equal(theta, expected[1])
