"""The NEST profile: a quiet import, and the input -> excitatory plasticity one synapse at a
time (D&C's rule and units)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from spiking_mnist.hardware import open_backend
from spiking_mnist.models import diehl_cook
from spiking_mnist.models.parameters import load_parameters

W0 = 0.5


def weight_change(pre_times, post_drive_times):
    """Change of the weight input 0 -> excitatory 0 for given spike times (ms) of input 0 and
    times (ms) at which a strong extra input makes excitatory neuron 0 fire.

    Two neurons of each kind (PyNN cannot connect 1 x 1 populations with numpy 2); input 1
    and excitatory neuron 1 stay silent.
    """
    p = load_parameters("diehl_cook", None, ["network.n_excitatory=2", "simulation.threads=1"])
    backend = open_backend("nest", p)
    sim = backend.sim
    net = diehl_cook.build(sim, p, 2,
                           backend.input_synapse(p.stdp, p.network.unit_conductance),  # nS
                           cell_types=backend.cell_types)
    drive = sim.Population(2, sim.SpikeSourceArray(spike_times=[post_drive_times, []]))
    sim.Projection(drive, net.excitatory, sim.OneToOneConnector(),
                   sim.StaticSynapse(
                       weight=300.0 * diehl_cook.synaptic_unit(p, "excitatory", "excitatory"),
                       delay=0.5),
                   receptor_type="excitatory")
    backend.attach(net, p.stdp, None)
    backend.set_weights(np.full((2, 2), W0))
    backend.set_delays(np.full((2, 2), 0.5))
    backend.set_input_spikes([np.asarray(pre_times, dtype=float), np.array([])])
    backend.run(400.0)
    post_spikes = np.bincount(backend.take_spikes()[1], minlength=2)
    assert post_spikes[1] == 0
    post_spikes = int(post_spikes[0])
    change = backend.get_weights()[0, 0] - W0
    backend.end()
    return change, post_spikes


def test_pre_before_post_potentiates():
    # two post spikes: D&C's potentiation needs the slow post trace of an earlier one;
    # the late input spike makes NEST apply the pending change
    change, post = weight_change([10.0, 300.0], [14.0, 19.0])
    assert post == 2
    # 0.01 * pre trace (~e^-10/20) * slow post trace (~e^-5/40)
    assert 0.004 < change < 0.007


def test_post_before_pre_depresses():
    change, post = weight_change([15.0], [9.0])
    assert post == 1
    # -0.0001 * post trace (~e^-5/20)
    assert -1e-4 < change < -6e-5


def test_no_post_spike_no_change():
    change, post = weight_change([10.0, 50.0, 90.0], [])
    assert post == 0 and change == 0.0


def test_import_is_silent():
    """Users see neither NEST's banner nor PyNN's warnings about building extensions, also
    in an activated environment (its ``bin`` on PATH, where NEST's wheel puts nest-config)."""
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable),
                                                 os.environ.get("PATH", "")]))
    code = ("from spiking_mnist.hardware.nest import NestBackend\n"
            "from spiking_mnist.models.parameters import load_defaults\n"
            "NestBackend(load_defaults(\"diehl_cook\").simulation, 10.0).end()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == "", (done.stdout, done.stderr)


def test_build_refuses_a_mask_of_the_wrong_shape():
    """A mask must mark (pre, post) pairs: transposed, it would connect the wrong ones."""
    p = load_parameters("diehl_cook", None, ["network.n_excitatory=3", "simulation.threads=1"])
    backend = open_backend("nest", p)
    with pytest.raises(ValueError, match="mask 'input_to_exc'"):
        diehl_cook.build(backend.sim, p, 4, backend.input_synapse(None, 1.0),
                         masks={"input_to_exc": np.ones((3, 4), dtype=bool)})
    backend.end()


def test_input_injectors_send_spikes_when_pynns_generator_and_parrot_would():
    """The profile's input (one ``spike_train_injector`` per input, with no device and relay
    per input to update at every step) makes a frozen network fire the very spikes that
    PyNN's own ``SpikeSourceArray`` makes, on the same steps. ``set_input_spikes(s)`` keeps
    the timing it had with PyNN's generator and relay: a spike at now + s + one step."""
    p = load_parameters("diehl_cook", None, ["network.n_excitatory=10", "simulation.threads=1"])
    rng = np.random.default_rng(4)
    n_inputs = 60
    times = [np.unique(rng.integers(4, 500, size=12)) * 0.5 for _ in range(n_inputs)]
    weights = rng.uniform(0.0, 1.0, (n_inputs, 10))
    delays = rng.integers(1, 21, (n_inputs, 10)) * 0.5
    fired = {}
    for source in ("injector", "pynn"):
        backend = open_backend("nest", p)
        cell_types = dict(backend.cell_types)
        if source == "pynn":
            del cell_types["SpikeSourceArray"]
        net = diehl_cook.build(backend.sim, p, n_inputs, backend.input_synapse(None, 1.0),
                               cell_types=cell_types)
        if source == "pynn":
            net.inputs.set(spike_times=[backend.sim.Sequence(t) for t in times])
        backend.attach(net, None, None)
        if source == "injector":
            backend.set_input_spikes([t - backend.now() - backend.timestep for t in times])
        backend.set_weights(weights)
        backend.set_delays(delays)
        backend.set_thresholds(np.full(10, p.excitatory.v_thresh))
        backend.run(300.0)
        fired[source] = backend.take_spikes()
        backend.end()
    assert fired["injector"][0].size > 20
    for ours, theirs in zip(fired["injector"], fired["pynn"]):
        assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("inhibitory", ["paired", "shared"])
def test_each_excitatory_spike_inhibits_the_other_excitatory_neurons(inhibitory):
    """Paired or shared, a winner-take-all inhibits alike: each excitatory spike makes one
    inhibitory spike that reaches every other excitatory neuron. Paired: each excitatory
    neuron has its own inhibitory neuron (N + N(N-1) synapses); shared: one for all (N + N).
    Neurons 0 and 2 are made to fire; 1 and 3, at rest and without input, are pushed
    below it."""
    n = 4
    p = load_parameters("diehl_cook", None, [f"network.n_excitatory={n}",
                                             f"network.inhibitory={inhibitory}",
                                             "excitatory.v_init=-65.0",
                                             "simulation.threads=1"])
    backend = open_backend("nest", p)
    sim = backend.sim
    net = diehl_cook.build(sim, p, n, backend.input_synapse(None, 1.0),
                           masks={"input_to_exc": np.eye(n, dtype=bool)},
                           cell_types=backend.cell_types)
    nest = backend._nest
    lateral = [len(nest.GetConnections(a.node_collection, b.node_collection))
               for a, b in ((net.excitatory, net.inhibitory), (net.inhibitory, net.excitatory))]
    assert net.inhibitory.size == (n if inhibitory == "paired" else 1)
    assert lateral == ([n, n * (n - 1)] if inhibitory == "paired" else [n, n])
    drive = sim.Population(n, sim.SpikeSourceArray(
        spike_times=[[10.0, 30.0, 50.0], [], [70.0, 90.0], []]))
    sim.Projection(drive, net.excitatory, sim.OneToOneConnector(),
                   sim.StaticSynapse(
                       weight=300.0 * diehl_cook.synaptic_unit(p, "excitatory", "excitatory"),
                       delay=1.0),
                   receptor_type="excitatory")
    backend.attach(net, None, None)
    backend.set_weights(np.zeros((n, n)))
    backend.set_delays(np.ones((n, n)))
    backend.set_thresholds(np.full(n, p.excitatory.v_thresh))
    backend.record(("excitatory",), ("v",), (1, 3))
    backend.record(("inhibitory",), (), ())
    backend.run(120.0)
    fired = np.bincount(backend.take_spikes()[1], minlength=n)
    recorded = backend.take_recorded()
    backend.end()
    assert fired.tolist() == [3, 0, 2, 0]
    inhibitory_spikes = np.bincount(recorded["inhibitory"]["spikes"][1],
                                    minlength=net.inhibitory.size)
    assert inhibitory_spikes.tolist() == ([3, 0, 2, 0] if inhibitory == "paired" else [5])
    _, neuron, v = recorded["excitatory"]["v"]
    for silent in (1, 3):
        assert v[neuron == silent].min() < p.excitatory.v_rest - 1.0


def test_more_threads_than_cores_are_warned_about_once(monkeypatch, caplog):
    from spiking_mnist.hardware import nest as nest_backend
    monkeypatch.setattr(nest_backend.os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.setattr(nest_backend, "_warned_threads", set())
    for threads in (1, 2, 2):
        p = load_parameters("diehl_cook", None, ["network.n_excitatory=2",
                                                 f"simulation.threads={threads}"])
        with caplog.at_level("WARNING", logger="spiking_mnist.hardware.nest"):
            open_backend("nest", p).end()
        warnings = [r.getMessage() for r in caplog.records if "core" in r.getMessage()]
        assert len(warnings) == (threads > 1), warnings     # none at 1, then once
    assert warnings[0].startswith("simulation.threads = 2, but this process has 1 core(s): "
                                  "NEST's threads spin")
    assert "set simulation.threads=1 or fewer" in warnings[0]


def test_node_collections_list_the_node_ids_nest_gives():
    from spiking_mnist.hardware.nest import import_pynn_nest
    _, nest = import_pynn_nest()
    nest.ResetKernel()
    cells = nest.Create("iaf_psc_alpha", 10) + nest.Create("parrot_neuron", 5)
    for nodes in (cells, cells[3:12], cells[[0, 4, 11, 14]], cells[7], cells[::2], cells[1:14:3],
                  nest.NodeCollection()):
        ids = [] if len(nodes) == 0 else np.atleast_1d(nodes.get("global_id")).tolist()
        assert nodes.tolist() == ids
        assert all(type(i) is int for i in nodes.tolist())
