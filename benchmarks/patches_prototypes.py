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

    python benchmarks/patches_prototypes.py runs/p-k50-20k --layer 1 2 3 --prototypes 200 400
    python benchmarks/patches_prototypes.py runs/p --layer 1 --train 20000 --holdout 10000 \\
        --prototypes 100 150 --soft 10000 50 30 20
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.cluster import KMeans

from spiking_mnist.models import diehl_cook
from spiking_mnist.runners import hierarchy


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
    args = parser.parse_args()
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
        for m in args.prototypes:
            scores = [(vote(f(train), labels, f(validation), m, args.seed)
                       == truth).mean() for f in SCALINGS.values()]
            print(f"{layer} | {train.shape[1]} | {m} | "
                  + " | ".join(f"{100 * s:.2f} %" for s in scores), flush=True)
            for beta, predicted in zip(args.soft, soft_votes(train, labels, validation, m,
                                                             args.soft, args.seed)):
                print(f"{layer} | {train.shape[1]} | {m} | graded vote, beta {beta:g}: "
                      f"{100 * (predicted == truth).mean():.2f} %", flush=True)


if __name__ == "__main__":
    main()
