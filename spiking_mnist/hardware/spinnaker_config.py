"""The sPyNNaker configuration file: which SpiNNaker machine a run uses.

sPyNNaker reads its machine from a user file (``~/.spynnaker.cfg``, or the same name in the
user's or the site's config directory) and then ``./spynnaker.cfg``; without any it writes a
template into the home directory and stops. :func:`prepare` writes the file for the user when
there is none, uses an existing one when it agrees with what was asked (or when nothing was
asked), and otherwise refuses, naming the file: it never overwrites a user's configuration.

The machine names are checked before anything is written (:func:`check_board`,
:func:`check_spalloc`): a value that could add lines or sections to the file, or that is no
host name, IP address or http(s) URL, is refused. A spalloc URL's credentials
(``https://user:password@host/``) are never printed (:func:`masked`), and a file holding them
is created readable by its owner only (0600).
"""
from __future__ import annotations

import configparser
import ipaddress
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from spiking_mnist.hardware import BackendError

FILE_NAME = "spynnaker.cfg"
#: board versions sPyNNaker knows: 3 = SpiNN-3 (4 chips), 5 = SpiNN-5 (48 chips)
BOARD_VERSIONS = (3, 5)
CHOICES = "--board virtual (map only, nothing runs), --board HOST (a SpiNN-5 board's IP " \
          "address or name; --board-version 3 for a SpiNN-3) or --spalloc URL"


_HOST_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-.")
# RFC 3986: unreserved, reserved and the % of percent-escapes
_URL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
_NAMED = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", " ": "a space",
          "%": "a '%'"}


def masked(url: str) -> str:
    """``url`` with the credentials of its authority (``user:password@``) shown as ``***``."""
    start = url.find("://")
    start = 0 if start < 0 else start + 3
    end = next((k for k in range(start, len(url)) if url[k] in "/?#"), len(url))
    at = url.rfind("@", start, end)
    return url if at < 0 else url[:start] + "***" + url[at:]


def _has_credentials(url: str) -> bool:
    return masked(url) != url


def _bad_character(text: str, allowed: frozenset) -> str | None:
    """How to name the first character of ``text`` not in ``allowed``, if any."""
    for ch in text:
        if ch not in allowed:
            if ch in _NAMED:
                return _NAMED[ch]
            return f"the character {ch!r}" if ch.isprintable() else \
                f"the control character {ch!r}"
    return None


def _host_problem(host: str) -> str | None:
    """Why ``host`` is no host name or IP address (None if it is one)."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if not host:
        return "it is empty"
    bad = _bad_character(host, _HOST_CHARACTERS)
    if bad:
        return f"it holds {bad}"
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or any(not 0 < len(label) <= 63 for label in labels):
        return "its dot-separated parts must be 1 to 63 characters, 253 in all"
    if any(label[0] == "-" or label[-1] == "-" for label in labels):
        return "a part begins or ends with a hyphen"
    if all(label.isdigit() for label in labels):
        return "it is no valid IP address"
    return None


def check_board(board: str) -> str:
    """``board`` if it is ``virtual``, a host name or an IP address; else BackendError."""
    problem = None if board == "virtual" else _host_problem(board)
    if problem:
        raise BackendError(f"--board {board!r}: give `virtual`, a host name (letters, digits, "
                           f"hyphens and dots) or an IP address; {problem}")
    return board


def check_spalloc(url: str) -> str:
    """``url`` if it is an http(s) URL naming a valid host (and port); else BackendError.
    A ``%`` is taken only in a percent-escape (``%40`` for an ``@`` in a password)."""
    problem = _url_problem(url)
    if problem:
        raise BackendError(f"--spalloc {masked(url)!r}: give the http:// or https:// URL of a "
                           f"spalloc server; {problem}")
    return url


def _url_problem(url: str) -> str | None:
    """Why ``url`` is no http(s) URL of a valid host (None if it is one)."""
    bad = _bad_character(url, _URL_CHARACTERS)
    if bad:
        return f"it holds {bad}"
    if re.search(r"%(?![0-9A-Fa-f]{2})", url):
        return "it holds a '%' that begins no percent-escape such as %40"
    try:
        parts = urlsplit(url)
        parts.port   # ValueError if it is no number in 0-65535
    except ValueError as err:
        return f"it is no URL ({err})"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "it does not begin with http:// or https:// and a host"
    host = parts.hostname or ""
    problem = "it holds a '%'" if "%" in host else _host_problem(host)
    return None if problem is None else f"its host {host!r}: {problem}"


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

    def shown_options(self) -> str:
        """The options as ``name = value`` for messages, credentials masked."""
        return ", ".join(f"{k} = {masked(v) if k == 'spalloc_server' else v}"
                         for k, v in self.options().items())

    def __str__(self) -> str:
        if self.spalloc:
            return f"the spalloc server {masked(self.spalloc)}"
        board = f"SpiNN-{self.version}"
        return f"a virtual {board} board" if self.virtual else f"the {board} board {self.host}"


def requested(board: str | None, spalloc: str | None, version: int = 5) -> Machine | None:
    """The machine the command line asks for (None: none asked for)."""
    if board is not None and spalloc is not None:
        raise BackendError("give either --board or --spalloc, not both")
    if version not in BOARD_VERSIONS:
        raise BackendError(f"--board-version {version}: sPyNNaker knows versions "
                           f"{', '.join(map(str, BOARD_VERSIONS))} (SpiNN-3, SpiNN-5)")
    if spalloc is not None:
        return Machine(spalloc=check_spalloc(spalloc))
    if board is not None:
        return Machine(virtual=True, version=version) if check_board(board) == "virtual" \
            else Machine(host=board, version=version)
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
    """The machine that ``files`` configure, read as sPyNNaker reads them (later wins; no
    ``%`` interpolation)."""
    parser = configparser.RawConfigParser()
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
    """Write a configuration for ``machine`` into ``path``, which must not exist; readable
    by its owner only if it holds credentials."""
    lines = ["# Written by spiking-mnist for " + str(machine) + "; edit it freely,",
             "# spiking-mnist never overwrites it.", "[Machine]"]
    lines += [f"{k} = {v}" for k, v in machine.options().items()]
    if any("\n" in line or "\r" in line for line in lines):   # checked by requested()
        raise BackendError(f"refusing to write a line break into {path}")
    private = bool(machine.spalloc) and _has_credentials(machine.spalloc)
    # O_EXCL: refuse to replace a file
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    with open(fd, "w", encoding="utf-8") as out:
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
                               f"with a [Machine] section: {wanted.shown_options()}") from None
        return f"wrote {path} for {wanted}" + (
            " (readable by you only: it holds credentials)"
            if wanted.spalloc and _has_credentials(wanted.spalloc) else "")
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
                       f"section ({wanted.shown_options()})"
                       f", remove it, or leave out --board/--spalloc to use it as it is")
