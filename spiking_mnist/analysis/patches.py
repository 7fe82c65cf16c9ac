"""Figures of a patch-hierarchy run (``spiking-mnist analyse`` on a ``patches`` run directory):
layer-1 kernels, layer-2 fields composed back into pixel space, the code of one example at
each layer, the spiking readout (its weights per digit in pixel space, the output spike
counts of the first 10 images, its confusion matrix) and a summary of the readouts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from spiking_mnist.analysis import figures
from spiking_mnist.models import output_layer, patches
from spiking_mnist.models.diehl_cook import assign_labels
from spiking_mnist.models.readout import metrics_of
from spiking_mnist.rundir import checkpoint, files
from spiking_mnist.rundir.hierarchy import (PARAMETERS, images_of, load_codes, load_output,
                                          load_output_weights, parameters_of)


def is_hierarchy(run_dir: Path) -> bool:
    return (Path(run_dir) / PARAMETERS).exists()


def pixel_kernels(kernels: np.ndarray, params) -> np.ndarray:
    """Layer 1's kernels (inputs of a patch, k) as pixels of a patch: themselves, or with ON
    and OFF channels (``encoding.channels = "on_off"``) the ON weights minus the OFF ones."""
    by_channel = kernels.reshape(patches.channels(params), params.geometry.patch ** 2, -1)
    return by_channel[0] - by_channel[1] if len(by_channel) == 2 else by_channel[0]


def composed_fields(kernels: np.ndarray, weights: np.ndarray, params) -> np.ndarray:
    """Each layer-2 neuron's field in pixel space, (pixels of a block, k'): the weights from
    each layer-1 node of its block times that node's kernels (in pixels,
    :func:`pixel_kernels`), placed where the node's patch lies (overlapping patches add
    up)."""
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


def output_fields(kernels: np.ndarray, weights: np.ndarray, params) -> np.ndarray:
    """Each output cell's weights in pixel space, (padded side, padded side, cells): its
    weights from every layer-1 neuron times that neuron's kernel (in pixels,
    :func:`pixel_kernels`), placed where the neuron's patch lies (overlapping patches add
    up)."""
    first, _ = patches.grids(params)
    g, k = params.geometry, kernels.shape[1]
    out = np.zeros((first.input_side, first.input_side, weights.shape[1]))
    for node in range(first.nodes):
        r, c = divmod(node, first.side)
        field = kernels @ weights[node * k:(node + 1) * k]          # (patch**2, cells)
        out[r * g.stride:r * g.stride + g.patch, c * g.stride:c * g.stride + g.patch] += \
            field.reshape(g.patch, g.patch, -1)
    return out


def through_hidden(arrays: dict) -> np.ndarray:
    """The output weights (coding neurons, 10) of a stored method's arrays; through hidden
    cells, the product of the two layers' weights: the output cells' linear view of the
    coding neurons (exact while every hidden cell's rate is linear in its drive)."""
    if "hidden_weights" in arrays:
        return arrays["hidden_weights"] @ arrays["weights"]
    return arrays["weights"]


def output_weights_figure(fields: dict[str, np.ndarray]) -> Figure:
    """Per way of learning (rows) and digit (columns), the output cell's weights in pixel
    space (:func:`output_fields`): red excites the cell, blue inhibits it."""
    fig = figures._figure(14, 1.6 * len(fields) + 0.6)
    axes = fig.subplots(len(fields), output_layer.N_CLASSES, squeeze=False)
    for row, (method, field) in zip(axes, fields.items()):
        top = max(float(np.abs(field).max()), 1e-12)
        for digit, ax in enumerate(row):
            ax.imshow(field[:, :, digit], cmap="RdBu_r", vmin=-top, vmax=top)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{digit}", fontsize=9)
        row[0].set_ylabel(method)
    fig.suptitle("output weights per digit, through the layer-1 kernels "
                 "(red: excitatory, blue: inhibitory)")
    return fig


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
    rows = patches.channels(params) * g.patch
    fig = figures.receptive_fields(kernels, (rows, g.patch))
    fig.axes[0].set_title(f"layer 1: the {kernels.shape[1]} kernels ({g.patch}x{g.patch}"
                          + (", ON above OFF)" if rows > g.patch else ")"))
    kernels = pixel_kernels(kernels, params)
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
    drawn.update(_spiking_figures(run_dir, params, kernels, split, out, data_dir, skipped))
    summary = {"out_dir": str(out), "figures": drawn, "skipped": skipped}
    files.write_json(out / "summary.json", summary)
    return summary


def _spiking_figures(run_dir: Path, params, kernels: np.ndarray, split: str, out: Path,
                     data_dir, skipped: dict) -> dict:
    """The spiking readout's figures, where the run has them: its weights per digit, the
    output counts of the first 10 images of ``split`` and its confusion matrix there, per
    way of learning."""
    drawn = {}
    learnt = load_output_weights(run_dir)
    if not learnt:
        skipped["output"] = "the output layer is not learnt yet"
        return drawn
    fields = {m: output_fields(kernels, through_hidden(learnt[m]), params)
              for m in output_layer.METHODS if m in learnt}
    drawn["output_weights"] = figures.save(output_weights_figure(fields),
                                           out / "output-weights.png").name
    coded = load_output(run_dir, split)
    if not len(coded["labels"]):
        skipped["output_counts"] = f"no {split} image is coded with the output layer yet"
        return drawn
    first = min(10, len(coded["labels"]))
    images = images_of(params, split, data_dir).images[:first]
    for k, method in enumerate(output_layer.METHODS):
        counts = coded["counts"][:, k * output_layer.N_CLASSES:(k + 1) * output_layer.N_CLASSES]
        predicted = output_layer.predict(counts)
        fig = figures.output_counts(counts[:first], np.arange(output_layer.N_CLASSES),
                                    coded["labels"][:first], predicted[:first], list(images))
        for ax in fig.axes:
            if ax.get_xlabel():
                ax.set_xlabel("output cell (digit)")
        fig.suptitle(f"output spikes per digit's cell ({method}), {split} images 0-{first - 1}")
        drawn[f"output_counts_{method}"] = figures.save(
            fig, out / f"output-counts-{method}-{split}.png").name
        confusion = np.asarray(metrics_of(coded["labels"], predicted)["confusion"])
        fig = figures.confusion_matrix(confusion)
        fig.axes[0].set_title(f"spiking readout ({method}), {split}: "
                              f"{np.trace(confusion)} of {confusion.sum()} correct")
        drawn[f"output_confusion_{method}"] = figures.save(
            fig, out / f"output-confusion-{method}-{split}.png").name
    return drawn
