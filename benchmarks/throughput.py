"""Training and testing speed, synaptic events per second and peak memory per network size.

    python benchmarks/throughput.py --neurons 100 400 1600 --examples 500 --run-root runs/speed

For each size, trains ``--examples`` examples from scratch, then labels on ``--label-examples``
and tests ``--examples`` test images, each step in its own process (peak resident memory from
``wait4``). Synaptic events are the input spikes delivered to the N excitatory neurons (the
recurrent exc -> inh -> exc events add about 20 * N per example, under 1 %). The first
examples are not an epoch's pace: a trained network shows more examples again. Extra
``--set`` overrides (e.g. ``network.synapses=current``) apply to every size; the figures go to
RUN_ROOT/throughput.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "spiking_mnist.runners.cli"]


def peak_memory_of(argv: list[str]) -> tuple[float, float]:
    """Run ``argv``; (peak resident memory in MiB, wall seconds). Fails if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(argv)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(argv)} failed")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def measure(run: Path, n: int, examples: int, label_examples: int, overrides: list[str]) -> dict:
    """The figures of one network size."""
    sets = [a for o in [f"training.checkpoint_every={examples}", *overrides] for a in ("--set", o)]
    train_mib, _ = peak_memory_of([*CLI, "train", "--run-dir", str(run), "--neurons", str(n),
                                   "--examples", str(examples), "--overwrite", "--quiet", *sets])
    info = json.loads((run / "checkpoint" / "manifest.json").read_text())["info"]
    test_mib, _ = peak_memory_of([*CLI, "evaluate", str(run), "--examples", str(examples),
                                  "--label-examples", str(label_examples), "--quiet"])
    metrics = json.loads((run / "metrics.json").read_text())
    return {"neurons": n, "examples": examples,
            "train_examples_per_second": round(info["train_examples_per_second"], 2),
            "train_synaptic_events_per_second":
                round(info["input_spikes"] * n / info["train_seconds"]),
            "train_peak_mib": round(train_mib),
            "test_examples_per_second": round(metrics["test_examples_per_second"], 2),
            "test_synaptic_events_per_second":
                round(metrics["test_input_spikes"] * n / metrics["test_seconds"]),
            "test_peak_mib": round(test_mib)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--examples", type=int, default=500)
    ap.add_argument("--label-examples", type=int, default=200)
    ap.add_argument("--run-root", required=True)
    ap.add_argument("--set", action="append", default=[], help="extra parameter overrides")
    args = ap.parse_args()
    root = Path(args.run_root)
    rows = [measure(root / f"n{n}", n, args.examples, args.label_examples, args.set)
            for n in args.neurons]
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))
    root.mkdir(parents=True, exist_ok=True)
    (root / "throughput.json").write_text(json.dumps(
        {"overrides": args.set, "cpus": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
