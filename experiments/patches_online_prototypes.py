"""What online competitive learning, the rule D&C's STDP and homeostasis approximate, reaches
on layer 3's inputs without spikes: M unit-length prototypes; each training image in turn
goes to the prototype with the largest cosine minus its conscience, which moves a fraction
eta of the way to the image (then back to unit length) while its conscience grows by
``--conscience`` (theta's part: a neuron that wins often wins less); eta follows layer 3's
two phases (``layer3.nu_post`` is not eta: ``--phases`` gives images and eta per phase).
Optionally the winner is picked with Gaussian noise (``--noise``, a fraction of the mean
cosine), as a spiking winner is. Prototypes are labelled and scored as in
``patches_prototypes.py`` (nearest prototype, validation split); the layer-3 benchmark
prints the same figure for the weights STDP learnt, and ``patches_prototypes.py`` that of
k-means. For tuning: the test images are not read.

    python experiments/patches_online_prototypes.py runs/p-l3-refine --train 20000 \\
        --phases 3000:0.1 3000:0.03 --phases 3000:0.1 3000:0.03 6000:0.01
"""
from __future__ import annotations

import argparse

import numpy as np
from patches_prototypes import unit_rows   # this folder: run as benchmarks/THIS.py

from spiking_mnist.runners import hierarchy


def learn(inputs: np.ndarray, phases: list[tuple[int, float]], prototypes: int,
          conscience: float, noise: float, seed: int) -> np.ndarray:
    """Unit-length prototypes (one per row) learnt online from unit-length ``inputs``, shown
    in order (again from the first when the phases ask for more)."""
    rng = np.random.default_rng(seed)
    protos = unit_rows(rng.uniform(0.0, 1.0, (prototypes, inputs.shape[1])))
    handicap = np.zeros(prototypes)
    shown = 0
    for images, eta in phases:
        for _ in range(images):
            x = inputs[shown % len(inputs)]
            shown += 1
            match = protos @ x
            winner = np.argmax(match - handicap
                               + noise * match.mean() * rng.standard_normal(prototypes))
            handicap[winner] += conscience
            protos[winner] += eta * (x - protos[winner])
            protos[winner] /= np.linalg.norm(protos[winner])
    return protos


def vote(protos: np.ndarray, train: np.ndarray, labels: np.ndarray,
         validation: np.ndarray) -> np.ndarray:
    """Predicted digits of ``validation``: the label of the nearest prototype, each labelled
    by the digit most of its nearest training images show."""
    nearest = (train @ protos.T).argmax(axis=1)
    digit = np.array([np.bincount(labels[nearest == j], minlength=10).argmax()
                      for j in range(len(protos))])
    return digit[(validation @ protos.T).argmax(axis=1)]


def phase(text: str) -> tuple[int, float]:
    images, eta = text.split(":")
    return int(images), float(eta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a hierarchy run with training and validation codes")
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--prototypes", type=int, default=100)
    parser.add_argument("--phases", type=phase, nargs="+", action="append",
                        metavar="IMAGES:ETA", help="a schedule (repeat the option for more)")
    parser.add_argument("--conscience", type=float, default=0.03)
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    params = hierarchy.parameters_of(args.run_dir)
    labels = hierarchy.load_codes(args.run_dir, 1, "train")[1][:args.train]
    truth = hierarchy.load_codes(args.run_dir, 1, "validation")[1]
    if len(labels) < args.train or not len(truth):
        raise SystemExit(f"{args.run_dir} holds {len(labels)} coded training and "
                         f"{len(truth)} validation images")
    train, validation = (unit_rows(hierarchy.coding_inputs(args.run_dir, params, 3, split,
                                                           None, slice(0, n)))
                         for split, n in (("train", args.train), ("validation", len(truth))))
    print("schedule (images:eta) | conscience | noise | prototypes | validation accuracy")
    for schedule in args.phases or [[(3000, 0.1), (3000, 0.03)]]:
        for noise in args.noise:
            protos = learn(train, schedule, args.prototypes, args.conscience, noise,
                           args.seed)
            accuracy = (vote(protos, train, labels, validation) == truth).mean()
            print(f"{' '.join(f'{n}:{e}' for n, e in schedule)} | {args.conscience} | "
                  f"{noise} | {args.prototypes} | {100 * accuracy:.1f} %", flush=True)


if __name__ == "__main__":
    main()
