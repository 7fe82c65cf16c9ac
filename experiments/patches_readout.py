"""How the linear readout of a patch-hierarchy code depends on what it is fitted on: the
accuracy on the coded validation images of a logistic regression
(``runners.readout.linear``) fitted on the first N coded training images, for each N,
inverse regularisation C, count transform and scaling (``readout.scaling``). For tuning: the
test images are not read. ``--holdout H`` also scores on the last H coded training images,
which no readout is then fitted on: more images than the validation split's, so differences
of a few tenths of a point show. ``--first N`` keeps only the first N coded training images,
so runs that coded different numbers of images are compared on the same ones. ``--folds K``
instead scores by K-fold cross-validation over the coded training images (fitted on all
folds but one, scored on that one, for each fold): every image is held out once.
``--hidden H`` fits, instead of the logistic regression, a perceptron with one hidden layer
of H rectified units (scikit-learn's ``MLPClassifier``: 30 passes of Adam on minibatches of
100, L2 penalty 1e-3, seed 1): how much a non-linear readout of the same code would gain.

    python experiments/patches_readout.py runs/patches --layer 1 --train 5000 10000 20000 \\
        --inverse-regularisation 0.01 0.1 1 --transform raw sqrt
    python experiments/patches_readout.py runs/patches --layer 1 2 3 --train 40000 --holdout 10000
    python experiments/patches_readout.py runs/patches --layer 1 --first 12000 --train 10000 \\
        --holdout 2000
    python experiments/patches_readout.py runs/patches --layer 1 2 3 --train 40000 --holdout 10000 \\
        --scaling full_scale standardised --inverse-regularisation 0.1 1
    python experiments/patches_readout.py runs/patches --layer 1 2 3 --folds 5 \\
        --scaling full_scale standardised --inverse-regularisation 0.1 1
    python experiments/patches_readout.py runs/patches --layer 1 --first 34000 --train 30000 \\
        --holdout 4000 --hidden 300
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.neural_network import MLPClassifier

from spiking_mnist.models import readout
from spiking_mnist.rundir import hierarchy

TRANSFORMS = {"raw": lambda counts: counts, "sqrt": np.sqrt, "log1p": np.log1p}


def accuracies(fit: dict, fit_labels, scored: dict, quantile: float, c: float, transform,
               scaling: str, hidden: int = 0) -> dict:
    """The readout fitted on ``fit`` ({layer: counts}) and its accuracy (%) on each of
    ``scored`` ({name: ({layer: counts}, labels)}; None where there are no images): the
    logistic regression, or with ``hidden`` > 0 a perceptron with that many hidden units
    (``c`` and ``scaling`` unused)."""
    scales = readout.full_scales(fit, quantile)
    features = transform(readout.in_full_scale(fit, scales))
    if hidden:
        model = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1e-3, batch_size=100,
                              max_iter=30, random_state=1).fit(features, fit_labels)
    else:
        model = readout.linear(features, fit_labels, c, standardise=scaling == "standardised")
    return {name: 100 * (model.predict(transform(readout.in_full_scale(x, scales))) == y).mean()
            if len(y) else None for name, (x, y) in scored.items()}


def percent(accuracy) -> str:
    """An accuracy from :func:`accuracies` as printed."""
    return "-" if accuracy is None else f"{accuracy:.2f} %"


def rows(counts: dict, subset) -> dict:
    """The counts ({layer: counts}) of the images ``subset`` (a slice or index array)."""
    return {layer: c[subset] for layer, c in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a hierarchy run with training and validation codes")
    parser.add_argument("--layer", type=int, nargs="+", default=[1],
                        help="layers whose codes, side by side, are the features")
    parser.add_argument("--train", type=int, nargs="+", default=[5000],
                        help="coded training images the readout is fitted on")
    parser.add_argument("--inverse-regularisation", type=float, nargs="+",
                        help="C (default: the run's readout.inverse_regularisation)")
    parser.add_argument("--transform", choices=TRANSFORMS, nargs="+", default=["raw"])
    parser.add_argument("--scaling", choices=("full_scale", "standardised"), nargs="+",
                        help="see readout.scaling (default: the run's)")
    parser.add_argument("--holdout", type=int, default=0,
                        help="also score on the last this many coded training images")
    parser.add_argument("--first", type=int, default=None,
                        help="use only the first this many coded training images (default: all)")
    parser.add_argument("--folds", type=int, default=0,
                        help="score by this many folds of the training codes instead")
    parser.add_argument("--hidden", type=int, default=0,
                        help="fit a perceptron with this many hidden units instead of the "
                             "logistic regression")
    args = parser.parse_args()
    params = hierarchy.parameters_of(args.run_dir)
    quantile = params.code.full_scale_quantile
    codes = {split: {layer: hierarchy.load_codes(args.run_dir, layer, split)
                     for layer in args.layer} for split in ("train", "validation")}
    counts = {split: {layer: c for layer, (c, _) in parts.items()}
              for split, parts in codes.items()}
    labels = {split: parts[args.layer[0]][1] for split, parts in codes.items()}
    train = {layer: c[:args.first] for layer, c in counts["train"].items()}
    train_labels = labels["train"][:args.first]
    n_train = len(train_labels)
    settings = [(c, name, scaling)
                for c in args.inverse_regularisation or [params.readout.inverse_regularisation]
                for name in args.transform for scaling in args.scaling or [params.readout.scaling]]
    print(f"layers {args.layer}, {sum(c.shape[1] for c in train.values())} counts per image")
    if args.folds:
        edges = np.linspace(0, n_train, args.folds + 1).astype(int)
        print(f"{args.folds} folds of {n_train} coded training images")
        print("C | transform | scaling | mean held-out accuracy | per fold")
        for c, name, scaling in settings:
            per_fold = []
            for start, stop in zip(edges[:-1], edges[1:]):
                fit = np.r_[0:start, stop:n_train]
                scored = {"fold": (rows(train, slice(start, stop)), train_labels[start:stop])}
                per_fold.append(accuracies(rows(train, fit), train_labels[fit], scored,
                                           quantile, c, TRANSFORMS[name], scaling,
                                           args.hidden)["fold"])
            print(f"{c:g} | {name} | {scaling} | {percent(np.mean(per_fold))} | "
                  f"{' / '.join(percent(a) for a in per_fold)}", flush=True)
        return
    if not len(labels["validation"]) or max(args.train) + args.holdout > n_train:
        raise SystemExit(f"{args.run_dir} holds {n_train} coded training and "
                         f"{len(labels['validation'])} validation images of layers "
                         f"{args.layer}: fewer than --train plus --holdout")
    held_out = slice(n_train - args.holdout, None)
    print(f"{len(labels['validation'])} validation images, {args.holdout} held out")
    print("training images | C | transform | scaling | validation accuracy | "
          "held-out accuracy | training accuracy")
    for n in args.train:
        scored = {"validation": (counts["validation"], labels["validation"]),
                  "holdout": (rows(train, held_out), train_labels[held_out]),
                  "fit": (rows(train, slice(0, n)), train_labels[:n])}
        for c, name, scaling in settings:
            acc = accuracies(rows(train, slice(0, n)), train_labels[:n], scored, quantile,
                             c, TRANSFORMS[name], scaling, args.hidden)
            print(f"{n} | {c:g} | {name} | {scaling} | {percent(acc['validation'])} | "
                  f"{percent(acc['holdout'])} | {percent(acc['fit'])}", flush=True)


if __name__ == "__main__":
    main()
