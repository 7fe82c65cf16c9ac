"""The NEST module's ``stdp_dc_synapse`` (D&C's nearest-spike STDP rule): its weights equal an
event-driven implementation of the rule in numpy to 1e-12 on fixed spike trains (pre and
post bursts, ties, clipping at 0 and w_max, several delays, read between runs or only at
the end, 1 and 2 threads); its postsynaptic spike record stays short; the NEST backend runs
it as ``stdp.rule = nearest_spike`` and refuses it where it cannot run."""
import shutil

import numpy as np
import pytest

from spiking_mnist.hardware import nest_extension
from spiking_mnist.hardware.nest import import_pynn_nest
from spiking_mnist.models.parameters import ConfigError, load_parameters

DT = 0.5   # ms
RULE = dict(tau_pre=25.0, tau_post1=15.0, tau_post2=35.0, nu_pre=0.05, nu_post=0.4, Wmax=1.0)


def dc_rule(w, pre, post, delay, until, tau_pre, tau_post1, tau_post2, nu_pre, nu_post, Wmax,
            all_to_all=False):
    """D&C's rule event by event (their Brian code): the weight after the events that reach
    the synapse by ``until`` (ms), starting from ``w``; presynaptic spikes ``pre`` act at their
    times, postsynaptic spikes ``post`` ``delay`` ms later (NEST's dendritic delay).

    Traces start at 0 and are reset to 1 at each spike of their side (``all_to_all``:
    increased by 1). A presynaptic spike: ``pre = 1; w = max(w - nu_pre * post1, 0)``;
    a postsynaptic spike: ``w = clip(w + nu_post * pre * post2, 0, Wmax); post1 = post2 = 1``.
    Events at the same time each see the other side's traces from before that time, the
    postsynaptic one first.
    """
    pre = np.asarray(pre, dtype=float)
    arrivals = np.asarray(post, dtype=float) + delay
    pre, arrivals = pre[pre <= until], arrivals[arrivals <= until]
    is_pre, is_post = set(pre.tolist()), set(arrivals.tolist())
    trace_pre = post1 = post2 = 0.0
    last = None
    for t in np.union1d(pre, arrivals):
        if last is not None:   # every trace decayed to t
            trace_pre *= np.exp(-(t - last) / tau_pre)
            post1 *= np.exp(-(t - last) / tau_post1)
            post2 *= np.exp(-(t - last) / tau_post2)
        last = t
        if t in is_post:
            w = np.clip(w + nu_post * trace_pre * post2, 0.0, Wmax)
        if t in is_pre:
            w = max(w - nu_pre * post1, 0.0)   # a weight above Wmax stays there
            trace_pre = trace_pre + 1.0 if all_to_all else 1.0
        if t in is_post:
            post1, post2 = (post1 + 1.0, post2 + 1.0) if all_to_all else (1.0, 1.0)
    return float(w)


def _grid(times) -> list[float]:
    return sorted(set(float(t) for t in np.round(np.asarray(times) / DT) * DT if t >= 2.0))


def spike_trains(rng, n: int, duration: float) -> list[list[float]]:
    """``n`` spike trains in [2, duration) ms: Poisson at 5-150 Hz, bursts (spikes on
    consecutive steps or every other step), sparse ones, one silent."""
    trains = []
    for k in range(n):
        kind = k % 4
        if kind == 0:
            times = rng.uniform(2, duration, rng.poisson(rng.uniform(5, 150) * duration / 1e3))
        elif kind == 1:   # bursts
            starts = rng.uniform(2, duration - 20, rng.integers(2, 8))
            times = np.concatenate([s + rng.choice([1, 2]) * DT * np.arange(rng.integers(2, 7))
                                    for s in starts])
        elif kind == 2:
            times = rng.uniform(2, duration, rng.integers(1, 4))
        else:
            times = [] if k == 3 else rng.uniform(2, duration, rng.poisson(40 * duration / 1e3))
        trains.append(_grid(times))
    return trains


def _drive(nest, cells, trains):
    """Make each cell (no refractory time) spike at its train's times: a strong current
    during the step 1.5 ms before each spike (the generator's step, the connection's and
    the cell's)."""
    for cell, times in zip(cells, trains):
        on = {t - 3 * DT for t in times}
        changes = sorted([(a, 1e6) for a in on if a - DT not in on]
                         + [(a + DT, 0.0) for a in on if a + DT not in on])
        if changes:
            generator = nest.Create("step_current_generator", params={
                "amplitude_times": [t for t, _ in changes],
                "amplitude_values": [v for _, v in changes]})
            nest.Connect(generator, cell)


def run_network(threads: int, reads: list[float], seed: int = 2, n_pre: int = 16,
                n_post: int = 8, duration: float = 600.0, rule=RULE,
                model: str = "stdp_dc_synapse", cells: dict | None = None,
                above_wmax: bool = False, normalise_to: float | None = None,
                normalise_in_numpy: bool = False):
    """A network of ``n_pre`` spike_train_injectors onto ``n_post`` fixed-step cells through
    synapses of the module's ``model`` with parameters ``rule`` (delays 0.5-10 ms, random
    initial weights, some above Wmax with ``above_wmax``, as normalisation may leave them),
    the cells (with ``cells`` parameters too) forced to spike at fixed times; weights
    normalised (each cell's to sum to ``normalise_to``, if given: in place, or read, scaled in
    numpy and written with ``normalise_in_numpy``) and read through
    KernelConnections after each ``reads`` time (ms).
    Returns the recorded pre and post spike times, the connections (source index, target
    index, delay, initial weight) and the weights read."""
    nest = import_pynn_nest()[1]
    nest.ResetKernel()
    nest.resolution = DT
    nest.local_num_threads = threads
    nest_extension.install(nest)
    rng = np.random.default_rng(seed)
    pre_trains = spike_trains(rng, n_pre, duration)
    post_trains = spike_trains(rng, n_post, duration)
    inputs = nest.Create("spike_train_injector", n_pre,
                         params=[{"spike_times": t} for t in pre_trains])
    # E_ex = E_L: the plastic synapses do not move the cells, only the current pulses do
    cells = nest.Create("iaf_cond_exp_fixed_step", n_post, params=dict(
        E_L=-65.0, E_ex=-65.0, V_reset=-65.0, V_th=-50.0, V_m=-65.0, t_ref=0.0, **(cells or {})))
    _drive(nest, cells, post_trains)
    nest.SetDefaults(model, rule)
    delays = rng.choice([0.5, 1.0, 2.5, 4.0, 10.0], (n_post, n_pre))
    weights = np.where(rng.random((n_post, n_pre)) < 0.3, rng.choice([0.0, rule["Wmax"]],
                       (n_post, n_pre)), rng.uniform(0, rule["Wmax"], (n_post, n_pre)))
    if above_wmax:
        weights = weights * rng.choice([1.0, 1.6], weights.shape)
    nest.Connect(inputs, cells, "all_to_all", {"synapse_model": model,
                                               "weight": weights, "delay": delays})
    recorders = [nest.Create("spike_recorder") for _ in range(2)]
    nest.Connect(inputs, recorders[0])
    nest.Connect(cells, recorders[1])
    synapse_id = nest.GetDefaults(model)["synapse_modelid"]
    read = []
    kernel = columns = None
    for until in reads:
        nest.Simulate(until - nest.biological_time)
        if kernel is None:
            kernel = nest_extension.KernelConnections.of_projection(
                nest, synapse_id, (inputs[0].global_id, n_pre), (cells[0].global_id, n_post))
        column = kernel.ids[:, 1] - cells[0].global_id
        if normalise_to is not None and normalise_in_numpy:
            w = kernel.get_weights()
            kernel.set_weights(w * normalise_to / np.bincount(column, w)[column])
        elif normalise_to is not None:
            columns = columns or kernel.columns(column, n_post)
            columns.normalise(normalise_to)
        read.append(kernel.get_weights())
    ids = kernel.ids
    source, target = ids[:, 0] - inputs[0].global_id, ids[:, 1] - cells[0].global_id
    spikes = []
    for recorder, first, n in ((recorders[0], inputs[0].global_id, n_pre),
                               (recorders[1], cells[0].global_id, n_post)):
        events = recorder.events
        spikes.append([np.sort(events["times"][events["senders"] == first + k]) for k in range(n)])
    connections = (source, target, delays[target, source], weights[target, source])
    return spikes, post_trains, connections, read, nest


def _expected(spikes, connections, until, rule=RULE):
    pre, post = spikes
    return np.array([dc_rule(w, pre[i], post[j], d, until, **rule)
                     for i, j, d, w in zip(*connections)])


def _expected_at_last_spike(spikes, connections, until, rule=RULE):
    """The rule's weights up to each input's last spike by ``until``: summing traces, the
    synapse (as NEST's stdp_triplet_synapse) adds potentiation at presynaptic spikes only."""
    pre, post = spikes
    out = []
    for i, j, d, w in zip(*connections):
        sent = pre[i][pre[i] <= until]
        out.append(dc_rule(w, pre[i], post[j], d, sent[-1] if len(sent) else 0.0, **rule))
    return np.array(out)


#: how traces sum -> the synapse's parameters, and whether a read applies the potentiation due
SUMMING = {"nearest": (dict(all_to_all=False), True),
           "all_to_all": (dict(all_to_all=True), False),
           "all_to_all, potentiate on read": (dict(all_to_all=True, potentiate_on_read=True),
                                              True)}


@pytest.mark.parametrize("summing", SUMMING)
@pytest.mark.parametrize("threads", [1, 2])
def test_weights_equal_the_event_driven_rule(threads, summing):
    settings, read_applies = SUMMING[summing]
    rule, all_to_all = dict(RULE, **settings), settings["all_to_all"]
    # read often (a read applies the potentiation due where read_applies), and only at the end
    often = [50.0 * k for k in range(1, 13)]
    spikes, post_trains, connections, read, _ = run_network(threads, often, rule=rule)
    # the cells spiked when told to, and the presynaptic trains came as given
    assert [list(t) for t in spikes[1]] == post_trains
    # NEST reads the weights when all presynaptic spikes up to the last min_delay are in
    expected = _expected if read_applies else _expected_at_last_spike
    rule = dict(RULE, all_to_all=all_to_all)   # the rule itself, for the numpy reference
    for until, weights in zip(often, read):
        np.testing.assert_allclose(weights, expected(spikes, connections, until - DT, rule),
                                   rtol=0, atol=1e-12)
    # the other way of summing traces gives other weights: the test tells them apart
    other = expected(spikes, connections, often[-1] - DT, dict(rule, all_to_all=not all_to_all))
    assert np.abs(other - read[-1]).max() > 1e-3
    if all_to_all:   # so does the other time of applying the potentiation
        other = (_expected_at_last_spike if read_applies else _expected)(
            spikes, connections, often[-1] - DT, rule)
        assert np.abs(other - read[-1]).max() > 1e-3
    _, _, connections_once, (once,), _ = run_network(threads, [often[-1]],
                                                     rule=dict(RULE, **settings))
    np.testing.assert_allclose(once, read[-1], rtol=0, atol=1e-12)
    # the patterns covered what they should: clipping at both ends, ties, bursts
    final = read[-1]
    assert (final == 0).sum() >= 5 and (final == RULE["Wmax"]).sum() >= 5
    pre, post = spikes
    ties = sum(len(np.intersect1d(pre[i], post[j] + d)) for i, j, d, _ in zip(*connections))
    assert ties > 20
    assert any(np.any(np.diff(t) == DT) for t in pre)
    assert any(np.any(np.diff(t) == DT) for t in post)
    assert not np.allclose(final, connections[3])


def test_nests_triplet_synapse_runs_the_same_all_to_all_rule():
    """``triplet_all_to_all`` runs as ``stdp_dc_synapse`` onto the fixed-step cell and as
    NEST's ``stdp_triplet_synapse`` (D&C's two terms) onto NEST's cells: the same rule. NEST's
    synapse applies potentiation only at a presynaptic spike (no flush), so each weight is
    compared with the rule's up to its input's last spike."""
    trip = dict(tau_plus=RULE["tau_pre"], tau_plus_triplet=RULE["tau_pre"], Aplus=0.0,
                Aplus_triplet=RULE["nu_post"], Aminus=RULE["nu_pre"], Aminus_triplet=0.0,
                Wmax=RULE["Wmax"])
    end = 600.0
    spikes, _, connections, (weights,), _ = run_network(
        1, [end], rule=trip, model="stdp_triplet_synapse",
        cells=dict(tau_minus=RULE["tau_post1"], tau_minus_triplet=RULE["tau_post2"]))
    np.testing.assert_allclose(weights, _expected_at_last_spike(
        spikes, connections, end - DT, dict(RULE, all_to_all=True)), rtol=0, atol=1e-12)
    nearest = _expected_at_last_spike(spikes, connections, end - DT, RULE)
    assert np.abs(weights - nearest).max() > 1e-3


@pytest.mark.parametrize("summing", SUMMING)
def test_normalisation_scales_the_weights_the_rule_reads(summing):
    """Normalising in place, again and again between spikes, scales what a read gives (with
    traces reset, or with potentiate_on_read, the potentiation due is applied first, as a
    read applies it; otherwise, with summed traces, it is left for the next presynaptic
    spike, as NEST's triplet synapse leaves it): the same weights as reading them, scaling
    them in numpy and writing them back."""
    rule = dict(RULE, **SUMMING[summing][0])
    reads = [100.0, 200.0, 300.0, 400.0]
    _, _, connections, in_place, _ = run_network(1, reads, rule=rule, normalise_to=5.0)
    _, _, _, in_numpy, _ = run_network(1, reads, rule=rule, normalise_to=5.0,
                                       normalise_in_numpy=True)
    for ours, theirs in zip(in_place, in_numpy):
        np.testing.assert_allclose(np.bincount(connections[1], ours), 5.0, rtol=1e-12)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_weights_above_wmax_stay_until_a_potentiation_is_due_as_in_nests_triplet_synapse():
    """Normalisation can scale a weight above Wmax: NEST's stdp_triplet_synapse keeps it
    there until a presynaptic spike that follows a postsynaptic one (depression clips at 0
    only); stdp_dc_synapse with summed traces does the same, read at the end of the run."""
    trip = dict(tau_plus=RULE["tau_pre"], tau_plus_triplet=RULE["tau_pre"], Aplus=0.0,
                Aplus_triplet=RULE["nu_post"], Aminus=RULE["nu_pre"], Aminus_triplet=0.0,
                Wmax=RULE["Wmax"])
    end = 200.0   # short: many synapses see no postsynaptic spike before their last input
    spikes, _, connections, (nests,), _ = run_network(
        1, [end], rule=trip, model="stdp_triplet_synapse", above_wmax=True,
        cells=dict(tau_minus=RULE["tau_post1"], tau_minus_triplet=RULE["tau_post2"]))
    expected = _expected_at_last_spike(spikes, connections, end - DT,
                                       dict(RULE, all_to_all=True))
    np.testing.assert_allclose(nests, expected, rtol=0, atol=1e-12)
    assert (nests > RULE["Wmax"]).sum() >= 5 and (connections[3] > RULE["Wmax"]).sum() > (
        nests > RULE["Wmax"]).sum()
    _, _, _, (ours,), _ = run_network(1, [end], rule=dict(RULE, all_to_all=True),
                                      above_wmax=True)
    np.testing.assert_allclose(ours, nests, rtol=0, atol=1e-12)


@pytest.mark.parametrize("all_to_all", [False, True])
def test_weights_with_d_and_c_constants_and_without_clipping(all_to_all):
    rule = dict(tau_pre=20.0, tau_post1=20.0, tau_post2=40.0, nu_pre=0.0001, nu_post=0.01,
                Wmax=1.0, all_to_all=all_to_all)
    reads = [150.0, 300.0, 400.0]
    spikes, _, connections, read, _ = run_network(1, reads, seed=5, rule=rule)
    expected = _expected_at_last_spike if all_to_all else _expected
    for until, weights in zip(reads, read):
        np.testing.assert_allclose(weights, expected(spikes, connections, until - DT, rule),
                                   rtol=0, atol=1e-12)


def _one_synapse(rule):
    """One stdp_dc_synapse (``rule``; weight 0.5, delay 1 ms) from an input spiking at 10 and
    200 ms onto a cell made to spike at 20 and 30 ms: (nest, input, cell)."""
    nest = import_pynn_nest()[1]
    nest.ResetKernel()
    nest.resolution = DT
    nest_extension.install(nest)
    source = nest.Create("spike_train_injector", params={"spike_times": [10.0, 200.0]})
    cell = nest.Create("iaf_cond_exp_fixed_step", params=dict(
        E_L=-65.0, E_ex=-65.0, V_reset=-65.0, V_th=-50.0, V_m=-65.0, t_ref=0.0))
    _drive(nest, cell, [[20.0, 30.0]])
    nest.SetDefaults("stdp_dc_synapse", rule)
    nest.Connect(source, cell, syn_spec={"synapse_model": "stdp_dc_synapse", "weight": 0.5,
                                         "delay": 1.0})
    return nest, source, cell


def test_the_weight_sent_leaves_out_potentiation_not_yet_applied():
    """Between presynaptic spikes NEST's own status shows the weight of the last one; what the
    postsynaptic spikes since then add comes in at the next one (or a KernelConnections read)."""
    nest, source, cell = _one_synapse(RULE)
    nest.Simulate(100.0)
    connection = nest.GetConnections(source, cell)
    assert connection.get("weight") == 0.5
    potentiated = dc_rule(0.5, [10.0], [20.0, 30.0], 1.0, 99.5, **RULE)
    assert potentiated > 0.5
    nest.Simulate(150.0)
    assert connection.get("weight") == pytest.approx(
        dc_rule(0.5, [10.0, 200.0], [20.0, 30.0], 1.0, 250.0, **RULE), abs=1e-12)


@pytest.mark.parametrize("potentiate_on_read", [False, True])
def test_a_weight_written_above_wmax_after_a_read(potentiate_on_read):
    """Potentiation due at a read, then the weight written above Wmax (as normalisation may):
    with potentiate_on_read the read applied (and clipped) it, so the next presynaptic spike
    only depresses, as in D&C's code; without, that spike adds it and clips."""
    nest, source, cell = _one_synapse(dict(RULE, all_to_all=True,
                                           potentiate_on_read=potentiate_on_read))
    kernel = nest_extension.KernelConnections.of_projection(
        nest, nest.GetDefaults("stdp_dc_synapse")["synapse_modelid"],
        (source.global_id, 1), (cell.global_id, 1))
    nest.Simulate(100.0)
    read = kernel.get_weights()[0]
    potentiated = dc_rule(0.5, [10.0], [20.0, 30.0], 1.0, 99.5, **dict(RULE, all_to_all=True))
    assert read == pytest.approx(potentiated if potentiate_on_read else 0.5, abs=1e-12)
    kernel.set_weights(np.array([1.5]))
    nest.Simulate(150.0)
    post1 = sum(np.exp(-(200.0 - t - 1.0) / RULE["tau_post1"]) for t in (20.0, 30.0))
    after = (1.5 if potentiate_on_read else RULE["Wmax"]) - RULE["nu_pre"] * post1
    assert kernel.get_weights()[0] == pytest.approx(after, abs=1e-12)


def test_the_postsynaptic_record_stays_short_when_weights_are_read():
    """Each cell keeps its spikes until every synapse onto it has read them: a synapse
    whose input never fires reads them only when its weight is read (flushed)."""
    nest = import_pynn_nest()[1]
    nest.ResetKernel()
    nest.resolution = DT
    nest_extension.install(nest)
    silent = nest.Create("spike_train_injector")
    busy = nest.Create("spike_train_injector", params={
        "spike_times": np.arange(2.0, 2000.0, 7.5).tolist()})
    cell = nest.Create("iaf_cond_exp_fixed_step", params=dict(
        E_L=-65.0, E_ex=-65.0, V_reset=-65.0, V_th=-50.0, V_m=-65.0, t_ref=0.0))
    _drive(nest, cell, [np.arange(5.0, 2000.0, 10.0).tolist()])
    nest.Connect(silent + busy, cell, syn_spec={"synapse_model": "stdp_dc_synapse",
                                                "delay": 10.0})
    synapse_id = nest.GetDefaults("stdp_dc_synapse")["synapse_modelid"]
    nest.Simulate(1000.0)
    assert cell.get("post_spikes_kept") >= 99   # the silent input's synapse read none
    kernel = nest_extension.KernelConnections.of_projection(
        nest, synapse_id, (silent.global_id, 2), (cell.global_id, 1))
    for _ in range(10):
        kernel.get_weights()
        nest.Simulate(100.0)
    assert cell.get("post_spikes_kept") <= 12


def test_only_the_fixed_step_cell_takes_it():
    nest = import_pynn_nest()[1]
    nest.ResetKernel()
    nest_extension.install(nest)
    source = nest.Create("spike_train_injector")
    with pytest.raises(Exception, match="iaf_cond_exp_fixed_step"):
        nest.Connect(source, nest.Create("iaf_cond_exp"),
                     syn_spec={"synapse_model": "stdp_dc_synapse"})


def test_a_synapse_is_smaller_than_a_triplet_synapse():
    nest = import_pynn_nest()[1]
    nest.ResetKernel()
    nest_extension.install(nest)
    source = nest.Create("spike_train_injector")
    cell = nest.Create("iaf_cond_exp_fixed_step")
    nest.Connect(source, cell, syn_spec={"synapse_model": "stdp_dc_synapse"})
    # NEST's stdp_triplet_synapse keeps its 7 parameters, 2 traces, last spike time and
    # weight in every synapse (96 bytes with the target and delay); this one its weight, 3
    # traces, the potentiation due and 3 times, the parameters once per model
    assert nest.GetConnections(source, cell).get("sizeof") < 96


def _rule_params(rule, *more):
    return load_parameters("diehl_cook", None, [f"stdp.rule={rule}", "network.n_excitatory=5",
                                                "simulation.threads=1", *more])


@pytest.mark.parametrize("rule", ["nearest_spike", "triplet_all_to_all"])
def test_the_nest_backend_runs_d_and_c_rules_as_stdp_dc_synapse(rule):
    """With one NEST connection per synapse; the input synapses kept beside the cells (the
    default) run the same rule: test_dense_input.py."""
    from spiking_mnist.hardware import open_backend
    from spiking_mnist.models import diehl_cook
    p = _rule_params(rule, "simulation.input_delivery=events")
    backend = open_backend("nest", p)
    net = diehl_cook.build(backend.sim, p, 30, backend.input_synapse(p.stdp, 2.0),
                           cell_types=backend.cell_types)
    backend.attach(net, p.stdp, None)
    defaults = backend._nest.GetDefaults(net.input_to_exc.nest_synapse_model)
    assert net.input_to_exc.nest_synapse_model.startswith("stdp_dc_synapse")
    assert defaults["all_to_all"] == (rule == "triplet_all_to_all")
    assert (defaults["nu_pre"], defaults["nu_post"], defaults["Wmax"]) == pytest.approx(
        (2.0 * p.stdp.nu_pre, 2.0 * p.stdp.nu_post, 2.0 * p.stdp.w_max))
    assert (defaults["tau_pre"], defaults["tau_post1"], defaults["tau_post2"]) == (
        p.stdp.tau_pre, p.stdp.tau_post1, p.stdp.tau_post2)
    weights = np.random.default_rng(1).uniform(0, 1, (30, 5))
    backend.set_weights(weights)
    np.testing.assert_allclose(backend.get_weights(), weights, rtol=1e-15)
    backend.normalise_in_place(7.0)
    np.testing.assert_allclose(backend.get_weights(),
                               diehl_cook.normalise_columns(weights, 7.0), rtol=1e-12)
    backend.end()


@pytest.mark.parametrize("setting", ["simulation.cell_integration=adaptive",
                                     "network.synapses=current"])
def test_triplet_all_to_all_runs_as_nests_triplet_synapse_onto_other_cells(setting):
    """The same rule onto NEST's own cells, which keep the postsynaptic traces."""
    from spiking_mnist.runners.session import open_network
    from spiking_mnist.models import diehl_cook
    p = _rule_params("triplet_all_to_all", setting, "theta.kept=host")
    rng = np.random.default_rng(1)
    backend, net = open_network(p, "nest", rng.uniform(0, 0.3, (30, 5)),
                                diehl_cook.input_delays(p, 30, rng), np.full(5, 20.0),
                                plastic=True)
    assert net.input_to_exc.nest_synapse_model.startswith("stdp_triplet_synapse")
    assert backend._nest.GetDefaults(net.input_to_exc.nest_synapse_model)["Aminus"] > 0
    assert net.excitatory.node_collection.get("tau_minus_triplet")[0] == p.stdp.tau_post2
    backend.end()


@pytest.mark.parametrize("setting", ["simulation.cell_integration=adaptive",
                                     "network.synapses=current"])
def test_nearest_spike_needs_the_fixed_step_conductance_cell(setting):
    from spiking_mnist.hardware import backend_class
    backend_class("nest").check(_rule_params("triplet_all_to_all", setting))
    with pytest.raises(ConfigError, match="stdp.rule=triplet_all_to_all"):
        backend_class("nest").check(_rule_params("nearest_spike", setting))


@pytest.mark.parametrize("setting", ["simulation.cell_integration=adaptive",
                                     "network.synapses=current"])
def test_potentiation_at_the_postsynaptic_spike_needs_the_fixed_step_conductance_cell(setting):
    from spiking_mnist.hardware import backend_class
    backend_class("nest").check(_rule_params("triplet_all_to_all", "stdp.potentiation=post_spike"))
    with pytest.raises(ConfigError, match="stdp.potentiation=next_pre_spike"):
        backend_class("nest").check(_rule_params("triplet_all_to_all", setting,
                                                 "stdp.potentiation=post_spike"))


def test_spinnaker_refuses_potentiation_at_the_postsynaptic_spike():
    pytest.importorskip("spynnaker")
    from spiking_mnist.hardware import backend_class
    with pytest.raises(ConfigError, match="next presynaptic spike.*stdp.potentiation="
                                          "next_pre_spike"):
        backend_class("spinnaker").check(_rule_params("triplet_all_to_all",
                                                      "stdp.potentiation=post_spike"))


def test_spinnaker_refuses_nearest_spike_naming_what_it_lacks():
    pytest.importorskip("spynnaker")
    from spiking_mnist.hardware import backend_class
    with pytest.raises(ConfigError, match="SpikeNearestPairRule.*PfisterSpikeTriplet"):
        backend_class("spinnaker").check(_rule_params("nearest_spike"))
    backend_class("spinnaker").check(_rule_params("triplet_all_to_all"))


def _nest_costs():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "nest_costs.py"
    spec = importlib.util.spec_from_file_location("nest_costs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow    # 90 s: four NEST simulations under callgrind
@pytest.mark.skipif(shutil.which("valgrind") is None,
                    reason="counting instructions needs valgrind (Debian's package valgrind)")
def test_it_executes_fewer_instructions_per_event_than_stdp_triplet_synapse():
    """The same network with a static synapse and with either rule's synapse
    (``benchmarks/nest_costs.py --stdp 100 --instructions``: 784 inputs at D&C's rates onto
    100 cells spiking at the same times, 300 ms of model time, 1 thread): what
    stdp_dc_synapse, with either way of summing traces, adds to a static synapse's
    instructions per synaptic event in NEST's simulation loop is at most 0.6 times what
    stdp_triplet_synapse adds (measured: 0.37 nearest_spike, 0.48 triplet_all_to_all).
    Counted by callgrind, not timed: a count is the same on a busy machine, a time is not."""
    triplet_name = "stdp_triplet_synapse (triplet_all_to_all, NEST's)"
    counts = _nest_costs().stdp_instructions(
        100, 300.0, only=("static_synapse", triplet_name, "stdp_dc_synapse (nearest_spike)",
                          "stdp_dc_synapse (triplet_all_to_all)"))
    plastic = {name: count - counts["static_synapse"] for name, count in counts.items()}
    assert plastic[triplet_name] > 0, counts
    assert plastic["stdp_dc_synapse (nearest_spike)"] < 0.6 * plastic[triplet_name], counts
    assert plastic["stdp_dc_synapse (triplet_all_to_all)"] < 0.6 * plastic[triplet_name], counts
