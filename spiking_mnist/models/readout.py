"""Readouts of the patch hierarchy's codes, fitted on training images only.

- the label vote: D&C's neuron labels (:func:`~spiking_mnist.models.diehl_cook.assign_labels`)
  on the layer-3 counts of the coded training images;
- linear: a logistic regression (scikit-learn) on the spike counts of the coded training
  images, for the code of each layer and for all of them together; each layer's counts in
  units of its full scale (``readout.scaling``), or standardised count by count.
"""
from __future__ import annotations

import numpy as np

from spiking_mnist.models import diehl_cook, patches

def metrics_of(labels: np.ndarray, predictions: np.ndarray, n_classes: int = 10) -> dict:
    """Accuracy, confusion matrix (rows: true, columns: predicted) and per-class accuracy."""
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels.astype(int), predictions.astype(int)), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {"accuracy": float((labels == predictions).mean()),
            "confusion": confusion.tolist(),
            "per_class_accuracy": [round(float(a), 4) for a in per_class]}


CODES = {"layer1": (1,), "layer2": (2,), "layer3": (3,), "all": (1, 2, 3)}


def linear(train: np.ndarray, labels: np.ndarray, inverse_regularisation: float,
           standardise: bool = False):
    """A multinomial logistic regression fitted on ``train`` (images, features), each
    feature standardised first when ``standardise``."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise ImportError("the linear readout needs scikit-learn: "
                          "`pip install scikit-learn`") from None
    model = LogisticRegression(C=inverse_regularisation, max_iter=3000)
    if standardise:
        model = make_pipeline(StandardScaler(), model)
    return model.fit(train.astype(float), labels)


def full_scales(train_counts: dict, quantile: float) -> dict:
    """Each layer's full scale ({layer: (images, counts)} -> {layer: count}): ``quantile`` of
    its non-zero training counts, the scale at which the layer above reads it
    (:func:`~spiking_mnist.models.patches.code_scale`)."""
    return {layer: patches.code_scale(c, quantile) for layer, c in train_counts.items()}


def in_full_scale(counts: dict, scales: dict) -> np.ndarray:
    """The counts of several layers ({layer: (images, counts)}) side by side, each layer's
    divided by its full scale (``scales``, from :func:`full_scales`)."""
    return np.concatenate([counts[layer] / scales[layer] for layer in counts], axis=1)


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
    r = params.readout
    scales = full_scales({layer: codes[(layer, "train")][0] for layer in (1, 2, 3)},
                         params.code.full_scale_quantile)
    for name, layers in CODES.items():
        features = {s: in_full_scale({layer: codes[(layer, s)][0] for layer in layers}, scales)
                    for s in splits}
        model = linear(features["train"], train_labels, r.inverse_regularisation,
                       standardise=r.scaling == "standardised")
        out["linear"][name] = {s: float((model.predict(features[s]) == labels[s]).mean())
                               for s in splits}
    return out
