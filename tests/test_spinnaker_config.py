"""The sPyNNaker configuration writer: writes one when there is none, uses an agreeing one,
and never replaces a user's file; machine names are checked first and credentials kept private."""
import os

import pytest

from spiking_mnist.hardware import BackendError
from spiking_mnist.hardware.spinnaker_config import prepare


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty home directory (sPyNNaker also looks in ~/.config) and working directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def test_writes_a_virtual_board_config_when_there_is_none(home):
    message = prepare("virtual", None)
    cfg = (home / ".spynnaker.cfg").read_text()
    assert "virtual_board = True" in cfg and "version = 5" in cfg
    assert message == f"wrote {home}/.spynnaker.cfg for a virtual SpiNN-5 board"


@pytest.mark.parametrize("board, spalloc, version, lines", [
    ("10.0.0.2", None, 3, ["machine_name = 10.0.0.2", "version = 3"]),
    (None, "https://spalloc.example/", 5, ["spalloc_server = https://spalloc.example/"]),
])
def test_writes_a_board_or_spalloc_config(home, board, spalloc, version, lines):
    prepare(board, spalloc, version)
    cfg = (home / ".spynnaker.cfg").read_text()
    assert all(line in cfg for line in lines) and "virtual_board" not in cfg


def test_uses_an_existing_config_that_agrees_and_leaves_it_untouched(home):
    mine = "[Machine]\nmachineName = 10.0.0.2\nversion = 5\n# my notes\n"
    (home / ".spynnaker.cfg").write_text(mine)
    assert "as configured in" in prepare("10.0.0.2", None)
    assert "the SpiNN-5 board 10.0.0.2" in prepare(None, None)
    assert (home / ".spynnaker.cfg").read_text() == mine


def test_refuses_to_overwrite_a_config_of_another_machine(home):
    mine = "[Machine]\nmachine_name = 10.0.0.2\nversion = 5\n"
    (home / ".spynnaker.cfg").write_text(mine)
    with pytest.raises(BackendError) as err:
        prepare("virtual", None)
    assert f"{home}/.spynnaker.cfg configures the SpiNN-5 board 10.0.0.2, not a virtual " \
           "SpiNN-5 board" in str(err.value)
    assert "does not overwrite it" in str(err.value)
    assert (home / ".spynnaker.cfg").read_text() == mine


def test_a_local_spynnaker_cfg_counts_as_the_users(home, tmp_path):
    (tmp_path / "spynnaker.cfg").write_text("[Machine]\nspalloc_server = https://x/\n")
    with pytest.raises(BackendError, match="spynnaker.cfg configures the spalloc server"):
        prepare("virtual", None)


def test_without_config_or_machine_says_how_to_choose_one(home):
    with pytest.raises(BackendError, match="--board virtual"):
        prepare(None, None)
    assert not (home / ".spynnaker.cfg").exists()


def test_sPyNNaker_template_configures_no_machine(home):
    (home / ".spynnaker.cfg").write_text("[Machine]\nmachine_name = None\nversion = None\n")
    with pytest.raises(BackendError, match="configures no SpiNNaker machine"):
        prepare(None, None)


@pytest.mark.parametrize("board, problem", [
    ("10.0.0.2\n[Machine]\nspalloc_server = http://evil/", "holds a line break"),
    ("spinn%4", "holds a '%'"),
    ("my board", "holds a space"),
    ("10.0.0.300", "no valid IP address"),
    ("-spinn", "begins or ends with a hyphen"),
    ("", "it is empty"),
])
def test_a_board_that_is_no_host_name_or_ip_address_is_refused_before_writing(
        home, board, problem):
    with pytest.raises(BackendError, match="give `virtual`, a host name") as err:
        prepare(board, None)
    assert problem in str(err.value)
    assert not (home / ".spynnaker.cfg").exists()


@pytest.mark.parametrize("board", ["virtual", "10.0.0.2", "spinn-4.example.org", "fe80::1"])
def test_host_names_and_ip_addresses_are_taken(home, board):
    assert prepare(board, None).startswith("wrote")


@pytest.mark.parametrize("url, problem", [
    ("https://spalloc.example/\n[Machine]\nvirtual_board = True", "holds a line break"),
    ("https://spalloc.example/100%", "no percent-escape"),
    ("https://spalloc example/", "holds a space"),
    ("ftp://spalloc.example/", "does not begin with http:// or https://"),
    ("spalloc.example", "does not begin with http:// or https://"),
    ("https://me:secret@spalloc.example:99999/", "Port out of range"),
    ("https://me:secret@spalloc_server/", "holds the character '_'"),
])
def test_a_spalloc_value_that_is_no_http_url_is_refused_without_its_credentials(
        home, url, problem):
    with pytest.raises(BackendError, match="give the http:// or https:// URL") as err:
        prepare(None, url)
    assert problem in str(err.value) and "secret" not in str(err.value)
    assert not (home / ".spynnaker.cfg").exists()


def test_credentials_are_kept_owner_only_and_never_printed(home):
    url = "https://me:s3cr%40t@spalloc.example:22244/"
    message = prepare(None, url)
    path = home / ".spynnaker.cfg"
    assert f"spalloc_server = {url}" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert "s3cr" not in message and "me:" not in message
    assert "https://***@spalloc.example:22244/" in message and "readable by you only" in message
    assert "using the spalloc server https://***@spalloc.example:22244/" in prepare(None, None)
    with pytest.raises(BackendError) as err:    # another machine: the file is named, masked
        prepare("virtual", None)
    assert "***@spalloc.example" in str(err.value) and "s3cr" not in str(err.value)
    (home / ".spynnaker.cfg").unlink()
    prepare("virtual", None)
    with pytest.raises(BackendError) as err:    # what was asked for is masked too
        prepare(None, url)
    assert "spalloc_server = https://***@spalloc.example:22244/" in str(err.value)
    assert "s3cr" not in str(err.value)


def test_a_config_without_credentials_keeps_the_usual_permissions(home):
    umask = os.umask(0o022)
    try:
        prepare(None, "https://spalloc.example/")
    finally:
        os.umask(umask)
    assert (home / ".spynnaker.cfg").stat().st_mode & 0o777 == 0o644


def test_a_percent_in_an_existing_config_is_read_as_spynnaker_reads_it(home):
    (home / ".spynnaker.cfg").write_text("[Machine]\nspalloc_server = https://a:b%zz@h/\n")
    assert prepare(None, None) == (f"using the spalloc server https://***@h/, as configured "
                                   f"in {home}/.spynnaker.cfg")


@pytest.mark.parametrize("option, value, shown", [
    ("--board", "10.0.0.2\n[Machine]", "'10.0.0.2\\n[Machine]'"),
    ("--spalloc", "https://me:secret@h:99999/", "'https://***@h:99999/'"),
])
def test_the_command_line_refuses_bad_machine_names_as_bad_input(home, capsys, option, value,
                                                                 shown):
    from spiking_mnist.runners.cli import EXIT_BAD_INPUT, main
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", str(home / "run"), "--backend", "spinnaker", option, value])
    assert exit_.value.code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"argument {option}: {shown}: give" in err and "secret" not in err
    assert not (home / ".spynnaker.cfg").exists()
