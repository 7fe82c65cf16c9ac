"""Frozen patch kernels as sPyNNaker ``ConvolutionConnector`` arguments (sPyNNaker 1!7.4).

Two differences between sPyNNaker's convolution and the patch grid of
:mod:`~spiking_mnist.models.patches` (read in its source):

- **Output shape.** ``ConvolutionConnector.get_post_shape`` computes
  ``(N - (K - 1) + 2 P) // S`` per axis, which is ``floor((N - K + 1 + 2P) / S)``; the
  number of whole windows is ``(N - K + 2P) // S + 1``. The two agree for stride 1 only:
  a 5x5 kernel, stride 5 over 30x30 gives 26 // 5 = 5 instead of 6, and
  ``validate_connection`` then insists on a 5x5 post population. The binary
  (``local_only_conv_impl.c``, ``map_pre_to_post``) does reach a sixth row: it maps pre
  coordinate ``p`` (+ padding) to post ``p // S`` and the kernel rows ``p - q S`` in
  ``[0, K)``, i.e. post ``q`` reads pre ``q S .. q S + K - 1``, as the patch grid does;
  only the post population is too small. Declaring the pre population ``S - 1`` cells
  larger per axis (silent trailing rows and columns) makes the formula give the true
  count without moving any window: :func:`pre_shape`.
- **Kernel orientation.** The binary indexes the kernel at ``K - 1 - (p - q S)``: a true
  convolution, the kernel turned by 180 degrees against a learnt receptive field, so a
  field is handed over rotated: :func:`kernel_of`.

What it showed: the fix (a declared pre shape S - 1 cells larger, kernels turned by 180
degrees) gives every window of the patch grid; check it with
``python -m pytest experiments/spinnaker_convolution.py``.
"""
from __future__ import annotations

import numpy as np
import pytest


def windows(side: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Whole ``kernel``-wide windows every ``stride`` cells over ``side`` (+ padding) cells."""
    return (side + 2 * padding - kernel) // stride + 1


def spynnaker_post_side(side: int, kernel: int, stride: int, padding: int = 0) -> int:
    """The post side sPyNNaker 1!7.4's ``get_post_shape`` computes (see the module)."""
    return max((side - (kernel - 1) + 2 * padding) // stride, 1)


def pre_shape(side: int, kernel: int, stride: int) -> tuple[int, int]:
    """The shape to declare for a ``side`` x ``side`` pre population (its neurons first,
    row-major in the top-left corner, the rest silent) so that sPyNNaker's post shape is
    the true number of windows; raises if no such shape exists."""
    declared = side + stride - 1
    if spynnaker_post_side(declared, kernel, stride) != windows(side, kernel, stride):
        raise ValueError(f"no pre shape gives sPyNNaker's post shape the "
                         f"{windows(side, kernel, stride)} windows of side {side}, kernel "
                         f"{kernel}, stride {stride}")
    return declared, declared


def embed(index: np.ndarray, side: int, declared: int) -> np.ndarray:
    """Neuron indices of a ``side`` x ``side`` grid in the ``declared`` x ``declared`` one."""
    row, col = np.divmod(np.asarray(index), side)
    return row * declared + col


def kernel_of(field: np.ndarray) -> np.ndarray:
    """The ``kernel_weights`` that make sPyNNaker's binary apply receptive ``field``."""
    return np.rot90(field, 2).copy()

def test_the_formula_of_spynnaker_drops_the_last_window_of_a_stride_5_grid():
    assert windows(30, 5, 5) == 6
    assert spynnaker_post_side(30, 5, 5) == 5
    assert spynnaker_post_side(34, 5, 5) == 6
    assert pre_shape(30, 5, 5) == (34, 34)


@pytest.mark.parametrize("side,kernel,stride", [(30, 5, 5), (28, 5, 1), (28, 4, 3),
                                                 (12, 2, 2), (9, 3, 2)])
def test_the_declared_pre_shape_gives_every_window(side, kernel, stride):
    declared, _ = pre_shape(side, kernel, stride)
    assert spynnaker_post_side(declared, kernel, stride) == windows(side, kernel,
                                                                              stride)


def test_embedded_indices_keep_rows_and_columns():
    assert list(embed(np.array([0, 29, 30, 899]), 30, 34)) == [0, 29, 34, 29 * 34 + 29]


def test_a_field_is_handed_over_turned_by_180_degrees():
    field = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(kernel_of(field), [[5, 4, 3], [2, 1, 0]])


def test_spynnakers_own_connector_agrees():
    pytest.importorskip("spynnaker", reason="sPyNNaker is not installed")
    from spynnaker.pyNN.models.neural_projections.connectors.convolution_connector import (
        ConvolutionConnector)
    connector = ConvolutionConnector(np.ones((5, 5)), strides=5)
    assert connector.get_post_shape((30, 30)) == (5, 5)           # the first try's surprise
    assert connector.get_post_shape(pre_shape(30, 5, 5)) == (6, 6)
