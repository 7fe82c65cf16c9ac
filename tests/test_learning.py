"""End to end on NEST through the command line: a small network learns two digits."""
import json

import pytest

from spiking_mnist.runners.cli import EXIT_BAD_INPUT, main


@pytest.fixture(scope="module")
def two_digit_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "zeros-and-ones"
    assert main(["train", "--run-dir", str(run), "--examples", "150", "--neurons", "10",
                 "--digits", "0,1", "--quiet"]) == 0
    assert main(["evaluate", str(run), "--examples", "200", "--label-examples", "100",
                 "--quiet"]) == 0
    return run


def test_learns_two_digits_far_above_chance(two_digit_run):
    metrics = json.loads((two_digit_run / "metrics.json").read_text())
    assert metrics["examples"] == 200 and metrics["digits"] == [0, 1]
    assert metrics["accuracy"] >= 0.9, metrics   # chance is 0.5
    confusion = metrics["confusion"]
    assert len(confusion) == 10 and sum(map(sum, confusion)) == 200
    assert set(metrics["neurons_per_class"][2:]) == {0}


def test_refuses_to_overwrite_a_run(two_digit_run, capsys):
    assert main(["train", "--run-dir", str(two_digit_run), "--examples", "1",
                 "--quiet"]) == EXIT_BAD_INPUT
    assert "already holds a run" in capsys.readouterr().err


def test_evaluate_refuses_a_directory_without_run(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--quiet"]) == EXIT_BAD_INPUT
    assert "holds no checkpoint" in capsys.readouterr().err
