"""Figures of attributions, from hand-made results (no model, no torch): the ranked bars with
their error bars, and the attribution maps of pictures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunelab.analysis.explain import Attribution, Example, ExplainResult
from tunelab.exceptions import ConfigError
from tunelab.viz import plot_attribution_maps, plot_feature_attributions

FEATURES = ("age", "dose", "weight", "height")


def attribution(method: str, by_run: list[list[float]], outputs: int = 2) -> Attribution:
    runs = np.array(by_run, dtype=float)
    per_class = np.tile(runs.mean(axis=0), (outputs, 1))
    return Attribution(method, tuple(f"run {i}" for i in range(len(runs))), runs, per_class,
                       per_class)


def tabular_result() -> ExplainResult:
    ig = attribution("integrated_gradients", [[1.0, 6.0, 2.0, 1.0], [1.0, 4.0, 4.0, 1.0]])
    saliency = attribution("saliency", [[2.0, 1.0, 1.0, 0.0]])
    return ExplainResult(
        trial=7, split="val", n_samples=10, kind="tabular", input_shape=(4,),
        feature_names=FEATURES, output_names=("no", "yes"), class_counts=(4, 6),
        baselines=("zeros", "mean"),
        attributions={"integrated_gradients": ig, "saliency": saliency},
    )


def picture_result() -> ExplainResult:
    """Two classes of 1x2x3 pictures; the example of class 1 is predicted as class 0."""
    maps = np.arange(12, dtype=float).reshape(2, 1, 2, 3) - 4.0  # signed, class by class
    ig = Attribution("integrated_gradients", ("zeros",), np.abs(maps).mean(axis=0)[None],
                     np.abs(maps), maps)
    examples = tuple(
        Example(label=c, predicted=0, input=np.full((1, 2, 3), float(c)),
                attributions={"integrated_gradients": maps[c] * 2.0})
        for c in (0, 1)
    )
    return ExplainResult(
        trial=3, split="test", n_samples=8, kind="image", input_shape=(1, 2, 3),
        feature_names=(), output_names=("cat", "dog"), class_counts=(5, 3), baselines=("zeros",),
        attributions={"integrated_gradients": ig}, examples=examples,
    )


def test_feature_bars_rank_the_shares_with_standard_errors() -> None:
    figure = plot_feature_attributions(tabular_result())
    bars = figure.data[0]
    # Shares per run: dose 0.6 and 0.4, weight 0.2 and 0.4, age and height 0.1 each.
    assert list(bars.y) == ["height", "age", "weight", "dose"]  # the largest on top
    assert list(bars.x) == pytest.approx([0.1, 0.1, 0.3, 0.5])
    assert list(bars.error_x.array) == pytest.approx([0.0, 0.0, 0.1, 0.1])
    assert bars.error_x.visible and bars.orientation == "h"
    assert figure.layout.title.text == "Feature attributions of trial 7 (Integrated gradients)"


def test_feature_bars_of_one_run_have_no_error_bars_and_can_be_cut() -> None:
    figure = plot_feature_attributions(tabular_result(), "saliency", top=2)
    bars = figure.data[0]

    assert list(bars.y) == ["dose", "age"] and list(bars.x) == pytest.approx([0.25, 0.5])
    assert list(bars.error_x.array) == [None, None] and not bars.error_x.visible
    assert figure.layout.title.text.endswith("(Saliency, top 2 of 4)")


def test_attribution_maps_show_each_class_example_its_map_and_the_class_mean() -> None:
    result = picture_result()
    figure = plot_attribution_maps(result)

    assert len(figure.data) == 6  # 3 rows x 2 classes
    titles = [a.text for a in figure.layout.annotations]
    assert titles[:2] == ["cat", "dog (predicted cat)"]
    assert titles[2:] == ["Example", "Its attribution", "Class mean attribution"]
    example, its_map, class_mean = figure.data[3:]  # class "dog": its column's three maps
    np.testing.assert_array_equal(np.array(example.z), np.ones((2, 3)))
    raw = result.examples[1].attributions["integrated_gradients"][0]
    np.testing.assert_allclose(np.array(its_map.customdata), raw)
    np.testing.assert_allclose(np.array(its_map.z), raw / np.abs(raw).max())
    np.testing.assert_allclose(np.array(class_mean.customdata), np.arange(6, 12).reshape(2, 3)
                               - 4.0)
    assert figure.layout.coloraxis.cmin == -1 and figure.layout.coloraxis.cmax == 1
    assert figure.layout.yaxis.autorange == "reversed"  # row 0 of a picture on top


def test_each_figure_refuses_the_other_kind_of_input_and_unknown_methods() -> None:
    with pytest.raises(ConfigError, match="attributions are of image inputs.*use "
                                          "plot_attribution_maps"):
        plot_feature_attributions(picture_result())
    with pytest.raises(ConfigError, match="use plot_feature_attributions"):
        plot_attribution_maps(tabular_result())
    with pytest.raises(ConfigError, match="method 'occlusion' was not computed"):
        plot_attribution_maps(picture_result(), "occlusion")
    with pytest.raises(ConfigError, match="top=0 must be an integer >= 1"):
        plot_feature_attributions(tabular_result(), top=0)
    assert math.isnan(tabular_result().ranking("saliency")[0].stderr)
