"""`spiking-mnist analyse`: a synthetic run directory written to docs/recordings.md (Neo
recordings in NIX and pickle) is read back exactly and drawn without any simulator."""
import json
import subprocess
import sys

import matplotlib.image
import neo
import numpy as np
import pytest
import quantities as pq
from neo.io import NixIO, PickleIO

from spiking_mnist.analysis import figures
from spiking_mnist.analysis.report import analyse
from spiking_mnist.analysis.run_files import RunFiles
from spiking_mnist.models.parameters import load_defaults
from spiking_mnist.rundir.checkpoint import Checkpoint, CheckpointError, save
from spiking_mnist.runners.cli import EXIT_BAD_INPUT, main

N = 16
SHAPE = (28, 28)
PRESENTATION, REST = 350.0, 150.0
V_THRESH, THETA_OFFSET = -52.0, 20.0
FIGURE_ORDER = ("input-frames", "input-raster-3d", "raster", "membrane", "receptive-fields",
                "theta", "labels", "outputs", "confusion", "accuracy")
ALL_FIGURES = set(FIGURE_ORDER)
V_NEURONS = [0, 1, 2, 3]


def write_checkpoint(run_dir, rng):
    values = load_defaults("diehl_cook").values()
    values["network"]["n_excitatory"] = N
    weights = rng.uniform(0, 0.3, (SHAPE[0] * SHAPE[1], N))
    theta = 20.0 + np.arange(N) * 0.25
    save(run_dir, Checkpoint("diehl_cook", values, weights, np.ones_like(weights), theta,
                             examples_seen=100, backend="nest", info={"digits": None}))
    return theta


def bar_pixels(label):
    """The synthetic image of ``label``: a vertical bar in column 4 + 2 * label."""
    return np.array([r * SHAPE[1] + 4 + 2 * label for r in range(6, 22)])


def write_chunk(path, phase, examples, t0, inputs, rng, v_runs=1):
    """One recording file of ``examples`` [(example, label, predicted, showings)], an epoch
    row per showing (only the last one predicted), starting at
    ``t0`` ms, recording the input pixels ``inputs``, all excitatory and inhibitory neurons,
    `v` of V_NEURONS (as ``v_runs`` AnalogSignals, as the recorder splits it where examples
    are left out) and theta of the even excitatory neurons; returns what it holds."""
    block = neo.Block(model="diehl_cook", phase=phase, n_excitatory=N, image_shape=list(SHAPE),
                      timestep=0.5, presentation=PRESENTATION, rest=REST, v_thresh=V_THRESH,
                      theta_offset=THETA_OFFSET, backend="nest")
    segment = neo.Segment(name=path.name)
    block.segments.append(segment)
    times = {"input": {}, "excitatory": {}, "inhibitory": {}}
    rows, example_ends, t = [], [], t0
    period = PRESENTATION + REST
    for example, label, predicted, showings in examples:
        rows += [(t + s * period, period, example, label,
                  predicted if s == showings - 1 else -1, s + 1) for s in range(showings)]
        last = t + (showings - 1) * period
        for pixel in bar_pixels(label):
            times["input"].setdefault(pixel, []).extend(rng.uniform(last, last + 300, 3))
            times["input"][pixel].extend(rng.uniform(t, last, showings - 1))  # earlier showings
        for population in ("excitatory", "inhibitory"):
            neuron = (label + example) % N
            times[population].setdefault(neuron, []).extend(rng.uniform(last, last + 300, 4))
        t += showings * period
        example_ends.append(t)
    recorded = {"input": inputs, "excitatory": range(N), "inhibitory": range(N)}
    expected = {}
    for population, neurons in recorded.items():
        expected[population] = {}
        for i in neurons:
            spikes = np.sort(times[population].get(i, []))
            expected[population][i] = spikes
            segment.spiketrains.append(neo.SpikeTrain(spikes * pq.ms, t_start=t0 * pq.ms,
                                                      t_stop=t * pq.ms, population=population,
                                                      index=i))
    samples = np.arange(t0, t, 0.5)
    v = -65.0 + 10 * np.sin(samples[:, None] / 40.0 + np.arange(len(V_NEURONS)))
    for run in np.array_split(np.arange(samples.size), v_runs):
        segment.analogsignals.append(neo.AnalogSignal(
            v[run] * pq.mV, t_start=samples[run[0]] * pq.ms, sampling_period=0.5 * pq.ms,
            name="v", population="excitatory", array_annotations={"index": np.array(V_NEURONS)}))
    ends = np.array(example_ends)
    theta_index = np.arange(0, N, 2)
    theta = 20.0 + 0.01 * np.arange(len(examples))[:, None] + theta_index[None, :]
    segment.irregularlysampledsignals.append(neo.IrregularlySampledSignal(
        ends * pq.ms, theta * pq.mV, name="theta",
        array_annotations={"index": theta_index}))
    starts, durations = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    columns = {k: np.array([r[j] for r in rows])
               for j, k in enumerate(("example", "label", "predicted", "showing"), start=2)}
    segment.epochs.append(neo.Epoch(
        starts * pq.ms, durations=durations * pq.ms,
        labels=np.array([str(r[2]) for r in rows]), name="examples",
        array_annotations=columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".nix":
        with NixIO(str(path), mode="ow") as io:
            io.write_block(block)
    else:
        PickleIO(str(path)).write_block(block)
    return {"spikes": expected, "starts": starts, "durations": durations,
            "example_ends": ends, "v": v, "theta": theta, "theta_index": theta_index, **columns}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run directory with every file of docs/recordings.md; returns it and what it holds."""
    run_dir = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(7)
    theta = write_checkpoint(run_dir, rng)
    test = [(k, (3 * k) % 10, (3 * k) % 10 if k % 3 else 0, 2 if k == 2 else 1)
            for k in range(10)]
    chunks = {
        "test/chunk-000000.pkl": write_chunk(
            run_dir / "recordings/test/chunk-000000.pkl", "test", test[:6], 0.0,
            range(SHAPE[0] * SHAPE[1]), rng),
        # NIX costs ~20 ms per spike train to write: record one image row of inputs only
        "test/chunk-000006.nix": write_chunk(
            run_dir / "recordings/test/chunk-000006.nix", "test", test[6:], 3500.0,
            range(10 * SHAPE[1], 11 * SHAPE[1]), rng),
        "train/chunk-000000.pkl": write_chunk(
            run_dir / "recordings/train/chunk-000000.pkl", "train",
            [(k, k, -1, 1) for k in range(3)], 0.0, range(5), rng, v_runs=2),
    }
    labels = np.array([e[1] for e in test])
    predictions = np.array([e[2] for e in test])
    assignments = np.array([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 3, 3, -1, 0])
    np.savez_compressed(run_dir / "responses-test.npz",
                        responses=rng.integers(0, 5, (len(test), N)), labels=labels,
                        predictions=predictions, assignments=assignments)
    # responses-test.npz, not this, is where the accuracy is recomputed from
    (run_dir / "metrics.json").write_text(json.dumps({"split": "test", "accuracy": 0.0}))
    (run_dir / "history.json").write_text(json.dumps({"validation": [
        {"examples_seen": 50, "accuracy": 0.3, "examples": 100},
        {"examples_seen": 100, "accuracy": 0.55, "examples": 100}]}))
    return {"dir": run_dir, "chunks": chunks, "theta": theta, "labels": labels,
            "predictions": predictions, "assignments": assignments}


def expected_rate(chunks, population):
    spikes = sum(sum(len(t) for t in c["spikes"][population].values()) for c in chunks)
    neuron_ms = sum(len(c["spikes"][population]) * c["durations"].sum() for c in chunks)
    return 1000.0 * spikes / neuron_ms


def assert_drawn(path):
    assert path.stat().st_size > 0
    assert matplotlib.image.imread(path).std() > 0, f"{path.name} is blank"


def test_recordings_reload_from_nix_and_pickle(run):
    files = RunFiles(run["dir"], allow_pickle=True)
    assert [(first, path.suffix) for first, path in files.recording_files("test")] == [
        (0, ".pkl"), (6, ".nix")]
    for chunk in files.chunks("test"):
        written = run["chunks"][f"test/{chunk.path.name}"]
        assert (chunk.phase, chunk.image_shape) == ("test", SHAPE)
        assert (chunk.presentation, chunk.rest) == (PRESENTATION, REST)
        for population, trains in written["spikes"].items():
            spikes = chunk.spikes[population]
            assert spikes.recorded.tolist() == sorted(trains)
            counts = np.bincount(spikes.index, minlength=max(trains) + 1)
            assert all(counts[i] == len(t) for i, t in trains.items()), population
            assert np.allclose(np.sort(spikes.times),
                               np.sort(np.concatenate(list(trains.values()))))
        ex = chunk.examples
        assert np.allclose(ex.start, written["starts"])
        assert np.allclose(ex.duration, written["durations"])
        for key in ("example", "label", "predicted", "showing"):
            assert getattr(ex, key).tolist() == written[key].tolist(), key
        v = chunk.signals[("excitatory", "v")]
        assert v.index.tolist() == V_NEURONS and np.allclose(v.values, written["v"])
        assert chunk.theta.index.tolist() == written["theta_index"].tolist()
        assert np.allclose(chunk.theta.values, written["theta"])


def test_signal_runs_are_joined(run):
    (chunk,) = RunFiles(run["dir"], allow_pickle=True).chunks("train")
    v = chunk.signals[("excitatory", "v")]
    assert np.allclose(v.values, run["chunks"]["train/chunk-000000.pkl"]["v"])
    assert np.allclose(np.diff(v.times), 0.5)


def test_input_spikes_and_threshold_of_an_example(run):
    chunk = next(RunFiles(run["dir"], allow_pickle=True).chunks("test"))
    at = chunk.position(2)  # shown twice: only the second showing's inputs count
    times, pixels = chunk.input_spikes(at)
    assert sorted(set(pixels.tolist())) == bar_pixels(chunk.examples.label[at]).tolist()
    assert len(times) == 3 * 16 and times.min() >= 0 and times.max() < PRESENTATION
    assert chunk.input_image(at).sum() == 3 * 16
    ends = run["chunks"]["test/chunk-000000.pkl"]["example_ends"]
    during_third = np.array([ends[1] + 10.0, ends[2] - 1.0])
    # theta in force during example 2 is the one sampled at the end of example 1
    assert np.allclose(chunk.threshold(2, during_third, 99.0),
                       V_THRESH + 20.0 + 0.01 + 2 - THETA_OFFSET)
    assert np.allclose(chunk.threshold(3, during_third, 21.5), V_THRESH + 21.5 - THETA_OFFSET)


def test_analyse_in_a_fresh_process_draws_every_figure_without_a_simulator(run):
    """Through the command line, with an example of the NIX chunk and chosen neurons."""
    code = ("import json, sys\n"
            "from spiking_mnist.runners.cli import main\n"
            f"code = main(['analyse', {str(run['dir'])!r}, '--example', '7', '--neurons', '1,2',"
            " '--allow-pickle'])\n"
            "print(json.dumps([code] + [m for m in ('nest', 'pyNN.nest', 'spynnaker') "
            "if m in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    *printed, last = done.stdout.splitlines()
    assert json.loads(last) == [0], "exit code and simulators imported"
    out = run["dir"] / "analysis"
    assert printed == [f"figures and metrics.json in {out}: " + ", ".join(
        f"{name}.png" for name in FIGURE_ORDER)]
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["skipped"] == {}
    for name in FIGURE_ORDER:
        assert_drawn(out / f"{name}.png")
    assert summary["drawn_example"] == {"phase": "test", "example": 7,
                                        "membrane_neurons": [1, 2]}

    labels, predictions = run["labels"], run["predictions"]
    assert summary["accuracy"] == pytest.approx(np.mean(labels == predictions))
    confusion = np.array(summary["confusion"])
    assert confusion.sum() == len(labels) and np.trace(confusion) == np.sum(labels == predictions)
    assert confusion[labels[3], predictions[3]] >= 1
    assert summary["neurons_per_label"] == np.bincount(
        run["assignments"][run["assignments"] >= 0], minlength=10).tolist()
    assert summary["unlabelled_neurons"] == 2
    assert summary["theta_mv"] == pytest.approx(
        {"mean": run["theta"].mean(), "min": run["theta"].min(), "max": run["theta"].max()})
    test_chunks = [run["chunks"]["test/chunk-000000.pkl"], run["chunks"]["test/chunk-000006.nix"]]
    for population in ("input", "excitatory", "inhibitory"):
        assert summary["firing_rates_hz"]["test"][population] == pytest.approx(
            expected_rate(test_chunks, population))
    assert summary["firing_rates_hz"]["train"]["excitatory"] == pytest.approx(
        expected_rate([run["chunks"]["train/chunk-000000.pkl"]], "excitatory"))


@pytest.fixture
def small_run(tmp_path):
    """A checkpoint and one pickled test chunk of two examples, nothing else."""
    rng = np.random.default_rng(1)
    write_checkpoint(tmp_path, rng)
    write_chunk(tmp_path / "recordings/test/chunk-000000.pkl", "test",
                [(0, 3, 3, 1), (1, 2, 1, 1)], 0.0, range(SHAPE[0] * SHAPE[1]), rng)
    return tmp_path


def test_missing_inputs_skip_figures_with_what_to_run(small_run, capsys):
    (small_run / "recordings").rename(small_run / "elsewhere")
    summary = analyse(small_run)
    assert set(summary["figures"]) == {"receptive-fields", "theta"}
    assert set(summary["skipped"]) == ALL_FIGURES - {"receptive-fields", "theta"}
    assert "--record" in summary["skipped"]["raster"]
    assert f"spiking-mnist evaluate {small_run}" in summary["skipped"]["labels"]
    assert "validate_every" in summary["skipped"]["accuracy"]
    assert summary["accuracy"] is None and summary["firing_rates_hz"] == {}
    assert_drawn(small_run / "analysis" / "receptive-fields.png")
    confusion = np.diag([1, 2, 0, 0, 0, 0, 0, 0, 0, 1])
    (small_run / "metrics.json").write_text(json.dumps({  # as `evaluate` writes it
        "accuracy": 1.0, "per_class_accuracy": [1.0] * 10, "confusion": confusion.tolist(),
        "neurons_per_class": [2] * 8, "unlabelled_neurons": 0}))
    assert main(["analyse", str(small_run)]) == 0
    printed = capsys.readouterr().out
    assert "skipped membrane: no recordings" in printed and "skipped labels" in printed
    summary = json.loads((small_run / "analysis" / "metrics.json").read_text())
    assert summary["accuracy"] == 1.0 and summary["confusion"] == confusion.tolist()
    assert_drawn(small_run / "analysis" / "confusion.png")


def test_unrecorded_example_and_neurons_are_skipped(small_run):
    summary = analyse(small_run, example=5, allow_pickle=True)
    assert "give --example between 0 and 1" in summary["skipped"]["raster"]
    assert "raster" not in summary["figures"] and "receptive-fields" in summary["figures"]
    summary = analyse(small_run, neurons=[9], allow_pickle=True)
    assert "recorded: [0, 1, 2, 3]" in summary["skipped"]["membrane"]
    assert "raster" in summary["figures"]
    # by default the most active of the recorded neurons: 3 fired, then the lowest silent
    summary = analyse(small_run, allow_pickle=True)
    assert summary["drawn_example"]["membrane_neurons"] == [0, 1, 3]


def test_a_directory_without_a_run_is_refused(tmp_path, capsys):
    with pytest.raises(CheckpointError, match="manifest.json.*spiking-mnist train"):
        analyse(tmp_path)
    assert main(["analyse", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "holds no checkpoint" in capsys.readouterr().err
    assert main(["analyse", str(tmp_path / "absent")]) == EXIT_BAD_INPUT
    assert not (tmp_path / "analysis").exists()


def test_bad_arguments_and_damaged_recordings_are_refused(small_run, capsys):
    assert main(["analyse", str(small_run), "--neurons", "1,a"]) == EXIT_BAD_INPUT
    assert main(["analyse", str(small_run), "--neurons", str(N), "--allow-pickle"]) \
        == EXIT_BAD_INPUT
    assert main(["analyse", str(small_run), "--example", "-1", "--allow-pickle"]) \
        == EXIT_BAD_INPUT
    (small_run / "recordings/test/chunk-000002.nix").write_bytes(b"not a NIX file")
    assert main(["analyse", str(small_run), "--allow-pickle"]) == EXIT_BAD_INPUT
    assert "chunk-000002.nix cannot be read" in capsys.readouterr().err


def test_pickle_recordings_are_read_only_when_allowed_and_the_refusal_says_why(small_run,
                                                                               capsys):
    assert main(["analyse", str(small_run)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "holds 1 pickle recording(s) (recordings/test/chunk-000000.pkl)" in err
    assert "runs code" in err and "--allow-pickle" in err and "--record-format nix" in err
    assert not (small_run / "analysis").exists()          # refused before anything is written
    with pytest.raises(CheckpointError, match="allow_pickle=True"):
        RunFiles(small_run)
    assert main(["analyse", str(small_run), "--allow-pickle"]) == 0
    # a run recorded in NIX needs no flag
    (small_run / "recordings/test/chunk-000000.pkl").unlink()
    assert main(["analyse", str(small_run)]) == 0


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_an_allowed_pickle_of_any_protocol_is_read(small_run, protocol):
    import pickle
    path = small_run / "recordings/test/chunk-000000.pkl"
    block = PickleIO(str(path)).read_block()
    path.write_bytes(pickle.dumps(block, protocol=protocol))
    (chunk,) = RunFiles(small_run, allow_pickle=True).chunks("test")
    assert chunk.examples.example.tolist() == [0, 1]


class _RunsCode:
    """What a malicious pickle holds: unpickling it calls ``os.mkdir(marker)``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return os.mkdir, (self.marker,)


@pytest.mark.parametrize("where", ["whole file", "inside a Block annotation"])
def test_an_allowed_pickle_that_names_code_is_refused_before_it_runs(small_run, capsys, where):
    import pickle
    path = small_run / "recordings/test/chunk-000000.pkl"
    marker = small_run / "pwned"
    if where == "whole file":
        path.write_bytes(pickle.dumps(_RunsCode(marker)))
    else:
        block = PickleIO(str(path)).read_block()
        block.annotations["note"] = _RunsCode(marker)
        PickleIO(str(path)).write_block(block)
    assert main(["analyse", str(small_run), "--allow-pickle"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "is no Neo recording: it names posix.mkdir" in err and "not called" in err
    assert not marker.exists()
    # Neo's own reader would have run it: the test shows a real attack
    PickleIO(str(path)).read_block()
    assert marker.is_dir()


@pytest.mark.parametrize("n, grid", [(10, (3, 4)), (100, (10, 10)), (400, (20, 20)),
                                     (1600, (40, 40)), (16, (4, 4))])
def test_receptive_fields_tile_any_number_of_neurons(n, grid):
    assert figures.grid_shape(n) == grid
    images = np.random.default_rng(n).uniform(size=(n, *SHAPE))
    tiled = figures.tile(images, grid[1])
    assert tiled.shape == (grid[0] * 29 - 1, grid[1] * 29 - 1)
    k = n - 1
    r, c = divmod(k, grid[1])
    assert np.array_equal(tiled[29 * r:29 * r + 28, 29 * c:29 * c + 28], images[k])
    assert np.isnan(tiled).sum() == tiled.size - n * 28 * 28


def test_a_figure_cut_short_leaves_the_old_png_whole(tmp_path):
    path = tmp_path / "weights.png"
    fig = figures.receptive_fields(np.random.default_rng(0).random((784, 4)), (28, 28))
    figures.save(fig, path)
    before = path.read_bytes()

    def cut(stream, **kwargs):
        stream.write(b"\x89PNG half")
        raise KeyboardInterrupt
    fig.savefig = cut
    with pytest.raises(KeyboardInterrupt):
        figures.save(fig, path)
    assert path.read_bytes() == before
    assert matplotlib.image.imread(path).shape[2] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.png"]
