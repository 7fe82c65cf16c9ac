"""The sPyNNaker configuration writer: writes one when there is none, uses an agreeing one,
and never replaces a user's file."""
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
