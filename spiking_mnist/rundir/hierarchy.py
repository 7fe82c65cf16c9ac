"""The files of a patch-hierarchy run: its parameters, the coded images and their scales.

``parameters.json``: the run's parameters; ``codes/layer<L>-<split>-<part>.npz``: spike
counts (images, copies x k) and labels of the coded images; ``codes/scales.json``: the
count of each layer that is a full-scale input above.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spiking_mnist.inputs import mnist
from spiking_mnist.models import patches
from spiking_mnist.models.parameters import ConfigError, load_defaults
from spiking_mnist.rundir import checkpoint

SPLITS = {"train": "label", "validation": "validation", "test": "test"}   # split -> stream
PARAMETERS = "parameters.json"


def parameters_of(run_dir: Path, params=None):
    """The parameters of the run in ``run_dir``: saved ones, with the ``[readout]`` values of
    ``params`` (more images may be coded later); a new run saves ``params``."""
    path = Path(run_dir) / PARAMETERS
    if not path.exists():
        if params is None:
            raise checkpoint.CheckpointError(f"{run_dir} holds no patch-hierarchy run; "
                                             "start one with `spiking-mnist patches RUN_DIR`")
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(params.values(), indent=1))
        return params
    stored = json.loads(path.read_text())
    defaults = load_defaults(patches.MODEL)
    missing = [f"{s}.{k}" for s, entries in defaults.values().items() for k in entries
               if k not in stored.get(s, {}) and s != "readout"]   # readouts take defaults
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)} (saved by an older version); "
                          "add them with the values the run used: the defaults then were "
                          "inhibitory = code_inhibitory = \"paired\", theta_tau = 1e7, "
                          "input_compression = \"linear\", input_total = 0, refine_from = 0 "
                          "(any nu_post_refine)")
    saved = defaults.with_values(stored, str(path))
    if params is None:
        return saved
    changed = [f"{s}.{k}" for s, entries in params.values().items() for k, v in entries.items()
               if s != "readout" and saved.values()[s][k] != v]
    if changed:
        raise ConfigError(f"{run_dir} was started with other values of {', '.join(changed)}; "
                          "only [readout] values may change in a running hierarchy (start a "
                          "new run directory for others)")
    values = saved.values()
    values["readout"] = params.values()["readout"]
    path.write_text(json.dumps(values, indent=1))
    return saved.with_values(values, "--set")


def images_of(params, split: str, data_dir=None) -> mnist.Split:
    """The images of ``split`` that the hierarchy codes: the first ``readout.<split>_examples``
    of the training images (in a seeded order), of the validation split carved from them, or
    of the test set."""
    r = params.readout
    if split == "test":
        return mnist.load("test", data_dir).subset(slice(0, r.test_examples))
    train, validation = mnist.train_validation_split(
        mnist.load("train", data_dir), params.training.validation, params.simulation.seed)
    if split == "validation":
        return validation.subset(slice(0, r.validation_examples))
    order = np.random.default_rng((params.simulation.seed, 7)).permutation(len(train))
    return train.subset(order[:r.train_examples])


def code_files(run_dir: Path, layer: int, split: str) -> list[Path]:
    return sorted((Path(run_dir) / "codes").glob(f"layer{layer}-{split}-*.npz"))


def load_codes(run_dir: Path, layer: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Spike counts (images, copies x k) of ``layer`` for the coded images of ``split``,
    and their labels."""
    files = code_files(run_dir, layer, split)
    if not files:
        return np.zeros((0, 0), dtype=np.int64), np.zeros(0, dtype=np.int64)
    parts = [np.load(f) for f in files]
    return (np.concatenate([p["counts"] for p in parts]),
            np.concatenate([p["labels"] for p in parts]))


def scale(run_dir: Path, params, layer: int) -> float:
    """The count of ``layer`` that is a full-scale input above: taken from all training codes
    of ``layer`` when the layer above first needs it (they are complete by then), then kept
    in ``codes/scales.json``, so images coded later (a larger ``readout.*_examples``) are
    scaled alike."""
    path = Path(run_dir) / "codes" / "scales.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    if str(layer) not in known:
        counts, _ = load_codes(run_dir, layer, "train")
        known[str(layer)] = patches.code_scale(counts, params.code.full_scale_quantile)
        path.write_text(json.dumps(known))
    return known[str(layer)]
