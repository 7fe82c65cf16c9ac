"""Peer benchmark: this project's training against a Brian2 ``cpp_standalone`` build of the same
Diehl & Cook network, one after the other on the same machine.

    python benchmarks/peer_brian2.py --neurons 400 1600 --examples 500 100 --repeats 2

Run it on an otherwise idle machine (on a shared one, at least serialised with the other
simulations, e.g. ``flock /tmp/nest.lock python benchmarks/peer_brian2.py ...``): timings on a
2-core machine vary by about 20 % from run to run, and by far more when anything else runs.
Threads that wait for each other collapse when the cores are taken: with two other
simulations running, N=20 and 20 examples took 0.09 s in Brian2 without OpenMP, 127 s with 2
OpenMP threads, and 44 s in this project at 2 threads (a warning is printed if the load
average is above 0.5 at the start).

What it does, for each N (``--examples`` gives one count per N, or one for all):

1. makes Brian2's virtual environment if it is missing or broken (``--venv``, default
   ``~/.cache/spiking-mnist/brian2-venv``: ``pip install "brian2==2.9.*" "numpy<2.4"``, which
   Brian2 2.9 needs on Python 3.11) and prints how long that took;
2. writes the first E training images this project's ``train`` shows (the MNIST files found
   by ``spiking_mnist.load_mnist``, the validation split carved out and the example order
   drawn as ``train`` does, seed ``--seed``) for Brian2;
3. generates and compiles ``benchmarks/brian2_diehl_cook.py`` once per thread configuration
   (``--brian2-threads``, default 1 = no OpenMP, and 2 OpenMP threads) into ``--work-dir``
   and prints the build seconds (a second build of the same code recompiles nothing);
4. then ``--repeats`` times, alternating: each Brian2 binary (the whole training is one
   ``run()``), then ``spiking-mnist train --run-dir TMP --neurons N --examples E --quiet``
   with the default parameters at ``--project-threads`` (2) threads, plus any
   ``--project-set SECTION.NAME=VALUE`` (e.g. ``--project-set stdp.rule=nearest_spike``).

It prints, per N and configuration, training examples per second (median and every run),
input synaptic events per second (input spikes delivered x N targets / s), the excitatory
spikes per example (both networks should be in the same regime), the peak resident memory,
and the ratio of this project's median to the median of Brian2's fastest configuration. The
figures go to WORK_DIR/peer_brian2.json too, with the project's STDP rule and theta mode as
its run recorded them.

Timing. Examples per second are over the training loop only, in wall time: for Brian2, the
binary's ``run()`` (a ``clock_gettime`` around it; building the synapses, loading arrays and
writing results excluded; the whole binary's wall time is in the JSON); for this project,
``train_examples_per_second`` of the run's checkpoint manifest (the showing loop; building the
NEST network and writing the checkpoint excluded; the process's wall time is in the JSON).
Input spikes: Brian2 counts its ``PoissonGroup``'s spikes with a ``SpikeMonitor``; this project
from ``input_spikes`` in the manifest (re-shows included).

What is identical: dt 0.5 ms; D&C's constants (``spiking_mnist/models/diehl_cook.toml``, the
original Brian 1 code's); conductance cells; the same E images in the same order, 350 ms at
pixel/4 Hz then 150 ms of rest per example; 784 x N all-to-all input synapses with weights
(rand + 0.01) x 0.3 and delays uniform in 0-10 ms; STDP with D&C's rates and time constants
(nu_pre 0.0001, nu_post 0.01, tau 20 / 20 / 40 ms), weights clipped to [0, 1]; every
excitatory cell's input column scaled to sum to 78 before every example; theta from 20 mV,
+0.05 mV per spike, tau 1e7 ms; one inhibitory cell per excitatory cell inhibiting every
other one.

What differs:

- the STDP rule's traces: Brian2 runs D&C's nearest-spike rule (pre = 1,
  ``w -= 0.0001 * post1`` at a presynaptic spike, ``w += 0.01 * pre * post2before`` at a
  postsynaptic one, then post1 = post2 = 1), keeping pre, post1 and post2 per synapse and
  decaying them (one exp each) at every event. This project runs its default ``stdp.rule``:
  when this was written ``triplet_all_to_all`` (NEST's ``stdp_triplet_synapse``: traces
  summed over all spikes, potentiation applied at the next presynaptic spike);
  ``--project-set stdp.rule=nearest_spike`` runs D&C's rule (``stdp_dc_synapse``);
- no re-show rule in the Brian2 build: an example evoking fewer than 5 excitatory spikes is
  not shown again at a higher rate, while this project's default shows it again (its time
  and input spikes include those re-shows);
- Brian2 raises theta at every spike, inside the simulation; this project's default
  (``theta.kept = host``) raises it after each example from that example's spike counts;
- no delays on exc -> inh and inh -> exc in Brian2 (as D&C); this project uses one 0.5 ms
  step, the least NEST allows. Brian2 rounds the input delays to the step, 0 included;
  this project raises them to at least one step;
- Brian2 draws its Poisson input spikes inside the simulation; this project draws them on
  the host and feeds them in (different random spikes at the same rates);
- parallelism: Brian2's input -> exc ``on_pre`` (``ge_post += w``) touches a postsynaptic
  variable, so its OpenMP build runs that pathway, the bulk of the work, on one thread while
  the other waits (2 threads are slower than 1 and vary run to run); the normalisation's
  column sum runs on one thread for the same reason, its scaling on all threads;
- no ``timer`` gate in the Brian2 build (Brian2's own D&C example adds one that silences a
  cell for about 50 ms after each spike; neither D&C's constants nor this project have it).

BindsNET (batch 1) is not included: ``pip install bindsnet`` (0.3.4) needs torch >= 2.14,
torchvision, gymnasium[atari], ale-py and opencv-python, and from the package index torch 2.14
on Linux x86-64 brings its CUDA 13 libraries (nvidia-cudnn, -cublas, -nccl, -cusparse, -cufft,
-cusolver, -nvshmem, ... and triton): several gigabytes on a machine without a GPU, not a
quick install (PyTorch publishes its CPU-only wheels on its own index, not on PyPI).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BRIAN2_SCRIPT = HERE / "brian2_diehl_cook.py"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "spiking-mnist"
BRIAN2_REQUIREMENTS = ["brian2==2.9.*", "numpy<2.4"]
PROJECT = "project"


def brian2_config(threads: int) -> str:
    return f"brian2-{threads}"


def config_label(config: str, project_threads: int) -> str:
    if config == PROJECT:
        return f"this project, {project_threads} thread{'s' * (project_threads > 1)}"
    threads = int(config.split("-")[1])
    return ("Brian2 standalone, 1 thread (no OpenMP)" if threads == 1
            else f"Brian2 standalone, {threads} OpenMP threads")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--neurons", type=int, nargs="+", default=[400, 1600])
    ap.add_argument("--examples", type=int, nargs="+", default=[500, 100],
                    help="training examples from scratch: one count per --neurons, or one for all")
    ap.add_argument("--repeats", type=int, default=2, help="alternations of Brian2 and project")
    ap.add_argument("--brian2-threads", type=int, nargs="+", default=[1, 2],
                    help="Brian2 builds: 1 = without OpenMP, K > 1 = K OpenMP threads")
    ap.add_argument("--project-threads", type=int, default=2)
    ap.add_argument("--project-set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                    help="extra parameter override for this project's training (repeatable)")
    ap.add_argument("--seed", type=int, default=1, help="this project's seed (example order) "
                    "and Brian2's")
    ap.add_argument("--venv", type=Path, default=CACHE / "brian2-venv",
                    help="Brian2's virtual environment, made if missing")
    ap.add_argument("--work-dir", type=Path, default=CACHE / "peer-brian2",
                    help="Brian2 builds, images, temporary runs and peer_brian2.json")
    ap.add_argument("--keep-runs", action="store_true", help="keep this project's run dirs")
    args = ap.parse_args(argv)
    if len(args.examples) == 1:
        args.examples = args.examples * len(args.neurons)
    if len(args.examples) != len(args.neurons):
        ap.error(f"--examples gives {len(args.examples)} counts for {len(args.neurons)} "
                 "sizes: give one per --neurons, or one for all")
    if min(args.neurons + args.examples) < 1 or args.repeats < 1 or args.project_threads < 1 \
            or min(args.brian2_threads) < 1:
        ap.error("--neurons, --examples, --repeats and the thread counts must be at least 1")
    return args


# --- Brian2's environment and runs -----------------------------------------------------------

def brian2_version(python: Path) -> str | None:
    """Brian2's version in the environment of ``python``, None if it does not import."""
    if not python.exists():
        return None
    done = subprocess.run([str(python), "-c", "import brian2; print(brian2.__version__)"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_brian2_venv(venv: Path) -> tuple[Path, str, float | None]:
    """(python, Brian2 version, seconds the install took or None if it was there)."""
    python = venv / "bin" / "python"
    version = brian2_version(python)
    if version is not None and version.startswith("2.9"):
        return python, version, None
    if venv.exists() and any(venv.iterdir()) and not (venv / "pyvenv.cfg").exists():
        raise SystemExit(f"{venv} is not empty and not a virtual environment: choose another "
                         "--venv (it would be cleared)")
    print(f"making Brian2's environment in {venv}: pip install "
          + " ".join(f'"{r}"' for r in BRIAN2_REQUIREMENTS), flush=True)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *BRIAN2_REQUIREMENTS],
                   check=True)
    version = brian2_version(python)
    if version is None:
        raise SystemExit(f"Brian2 does not import in {venv} after installing it")
    return python, version, time.perf_counter() - began


def training_images(examples: int, seed: int):
    """The first ``examples`` images (uint8 rows of 784) this project's ``train`` shows."""
    import numpy as np

    import spiking_mnist
    from spiking_mnist.inputs.mnist import train_validation_split

    params = spiking_mnist.load_parameters()
    train, _ = train_validation_split(spiking_mnist.load_mnist("train"),
                                      params.training.validation, seed)
    order = np.random.default_rng((seed, 1)).permutation(len(train))
    return train.images.reshape(len(train), -1)[order[:examples]]


def run_brian2(python: Path, images: Path, neurons: int, threads: int, build_dir: Path,
               seed: int, build_only: bool = False) -> dict:
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".json", dir=build_dir.parent) as out:
        argv = [str(python), str(BRIAN2_SCRIPT), "--images", str(images), "--neurons",
                str(neurons), "--threads", str(threads), "--build-dir", str(build_dir),
                "--seed", str(seed), "--out", out.name] + (["--build-only"] if build_only else [])
        if subprocess.run(argv).returncode:
            raise SystemExit(f"Brian2 failed: {' '.join(argv)}")
        return json.loads(Path(out.name).read_text())


# --- this project's runs ---------------------------------------------------------------------

def run_project(neurons: int, examples: int, threads: int, run_dir: Path,
                overrides: list[str] = ()) -> dict:
    argv = [sys.executable, "-m", "spiking_mnist.runners.cli", "train", "--run-dir",
            str(run_dir), "--neurons", str(neurons), "--examples", str(examples), "--quiet",
            "--set", f"simulation.threads={threads}",
            *[a for o in overrides for a in ("--set", o)]]
    began = time.perf_counter()
    process = subprocess.Popen(argv)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"this project's training failed: {' '.join(argv)}")
    manifest = json.loads((run_dir / "checkpoint" / "manifest.json").read_text())
    info, params = manifest["info"], manifest["parameters"]
    return {"neurons": neurons, "examples": examples, "threads": threads,
            "stdp_rule": params["stdp"].get("rule", "triplet_all_to_all"),
            "theta_kept": params["theta"].get("kept"), "overrides": list(overrides),
            "examples_per_second": info["train_examples_per_second"],
            "run_seconds": info["train_seconds"], "process_seconds": wall,
            "input_spikes": info["input_spikes"],
            "input_events_per_second": info["input_spikes"] * neurons / info["train_seconds"],
            "exc_spikes_per_example": info["mean_spikes_per_example"],
            "peak_mib": usage.ru_maxrss / 1024}


# --- the report ------------------------------------------------------------------------------

def summarise(runs: list[dict]) -> dict:
    """Per N and configuration: the runs' figures and their medians; per N the ratio."""
    sizes: dict[int, dict] = {}
    for run in runs:
        size = sizes.setdefault(run["neurons"], {"examples": run["examples"], "configs": {}})
        size["configs"].setdefault(run["config"], []).append(run)
    summary = {}
    for n, size in sizes.items():
        configs = {}
        for config, rs in size["configs"].items():
            configs[config] = {
                "examples_per_second": [r["examples_per_second"] for r in rs],
                "median_examples_per_second":
                    statistics.median(r["examples_per_second"] for r in rs),
                "median_input_events_per_second":
                    statistics.median(r["input_events_per_second"] for r in rs),
                "exc_spikes_per_example":
                    statistics.median(r["exc_spikes_per_example"] for r in rs),
                "peak_mib": max(r["peak_mib"] for r in rs)}
        brian2 = {c: v for c, v in configs.items() if c != PROJECT}
        fastest = max(brian2, key=lambda c: brian2[c]["median_examples_per_second"],
                      default=None)
        ratio = None
        if fastest is not None and PROJECT in configs:
            ratio = (configs[PROJECT]["median_examples_per_second"]
                     / brian2[fastest]["median_examples_per_second"])
        summary[n] = {"examples": size["examples"], "configs": configs,
                      "brian2_fastest": fastest, "ratio": ratio}
    return summary


def report(summary: dict, project_threads: int, builds: dict[str, float] | None = None) -> str:
    """The printed table: one block per N."""
    lines = []
    for n, size in summary.items():
        lines.append(f"N={n}, {size['examples']} training examples from scratch")
        lines.append(f"  {'configuration':<40} {'examples/s':>10}  {'input events/s':>14}  "
                     f"{'exc spikes/ex':>13}  {'peak MiB':>8}  every run (examples/s)")
        for config, c in size["configs"].items():
            every = ", ".join(f"{x:.1f}" for x in c["examples_per_second"])
            lines.append(
                f"  {config_label(config, project_threads):<40} "
                f"{c['median_examples_per_second']:>10.1f}  "
                f"{c['median_input_events_per_second'] / 1e6:>12.2f} M  "
                f"{c['exc_spikes_per_example']:>13.1f}  {c['peak_mib']:>8.0f}  {every}")
        if size["ratio"] is not None:
            lines.append(f"  ratio this project / {config_label(size['brian2_fastest'], 1)}"
                         f" (Brian2's fastest): {size['ratio']:.2f}")
        for config, seconds in (builds or {}).items():
            if config.startswith(f"N={n} "):
                lines.append(f"  build (code generation + compilation), {config[len(f'N={n} '):]}"
                             f": {seconds:.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import numpy as np

    args = parse_args(argv)
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.2f}: other work is running and the timings "
              "will be off", flush=True)
    python, version, install_seconds = ensure_brian2_venv(args.venv)
    print(f"Brian2 {version} in {args.venv}" + (
        "" if install_seconds is None else f" (installed in {install_seconds:.0f} s)"),
        flush=True)

    runs, builds = [], {}
    for n, examples in zip(args.neurons, args.examples):
        images = work / f"images-{examples}-seed{args.seed}.npy"
        if not images.exists():
            np.save(images, training_images(examples, args.seed))
        build_dir = {t: work / "builds" / f"n{n}-e{examples}-seed{args.seed}-t{t}"
                     for t in args.brian2_threads}
        for t in args.brian2_threads:
            built = run_brian2(python, images, n, t, build_dir[t], args.seed, build_only=True)
            builds[f"N={n} {config_label(brian2_config(t), 1)}"] = built["build_seconds"]
            print(f"N={n}: built Brian2, {t} thread(s), in {built['build_seconds']:.0f} s",
                  flush=True)
        for repeat in range(args.repeats):
            for t in args.brian2_threads:
                r = run_brian2(python, images, n, t, build_dir[t], args.seed)
                r.update(config=brian2_config(t), repeat=repeat,
                         peak_mib=r["binary_peak_mib"])
                runs.append(r)
                print(f"N={n} run {repeat + 1}: {config_label(r['config'], 1)}: "
                      f"{r['examples_per_second']:.2f} examples/s", flush=True)
            run_dir = Path(tempfile.mkdtemp(prefix=f"project-n{n}-", dir=work)) / "run"
            r = run_project(n, examples, args.project_threads, run_dir, args.project_set)
            r.update(config=PROJECT, repeat=repeat)
            runs.append(r)
            print(f"N={n} run {repeat + 1}: {config_label(PROJECT, args.project_threads)} "
                  f"(stdp.rule {r['stdp_rule']}): {r['examples_per_second']:.2f} examples/s",
                  flush=True)
            if not args.keep_runs:
                shutil.rmtree(run_dir.parent)

    summary = summarise(runs)
    print()
    print(report(summary, args.project_threads, builds))
    (work / "peer_brian2.json").write_text(json.dumps(
        {"arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
         "brian2": version, "brian2_install_seconds": install_seconds, "cpus": os.cpu_count(),
         "load_average_at_start": load, "builds_seconds": builds, "runs": runs,
         "summary": {str(n): s for n, s in summary.items()}}, indent=1))
    print(f"\nfigures in {work / 'peer_brian2.json'}")


if __name__ == "__main__":
    main()
