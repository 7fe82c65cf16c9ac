"""One writer per run directory, stop signals, atomic result files, `--overwrite` that only
replaces a run, damaged files of older versions redone (see also test_crash_injection.py)."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bad_inputs import write_run
from spiking_mnist.rundir import checkpoint, files, lock
from spiking_mnist.rundir.hierarchy import load_codes
from spiking_mnist.runners.cli import (EXIT_BAD_INPUT, EXIT_HANGUP, EXIT_TERMINATED, exit_code,
                                       main)
from spiking_mnist.runners.train import (Interrupted, StopOnInterrupt, add_to_history,
                                         refuse_to_overwrite)

CLI = [sys.executable, "-m", "spiking_mnist.runners.cli"]
LONG = ["--examples", "3000", "--neurons", "10", "--digits", "0,1", "--quiet",
        "--set", "training.checkpoint_every=100", "--set", "simulation.threads=1"]
HOLD = ("import sys, time\nfrom spiking_mnist.rundir import lock\n"
        "with lock.writer(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(600)\n")


def examples_seen(run_dir: Path) -> int:
    manifest = run_dir / "checkpoint" / "manifest.json"
    return json.loads(manifest.read_text())["examples_seen"] if manifest.exists() else 0


def start(args: list[str]) -> subprocess.Popen:
    """The command in a process of its own, SIGHUP at its default even when the tests run
    under nohup (which a training keeps, see below)."""
    return subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))


def wait_for(process: subprocess.Popen, done, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- the lock ----------------------------------------------------------------------------

def test_a_second_writer_is_refused_naming_the_holder_and_sigterm_writes_a_checkpoint(
        tmp_path, capsys):
    run = tmp_path / "run"
    training = start(["train", "--run-dir", str(run), *LONG])
    wait_for(training, lambda: examples_seen(run) >= 100)
    for argv in (["train", "--resume", str(run), "--quiet"], ["evaluate", str(run), "--quiet"],
                 ["train", "--run-dir", str(run), "--overwrite", "--quiet"]):
        assert main(argv) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert f"is in use: process {training.pid} (`spiking-mnist train --run-dir {run}" in err
        assert "Wait for it to finish, or stop it first" in err and "started 20" in err
    training.send_signal(signal.SIGTERM)
    _, err = training.communicate(timeout=300)
    assert training.returncode == EXIT_TERMINATED == 143, err
    seen = examples_seen(run)
    assert 100 <= seen < 3000 and f"stopped (SIGTERM) after {seen} of 3000" in err
    assert "Traceback" not in err and not (run / lock.LOCK_FILE).exists()


def test_sighup_stops_after_the_example_with_129_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    training = start(["train", "--run-dir", str(run), *LONG])
    wait_for(training, lambda: examples_seen(run) >= 100)
    training.send_signal(signal.SIGHUP)
    _, err = training.communicate(timeout=300)
    assert training.returncode == EXIT_HANGUP == 129, err
    assert "stopped (SIGHUP)" in err and "Traceback" not in err
    seen = examples_seen(run)
    assert main(["train", "--resume", str(run), "--examples", str(seen + 5), "--quiet"]) == 0
    assert examples_seen(run) == seen + 5
    assert not files.leftovers(run) and not (run / lock.LOCK_FILE).exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_the_first_stop_signal_asks_the_second_stops_at_once(signum):
    # SIGHUP at its default, as in a terminal, also when the tests run under nohup
    previous = signal.signal(signum, signal.SIG_DFL) if signum == signal.SIGHUP else None
    try:
        with StopOnInterrupt() as stop:
            os.kill(os.getpid(), signum)
            assert stop.requested and stop.signum == signum
            with pytest.raises(Interrupted) as stopped:
                os.kill(os.getpid(), signum)
                time.sleep(1)
    finally:
        if previous is not None:
            signal.signal(signum, previous)
    assert stopped.value.signum == signum and exit_code(signum) == 128 + signum
    assert signal.getsignal(signum) != stop._handle      # handlers given back


def test_sighup_stays_ignored_under_nohup():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with StopOnInterrupt() as stop:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)
            assert not stop.requested
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path, caplog):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(lock.RunInUse, match=f"process {holder.pid} "):
        with lock.writer(run):
            pass
    holder.kill()
    holder.wait()
    (run / ".history.json.tmp-1").write_text("{")     # what its write left
    assert (run / lock.LOCK_FILE).exists()
    with caplog.at_level(logging.INFO), lock.writer(run):
        assert f"pid: {os.getpid()}" in (run / lock.LOCK_FILE).read_text()
    assert f"taking over the lock of process {holder.pid}" in caplog.text
    assert sorted(os.listdir(run)) == []      # lock and leftover gone


def test_locks_nest_within_a_process_and_go_with_it(tmp_path):
    run = tmp_path / "new" / "run"
    with lock.writer(run):
        with lock.writer(run):          # train validating with evaluate
            assert (run / lock.LOCK_FILE).exists()
        assert (run / lock.LOCK_FILE).exists()
    assert not run.exists()             # made for nothing: removed again
    run.mkdir()
    with lock.writer(run, create=False):
        (run / "kept").touch()
    assert os.listdir(run) == ["kept"]


# --- atomic writes -----------------------------------------------------------------------

WRITE = ("import sys\nfrom spiking_mnist.rundir import files\n"
         "files.write_json(sys.argv[1], {'new': list(range(1000))})\n")


def test_a_write_killed_at_any_step_leaves_the_old_file_or_the_new_one(tmp_path):
    path = tmp_path / "metrics.json"
    for k in range(1, 7):
        path.write_text(json.dumps({"old": 1}))
        env = {**os.environ, files.FAULT_AT: str(k)}
        done = subprocess.run([sys.executable, "-c", WRITE, str(path)], env=env)
        assert done.returncode == (files.FAULT_EXIT if k <= 5 else 0)
        assert json.loads(path.read_text()) in ({"old": 1}, {"new": list(range(1000))})
        assert (json.loads(path.read_text()) == {"old": 1}) == (k <= 4)   # renamed at 5
    assert files.leftovers(tmp_path)              # the killed writes' temporary files...
    with lock.writer(tmp_path):
        assert not files.leftovers(tmp_path)      # ...cleared by the next writer


def test_a_damaged_history_is_begun_anew_with_a_warning(tmp_path, caplog):
    (tmp_path / "history.json").write_text('{"speed": [{"examples_seen": 10, "exa')
    add_to_history(tmp_path, "speed", {"examples_seen": 20})
    assert "is not whole JSON" in caplog.text
    assert json.loads((tmp_path / "history.json").read_text()) == {
        "speed": [{"examples_seen": 20}]}


# --- --overwrite -------------------------------------------------------------------------

def test_overwrite_removes_what_the_run_wrote_and_nothing_else(tmp_path):
    run = tmp_path / "run"
    write_run(run)
    for name in ("metrics.json", "metrics-validation.json", "responses-test.npz",
                 "history.json", "notes.txt", "recordings/train/chunk-000000.nix",
                 "recordings/train/mine.txt", "recordings/test/chunk-000000.pkl",
                 "analysis/theta.png", "analysis/metrics.json", "data/train.gz"):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text("x")
    refuse_to_overwrite(run)        # a run: replaced
    kept = checkpoint.remove_run(run)
    assert kept == ["data/", "notes.txt", "recordings/"]
    left = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    assert left == ["data/train.gz", "notes.txt", "recordings/train/mine.txt"]


def test_overwrite_refuses_what_is_not_a_training_run(tmp_path):
    (tmp_path / "empty").mkdir()
    refuse_to_overwrite(tmp_path / "empty")
    refuse_to_overwrite(tmp_path / "new")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "parameters.json").write_text("{}")
    with pytest.raises(checkpoint.CheckpointError, match="holds a patch-hierarchy run"):
        refuse_to_overwrite(tmp_path / "p")
    (tmp_path / "home").mkdir()
    for name in ("a.txt", "b.txt", "c", "d", "e", "f"):
        (tmp_path / "home" / name).touch()
    with pytest.raises(checkpoint.CheckpointError, match=r"but 6 other entries \(a.txt, b.txt"
                       r", c, d, e and 1 more\)"):
        refuse_to_overwrite(tmp_path / "home")


def test_analyse_out_refuses_a_run_directory_even_its_own(tmp_path, capsys):
    write_run(tmp_path / "run")
    metrics = tmp_path / "run" / "metrics.json"
    metrics.write_text('{"accuracy": 0.9}')
    assert main(["analyse", str(tmp_path / "run"), "--out", str(tmp_path / "run")]) \
        == EXIT_BAD_INPUT
    assert "is the run directory itself" in capsys.readouterr().err
    assert metrics.read_text() == '{"accuracy": 0.9}'


# --- the hierarchy -------------------------------------------------------------------------

TINY = ["--quiet"] + [a for s in (
    "layer1.n_excitatory=3", "layer1.examples=20", "layer2.n_excitatory=4",
    "layer2.examples=10", "layer3.n_excitatory=10", "layer3.examples=10",
    "readout.train_examples=10", "readout.validation_examples=10", "code.part=5",
    "training.checkpoint_every=10", "simulation.threads=1") for a in ("--set", s)]


def test_files_cut_short_by_an_older_version_are_redone_with_a_message(tmp_path, capsys,
                                                                        caplog):
    run = tmp_path / "p"
    assert main(["patches", str(run), *TINY]) == 0
    codes = [load_codes(run, k, "validation")[0] for k in (1, 2, 3)]
    parameters = (run / "parameters.json").read_text()
    part = run / "codes" / "layer2-validation-0001.npz"
    for path in (part, run / "parameters.json", run / "codes" / "scales.json"):
        path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    capsys.readouterr()
    assert main(["patches", str(run), *TINY[:3]]) == EXIT_BAD_INPUT   # other values
    err = capsys.readouterr().err
    assert "parameters.json is not whole JSON" in err and "layer 1 was learnt with other" in err
    caplog.clear()
    assert main(["patches", str(run), *TINY]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert f"{part} is damaged (BadZipFile" in caplog.text and "coded again" in caplog.text
    assert "parameters.json is not whole JSON" in caplog.text and "written anew" in caplog.text
    assert "scales are taken anew" in caplog.text
    assert (run / "parameters.json").read_text() == parameters
    for k, before in zip((1, 2, 3), codes):
        assert np.array_equal(load_codes(run, k, "validation")[0], before)


def test_sigterm_stops_the_hierarchy_at_the_next_part_and_it_resumes(tmp_path):
    run = tmp_path / "p"
    process = start(["patches", str(run), *TINY])
    wait_for(process, lambda: (run / "codes" / "layer1-train-0000.npz").exists())
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    assert process.returncode == EXIT_TERMINATED, err
    assert "(SIGTERM); continue with `spiking-mnist patches" in err and "Traceback" not in err
    assert main(["patches", str(run), *TINY]) == 0
