"""Model builders for sequences, every argument a hyperparameter a study can tune.

Inputs are sequences of feature vectors, (steps, features) per sample, or token ids, (steps,)
per sample over a vocabulary of ``vocabulary_size`` tokens (text; see
:mod:`tunelab.torch.data.text`), which an ``embed`` layer turns into vectors first. Token id
PADDING_ID marks the padding at the end of a short text: the encoders and poolings leave it
out. Each network runs ``[embed]`` -> ``encoder`` -> ``pool`` -> ``[dropout]`` -> ``head``:

* ``rnn`` (:func:`build_rnn`): ``encoder.rnn``, a stack of LSTM, GRU or plain RNN layers.
* ``tcn`` (:func:`build_tcn`): ``encoder.blocks.<i>.{conv,norm,act,dropout,skip}``, causal
  1-D convolutions whose dilation grows by ``dilation`` per block (a temporal convolutional
  network; ``dilation: 1`` makes it a plain 1-D CNN).
* ``transformer`` (:func:`build_transformer`): ``encoder.position`` (learned; sinusoidal
  positions are a fixed buffer), ``encoder.blocks.<i>.{norm1,attention,norm2,linear1,act,
  linear2,dropout}`` (pre-norm encoder blocks), ``encoder.norm``.

``pool`` turns the encoder's (steps, width) outputs into one vector: ``last`` (the last step;
with ``bidirectional``, the backward direction's first), ``mean`` (over steps), ``attention``
(weights over steps that ``pool.score`` learns), or for the transformer ``cls`` (a learned
token put before the sequence, ``encoder.cls``, read at the end).

As :mod:`tunelab.torch.models` does, the builders check every argument and count the
parameters before building, refusing a network over ``max_parameters``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from tunelab.exceptions import ConfigError
from tunelab.torch.data.text import PADDING_ID
from tunelab.torch.models import (
    DEFAULT_MAX_PARAMETERS,
    _activation_parameters,
    _Block,
    _block_extras,
    _block_sizes,
    _check_blocks,
    _check_choice,
    _check_flag,
    _check_max_parameters,
    _check_positive_int,
    _check_size,
    _linear_parameters,
)

CELLS: dict[str, Callable[..., nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
_GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # weight blocks per recurrent layer and direction
POSITIONAL = ("learned", "sinusoidal")
RECURRENT_POOLING = ("last", "mean", "attention")
TRANSFORMER_POOLING = ("mean", "cls", "attention")


class SequenceNetwork(nn.Module):
    """``[embed]`` -> ``encoder`` -> ``pool`` -> ``[dropout]`` -> ``head``, with the padding of
    token ids masked (see the module docstring)."""

    def __init__(
        self,
        embed: nn.Module | None,
        encoder: nn.Module,
        pool: nn.Module,
        dropout: float,
        head: nn.Linear,
        features_last_layers: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.tokens = isinstance(embed, nn.Embedding)
        if embed is not None:
            self.embed = embed
        self.encoder = encoder
        self.pool = pool
        if dropout > 0.0:
            self.dropout = nn.Dropout(dropout)
        self.head = head
        self.features_last_layers = features_last_layers
        """The layers whose outputs are (N, steps, features), for activation telemetry."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = None
        if self.tokens:
            padding = x == PADDING_ID
            # A text of no tokens still has a first step to read, so no row is all padding.
            padding[:, 0] = False
        h = self.embed(x) if "embed" in self._modules else x
        h = self.pool(self.encoder(h, padding), padding)
        if "dropout" in self._modules:
            h = self.dropout(h)
        return self.head(h)


class Recurrent(nn.Module):
    """The outputs of every step of a stack of recurrent layers, ``rnn``."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        return self.rnn(h)[0]


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution whose output at a step sees only that step and earlier ones."""

    def __init__(self, n_in: int, n_out: int, kernel_size: int, dilation: int) -> None:
        super().__init__(n_in, n_out, kernel_size, dilation=dilation,
                         padding=(kernel_size - 1) * dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Padding both ends and dropping the surplus at the end keeps the output causal.
        return super().forward(x)[..., : x.shape[-1]]


class TemporalBlock(_Block):
    """``conv`` -> [``norm``] -> ``act`` -> [``dropout``] on (N, channels, steps), with a 1x1
    convolution ``skip`` when residual and the channels change."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        kernel_size: int,
        dilation: int,
        activation: Any,
        dropout: float,
        batch_norm: bool,
        residual: bool,
    ) -> None:
        super().__init__(residual)
        self.add_layer("conv", CausalConv1d(n_in, n_out, kernel_size, dilation))
        if batch_norm:
            self.add_layer("norm", nn.BatchNorm1d(n_out))
        self.add_layer("act", activation())
        if dropout > 0.0:
            self.add_layer("dropout", nn.Dropout(dropout))
        if residual and n_in != n_out:
            self.skip = nn.Conv1d(n_in, n_out, 1)


class TemporalConv(nn.Module):
    """Temporal blocks over (N, steps, features), run with channels first."""

    def __init__(self, blocks: Sequence[TemporalBlock]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        return self.blocks(h.transpose(1, 2)).transpose(1, 2)


class EncoderBlock(nn.Module):
    """A pre-norm transformer encoder block: self-attention, then a feed-forward layer, each
    added back to its input."""

    def __init__(
        self, width: int, heads: int, ff_width: int, activation: Any, dropout: float
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.linear1 = nn.Linear(width, ff_width)
        self.act = activation()
        self.linear2 = nn.Linear(ff_width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        a = self.norm1(h)
        a = self.attention(a, a, a, key_padding_mask=padding, need_weights=False)[0]
        h = h + self.dropout(a)
        f = self.linear2(self.dropout(self.act(self.linear1(self.norm2(h)))))
        return h + self.dropout(f)


class TransformerEncoder(nn.Module):
    """Positions added to the steps (after an optional ``cls`` token), encoder ``blocks`` and
    a final ``norm``."""

    def __init__(
        self, steps: int, width: int, blocks: Sequence[EncoderBlock], positional: str, cls: bool
    ) -> None:
        super().__init__()
        length = steps + int(cls)
        if cls:
            self.cls = nn.Parameter(torch.zeros(1, 1, width))
        if positional == "learned":
            self.position = nn.Parameter(torch.zeros(1, length, width))
            nn.init.normal_(self.position, std=0.02)
        else:
            self.register_buffer("position", _sinusoids(length, width), persistent=False)
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(width)

    def forward(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        if "cls" in self._parameters:
            h = torch.cat([self.cls.expand(len(h), -1, -1), h], dim=1)
            if padding is not None:
                padding = torch.cat([padding.new_zeros(len(h), 1), padding], dim=1)
        h = h + self.position[:, : h.shape[1]]
        for block in self.blocks:
            h = block(h, padding)
        return self.norm(h)


def _sinusoids(length: int, width: int) -> torch.Tensor:
    """The fixed positions of "Attention is all you need": sines and cosines of the step at
    geometrically spaced frequencies, (1, length, width)."""
    steps = torch.arange(length, dtype=torch.float32)[:, None]
    frequencies = torch.exp(torch.arange(0, width, 2, dtype=torch.float32)
                            * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(steps * frequencies)
    table[:, 1::2] = torch.cos(steps * frequencies)[:, : width // 2]
    return table[None]


class LastStep(nn.Module):
    """The last step that is not padding; with ``bidirectional``, the backward half of the
    features is read at the first step, where the backward direction ends."""

    def __init__(self, bidirectional: bool = False) -> None:
        super().__init__()
        self.bidirectional = bidirectional

    def forward(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        if padding is None:
            last = h[:, -1]
        else:
            index = (~padding).sum(dim=1) - 1
            last = h[torch.arange(len(h), device=h.device), index]
        if not self.bidirectional:
            return last
        half = h.shape[-1] // 2
        return torch.cat([last[:, :half], h[:, 0, half:]], dim=1)


class FirstStep(nn.Module):
    """The first step: where a transformer's ``cls`` token is."""

    def forward(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        return h[:, 0]


class MeanPool(nn.Module):
    """The mean over the steps that are not padding."""

    def forward(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        if padding is None:
            return h.mean(dim=1)
        kept = (~padding).unsqueeze(-1).to(h.dtype)
        return (h * kept).sum(dim=1) / kept.sum(dim=1)


class AttentionPool(nn.Module):
    """A weighted mean over the steps, the weights a softmax of a learned ``score`` per step."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.score = nn.Linear(width, 1)

    def forward(self, h: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        scores = self.score(h).squeeze(-1)
        if padding is not None:
            scores = scores.masked_fill(padding, -math.inf)
        weights = torch.softmax(scores.float(), dim=1).to(h.dtype)
        return torch.einsum("nt,ntf->nf", weights, h)


def build_rnn(
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    vocabulary_size: int = 0,
    cell: str = "lstm",
    depth: int = 1,
    hidden_size: int = 64,
    bidirectional: bool = False,
    dropout: float = 0.0,
    pooling: str = "last",
    embedding_dim: int = 32,
    max_parameters: float = DEFAULT_MAX_PARAMETERS,
) -> nn.Module:
    """A recurrent network: ``depth`` stacked ``cell`` layers (lstm, gru or rnn) of
    ``hidden_size`` units, in both directions with ``bidirectional``. ``dropout`` applies
    between the layers and before the head; ``embedding_dim`` sizes token embeddings."""
    steps, features = _sequence_input(input_shape, vocabulary_size, "rnn")
    _check_positive_int("n_outputs", n_outputs)
    _check_choice("cell", cell, CELLS)
    _check_flag("bidirectional", bidirectional)
    _check_choice("pooling", pooling, RECURRENT_POOLING)
    _check_positive_int("embedding_dim", embedding_dim)
    _check_blocks("hidden_size", hidden_size, depth, "constant", "tanh", dropout, False, False)
    _check_max_parameters(max_parameters)
    n_in = embedding_dim if vocabulary_size else features
    directions = 2 if bidirectional else 1
    width = hidden_size * directions
    parameters = _embedding_parameters(vocabulary_size, embedding_dim) + _pool_parameters(
        pooling, width
    ) + _linear_parameters(width, n_outputs)
    for layer in range(depth):
        layer_in = n_in if layer == 0 else width
        parameters += directions * _GATES[cell] * (
            hidden_size * (layer_in + hidden_size) + 2 * hidden_size
        )
    sizes = {"hidden_size": hidden_size, "depth": depth}
    if vocabulary_size:
        sizes["embedding_dim"] = embedding_dim
    _check_size(parameters, max_parameters, sizes, _inputs_text(steps, features, vocabulary_size))
    rnn = CELLS[cell](
        n_in, hidden_size, depth, batch_first=True, bidirectional=bidirectional,
        dropout=dropout if depth > 1 else 0.0,
    )
    return SequenceNetwork(
        _embedding(vocabulary_size, embedding_dim),
        Recurrent(rnn),
        _pool(pooling, width, bidirectional),
        dropout,
        nn.Linear(width, n_outputs),
    )


def build_tcn(
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    vocabulary_size: int = 0,
    depth: int = 3,
    channels: int | Sequence[int] = 32,
    width_rule: str = "constant",
    kernel_size: int = 3,
    dilation: int = 2,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    residual: bool = True,
    pooling: str = "last",
    embedding_dim: int = 32,
    max_parameters: float = DEFAULT_MAX_PARAMETERS,
) -> nn.Module:
    """A temporal convolutional network: ``depth`` blocks of causal convolutions whose
    dilation is ``dilation**i`` in block i (1: a plain 1-D CNN). ``channels`` works like
    :func:`~tunelab.torch.models.build_mlp`'s ``width``."""
    steps, features = _sequence_input(input_shape, vocabulary_size, "tcn")
    _check_positive_int("n_outputs", n_outputs)
    _check_positive_int("kernel_size", kernel_size)
    _check_positive_int("dilation", dilation)
    _check_choice("pooling", pooling, RECURRENT_POOLING)
    _check_positive_int("embedding_dim", embedding_dim)
    widths, act = _check_blocks(
        "channels", channels, depth, width_rule, activation, dropout, batch_norm, residual
    )
    _check_max_parameters(max_parameters)
    n_in = embedding_dim if vocabulary_size else features
    parameters = _embedding_parameters(vocabulary_size, embedding_dim) + _pool_parameters(
        pooling, widths[-1]
    ) + _linear_parameters(widths[-1], n_outputs)
    for block_in, block_out in zip([n_in, *widths], widths):
        parameters += block_in * block_out * kernel_size + block_out
        parameters += _block_extras(block_out, act, batch_norm)
        if residual and block_in != block_out:
            parameters += _linear_parameters(block_in, block_out)  # the skip's 1x1 convolution
    sizes = {**_block_sizes("channels", channels, width_rule, depth), "kernel_size": kernel_size}
    _check_size(parameters, max_parameters, sizes, _inputs_text(steps, features, vocabulary_size))
    blocks = [
        TemporalBlock(block_in, block_out, kernel_size, dilation**index, act, dropout,
                      batch_norm, residual)
        for index, (block_in, block_out) in enumerate(zip([n_in, *widths], widths))
    ]
    return SequenceNetwork(
        _embedding(vocabulary_size, embedding_dim),
        TemporalConv(blocks),
        _pool(pooling, widths[-1]),
        dropout,
        nn.Linear(widths[-1], n_outputs),
    )


def build_transformer(
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    vocabulary_size: int = 0,
    depth: int = 2,
    width: int = 64,
    heads: int = 4,
    ff_width: int = 128,
    activation: str = "gelu",
    dropout: float = 0.0,
    positional: str = "learned",
    pooling: str = "mean",
    max_parameters: float = DEFAULT_MAX_PARAMETERS,
) -> nn.Module:
    """A transformer encoder: the steps (token embeddings, or features projected by the
    Linear ``embed``) of ``width`` units, ``positional`` positions added, then ``depth`` blocks
    of ``heads``-headed self-attention and a feed-forward layer of ``ff_width`` units."""
    steps, features = _sequence_input(input_shape, vocabulary_size, "transformer")
    _check_positive_int("n_outputs", n_outputs)
    _check_positive_int("heads", heads)
    _check_positive_int("ff_width", ff_width)
    _check_choice("positional", positional, POSITIONAL)
    _check_choice("pooling", pooling, TRANSFORMER_POOLING)
    _, act = _check_blocks("width", width, depth, "constant", activation, dropout, False, False)
    if width % heads:
        raise ConfigError(
            f"width {width} does not split into {heads} heads; choose a width that heads "
            f"divides (e.g. {heads * max(1, round(width / heads))}) or another number of heads.",
            field="width",
        )
    _check_max_parameters(max_parameters)
    cls = pooling == "cls"
    length = steps + int(cls)
    block_parameters = (
        4 * width * width + 4 * width  # attention: query, key and value, and the output
        + 4 * width  # two layer norms
        + _linear_parameters(width, ff_width) + _linear_parameters(ff_width, width)
        + _activation_parameters(act)
    )
    parameters = (
        (vocabulary_size * width if vocabulary_size else _linear_parameters(features, width))
        + (length * width if positional == "learned" else 0)
        + (width if cls else 0)
        + depth * block_parameters
        + 2 * width  # the final norm
        + _pool_parameters(pooling, width)
        + _linear_parameters(width, n_outputs)
    )
    sizes = {"width": width, "depth": depth, "ff_width": ff_width}
    _check_size(parameters, max_parameters, sizes, _inputs_text(steps, features, vocabulary_size))
    blocks = [EncoderBlock(width, heads, ff_width, act, dropout) for _ in range(depth)]
    embed = (
        _embedding(vocabulary_size, width) if vocabulary_size else nn.Linear(features, width)
    )
    return SequenceNetwork(
        embed,
        TransformerEncoder(steps, width, blocks, positional, cls),
        _pool(pooling, width),
        dropout,
        nn.Linear(width, n_outputs),
        features_last_layers=tuple(f"encoder.blocks.{i}.act" for i in range(depth)),
    )


SEQUENCE_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "rnn": build_rnn, "tcn": build_tcn, "transformer": build_transformer,
}


def _sequence_input(
    input_shape: Sequence[int], vocabulary_size: int, name: str
) -> tuple[int, int]:
    """(steps, features) of the inputs; features is 0 for token ids."""
    shape = tuple(input_shape)
    if vocabulary_size and len(shape) == 1:
        return int(shape[0]), 0
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    seen = {3: "an image (C, H, W)", 1: "a vector of features"}.get(len(shape), "no sequence")
    raise ConfigError(
        f"input_shape {shape!r} is {seen}, but model {name!r} reads sequences: (steps, "
        f"features) per sample, such as data digits_sequences, timeseries or text; for images "
        f"set model.name to 'cnn', for vectors to 'mlp'.",
        field="model.name",
    )


def _inputs_text(steps: int, features: int, vocabulary_size: int) -> str:
    if vocabulary_size:
        return f"{steps} tokens of a {vocabulary_size:,}-token vocabulary"
    return f"sequences of {steps} steps of {features} features"


def _embedding(vocabulary_size: int, dim: int) -> nn.Embedding | None:
    if not vocabulary_size:
        return None
    return nn.Embedding(vocabulary_size, dim, padding_idx=PADDING_ID)


def _embedding_parameters(vocabulary_size: int, dim: int) -> int:
    return vocabulary_size * dim


def _pool(pooling: str, width: int, bidirectional: bool = False) -> nn.Module:
    if pooling == "last":
        return LastStep(bidirectional)
    if pooling == "mean":
        return MeanPool()
    if pooling == "cls":
        return FirstStep()
    assert pooling == "attention", pooling
    return AttentionPool(width)


def _pool_parameters(pooling: str, width: int) -> int:
    return _linear_parameters(width, 1) if pooling == "attention" else 0
