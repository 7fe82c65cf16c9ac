"""How many training images should label a trained D&C network's neurons?

    python experiments/labelling_size.py RUN_DIR --label-examples 60000 --out labels.npz

Shows RUN_DIR's frozen network the first ``--label-examples`` training images of the order
`spiking-mnist evaluate` labels with (so its 10,000 are a prefix of these 60,000), keeps the
spike counts in ``--out``, and prints the test accuracy when the neurons are labelled on the
first 1,000, 5,000, 10,000, 20,000 and all of them. The test responses are those the last
`spiking-mnist evaluate RUN_DIR` wrote (responses-test.npz): the frozen network's responses
do not depend on the labels.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from spiking_mnist.models import diehl_cook
from spiking_mnist.models.network import DIEHL_COOK
from spiking_mnist.rundir import checkpoint
from spiking_mnist.runners.evaluate import responses
from spiking_mnist.runners.session import open_network
from spiking_mnist.runners.train import training_split


def label_responses(run_dir: Path, n_label: int, threads: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    ckpt = checkpoint.load(run_dir)
    params = DIEHL_COOK.defaults().with_values(ckpt.parameters, "checkpoint")
    if threads is not None:   # the same responses with any number of threads
        params = params.with_values({"simulation": {"threads": threads}}, "--threads")
    train = training_split(params, None, ckpt.info.get("digits"))
    rows = np.random.default_rng((params.simulation.seed, 2)).permutation(len(train))
    labelling = train.subset(rows[:n_label])

    def frozen_network():
        return open_network(params, "nest", ckpt.weights, ckpt.delays, ckpt.theta,
                            plastic=False, model=DIEHL_COOK)[0]

    start = time.perf_counter()
    counts, _ = responses(frozen_network, labelling, "label", params, True,
                          theta=ckpt.theta, restart_every=params.evaluation.restart_every,
                          per_run=params.evaluation.showings_per_run)
    return counts, labelling.labels, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--label-examples", type=int, default=60000)
    ap.add_argument("--out", type=Path, required=True, help="npz for the labelling counts")
    ap.add_argument("--threads", type=int, help="NEST threads (default: the run's)")
    args = ap.parse_args()
    if args.out.exists():
        saved = np.load(args.out)
        counts, labels, seconds = saved["counts"], saved["labels"], float(saved["seconds"])
    else:
        counts, labels, seconds = label_responses(args.run_dir, args.label_examples,
                                                  args.threads)
        np.savez_compressed(args.out, counts=counts.astype(np.int16), labels=labels,
                            seconds=seconds)
    test = np.load(args.run_dir / "responses-test.npz")
    table = {}
    for n in sorted({n for n in (1000, 5000, 10000, 20000) if n < len(labels)} | {len(labels)}):
        assignments = diehl_cook.assign_labels(counts[:n], labels[:n])
        predictions = diehl_cook.predict(test["responses"], assignments)
        table[n] = float(np.mean(predictions == test["labels"]))
        print(f"labelled on {n:6d}: test accuracy {table[n]:.4f} "
              f"({int((assignments < 0).sum())} neurons unlabelled)")
    print(json.dumps({"run_dir": str(args.run_dir), "label_seconds": round(seconds, 1),
                      "accuracy_by_label_examples": table}))


if __name__ == "__main__":
    main()
