"""Peak memory of `spiking-mnist evaluate --record` for few and many recorded examples.

    python benchmarks/recording_memory.py --run-dir runs/memory --examples 1000 10000

Trains nothing: the run directory gets an untrained network (``train --examples 0``, with
the ``--set`` parameters) unless it already holds one. Each evaluation runs in its own
process recording every population (input, excitatory, inhibitory) with spikes, v and theta
in NIX files; the script prints its peak resident memory (from ``wait4``), wall time and the
size of the files it wrote.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "spiking_mnist.runners.cli"]


def peak_memory_of(argv: list[str]) -> tuple[float, float]:
    """Run ``argv``; (peak resident memory in MiB, wall seconds). Fails if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(argv)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--examples", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--format", default="nix", choices=("nix", "pickle"))
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                    help="parameter of the untrained network, e.g. simulation.threads=1")
    args = ap.parse_args()
    run = Path(args.run_dir)
    if not (run / "checkpoint").exists():
        subprocess.run([*CLI, "train", "--run-dir", str(run), "--examples", "0",
                        "--neurons", str(args.neurons), "--quiet",
                        *[a for v in args.set for a in ("--set", v)]], check=True)
    figures = []
    for n in args.examples:
        peak, seconds = peak_memory_of([
            *CLI, "evaluate", str(run), "--examples", str(n), "--label-examples", "10",
            "--record", "input,excitatory,inhibitory", "--record-variables", "spikes,v,theta",
            "--record-format", args.format, "--quiet"])
        files = list((run / "recordings" / "test").glob("chunk-*"))
        figures.append({"recorded_examples": n, "peak_rss_mib": round(peak, 1),
                        "wall_seconds": round(seconds, 1), "files": len(files),
                        "file_mib": round(sum(f.stat().st_size for f in files) / 2**20, 1)})
        print(json.dumps(figures[-1]))
    if len(figures) > 1:
        ratio = figures[-1]["peak_rss_mib"] / figures[0]["peak_rss_mib"]
        print(f"peak memory, {figures[-1]['recorded_examples']} vs "
              f"{figures[0]['recorded_examples']} recorded examples: x{ratio:.3f}")
    (run / "recording-memory.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
