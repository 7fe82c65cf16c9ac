"""Spiking networks for digit recognition written once in PyNN: train on NEST, deploy to
SpiNNaker, analyse Neo recordings.

The public entry points; everything else lives in the subpackages, in the order data flows:
:mod:`~spiking_mnist.inputs` (MNIST and Poisson encoding) -> :mod:`~spiking_mnist.models`
(what a network is, in PyNN) -> :mod:`~spiking_mnist.hardware` (how a backend runs it) ->
:mod:`~spiking_mnist.runners` (training and testing loops, the CLI) ->
:mod:`~spiking_mnist.rundir` (the files of a run) -> :mod:`~spiking_mnist.analysis`.

Examples
--------
>>> import spiking_mnist as sm
>>> params = sm.load_parameters(overrides=["network.n_excitatory=100"])  # doctest: +SKIP
>>> sm.train("runs/n100", params, examples=5000)                          # doctest: +SKIP
>>> sm.evaluate("runs/n100", examples=1000)["accuracy"]                   # doctest: +SKIP
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from spiking_mnist.hardware import BACKENDS, Backend, BackendError, open_backend
from spiking_mnist.inputs.mnist import DatasetError, Split
from spiking_mnist.models.diehl_cook import DiehlCookNetwork
from spiking_mnist.models.network import Network, NetworkModel, StandardSTDP, load_model
from spiking_mnist.models.parameters import ConfigError, Parameters
from spiking_mnist.rundir.checkpoint import Checkpoint, CheckpointError

__all__ = ["BACKENDS", "Backend", "BackendError", "Checkpoint", "CheckpointError",
           "ConfigError", "DatasetError", "DiehlCookNetwork", "Network", "NetworkModel",
           "Parameters", "Split", "StandardSTDP", "build_network", "deploy", "evaluate",
           "load_mnist", "load_model", "load_parameters", "load_pretrained", "open_backend",
           "read_run", "resume", "run_hierarchy", "show_digit", "train"]

def _model(model) -> NetworkModel:
    """A network module's file (``.py``) loaded, a :class:`NetworkModel` as it is, or
    D&C's network for None."""
    return model if isinstance(model, NetworkModel) else load_model(model)


def load_parameters(model: str = "diehl_cook", config: str | PathLike[str] | None = None,
                    overrides: Iterable[str] = ()) -> Parameters:
    """The parameters of a network: its defaults, a TOML file, then single overrides.

    Parameters
    ----------
    model : str or path-like
        ``"diehl_cook"`` (the winner-take-all network), ``"patches"`` (the hierarchy) or
        the ``.py`` file of a network module of your own (D&C's parameters and its own
        sections; see :func:`load_model`).
    config : str or path-like, optional
        A TOML file of plain values (``[excitatory]`` / ``tau_m = 120.0``), or the name of a
        shipped variant (``"spinnaker"``).
    overrides : iterable of str
        ``"section.name=value"`` strings, e.g. ``"network.n_excitatory=400"``.

    Returns
    -------
    Parameters
        Validated values; ``params.table()`` lists each with its unit and meaning.

    Raises
    ------
    ConfigError
        For an unknown name, a wrong type or an impossible value, saying which.
    """
    from spiking_mnist.models.parameters import load_parameters as load
    if str(model).endswith(".py"):
        own = load_model(model)
        return load(own.name, config, overrides, base=own.defaults())
    return load(model, config, overrides)


def load_mnist(split: str = "train", data_dir: str | PathLike[str] | None = None) -> Split:
    """The MNIST images and labels of ``split``.

    Parameters
    ----------
    split : {"train", "test"}
        The 60,000 training or the 10,000 test images.
    data_dir : str or path-like, optional
        A directory of the four MNIST IDX files; by default ``$SPIKING_MNIST_DATA``, the
        user cache, ``../shared/data/mnist``, else a checked download.

    Returns
    -------
    Split
        ``images`` (n, 28, 28) uint8 and ``labels`` (n,).

    Raises
    ------
    DatasetError
        If the files are missing, damaged or not MNIST, saying what to do.
    """
    from spiking_mnist.inputs import mnist
    return mnist.load(split, data_dir)


def build_network(sim, params: Parameters, weights: np.ndarray | None = None,
                  delays: np.ndarray | None = None, theta: np.ndarray | None = None,
                  seed: int | None = None, model: str | PathLike[str] | NetworkModel | None = None):
    """Build a frozen Diehl & Cook network (or ``model``'s) with a PyNN module, standard
    types only.

    Call ``sim.setup()`` first (on NEST with ``min_delay`` one time step, see
    :func:`show_digit`). The input weights are static, D&C's random initial ones unless
    ``weights`` are given (e.g. a trained checkpoint's), and are installed in PyNN units
    with ``Projection.set``, which ``pyNN.nest`` has and sPyNNaker does not
    (``NotImplementedError``): on SpiNNaker, the backend :func:`open_backend` gives
    builds the network from the same description with its weights given at creation
    (``examples/map_on_spinnaker.py``).

    Parameters
    ----------
    sim : module
        A PyNN backend module, e.g. ``pyNN.nest``.
    params : Parameters
        From :func:`load_parameters`.
    weights, delays : ndarray, optional
        Dimensionless input weights and delays (ms), shape (784, N); drawn from
        ``seed`` (default ``simulation.seed``) as at the start of training if not given.
    theta : ndarray, optional
        Each excitatory neuron's homeostatic threshold rise (mV), shape (N,); the
        initial ``theta.initial`` if not given.
    model : str, path-like or NetworkModel, optional
        A network module of your own (:func:`load_model`); D&C's network if None.

    Returns
    -------
    DiehlCookNetwork
        Its populations (``inputs``: a ``SpikeSourceArray`` per pixel, ``excitatory``,
        ``inhibitory``) and projections (``input_to_exc``, ``exc_to_inh``,
        ``inh_to_exc``); a network module's own object for ``model``.
    """
    from spiking_mnist.models import diehl_cook
    n_inputs = 784 if weights is None else weights.shape[0]
    rng = np.random.default_rng(params.simulation.seed if seed is None else seed)
    if weights is None:
        weights = diehl_cook.normalise_columns(
            diehl_cook.initial_weights(params, n_inputs, rng), params.normalisation.column_sum)
    if delays is None:
        delays = diehl_cook.input_delays(params, n_inputs, rng)
    unit = diehl_cook.synaptic_unit(params, "excitatory", "excitatory")
    network = _model(model).build(sim, params, n_inputs,
                                  sim.StaticSynapse(weight=0.0, delay=sim.get_time_step()))
    network.input_to_exc.set(weight=weights * unit, delay=delays)
    homeostasis = diehl_cook.Homeostasis(params, theta)
    network.excitatory.set(v_thresh=homeostasis.thresholds())
    return network


def show_digit(sim, network: DiehlCookNetwork, image: np.ndarray, params: Parameters,
               seed: int = 0) -> list[np.ndarray]:
    """Set the network's inputs to one Poisson showing of ``image`` from the current time.

    The inputs spike on the time grid in ``(now + dt, now + dt + encoding.presentation]``,
    ``dt`` the time step, as in the project's NEST backend. PyNN's NEST ``SpikeSourceArray``
    relays its spikes through a parrot neuron ``min_delay`` later and refuses a spike at or
    before ``now + min_delay``: on NEST, call ``sim.setup`` with ``min_delay`` = ``dt``.

    Parameters
    ----------
    sim : module
        The PyNN module the network was built with.
    network : DiehlCookNetwork
        From :func:`build_network`.
    image : ndarray
        One 28x28 uint8 image.
    params : Parameters
        Its ``[encoding]`` rates and duration.
    seed : int
        Seed of the Poisson spikes.

    Returns
    -------
    list of ndarray
        Per input, the spike times given (ms); run ``encoding.presentation`` ms after
        (the spikes of its last step fall into the next run).
    """
    from spiking_mnist.inputs import encoding
    enc = params.encoding
    dt = sim.get_time_step()
    start = sim.get_current_time() + dt
    rates = encoding.rates_hz(image, enc.rate_per_intensity, enc.initial_intensity)
    times = [start + t for t in encoding.poisson_spike_times(
        rates, enc.presentation, dt, np.random.default_rng(seed))]
    network.inputs.set(spike_times=times)
    return times


def train(run_dir: str | PathLike[str], params: Parameters | None = None,
          examples: int | None = None, backend: str = "nest",
          data_dir: str | PathLike[str] | None = None, progress: bool = True,
          overwrite: bool = False, digits: Sequence[int] | None = None,
          model: str | PathLike[str] | NetworkModel | None = None) -> Checkpoint:
    """Train a Diehl & Cook network (or ``model``) from scratch into ``run_dir``.

    Checkpoints are written every ``training.checkpoint_every`` examples; an interrupted
    run continues with :func:`resume`, bit for bit as if never stopped.

    Parameters
    ----------
    run_dir : str or path-like
        A new directory (or one holding a run, with ``overwrite``).
    params : Parameters, optional
        From :func:`load_parameters` (default: the D&C defaults).
    examples : int, optional
        Training examples (else ``training.examples``).
    backend : str
        ``"nest"`` or ``"spinnaker"``.
    data_dir : str or path-like, optional
        See :func:`load_mnist`.
    progress : bool
        Show a progress bar.
    overwrite : bool
        Replace the run already in ``run_dir``.
    digits : sequence of int, optional
        Train, label and test on these classes only.
    model : str, path-like or NetworkModel, optional
        A network module of your own (:func:`load_model`; ``params`` then from
        ``load_parameters(model_file)``); D&C's network if None. Its checkpoints name its
        file, and :func:`resume`, :func:`evaluate` and :func:`deploy` take the same.

    Returns
    -------
    Checkpoint
        The trained network: ``weights``, ``delays``, ``theta``, ``examples_seen``.

    Raises
    ------
    CheckpointError
        If ``run_dir`` already holds a run and ``overwrite`` is false, if ``overwrite``
        meets a directory holding other files than a run, or if another process writes
        into ``run_dir`` (one writer per run: the message names it).
    ConfigError, DatasetError, BackendError
        For bad parameters, data or backends, saying what to do.
    """
    from spiking_mnist.runners import train as training
    network = _model(model)
    params = network.defaults() if params is None else params
    if examples is not None:
        params = params.with_values({"training": {"examples": examples}}, "examples")
    return training.train(Path(run_dir), params, backend, data_dir, progress, digits,
                          overwrite, model=network)


def resume(run_dir: str | PathLike[str], examples: int | None = None, backend: str = "nest",
           data_dir: str | PathLike[str] | None = None, progress: bool = True,
           model: str | PathLike[str] | NetworkModel | None = None) -> Checkpoint:
    """Continue the run in ``run_dir`` from its last checkpoint.

    Parameters
    ----------
    run_dir : str or path-like
        A directory written by :func:`train`.
    examples : int, optional
        A larger total of training examples, to train further.
    backend, data_dir, progress, model
        As for :func:`train`: ``model`` the network module that made the run.

    Returns
    -------
    Checkpoint
        The network after the last example.

    Raises
    ------
    CheckpointError
        If ``run_dir`` holds no checkpoint or has seen ``examples`` already, or if another
        process writes into it.
    """
    from spiking_mnist.runners import train as training
    return training.resume(Path(run_dir), backend, data_dir, progress, examples,
                           model=_model(model))


def evaluate(run_dir: str | PathLike[str] | None = None, split: str = "test",
             examples: int | None = None, label_examples: int | None = None,
             backend: str = "nest", data_dir: str | PathLike[str] | None = None,
             progress: bool = True, pretrained: str | None = None,
             model: str | PathLike[str] | NetworkModel | None = None) -> dict:
    """Label the trained network's neurons on training images, then test it.

    Writes ``metrics.json`` (``metrics-validation.json``) and ``responses-<split>.npz`` into
    ``run_dir``.

    Parameters
    ----------
    run_dir : str or path-like
        A directory written by :func:`train`; with ``pretrained``, the new directory the
        network is copied into (default: a new one under ``~/.cache/spiking-mnist/runs``).
    pretrained : str, optional
        Test this pretrained network (see :func:`load_pretrained`) with the neuron labels
        it ships (no label phase unless ``label_examples`` is given).
    split : {"test", "validation"}
        The images tested.
    examples : int, optional
        How many of them (default ``evaluation.test_examples``: all 10,000 test images).
    label_examples : int, optional
        Training images the neurons are labelled on (default
        ``evaluation.label_examples``).
    backend, data_dir, progress, model
        As for :func:`train`: ``model`` the network module that made the run.

    Returns
    -------
    dict
        ``accuracy``, ``confusion`` (rows: true class), ``per_class_accuracy``,
        ``neurons_per_class``, timings and sizes.
    """
    if pretrained is not None:
        from spiking_mnist.runners import pretrained as shipped
        return shipped.evaluate(pretrained, None if run_dir is None else Path(run_dir), split,
                                examples, label_examples, backend, data_dir, progress)
    if run_dir is None:
        raise TypeError("evaluate() needs run_dir or pretrained")
    from spiking_mnist.runners import evaluate as evaluation
    return evaluation.evaluate(Path(run_dir), split, examples, label_examples, backend,
                               data_dir, progress, model=_model(model))


def load_pretrained(name: str, search: Iterable[str | PathLike[str]] = ()):
    """A pretrained network shipped with the package, every file checked against its
    sha256.

    Parameters
    ----------
    name : str
        E.g. ``"n400"``; ``spiking-mnist pretrained list`` lists them.
    search : iterable of path-like
        Directories of pretrained networks searched first (then ``$SPIKING_MNIST_PRETRAINED``,
        then the package's ``spiking_mnist/pretrained``).

    Returns
    -------
    Pretrained
        ``checkpoint`` (weights, delays, theta as float64, parameters), ``labels`` (each
        excitatory neuron's digit, -1 if it never fired), ``manifest`` (how it was trained,
        labelled and measured; ``accuracy``).

    Raises
    ------
    CheckpointError
        If the name is unknown (the message lists the known ones) or a file is damaged.
    """
    from spiking_mnist.rundir import pretrained
    return pretrained.load(name, search)


def deploy(run_dir: str | PathLike[str] | None = None, pretrained: str | None = None,
           board: str | None = "virtual", spalloc: str | None = None, board_version: int = 5,
           examples: int | None = None, data_dir: str | PathLike[str] | None = None,
           progress: bool = True, model: str | PathLike[str] | NetworkModel | None = None,
           twin: bool = False) -> dict:
    """Map a trained network, frozen, on SpiNNaker; on a real machine, test it too.

    The network is built from the same description with the board's time step (1 ms,
    delays in whole steps), static synapses, theta folded into the thresholds and the
    weights sPyNNaker's fixed point holds. Writes ``metrics-spinnaker.json`` into the run
    directory. A patch-hierarchy run (:func:`run_hierarchy`) maps its classifier: layer 1
    with the output cells (:mod:`spiking_mnist.runners.hierarchy_board`).

    Parameters
    ----------
    run_dir : str or path-like, optional
        A directory written by :func:`train`; with ``pretrained``, the new directory it is
        copied into (default: a new one under ``~/.cache/spiking-mnist/runs``).
    pretrained : str, optional
        A pretrained network (see :func:`load_pretrained`).
    board : str, optional
        ``"virtual"`` (map only), or a board's host name or IP address.
    spalloc : str, optional
        The http(s) URL of a spalloc server, instead of ``board``.
    board_version : {5, 3}
        SpiNN-5 (48 chips) or SpiNN-3 (4 chips).
    examples : int, optional
        Test images on a real machine (default all).
    model : str, path-like or NetworkModel, optional
        The network module that made the run (see :func:`train`).
    twin : bool
        A patch-hierarchy run only: also code its validation and test images on NEST with
        the weights the board holds and score that quantised twin's spiking readout.

    Returns
    -------
    dict
        ``resources`` (boards, chips, cores, SDRAM), ``quantisation`` (the held weights'
        errors), ``virtual``, and on a real machine ``metrics``; for a hierarchy run
        ``twin`` (per split and way of learning the output weights) instead of ``metrics``.

    Raises
    ------
    ConfigError
        ``twin`` for a D&C run; ``examples`` or ``model`` for a hierarchy run, or one whose
        output layer is not learnt yet.
    """
    from spiking_mnist.rundir.hierarchy import parameters_saved
    from spiking_mnist.runners import deploy as deployment
    if spalloc is not None and board == "virtual":
        board = None
    if pretrained is None and run_dir is not None and parameters_saved(Path(run_dir)):
        from spiking_mnist.runners import hierarchy_board
        if examples is not None or model is not None:
            raise ConfigError("examples and model are not for a patch-hierarchy run, whose "
                              "images and labels are the run's own")
        return hierarchy_board.deploy(Path(run_dir), board, spalloc, board_version, twin,
                                      data_dir, progress)
    if twin:
        raise ConfigError("twin goes with a patch-hierarchy run (run_hierarchy); for a D&C "
                          "run, `python benchmarks/deployment_cost.py` measures the board's "
                          "weights on NEST")
    return deployment.deploy(None if run_dir is None else Path(run_dir), pretrained, board,
                             spalloc, board_version, examples, None, data_dir, progress,
                             model=_model(model))


def read_run(run_dir: str | PathLike[str], allow_pickle: bool = False):
    """The files of a trained run, read without any simulator.

    Parameters
    ----------
    run_dir : str or path-like
        A directory written by :func:`train` (and :func:`evaluate`).
    allow_pickle : bool
        Read pickle recordings too (unpickling runs code named in the file: only for runs
        you trust); without it a run holding any is refused with CheckpointError.

    Returns
    -------
    RunFiles
        ``checkpoint``, ``metrics``, ``history`` and the Neo recordings of each phase.
    """
    from spiking_mnist.analysis.run_files import RunFiles
    return RunFiles(Path(run_dir), allow_pickle)


def run_hierarchy(run_dir: str | PathLike[str], params: Parameters | None = None,
                  backend: str = "nest", data_dir: str | PathLike[str] | None = None,
                  progress: bool = True, budget: float | None = None) -> dict:
    """Learn, code and read out the patch hierarchy layer by layer (resumes a stopped run).

    Parameters
    ----------
    run_dir : str or path-like
        The run's directory (created if new).
    params : Parameters, optional
        ``load_parameters("patches", ...)``; a started run keeps its own (only
        ``[readout]`` values may change).
    backend, data_dir, progress
        As for :func:`train` (the hierarchy learns on NEST).
    budget : float, optional
        Stop at the next checkpoint after this many seconds (run again to continue).

    Returns
    -------
    dict
        The ``metrics.json`` contents: label vote and linear readouts per split.
    """
    from spiking_mnist.rundir.hierarchy import parameters_of, parameters_saved
    from spiking_mnist.runners import hierarchy
    run_dir = Path(run_dir)
    if params is None:   # given ones are checked against the saved ones under the run's lock
        params = parameters_of(run_dir) if parameters_saved(run_dir) \
            else load_parameters("patches")
    return hierarchy.run(run_dir, params, backend, data_dir, progress, budget)
