"""The SpiNNaker profile on sPyNNaker's virtual board: the SpiNNaker variant of the network
maps at N=100 and N=400 with its state and a whole chunk of input, so do the frozen layers
of the patch hierarchy, the preflight refuses pairs without binaries, and a virtual board
gives no made-up spikes."""
import math
import tomllib

import numpy as np
import pytest

pytest.importorskip("spynnaker", reason="sPyNNaker is not installed (pip install '.[spinnaker]')")

from spiking_mnist.hardware import BackendError, configure_machine  # noqa: E402
from spiking_mnist.hardware import spinnaker_binaries  # noqa: E402
from spiking_mnist.hardware.spinnaker import NEURONS_PER_CORE, stdp_rounding  # noqa: E402
from spiking_mnist.inputs.encoding import (schedule_spike_times, poisson_spike_times,  # noqa: E402
                                           rates_hz, spike_rng)
from spiking_mnist.models import diehl_cook, patches  # noqa: E402
from spiking_mnist.models.parameters import load_parameters  # noqa: E402
from spiking_mnist.runners.session import open_network  # noqa: E402
from pathlib import Path  # noqa: E402

VARIANT = Path(__file__).resolve().parents[1] / "spiking_mnist" / "models" / "variants" / "spinnaker.toml"
PERIOD = 500.0


@pytest.fixture
def virtual_board(tmp_path, monkeypatch):
    """A temporary home with a virtual-board configuration; sPyNNaker's reports go to
    the temporary working directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    configure_machine("spinnaker", "virtual")


def _chunk(params, n_examples: int) -> list[np.ndarray]:
    images = np.random.default_rng(5).integers(0, 256, (n_examples, 784)).astype(np.uint8)
    enc = params.encoding
    return [poisson_spike_times(rates_hz(img, enc.rate_per_intensity, enc.initial_intensity),
                                enc.presentation, params.simulation.timestep,
                                spike_rng(1, "train", k, 0)) for k, img in enumerate(images)]


@pytest.mark.parametrize("n", [100, 400])
def test_variant_maps_on_the_virtual_board_with_its_state_and_chunk(virtual_board, n):
    params = load_parameters("diehl_cook", VARIANT, [f"network.n_excitatory={n}"])
    rng = np.random.default_rng(0)
    weights = diehl_cook.normalise_columns(diehl_cook.initial_weights(params, 784, rng), 78.0)
    theta = np.linspace(20.0, 25.0, n)
    backend, _ = open_network(params, "spinnaker", weights,
                              diehl_cook.input_delays(params, 784, rng), theta, plastic=True)
    showings = _chunk(params, 4)
    chunk = schedule_spike_times(showings, PERIOD)
    backend.set_input_spikes(chunk)
    backend.run(len(showings) * PERIOD)

    used = backend.resources
    neuron_cores = 2 * -(-n // NEURONS_PER_CORE["excitatory"])
    assert used.boards == 1 and used.chips >= 1 and used.sdram_bytes > 0
    assert used.cores > neuron_cores  # plus the input and the split synapse cores
    mapped = backend._network
    # the whole chunk, every example in its own window, is what the inputs were given
    for given, wanted in zip(mapped.inputs.get("spike_times"), chunk):
        np.testing.assert_array_equal(np.asarray(given, dtype=float), wanted)
    np.testing.assert_allclose(mapped.excitatory.get("v_thresh"),
                               diehl_cook.Homeostasis(params, theta).thresholds())
    # weights as the board holds them: 16-bit fixed point, well under 1 % of the largest
    np.testing.assert_allclose(backend.get_weights(), weights, atol=1e-3 * weights.max())
    with pytest.raises(BackendError, match="virtual SpiNNaker board .* runs nothing"):
        backend.take_spikes()
    backend.end()


def test_preflight_refuses_a_pair_without_binaries_and_says_what_runs():
    impossible = spinnaker_binaries.PopulationCores("excitatory", "IF_trunc_delta",
                                                    "_stdp_mad_pair_additive")
    with pytest.raises(BackendError) as err:
        spinnaker_binaries.check([impossible], spinnaker_binaries.binaries_directory())
    message = str(err.value)
    assert "IF_trunc_delta with stdp_mad_pair_additive has no binary" in message
    assert "IF_trunc_delta runs with: static synapses" in message
    assert "stdp_mad_pair_additive run with: " in message and "IF_cond_exp" in message


def test_preflight_finds_split_cores_for_the_triplet_rule_on_conductance_cells():
    cores = spinnaker_binaries.PopulationCores("excitatory", "IF_cond_exp",
                                               "_stdp_mad_pfister_triplet_additive")
    static = spinnaker_binaries.PopulationCores("inhibitory", "IF_cond_exp", "")
    assert spinnaker_binaries.check([cores, static],
                                    spinnaker_binaries.binaries_directory()) == {
        "excitatory": "split", "inhibitory": "combined"}


def test_default_unit_conductance_rounds_the_stdp_step_and_the_variant_does_not():
    default = load_parameters("diehl_cook", None, [])
    variant = load_parameters("diehl_cook", VARIANT, [])
    assert stdp_rounding(default.stdp, default.network.unit_conductance) == [
        "stdp.nu_pre = 0.0001 becomes 0.89 times itself"]
    assert stdp_rounding(variant.stdp, variant.network.unit_conductance) == []
    refined = variant.with_values({"stdp": {"refine_from": 10, "nu_post_refine": 1e-6}}, "test")
    assert [p.split(" =")[0] for p in stdp_rounding(refined.stdp,
                                                   refined.network.unit_conductance)] == [
        "stdp.nu_post_refine"]


@pytest.mark.parametrize("layer, inhibitory", [(layer, "paired") for layer in patches.LAYERS]
                         + [(1, "shared")])
def test_frozen_hierarchy_layer_maps_with_only_its_copies_pairs(virtual_board, layer,
                                                                inhibitory):
    """The frozen copies of a patch-hierarchy layer, under the SpiNNaker variant's
    constraints, map with exactly the synapses of models/patches (each copy reads its own
    patch or block; inhibition stays within a copy, paired or shared) and their weights."""
    params = load_parameters("patches", None, [f"layer{layer}.code_inhibitory={inhibitory}"])
    lp = patches.layer_parameters(params, layer, coding=True).with_values(
        tomllib.loads(VARIANT.read_text()), VARIANT.name)
    receptive = patches.receptive_inputs(params, layer)
    n_inputs = patches.layer_inputs(params, layer)
    k = getattr(params, f"layer{layer}").n_excitatory
    kernel = np.random.default_rng(layer).uniform(0.05, 1.0, (receptive.shape[1], k))
    masks = patches.coding_masks(receptive, n_inputs, k, inhibitory)
    weights = patches.copied(kernel, receptive, n_inputs)
    backend, _ = open_network(lp, "spinnaker", weights,
                              patches.copied(np.ones_like(kernel), receptive, n_inputs),
                              np.full(lp.network.n_excitatory, 5.0), plastic=False,
                              masks=masks)
    backend.set_input_spikes([np.arange(1.0, 300.0, 10.0 + i % 7) for i in range(n_inputs)])
    backend.run(2 * PERIOD)
    mapped = backend._network
    assert backend.resources.cores > sum(-(-population.size // NEURONS_PER_CORE[name])
                                         for name, population in (
                                             ("excitatory", mapped.excitatory),
                                             ("inhibitory", mapped.inhibitory)))
    mapped_synapses = 0
    for name in ("input_to_exc", "exc_to_inh", "inh_to_exc"):
        pairs = getattr(mapped, name).get("weight", format="list")
        assert len(pairs) == masks[name].sum()
        assert all(masks[name][int(i), int(j)] for i, j, _ in pairs)
        mapped_synapses += len(pairs)
    assert mapped_synapses == patches.synapse_counts(params)[f"layer{layer}"]
    backend._weights_current = False                     # read them back from the board
    board = backend.get_weights()
    # sPyNNaker holds weights as 16-bit numbers scaled per core for the largest summed input
    # it expects (its ring-buffer shift), so the grid coarsens with the inputs per neuron
    # (25 in layer 1, 400 in layer 2, 3,600 in layer 3): ~1/700 of a unit in layer 1, errors
    # up to 0.0114 of the largest weight in layer 2; the weights round to the nearest step
    largest_error = {1: 1e-3, 2: 1.5e-2, 3: 1.5e-2}[layer]
    np.testing.assert_allclose(board, weights, atol=largest_error * weights.max())
    backend.end()


def ring_buffer_step(largest: float) -> float:
    """The weight grid sPyNNaker 7.4 gives a receptor whose largest summed input per step is
    ``largest`` (in the weights' unit): 16-bit weights up to the next power of two above
    it, twice over."""
    power = max(0, math.ceil(math.log2(largest)))
    power += 2 ** power <= largest
    return 2.0 ** (power - 15)


@pytest.mark.parametrize("sized", [False, True], ids=["estimated", "sized"])
def test_frozen_layer1_with_its_output_cells_maps_on_one_board(virtual_board, sized):
    """The layer-1 copies with the spiking readout's output cells (every way of learning,
    one through hidden cells; signed weights split into an excitatory and an inhibitory
    projection, the bias as a constant current) map on one SpiNN-5 board with exactly the
    output synapses of models/output_layer and their weights as the board holds them: on
    sPyNNaker's grid for the input it estimates, or, given the largest input a step brings
    (``sized``), on the grid that holds it."""
    from spiking_mnist.models import output_layer
    from spiking_mnist.runners.hierarchy_board import held_outputs
    params = load_parameters("patches", None, [])
    lp = patches.layer_parameters(params, 1, coding=True).with_values(
        tomllib.loads(VARIANT.read_text()), VARIANT.name)
    receptive = patches.receptive_inputs(params, 1)
    n_inputs = patches.layer_inputs(params, 1)
    k = params.layer1.n_excitatory
    rng = np.random.default_rng(4)
    kernel = rng.uniform(0.05, 1.0, (receptive.shape[1], k))
    coded = patches.code_size(params, 1)

    def sparse(rows, cols, scale):
        return rng.normal(0.0, scale, (rows, cols)) * (rng.random((rows, cols)) < 0.5)
    outputs = {m: output_layer.OutputWeights(sparse(coded, 10, 0.05),
                                             rng.uniform(-20.0, 60.0, 10))
               for m in output_layer.METHODS}
    outputs["hidden"] = output_layer.OutputWeights(
        sparse(20, 10, 0.3), rng.uniform(-20.0, 60.0, 10),
        output_layer.OutputWeights(sparse(coded, 20, 0.5), rng.uniform(0.0, 30.0, 20)))
    step_input = output_layer.largest_step_input(rng.poisson(0.05, (50, coded)), outputs,
                                                 params) if sized else None
    backend, _ = open_network(lp, "spinnaker", patches.copied(kernel, receptive, n_inputs),
                              patches.copied(np.ones_like(kernel), receptive, n_inputs),
                              np.full(lp.network.n_excitatory, 5.0), plastic=False,
                              masks=patches.coding_masks(receptive, n_inputs, k, "shared"),
                              extend=lambda sim, network: output_layer.build(
                                  sim, params, network, outputs, step_input))
    backend.set_input_spikes([np.arange(1.0, 300.0, 10.0 + i % 7) for i in range(n_inputs)])
    backend.run(2 * PERIOD)
    mapped = backend._network
    assert backend.resources.boards == 1 and backend.resources.chips <= 48
    assert mapped.output.size == 10 * len(output_layer.METHODS) and mapped.hidden.size == 20
    held = held_outputs(mapped, outputs, params, coded)
    synapses = sum(len(getattr(mapped, f"{p}_{r}").get("weight", format="list"))
                   for p in ("exc_to_output", "exc_to_hidden", "hidden_to_output")
                   for r in ("excitatory", "inhibitory"))
    assert synapses == output_layer.synapse_count(outputs)
    unit = output_layer.synaptic_current(params)
    for m in output_layer.METHODS:
        pairs = [("output", outputs[m], held[m])]
        if m == "hidden":
            pairs.append(("hidden", outputs[m].hidden, held[m].hidden))
        for population, trained, board in pairs:
            for part, receptor in enumerate(("excitatory", "inhibitory")):
                # 16-bit weights scaled per core for the largest summed input it expects:
                # estimated (3,600 inputs per cell at sPyNNaker's assumed rate), the output
                # weights round to the nearest 1/32 nA (1 % of a threshold's charge), the
                # hidden cells' larger ones to 1/4 nA; sized, to the grid that holds the
                # largest step input
                wanted = output_layer.split(trained.weights)[part] * unit
                got = output_layer.split(board.weights)[part] * unit
                step = {"output": 1 / 32, "hidden": 1 / 4}[population]
                if sized:
                    step = ring_buffer_step(step_input[population][receptor])
                    assert step < 1 / 64
                np.testing.assert_allclose(got, wanted, atol=0.5 * step + 1e-9)
                assert np.abs(got - wanted).max() > 0.25 * step
            np.testing.assert_allclose(board.bias, trained.bias, rtol=1e-6, atol=1e-6)
    backend.end()
