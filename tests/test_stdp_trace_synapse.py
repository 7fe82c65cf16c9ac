"""The NEST module's ``stdp_trace_synapse`` (the presynaptic-trace STDP rules Diehl & Cook
compared: power-law and exponential weight dependence, pre-and-post): its weights equal an
event-driven implementation of each rule in numpy to 1e-12 on fixed spike trains (bursts,
ties, clipping, several delays, read between runs or only at the end, 1 and 2 threads); the
NEST backend runs ``stdp.rule = power_law``, ``exponential`` and ``pre_and_post`` with it, in
NEST's weight units, and refuses them where they cannot run."""
import numpy as np
import pytest

from spiking_mnist.hardware import nest_extension
from spiking_mnist.hardware.nest import STDP_RULES, import_pynn_nest
from spiking_mnist.models.parameters import ConfigError, load_parameters
from test_stdp_dc_synapse import DT, _drive, run_network

MODEL = "stdp_trace_synapse"
#: strong rates, so that the trains reach the clipping at 0 and Wmax
RULES = {
    "power_law": dict(tau_pre=25.0, tau_post=15.0, nu_pre=0.0, nu_post=0.3, x_tar=0.5,
                      mu=0.6, beta=0.0, Wmax=1.0, exponential=False),
    "exponential": dict(tau_pre=25.0, tau_post=15.0, nu_pre=0.0, nu_post=1.0, x_tar=0.2,
                        mu=0.0, beta=2.5, Wmax=1.0, exponential=True),
    "pre_and_post": dict(tau_pre=25.0, tau_post=15.0, nu_pre=0.3, nu_post=0.3, x_tar=0.2,
                         mu=0.6, beta=0.0, Wmax=1.0, exponential=False),
}


def trace_rule(w, pre, post, delay, until, tau_pre, tau_post, nu_pre, nu_post, x_tar, mu,
               beta, Wmax, exponential):
    """D&C's presynaptic-trace rules event by event: the weight after the events that reach
    the synapse by ``until`` (ms), starting from ``w``; presynaptic spikes ``pre`` act at their
    times, postsynaptic spikes ``post`` ``delay`` ms later (NEST's dendritic delay).

    Traces start at 0, decay exponentially and are increased by 1 at each spike of their side,
    after the rule has read them. A postsynaptic spike: ``w = clip(w + nu_post * (x_pre -
    x_tar) * max(Wmax - w, 0)^mu)`` (power law) or ``clip(w + nu_post * (x_pre * exp(-beta w) -
    x_tar * exp(-beta (Wmax - w))))`` (``exponential``); a presynaptic spike: ``w = clip(w - nu_pre
    * x_post * w^mu)``. Events at the same time each see the other side's trace from before
    that time, the postsynaptic one first.
    """
    pre = np.asarray(pre, dtype=float)
    arrivals = np.asarray(post, dtype=float) + delay
    pre, arrivals = pre[pre <= until], arrivals[arrivals <= until]
    last_pre = last_post = -np.inf
    x_pre_after = x_post_after = 0.0
    is_pre, is_post = set(pre.tolist()), set(arrivals.tolist())
    for t in np.union1d(pre, arrivals):
        x_pre = x_pre_after * np.exp(-(t - last_pre) / tau_pre)
        x_post = x_post_after * np.exp(-(t - last_post) / tau_post)
        if t in is_post:
            if exponential:
                dw = nu_post * (x_pre * np.exp(-beta * w) - x_tar * np.exp(-beta * (Wmax - w)))
            else:
                dw = nu_post * (x_pre - x_tar) * max(Wmax - w, 0.0) ** mu
            w = np.clip(w + dw, 0.0, Wmax)
        if t in is_pre:
            if nu_pre > 0:
                w = np.clip(w - nu_pre * x_post * w ** mu, 0.0, Wmax)
            x_pre_after, last_pre = x_pre + 1.0, t
        if t in is_post:
            x_post_after, last_post = x_post + 1.0, t
    return float(w)


def _expected(spikes, connections, until, rule):
    pre, post = spikes
    return np.array([trace_rule(w, pre[i], post[j], d, until, **rule)
                     for i, j, d, w in zip(*connections)])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(RULES))
def test_weights_equal_the_event_driven_rule(name, threads):
    rule = RULES[name]
    often = [50.0 * k for k in range(1, 13)]
    spikes, post_trains, connections, read, _ = run_network(threads, often, rule=rule,
                                                            model=MODEL)
    assert [list(t) for t in spikes[1]] == post_trains
    for until, weights in zip(often, read):
        np.testing.assert_allclose(weights, _expected(spikes, connections, until - DT, rule),
                                   rtol=0, atol=1e-12)
    _, _, _, (once,), _ = run_network(threads, [often[-1]], rule=rule, model=MODEL)
    np.testing.assert_allclose(once, read[-1], rtol=0, atol=1e-12)
    # the patterns reached the clipping (weights that started inside), ties and bursts, and
    # learning moved the weights
    final = read[-1]
    inside = final[(connections[3] > 0) & (connections[3] < rule["Wmax"])]
    assert (inside == 0).sum() > 2 and (inside == rule["Wmax"]).sum() > 2
    pre, post = spikes
    ties = sum(len(np.intersect1d(pre[i], post[j] + d)) for i, j, d, _ in zip(*connections))
    assert ties > 20
    assert np.abs(final - connections[3]).max() > 0.1


@pytest.mark.parametrize("name", ["power_law", "exponential", "pre_and_post"])
def test_weights_with_d_and_c_constants(name):
    """The rule table's parameters from the packaged defaults (one weight unit = 1 nS)."""
    p = load_parameters("diehl_cook", None, [f"stdp.rule={name}"])
    rule = STDP_RULES[name].synapse(p.stdp, 1.0)
    reads = [150.0, 300.0, 400.0]
    spikes, _, connections, read, _ = run_network(1, reads, seed=5, rule=rule, model=MODEL)
    for until, weights in zip(reads, read):
        np.testing.assert_allclose(weights, _expected(spikes, connections, until - DT, rule),
                                   rtol=0, atol=1e-12)
    assert not np.allclose(read[-1], connections[3])


def test_the_rule_table_scales_weight_changes_to_nest_units():
    """One weight unit = g nS: every change the rule makes is g times the dimensionless one."""
    g, w, x = 2.5, 0.3, 0.9
    for name in ("power_law", "exponential", "pre_and_post"):
        p = load_parameters("diehl_cook", None, [f"stdp.rule={name}"])
        unit, native = STDP_RULES[name].synapse(p.stdp, 1.0), STDP_RULES[name].synapse(p.stdp, g)
        for step in (lambda r, w: trace_rule(w, [], [0.0], 0.0, 1.0, **r),
                     lambda r, w: trace_rule(w, [0.0, 1.0], [0.5], 0.0, 2.0, **r)):
            assert step(native, g * w) - g * w == pytest.approx(g * (step(unit, w) - w),
                                                                rel=1e-12)
        assert step(unit, w) != w
        # only pre_and_post depresses at a presynaptic spike
        assert unit["nu_pre"] == (p.stdp.nu_pre if name == "pre_and_post" else 0.0)


@pytest.mark.parametrize("name", ["power_law", "pre_and_post"])
def test_a_weight_above_wmax_is_clipped_not_lost(name):
    """Normalisation can scale a weight above Wmax; its next potentiation clips it to Wmax
    (the power of a negative Wmax - w would be NaN)."""
    nest = import_pynn_nest()[1]
    nest.ResetKernel()
    nest.resolution = DT
    nest_extension.install(nest)
    source = nest.Create("spike_train_injector", params={"spike_times": [10.0, 50.0]})
    cell = nest.Create("iaf_cond_exp_fixed_step", params=dict(
        E_L=-65.0, E_ex=-65.0, V_reset=-65.0, V_th=-50.0, V_m=-65.0, t_ref=0.0))
    _drive(nest, cell, [[20.0]])
    rule = RULES[name]
    nest.SetDefaults(MODEL, rule)
    nest.Connect(source, cell, syn_spec={"synapse_model": MODEL, "weight": 1.3, "delay": 1.0})
    nest.Simulate(100.0)
    weight = nest.GetConnections(source, cell).get("weight")
    assert np.isfinite(weight) and weight <= rule["Wmax"]
    assert weight == pytest.approx(trace_rule(1.3, [10.0, 50.0], [20.0], 1.0, 100.0, **rule),
                                   abs=1e-12)


def test_exponential_dependence_takes_no_depression():
    nest = import_pynn_nest()[1]
    nest.ResetKernel()
    nest_extension.install(nest)
    with pytest.raises(Exception, match="nu_pre"):
        nest.SetDefaults(MODEL, {"exponential": True, "nu_pre": 0.1})


def _rule_params(rule, *more):
    return load_parameters("diehl_cook", None, [f"stdp.rule={rule}", "network.n_excitatory=5",
                                                "simulation.threads=1", *more])


@pytest.mark.parametrize("name", ["power_law", "exponential", "pre_and_post"])
def test_the_nest_backend_runs_the_trace_rules_as_stdp_trace_synapse(name):
    """With one NEST connection per synapse (kept beside the cells, the same rule runs in
    DenseInput: tests/test_dense_input.py)."""
    from spiking_mnist.hardware import open_backend
    from spiking_mnist.models import diehl_cook
    p = _rule_params(name, "simulation.input_delivery=events")
    backend = open_backend("nest", p)
    net = diehl_cook.build(backend.sim, p, 30, backend.input_synapse(p.stdp, 2.0),
                           cell_types=backend.cell_types)
    backend.attach(net, p.stdp, None)
    model = net.input_to_exc.nest_synapse_model
    defaults = backend._nest.GetDefaults(model)
    assert model.startswith(MODEL)
    expected = STDP_RULES[name].synapse(p.stdp, 2.0)
    assert defaults["exponential"] == expected.pop("exponential")
    assert {k: defaults[k] for k in expected} == pytest.approx(expected, rel=1e-15)
    weights = np.random.default_rng(1).uniform(0, 1, (30, 5))
    backend.set_weights(weights)
    np.testing.assert_allclose(backend.get_weights(), weights, rtol=1e-15)
    backend.normalise_in_place(7.0)
    np.testing.assert_allclose(backend.get_weights(),
                               diehl_cook.normalise_columns(weights, 7.0), rtol=1e-12)
    backend.end()


@pytest.mark.parametrize("name", ["power_law", "exponential", "pre_and_post"])
def test_the_trace_rules_need_the_fixed_step_conductance_cell(name):
    from spiking_mnist.hardware import backend_class
    with pytest.raises(ConfigError, match="stdp_trace_synapse"):
        backend_class("nest").check(_rule_params(name, "simulation.cell_integration=adaptive"))
