"""What a run directory holds (``docs/recordings.md``), read without a simulator.

The checkpoint is read at once; results and recordings on demand, recordings one file at a
time so memory stays bounded by the largest chunk.
"""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Iterator

import numpy as np
from neo import Block
from neo.io import NixIO, PickleIO

from spiking_mnist.analysis.recordings import Chunk
from spiking_mnist.rundir import checkpoint
from spiking_mnist.rundir.checkpoint import CheckpointError

PHASES = ("train", "label", "test", "validation")
CHUNK_NAME = re.compile(r"chunk-(\d{6})\.(nix|pkl)")


class RunFiles:
    """The files of the run in ``run_dir``; CheckpointError if it holds no checkpoint."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        if not self.dir.is_dir():
            raise CheckpointError(f"{self.dir} is not a directory; give a run directory "
                                  "written by `spiking-mnist train --run-dir`")
        self.checkpoint = checkpoint.load(self.dir)

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
            yield Chunk.from_block(read_block(path), path)


def read_block(path: Path) -> Block:
    """The ``neo.Block`` in a ``.nix`` (NixIO) or ``.pkl`` (PickleIO) recording file."""
    try:
        if path.suffix == ".nix":
            with NixIO(str(path), mode="ro") as io:
                block = io.read_block()
        else:
            block = PickleIO(str(path)).read_block()
    except (OSError, EOFError, ValueError, KeyError, RuntimeError,
            pickle.UnpicklingError) as err:
        raise CheckpointError(f"recording {path} cannot be read ({type(err).__name__}: {err}); "
                              "it is damaged or was cut short: delete it or record again") from None
    if not isinstance(block, Block):
        raise CheckpointError(f"recording {path} holds no neo Block; delete it or record again")
    return block
