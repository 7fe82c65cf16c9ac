"""What a run directory holds (``docs/recordings.md``), read without a simulator.

The checkpoint is read at once; results and recordings on demand, recordings one file at a
time so memory stays bounded by the largest chunk.

Pickle recordings (``--record-format pickle``) are read only when the caller allows it
(``allow_pickle``, ``spiking-mnist analyse --allow-pickle``): unpickling a file runs the code
it names, so a run directory someone sent you could run anything. Even then only the classes
and functions a Neo Block is made of (:data:`PICKLE_GLOBALS`) are looked up; anything else is
refused before it is called. NIX, the default format, holds data only.
"""
from __future__ import annotations

import _compat_pickle
import json
import pickle
import re
from pathlib import Path
from types import FunctionType
from typing import Iterator

import numpy as np
from neo import Block
from neo.io import NixIO

from spiking_mnist.analysis.recordings import Chunk
from spiking_mnist.rundir import checkpoint
from spiking_mnist.rundir.checkpoint import CheckpointError

PHASES = ("train", "label", "test", "validation")
CHUNK_NAME = re.compile(r"chunk-(\d{6})\.(nix|pkl)")


class RunFiles:
    """The files of the run in ``run_dir``; CheckpointError if it holds no checkpoint, or if
    it holds pickle recordings and ``allow_pickle`` is false (see the module docstring)."""

    def __init__(self, run_dir: str | Path, allow_pickle: bool = False):
        self.dir = Path(run_dir)
        if not self.dir.is_dir():
            raise CheckpointError(f"{self.dir} is not a directory; give a run directory "
                                  "written by `spiking-mnist train --run-dir`")
        self.checkpoint = checkpoint.load(self.dir)
        self.allow_pickle = allow_pickle
        pickles = [path for phase in PHASES for _, path in self.recording_files(phase)
                   if path.suffix == ".pkl"]
        if pickles and not allow_pickle:
            raise CheckpointError(pickle_refusal(self.dir, pickles))

    def json(self, name: str) -> dict | None:
        """``RUN_DIR/name`` (metrics.json, history.json, ...) parsed, None if absent."""
        path = self.dir / name
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{path} cannot be read ({err}); delete it and run the "
                                  "command that wrote it again") from None

    def responses(self, split: str = "test") -> dict[str, np.ndarray] | None:
        """``responses-<split>.npz``: ``responses`` (examples, N) spike counts, ``labels``,
        ``predictions``, ``assignments`` (N,); None if absent."""
        path = self.dir / f"responses-{split}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path) as npz:
                return {name: npz[name] for name in npz.files}
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{path} cannot be read ({err}); run "
                                  f"`spiking-mnist evaluate {self.dir}` again") from None

    def recording_files(self, phase: str) -> list[tuple[int, Path]]:
        """(first example, path) of each chunk in ``recordings/<phase>``, in example order."""
        found = []
        for path in (self.dir / "recordings" / phase).glob("chunk-*"):
            match = CHUNK_NAME.fullmatch(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def chunks(self, phase: str) -> Iterator[Chunk]:
        """The chunks of ``phase`` in example order, each read when it is reached."""
        for _, path in self.recording_files(phase):
            yield Chunk.from_block(read_block(path, self.allow_pickle), path)


def pickle_refusal(run_dir: Path | None, pickles: list[Path]) -> str:
    """Why the pickle recordings of ``run_dir`` are not read, and what to do."""
    if run_dir is None:
        what, command = f"{pickles[0]} is a pickle recording", "RUN_DIR"
    else:
        shown = ", ".join(str(p.relative_to(run_dir)) for p in pickles[:2]) \
            + (f" and {len(pickles) - 2} more" if len(pickles) > 2 else "")
        what = f"{run_dir} holds {len(pickles)} pickle recording(s) ({shown})"
        command = str(run_dir)
    return (f"{what}; pickles are not read by default because unpickling a file runs code "
            "named in it, so a run directory someone sent you could run anything on this "
            "machine. If you recorded them yourself or trust who did: `spiking-mnist analyse "
            f"{command} --allow-pickle` (allow_pickle=True in Python); otherwise record "
            "again as NIX (`--record-format nix`, the default) or delete the .pkl files")


#: module -> names a pickled ``neo.Block`` may look up (besides the classes and ``_new_*``
#: / ``_reconstruct*`` / ``_normalize*`` helpers defined in ``neo.core`` and ``quantities``)
PICKLE_GLOBALS = {
    "builtins": {"dict", "list", "tuple", "set", "frozenset", "slice", "complex", "object",
                 "bytearray", "bytes", "str", "int", "float", "bool", "range"},
    "copyreg": {"_reconstructor"},
    "_codecs": {"encode"},                    # bytes, in pickle protocol 2
    "collections": {"OrderedDict"},
    "datetime": {"datetime", "date", "time", "timedelta", "timezone"},
    "numpy": {"ndarray", "dtype"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.numeric": {"_frombuffer"},    # arrays, in pickle protocol 5
    "numpy._core.numeric": {"_frombuffer"},
}
_HELPERS = ("_new", "_reconstruct", "_normalize")


class _BlockUnpickler(pickle.Unpickler):
    """An unpickler that looks up only what a Neo Block is made of: a file naming anything
    else (``os.system``, ``builtins.eval``, ...) is refused before that is called."""

    def find_class(self, module: str, name: str):
        # Python 2 names (protocol 2), as pickle maps them: copy_reg -> copyreg, ...
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if name in PICKLE_GLOBALS.get(module, ()):
            return super().find_class(module, name)
        if module.split(".")[0] == "numpy" and module.endswith("dtypes") \
                and name.endswith("DType"):
            return super().find_class(module, name)
        if module.startswith(("neo.core.", "quantities.")) and "." not in name:
            found = super().find_class(module, name)
            home = getattr(found, "__module__", "") or ""
            if home.startswith(("neo.core", "quantities")) and (
                    isinstance(found, type) or (isinstance(found, FunctionType)
                                                and name.startswith(_HELPERS))):
                return found
        raise _Foreign(f"{module}.{name}")


class _Foreign(pickle.UnpicklingError):
    """A pickle names something that is no part of a Neo Block."""


def read_block(path: Path, allow_pickle: bool = False) -> Block:
    """The ``neo.Block`` in a ``.nix`` (NixIO) or, if ``allow_pickle``, a ``.pkl`` (Neo's
    PickleIO format, read with :class:`_BlockUnpickler`) recording file."""
    if path.suffix != ".nix" and not allow_pickle:
        raise CheckpointError(pickle_refusal(None, [path]))
    try:
        if path.suffix == ".nix":
            with NixIO(str(path), mode="ro") as io:
                block = io.read_block()
        else:
            with open(path, "rb") as stream:
                block = _BlockUnpickler(stream).load()
    except _Foreign as err:
        raise CheckpointError(f"recording {path} is no Neo recording: it names {err}, which "
                              "a Neo Block never does (refused, not called); delete it, and "
                              "distrust the run directory it came with") from None
    except (OSError, EOFError, ValueError, KeyError, RuntimeError, TypeError, AttributeError,
            ImportError, IndexError, pickle.UnpicklingError) as err:
        raise CheckpointError(f"recording {path} cannot be read ({type(err).__name__}: {err}); "
                              "it is damaged or was cut short: delete it or record again") from None
    if not isinstance(block, Block):
        raise CheckpointError(f"recording {path} holds no neo Block; delete it or record again")
    return block
