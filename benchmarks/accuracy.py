"""Train a Diehl & Cook network on NEST and test it on the test set; print the figures.

    python benchmarks/accuracy.py --neurons 100 --examples 10000 --run-dir runs/bench-n100

Prints training and testing wall time and the test accuracy, and writes them to
RUN_DIR/benchmark.json. The run directory must be new.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.runners.evaluate import evaluate
from spiking_mnist.runners.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--examples", type=int, default=10000, help="training examples")
    ap.add_argument("--test-examples", type=int, default=10000)
    ap.add_argument("--label-examples", type=int, default=5000)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--set", action="append", default=[], help="extra parameter overrides")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    params = load_parameters("diehl_cook", None, [f"network.n_excitatory={args.neurons}",
                                                  f"training.examples={args.examples}",
                                                  *args.set])
    start = time.perf_counter()
    ckpt = train(Path(args.run_dir), params, progress=not args.quiet)
    trained = time.perf_counter()
    m = evaluate(Path(args.run_dir), "test", args.test_examples, args.label_examples,
                 progress=not args.quiet)
    done = time.perf_counter()
    figures = {"neurons": args.neurons, "training_examples": args.examples,
               "test_examples": m["examples"], "label_examples": m["label_examples"],
               "test_accuracy": m["accuracy"],
               "train_wall_seconds": round(trained - start, 1),
               "evaluate_wall_seconds": round(done - trained, 1),
               "train_examples_per_second": round(ckpt.info["train_examples_per_second"], 2),
               "test_examples_per_second": round(m["test_examples_per_second"], 2),
               "threads": params.simulation.threads, "cpus": os.cpu_count(),
               "machine": platform.machine(), "overrides": args.set}
    Path(args.run_dir, "benchmark.json").write_text(json.dumps(figures, indent=1))
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
