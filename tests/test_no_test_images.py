"""Test images never reach training or labelling: every image a D&C run shows the network while
it learns or while its neurons are labelled is a row of the training split, never a test or
validation image; test images are shown only to be tested. A leak would raise the reported
accuracy with every other test green.

The images are caught where they become input spikes (``Presenter._run``, which every phase
goes through), on MNIST-format files of unique random images, and compared as arrays."""
import gzip
import struct

import numpy as np
import pytest

from spiking_mnist.inputs import mnist
from spiking_mnist.runners import presentation
from spiking_mnist.runners.cli import main

N_TRAIN, N_VALIDATION, N_TEST = 60, 20, 20
SEED = 1


def _write_idx(path, array):
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, 8, array.ndim, *array.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(array).tobytes()))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Four MNIST files of distinct random images: 60 training (20 held out for validation)
    and 20 test; returns the directory and the images of each file."""
    directory = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    images = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        pixels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        pixels[rng.random((n, 28, 28)) < 0.7] = 0          # sparse, as digits are
        images[split] = pixels
        image_file, label_file = mnist.FILES[split]
        _write_idx(directory / f"{image_file}.gz", pixels)
        _write_idx(directory / f"{label_file}.gz", np.arange(n, dtype=np.uint8) % 10)
    keys = {k.tobytes() for split in images.values() for k in split}
    assert len(keys) == N_TRAIN + N_TEST, "the images must be told apart"
    return directory, images


@pytest.fixture(scope="module")
def shown(data):
    """Train (validating on the way) and evaluate a small network; the images each stream
    (train, label, validation, test) showed, as bytes, in the order shown."""
    directory, _ = data
    seen: dict[str, list[bytes]] = {}
    run = directory.parent / "run"
    real_run = presentation.Presenter._run

    def catching(self, batch):
        seen.setdefault(self._stream, []).extend(
            np.asarray(self._images[s.row]).tobytes() for s in batch)
        return real_run(self, batch)
    common = ["--data-dir", str(directory), "--quiet"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(presentation.Presenter, "_run", catching)
        assert main(["train", "--run-dir", str(run), "--examples", "30", "--neurons", "5",
                     "--set", f"training.validation={N_VALIDATION}",
                     "--set", f"simulation.seed={SEED}", "--set", "simulation.threads=1",
                     "--set", "training.checkpoint_every=15",
                     "--set", "training.validate_every=15",
                     "--set", "training.validation_examples=10",
                     "--set", "evaluation.label_examples=25", *common]) == 0
        assert main(["evaluate", str(run), "--examples", str(N_TEST),
                     "--label-examples", "40", *common]) == 0
    return seen


def _keys(array) -> set[bytes]:
    return {image.reshape(-1).tobytes() for image in array}


def test_training_and_labelling_show_training_rows_only(data, shown):
    _, images = data
    training, validation = mnist.train_validation_split(
        mnist.Split(images["train"], np.zeros(N_TRAIN, dtype=np.uint8)), N_VALIDATION, SEED)
    assert set(shown) == {"train", "label", "validation", "test"}
    for stream in ("train", "label"):
        assert shown[stream], f"no {stream} images caught"
        caught = set(shown[stream])
        assert caught <= _keys(training.images), f"{stream}: an image not of the training rows"
        assert not caught & _keys(images["test"]), f"{stream}: a test image"
        assert not caught & _keys(validation.images), f"{stream}: a validation image"
    # labelling at each validation (25 rows) and at evaluate (40) covers the 40 training rows
    assert set(shown["label"]) == _keys(training.images)


def test_test_and_validation_images_are_shown_only_to_be_tested(data, shown):
    _, images = data
    _, validation = mnist.train_validation_split(
        mnist.Split(images["train"], np.zeros(N_TRAIN, dtype=np.uint8)), N_VALIDATION, SEED)
    # the capture works: it sees the test images, each once (re-shows aside), in order
    first_showings = list(dict.fromkeys(shown["test"]))
    assert first_showings == [image.reshape(-1).tobytes() for image in images["test"]]
    assert set(shown["validation"]) <= _keys(validation.images)
