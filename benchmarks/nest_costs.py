"""What the NEST profile's choices cost: NEST's iaf_cond_exp against this project's fixed-step
iaf_cond_exp_fixed_step (spikes and seconds), and reading input weights through PyNEST against the
module's kernel functions.

    python benchmarks/nest_costs.py --cells 30 --neurons 100 400 1600

Agreement: ``--cells`` D&C excitatory cells (1 nS units, threshold -52 mV), each driven by its
own fixed input (784 Poisson trains at the rates of a random sparse image, doubled, through
random weights summing to 78 nS, and 5 strong inhibitory pulses) for 350 ms, run once with
each model: spike counts and how many spikes fall on the same time step. Then D&C's
inhibitory cell driven by 200 single excitatory spikes at D&C's weight (10.4 nS).
Cost: for each N, 2N cells of each model behind 784 inputs (``spike_train_injector``, as the
profile runs them; all-to-all, static synapses, the same Poisson input) for 5 s of model time;
seconds per 500 ms (one example's presentation and rest) at ``--threads`` threads; then the
fixed-step cells behind PyNN's own input, a ``spike_generator`` + ``parrot_neuron`` per input.
Weights: the input weights of an N=400 D&C network (784 STDP synapses per neuron) read
through PyNEST (``--columns`` neurons) and through the module (all, and ``--columns``
neurons), and written through the module; microseconds per connection, 1 thread.
STDP (``--stdp N``, alone with ``--stdp-only``): the input synapses of D&C's two rules
(``stdp.rule``: NEST's ``stdp_triplet_synapse``, the module's ``stdp_dc_synapse``) and a
static synapse, each in the same network: 784 inputs at D&C's rates of a random sparse image
onto N fixed-step cells made to spike at the same random times (``--post-rate`` Hz each,
whatever the weights), 5 s of model time, run in turn ``--repeats`` times (A B C A B C);
the fastest run of each, as wall nanoseconds per synaptic event (an input spike reaching
one synapse), and beyond the static synapse's. With ``--instructions``, instead, the
instructions NEST's simulation loop executes per synaptic event, counted by valgrind's
callgrind in one run of each (``--duration`` ms): the same on any machine and whatever else
it runs, which times are not.

    python benchmarks/nest_costs.py --stdp 100 400 --stdp-only --instructions --duration 300
"""
from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from spiking_mnist.hardware import nest_extension
from spiking_mnist.hardware.nest import import_pynn_nest

EXCITATORY = dict(C_m=100.0, g_L=1.0, E_L=-65.0, V_reset=-65.0, V_th=-52.0, t_ref=5.0,
                  E_ex=0.0, E_in=-100.0, tau_syn_ex=1.0, tau_syn_in=2.0, V_m=-65.0)
INHIBITORY = dict(C_m=10.0, g_L=1.0, E_L=-60.0, V_reset=-45.0, V_th=-40.0, t_ref=2.0,
                  E_ex=0.0, E_in=-85.0, tau_syn_ex=1.0, tau_syn_in=2.0, V_m=-60.0)
MODELS = ("iaf_cond_exp", "iaf_cond_exp_fixed_step")


def _kernel(nest, dt: float, threads: int = 1):
    nest.ResetKernel()
    nest.resolution = dt
    nest.local_num_threads = threads
    nest_extension.install(nest)


def _on_grid(times: np.ndarray, dt: float) -> np.ndarray:
    return np.unique(np.round(times / dt) * dt)


def _recorder_of(nest, cells):
    recorder = nest.Create("spike_recorder")
    nest.Connect(cells, recorder)
    return recorder


def excitatory_agreement(nest, model: str, cells: int, dt: float, seed: int = 3):
    """(cell index, spike time) of ``cells`` excitatory cells of ``model`` on the fixed input."""
    _kernel(nest, dt)
    rng = np.random.default_rng(seed)
    neurons = nest.Create(model, cells, params=EXCITATORY)
    for j in range(cells):
        rates = np.where(rng.random(784) < 0.19, rng.uniform(0, 127.5, 784), 0.0)
        weights = rng.random(784)
        weights *= 78.0 / weights.sum()
        inputs = nest.Create("spike_generator", 784, params=[
            {"spike_times": _on_grid(rng.uniform(1, 350, rng.poisson(r * 0.35)), dt).tolist()}
            for r in rates])
        nest.Connect(inputs, neurons[j], "all_to_all", {"weight": weights[None, :]})
        pulses = nest.Create("spike_generator",
                             params={"spike_times": _on_grid(rng.uniform(1, 350, 5), dt)})
        nest.Connect(pulses, neurons[j], syn_spec={"weight": -17.0})
    recorder = _recorder_of(nest, neurons)
    nest.Simulate(360.0)
    events = recorder.events
    return events["senders"] - neurons[0].global_id, events["times"]


def inhibitory_agreement(nest, model: str, dt: float) -> np.ndarray:
    """Spike times of D&C's inhibitory cell given 200 random single excitatory spikes."""
    _kernel(nest, dt)
    cell = nest.Create(model, params=INHIBITORY)
    drive = nest.Create("spike_generator", params={
        "spike_times": _on_grid(np.random.default_rng(0).uniform(1, 2000, 200), dt)})
    nest.Connect(drive, cell, syn_spec={"weight": 10.4, "delay": dt})
    recorder = _recorder_of(nest, cell)
    nest.Simulate(2100.0)
    return recorder.events["times"]


def seconds_per_example(nest, model: str, n: int, threads: int, dt: float,
                        source: str = "injector", seed: int = 1) -> float:
    """Wall seconds per 500 ms of model time of 2n cells behind 784 Poisson inputs, each a
    ``spike_train_injector`` (the profile's) or a ``spike_generator`` + ``parrot_neuron``
    pair (PyNN's ``SpikeSourceArray``), ``source`` = "injector" or "parrot"."""
    _kernel(nest, dt, threads)
    rng = np.random.default_rng(seed)
    cells = nest.Create(model, 2 * n, params=EXCITATORY)
    duration = 5000.0
    rates = np.where(rng.random(784) < 0.19, rng.uniform(0, 63.75, 784), 0.0)
    trains = [{"spike_times": _on_grid(rng.uniform(1, duration, rng.poisson(r * duration / 1e3)),
                                       dt)} for r in rates]
    if source == "parrot":
        inputs = nest.Create("parrot_neuron", 784)
        nest.Connect(nest.Create("spike_generator", 784, params=trains), inputs, "one_to_one")
    else:
        inputs = nest.Create("spike_train_injector", 784, params=trains)
    nest.Connect(inputs, cells, "all_to_all",
                 {"weight": rng.uniform(0, 0.1, (2 * n, 784)), "delay": 1.0})
    nest.Simulate(10.0)
    began = time.perf_counter()
    nest.Simulate(duration)
    return (time.perf_counter() - began) / (duration / 500.0)


def _forced_spikes(nest, cells, rate: float, duration: float, dt: float, rng) -> None:
    """Make ``cells`` (no refractory time, excitatory reversal at rest) spike at random
    times, ``rate`` Hz each: a strong current during the step 1.5 ms before each spike."""
    for cell in cells:
        times = _on_grid(rng.uniform(3 * dt + 1, duration, rng.poisson(rate * duration / 1e3)), dt)
        on = {t - 3 * dt for t in times.tolist()}
        changes = sorted([(a, 1e6) for a in on if a - dt not in on]
                         + [(a + dt, 0.0) for a in on if a + dt not in on])
        if changes:
            nest.Connect(nest.Create("step_current_generator", params={
                "amplitude_times": [t for t, _ in changes],
                "amplitude_values": [v for _, v in changes]}), cell)


def stdp_seconds(nest, rule, n: int, threads: int, dt: float,
                 duration: float = 5000.0, post_rate: float = 5.0,
                 seed: int = 1, clock=time.perf_counter) -> tuple[float, int]:
    """Wall seconds to simulate ``duration`` ms of 784 inputs at D&C's rates of a random
    sparse image onto ``n`` fixed-step cells, all-to-all through the input synapse of
    ``stdp.rule`` ``rule`` (D&C's constants, 1 nS per weight unit), of a NEST profile
    ``StdpRule``, or a static synapse (None); the cells spike at the same random times
    whatever the synapse (``post_rate`` Hz each). Also the synaptic events (input spikes
    times ``n``) in that time. ``clock``: wall time, or e.g. ``time.process_time`` for the
    CPU time of the process (steadier on a busy machine, equal to wall at 1 thread)."""
    from spiking_mnist.hardware.nest import STDP_RULES
    from spiking_mnist.models.parameters import load_parameters
    stdp = load_parameters("diehl_cook").stdp
    _kernel(nest, dt, threads)
    rng = np.random.default_rng(seed)
    cells = nest.Create("iaf_cond_exp_fixed_step", n, params=dict(
        EXCITATORY, E_ex=EXCITATORY["E_L"], t_ref=0.0))
    _forced_spikes(nest, cells, post_rate, duration + 10.0, dt, rng)
    rates = np.where(rng.random(784) < 0.19, rng.uniform(0, 63.75, 784), 0.0)
    trains = [_on_grid(rng.uniform(1, duration + 10.0,
                                   rng.poisson(r * (duration + 10.0) / 1e3)), dt)
              for r in rates]
    inputs = nest.Create("spike_train_injector", 784,
                         params=[{"spike_times": t.tolist()} for t in trains])
    spec = {"synapse_model": "static_synapse"}
    if rule is not None:
        model = STDP_RULES[rule] if isinstance(rule, str) else rule
        nest.SetDefaults(model.synapse_model, model.synapse(stdp, 1.0))
        if model.cells(stdp):
            cells.set(**model.cells(stdp))
        spec = {"synapse_model": model.synapse_model}
    nest.Connect(inputs, cells, "all_to_all", dict(
        spec, weight=rng.uniform(0, 0.3, (n, 784)),
        delay=np.round(rng.uniform(dt, 10.0, (n, 784)) / dt) * dt))
    nest.Simulate(10.0)
    began = clock()
    nest.Simulate(duration)
    seconds = clock() - began
    events = n * sum(int(((t > 10.0) & (t <= 10.0 + duration)).sum()) for t in trains)
    return seconds, events


def stdp_nanoseconds(nest, n: int, threads: int, dt: float, repeats: int = 3,
                     post_rate: float = 5.0, duration: float = 5000.0,
                     only: tuple[str, ...] | None = None,
                     clock=time.perf_counter) -> dict[str, float]:
    """Wall nanoseconds per synaptic event of :func:`stdp_seconds` for a static synapse and
    each ``stdp.rule`` (NEST's own synapse for ``triplet_all_to_all`` too), the fastest of
    ``repeats`` runs taken in turn; ``only`` those names; ``clock`` as for
    :func:`stdp_seconds`."""
    rules = _stdp_synapses(only)
    best = {name: np.inf for name in rules}
    for _ in range(repeats):
        for name, rule in rules.items():
            seconds, events = stdp_seconds(nest, rule, n, threads, dt, duration, post_rate,
                                           clock=clock)
            best[name] = min(best[name], 1e9 * seconds / events)
    return best


def _stdp_synapses(only: tuple[str, ...] | None = None) -> dict:
    """The synapses of the STDP comparison by name: None (static), a ``stdp.rule`` name, or
    NEST's own synapse's profile ``StdpRule``; ``only`` those names."""
    from spiking_mnist.hardware.nest import STDP_RULES
    rules = {"static_synapse": None,
             "stdp_triplet_synapse (triplet_all_to_all, NEST's)":
                 STDP_RULES["triplet_all_to_all"].other_cells}
    rules.update({f"{STDP_RULES[rule].synapse_model} ({rule})": rule for rule in STDP_RULES})
    return {name: rule for name, rule in rules.items() if only is None or name in only}


# valgrind's client request that starts callgrind's instrumentation (the Python start-up
# before it would take minutes instrumented)
_START_INSTRUMENTATION = """#include <valgrind/callgrind.h>
void start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
"""
# one call per nest.Simulate: callgrind counts inside it and dumps the count after it
_SIMULATION_LOOP = "nest::SimulationManager::call_update_()"


def stdp_instructions(n: int, duration: float = 300.0, post_rate: float = 5.0,
                      only: tuple[str, ...] | None = None) -> dict[str, float]:
    """Instructions per synaptic event that NEST's simulation loop executes in
    :func:`stdp_seconds` for a static synapse and each ``stdp.rule`` (as
    :func:`stdp_nanoseconds`; 1 thread, one run each), counted by valgrind's callgrind in a
    child process: a count that does not depend on the machine's load, unlike a time.

    Raises
    ------
    RuntimeError
        If valgrind, its header ``valgrind/callgrind.h`` or a C compiler is missing, or if
        callgrind did not count one simulation per run (another NEST's loop function).
    """
    names = list(_stdp_synapses(only))
    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "start_instrumentation.so"
        try:
            subprocess.run([os.environ.get("CC", "gcc"), "-shared", "-fPIC", "-x", "c", "-",
                            "-o", str(library)], input=_START_INSTRUMENTATION, text=True,
                           check=True, capture_output=True)
            child = subprocess.run(
                ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                 f"--callgrind-out-file={tmp}/counts", f"--toggle-collect={_SIMULATION_LOOP}",
                 f"--dump-after={_SIMULATION_LOOP}", sys.executable, __file__,
                 "--callgrind-child", str(library), "--stdp", str(n), "--stdp-only",
                 "--duration", str(duration), "--post-rate", str(post_rate), "--only", *names],
                text=True, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            raise RuntimeError("counting instructions needs valgrind (with its header "
                               "valgrind/callgrind.h, Debian's package valgrind) and a C "
                               f"compiler: {error}\n{getattr(error, 'stderr', '')}") from error
        events = [int(line.split()[-1]) for line in child.stdout.splitlines()
                  if line.startswith("events ")]
        dumps = sorted(Path(tmp).glob("counts.*"), key=lambda path: int(path.suffix[1:]))
        if len(events) != len(names) or len(dumps) != 2 * len(names):
            raise RuntimeError(f"callgrind dumped {len(dumps)} counts of {_SIMULATION_LOOP} for "
                               f"{len(names)} runs of two simulations each")
        # each run simulates 10 ms to set up, then the measured ``duration``
        counts = [int(next(line for line in path.read_text().splitlines()
                           if line.startswith("totals:")).split()[1]) for path in dumps[1::2]]
    return {name: count / e for name, count, e in zip(names, counts, events)}


def _callgrind_child(library: str, n: int, duration: float, post_rate: float,
                     only: tuple[str, ...]) -> None:
    """:func:`stdp_instructions`'s runs, under callgrind: the synaptic events of each."""
    _, nest = import_pynn_nest()
    ctypes.CDLL(library).start_instrumentation()
    for rule in _stdp_synapses(only).values():
        _, events = stdp_seconds(nest, rule, n, 1, 0.5, duration, post_rate)
        print(f"events {events}", flush=True)


def weight_microseconds(columns: int) -> dict[str, float]:
    """Microseconds per connection to read the input weights of an N=400 network: ``columns``
    columns through PyNEST's connection status, and through the module all columns (as
    normalisation reads them) and ``columns`` columns; and to write all through the module."""
    from spiking_mnist.hardware import nest as nest_profile
    from spiking_mnist.models import diehl_cook
    from spiking_mnist.models.parameters import load_parameters
    from spiking_mnist.runners.session import open_network
    params = load_parameters("diehl_cook", None, ["network.n_excitatory=400",
                                                  "simulation.threads=1"])
    rng = np.random.default_rng(0)
    backend, network = open_network(params, "nest", rng.uniform(0, 0.3, (784, 400)),
                                    diehl_cook.input_delays(params, 784, rng),
                                    np.full(400, 20.0), plastic=True)
    chosen = np.linspace(0, 399, columns).astype(int)

    def per_connection(read, connections: int) -> float:
        began = time.perf_counter()
        read()
        return 1e6 * (time.perf_counter() - began) / connections

    weights = backend.get_weights()
    inputs, cells = network.inputs.node_collection, network.excitatory.node_collection
    by_column = [backend._nest.GetConnections(inputs, cells[j]) for j in chosen]
    out = {"PyNEST": per_connection(lambda: [nest_profile._connection_values(c, "weight")
                                             for c in by_column], 784 * columns),
           "module, all columns": per_connection(backend.get_weights, 784 * 400),
           f"module, {columns} columns": per_connection(lambda: backend.get_weights(chosen),
                                                        784 * columns),
           "module, writing all": per_connection(lambda: backend.set_weights(weights),
                                                 784 * 400)}
    backend.end()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=30)
    ap.add_argument("--neurons", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--columns", type=int, default=50)
    ap.add_argument("--timestep", type=float, default=0.5, help="ms (the SpiNNaker variant: 1)")
    ap.add_argument("--stdp", type=int, nargs="*", default=[400],
                    help="N of the STDP synapse comparison (none: skip it)")
    ap.add_argument("--stdp-only", action="store_true", help="only the STDP comparison")
    ap.add_argument("--post-rate", type=float, default=5.0,
                    help="Hz of each cell in the STDP comparison")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5000.0,
                    help="ms of model time of each run of the STDP comparison")
    ap.add_argument("--instructions", action="store_true",
                    help="STDP comparison: instructions per synaptic event (valgrind's "
                         "callgrind, 1 thread, one run each), not nanoseconds")
    ap.add_argument("--callgrind-child", help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.callgrind_child:
        _callgrind_child(args.callgrind_child, args.stdp[0], args.duration, args.post_rate,
                         tuple(args.only))
        return
    if args.instructions:
        for n in args.stdp:
            counts = stdp_instructions(n, args.duration, args.post_rate)
            static = counts["static_synapse"]
            print(f"input synapses, N={n}, cells at {args.post_rate:g} Hz, {args.duration:g} ms: "
                  "instructions per synaptic event (beyond a static synapse's): "
                  + ", ".join(f"{k} {v:.1f} ({v - static:+.1f})" for k, v in counts.items()))
        return
    _, nest = import_pynn_nest()
    for n in args.stdp:
        costs = stdp_nanoseconds(nest, n, args.threads, args.timestep, args.repeats,
                                 args.post_rate, args.duration)
        static = costs["static_synapse"]
        print(f"input synapses, N={n}, cells at {args.post_rate:g} Hz, {args.threads} "
              f"thread(s), fastest of {args.repeats}: ns per synaptic event (beyond a static "
              "synapse's): " + ", ".join(f"{k} {v:.1f} ({v - static:+.1f})"
                                          for k, v in costs.items()))
    if args.stdp_only:
        return
    (ref_cell, ref_time), (cell, times) = (excitatory_agreement(nest, m, args.cells, args.timestep)
                                           for m in MODELS)
    ref_counts = np.bincount(ref_cell, minlength=args.cells)
    counts = np.bincount(cell, minlength=args.cells)
    same = sum(int(np.isin(times[cell == j], ref_time[ref_cell == j]).sum())
               for j in range(args.cells))
    print(f"excitatory cells: {ref_time.size} spikes (iaf_cond_exp), {times.size} "
          f"(iaf_cond_exp_fixed_step); same count in {int((counts == ref_counts).sum())} of "
          f"{args.cells} cells; {same} spikes ({same / max(ref_time.size, 1):.1%}) on the same "
          "time step")
    ref_inh, inh = (inhibitory_agreement(nest, m, args.timestep) for m in MODELS)
    print(f"inhibitory cell: {ref_inh.size} and {inh.size} spikes, "
          f"{int(np.isin(inh, ref_inh).sum())} on the same time step")
    print("N | " + " | ".join(f"{m} s per example" for m in MODELS)
          + f" | {MODELS[1]} behind generator + parrot pairs")
    for n in args.neurons:
        costs = [seconds_per_example(nest, m, n, args.threads, args.timestep) for m in MODELS]
        costs.append(seconds_per_example(nest, MODELS[1], n, args.threads, args.timestep,
                                         "parrot"))
        print(f"{n} | " + " | ".join(f"{c:.4f}" for c in costs))
    costs = weight_microseconds(args.columns)
    print("input weights, us per connection (reading unless said): "
          + ", ".join(f"{k} {v:.3f}" for k, v in costs.items()))


if __name__ == "__main__":
    main()
