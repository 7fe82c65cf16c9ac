"""Deploying a trained network on SpiNNaker: frozen, at the board's time step, with the
weights the board holds.

The network of a run (or of a pretrained network) is built from the same ``models/``
description by the SpiNNaker backend, with what the board imposes on a trained network:

- no plasticity (static input synapses) and theta folded into each excitatory neuron's
  threshold (``v_thresh + theta - theta.offset``);
- the board's time step, ``simulation.timestep`` of the SpiNNaker variant (1 ms): every
  delay rounded to whole steps (:func:`board_delays`; at least one step), the re-show cap
  lowered to the fastest input one spike per step allows (:func:`board_parameters`);
- the weights as sPyNNaker holds them: it multiplies a conductance (uS) by
  :data:`~spiking_mnist.hardware.spinnaker.CONDUCTANCE_SCALE` and keeps it as a 16-bit
  number that the ring buffer shifts into an S16.15 value, the shift chosen per population
  for the largest summed input it expects, so a weight is a whole multiple of
  ``2 ** (shift - 15) / 1024`` uS (:func:`held_weights`). The weights mapped are read back
  from the mapping and compared with the trained ones (:func:`quantisation`).

On a virtual board the network is mapped and nothing runs; on a real machine the test set
runs and its metrics are written. :mod:`benchmarks.deployment_cost` (``benchmarks/``)
measures what the board's weights and time step cost in accuracy, on NEST.
"""
from __future__ import annotations

import contextlib
import logging
import time
import tomllib
from pathlib import Path
from typing import Iterable

import numpy as np

from spiking_mnist.hardware import BackendError, backend_class, configure_machine
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.network import DIEHL_COOK, NetworkModel
from spiking_mnist.models.parameters import ConfigError, Parameters, variants
from spiking_mnist.rundir import files, lock, pretrained
from spiking_mnist.rundir.checkpoint import Checkpoint
from spiking_mnist.runners import pretrained as shipped
from spiking_mnist.runners.session import open_network

log = logging.getLogger("spiking_mnist.deploy")

#: what ``deploy`` writes into the run directory
RESULTS = "metrics-spinnaker.json"
#: the backend that labels and tests the network on a real machine
BOARD_BACKEND = "spinnaker"
#: weights below this fraction of the largest are left out of the relative errors
RELATIVE_FLOOR = 0.01


def board_timestep() -> float:
    """The board's time step (ms): that of the SpiNNaker variant (``variants/spinnaker.toml``)."""
    return float(tomllib.loads(variants()["spinnaker"].read_text())["simulation"]["timestep"])


def whole_steps(delay: float | np.ndarray, dt: float) -> float | np.ndarray:
    """``delay`` (ms) rounded to whole steps of ``dt`` (halves to even), at least one."""
    return np.maximum(np.rint(np.asarray(delay) / dt), 1.0) * dt


def board_parameters(params: Parameters, dt: float | None = None) -> Parameters:
    """The parameters of the frozen network as the board runs it: time step ``dt`` (default
    :func:`board_timestep`), lateral delays in whole steps, theta on the host (folded into
    the thresholds), the re-show cap at most one input spike per step."""
    dt = board_timestep() if dt is None else dt
    enc = params.encoding
    values = {"simulation": {"timestep": dt},
              "exc_to_inh": {"delay": float(whole_steps(params.exc_to_inh.delay, dt))},
              "inh_to_exc": {"delay": float(whole_steps(params.inh_to_exc.delay, dt))},
              "theta": {"kept": "host"},
              "encoding": {"max_intensity": int(min(
                  enc.max_intensity, diehl_cook.highest_intensity(enc.rate_per_intensity, dt)))}}
    if "rule" in params.values()["stdp"]:
        # frozen: no STDP runs; the SpiNNaker backend checks the rule of its learning network
        values["stdp"] = {"rule": "triplet_all_to_all"}
    for name in ("presentation", "rest"):
        duration = getattr(enc, name)
        if abs(duration / dt - round(duration / dt)) > 1e-9:
            raise ConfigError(f"encoding.{name} = {duration} ms is not a whole number of the "
                              f"board's {dt} ms steps; this network cannot run on the board")
    board = params.with_values(values, "the board")
    diehl_cook.validate(board)
    return board


def board_delays(delays: np.ndarray, dt: float | None = None) -> np.ndarray:
    """Input delays (ms) in whole board steps (see :func:`whole_steps`)."""
    return whole_steps(delays, board_timestep() if dt is None else dt)


def held_weights(weights: np.ndarray, nS_per_unit: float, shift: int) -> np.ndarray:
    """Dimensionless ``weights`` as sPyNNaker holds them on a core whose ring buffer shifts
    by ``shift``: 16-bit multiples of ``2 ** (shift - 15) / CONDUCTANCE_SCALE`` uS."""
    from spiking_mnist.hardware.spinnaker import CONDUCTANCE_SCALE
    scale = CONDUCTANCE_SCALE * 2.0 ** (15 - shift)     # sPyNNaker's weight scale
    units = np.clip(np.rint(weights * nS_per_unit * 1e-3 * scale), 0, 0xFFFF)
    return units / scale / (nS_per_unit * 1e-3)


def quantisation(trained: np.ndarray, held: np.ndarray) -> dict:
    """How far the ``held`` weights are from the ``trained`` ones: absolute errors
    (dimensionless, and as a fraction of the largest weight) and relative errors of the
    weights at least :data:`RELATIVE_FLOOR` of the largest."""
    error = np.abs(held - trained)
    largest = float(trained.max())
    kept = trained >= RELATIVE_FLOOR * largest
    relative = error[kept] / trained[kept]
    return {"max_abs": float(error.max()), "mean_abs": float(error.mean()),
            "max_abs_of_largest": float(error.max() / largest) if largest > 0 else 0.0,
            "max_rel": float(relative.max()) if relative.size else 0.0,
            "mean_rel": float(relative.mean()) if relative.size else 0.0,
            "relative_of": int(kept.sum()), "weights": int(trained.size),
            "zeroed": int(((trained > 0) & (held == 0)).sum()),
            "largest": largest}


def describe_quantisation(q: dict) -> str:
    """:func:`quantisation`'s figures in a sentence."""
    return (f"weight quantisation: max abs error {q['max_abs']:.3g} "
            f"({100 * q['max_abs_of_largest']:.3g} % of the largest weight "
            f"{q['largest']:.3g}), mean abs {q['mean_abs']:.3g}; "
            f"relative error max {100 * q['max_rel']:.3g} %, mean {100 * q['mean_rel']:.3g} % "
            f"(the {q['relative_of']:,} of {q['weights']:,} weights at least "
            f"{100 * RELATIVE_FLOOR:g} % of the largest); {q['zeroed']:,} weights became 0")


def first_chunk(params: Parameters, images: np.ndarray, stream: str = "test") -> list[np.ndarray]:
    """The first showings of ``images`` (flattened) as one schedule, as the test phase shows
    its first simulator run (``evaluation.showings_per_run`` of them)."""
    from spiking_mnist.inputs.encoding import (poisson_spike_times, rates_hz,
                                               schedule_spike_times, spike_rng)
    enc, dt = params.encoding, params.simulation.timestep
    showings = [poisson_spike_times(rates_hz(image, enc.rate_per_intensity,
                                             enc.initial_intensity),
                                    enc.presentation, dt,
                                    spike_rng(params.simulation.seed, stream, k, 0))
                for k, image in enumerate(images)]
    return schedule_spike_times(showings, enc.presentation + enc.rest)


#: chips of one board, by board version (SpiNN-3, SpiNN-5)
CHIPS = {3: 4, 5: 48}
#: cores of a chip a network can be placed on: 18, less the one SCAMP runs on
CORES_PER_CHIP = 17


def application_cores(version: int) -> int:
    """The cores one board of ``version`` leaves for a network: those of its chips, less
    the extra monitor sPyNNaker places on every chip and its data gatherer (one a board)."""
    return CHIPS[version] * (CORES_PER_CHIP - 1) - 1


def least_cores(params: Parameters) -> dict[str, int]:
    """The fewest cores the frozen network can take, per population: at most
    :data:`~spiking_mnist.hardware.spinnaker.NEURONS_PER_CORE` neurons of a population on
    one core, and at least one core for the inputs (sPyNNaker may need more, never fewer)."""
    from spiking_mnist.hardware.spinnaker import NEURONS_PER_CORE
    n = params.network.n_excitatory
    n_inh = n if params.network.inhibitory == "paired" else 1
    return {"excitatory": -(-n // NEURONS_PER_CORE["excitatory"]),
            "inhibitory": -(-n_inh // NEURONS_PER_CORE["inhibitory"]), "inputs": 1}


def largest_fitting(params: Parameters, cores: int) -> int:
    """The most excitatory neurons whose :func:`least_cores` fit in ``cores``."""
    from spiking_mnist.hardware.spinnaker import NEURONS_PER_CORE
    per_core = NEURONS_PER_CORE["excitatory"]
    left = cores - 1                                      # the inputs
    pairs = left // 2 if params.network.inhibitory == "paired" else left - 1
    return max(pairs, 0) * per_core


def check_fits(params: Parameters, version: int) -> None:
    """ConfigError if the frozen network of ``params`` cannot fit on one board of
    ``version`` by its cores alone (before anything is built), saying what would fit."""
    needed, available = least_cores(params), application_cores(version)
    if sum(needed.values()) <= available:
        return
    n = params.network.n_excitatory
    other = {3: 5, 5: 3}[version]
    raise ConfigError(
        f"the network of {n:,} excitatory neurons does not fit on a SpiNN-{version} board: "
        f"it needs at least {sum(needed.values())} cores ({needed['excitatory']} excitatory "
        f"and {needed['inhibitory']} inhibitory ones of at most 200 neurons, 1 for the "
        f"inputs), and the board's {CHIPS[version]} chips leave {available} for a network. "
        f"At most N={largest_fitting(params, available):,} fits on its cores; "
        + (f"a SpiNN-5 board (--board-version 5, {CHIPS[other]} chips, "
           f"{application_cores(other)} cores) has cores enough for it, or "
           if version == 3 else "")
        + "use a larger machine (--spalloc URL)")


def _machine_error(err: BaseException, machine: str) -> Exception:
    """The error to show for sPyNNaker's failure ``err`` while mapping on ``machine``."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    package = type(err).__module__.split(".")[0]
    log.debug("sPyNNaker: %s: %s", type(err).__name__, text)   # it logs its own errors
    if type(err).__name__ in ("PacmanPlaceException", "PacmanTooBigToPlace"):
        return ConfigError(f"the network does not fit on {machine} ({text}); use a larger "
                           "machine (--spalloc URL) or deploy a smaller network")
    if package == "spinnman" or isinstance(err, OSError):
        return BackendError(
            f"could not reach {machine}: sPyNNaker could neither talk to it nor boot it. "
            "Check that it is powered and cabled, that this computer reaches it (ping it), "
            "that --board names it (or --spalloc its server), or map without a board: "
            "--board virtual")
    return BackendError(f"sPyNNaker could not map the network on {machine} "
                        f"({type(err).__name__}: {text})")


def deploy(run_dir: Path | None = None, name: str | None = None, board: str | None = None,
           spalloc: str | None = None, board_version: int = 5, examples: int | None = None,
           label_examples: int | None = None, data_dir=None, progress: bool = True,
           search: Iterable[str] = (), model: NetworkModel = DIEHL_COOK) -> dict:
    """Map the frozen network of ``run_dir`` (or of pretrained network ``name``, copied into
    ``run_dir`` or a new directory under the user's cache) on a SpiNNaker machine
    (``board``: ``"virtual"``, a host name or IP address; or ``spalloc``: a server's URL)
    and, on a real machine, test it.

    Returns what it wrote into ``RUN_DIR/metrics-spinnaker.json``: the machine, the
    resources of the mapping, the weight quantisation error and, on a real machine, the
    metrics ``evaluate`` writes. ``model`` is the network that made the run (refused if
    another).
    """
    if name is not None:
        network = pretrained.load(name, search)
        run_dir = Path(run_dir) if run_dir is not None else shipped.default_run_dir(name)
    else:
        if run_dir is None:
            raise ConfigError("give a run directory or --pretrained NAME")
        network = None
        run_dir = Path(run_dir)
    backend_class("spinnaker")   # sPyNNaker installed, or BackendError saying how
    # refused before a machine is configured: no trained network, or one too large
    ckpt = network.checkpoint if network is not None else shipped.trained_checkpoint(run_dir)
    params, _ = board_twin(ckpt, model)
    if spalloc is None:
        check_fits(params, board_version)
    setup = configure_machine("spinnaker", board, spalloc, board_version)
    with lock.writer(run_dir, create=network is not None):
        ckpt = pretrained.copy_to_run(network, run_dir) if network is not None \
            else shipped.trained_checkpoint(run_dir)
        return _deploy(run_dir, ckpt, network, setup, board, spalloc, board_version,
                       examples, label_examples, data_dir, progress, model)


def board_twin(ckpt: Checkpoint, model: NetworkModel = DIEHL_COOK
               ) -> tuple[Parameters, Checkpoint]:
    """The parameters and state of the frozen network of ``ckpt`` (made by ``model``) as
    the board runs it (:func:`board_parameters`, :func:`board_delays`; weights and theta
    as trained)."""
    params = board_parameters(shipped.parameters_of(ckpt, model=model))
    delays = board_delays(ckpt.delays, params.simulation.timestep)
    return params, Checkpoint(ckpt.model, params.values(), ckpt.weights, delays, ckpt.theta,
                              ckpt.examples_seen, ckpt.backend, ckpt.info)


SPINNAKER_PACKAGES = ("pacman", "spinnman", "spinn_machine", "spinn_front_end_common",
                      "spynnaker", "spinn_utilities")


def _from_spinnaker(err: BaseException) -> bool:
    return type(err).__module__.split(".")[0] in SPINNAKER_PACKAGES or isinstance(err, OSError)


class SpinnakerSession:
    """The context of one mapping: on leaving it ends the backend put in :attr:`backend`
    and turns sPyNNaker's failures into ConfigError (the network does not fit the machine)
    or BackendError (the machine cannot be reached or used), naming ``machine``."""

    def __init__(self, machine: str):
        self.machine = machine
        self.backend = None

    def __enter__(self) -> "SpinnakerSession":
        return self

    def __exit__(self, kind, err, traceback) -> bool:
        backend, self.backend = self.backend, None
        if err is None:
            if backend is not None:
                backend.end()
            return False
        if backend is not None:
            with contextlib.suppress(Exception):   # what is left of a failed session
                backend.end()
        if isinstance(err, Exception) and _from_spinnaker(err):
            raise _machine_error(err, self.machine) from None
        return False


def map_frozen(params: Parameters, frozen: Checkpoint, images: np.ndarray,
               machine: str = "the configured SpiNNaker machine",
               model: NetworkModel = DIEHL_COOK) -> dict:
    """Build the frozen network (``params``, ``frozen``'s state) with the SpiNNaker backend
    and map it with the first simulator run of the test phase on ``images`` (flattened):
    on a real machine that run executes. Returns the resources, the weights the mapping holds
    and their grid. sPyNNaker's failures become ConfigError or BackendError naming
    ``machine`` (:class:`SpinnakerSession`)."""
    began = time.perf_counter()
    with SpinnakerSession(machine) as session:
        session.backend, _ = open_network(params, "spinnaker", frozen.weights, frozen.delays,
                                          frozen.theta, plastic=False, model=model)
        backend = session.backend
        shown = images[:params.evaluation.showings_per_run]
        backend.set_input_spikes(first_chunk(params, shown))
        backend.run(len(shown) * (params.encoding.presentation + params.encoding.rest))
        return {"held": backend.held_weights(), "steps": backend.weight_steps(),
                "virtual": backend.virtual, "resources": backend.resources,
                "mapping_seconds": backend.mapping_seconds,
                "build_and_map_seconds": time.perf_counter() - began}


def _deploy(run_dir: Path, ckpt: Checkpoint, network, setup: str, board, spalloc,
            board_version: int, examples, label_examples, data_dir, progress: bool,
            model: NetworkModel = DIEHL_COOK) -> dict:
    from spiking_mnist.hardware.spinnaker_config import requested
    trained = shipped.parameters_of(ckpt, model=model)
    params, frozen = board_twin(ckpt, model)
    dt = params.simulation.timestep
    digits = ckpt.info.get("digits")
    n = params.network.n_excitatory
    n_test = examples or params.evaluation.test_examples
    target = shipped.tested_split(params, "test", n_test, digits, data_dir)
    ckpt.check_inputs(target.images.shape[1:], "the test split")
    machine = requested(board, spalloc, board_version)
    machine_name = str(machine) if machine is not None else "the configured SpiNNaker machine"
    mapped = map_frozen(params, frozen, target.images.reshape(len(target), -1), machine_name,
                        model)
    held, virtual = mapped["held"], mapped["virtual"]
    q = quantisation(ckpt.weights, held)
    result = {
        "machine": machine_name, "virtual": virtual, "setup": setup,
        "pretrained": None if network is None else network.name,
        "n_excitatory": n, "examples_trained": ckpt.examples_seen,
        "resources": mapped["resources"].as_dict(),
        "mapping_seconds": mapped["mapping_seconds"],
        "build_and_map_seconds": mapped["build_and_map_seconds"],
        "timestep": dt, "trained_timestep": trained.simulation.timestep,
        "delays_changed": int((np.abs(frozen.delays - ckpt.delays) > 1e-9).sum()),
        "lateral_delays": [params.exc_to_inh.delay, params.inh_to_exc.delay],
        "max_intensity": params.encoding.max_intensity,
        "unit_conductance": params.network.unit_conductance,
        "weight_steps_nS": mapped["steps"], "quantisation": q, "metrics": None,
    }
    if not virtual:
        if network is not None and label_examples is None:
            labels = network.labels
            result["labels"] = f"shipped with the pretrained network {network.name}"
        else:
            n_label = label_examples or params.evaluation.label_examples
            labelling = shipped.labelling_split(params, n_label, digits, data_dir)
            labels = shipped.label(params, BOARD_BACKEND, frozen, labelling, progress, model)
            result["labels"] = f"labelled on the board on {len(labelling)} training images"
        metrics, counts = shipped.test(params, BOARD_BACKEND, frozen, target, "test", labels,
                                       progress, model)
        result["metrics"] = metrics
        shipped.write_results(run_dir, RESULTS, result, counts, target, labels, "spinnaker")
    else:
        files.write_json(run_dir / RESULTS, result)
    result["run_dir"] = str(run_dir)
    return result


def report(result: dict) -> str:
    """What ``deploy`` did, for the user: the machine, the network, what it takes, the
    weights' quantisation error."""
    r, q = result["resources"], result["quantisation"]
    steps = result["weight_steps_nS"].get("excitatory", {}).get("excitatory")
    return "\n".join([
        f"machine: {result['machine']}",
        f"network: N={result['n_excitatory']}"
        + (f" (pretrained {result['pretrained']})" if result["pretrained"] else "")
        + f", {result['examples_trained']:,} training examples; frozen (static synapses, "
        f"theta folded into the thresholds) at the board's {result['timestep']} ms step "
        f"(trained at {result['trained_timestep']} ms): {result['delays_changed']:,} input "
        f"delays rounded to whole steps, lateral delays {result['lateral_delays'][0]} and "
        f"{result['lateral_delays'][1]} ms",
        f"mapped in {result['mapping_seconds']:.1f} s ({result['build_and_map_seconds']:.1f} s "
        f"with the build): {r['boards']} board(s), {r['chips']} chip(s), {r['cores']} cores "
        f"(+{r['system_cores']} sPyNNaker system cores), "
        f"{r['sdram_bytes'] / 2**20:.1f} MiB SDRAM; the machine has {r['machine_boards']} "
        f"board(s), {r['machine_chips']} chips",
        (f"input weights held as 16-bit multiples of {steps:.3g} nS "
         f"({steps / result['unit_conductance']:.3g} weight units)" if steps else
         "input weights held in sPyNNaker's 16-bit fixed point"),
        describe_quantisation(q)])
