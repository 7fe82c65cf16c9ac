"""Figures of a patch-hierarchy run (``spiking-mnist analyse`` on a ``patches`` run directory):
layer-1 kernels, layer-2 fields composed back into pixel space, the code of one example at
each layer, and a summary of the readouts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from spiking_mnist.analysis import figures
from spiking_mnist.models import patches
from spiking_mnist.models.diehl_cook import assign_labels
from spiking_mnist.rundir import checkpoint, files
from spiking_mnist.rundir.hierarchy import PARAMETERS, images_of, load_codes, parameters_of


def is_hierarchy(run_dir: Path) -> bool:
    return (Path(run_dir) / PARAMETERS).exists()


def composed_fields(kernels: np.ndarray, weights: np.ndarray, params) -> np.ndarray:
    """Each layer-2 neuron's field in pixel space, (pixels of a block, k'): the weights from
    each layer-1 node of its block times that node's kernels, placed where the node's patch
    lies (overlapping patches add up)."""
    g = params.geometry
    k = kernels.shape[1]
    span = (g.block - 1) * g.stride + g.patch
    out = np.zeros((span, span, weights.shape[1]))
    for node in range(g.block ** 2):
        r, c = divmod(node, g.block)
        field = kernels @ weights[node * k:(node + 1) * k]          # (patch**2, k')
        out[r * g.stride:r * g.stride + g.patch, c * g.stride:c * g.stride + g.patch] += \
            field.reshape(g.patch, g.patch, -1)
    return out.reshape(span * span, -1)


def _node_mosaic(counts: np.ndarray, side: int) -> np.ndarray:
    """Counts (nodes, k) of a side x side grid of nodes as one image: each node a small
    near-square grid of its k neurons, NaN between nodes."""
    nodes, k = counts.shape
    rows, cols = figures.grid_shape(k)
    cells = np.full((nodes, rows * cols), np.nan)
    cells[:, :k] = counts
    return figures.tile(cells.reshape(nodes, rows, cols), side)


def code_figure(image: np.ndarray, codes: dict[int, np.ndarray], params, label: int,
                assignments: np.ndarray | None) -> Figure:
    """One example: the image, the spike counts of every layer-1 and layer-2 node laid out
    on their grids, and the layer-3 counts coloured by each neuron's assigned digit."""
    first, second = patches.grids(params)
    fig = figures._figure(14, 3.6)
    axes = fig.subplots(1, 4, width_ratios=[1, 1.3, 1.3, 2])
    axes[0].imshow(image, cmap="gray_r")
    axes[0].set_title(f"input (digit {label})")
    for ax, layer, grid in ((axes[1], 1, first), (axes[2], 2, second)):
        k = getattr(params, f"layer{layer}").n_excitatory
        shown = ax.imshow(_node_mosaic(codes[layer].reshape(grid.nodes, k), grid.side),
                          cmap="viridis", interpolation="nearest")
        ax.set_title(f"layer {layer}: {grid.side}x{grid.side} nodes x {k} neurons\n"
                     f"{int(codes[layer].sum())} spikes")
        fig.colorbar(shown, ax=ax, shrink=0.7, label="spikes")
    counts = codes[3]
    colours = [figures.DIGIT_COLOURS[a] if a >= 0 else figures.UNLABELLED
               for a in (assignments if assignments is not None else -np.ones(counts.size, int))]
    axes[3].bar(np.arange(counts.size), counts, color=colours, width=1.0)
    axes[3].set_xlabel("layer-3 neuron (colour: assigned digit)")
    axes[3].set_ylabel("spikes")
    axes[3].set_title("layer 3")
    for ax in axes[:3]:
        ax.set_axis_off()
    return fig


def analyse(run_dir: str | Path, out_dir: str | Path | None = None, example: int = 0,
            data_dir=None) -> dict:
    """Write the hierarchy's figures into ``out_dir`` (default ``RUN_DIR/analysis``)."""
    run_dir = Path(run_dir)
    params = parameters_of(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    drawn, skipped = {}, {}
    g = params.geometry
    layer1 = run_dir / "layer1"
    if not checkpoint.checkpoint_dir(layer1).exists():
        raise checkpoint.CheckpointError(f"{run_dir} has no trained layer 1 yet; run "
                                         f"`spiking-mnist patches {run_dir}`")
    kernels = checkpoint.load(layer1).weights
    fig = figures.receptive_fields(kernels, (g.patch, g.patch))
    fig.axes[0].set_title(f"layer 1: the {kernels.shape[1]} kernels ({g.patch}x{g.patch})")
    drawn["kernels"] = figures.save(fig, out / "layer1-kernels.png").name
    if checkpoint.checkpoint_dir(run_dir / "layer2").exists():
        fields = composed_fields(kernels, checkpoint.load(run_dir / "layer2").weights, params)
        span = int(np.sqrt(fields.shape[0]))
        fig = figures.receptive_fields(fields, (span, span))
        fig.axes[0].set_title(f"layer 2: the {fields.shape[1]} fields in pixel space "
                              f"({span}x{span})")
        drawn["layer2"] = figures.save(fig, out / "layer2-fields.png").name
    else:
        skipped["layer2"] = "layer 2 is not trained yet"
    split = "test" if params.readout.test_examples else "validation"
    codes = {layer: load_codes(run_dir, layer, split)[0] for layer in patches.LAYERS}
    if all(len(c) > example for c in codes.values()):
        images = images_of(params, split, data_dir)
        metrics_path = run_dir / "metrics.json"
        train3, labels3 = load_codes(run_dir, 3, "train")
        assignments = assign_labels(train3, labels3) if len(train3) else None
        fig = code_figure(images.images[example], {k: c[example] for k, c in codes.items()},
                          params, int(images.labels[example]), assignments)
        drawn["code"] = figures.save(fig, out / f"code-{split}-{example}.png").name
        if metrics_path.exists():
            copied = metrics_path.read_bytes()
            files.write_atomic(out / "metrics.json", lambda f: f.write(copied))
    else:
        skipped["code"] = f"{split} example {example} is not coded by all three layers yet"
    summary = {"out_dir": str(out), "figures": drawn, "skipped": skipped}
    files.write_json(out / "summary.json", summary)
    return summary
