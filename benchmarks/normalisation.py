"""What D&C's column normalisation costs on a trained network: all input weights scaled
inside NEST (``NestBackend.normalise_in_place``) against read into numpy, scaled by
``diehl_cook.normalise_columns`` and written back. Milliseconds per normalisation of every
column (D&C do one before every example), mean of ``--repeats`` calls.

    python benchmarks/normalisation.py runs/clean-n400 --threads 1
"""
from __future__ import annotations

import argparse
import time

from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_defaults
from spiking_mnist.rundir import checkpoint
from spiking_mnist.runners.session import open_network


def milliseconds_per_call(function, repeats: int) -> float:
    began = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - began) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a D&C run directory (its checkpoint is loaded)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    ckpt = checkpoint.load(args.run_dir)
    params = load_defaults(ckpt.model).with_values(ckpt.parameters, "checkpoint").with_values(
        {"simulation": {"threads": args.threads}}, "--threads")
    backend, _ = open_network(params, "nest", ckpt.weights, ckpt.delays, ckpt.theta,
                              plastic=True)
    column_sum = params.normalisation.column_sum

    def through_numpy():
        backend.set_weights(diehl_cook.normalise_columns(backend.get_weights(), column_sum))

    if not backend.normalises_in_place:
        raise SystemExit("this NEST profile cannot normalise in place (no NEST module)")

    def in_place():
        backend.normalise_in_place(column_sum)

    n = ckpt.weights.size
    for name, function in (("read, numpy, write", through_numpy), ("in place", in_place)) * 2:
        print(f"{name:>20}: {milliseconds_per_call(function, args.repeats):6.2f} ms for "
              f"{n:,} weights, {args.threads} thread(s)")
    backend.end()


if __name__ == "__main__":
    main()
