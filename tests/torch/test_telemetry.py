"""The distributions the telemetry describes layers by: quantiles over a fixed sample of a
layer's values, each of its tensors in proportion to its size."""

from __future__ import annotations

import math

import pytest
import torch

from tunelab.telemetry import QUANTILE_LEVELS
from tunelab.torch.telemetry import (
    QUANTILE_SAMPLE,
    LayerQuantiles,
    activation_quantiles,
    sample_values,
    value_quantiles,
    weight_quantiles,
)


def test_a_small_layer_is_described_by_all_its_values() -> None:
    weight, bias = torch.arange(12.0).reshape(3, 4), torch.tensor([100.0, -100.0, 0.5])
    quantiles = LayerQuantiles(["fc.weight", "fc.bias"], [12, 3])

    described = weight_quantiles(quantiles, [weight, bias])

    expected = torch.quantile(torch.cat([weight.reshape(-1), bias]), torch.tensor(QUANTILE_LEVELS))
    assert described == {"fc": pytest.approx(expected.tolist(), rel=1e-3)}


def test_a_large_layer_is_sampled_in_proportion_to_its_tensors_at_fixed_positions() -> None:
    torch.manual_seed(0)
    big, small = torch.randn(400_000), torch.full((2_000,), 50.0)
    quantiles = LayerQuantiles(["fc.weight", "fc.bias"], [big.numel(), small.numel()])

    samples = [quantiles.sample(0, big), quantiles.sample(1, small)]

    assert [len(s) for s in samples] == [round(QUANTILE_SAMPLE * 400 / 402),
                                         round(QUANTILE_SAMPLE * 2 / 402)]
    assert torch.equal(samples[0], quantiles.sample(0, big))  # the same positions each time
    # 0.5% of the layer's values are 50.0: the sample keeps that share, so the 99th
    # percentile stays among the normal values and the largest is 50.
    rows = quantiles.quantiles(samples)
    assert rows is not None
    assert rows[0, -2].item() < 4.0 and rows[0, -1].item() == 50.0


def test_gradients_are_described_at_the_last_sampled_step_a_layer_without_any_left_out() -> None:
    quantiles = LayerQuantiles(["a.weight", "b.weight"], [4, 4])
    for scale in (1.0, 3.0):
        quantiles.keep([quantiles.sample(0, scale * torch.tensor([1.0, 2.0, 3.0, 4.0])), None])
    quantiles.keep([None, None])  # a step that gave no gradient keeps the last one that did

    described = quantiles.epoch_quantiles()

    assert list(described) == ["a"]  # b (frozen) had no gradient
    assert described["a"][0] == pytest.approx(3.0) and described["a"][-1] == pytest.approx(12.0)
    assert quantiles.epoch_quantiles() == {}  # reset


def test_activations_of_every_kept_layer_and_non_finite_ones_left_out() -> None:
    outputs = {"relu": torch.tensor([[0.0, 1.0], [2.0, 3.0]]), "bad": torch.tensor([math.inf])}

    described = activation_quantiles(outputs)

    assert list(described) == ["relu"]
    assert described["relu"][0] == 0.0 and described["relu"][4] == 1.5
    assert described["relu"][-1] == 3.0


def test_a_sample_holds_all_values_of_a_tensor_that_has_no_more() -> None:
    values = torch.arange(10.0)
    assert torch.equal(sample_values(values), values)
    assert len(sample_values(torch.zeros(QUANTILE_SAMPLE * 3))) == QUANTILE_SAMPLE


def test_quantiles_of_several_rows_at_once_are_torch_quantiles_of_each() -> None:
    generator = torch.Generator().manual_seed(0)
    rows = [torch.randn(n, generator=generator) for n in (1, 2, 7, 100, 4096)]
    computed = value_quantiles([*rows, None])
    levels = torch.tensor(QUANTILE_LEVELS)
    for row, expected in zip(computed, rows):
        assert torch.allclose(row, torch.quantile(expected, levels))
    assert torch.isnan(computed[-1]).all()


def test_recurrent_outputs_are_recorded_with_their_units_second() -> None:
    from tunelab.torch.models import build_model
    from tunelab.torch.telemetry import ActivationRecorder

    torch.manual_seed(0)
    model = build_model({"name": "rnn", "hidden_size": 6, "bidirectional": True}, (5, 3), 2)
    recorder = ActivationRecorder(model)
    with recorder, torch.no_grad():
        model(torch.randn(4, 5, 3))

    assert recorder.outputs["encoder.rnn"].shape == (4, 12, 5)  # (N, units, steps)
    stats = recorder.stats()["encoder.rnn"]
    assert stats.kind == "LSTM" and stats.dead == 0.0
    assert -1.0 < stats.mean < 1.0 and stats.std > 0.0


def test_a_features_last_layer_counts_its_units_not_its_steps() -> None:
    from tunelab.torch.models import build_model
    from tunelab.torch.telemetry import ActivationRecorder

    torch.manual_seed(0)
    model = build_model({"name": "transformer", "depth": 1, "width": 8, "heads": 2,
                         "ff_width": 16, "activation": "relu"}, (5, 3), 2)
    linear1 = model.encoder.blocks[0].linear1
    with torch.no_grad():  # half of the feed-forward units never fire: they are dead
        linear1.weight[8:] = 0.0
        linear1.bias[8:] = -1.0
    recorder = ActivationRecorder(model)
    with recorder, torch.no_grad():
        model(torch.randn(4, 5, 3))

    assert recorder.outputs["encoder.blocks.0.act"].shape == (4, 16, 5)
    assert recorder.stats()["encoder.blocks.0.act"].dead == pytest.approx(0.5, abs=0.13)
