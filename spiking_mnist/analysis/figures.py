"""Figures of a run, drawn from plain numpy arrays with matplotlib's Agg canvas (no display).

Every function returns a :class:`~matplotlib.figure.Figure`; :func:`save` writes it as PNG.
Times are in ms, potentials in mV, weights dimensionless.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spiking_mnist.rundir import files

DIGIT_COLOURS = np.array(matplotlib.colormaps["tab10"].colors)
UNLABELLED = (1.0, 1.0, 1.0)


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically (a crash leaves the old file or the
    new one, whole)."""
    return files.write_atomic(Path(path), lambda f: fig.savefig(f, format="png", dpi=100))


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, columns) of the most nearly square grid of at least ``n`` cells."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def tile(images: np.ndarray, cols: int, gap: int = 1) -> np.ndarray:
    """Images (n, h, w) laid out row by row in ``cols`` columns, separated and padded by NaN."""
    n, h, w = images.shape
    rows = math.ceil(n / cols)
    cells = np.full((rows * cols, h + gap, w + gap), np.nan)
    cells[:n, :h, :w] = images
    grid = cells.reshape(rows, cols, h + gap, w + gap).transpose(0, 2, 1, 3)
    return grid.reshape(rows * (h + gap), cols * (w + gap))[:-gap, :-gap]


def input_frames(times: np.ndarray, pixels: np.ndarray, image_shape: tuple[int, int],
                 duration: float, bins: int = 10, title: str = "") -> Figure:
    """Input spike counts per pixel in ``bins`` equal time bins of a ``duration`` ms showing;
    ``times`` (ms from its start) and ``pixels`` (row * cols + col) give each spike."""
    n_pixels = int(np.prod(image_shape))
    edges = np.linspace(0.0, duration, bins + 1)
    frames, _, _ = np.histogram2d(times, pixels, bins=(edges, np.arange(n_pixels + 1)))
    fig = _figure(1.5 * bins + 1, 2.3)
    axes = fig.subplots(1, bins)
    for k, ax in enumerate(axes):
        image = ax.imshow(frames[k].reshape(image_shape), cmap="gray_r", vmin=0,
                          vmax=max(frames.max(), 1))
        ax.set_title(f"{edges[k]:.0f}-{edges[k + 1]:.0f} ms", fontsize=8)
        ax.set_axis_off()
    fig.colorbar(image, ax=axes, label="input spikes", shrink=0.8)
    fig.suptitle(title)
    return fig


def input_raster_3d(times: np.ndarray, pixels: np.ndarray, image_shape: tuple[int, int],
                    title: str = "") -> Figure:
    """Each input spike as a point at its pixel (x: column, y: row, upright) and time (ms)."""
    rows, cols = np.divmod(pixels, image_shape[1])
    fig = _figure(6, 6)
    ax = fig.add_subplot(projection="3d")
    ax.scatter(cols, image_shape[0] - 1 - rows, times, c=times, cmap="viridis", s=4)
    ax.set(xlim=(0, image_shape[1] - 1), ylim=(0, image_shape[0] - 1), xlabel="column",
           ylabel="row (from the bottom)", zlabel="time (ms)", title=title)
    ax.set_box_aspect(None, zoom=0.85)  # room for the time label
    return fig


def raster(populations: dict[str, tuple[np.ndarray, np.ndarray]], starts: np.ndarray,
           labels: list[str], stop: float, title: str = "") -> Figure:
    """Spike raster, one panel per population (name -> (times in ms, neuron indices)), from
    the first of the example ``starts`` (ms) to ``stop``; each start is a dashed line
    marked with that example's ``labels`` entry."""
    fig = _figure(10, 1.5 + 2.2 * len(populations))
    axes = np.atleast_1d(fig.subplots(len(populations), 1, sharex=True))
    for ax, (name, (times, index)) in zip(axes, populations.items()):
        ax.scatter(times, index, marker="|", s=12, linewidths=0.8, color="k")
        ax.set_ylabel(f"{name} neuron")
        for start in starts:
            ax.axvline(start, color="C3", lw=0.8, ls="--")
    for start, label in zip(starts, labels):
        axes[0].text(start, 1.02, label, transform=axes[0].get_xaxis_transform(),
                     color="C3", ha="left", va="bottom")
    axes[-1].set(xlim=(starts[0], stop), xlabel="time (ms)")
    fig.suptitle(title)
    return fig


def membrane(times: np.ndarray, v: np.ndarray, neurons: list[int], threshold: np.ndarray,
             title: str = "") -> Figure:
    """Membrane potential ``v`` (samples, neurons) in mV at ``times`` (ms), one panel per
    excitatory neuron in ``neurons``, with its ``threshold`` (same shape, mV) dashed."""
    fig = _figure(10, 1.2 + 1.8 * len(neurons))
    axes = np.atleast_1d(fig.subplots(len(neurons), 1, sharex=True))
    for j, (ax, neuron) in enumerate(zip(axes, neurons)):
        ax.plot(times, v[:, j], lw=0.7, color="C0", label="v")
        ax.plot(times, threshold[:, j], "--", lw=1.0, color="C3", label="threshold")
        ax.set_ylabel(f"neuron {neuron}\n(mV)")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time (ms)")
    fig.suptitle(title)
    return fig


def receptive_fields(weights: np.ndarray, image_shape: tuple[int, int]) -> Figure:
    """Input weights (pixels, N) of every excitatory neuron as images on a near-square grid
    (neuron k at row k // columns, column k % columns)."""
    n = weights.shape[1]
    rows, cols = grid_shape(n)
    side = min(max(4.0, 0.32 * cols), 16.0)
    fig = _figure(side + 1.2, side * rows / cols + 0.6)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["hot_r"].with_extremes(bad="0.6")  # grey gaps between fields
    image = ax.imshow(tile(weights.T.reshape(n, *image_shape), cols), cmap=cmap,
                      vmin=0, vmax=max(float(weights.max()), 1e-12), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"receptive fields of the {n} excitatory neurons")
    fig.colorbar(image, ax=ax, label="weight", shrink=0.6)
    return fig


def label_map(assignments: np.ndarray) -> Figure:
    """Each excitatory neuron's assigned digit on the grid of :func:`receptive_fields`,
    coloured by digit; white with "-" if it is unlabelled (-1)."""
    n = assignments.size
    rows, cols = grid_shape(n)
    colours = np.ones((rows * cols, 3))
    colours[:n] = UNLABELLED
    labelled = assignments >= 0
    colours[:n][labelled] = DIGIT_COLOURS[assignments[labelled]]
    side = min(max(4.0, 0.32 * cols), 16.0)
    fig = _figure(side, side * rows / cols + 0.5)
    ax = fig.add_subplot()
    ax.imshow(colours.reshape(rows, cols, 3), interpolation="nearest")
    size = min(12.0, max(4.0, 150.0 / cols))
    for k, digit in enumerate(assignments):
        ax.text(k % cols, k // cols, str(digit) if digit >= 0 else "-", ha="center",
                va="center", fontsize=size)
    ax.set_axis_off()
    ax.set_title(f"assigned labels ({np.count_nonzero(~labelled)} of {n} unlabelled)")
    return fig


def theta_histogram(theta: np.ndarray) -> Figure:
    """Histogram of the homeostatic threshold increments ``theta`` (mV)."""
    fig = _figure(6, 4)
    ax = fig.add_subplot()
    ax.hist(theta, bins=min(50, max(5, theta.size // 4)), color="C0")
    ax.set(xlabel="theta (mV)", ylabel="excitatory neurons",
           title=f"theta: mean {theta.mean():.2f} mV, range {theta.min():.2f}-{theta.max():.2f}")
    return fig


def confusion_matrix(confusion: np.ndarray) -> Figure:
    """Counts of (true digit: rows, predicted digit: columns), annotated."""
    confusion = np.asarray(confusion)
    fig = _figure(6.5, 5.5)
    ax = fig.add_subplot()
    image = ax.imshow(confusion, cmap="Blues")
    top = max(int(confusion.max()), 1)
    for (true, predicted), count in np.ndenumerate(confusion):
        ax.text(predicted, true, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > top / 2 else "black")
    ticks = np.arange(confusion.shape[0])
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted digit", ylabel="true digit",
           title=f"confusion ({np.trace(confusion)} of {confusion.sum()} correct)")
    fig.colorbar(image, ax=ax, label="examples")
    return fig


def output_counts(responses: np.ndarray, assignments: np.ndarray, labels: np.ndarray,
                  predictions: np.ndarray, thumbnails: list[np.ndarray | None] | None = None,
                  per_row: int = 5) -> Figure:
    """Per example, the excitatory spike counts ``responses`` (examples, N) summed over the
    neurons assigned to each digit, with its true and predicted digit and, where given,
    its thumbnail image."""
    n = responses.shape[0]
    sums = np.stack([responses[:, assignments == d].sum(axis=1) for d in range(10)], axis=1)
    rows = math.ceil(n / per_row)
    rows_each = 1 if thumbnails is None else 2
    fig = _figure(2.4 * per_row, rows * (2.2 + 1.6 * (rows_each - 1)))
    axes = fig.subplots(rows * rows_each, per_row, squeeze=False,
                        height_ratios=[1, 1.4][-rows_each:] * rows)
    for ax in axes.flat:
        ax.set_axis_off()
    for k in range(n):
        r, c = divmod(k, per_row)
        bars = axes[r * rows_each + rows_each - 1, c]
        bars.set_axis_on()
        bars.bar(range(10), sums[k], color=["C3" if d == predictions[k] else "C0"
                                            for d in range(10)])
        bars.set(xticks=range(10), xlabel="label group", ylabel="spikes")
        head = axes[r * rows_each, c]
        if thumbnails is not None and thumbnails[k] is not None:
            head.imshow(thumbnails[k], cmap="gray_r")
        head.set_title(f"true {labels[k]}, predicted {predictions[k]}", fontsize=9)
    return fig


def accuracy_curve(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Accuracy (fraction) against training examples seen, one line per
    ``name -> (examples_seen, accuracy)``."""
    fig = _figure(6, 4)
    ax = fig.add_subplot()
    for name, (examples_seen, accuracy) in curves.items():
        ax.plot(examples_seen, 100 * np.asarray(accuracy), "o-", label=name)
    ax.set(xlabel="training examples seen", ylabel="accuracy (%)", ylim=(0, 100),
           title="accuracy during training")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig
