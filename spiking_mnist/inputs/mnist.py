"""The MNIST files: find them, download them if need be, read and check them.

The four files are in the IDX format, gzipped (``name.gz``) or not (``name``).
They are looked for, in order, in

1. the directory the user named (``--data-dir``, the ``data_dir`` argument),
2. the directory in the environment variable ``SPIKING_MNIST_DATA``,
3. the user cache (``$XDG_CACHE_HOME/spiking-mnist/mnist``),
4. the copies beside the checkout (``../shared/data/mnist``),

and else downloaded into the user cache, checked against :data:`SHA256`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import io
import logging
import math
import os
import shutil
import struct
import tempfile
import urllib.request
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("spiking_mnist.inputs")

ENV_VAR = "SPIKING_MNIST_DATA"

#: split -> (images file, labels file), names without ``.gz``.
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: file name (without ``.gz``) -> sha256 of its uncompressed content.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Base URLs tried in order; a file is fetched from ``base + name + ".gz"``.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08
_ALL_NAMES = tuple(name for pair in FILES.values() for name in pair)
_HOW_TO_POINT = (
    f"Pass --data-dir DIR or set {ENV_VAR}=DIR to a directory holding "
    + ", ".join(f"{name}[.gz]" for name in _ALL_NAMES)
    + "."
)


class DatasetError(Exception):
    """The MNIST files are missing, unreadable, corrupt or inconsistent."""


# --- reading -----------------------------------------------------------------


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzipped (told by its magic bytes) or raw.

    Returns a read-only uint8 array with the shape of the file's header,
    e.g. (n, 28, 28) for images, (n,) for labels. Only the unsigned-byte
    type (0x08) is supported. Raises DatasetError naming the file for
    anything malformed.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
            raise DatasetError(
                f"{path} is a corrupt or truncated gzip file ({exc}); "
                "delete it and download it again"
            ) from exc
    return _parse_idx(data, path)


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Check the IDX header and payload size of ``data``; return the array."""
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise DatasetError(
            f"{path} is not an IDX file (magic number {data[:4].hex() or 'missing'}, "
            "expected 0000 then a type code and the number of dimensions)"
        )
    type_code, ndim = data[2], data[3]
    if type_code != _UBYTE:
        raise DatasetError(
            f"{path} holds IDX type 0x{type_code:02x}; "
            f"only unsigned bytes (0x{_UBYTE:02x}) are supported"
        )
    if ndim == 0:
        raise DatasetError(f"{path} declares 0 dimensions; an IDX array needs at least 1")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path} is truncated inside its header ({len(data)} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + math.prod(shape)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "followed by trailing data"
        raise DatasetError(
            f"{path} is {what}: the header declares shape {shape}, "
            f"i.e. {expected} bytes, but the content has {len(data)}; "
            "delete it and download it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _read_cached(path: Path) -> np.ndarray:
    """read_idx through an in-process cache; a changed file is read again."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    return _read_idx_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path: str, mtime_ns: int, size: int) -> np.ndarray:
    return read_idx(path)


def _open_uncompressed(path: Path) -> io.BufferedIOBase:
    """Open ``path`` for reading its uncompressed bytes (gzip told by magic)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == _GZIP_MAGIC
    return gzip.GzipFile(path, "rb") if gzipped else path.open("rb")


def _sha256(path: Path) -> str:
    """sha256 (hex) of the uncompressed content of ``path``."""
    digest = hashlib.sha256()
    try:
        with _open_uncompressed(path) as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    return digest.hexdigest()


# --- finding -----------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/spiking-mnist/mnist``, else ``~/.cache/spiking-mnist/mnist``."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "spiking-mnist" / "mnist"


def _locate(directory: Path, name: str) -> Path | None:
    """``directory/name.gz`` or else ``directory/name``, whichever exists."""
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _missing(directory: Path) -> list[str]:
    """The files of :data:`FILES` that ``directory`` lacks (all if it is absent)."""
    return [name for name in _ALL_NAMES if _locate(directory, name) is None]


def _describe(directory: Path) -> str:
    """Why ``directory`` does not do, for error messages."""
    if not directory.is_dir():
        return f"{directory} does not exist"
    return f"{directory} lacks " + ", ".join(f"{n}[.gz]" for n in _missing(directory))


def _shared_dirs() -> list[Path]:
    """The shared copies the project knows: ``../shared/data/mnist`` from the
    working directory and from the checkout this file lives in."""
    dirs = [
        Path.cwd().parent / "shared" / "data" / "mnist",
        Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist",
    ]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def find_data_dir(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The directory holding the four MNIST files (see the module docstring).

    A ``data_dir`` argument or ``$SPIKING_MNIST_DATA`` is taken as the user's
    choice: if it lacks the files, DatasetError without looking elsewhere.
    Otherwise the cache and shared copies are tried, then (if ``download``)
    a download into ``cache_dir`` (default :func:`default_cache_dir`).
    """
    if data_dir is not None:
        return _chosen(Path(data_dir), "given as the data directory")
    if os.environ.get(ENV_VAR):
        return _chosen(Path(os.environ[ENV_VAR]), f"named by ${ENV_VAR}")

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    candidates = [cache, *_shared_dirs()]
    for candidate in candidates:
        if not _missing(candidate):
            log.debug("MNIST found in %s", candidate)
            return candidate

    looked = "\n".join(f"  - {_describe(c)}" for c in candidates)
    if not download:
        raise DatasetError(
            f"MNIST not found. Looked in:\n{looked}\nDownloading was switched off. {_HOW_TO_POINT}"
        )
    try:
        return _download(cache, mirrors)
    except DatasetError as exc:
        raise DatasetError(
            f"MNIST not found and the download failed. Looked in:\n{looked}\n{exc}\n{_HOW_TO_POINT}"
        ) from exc


def _chosen(directory: Path, how: str) -> Path:
    """``directory`` if it holds the files, else DatasetError saying so."""
    if _missing(directory):
        raise DatasetError(
            f"The MNIST directory {how} does not hold the data: {_describe(directory)}. "
            f"{_HOW_TO_POINT}"
        )
    return directory


# --- downloading ---------------------------------------------------------------


def download(
    cache_dir: str | os.PathLike[str], mirrors: Sequence[str] | None = None, timeout: float = 30
) -> Path:
    """Download the four files into ``cache_dir`` as ``name.gz``; return it.

    Each file is tried on each mirror in turn and kept only if the sha256 of
    its uncompressed content matches :data:`SHA256`; it is written to a
    temporary file and renamed into place, so no partial file is left.
    Files already present and valid are kept. Raises DatasetError listing
    every failed attempt if some file could not be had from any mirror.
    """
    cache = Path(cache_dir)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"cannot create the cache directory {cache}: {exc}. {_HOW_TO_POINT}"
        ) from exc
    for name in _ALL_NAMES:
        present = _locate(cache, name)
        if present is not None and _valid(present, name):
            log.debug("%s already present", present)
            continue
        _fetch_from_mirrors(cache, name, MIRRORS if mirrors is None else mirrors, timeout)
    return cache


_download = download  # find_data_dir's `download` flag shadows the function


def _valid(path: Path, name: str) -> bool:
    try:
        return _sha256(path) == SHA256[name]
    except DatasetError:
        return False


def _fetch_from_mirrors(cache: Path, name: str, mirrors: Iterable[str], timeout: float) -> None:
    """Fetch ``name`` into ``cache/name.gz`` from the first mirror that works."""
    failures = []
    for base in mirrors:
        url = f"{base}{name}.gz"
        try:
            _fetch(url, cache / f"{name}.gz", SHA256[name], timeout)
            return
        except (OSError, ValueError, http.client.HTTPException, DatasetError) as exc:
            log.warning("download of %s failed: %s", url, exc)
            failures.append(f"  - {url}: {exc}")
    tried = "\n".join(failures) or "  (no mirror given)"
    raise DatasetError(f"Could not download {name}.gz into {cache}. Tried:\n{tried}")


def _fetch(url: str, target: Path, sha256: str, timeout: float) -> None:
    """Download ``url`` to ``target`` via a temporary file, checking ``sha256``."""
    log.info("downloading %s", url)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        actual = _sha256(tmp)
        if actual != sha256:
            raise DatasetError(f"checksum mismatch: uncompressed sha256 {actual}, expected {sha256}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("saved %s (%d bytes)", target, target.stat().st_size)


# --- loading -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Split:
    """Examples of one split: ``images`` (n, rows, cols) uint8, ``labels`` (n,) uint8 in 0..9."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray | Sequence[int] | slice) -> Split:
        """The examples at ``indices`` (anything numpy can index the first axis with)."""
        return Split(self.images[indices], self.labels[indices])


def load(split: str, data_dir: str | os.PathLike[str] | None = None, *, verify: bool = False) -> Split:
    """Load the "train" (60000) or "test" (10000) split of MNIST.

    The directory is found with :func:`find_data_dir`. Arrays are cached
    in-process and read-only. With ``verify``, the sha256 of each file's
    uncompressed content is checked against :data:`SHA256` too.
    """
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, not {split!r}")
    directory = find_data_dir(data_dir)
    image_file, label_file = (_locate(directory, name) for name in FILES[split])
    assert image_file is not None and label_file is not None  # find_data_dir checked
    if verify:
        _verify(image_file)
        _verify(label_file)
    images, labels = _read_cached(image_file), _read_cached(label_file)
    _check(images, labels, image_file, label_file)
    return Split(images, labels)


def _verify(path: Path) -> None:
    name = path.name.removesuffix(".gz")
    if name in SHA256 and (actual := _sha256(path)) != SHA256[name]:
        raise DatasetError(
            f"{path} has the wrong content: uncompressed sha256 {actual}, "
            f"expected {SHA256[name]}; delete it and download it again"
        )


def _check(images: np.ndarray, labels: np.ndarray, image_file: Path, label_file: Path) -> None:
    """DatasetError unless images are (n, rows, cols) and labels (n,) in 0..9."""
    if images.ndim != 3:
        raise DatasetError(
            f"{image_file} holds an array of shape {images.shape}; images must be "
            "(n, rows, cols). Check that the file is an MNIST image file."
        )
    if labels.ndim != 1:
        raise DatasetError(
            f"{label_file} holds an array of shape {labels.shape}; labels must be (n,). "
            "Check that the file is an MNIST label file."
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{image_file} holds {len(images)} images but {label_file} holds "
            f"{len(labels)} labels; the two files do not belong together"
        )
    if labels.size and labels.max() > 9:
        raise DatasetError(
            f"{label_file} holds label {labels.max()}; MNIST labels are 0..9. "
            "Check that the file is an MNIST label file."
        )


def train_validation_split(split: Split, n_validation: int, seed: int) -> tuple[Split, Split]:
    """Carve ``n_validation`` examples out of ``split``: (training, validation).

    Validation is the last ``n_validation`` indices of a permutation drawn with
    ``np.random.default_rng(seed)``; both parts keep the original order.
    """
    if not 0 <= n_validation < len(split):
        raise ValueError(
            f"n_validation must be at least 0 and less than the {len(split)} examples "
            f"of the split, got {n_validation}"
        )
    order = np.random.default_rng(seed).permutation(len(split))
    cut = len(split) - n_validation
    return split.subset(np.sort(order[:cut])), split.subset(np.sort(order[cut:]))
