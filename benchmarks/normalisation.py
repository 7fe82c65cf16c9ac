"""What D&C's column normalisation costs on a trained network: all input weights scaled
inside NEST (``NestBackend.normalise_in_place``) through the weights' addresses found once,
the same after finding them again (a walk of NEST's connection table that checks every
connection, as the first normalisation after a network is built or changed does), and
read into numpy, scaled by ``diehl_cook.normalise_columns`` and written back. Milliseconds
per normalisation of every column (D&C do one before every example): the median over
``--blocks`` blocks of ``--repeats`` calls, the three ways taking turns, in wall time and
in the process's CPU time (less disturbed by other processes on a busy machine).

    python benchmarks/normalisation.py RUN_DIR --threads 1
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_defaults
from spiking_mnist.rundir import checkpoint
from spiking_mnist.runners.session import open_network


def milliseconds_per_call(function, repeats: int) -> tuple[float, float]:
    """(wall, CPU) milliseconds per call of ``function``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        function()
    return ((time.perf_counter() - wall) / repeats * 1e3,
            (time.process_time() - cpu) / repeats * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a D&C run directory (its checkpoint is loaded)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=5)
    args = parser.parse_args()
    ckpt = checkpoint.load(args.run_dir)
    params = load_defaults(ckpt.model).with_values(ckpt.parameters, "checkpoint").with_values(
        {"simulation": {"threads": args.threads}}, "--threads")
    backend, _ = open_network(params, "nest", ckpt.weights, ckpt.delays, ckpt.theta,
                              plastic=True)
    if not backend.normalises_in_place:
        raise SystemExit("this NEST profile cannot normalise in place (no NEST module)")
    column_sum = params.normalisation.column_sum
    native_sum = column_sum * backend._native_per_unit
    n_columns = params.network.n_excitatory

    def in_place():
        backend.normalise_in_place(column_sum)

    def finding_them_first():
        backend._kernel.columns(backend._kernel_columns, n_columns).normalise(native_sum)

    def through_numpy():
        backend.set_weights(diehl_cook.normalise_columns(backend.get_weights(), column_sum))

    ways = {"in place": in_place, "in place, finding the weights first": finding_them_first,
            "read, numpy, write": through_numpy}
    times = {name: [] for name in ways}
    for _ in range(args.blocks):
        for name, function in ways.items():
            times[name].append(milliseconds_per_call(function, args.repeats))
    for name, measured in times.items():
        wall, cpu = np.median(measured, axis=0)
        print(f"{name:>36}: {wall:6.2f} ms wall, {cpu:6.2f} ms CPU for {ckpt.weights.size:,} "
              f"weights, {args.threads} thread(s)")
    backend.end()


if __name__ == "__main__":
    main()
