"""How the linear readout of a patch-hierarchy code depends on what it is fitted on: the
accuracy on the coded validation images of a logistic regression
(``runners.readout.linear``) fitted on the first N coded training images, for each N,
inverse regularisation C and count transform. For tuning: the test images are not read.
``--holdout H`` also scores on the last H coded training images, which no readout is then
fitted on: more images than the validation split's, so differences of a few tenths of a
point show. ``--first N`` keeps only the first N coded training images, so runs that coded
different numbers of images are compared on the same ones.

    python benchmarks/patches_readout.py runs/patches --layer 1 --train 5000 10000 20000 \\
        --inverse-regularisation 0.01 0.1 1 --transform raw sqrt
    python benchmarks/patches_readout.py runs/patches --layer 1 2 3 --train 40000 --holdout 10000
    python benchmarks/patches_readout.py runs/patches --layer 1 --first 12000 --train 10000 --holdout 2000
"""
from __future__ import annotations

import argparse

import numpy as np

from spiking_mnist.runners import hierarchy, readout

TRANSFORMS = {"raw": lambda counts: counts, "sqrt": np.sqrt, "log1p": np.log1p}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a hierarchy run with training and validation codes")
    parser.add_argument("--layer", type=int, nargs="+", default=[1],
                        help="layers whose codes, side by side, are the features")
    parser.add_argument("--train", type=int, nargs="+", default=[5000],
                        help="coded training images the readout is fitted on")
    parser.add_argument("--inverse-regularisation", type=float, nargs="+", default=[0.1])
    parser.add_argument("--transform", choices=TRANSFORMS, nargs="+", default=["raw"])
    parser.add_argument("--holdout", type=int, default=0,
                        help="also score on the last this many coded training images")
    parser.add_argument("--first", type=int, default=None,
                        help="use only the first this many coded training images (default: all)")
    args = parser.parse_args()
    codes = {split: [hierarchy.load_codes(args.run_dir, layer, split) for layer in args.layer]
             for split in ("train", "validation")}
    features = {split: np.concatenate([c for c, _ in parts], axis=1).astype(float)
                for split, parts in codes.items()}
    labels = {split: parts[0][1] for split, parts in codes.items()}
    features["train"], labels["train"] = features["train"][:args.first], labels["train"][:args.first]
    if not len(labels["validation"]) or max(args.train) + args.holdout > len(labels["train"]):
        raise SystemExit(f"{args.run_dir} holds {len(labels['train'])} coded training and "
                         f"{len(labels['validation'])} validation images of layers "
                         f"{args.layer}: fewer than --train plus --holdout")
    held_out = slice(len(labels["train"]) - args.holdout, None)
    features["holdout"], labels["holdout"] = features["train"][held_out], labels["train"][held_out]
    print(f"layers {args.layer}, {features['train'].shape[1]} counts per image, "
          f"{len(labels['validation'])} validation images, {args.holdout} held out")
    print("training images | C | transform | validation accuracy | held-out accuracy | "
          "training accuracy")
    for n in args.train:
        for c in args.inverse_regularisation:
            for name in args.transform:
                f = TRANSFORMS[name]
                model = readout.linear(f(features["train"][:n]), labels["train"][:n], c)
                val, held, fit = (
                    f"{100 * (model.predict(f(x)) == y).mean():.2f} %" if len(y) else "-"
                    for x, y in ((features["validation"], labels["validation"]),
                                 (features["holdout"], labels["holdout"]),
                                 (features["train"][:n], labels["train"][:n])))
                print(f"{n} | {c:g} | {name} | {val} | {held} | {fit}", flush=True)


if __name__ == "__main__":
    main()
