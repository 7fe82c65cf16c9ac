"""How the spiking readout's hidden cells of a patch-hierarchy run read its coded validation
images, without a simulator: through the rate approximation the cells were trained with
(``output_layer.rate_drive``) and as the cells fire when simulated in 1 ms steps with the
inputs' fluctuations (``output_training.simulate``, hidden and output cells), for a few
draws of the fluctuations. For tuning the ``[output]`` values of the ``hidden`` way: the
test images are not read. NEST's figure is in the run's ``metrics.json``.

    python experiments/patches_hidden.py runs/patches --draws 3
"""
from __future__ import annotations

import argparse

import numpy as np

from spiking_mnist.models import output_layer, output_training, patches
from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.rundir.hierarchy import (load_codes, load_output_weights,
                                          parameters_of)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--draws", type=int, default=3, help="draws of the fluctuations")
    args = parser.parse_args()
    params = parameters_of(args.run_dir, load_parameters(
        patches.MODEL, base=parameters_of(args.run_dir)))
    learnt = load_output_weights(args.run_dir)
    if "hidden" not in learnt:
        raise SystemExit(f"{args.run_dir} has not learnt its hidden cells yet: "
                         f"`spiking-mnist patches {args.run_dir}`")
    way = output_layer.OutputWeights.from_arrays(learnt["hidden"])
    codes, labels = load_codes(args.run_dir, 1, "validation")
    codes = codes.astype(float)
    rate = output_layer.predict(output_layer.rate_drive(codes, way, params))
    print(f"{len(labels)} validation images, {len(way.hidden.bias)} hidden cells: "
          f"rate approximation {100 * np.mean(rate == labels):.2f} %")
    rng = np.random.default_rng(params.simulation.seed)
    for draw in range(args.draws):
        hidden = output_training.simulate(codes, way.hidden, params, rng)
        fired = output_layer.predict(output_training.simulate(hidden, way, params, rng))
        print(f"simulated cells, draw {draw + 1}: {100 * np.mean(fired == labels):.2f} % "
              f"({100 * np.mean(fired == rate):.1f} % as the rate approximation; "
              f"{hidden.sum(axis=1).mean():.0f} hidden spikes per image)")


if __name__ == "__main__":
    main()
