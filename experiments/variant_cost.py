"""What a network change costs in test accuracy, over seeds: the D&C reference and its
variants (e.g. the SpiNNaker-constrained one) trained the same way on NEST and tested on the
same images.

    python experiments/variant_cost.py --neurons 400 --examples 10000 --seeds 1 2 3 \\
        --run-root runs/deployment --arm spinnaker=@spiking_mnist/models/variants/spinnaker.toml \\
        --arm delays-1ms=exc_to_inh.delay=1.0,inh_to_exc.delay=1.0

The reference (the defaults) is always the first arm. ``--arm NAME=SPEC`` adds one: SPEC is
comma-separated ``section.name=value`` overrides and at most one ``@config.toml``. Each (arm,
seed) trains in RUN_ROOT/NAME-sSEED and is tested once (its metrics.json is kept); run the
same command again to continue where it stopped (a stopped training resumes from its last
checkpoint). Prints the accuracy of every run, and for each arm its mean and its mean paired
difference from the reference (same seed) with the standard deviation over seeds; writes
them to RUN_ROOT/variant_cost.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from spiking_mnist.models.parameters import load_parameters
from spiking_mnist.rundir import checkpoint
from spiking_mnist.runners.evaluate import evaluate
from spiking_mnist.runners.train import resume, train


def parse_arm(text: str) -> tuple[str, str | None, list[str]]:
    """NAME=SPEC -> (name, config file or None, overrides)."""
    name, _, spec = text.partition("=")
    parts = [p for p in spec.split(",") if p]
    configs = [p[1:] for p in parts if p.startswith("@")]
    if not name or len(configs) > 1:
        raise SystemExit(f"--arm {text!r}: give NAME=overrides, with at most one @config.toml")
    return name, (configs[0] if configs else None), [p for p in parts if not p.startswith("@")]


def trained(run: Path, params, progress: bool) -> None:
    """Train ``run`` up to ``params.training.examples``, resuming what a stopped call left."""
    try:
        seen = checkpoint.load(run).examples_seen
    except checkpoint.CheckpointError:
        train(run, params, progress=progress, overwrite=True)
        return
    if seen < params.training.examples:
        resume(run, progress=progress)


def tested(run: Path, examples: int, label_examples: int, progress: bool) -> float:
    """Test accuracy of ``run``: from its metrics.json if tested so already, else measured."""
    path = run / "metrics.json"
    if path.exists():
        m = json.loads(path.read_text())
        if (m["split"], m["examples"], m["label_examples"]) == ("test", examples,
                                                                label_examples):
            return m["accuracy"]
    return evaluate(run, "test", examples, label_examples, progress=progress)["accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, default=400)
    ap.add_argument("--examples", type=int, default=10000, help="training examples")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--label-examples", type=int, default=2000)
    ap.add_argument("--test-examples", type=int, default=10000)
    ap.add_argument("--arm", action="append", default=[], help="NAME=SPEC (see above)")
    ap.add_argument("--set", action="append", default=[], help="overrides for every arm")
    ap.add_argument("--run-root", required=True)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    arms = [("reference", None, []), *map(parse_arm, args.arm)]
    root = Path(args.run_root)
    accuracy: dict[str, dict[int, float]] = {name: {} for name, _, _ in arms}
    for seed in args.seeds:
        for name, config, overrides in arms:
            params = load_parameters("diehl_cook", config, [
                f"network.n_excitatory={args.neurons}", f"training.examples={args.examples}",
                f"simulation.seed={seed}", *args.set, *overrides])
            run = root / f"{name}-s{seed}"
            trained(run, params, not args.quiet)
            accuracy[name][seed] = tested(run, args.test_examples, args.label_examples,
                                          not args.quiet)
            print(f"{name} seed {seed}: {100 * accuracy[name][seed]:.2f} %", flush=True)
    reference = np.array([accuracy["reference"][s] for s in args.seeds])
    summary = {}
    print("arm | " + " | ".join(f"seed {s}" for s in args.seeds)
          + " | mean | paired difference from the reference (mean ± sd over seeds)")
    for name, _, _ in arms:
        values = np.array([accuracy[name][s] for s in args.seeds])
        gap = 100 * (values - reference)
        summary[name] = {"accuracy": dict(zip(args.seeds, values.tolist())),
                         "mean": float(values.mean()),
                         "difference_points": float(gap.mean()),
                         "difference_sd_points": float(gap.std(ddof=1)) if len(gap) > 1
                         else None}
        spread = "" if len(gap) < 2 else f" ± {gap.std(ddof=1):.2f}"
        print(f"{name} | " + " | ".join(f"{100 * v:.2f} %" for v in values)
              + f" | {100 * values.mean():.2f} % | {gap.mean():+.2f}{spread} points")
    root.mkdir(parents=True, exist_ok=True)
    (root / "variant_cost.json").write_text(json.dumps(
        {"neurons": args.neurons, "examples": args.examples, "seeds": args.seeds,
         "label_examples": args.label_examples, "test_examples": args.test_examples,
         "arms": {name: {"config": config, "overrides": overrides}
                  for name, config, overrides in arms},
         "common_overrides": args.set, "results": summary}, indent=1))


if __name__ == "__main__":
    main()
