"""The sPyNNaker configuration file: which SpiNNaker machine a run uses.

sPyNNaker reads its machine from a user file (``~/.spynnaker.cfg``, or the same name in the
user's or the site's config directory) and then ``./spynnaker.cfg``; without any it writes a
template into the home directory and stops. :func:`prepare` writes the file for the user when
there is none, uses an existing one when it agrees with what was asked (or when nothing was
asked), and otherwise refuses, naming the file: it never overwrites a user's configuration.
"""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from spiking_mnist.hardware import BackendError

FILE_NAME = "spynnaker.cfg"
#: board versions sPyNNaker knows: 3 = SpiNN-3 (4 chips), 5 = SpiNN-5 (48 chips)
BOARD_VERSIONS = (3, 5)
CHOICES = "--board virtual (map only, nothing runs), --board HOST (a SpiNN-5 board's IP " \
          "address or name; --board-version 3 for a SpiNN-3) or --spalloc URL"


@dataclass(frozen=True)
class Machine:
    """A SpiNNaker target: a virtual board, one board by host name, or a spalloc server."""

    virtual: bool = False
    host: str | None = None
    spalloc: str | None = None
    version: int = 5

    def options(self) -> dict[str, str]:
        """The ``[Machine]`` options sPyNNaker needs for this target."""
        if self.spalloc:
            return {"spalloc_server": self.spalloc, "version": "5"}
        if self.virtual:
            return {"virtual_board": "True", "version": str(self.version)}
        return {"machine_name": str(self.host), "version": str(self.version)}

    def __str__(self) -> str:
        if self.spalloc:
            return f"the spalloc server {self.spalloc}"
        board = f"SpiNN-{self.version}"
        return f"a virtual {board} board" if self.virtual else f"the {board} board {self.host}"


def requested(board: str | None, spalloc: str | None, version: int = 5) -> Machine | None:
    """The machine the command line asks for (None: none asked for)."""
    if board and spalloc:
        raise BackendError("give either --board or --spalloc, not both")
    if version not in BOARD_VERSIONS:
        raise BackendError(f"--board-version {version}: sPyNNaker knows versions "
                           f"{', '.join(map(str, BOARD_VERSIONS))} (SpiNN-3, SpiNN-5)")
    if spalloc:
        return Machine(spalloc=spalloc)
    if board:
        return Machine(virtual=True, version=version) if board == "virtual" else \
            Machine(host=board, version=version)
    return None


def user_files(home: Path | None = None) -> list[Path]:
    """The configuration files sPyNNaker would read for this user, in reading order."""
    home = Path(home or os.path.expanduser("~"))
    places = [home / f".{FILE_NAME}"]
    try:
        import appdirs  # installed with sPyNNaker; it looks in these places too
        places = [Path(appdirs.site_config_dir()) / f".{FILE_NAME}",
                  Path(appdirs.user_config_dir()) / f".{FILE_NAME}"] + places
    except ImportError:
        pass
    return [p for p in places + [Path.cwd() / FILE_NAME] if p.is_file()]


def _option_name(name: str) -> str:
    """sPyNNaker's spelling rule: ``machineName`` and ``machine_name`` are one option."""
    return name.lower().replace("_", "")


def configured(files: list[Path]) -> Machine | None:
    """The machine that ``files`` configure, read as sPyNNaker reads them (later wins)."""
    parser = configparser.ConfigParser()
    parser.optionxform = _option_name
    for path in files:
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as err:
            raise BackendError(f"{path} is not a valid sPyNNaker configuration ({err}); "
                               "correct it or remove it") from None
    if not parser.has_section("Machine"):
        return None
    machine = {k: v.strip() for k, v in parser.items("Machine")}

    def given(key: str) -> str | None:
        value = machine.get(key)
        return None if value in (None, "", "None") else value
    try:
        version = int(given("version") or 5)
    except ValueError:
        version = -1
    if given("spallocserver"):
        return Machine(spalloc=given("spallocserver"))
    if (given("virtualboard") or "").lower() == "true":
        return Machine(virtual=True, version=version)
    if given("machinename"):
        return Machine(host=given("machinename"), version=version)
    return None


def write(path: Path, machine: Machine) -> None:
    """Write a configuration for ``machine`` into ``path``, which must not exist."""
    lines = ["# Written by spiking-mnist for " + str(machine) + "; edit it freely,",
             "# spiking-mnist never overwrites it.", "[Machine]"]
    lines += [f"{k} = {v}" for k, v in machine.options().items()]
    with open(path, "x", encoding="utf-8") as out:  # "x": refuse to replace a file
        out.write("\n".join(lines) + "\n")


def prepare(board: str | None, spalloc: str | None, version: int = 5,
            home: Path | None = None) -> str:
    """Make sPyNNaker use the machine asked for; a line telling the user what was done.

    Writes ``~/.spynnaker.cfg`` if no configuration exists; uses an existing one if it
    configures the same machine, or if no machine was asked for; refuses otherwise.
    """
    wanted = requested(board, spalloc, version)
    files = user_files(home)
    if not files:
        if wanted is None:
            raise BackendError(f"no sPyNNaker configuration found; choose a machine with "
                               f"{CHOICES}")
        path = Path(home or os.path.expanduser("~")) / f".{FILE_NAME}"
        try:
            write(path, wanted)
        except OSError as err:
            raise BackendError(f"could not write {path} ({err.strerror}); write it yourself "
                               "with a [Machine] section: "
                               + ", ".join(f"{k} = {v}" for k, v in wanted.options().items())
                               ) from None
        return f"wrote {path} for {wanted}"
    names = " and ".join(str(p) for p in files)
    current = configured(files)
    if wanted is None:
        if current is None:
            raise BackendError(f"{names} configures no SpiNNaker machine; set [Machine] "
                               f"machine_name, spalloc_server or virtual_board there, or "
                               f"remove it and choose one with {CHOICES}")
        return f"using {current}, as configured in {names}"
    if current == wanted:
        return f"using {wanted}, as configured in {names}"
    raise BackendError(f"{names} configures {current or 'no SpiNNaker machine'}, not "
                       f"{wanted}; spiking-mnist does not overwrite it: edit its [Machine] "
                       f"section ({', '.join(f'{k} = {v}' for k, v in wanted.options().items())})"
                       f", remove it, or leave out --board/--spalloc to use it as it is")
