"""The patch hierarchy's classifier as a SpiNNaker board holds it, and its twin on NEST.

The network that classifies is the frozen layer-1 copies with the spiking readout's hidden
and output cells (:mod:`~spiking_mnist.models.output_layer`). :func:`deploy` maps it on a
SpiNNaker machine under the SpiNNaker variant's constraints (``variants/spinnaker.toml``: a
1 ms time step, delays in whole steps) and reads back the weights the mapping holds: the layer-1
kernels, the lateral inhibition and the output and hidden cells' weights, each a 16-bit
multiple of a step sPyNNaker chooses per population and receptor (for the output and
hidden cells, from the largest input a step brings them), and their bias currents. On a
virtual board nothing runs; with ``twin`` the same network, with the held weights, codes
the run's validation and test images again on NEST (the run's own time step, so only the
weights differ), into ``board/``, and its spiking readout is scored beside the unquantised
one of ``output/``. Everything is written to ``RUN_DIR/metrics-spinnaker.json``.
"""
from __future__ import annotations

import logging
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spiking_mnist.hardware import configure_machine
from spiking_mnist.models import diehl_cook, output_layer, patches
from spiking_mnist.models.parameters import ConfigError, Parameters, variants
from spiking_mnist.models.readout import metrics_of
from spiking_mnist.rundir import checkpoint, files, lock
from spiking_mnist.rundir.hierarchy import (OUTPUT, images_of, load_codes, load_output,
                                          load_output_weights, parameters_of)
from spiking_mnist.runners.deploy import (SpinnakerSession, first_chunk, quantisation,
                                          whole_steps)
from spiking_mnist.runners.hierarchy import code_output, coding_inputs
from spiking_mnist.runners.session import open_network
from spiking_mnist.runners.train import StopOnInterrupt

log = logging.getLogger("spiking_mnist.hierarchy_board")

#: the directory of a run that holds the board twin's held weights and output counts
BOARD = "board"
#: what :func:`deploy` writes into the run directory
RESULTS = "metrics-spinnaker.json"
#: the splits the twin codes again (those the run coded with its output cells)
TWIN_SPLITS = ("validation", "test")


@dataclass(frozen=True)
class HeldWeights:
    """The classifier's weights as a board holds them, dimensionless as the run's:
    ``input_to_exc`` (inputs, copies x k), the lateral ``exc_to_inh`` and ``inh_to_exc``
    weights, and the output weights and biases of each way of learning them."""

    input_to_exc: np.ndarray
    exc_to_inh: float
    inh_to_exc: float
    outputs: dict[str, output_layer.OutputWeights]


def board_parameters(params: Parameters) -> tuple[Parameters, Parameters]:
    """(the layer-1 copies' D&C parameters, the hierarchy's parameters) as the board runs
    them: the SpiNNaker variant's values over the copies', its time step for both."""
    variant = variants()["spinnaker"]
    lp = patches.layer_parameters(params, 1, coding=True).with_values(
        tomllib.loads(variant.read_text()), variant.name)
    return lp, params.with_values({"simulation": {"timestep": lp.simulation.timestep}},
                                  variant.name)


def stored_outputs(run_dir: Path) -> dict[str, output_layer.OutputWeights]:
    """The output weights the run learnt (``output/weights-<method>.npz``); ConfigError if
    the run has not learnt them yet."""
    stored = load_output_weights(run_dir)
    missing = [m for m in output_layer.METHODS if m not in stored]
    if missing:
        raise ConfigError(f"{run_dir} has no output weights for {', '.join(missing)} yet: "
                          f"finish the run first with `spiking-mnist patches {run_dir}`")
    return {m: output_layer.OutputWeights.from_arrays(stored[m]) for m in output_layer.METHODS}


def _lateral(projection, unit: float) -> float:
    """The one weight (dimensionless) every synapse of a lateral ``projection`` holds."""
    held = np.abs([w for *_, w in projection.get("weight", format="list")]) / abs(unit)
    return float(np.median(held)) if held.size else 0.0


def map_classifier(run_dir: Path, params: Parameters, outputs: dict, machine: str
                   ) -> tuple[HeldWeights, dict]:
    """Map layer 1's frozen copies with the output cells of ``outputs`` on the configured
    SpiNNaker machine, showing the first test (else validation) images of one simulator
    run; returns the weights the mapping holds and the mapping's figures (resources,
    seconds, the output cells' largest input per step). The output cells' weight grid is
    sized by the largest input a step brought on the training images
    (:func:`~spiking_mnist.models.output_layer.largest_step_input`), which the ring
    buffer holds at least twice over. sPyNNaker's failures become ConfigError or BackendError
    naming ``machine``."""
    lp, board = board_parameters(params)
    ckpt = checkpoint.load(Path(run_dir) / "layer1")
    receptive = patches.receptive_inputs(params, 1)
    n_inputs = patches.layer_inputs(params, 1)
    masks = patches.coding_masks(receptive, n_inputs, ckpt.theta.size, lp.network.inhibitory)
    split = "test" if params.readout.test_examples > 0 else "validation"
    images = images_of(params, split)
    shown = coding_inputs(run_dir, params, 1, split, images,
                          slice(0, min(lp.evaluation.showings_per_run, len(images))))
    step_input = output_layer.largest_step_input(load_codes(run_dir, 1, "train")[0], outputs,
                                                 board)
    began = time.perf_counter()
    with SpinnakerSession(machine) as session:
        session.backend, _ = open_network(
            lp, "spinnaker", patches.copied(ckpt.weights, receptive, n_inputs),
            whole_steps(patches.copied(ckpt.delays, receptive, n_inputs),
                        lp.simulation.timestep),
            np.tile(ckpt.theta, len(receptive)), plastic=False, masks=masks,
            extend=lambda sim, net: output_layer.build(sim, board, net, outputs, step_input))
        backend = session.backend
        backend.set_input_spikes(first_chunk(lp, shown.reshape(len(shown), -1)))
        backend.run(len(shown) * (lp.encoding.presentation + lp.encoding.rest))
        mapped = backend.mapped_network
        held = HeldWeights(
            backend.held_weights(),
            _lateral(mapped.exc_to_inh, diehl_cook.synaptic_unit(lp, "inhibitory",
                                                                   "excitatory")),
            _lateral(mapped.inh_to_exc, diehl_cook.synaptic_unit(lp, "excitatory",
                                                                   "inhibitory")),
            held_outputs(mapped, outputs, board, patches.code_size(params, 1)))
        figures = {"virtual": backend.virtual, "resources": backend.resources.as_dict(),
                   "step_input_thresholds": {
                       population: {r: v / output_layer.synaptic_current(board)
                                    for r, v in by_receptor.items()}
                       for population, by_receptor in step_input.items()},
                   "mapping_seconds": backend.mapping_seconds,
                   "build_and_map_seconds": time.perf_counter() - began}
    return held, figures


def _held_signed(projections: dict, shape: tuple[int, int], unit: float) -> np.ndarray:
    """The signed dimensionless weights (pre, post) the ``excitatory`` and ``inhibitory``
    projections of ``projections`` hold (missing ones hold none)."""
    signed = np.zeros(shape)
    for receptor, sign in (("excitatory", 1.0), ("inhibitory", -1.0)):
        if projections.get(receptor) is not None:
            for i, j, w in projections[receptor].get("weight", format="list"):
                signed[int(i), int(j)] += sign * abs(w)
    return signed / unit


def held_outputs(mapped, outputs: dict, board: Parameters, coded: int
                 ) -> dict[str, output_layer.OutputWeights]:
    """The output weights and biases of each method, hidden cells' included, as the
    ``mapped`` network (:class:`~spiking_mnist.models.output_layer.NetworkWithOutput`)
    holds them; ``coded``: the coding neurons."""
    unit, bias_unit = output_layer.synaptic_current(board), output_layer.bias_current(board, 1.0)
    n = output_layer.N_CLASSES
    direct = _held_signed({r: getattr(mapped, f"exc_to_output_{r}")
                           for r in ("excitatory", "inhibitory")},
                          (coded, mapped.output.size), unit)
    bias = np.asarray(mapped.output.get("i_offset"), dtype=float) / bias_unit
    if mapped.hidden is not None:
        to_hidden = _held_signed({r: getattr(mapped, f"exc_to_hidden_{r}")
                                  for r in ("excitatory", "inhibitory")},
                                 (coded, mapped.hidden.size), unit)
        from_hidden = _held_signed({r: getattr(mapped, f"hidden_to_output_{r}")
                                    for r in ("excitatory", "inhibitory")},
                                   (mapped.hidden.size, mapped.output.size), unit)
        hidden_bias = np.asarray(mapped.hidden.get("i_offset"), dtype=float) / bias_unit
    held, first_hidden = {}, 0
    for k, m in enumerate(output_layer.METHODS):
        cells = slice(k * n, (k + 1) * n)
        hidden = outputs[m].hidden
        if hidden is None:
            held[m] = output_layer.OutputWeights(direct[:, cells], bias[cells])
            continue
        own = slice(first_hidden, first_hidden + len(hidden.bias))
        first_hidden = own.stop
        held[m] = output_layer.OutputWeights(
            from_hidden[own, cells], bias[cells],
            output_layer.OutputWeights(to_hidden[:, own], hidden_bias[own]))
    return held


def held_quantisation(run_dir: Path, params: Parameters, outputs: dict,
                      held: HeldWeights) -> dict:
    """How far the held weights are from the trained ones (see
    :func:`~spiking_mnist.runners.deploy.quantisation`): layer 1's connected pairs, the
    lateral weights, each way's output weights and biases."""
    ckpt = checkpoint.load(Path(run_dir) / "layer1")
    receptive = patches.receptive_inputs(params, 1)
    n_inputs = patches.layer_inputs(params, 1)
    trained = patches.copied(ckpt.weights, receptive, n_inputs)
    connected = patches.coding_masks(receptive, n_inputs, ckpt.theta.size,
                                     params.layer1.code_inhibitory)["input_to_exc"]
    lp = patches.layer_parameters(params, 1, coding=True)
    out = {"layer1": quantisation(trained[connected], held.input_to_exc[connected]),
           "exc_to_inh": {"trained": lp.exc_to_inh.weight, "held": held.exc_to_inh},
           "inh_to_exc": {"trained": lp.inh_to_exc.weight, "held": held.inh_to_exc}}
    for m in output_layer.METHODS:
        pairs = [(f"output_{m}", outputs[m], held.outputs[m])]
        if outputs[m].hidden is not None:
            pairs.append((f"hidden_cells_{m}", outputs[m].hidden, held.outputs[m].hidden))
        for name, trained_w, held_w in pairs:
            w, h = trained_w.weights, held_w.weights
            error = np.abs(h - w)
            out[name] = {"max_abs": float(error.max()), "mean_abs": float(error.mean()),
                         "largest": float(np.abs(w).max()),
                         "zeroed": int(((w != 0) & (h == 0)).sum()),
                         "bias_max_abs": float(np.abs(held_w.bias - trained_w.bias).max())}
    return out


def twin_lp(params: Parameters, held: HeldWeights) -> Parameters:
    """The layer-1 copies' parameters on NEST with the lateral weights the board holds."""
    return patches.layer_parameters(params, 1, coding=True).with_values(
        {"exc_to_inh": {"weight": held.exc_to_inh}, "inh_to_exc": {"weight": held.inh_to_exc}},
        "the board's lateral weights")


def score_twin(run_dir: Path, split: str) -> dict:
    """The spiking readout of the board twin (``board/``) and of the unquantised network
    (``output/``) on the images of ``split`` both coded, per way of learning the weights."""
    twin, trained = load_output(run_dir, split, BOARD), load_output(run_dir, split, OUTPUT)
    n_images = min(len(twin["labels"]), len(trained["labels"]))
    labels = twin["labels"][:n_images]
    out = {"images": n_images, "same_code": float(twin["same_code"][:n_images].mean())
           if n_images else 0.0}
    n = output_layer.N_CLASSES
    for k, m in enumerate(output_layer.METHODS):
        held = output_layer.predict(twin["counts"][:n_images, k * n:(k + 1) * n])
        exact = output_layer.predict(trained["counts"][:n_images, k * n:(k + 1) * n])
        out[m] = {"twin": metrics_of(labels, held), "trained_accuracy":
                  float((exact == labels).mean()) if n_images else 0.0,
                  "agreement": float((held == exact).mean()) if n_images else 0.0}
    return out


def keep_held(run_dir: Path, held: HeldWeights) -> None:
    """Write ``held`` to ``board/held.npz``; the twin's coded parts of other held weights
    (the output layer learnt again since) are removed, those of the same are kept (a twin
    stopped part way resumes)."""
    board = Path(run_dir) / BOARD
    board.mkdir(exist_ok=True)
    arrays = {"input_to_exc": held.input_to_exc,
              "lateral": np.array([held.exc_to_inh, held.inh_to_exc]),
              **{f"{m}_{name}": array for m in output_layer.METHODS
                 for name, array in held.outputs[m].arrays().items()}}
    try:
        with np.load(board / "held.npz") as before:
            same = set(before.files) == set(arrays) and all(
                np.array_equal(before[k], v) for k, v in arrays.items())
    except (OSError, ValueError):
        same = False
    if not same:
        for part in board.glob("*-*.npz"):
            part.unlink()
        files.write_npz(board / "held.npz", **arrays)


def deploy(run_dir: Path, board: str | None = None, spalloc: str | None = None,
           board_version: int = 5, twin: bool = False, data_dir=None,
           progress: bool = True) -> dict:
    """Map the classifier of the hierarchy run in ``run_dir`` on a SpiNNaker machine (see the
    module) and, with ``twin``, score the board's weights on NEST; returns what it writes to
    ``RUN_DIR/metrics-spinnaker.json``. On a real machine only the mapping is done: the
    network is mapped but its test images are not run on the board."""
    from spiking_mnist.hardware.spinnaker_config import requested
    run_dir = Path(run_dir)
    with lock.writer(run_dir):
        params = parameters_of(run_dir)
        outputs = stored_outputs(run_dir)
        uncoded = [s for s in TWIN_SPLITS if twin and load_codes(run_dir, 1, s)[1].size
                   and not load_output(run_dir, s)["labels"].size]
        if uncoded:
            raise ConfigError(f"{run_dir} has not coded its {' and '.join(uncoded)} images "
                              "with its output cells yet (the output layer was learnt "
                              "again?), so the twin has nothing to compare with: finish "
                              f"the run first with `spiking-mnist patches {run_dir}`")
        setup = configure_machine("spinnaker", board, spalloc, board_version)
        machine = requested(board, spalloc, board_version)
        machine_name = str(machine) if machine is not None else \
            "the configured SpiNNaker machine"
        held, figures = map_classifier(run_dir, params, outputs, machine_name)
        keep_held(run_dir, held)
        result = {"machine": machine_name, "setup": setup, **figures,
                  "quantisation": held_quantisation(run_dir, params, outputs, held),
                  "synapses": {"layer1": patches.synapse_counts(params)["layer1"],
                               "output": output_layer.synapse_count(outputs)},
                  "twin": None}
        if twin:
            result["twin"] = _run_twin(run_dir, params, held, data_dir, progress)
        files.write_json(run_dir / RESULTS, result)
    result["run_dir"] = str(run_dir)
    return result


def _run_twin(run_dir: Path, params: Parameters, held: HeldWeights, data_dir,
              progress: bool) -> dict:
    """Code the run's validation and test images with the held weights on NEST
    (``board/``, resumable part by part) and score them; seconds per split."""
    out = {}
    lp = twin_lp(params, held)
    with StopOnInterrupt("part") as stop:
        for split in TWIN_SPLITS:
            if not load_codes(run_dir, 1, split)[1].size:
                continue
            began = time.perf_counter()
            code_output(run_dir, params, split, held.outputs, "nest", data_dir, progress,
                        float("inf"), stop, into=BOARD, weights=held.input_to_exc, lp=lp)
            out[split] = score_twin(run_dir, split) | {
                "seconds": round(time.perf_counter() - began, 1)}
    return out


def report(result: dict) -> str:
    """What :func:`deploy` did, in a few lines."""
    r, q = result["resources"], result["quantisation"]
    lines = [f"machine: {result['machine']}",
             f"layer 1 with the output cells mapped in {result['mapping_seconds']:.1f} s: "
             f"{r['boards']} board(s), {r['chips']} chip(s), {r['cores']} cores "
             f"(+{r['system_cores']} sPyNNaker system cores), "
             f"{r['sdram_bytes'] / 2 ** 20:.1f} MiB SDRAM",
             f"layer 1 held to {100 * q['layer1']['max_abs_of_largest']:.3g} % of its largest "
             f"weight; output weights to "
             + ", ".join(f"{q[f'output_{m}']['max_abs']:.3g} ({m})"
                         for m in output_layer.METHODS)
             + "".join(f", hidden cells {q[key]['max_abs']:.3g} ({key[len('hidden_cells_'):]})"
                       for key in q if key.startswith("hidden_cells_"))
             + " thresholds per spike"]
    for split, s in (result["twin"] or {}).items():
        lines.append(f"board twin on NEST, {s['images']} {split} images: " + "; ".join(
            f"{m} {100 * s[m]['twin']['accuracy']:.2f} % (unquantised "
            f"{100 * s[m]['trained_accuracy']:.2f} %)" for m in output_layer.METHODS))
    return "\n".join(lines)
