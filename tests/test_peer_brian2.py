"""benchmarks/peer_brian2.py without Brian2: its arguments and its report (no timing here)."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "peer_brian2.py"
spec = importlib.util.spec_from_file_location("peer_brian2", SCRIPT)
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)


def test_examples_pair_with_neurons():
    args = peer.parse_args(["--neurons", "400", "1600", "--examples", "500", "100"])
    assert list(zip(args.neurons, args.examples)) == [(400, 500), (1600, 100)]
    assert peer.parse_args(["--neurons", "20", "40", "--examples", "20"]).examples == [20, 20]
    assert args.repeats == 2 and args.brian2_threads == [1, 2] and args.project_threads == 2
    with pytest.raises(SystemExit):
        peer.parse_args(["--neurons", "20", "40", "60", "--examples", "20", "30"])


def run(config, eps, events=1e7, spikes=15.0, mib=200.0):
    return {"neurons": 400, "examples": 500, "config": config, "examples_per_second": eps,
            "input_events_per_second": events, "exc_spikes_per_example": spikes,
            "peak_mib": mib}


def test_ratio_is_against_brian2s_fastest_median():
    runs = [run("brian2-1", 30.0), run("brian2-2", 15.0), run("project", 16.0),
            run("brian2-1", 28.0), run("brian2-2", 20.0), run("project", 18.0)]
    size = peer.summarise(runs)[400]
    assert size["brian2_fastest"] == "brian2-1"
    assert size["ratio"] == pytest.approx(17.0 / 29.0)
    text = peer.report(peer.summarise(runs), 2, {"N=400 Brian2 standalone, 2 OpenMP threads": 41})
    assert "Brian2 standalone, 1 thread (no OpenMP)" in text and "this project, 2 threads" in text
    assert "30.0, 28.0" in text and "ratio" in text and "0.59" in text
    assert "build (code generation + compilation), Brian2 standalone, 2 OpenMP threads: 41 s" \
        in text
