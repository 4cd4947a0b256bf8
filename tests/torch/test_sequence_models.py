"""Sequence model builders: shapes, parameter counts, padding, causality and argument errors."""

from __future__ import annotations

import itertools

import pytest
import torch

from tunelab.exceptions import ConfigError
from tunelab.torch.data.text import PADDING_ID
from tunelab.torch.models import build_model
from tunelab.torch.sequence_models import CausalConv1d

SEQUENCES = ((8, 8), 0)  # input shape, vocabulary size
TOKENS = ((12,), 30)

# Each option value at least once, the boolean and depth options alternating over the rest.
SPECS = [
    *({"name": "rnn", "cell": cell, "pooling": pooling, "bidirectional": i % 2 == 0,
       "depth": 1 + i % 2, "dropout": 0.1}
      for i, (cell, pooling) in enumerate(
          itertools.product(["lstm", "gru", "rnn"], ["last", "mean", "attention"]))),
    *({"name": "tcn", "pooling": pooling, "batch_norm": i % 2 == 0, "residual": i < 2,
       "channels": [16, [8, 16, 4]][i % 2], "activation": "prelu"}
      for i, pooling in enumerate(["last", "mean", "attention", "last"])),
    *({"name": "transformer", "pooling": pooling, "positional": positional, "depth": 1 + i % 2,
       "width": 32, "heads": 4, "ff_width": 48, "activation": "prelu"}
      for i, (pooling, positional) in enumerate(
          zip(["mean", "cls", "attention", "cls"], ["learned", "sinusoidal"] * 2))),
]


def _inputs(kind):
    torch.manual_seed(0)
    if kind is TOKENS:
        ids = torch.randint(2, 30, (5, 12))
        ids[0, 4:] = PADDING_ID
        ids[1, :] = PADDING_ID  # a text of no tokens at all
        return ids
    return torch.randn(5, 8, 8)


@pytest.mark.parametrize("kind", [SEQUENCES, TOKENS], ids=["features", "tokens"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: "-".join(map(str, spec.values())))
def test_outputs_and_the_parameter_count_known_before_building(spec, kind):
    shape, vocabulary = kind
    model = build_model(spec, shape, 3, vocabulary_size=vocabulary)
    parameters = sum(p.numel() for p in model.parameters())

    outputs = model.eval()(_inputs(kind))

    assert outputs.shape == (5, 3) and torch.isfinite(outputs).all()
    build_model({**spec, "max_parameters": parameters}, shape, 3, vocabulary_size=vocabulary)
    with pytest.raises(ConfigError, match="parameters, more than max_parameters"):
        build_model({**spec, "max_parameters": parameters - 1}, shape, 3,
                    vocabulary_size=vocabulary)


@pytest.mark.parametrize(
    "spec",
    [{"name": "rnn", "pooling": "last"}, {"name": "rnn", "pooling": "attention"},
     {"name": "tcn", "pooling": "last"}, {"name": "tcn", "pooling": "mean"},
     {"name": "transformer", "pooling": "mean"}, {"name": "transformer", "pooling": "cls"}],
    ids=lambda spec: "-".join(spec.values()),
)
def test_padding_after_a_text_does_not_change_its_output(spec):
    torch.manual_seed(0)
    model = build_model(spec, (10,), 2, vocabulary_size=20).eval()
    text = torch.tensor([[5, 9, 3, 7]])
    padded = torch.cat([text, torch.full((1, 6), PADDING_ID)], dim=1)

    short = build_model(spec, (4,), 2, vocabulary_size=20)
    short.load_state_dict(
        {k: v[:, :4 + (spec.get("pooling") == "cls")] if k == "encoder.position" else v
         for k, v in model.state_dict().items()}
    )

    torch.testing.assert_close(model(padded), short.eval()(text), rtol=1e-4, atol=1e-5)


def test_a_causal_convolution_never_sees_later_steps():
    conv = CausalConv1d(2, 3, kernel_size=3, dilation=2)
    x = torch.randn(1, 2, 10)
    changed = x.clone()
    changed[..., 6:] += 1.0

    assert torch.equal(conv(x)[..., :6], conv(changed)[..., :6])
    assert not torch.equal(conv(x)[..., 6:], conv(changed)[..., 6:])


def test_layer_names_are_stable():
    rnn = build_model({"name": "rnn", "pooling": "attention", "dropout": 0.1}, (8, 8), 3)
    transformer = build_model({"name": "transformer", "depth": 1, "pooling": "cls"}, (12,), 3,
                              vocabulary_size=40)
    tcn = build_model({"name": "tcn", "depth": 1, "batch_norm": True}, (8, 8), 3)

    assert [n for n, _ in rnn.named_children()] == ["encoder", "pool", "dropout", "head"]
    assert {"encoder.rnn", "pool.score"} <= dict(rnn.named_modules()).keys()
    assert {"embed", "encoder.blocks.0.attention", "encoder.blocks.0.act", "encoder.norm"} <= (
        dict(transformer.named_modules()).keys())
    assert {"encoder.cls", "encoder.position"} <= dict(transformer.named_parameters()).keys()
    assert {"encoder.blocks.0.conv", "encoder.blocks.0.norm", "encoder.blocks.0.skip"} <= (
        dict(tcn.named_modules()).keys())


def test_dilation_grows_per_block():
    model = build_model({"name": "tcn", "depth": 3, "dilation": 2}, (8, 8), 3)

    assert [block.conv.dilation[0] for block in model.encoder.blocks] == [1, 2, 4]


@pytest.mark.parametrize(
    ("spec", "shape", "vocabulary", "field", "words"),
    [
        ({"name": "rnn"}, (1, 8, 8), 0, "model.name", "is an image (C, H, W)"),
        ({"name": "transformer"}, (64,), 0, "model.name", "is a vector of features"),
        ({"name": "cnn"}, (8, 8), 0, "model.name", "for sequences (steps, features) to 'rnn'"),
        ({"name": "mlp"}, (12,), 30, "model.name", "cannot read token ids"),
        ({"name": "transformer", "width": 30, "heads": 4}, (8, 8), 0, "model.width",
         "does not split into 4 heads"),
        ({"name": "rnn", "cell": "lstn"}, (8, 8), 0, "model.cell", "did you mean 'lstm'"),
        ({"name": "rnn", "pooling": "cls"}, (8, 8), 0, "model.pooling", "'last', 'mean'"),
        ({"name": "transformer", "positional": "rotary"}, (8, 8), 0, "model.positional",
         "'learned', 'sinusoidal'"),
        ({"name": "tcn", "dilation": 0}, (8, 8), 0, "model.dilation", ">= 1"),
        ({"name": "rnn", "hidden_size": 10**6}, (8, 8), 0, "model.hidden_size",
         "choose a smaller hidden_size or depth"),
        ({"name": "rnn", "heads": 2}, (8, 8), 0, "model.heads", "has no option 'heads'"),
    ],
)
def test_bad_arguments_name_the_field(spec, shape, vocabulary, field, words):
    with pytest.raises(ConfigError) as caught:
        build_model(spec, shape, 3, vocabulary_size=vocabulary)

    assert caught.value.field == field
    assert words in str(caught.value)
