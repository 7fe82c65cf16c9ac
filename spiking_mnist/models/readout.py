"""Readouts of the patch hierarchy's codes, fitted on training images only.

- the label vote: D&C's neuron labels (:func:`~spiking_mnist.models.diehl_cook.assign_labels`)
  on the layer-3 counts of the coded training images;
- linear: a logistic regression (scikit-learn) on the spike counts of the coded training
  images, for the code of each layer and for all of them together; each layer's counts in
  units of its full scale (``readout.scaling``), or standardised count by count;
- spiking: the output cells (:mod:`.output_layer`) run with the layer-1 copies, read by the
  most active one, next to the linear readout of the same layer-1 codes.
"""
from __future__ import annotations

import numpy as np

from spiking_mnist.models import diehl_cook, output_layer, patches

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


def per_count(model, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The logits of a fitted :func:`linear` readout of counts divided by ``scale``, as
    ``counts @ coef.T + intercept`` of the raw spike counts: (coef (classes, inputs),
    intercept (classes,)); a standardising step is folded in."""
    if hasattr(model, "steps"):                   # make_pipeline(StandardScaler(), ...)
        scaler, model = model.steps[0][1], model.steps[-1][1]
        coef = model.coef_ / scaler.scale_
        return coef / scale, model.intercept_ - coef @ scaler.mean_
    return model.coef_ / scale, model.intercept_


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


def score_spiking(run_dir, params, splits: list[str], load_codes, load_output,
                  outputs: dict) -> dict:
    """The spiking readout of each method (:data:`~.output_layer.METHODS`, weights
    ``outputs``) on the coded ``splits`` other than "train": :func:`metrics_of`, with the
    fraction of images on which it answers as its offline readout of the same layer-1 codes
    (``agreement``; the linear readout, or for a method with hidden cells their rate
    approximation, :func:`~.output_layer.rate_drive`, whose accuracy is then
    ``offline_accuracy``), of images no output cell answered (``silent``) and the output
    spikes per image. ``offline``: the linear readout's accuracy on the same images;
    ``same_code``: the fraction of images whose layer-1 code, when the output cells ran,
    was the stored one.
    ``load_output(run_dir, split)`` gives the output counts (see
    :func:`~spiking_mnist.rundir.hierarchy.load_output`)."""
    train, labels = load_codes(run_dir, 1, "train")
    r = params.readout
    full_scale = full_scales({1: train}, params.code.full_scale_quantile)[1]
    model = linear(train / full_scale, labels, r.inverse_regularisation,
                   standardise=r.scaling == "standardised")
    out: dict = {"reads": "layer1", "offline": {}, "same_code": {},
                 **{method: {} for method in output_layer.METHODS}}
    for split in (s for s in splits if s != "train"):
        coded = load_output(run_dir, split)     # the first images of the split's codes
        codes = load_codes(run_dir, 1, split)[0][:len(coded["labels"])]
        offline = model.predict(codes / full_scale)
        out["offline"][split] = float((offline == coded["labels"]).mean())
        out["same_code"][split] = float(coded["same_code"].mean())
        for k, method in enumerate(output_layer.METHODS):
            counts = coded["counts"][:, k * output_layer.N_CLASSES:
                                     (k + 1) * output_layer.N_CLASSES]
            predicted = output_layer.predict(counts)
            own, extra = offline, {}
            if outputs[method].hidden is not None:
                own = output_layer.predict(output_layer.rate_drive(codes, outputs[method],
                                                                   params))
                extra = {"offline_accuracy": float((own == coded["labels"]).mean())}
            out[method][split] = metrics_of(coded["labels"], predicted) | extra | {
                "agreement": float((predicted == own).mean()),
                "silent": float((counts.sum(axis=1) == 0).mean()),
                "spikes_per_image": round(float(counts.sum(axis=1).mean()), 2)}
    return out
