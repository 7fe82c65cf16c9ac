"""What a label vote over prototypes can reach on a patch-hierarchy code, as a bound for layer
3: k-means (scikit-learn) with M prototypes on the first N coded training images of a
layer, each prototype labelled by the digit most of its images show, each validation image
predicted by its nearest prototype's label. Like D&C's vote, but with prototypes found by
k-means instead of STDP. Each image's counts are taken as they are, scaled to one total
(what layer 3 reads with ``layer3.input_total``) or to unit length, each of these also on
their square roots (``layer3.input_compression = "sqrt"``). For tuning: the test images
are not read.

``--soft BETA...`` also scores a graded vote, what layer 3 would give if it coded with a soft
WTA: on the square roots at unit length, each image's response to prototype j is
softmax(BETA x cosine) over the prototypes, labelled and voted as D&C's
``assign_labels``/``predict`` (a large BETA is the one-winner vote). ``--holdout H`` scores on
the last H coded training images instead of the validation ones (more images, so tenths of
a point show).

Ways to afford more prototypes in the synapse budget, for layers 1 and 2 (codes on a grid of
nodes): ``--pool B`` sums the counts of each B x B block of nodes first (fewer inputs per
prototype); ``--windows SIZE STRIDE`` gives each SIZE x SIZE window of nodes, STRIDE apart,
prototypes of its own (M per window, a locally connected layer 3), each window voting its
nearest prototype's label and the image taking the label most windows vote.

    python experiments/patches_prototypes.py runs/p-k50-20k --layer 1 2 3 --prototypes 200 400
    python experiments/patches_prototypes.py runs/p --layer 1 --train 20000 --holdout 10000 \\
        --prototypes 100 150 --soft 10000 50 30 20
    python experiments/patches_prototypes.py runs/p --layer 1 --train 20000 --holdout 10000 \\
        --prototypes 45 --windows 4 2
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.cluster import KMeans

from spiking_mnist.models import diehl_cook, patches
from spiking_mnist.rundir import hierarchy


def one_total(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(x.sum(axis=1, keepdims=True), 1e-12)


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


SCALINGS = {"counts": lambda x: x, "one total": one_total, "unit length": unit_rows,
            "sqrt, one total": lambda x: one_total(np.sqrt(x)),
            "sqrt, unit length": lambda x: unit_rows(np.sqrt(x))}


def vote(train, labels, validation, prototypes: int, seed: int) -> np.ndarray:
    """Predicted digits of ``validation`` by the majority label of their k-means cluster."""
    km = KMeans(prototypes, n_init=1, max_iter=100, random_state=seed).fit(train)
    digit = np.array([np.bincount(labels[km.labels_ == c], minlength=10).argmax()
                      for c in range(prototypes)])
    return digit[km.predict(validation)]


def node_grid(run_dir, layer: int) -> int:
    """Nodes per side of the grid whose codes make up ``layer``'s code (layers 1 and 2)."""
    if layer not in (1, 2):
        raise SystemExit("--pool and --windows cut a grid of nodes: layers 1 and 2 only")
    return patches.grids(hierarchy.parameters_of(run_dir))[layer - 1].side


def windows(codes: np.ndarray, side: int, size: int, stride: int) -> list[np.ndarray]:
    """The counts of each ``size`` x ``size`` window of the ``side`` x ``side`` node grid,
    ``stride`` nodes apart: one (images, size**2 x k) array per window."""
    nodes = codes.reshape(len(codes), side ** 2, -1)
    return [nodes[:, cells].reshape(len(codes), -1)
            for cells in patches.Grid(side, size, stride).cells()]


def pooled(codes: np.ndarray, side: int, block: int) -> np.ndarray:
    """The counts summed over each ``block`` x ``block`` block of nodes, blocks side by side."""
    k = codes.shape[1] // side ** 2
    return np.concatenate([w.reshape(len(codes), -1, k).sum(axis=1)
                           for w in windows(codes, side, block, block)], axis=1)


def window_vote(trains, labels, scoreds, prototypes: int, seed: int) -> np.ndarray:
    """Predicted digits: the label most windows' nearest prototypes vote (ties: lowest)."""
    ballots = np.zeros((len(scoreds[0]), 10), dtype=int)
    for train, scored in zip(trains, scoreds):
        ballots[np.arange(len(scored)), vote(train, labels, scored, prototypes, seed)] += 1
    return ballots.argmax(axis=1)


def soft_votes(train, labels, scored, prototypes: int, betas, seed: int) -> list[np.ndarray]:
    """Predicted digits of ``scored``, for each beta, by D&C's vote on softmax(beta x cosine)
    responses to k-means prototypes of unit-length square roots."""
    train, scored = unit_rows(np.sqrt(train)), unit_rows(np.sqrt(scored))
    km = KMeans(prototypes, n_init=1, max_iter=100, random_state=seed).fit(train)
    centres = unit_rows(km.cluster_centers_)

    def responses(x, beta):
        z = beta * (x @ centres.T)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return [diehl_cook.predict(responses(scored, b),
                               diehl_cook.assign_labels(responses(train, b), labels))
            for b in betas]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a hierarchy run with training and validation codes")
    parser.add_argument("--layer", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--prototypes", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--soft", type=float, nargs="*", default=[],
                        help="also the graded vote with these softmax sharpnesses BETA")
    parser.add_argument("--holdout", type=int, default=0,
                        help="score on the last this many coded training images")
    parser.add_argument("--pool", type=int, default=1, metavar="B",
                        help="sum each B x B block of nodes' counts first (layers 1, 2)")
    parser.add_argument("--windows", type=int, nargs=2, metavar=("SIZE", "STRIDE"),
                        help="prototypes of their own for each SIZE x SIZE window of nodes")
    args = parser.parse_args()
    if args.soft and (args.pool > 1 or args.windows):
        raise SystemExit("--soft scores the whole code: leave out --pool and --windows")
    print("layer | counts per image | prototypes | " + " | ".join(SCALINGS)
          + " (accuracy on the validation or held-out images)")
    for layer in args.layer:
        train, labels = hierarchy.load_codes(args.run_dir, layer, "train")
        if args.holdout:
            validation, truth = train[-args.holdout:], labels[-args.holdout:]
        else:
            validation, truth = hierarchy.load_codes(args.run_dir, layer, "validation")
        if len(train) < args.train + args.holdout or not len(truth):
            raise SystemExit(f"{args.run_dir} holds {len(train)} coded training and "
                             f"{len(truth)} validation images of layer {layer}: fewer than "
                             f"--train plus --holdout")
        train, labels = train[:args.train].astype(float), labels[:args.train]
        validation = validation.astype(float)
        if args.pool > 1 or args.windows:
            side = node_grid(args.run_dir, layer)
            if side % args.pool:
                raise SystemExit(f"--pool {args.pool} does not tile layer {layer}'s "
                                 f"{side}x{side} nodes: choose a divisor of {side}")
            if args.pool > 1:
                train, validation = (pooled(c, side, args.pool) for c in (train, validation))
                side //= args.pool
        trains, validations = (([train], [validation]) if not args.windows else
                               (windows(train, side, *args.windows),
                                windows(validation, side, *args.windows)))
        for m in args.prototypes:
            scores = [(window_vote([f(t) for t in trains], labels,
                                   [f(v) for v in validations], m, args.seed)
                       == truth).mean() for f in SCALINGS.values()]
            inputs = (f"{trains[0].shape[1]}" if len(trains) == 1
                      else f"{trains[0].shape[1]} x {len(trains)} windows")
            print(f"{layer} | {inputs} | {m} | "
                  + " | ".join(f"{100 * s:.2f} %" for s in scores), flush=True)
            for beta, predicted in zip(args.soft, soft_votes(train, labels, validation, m,
                                                             args.soft, args.seed)):
                print(f"{layer} | {train.shape[1]} | {m} | graded vote, beta {beta:g}: "
                      f"{100 * (predicted == truth).mean():.2f} %", flush=True)


if __name__ == "__main__":
    main()
