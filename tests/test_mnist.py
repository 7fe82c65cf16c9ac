"""Tests of spiking_mnist.inputs.mnist: reading, checking, finding and downloading MNIST."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import math
import os
import re
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spiking_mnist.inputs import mnist
from spiking_mnist.inputs.mnist import DatasetError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --- helpers -------------------------------------------------------------------


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """The IDX encoding of a uint8 array."""
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, type_code, array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def fake_split(n: int, seed: int = 0, size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    return images, labels


def make_data_dir(directory: Path, *, gz: bool = True, n_train: int = 12, n_test: int = 5) -> Path:
    """A directory holding four small, valid MNIST-format files."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = fake_split(n, seed=n)
        image_name, label_name = mnist.FILES[split]
        write_idx(directory / f"{image_name}{suffix}", images, gz=gz)
        write_idx(directory / f"{label_name}{suffix}", labels, gz=gz)
    return directory


def uncompressed_sha256(path: Path) -> str:
    return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no user setting unless they make one."""
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the shared copies of MNIST from find_data_dir."""
    monkeypatch.setattr(mnist, "_shared_dirs", lambda: [])


# --- the real data -----------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_mnist() -> Path:
    candidates = [Path(__file__).resolve().parents[1] / "../shared/data/mnist"]
    if os.environ.get(mnist.ENV_VAR):
        candidates.append(Path(os.environ[mnist.ENV_VAR]))
    for candidate in candidates:
        if all((candidate / f"{name}.gz").is_file() for name in mnist.SHA256):
            return candidate.resolve()
    pytest.skip(f"shared MNIST not found in {[str(c) for c in candidates]}; set {mnist.ENV_VAR}")


def test_real_training_set(shared_mnist: Path) -> None:
    train = mnist.load("train", shared_mnist)
    assert train.images.shape == (60000, 28, 28)
    assert train.labels.shape == (60000,)
    assert train.images.dtype == train.labels.dtype == np.uint8
    assert np.bincount(train.labels, minlength=10).tolist() == TRAIN_COUNTS
    assert round(float(train.images.mean()), 3) == 33.318


def test_real_test_set_verified(shared_mnist: Path) -> None:
    test = mnist.load("test", shared_mnist, verify=True)
    assert test.images.shape == (10000, 28, 28)
    assert np.bincount(test.labels, minlength=10).tolist() == TEST_COUNTS


@pytest.mark.parametrize("name", sorted(mnist.SHA256))
def test_real_files_have_the_sha256_of_the_package_table(shared_mnist: Path, name: str) -> None:
    """The digests that downloads are checked against, unpatched, against the real files,
    hashed here without the package's code (uncompressed content)."""
    content = gzip.decompress((shared_mnist / f"{name}.gz").read_bytes())
    assert hashlib.sha256(content).hexdigest() == mnist.SHA256[name]


def test_real_training_set_verified(shared_mnist: Path) -> None:
    train = mnist.load("train", shared_mnist, verify=True)   # the package's own check
    assert len(train) == 60000


def test_shared_readme_states_the_package_digests(shared_mnist: Path) -> None:
    readme = shared_mnist / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} is absent")
    stated = dict(re.findall(r"\|\s*([\w-]+)\.gz\s*\|[^|\n]*\|\s*([0-9a-f]{64})\s*\|",
                             readme.read_text()))
    assert stated == mnist.SHA256


def test_real_labels_read_directly(shared_mnist: Path) -> None:
    labels = mnist.read_idx(shared_mnist / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,)
    assert np.bincount(labels).tolist() == TRAIN_COUNTS


# --- reading IDX -----------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 4), (2, 3, 4, 5)])
def test_round_trip(tmp_path: Path, gz: bool, shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    # The name says nothing: compression is told by the magic bytes.
    read = mnist.read_idx(write_idx(tmp_path / "data.bin", array, gz=gz))
    assert read.dtype == np.uint8
    assert read.shape == shape
    np.testing.assert_array_equal(read, array)


def test_empty_array_round_trips(tmp_path: Path) -> None:
    read = mnist.read_idx(write_idx(tmp_path / "empty", np.zeros((0, 28, 28), np.uint8), gz=True))
    assert read.shape == (0, 28, 28)


def check_error(path: Path, data: bytes, *fragments: str) -> None:
    path.write_bytes(data)
    with pytest.raises(DatasetError) as info:
        mnist.read_idx(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_wrong_magic_number(tmp_path: Path) -> None:
    data = b"\x01\x00" + idx_bytes(np.zeros(3, np.uint8))[2:]
    check_error(tmp_path / "f", data, "not an IDX file")


def test_unsupported_type_code(tmp_path: Path) -> None:
    check_error(tmp_path / "f", idx_bytes(np.zeros(3, np.uint8), type_code=0x0D), "0x0d", "0x08")


def test_zero_dimensions(tmp_path: Path) -> None:
    check_error(tmp_path / "f", b"\x00\x00\x08\x00\x05", "0 dimensions")


def test_truncated_header(tmp_path: Path) -> None:
    check_error(tmp_path / "f", idx_bytes(np.zeros((2, 2), np.uint8))[:9], "header")


def test_truncated_payload(tmp_path: Path) -> None:
    check_error(tmp_path / "f", idx_bytes(np.zeros((4, 3), np.uint8))[:-1], "truncated", "(4, 3)")


def test_trailing_bytes(tmp_path: Path) -> None:
    check_error(tmp_path / "f", idx_bytes(np.zeros((4, 3), np.uint8)) + b"\x00", "trailing")


def test_truncated_gzip(tmp_path: Path) -> None:
    compressed = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    check_error(tmp_path / "f.gz", compressed[: len(compressed) // 2], "gzip")


def test_corrupt_gzip(tmp_path: Path) -> None:
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8))))
    compressed[-6] ^= 0xFF  # inside the CRC
    check_error(tmp_path / "f.gz", bytes(compressed), "gzip")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read"):
        mnist.read_idx(tmp_path / "absent")


def idx_header_shape(data: bytes) -> tuple[int, ...]:
    ndim = data[3]
    return struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])


def assert_only_dataset_error(path: Path, data: bytes) -> None:
    """read_idx either refuses with DatasetError or returns what the header says."""
    path.write_bytes(data)
    try:
        array = mnist.read_idx(path)
    except DatasetError:
        return
    content = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    shape = idx_header_shape(content)
    assert array.dtype == np.uint8
    assert array.shape == shape
    assert len(content) == 4 + 4 * len(shape) + math.prod(shape)


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=64))
def test_random_bytes_only_dataset_error(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    assert_only_dataset_error(tmp_path_factory.getbasetemp() / "random.idx", data)


@FUZZ
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    gz=st.booleans(),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3),
    cut=st.integers(0, 10_000),
    tail=st.binary(max_size=4),
)
def test_mutated_files_only_dataset_error(
    tmp_path_factory: pytest.TempPathFactory,
    shape: list[int],
    gz: bool,
    edits: list[tuple[int, int]],
    cut: int,
    tail: bytes,
) -> None:
    data = idx_bytes(np.full(shape, 7, np.uint8))
    mutated = bytearray(gzip.compress(data) if gz else data)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    mutated = mutated[: len(mutated) - cut % 3] + tail
    assert_only_dataset_error(tmp_path_factory.getbasetemp() / "mutated.idx", bytes(mutated))


# --- loading and checking ------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_load_small_dir(tmp_path: Path, gz: bool) -> None:
    directory = make_data_dir(tmp_path, gz=gz)
    train = mnist.load("train", directory)
    images, labels = fake_split(12, seed=12)
    assert len(train) == 12
    np.testing.assert_array_equal(train.images, images)  # 4x4 images are accepted
    np.testing.assert_array_equal(train.labels, labels)
    assert len(mnist.load("test", directory)) == 5


def test_load_prefers_gz(tmp_path: Path) -> None:
    directory = make_data_dir(tmp_path, gz=True)
    image_name, label_name = mnist.FILES["test"]
    write_idx(directory / image_name, np.zeros((2, 3, 3), np.uint8), gz=False)
    write_idx(directory / label_name, np.zeros(2, np.uint8), gz=False)
    assert len(mnist.load("test", directory)) == 5


def test_load_caches_arrays(tmp_path: Path) -> None:
    directory = make_data_dir(tmp_path)
    first, second = mnist.load("test", directory), mnist.load("test", directory)
    assert first.images is second.images
    assert not first.images.flags.writeable


def test_load_rereads_changed_file(tmp_path: Path) -> None:
    directory = make_data_dir(tmp_path)
    assert len(mnist.load("test", directory)) == 5
    image_name, label_name = mnist.FILES["test"]
    write_idx(directory / f"{image_name}.gz", np.zeros((3, 4, 4), np.uint8), gz=True)
    write_idx(directory / f"{label_name}.gz", np.zeros(3, np.uint8), gz=True)
    assert len(mnist.load("test", directory)) == 3


def test_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="validation"):
        mnist.load("validation", make_data_dir(tmp_path))


def test_count_mismatch(tmp_path: Path) -> None:
    directory = make_data_dir(tmp_path)
    label_name = mnist.FILES["train"][1]
    write_idx(directory / f"{label_name}.gz", np.zeros(11, np.uint8), gz=True)
    with pytest.raises(DatasetError) as info:
        mnist.load("train", directory)
    message = str(info.value)
    assert "12 images" in message and "11 labels" in message and label_name in message


def test_label_out_of_range(tmp_path: Path) -> None:
    directory = make_data_dir(tmp_path)
    label_name = mnist.FILES["train"][1]
    write_idx(directory / f"{label_name}.gz", np.full(12, 12, np.uint8), gz=True)
    with pytest.raises(DatasetError, match="label 12"):
        mnist.load("train", directory)


def test_images_must_be_3d(tmp_path: Path) -> None:
    directory = make_data_dir(tmp_path)
    image_name = mnist.FILES["train"][0]
    write_idx(directory / f"{image_name}.gz", np.zeros((12, 16), np.uint8), gz=True)
    with pytest.raises(DatasetError, match=r"\(12, 16\)"):
        mnist.load("train", directory)


def test_verify_catches_wrong_content(tmp_path: Path) -> None:
    directory = make_data_dir(tmp_path)
    assert len(mnist.load("test", directory)) == 5  # fine without verify
    with pytest.raises(DatasetError, match="sha256"):
        mnist.load("test", directory, verify=True)


# --- finding -----------------------------------------------------------------


def test_missing_dir_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises(DatasetError) as info:
        mnist.find_data_dir(missing)
    message = str(info.value)
    assert str(missing) in message and "does not exist" in message
    assert "--data-dir" in message and mnist.ENV_VAR in message


def test_empty_explicit_dir_does_not_fall_back(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    cache = make_data_dir(tmp_path / "cache")
    with pytest.raises(DatasetError) as info:
        mnist.find_data_dir(empty, cache_dir=cache)
    assert str(empty) in str(info.value)
    assert "train-images-idx3-ubyte" in str(info.value)


def test_empty_env_dir_does_not_fall_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(mnist.ENV_VAR, str(empty))
    with pytest.raises(DatasetError, match=mnist.ENV_VAR) as info:
        mnist.find_data_dir(cache_dir=make_data_dir(tmp_path / "cache"))
    assert str(empty) in str(info.value)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = make_data_dir(tmp_path / "explicit", gz=False)
    from_env = make_data_dir(tmp_path / "env")
    cache = make_data_dir(tmp_path / "cache")
    monkeypatch.setenv(mnist.ENV_VAR, str(from_env))
    assert mnist.find_data_dir(explicit, cache_dir=cache) == explicit
    assert mnist.find_data_dir(cache_dir=cache) == from_env
    monkeypatch.delenv(mnist.ENV_VAR)
    assert mnist.find_data_dir(cache_dir=cache) == cache


def test_cache_beats_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = make_data_dir(tmp_path / "shared")
    cache = make_data_dir(tmp_path / "cache")
    monkeypatch.setattr(mnist, "_shared_dirs", lambda: [shared])
    assert mnist.find_data_dir(cache_dir=cache, download=False) == cache
    assert mnist.find_data_dir(cache_dir=tmp_path / "empty", download=False) == shared


def test_shared_dir_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_data_dir(tmp_path / "shared" / "data" / "mnist")
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    found = mnist.find_data_dir(cache_dir=tmp_path / "cache", download=False)
    assert found == (tmp_path / "shared" / "data" / "mnist").resolve()


def test_default_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert mnist.default_cache_dir() == tmp_path / "spiking-mnist" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.default_cache_dir() == Path.home() / ".cache" / "spiking-mnist" / "mnist"


def test_nothing_found_lists_places(tmp_path: Path, nowhere: None) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as info:
        mnist.find_data_dir(cache_dir=cache, download=False)
    message = str(info.value)
    assert str(cache) in message and "--data-dir" in message and mnist.ENV_VAR in message


# --- downloading ---------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local HTTP server: /good/ serves valid small files (whose hashes replace
    mnist.SHA256), /bad/ serves wrong content for the train files and 404 for the
    rest, /wrong/ serves wrong content for all. Yields the server's base URL."""
    root = tmp_path / "www"
    good = make_data_dir(root / "good")
    wrong = make_data_dir(root / "wrong", n_train=3, n_test=2)
    bad = root / "bad"
    bad.mkdir()
    for name in mnist.SHA256:
        monkeypatch.setitem(mnist.SHA256, name, uncompressed_sha256(good / f"{name}.gz"))
        if name.startswith("train"):
            (bad / f"{name}.gz").write_bytes((wrong / f"{name}.gz").read_bytes())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_falls_back_to_good_mirror(tmp_path: Path, mirror: str) -> None:
    cache = tmp_path / "cache"
    assert mnist.download(cache, (mirror + "bad/", mirror + "good/"), timeout=5) == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in mnist.SHA256)
    train = mnist.load("train", cache, verify=True)
    assert len(train) == 12


def test_download_keeps_valid_files(tmp_path: Path, mirror: str) -> None:
    cache = make_data_dir(tmp_path / "cache")
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    mnist.download(cache, (mirror + "nothing-here/",), timeout=5)  # would fail if it fetched
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps


def test_download_replaces_invalid_file(tmp_path: Path, mirror: str) -> None:
    cache = make_data_dir(tmp_path / "cache")
    name = mnist.FILES["test"][1]
    (cache / f"{name}.gz").write_bytes(b"garbage")
    mnist.download(cache, (mirror + "good/",), timeout=5)
    assert uncompressed_sha256(cache / f"{name}.gz") == mnist.SHA256[name]


def test_download_all_wrong_leaves_nothing(tmp_path: Path, mirror: str) -> None:
    cache = tmp_path / "cache"
    mirrors = (mirror + "wrong/", mirror + "missing/")
    with pytest.raises(DatasetError) as info:
        mnist.download(cache, mirrors, timeout=5)
    message = str(info.value)
    assert "checksum mismatch" in message and "404" in message
    assert mirrors[0] in message and mirrors[1] in message
    assert list(cache.iterdir()) == []


def test_find_data_dir_downloads_into_cache(tmp_path: Path, mirror: str, nowhere: None) -> None:
    cache = tmp_path / "cache"
    found = mnist.find_data_dir(cache_dir=cache, mirrors=(mirror + "bad/", mirror + "good/"))
    assert found == cache
    assert len(mnist.load("test", cache)) == 5


def test_find_data_dir_reports_failed_download(tmp_path: Path, mirror: str, nowhere: None) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as info:
        mnist.find_data_dir(cache_dir=cache, mirrors=(mirror + "wrong/",))
    message = str(info.value)
    assert str(cache) in message and mirror + "wrong/" in message
    assert "--data-dir" in message and mnist.ENV_VAR in message


# --- train/validation split --------------------------------------------------------


def numbered_split(n: int) -> mnist.Split:
    """A split of n examples whose single pixel is the example's index."""
    images = np.arange(n, dtype=np.uint8).reshape(n, 1, 1)
    return mnist.Split(images, np.arange(n, dtype=np.uint8) % 10)


def test_train_validation_split() -> None:
    split = numbered_split(100)
    train, validation = mnist.train_validation_split(split, 20, seed=3)
    assert (len(train), len(validation)) == (80, 20)
    train_ids, validation_ids = train.images.ravel(), validation.images.ravel()
    assert set(train_ids).isdisjoint(validation_ids)
    assert sorted([*train_ids, *validation_ids]) == list(range(100))
    np.testing.assert_array_equal(train.labels, train_ids % 10)  # images and labels stay paired
    again = mnist.train_validation_split(split, 20, seed=3)[1]
    np.testing.assert_array_equal(again.images, validation.images)
    other = mnist.train_validation_split(split, 20, seed=4)[1]
    assert not np.array_equal(other.images, validation.images)


def test_train_validation_split_zero() -> None:
    split = numbered_split(10)
    train, validation = mnist.train_validation_split(split, 0, seed=0)
    assert len(validation) == 0
    np.testing.assert_array_equal(train.images, split.images)


@pytest.mark.parametrize("n_validation", [-1, 10, 11])
def test_train_validation_split_bad_size(n_validation: int) -> None:
    with pytest.raises(ValueError, match="n_validation"):
        mnist.train_validation_split(numbered_split(10), n_validation, seed=0)
