"""Diehl & Cook's (2015) network training in Brian2 ``cpp_standalone``: one ``run()`` of E examples.

Runs in the Brian2 virtual environment that ``benchmarks/peer_brian2.py`` makes (Brian2 2.9,
``numpy<2.4``); it imports nothing from this project. It builds the network, compiles it once
into BUILD_DIR (a build of the same code in the same directory recompiles nothing), runs the
binary and writes one JSON object to ``--out``: build seconds (code generation and
compilation), the binary's wall seconds, the wall seconds of its ``run()`` (a
``clock_gettime`` around the run, inserted with ``device.insert_code``; Brian2's own
``last_run_info`` is CPU time without OpenMP), the binary's peak resident memory and the input
and excitatory spike counts.

    python brian2_diehl_cook.py --images IMAGES.npy --neurons 400 --threads 1 \\
        --build-dir DIR --out result.json [--build-only]

IMAGES.npy holds the E training images as uint8 rows of 784 pixels, in the order shown.
``--threads 1`` builds without OpenMP; ``--threads K`` (K > 1) with K OpenMP threads.

The network (constants of the original Brian 1 code, see
``/work/shared/reference/diehl-cook-2015.md`` section 1b), dt 0.5 ms:

- 784 Poisson inputs at pixel/4 Hz for 350 ms, then 150 ms at 0 Hz, per example: the rates
  come from a ``TimedArray`` of one row per example (dt 500 ms), gated to the first 700 steps
  of each example, so the whole training is a single ``run(E * 500 ms)``;
- N excitatory conductance cells (tau_m 100 ms, rest and reset -65 mV, threshold
  -52 mV + theta - 20 mV, refractory 5 ms, E_exc 0 mV, E_inh -100 mV, tau_ge 1 ms,
  tau_gi 2 ms, v starts at -105 mV), theta starting at 20 mV, raised by 0.05 mV at every
  spike and decaying with tau 1e7 ms; no ``timer`` gate (Brian2's own example adds one with
  ``dtimer/dt = 0.1`` that silences a cell for about 50 ms after a spike; this project has none);
- N inhibitory cells (tau_m 10 ms, rest -60 mV, reset -45 mV, threshold -40 mV, refractory
  2 ms, E_inh -85 mV, v starts at -100 mV); exc -> inh one-to-one, weight 10.4; inh -> every
  other exc, weight 17; no delays on either;
- input -> exc all-to-all, initial weights (rand() + 0.01) * 0.3, delays rand() * 10 ms
  (rounded to the step by Brian2), D&C's nearest-spike STDP: at a presynaptic spike
  ``pre = 1; w = clip(w - 0.0001 * post1, 0, 1)``, at a postsynaptic spike
  ``w = clip(w + 0.01 * pre * post2before, 0, 1); post1 = post2 = 1`` (tau_pre 20 ms,
  tau_post1 20 ms, tau_post2 40 ms);
- before every example (at its first step, before any input spike is delivered) each
  excitatory cell's input column is scaled to sum to 78. Without a ``network_operation``
  (not in standalone) and race-free under OpenMP: a custom event ``normalise`` of the
  excitatory cells (true at each example's first step) zeroes ``wsum`` and triggers a
  synaptic pathway ``wsum_post += w`` (it touches a postsynaptic variable, so Brian2 runs it
  on one thread), then a ``run_regularly`` on the synapses (dt 500 ms) does
  ``w = w * 78 / wsum_post``, which writes only synaptic variables and so is parallel and
  safe. (A ``run_regularly`` that wrote ``wsum_post += w`` would race under OpenMP; a
  ``(summed)`` variable would sum all N x 784 weights at every 0.5 ms step.) Checked at
  N=20, 2 OpenMP threads, with a ``StateMonitor`` after the scaling: every column sums to 78
  at every example's start.
- no re-show rule: every example is shown once, whatever the excitatory spikes it evokes.

Cells are integrated with exponential Euler (exact for the conductances and, given them, for
v over one step), as this project's ``iaf_cond_exp_fixed_step`` does.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DT_MS = 0.5
PRESENTATION_MS, REST_MS = 350.0, 150.0
RATE_PER_PIXEL_HZ = 0.25          # pixel / 8 Hz per unit of intensity, intensity 2
COLUMN_SUM = 78.0
WALL_FILE = "wall_run_seconds.txt"
PEAK_FILE = "peak_memory.txt"     # VmHWM of the binary after its run, "N kB"


def build_and_run(images: np.ndarray, neurons: int, threads: int, build_dir: Path,
                  seed: int, build_only: bool) -> dict:
    import brian2 as b2
    from brian2 import Hz, mV, ms

    b2.set_device("cpp_standalone", directory=str(build_dir), build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    b2.defaultclock.dt = DT_MS * ms
    b2.seed(seed)
    n_examples, n_inputs = images.shape
    steps_per_example = round((PRESENTATION_MS + REST_MS) / DT_MS)
    showing_steps = round(PRESENTATION_MS / DT_MS)
    example = (PRESENTATION_MS + REST_MS) * ms

    # Brian2 finds ``stimulus`` by name in this function's namespace at run()
    stimulus = b2.TimedArray(images.astype(np.float64) * RATE_PER_PIXEL_HZ * Hz,  # noqa: F841
                             dt=example)
    inputs = b2.PoissonGroup(
        n_inputs, rates=f"stimulus(t, i) * int(timestep(t, dt) % {steps_per_example}"
                        f" < {showing_steps})", name="inputs")

    cell = """
    dv/dt = ((v_rest - v) + ge * (e_exc - v) + gi * (e_inh - v)) / tau_m : volt (unless refractory)
    dge/dt = -ge / tau_ge : 1
    dgi/dt = -gi / tau_gi : 1
    """
    exc = b2.NeuronGroup(
        neurons, cell + """
        dtheta/dt = -theta / tau_theta : volt
        wsum : 1
        """,
        threshold="v > v_thresh + theta - theta_offset", reset="v = v_reset; theta += theta_plus",
        refractory=5 * ms, method="exponential_euler",
        events={"normalise": f"timestep(t, dt) % {steps_per_example} == 0"},
        namespace=dict(v_rest=-65 * mV, v_reset=-65 * mV, v_thresh=-52 * mV, tau_m=100 * ms,
                       e_exc=0 * mV, e_inh=-100 * mV, tau_ge=1 * ms, tau_gi=2 * ms,
                       tau_theta=1e7 * ms, theta_offset=20 * mV, theta_plus=0.05 * mV),
        name="exc")
    exc.v = -105 * mV
    exc.theta = 20 * mV
    exc.run_on_event("normalise", "wsum = 0", when="before_synapses")

    inh = b2.NeuronGroup(
        neurons, cell,
        threshold="v > v_thresh", reset="v = v_reset", refractory=2 * ms,
        method="exponential_euler",
        namespace=dict(v_rest=-60 * mV, v_reset=-45 * mV, v_thresh=-40 * mV, tau_m=10 * ms,
                       e_exc=0 * mV, e_inh=-85 * mV, tau_ge=1 * ms, tau_gi=2 * ms),
        name="inh")
    inh.v = -100 * mV

    exc_inh = b2.Synapses(exc, inh, on_pre="ge_post += 10.4", name="exc_inh")
    exc_inh.connect(j="i")
    inh_exc = b2.Synapses(inh, exc, on_pre="gi_post += 17.0", name="inh_exc")
    inh_exc.connect(condition="i != j")

    stdp = b2.Synapses(
        inputs, exc, """
        w : 1
        post2before : 1
        dpre/dt = -pre / (20 * ms) : 1 (event-driven)
        dpost1/dt = -post1 / (20 * ms) : 1 (event-driven)
        dpost2/dt = -post2 / (40 * ms) : 1 (event-driven)
        """,
        on_pre="ge_post += w; pre = 1; w = clip(w - 0.0001 * post1, 0, 1)",
        on_post={"post": "post2before = post2; w = clip(w + 0.01 * pre * post2before, 0, 1);"
                         " post1 = 1; post2 = 1",
                 "column_sum": "wsum_post += w"},
        on_event={"post": "spike", "column_sum": "normalise"},
        name="input_exc")
    stdp.connect()
    stdp.w = "(rand() + 0.01) * 0.3"
    stdp.delay = "rand() * 10 * ms"
    # at an example's first step: wsum = 0 (before_synapses), the column sums (order -3),
    # the scaling (order -2), then this step's input spikes (the pre pathway, order -1)
    stdp.column_sum.order = -3
    stdp.run_regularly(f"w = w * {COLUMN_SUM!r} / wsum_post", dt=example, when="synapses",
                       order=-2, name="input_exc_normalise")

    input_count = b2.SpikeMonitor(inputs, record=False, name="input_count")
    exc_count = b2.SpikeMonitor(exc, record=False, name="exc_count")

    b2.device.insert_code("before_network_run",
                          "struct timespec _wall_began; "
                          "clock_gettime(CLOCK_MONOTONIC, &_wall_began);")
    b2.device.insert_code("after_network_run", f"""
        struct timespec _wall_ended;
        clock_gettime(CLOCK_MONOTONIC, &_wall_ended);
        {{
            std::ofstream _wall_out(results_dir + "{WALL_FILE}");
            _wall_out.precision(12);
            _wall_out << (_wall_ended.tv_sec - _wall_began.tv_sec)
                         + 1e-9 * (_wall_ended.tv_nsec - _wall_began.tv_nsec) << std::endl;
            std::ifstream _status("/proc/self/status");
            std::ofstream _peak_out(results_dir + "{PEAK_FILE}");
            std::string _line;
            while (std::getline(_status, _line))
                if (_line.rfind("VmHWM:", 0) == 0) _peak_out << _line.substr(6) << std::endl;
        }}""")
    b2.run(n_examples * example)

    began = time.perf_counter()
    b2.device.build(directory=str(build_dir), compile=True, run=False, with_output=False)
    result = {"neurons": neurons, "examples": n_examples, "threads": threads,
              "openmp": threads > 1, "brian2": b2.__version__,
              "build_seconds": time.perf_counter() - began,
              "make_seconds": b2.device.timers["compile"]["make"]}
    if build_only:
        return result
    began = time.perf_counter()
    b2.device.run(directory=str(build_dir), with_output=False)
    binary_seconds = time.perf_counter() - began
    run_seconds = float((build_dir / "results" / WALL_FILE).read_text())
    peak_kib = float((build_dir / "results" / PEAK_FILE).read_text().split()[0])
    input_spikes = int(np.sum(input_count.count[:]))
    exc_spikes = int(np.sum(exc_count.count[:]))
    columns = np.zeros(neurons)
    np.add.at(columns, np.asarray(stdp.j[:]), np.asarray(stdp.w[:]))
    result.update(
        binary_seconds=binary_seconds, run_seconds=run_seconds, binary_peak_mib=peak_kib / 1024,
        brian2_last_run_time=float(b2.device._last_run_time),
        examples_per_second=n_examples / run_seconds,
        input_spikes=input_spikes, exc_spikes=exc_spikes,
        input_events_per_second=input_spikes * neurons / run_seconds,
        exc_spikes_per_example=exc_spikes / n_examples,
        # after the last example's STDP: D&C's 78 plus what the last example learned
        final_column_sum_mean=float(columns.mean()),
        final_theta_mean_mv=float(np.mean(exc.theta[:] / mV)))
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--images", required=True, help=".npy of uint8 rows of 784 pixels")
    ap.add_argument("--neurons", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1, help="1: no OpenMP; K > 1: K threads")
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="JSON file of the figures")
    ap.add_argument("--build-only", action="store_true", help="generate and compile only")
    args = ap.parse_args(argv)
    images = np.load(args.images)
    build_dir = Path(args.build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    result = build_and_run(images, args.neurons, args.threads, build_dir, args.seed,
                           args.build_only)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
