"""Other ways to read a trained D&C network with its neurons' responses to labelled images.

    python experiments/labelling_size.py RUN_DIR --label-examples 10000 --out labels.npz
    python experiments/label_readouts.py RUN_DIR labels.npz --label-examples 10000

Each readout uses only the labelled training images' spike counts (``labels.npz``, as
``labelling_size.py`` writes them) and the test responses the last `spiking-mnist evaluate
RUN_DIR` wrote (``responses-test.npz``); nothing is fitted by optimisation:

- ``vote``: D&C's, each neuron labelled with the class it answers most, a class's score the
  mean count of its neurons (the package's readout);
- ``proportion``: each neuron votes for every class with the share of its mean counts that
  class has (BindsNET's proportion weighting);
- ``likelihood``: each neuron a Poisson variable whose mean per class is its mean count on
  that class's images; a test image's class is the most likely one (naive Bayes, equal
  priors; means floored at ``--floor`` spikes): what `spiking-mnist evaluate` writes as
  ``likelihood``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from spiking_mnist.models import diehl_cook


def readouts(counts, labels, responses, floor: float) -> dict[str, np.ndarray]:
    """Each readout's predicted class per test image."""
    counts, responses = counts.astype(float), responses.astype(float)
    rates = diehl_cook.class_rates(counts, labels)           # (classes, neurons)
    share = rates / np.maximum(rates.sum(axis=0, keepdims=True), 1e-12)
    return {"vote": diehl_cook.predict(responses, diehl_cook.assign_labels(counts, labels)),
            "proportion": (responses @ share.T).argmax(axis=1),
            "likelihood": diehl_cook.predict_likelihood(responses, rates, floor)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("labels", type=Path, help="labelling counts (labelling_size.py --out)")
    ap.add_argument("--label-examples", type=int, default=10000)
    ap.add_argument("--floor", type=float, default=diehl_cook.LIKELIHOOD_FLOOR,
                    help="least mean count (spikes)")
    args = ap.parse_args()
    saved = np.load(args.labels)
    n = min(args.label_examples, len(saved["labels"]))
    test = np.load(args.run_dir / "responses-test.npz")
    table = {name: float(np.mean(predicted == test["labels"])) for name, predicted in
             readouts(saved["counts"][:n], saved["labels"][:n], test["responses"],
                      args.floor).items()}
    for name, accuracy in table.items():
        print(f"{name:10s} {100 * accuracy:.2f} %")
    print(json.dumps({"run_dir": str(args.run_dir), "label_examples": n, "accuracy": table}))


if __name__ == "__main__":
    main()
