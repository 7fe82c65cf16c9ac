"""Readouts of the patch hierarchy's codes, fitted on training images only.

- the label vote: D&C's neuron labels (:func:`~spiking_mnist.models.diehl_cook.assign_labels`)
  on the layer-3 counts of the coded training images;
- linear: a logistic regression (scikit-learn) on standardised spike counts of the coded
  training images, for the code of each layer and for all of them together.
"""
from __future__ import annotations

import numpy as np

from spiking_mnist.models import diehl_cook
from spiking_mnist.runners.evaluate import metrics_of

CODES = {"layer1": (1,), "layer2": (2,), "layer3": (3,), "all": (1, 2, 3)}


def linear(train: np.ndarray, labels: np.ndarray, inverse_regularisation: float):
    """A multinomial logistic regression on standardised counts, fitted on ``train``."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise ImportError("the linear readout needs scikit-learn: "
                          "`pip install scikit-learn`") from None
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=inverse_regularisation, max_iter=2000))
    return model.fit(train.astype(float), labels)


def score(run_dir, params, splits: list[str], load_codes) -> dict:
    """Accuracy of every readout on the coded ``splits`` other than "train" (and on "train",
    as a check of fit); ``load_codes(run_dir, layer, split)`` gives (counts, labels)."""
    codes = {(layer, split): load_codes(run_dir, layer, split)
             for layer in (1, 2, 3) for split in splits}
    labels = {split: codes[(3, split)][1] for split in splits}
    train_labels = labels["train"]
    assignments = diehl_cook.assign_labels(codes[(3, "train")][0], train_labels)
    out: dict = {"examples": {s: int(len(labels[s])) for s in splits},
                 "vote": {}, "linear": {},
                 "unlabelled_neurons": int((assignments < 0).sum())}
    for split in splits:
        predicted = diehl_cook.predict(codes[(3, split)][0], assignments)
        out["vote"][split] = metrics_of(labels[split], predicted)
    for name, layers in CODES.items():
        features = {s: np.concatenate([codes[(layer, s)][0] for layer in layers], axis=1)
                    for s in splits}
        model = linear(features["train"], train_labels, params.readout.inverse_regularisation)
        out["linear"][name] = {s: float((model.predict(features[s].astype(float))
                                         == labels[s]).mean()) for s in splits}
    return out
