"""Figures of a classifier's mistakes, from made-up counts."""

from __future__ import annotations

import numpy as np
import pytest

from tunelab.analysis.mistakes import _count
from tunelab.viz import NothingToPlotError, plot_confident_mistakes, plot_confusion_matrix

LABELS = np.array([0, 0, 0, 1, 1])
PROBABILITIES = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.95, 0.05]])


def counted(inputs: np.ndarray, top: int = 12):
    return _count(4, "val", ("cat", "dog"), LABELS, PROBABILITIES, top, inputs)


def test_the_confusion_matrix_shows_counts_coloured_by_the_share_of_the_true_class():
    (heatmap,) = plot_confusion_matrix(counted(np.zeros((5, 2)))).data
    assert list(heatmap.x) == ["cat", "dog"] and list(heatmap.y) == ["cat", "dog"]
    assert heatmap.text.tolist() == [[2, 1], [1, 1]]
    assert np.allclose(heatmap.z, [[2 / 3, 1 / 3], [0.5, 0.5]])


def test_pictures_of_the_mistakes_are_titled_true_to_predicted_with_the_confidence():
    pictures = np.arange(5 * 1 * 2 * 2, dtype=float).reshape(5, 1, 2, 2)
    figure = plot_confident_mistakes(counted(pictures))
    assert [a.text for a in figure.layout.annotations] == ["dog → cat (95%)", "cat → dog (70%)"]
    assert figure.data[0].z.tolist() == pictures[4, 0].tolist()


def test_feature_vectors_get_a_table_of_the_mistakes():
    (table,) = plot_confident_mistakes(counted(np.zeros((5, 3)))).data
    assert [list(column) for column in table.cells.values] == [
        [4, 2], ["dog", "cat"], ["cat", "dog"], ["95.0%", "70.0%"]
    ]


def test_a_model_without_mistakes_has_nothing_to_draw():
    perfect = _count(1, "val", (), np.array([0, 1]), np.eye(2), 12, np.zeros((2, 1)))
    with pytest.raises(NothingToPlotError, match="trial 1 got every example of the val part"):
        plot_confident_mistakes(perfect)
