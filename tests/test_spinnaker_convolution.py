"""sPyNNaker's ConvolutionConnector on the patch grid: its post shape, and the fix."""
import numpy as np
import pytest

from spiking_mnist.hardware import spinnaker_convolution as conv


def test_the_formula_of_spynnaker_drops_the_last_window_of_a_stride_5_grid():
    assert conv.windows(30, 5, 5) == 6
    assert conv.spynnaker_post_side(30, 5, 5) == 5
    assert conv.spynnaker_post_side(34, 5, 5) == 6
    assert conv.pre_shape(30, 5, 5) == (34, 34)


@pytest.mark.parametrize("side,kernel,stride", [(30, 5, 5), (28, 5, 1), (28, 4, 3),
                                                 (12, 2, 2), (9, 3, 2)])
def test_the_declared_pre_shape_gives_every_window(side, kernel, stride):
    declared, _ = conv.pre_shape(side, kernel, stride)
    assert conv.spynnaker_post_side(declared, kernel, stride) == conv.windows(side, kernel,
                                                                              stride)


def test_embedded_indices_keep_rows_and_columns():
    assert list(conv.embed(np.array([0, 29, 30, 899]), 30, 34)) == [0, 29, 34, 29 * 34 + 29]


def test_a_field_is_handed_over_turned_by_180_degrees():
    field = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(conv.kernel_of(field), [[5, 4, 3], [2, 1, 0]])


def test_spynnakers_own_connector_agrees():
    pytest.importorskip("spynnaker", reason="sPyNNaker is not installed")
    from spynnaker.pyNN.models.neural_projections.connectors.convolution_connector import (
        ConvolutionConnector)
    connector = ConvolutionConnector(np.ones((5, 5)), strides=5)
    assert connector.get_post_shape((30, 30)) == (5, 5)           # the first try's surprise
    assert connector.get_post_shape(conv.pre_shape(30, 5, 5)) == (6, 6)
