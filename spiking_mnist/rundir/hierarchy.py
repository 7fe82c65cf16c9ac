"""The files of a patch-hierarchy run: its parameters, the coded images and their scales.

``parameters.json``: the run's parameters; ``codes/layer<L>-<split>-<part>.npz``: spike
counts (images, copies x k) and labels of the coded images; ``codes/scales.json``: the
count of each layer that is a full-scale input above.
"""
from __future__ import annotations

import json
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from spiking_mnist.inputs import mnist
from spiking_mnist.models import patches
from spiking_mnist.models.parameters import ConfigError, load_defaults
from spiking_mnist.rundir import checkpoint, files

log = logging.getLogger("spiking_mnist.hierarchy")

SPLITS = {"train": "label", "validation": "validation", "test": "test"}   # split -> stream
PARAMETERS = "parameters.json"
#: sections a started run takes new values of: they change only what is read from the codes
CHANGEABLE = ("readout", "output")
#: parameters newer than some saved runs, with the value every run saved before them had
ADDED_SINCE = {"encoding": {"channels": "intensity", "dog_center": 1.0, "dog_surround": 2.0}}


def parameters_of(run_dir: Path, params=None):
    """The parameters of the run in ``run_dir``: saved ones, with the ``[readout]`` and
    ``[output]`` values of ``params`` (more images may be coded later, the output layer
    learnt anew); a new run saves ``params``."""
    path = Path(run_dir) / PARAMETERS
    if not path.exists():
        if params is None:
            raise checkpoint.CheckpointError(f"{run_dir} holds no patch-hierarchy run; "
                                             "start one with `spiking-mnist patches RUN_DIR`")
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        files.write_json(path, params.values())
        return params
    try:
        stored = files.read_json(path)
    except ValueError as err:
        return _redo_parameters(Path(run_dir), params, err)
    for section, entries in ADDED_SINCE.items():
        for key, value in entries.items():
            stored.setdefault(section, {}).setdefault(key, value)
    defaults = load_defaults(patches.MODEL)
    missing = [f"{s}.{k}" for s, entries in defaults.values().items() for k in entries
               if k not in stored.get(s, {}) and s not in CHANGEABLE]   # readouts: defaults
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
               if s not in CHANGEABLE and saved.values()[s][k] != v]
    if changed:
        raise ConfigError(f"{run_dir} was started with other values of {', '.join(changed)}; "
                          "only [readout] and [output] values may change in a running "
                          "hierarchy (start a new run directory for others)")
    values = saved.values()
    for section in CHANGEABLE:
        values[section] = params.values()[section]
    if values != stored:
        files.write_json(path, values)
    return saved.with_values(values, "--set")


def parameters_saved(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a whole ``parameters.json`` (not one that a write of an
    older version cut short: :func:`parameters_of` writes that anew)."""
    try:
        files.read_json(Path(run_dir) / PARAMETERS)
    except (OSError, ValueError):
        return False
    return True


def _redo_parameters(run_dir: Path, params, err: ValueError):
    """Write ``parameters.json`` anew from ``params``, in place of a damaged one, if the
    layers already learnt were learnt with them."""
    how = ("run `spiking-mnist patches RUN_DIR` with the --config and --set values the run "
           "was started with: it writes the file anew")
    if params is None:
        raise checkpoint.CheckpointError(f"{err}: a write cut short by an older version; {how}")
    for layer in patches.LAYERS:
        layer_dir = run_dir / f"layer{layer}"
        if not checkpoint.has_checkpoint(layer_dir):
            continue
        learnt = checkpoint.load(layer_dir).parameters
        given = json.loads(json.dumps(patches.layer_parameters(params, layer).values()))
        for values in (learnt, given):
            values["training"].pop("examples", None)
        if learnt != given:
            raise checkpoint.CheckpointError(
                f"{err}, and layer {layer} was learnt with other values than those given; "
                f"{how}")
    log.warning("%s (a write cut short by an older version): written anew from the values "
                "given", err)
    files.write_json(run_dir / PARAMETERS, params.values())
    return params


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
    found = code_files(run_dir, layer, split)
    if not found:
        return np.zeros((0, 0), dtype=np.int64), np.zeros(0, dtype=np.int64)
    parts = [np.load(f) for f in found]
    return (np.concatenate([p["counts"] for p in parts]),
            np.concatenate([p["labels"] for p in parts]))


def scale(run_dir: Path, params, layer: int) -> float:
    """The count of ``layer`` that is a full-scale input above: taken from all training codes
    of ``layer`` when the layer above first needs it (they are complete by then), then kept
    in ``codes/scales.json``, so images coded later (a larger ``readout.*_examples``) are
    scaled alike."""
    path = Path(run_dir) / "codes" / "scales.json"
    try:
        known = files.read_json(path) if path.exists() else {}
    except ValueError as err:
        log.warning("%s (a write cut short by an older version): the scales are taken "
                    "anew from the codes", err)
        known = {}
    if str(layer) not in known:
        counts, _ = load_codes(run_dir, layer, "train")
        known[str(layer)] = patches.code_scale(counts, params.code.full_scale_quantile)
        files.write_json(path, known, indent=None)
    return known[str(layer)]


def read_part(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a coded part, or None if ``path`` is damaged (a write cut short by an
    older version; the caller codes the part again)."""
    try:
        with np.load(path) as part:
            return {name: part[name] for name in part.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        log.warning("%s is damaged (%s: %s), a write cut short by an older version: "
                    "coded again", path, type(err).__name__, err)
        return None


OUTPUT = "output"


def output_part_files(run_dir: Path, split: str, into: str = OUTPUT) -> list[Path]:
    """The coded parts of the spiking readout of ``split``: ``output/<split>-<part>.npz``
    (``into``: another directory of the run, e.g. the board twin's)."""
    return sorted((Path(run_dir) / into).glob(f"{split}-*.npz"))


def load_output(run_dir: Path, split: str, into: str = OUTPUT) -> dict[str, np.ndarray]:
    """The output cells' spike counts (images, methods x 10: each method's 10 side by side),
    the labels and, per image, whether the layer-1 code that drove them is the stored one
    (from ``run_dir/into``)."""
    parts = [np.load(f) for f in output_part_files(run_dir, split, into)]
    if not parts:
        return {"counts": np.zeros((0, 0), dtype=np.int64),
                "labels": np.zeros(0, dtype=np.int64), "same_code": np.zeros(0, dtype=bool)}
    return {name: np.concatenate([p[name] for p in parts])
            for name in ("counts", "labels", "same_code")}


def load_output_weights(run_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """Each method's output weights (``weights`` (inputs, 10), ``bias`` (10,)) as the run
    learnt them: ``output/weights-<method>.npz``; empty if not learnt yet."""
    out = {}
    for path in sorted((Path(run_dir) / OUTPUT).glob("weights-*.npz")):
        with np.load(path) as stored:
            out[path.stem.removeprefix("weights-")] = {k: stored[k] for k in stored.files}
    return out
