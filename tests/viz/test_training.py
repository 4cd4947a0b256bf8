"""Figures of one trial's training telemetry, from a trial the real engine trained."""

from __future__ import annotations

import math

import pytest

from tunelab.exceptions import ConfigError
from tunelab.viz import (
    NothingToPlotError,
    plot_activations,
    plot_distributions,
    plot_gradient_norms,
    plot_training_curves,
)


@pytest.fixture(scope="module")
def telemetry(trained_record):
    from tunelab.telemetry import read_telemetry

    return read_telemetry(trained_record)


def test_training_curves_show_loss_metric_and_learning_rate(trained_record, telemetry):
    figure = plot_training_curves(trained_record, metric_name="accuracy")
    epochs = [epoch.epoch for epoch in telemetry]
    assert [trace.name for trace in figure.data] == [
        "Training", "Validation", "Training", "Validation", "Learning rate"
    ]
    assert all(list(trace.x) == epochs for trace in figure.data)
    assert list(figure.data[0].y) == [epoch.train_loss for epoch in telemetry]
    assert list(figure.data[3].y) == [epoch.val_metric for epoch in telemetry]
    assert list(figure.data[4].y) == [epoch.lr for epoch in telemetry]
    assert figure.layout.yaxis3.type == "log"
    assert [a.text for a in figure.layout.annotations] == ["Loss", "accuracy", "Learning rate"]


def test_gradient_norms_are_a_heat_map_of_layers_by_epochs(trained_record, telemetry):
    (heatmap,) = plot_gradient_norms(trained_record).data
    layers = list(telemetry[0].grad_norm)
    assert layers == ["blocks.0.linear", "blocks.1.linear", "head"]
    assert list(heatmap.y) == layers
    assert list(heatmap.x) == [epoch.epoch for epoch in telemetry]
    for row, layer in zip(heatmap.z, layers):
        assert list(row) == [math.log10(epoch.grad_norm[layer]) for epoch in telemetry]
    assert heatmap.colorbar.ticktext  # labelled in norms, not in their logarithm


def test_activations_show_mean_std_and_dead_units_per_layer(trained_record, telemetry):
    figure = plot_activations(trained_record)
    layers = list(telemetry[0].activations)
    assert [trace.name for trace in figure.data] == [name for name in layers for _ in range(2)]
    for index, layer in enumerate(layers):
        mean, dead = figure.data[2 * index], figure.data[2 * index + 1]
        assert list(mean.y) == [epoch.activations[layer].mean for epoch in telemetry]
        assert list(mean.error_y.array) == [epoch.activations[layer].std for epoch in telemetry]
        assert list(dead.y) == [epoch.activations[layer].dead for epoch in telemetry]
        assert mean.line.color == dead.line.color


@pytest.mark.parametrize(
    "figure", [plot_training_curves, plot_gradient_norms, plot_activations, plot_distributions]
)
def test_a_trial_without_telemetry_says_how_to_record_it(minimize_study, figure):
    record = minimize_study.trials[0]
    expected = f"trial {record.number} has no training telemetry.*tunelab.torch.watch"
    with pytest.raises(NothingToPlotError, match=expected):
        figure(record)


@pytest.mark.parametrize("kind", ["weights", "gradients", "activations"])
def test_distributions_draw_quantile_bands_and_the_median_per_layer(trained_record, telemetry,
                                                                     kind):
    figure = plot_distributions(trained_record, kind)
    layers = list(telemetry[0].distributions[kind])
    epochs = [epoch.epoch for epoch in telemetry]
    per_layer = len(figure.data) // len(layers)
    assert per_layer == 9  # four bands of two edges each, and the median
    assert [a.text for a in figure.layout.annotations] == layers
    for index, layer in enumerate(layers):
        traces = figure.data[index * per_layer:(index + 1) * per_layer]
        quantiles = [epoch.distributions[kind][layer] for epoch in telemetry]
        assert all(list(trace.x) == epochs for trace in traces)
        assert list(traces[0].y) == [q[0] for q in quantiles]  # the smallest value
        assert list(traces[1].y) == [q[-1] for q in quantiles]  # the largest
        assert traces[1].fill == "tonexty"
        assert list(traces[-1].y) == [q[4] for q in quantiles]  # the median


def test_distributions_of_an_unknown_kind_name_the_field(trained_record):
    with pytest.raises(ConfigError, match="kind must be one of weights, gradients, activations"):
        plot_distributions(trained_record, "biases")
