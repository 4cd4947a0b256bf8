"""Model builders: shapes, layer names, residual and dropout semantics, and argument errors."""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

from tunelab.exceptions import ConfigError
from tunelab.torch.models import ACTIVATIONS, build_cnn, build_mlp, build_model


def linear_sizes(model: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize(
    ("n_inputs", "batch"), [(20, torch.randn(4, 20)), (64, torch.randn(4, 1, 8, 8))]
)
def test_mlp_output_shape_on_vectors_and_images(n_inputs, batch):
    assert build_mlp(n_inputs, 3, width=16)(batch).shape == (4, 3)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16)])
def test_cnn_output_shape(shape):
    model = build_cnn(shape, 5, channels=4, depth=3, head_width=6)
    assert model(torch.randn(2, *shape)).shape == (2, 5)


def test_cnn_pools_only_while_the_image_is_at_least_two_pixels():
    model = build_cnn((1, 8, 8), 2, channels=2, width_rule="constant", depth=5)
    pooled = ["pool" in dict(block.named_children()) for block in model.blocks]
    assert pooled == [True, True, True, False, False]
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 2)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation):
    mlp = build_mlp(10, 2, width=8, activation=activation)
    cnn = build_cnn((1, 4, 4), 2, channels=2, activation=activation)
    assert mlp(torch.randn(3, 10)).shape == (3, 2)
    assert cnn(torch.randn(3, 1, 4, 4)).shape == (3, 2)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"width": 32, "width_rule": "constant"}, [(10, 32), (32, 32), (32, 32), (32, 2)]),
        ({"width": 32, "width_rule": "halving"}, [(10, 32), (32, 16), (16, 8), (8, 2)]),
        ({"width": 8, "width_rule": "doubling"}, [(10, 8), (8, 16), (16, 32), (32, 2)]),
        ({"width": [5, 7, 9]}, [(10, 5), (5, 7), (7, 9), (9, 2)]),
    ],
)
def test_width_list_or_rule_gives_the_linear_sizes(options, expected):
    assert linear_sizes(build_mlp(10, 2, depth=3, **options)) == expected


def test_halving_never_goes_below_four_units():
    assert linear_sizes(build_mlp(10, 2, depth=4, width=16, width_rule="halving"))[1:] == [
        (16, 8),
        (8, 4),
        (4, 4),
        (4, 2),
    ]


def test_cnn_channels_double_by_default():
    model = build_cnn((3, 16, 16), 2, channels=4, depth=3)
    assert [block.conv.out_channels for block in model.blocks] == [4, 8, 16]


def test_layer_names_are_stable():
    mlp = dict(build_mlp(10, 2, dropout=0.1, batch_norm=True).named_modules())
    cnn = dict(build_cnn((1, 8, 8), 2, dropout=0.1, head_width=4).named_modules())
    for name in ("flatten", "blocks.0.linear", "blocks.0.norm", "blocks.1.act", "blocks.1.dropout"):
        assert name in mlp
    for name in ("blocks.0.conv", "blocks.1.norm", "blocks.0.act", "blocks.0.dropout", "neck"):
        assert name in cnn
    assert isinstance(mlp["head"], nn.Linear) and mlp["head"].out_features == 2
    assert isinstance(cnn["head"], nn.Linear) and cnn["head"].out_features == 2


def test_optional_layers_exist_only_when_asked():
    plain = dict(build_mlp(10, 2).named_modules())
    assert not any(name.endswith(("norm", "dropout", "skip")) for name in plain)
    assert "neck" not in dict(build_cnn((1, 8, 8), 2).named_modules())


def test_batch_norm_adds_batch_norm_layers():
    def count(model: nn.Module, kind: type) -> int:
        return sum(isinstance(m, kind) for m in model.modules())

    assert count(build_mlp(10, 2, depth=3, batch_norm=True), nn.BatchNorm1d) == 3
    assert count(build_mlp(10, 2, depth=3), nn.BatchNorm1d) == 0
    assert count(build_cnn((1, 8, 8), 2, depth=2), nn.BatchNorm2d) == 2
    assert count(build_cnn((1, 8, 8), 2, depth=2, batch_norm=False), nn.BatchNorm2d) == 0


def test_residual_mlp_block_adds_its_input_or_its_projection():
    model = build_mlp(6, 2, width=[4, 4], residual=True)
    first, second = model.blocks
    x = torch.randn(3, 6)
    h = first.act(first.linear(x))

    assert torch.allclose(first(x), h + first.skip(x))
    assert second.skip is None
    assert torch.allclose(second(h), second.act(second.linear(h)) + h)


def test_residual_conv_block_projects_with_the_same_pooling():
    block = build_cnn((2, 8, 8), 2, channels=3, depth=1, residual=True, batch_norm=False).blocks[0]
    x = torch.randn(2, 2, 8, 8)

    assert isinstance(block.skip.pool, nn.MaxPool2d)
    assert torch.allclose(block(x), block.pool(block.act(block.conv(x))) + block.skip(x))


def test_residual_conv_block_with_zero_body_passes_its_input_through():
    block = build_cnn((3, 1, 1), 2, channels=3, depth=1, residual=True, batch_norm=False).blocks[0]
    nn.init.zeros_(block.conv.weight)
    nn.init.zeros_(block.conv.bias)
    x = torch.randn(2, 3, 1, 1)

    assert block.skip is None
    assert torch.equal(block(x), x)


def first_layer_gradient(residual: bool) -> float:
    torch.manual_seed(0)
    model = build_mlp(8, 1, depth=20, width=8, activation="tanh", residual=residual)
    model(torch.randn(16, 8)).sum().backward()
    return model.blocks[0].linear.weight.grad.norm().item()


def test_residual_connections_carry_gradient_to_the_first_block():
    assert first_layer_gradient(residual=True) > 10 * first_layer_gradient(residual=False)


def test_dropout_is_active_in_training_and_off_in_evaluation():
    torch.manual_seed(0)
    model = build_mlp(10, 2, width=64, dropout=0.5)
    reference = build_mlp(10, 2, width=64)
    reference.load_state_dict(model.state_dict())
    x = torch.randn(8, 10)

    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    reference.eval()
    assert torch.equal(model(x), model(x))
    assert torch.allclose(model(x), reference(x))


def test_build_model_from_a_name_or_a_mapping():
    mlp = build_model("mlp", (1, 8, 8), 10)
    cnn = build_model({"name": "cnn", "channels": 4, "depth": 1}, (1, 8, 8), 10)

    assert linear_sizes(mlp)[0] == (64, 128)
    assert cnn.blocks[0].conv.out_channels == 4
    assert cnn(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_build_model_from_a_callable_passes_shape_and_options():
    def factory(input_shape, n_outputs, hidden=3):
        return nn.Sequential(
            nn.Flatten(), nn.Linear(input_shape[-1], hidden), nn.Linear(hidden, n_outputs)
        )

    model = build_model({"name": factory, "hidden": 7}, [5], 2)
    assert linear_sizes(model) == [(5, 7), (7, 2)]


def test_build_model_from_a_module_function_path(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        textwrap.dedent(
            """
            from torch import nn

            def tiny(input_shape, n_outputs, width=4):
                return nn.Linear(input_shape[0], n_outputs)

            not_a_model = lambda input_shape, n_outputs: "oops"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    model = build_model({"name": "my_models:tiny", "width": 2}, (3,), 2)
    assert isinstance(model, nn.Linear) and model.in_features == 3
    with pytest.raises(ConfigError, match="not a torch.nn.Module") as error:
        build_model("my_models:not_a_model", (3,), 2)
    assert error.value.field == "model.name"


def test_factory_returning_a_non_module_is_refused():
    with pytest.raises(ConfigError, match="returned dict") as error:
        build_model(lambda input_shape, n_outputs: {}, (3,), 2)
    assert error.value.field == "model.name"


def test_a_built_model_is_refused_as_a_spec():
    with pytest.raises(ConfigError, match="fresh weights") as error:
        build_model(nn.Linear(3, 2), (3,), 2)
    assert error.value.field == "model.name"


def test_cnn_on_vector_input_says_to_use_an_mlp():
    with pytest.raises(ConfigError) as error:
        build_model("cnn", (64,), 10)
    assert error.value.field == "model.name"
    assert "(C, H, W)" in str(error.value) and "name: mlp" in str(error.value)


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(ConfigError) as error:
        build_model({"name": "mlp", "widht": 3}, (4,), 2)
    message = str(error.value)
    assert error.value.field == "model.widht"
    assert "did you mean 'width'" in message and "depth" in message
    assert "n_inputs" not in message and "n_outputs" not in message


def test_unknown_name_lists_the_names():
    with pytest.raises(ConfigError, match=r"did you mean 'mlp'.*cnn") as error:
        build_model("mpl", (4,), 2)
    assert error.value.field == "model.name"


def test_module_that_cannot_be_imported_is_named():
    with pytest.raises(ConfigError, match="no_such_module_xyz") as error:
        build_model("no_such_module_xyz:build", (4,), 2)
    assert error.value.field == "model.name"


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("n_inputs", {"n_inputs": 0}),
        ("n_outputs", {"n_outputs": True}),
        ("depth", {"depth": 0}),
        ("depth", {"depth": 2.0}),
        ("depth", {"depth": 10**9}),
        ("width", {"width": 0}),
        ("width", {"width": [8, 8, 8]}),
        ("width", {"width": [8, -1]}),
        ("width_rule", {"width_rule": "triple"}),
        ("activation", {"activation": "swish"}),
        ("activation", {"activation": None}),
        ("dropout", {"dropout": 1.0}),
        ("dropout", {"dropout": -0.1}),
        ("dropout", {"dropout": float("nan")}),
        ("batch_norm", {"batch_norm": 1}),
        ("residual", {"residual": "yes"}),
        ("max_parameters", {"max_parameters": 0}),
        ("max_parameters", {"max_parameters": float("nan")}),
        ("max_parameters", {"max_parameters": "many"}),
    ],
)
def test_bad_mlp_argument_names_the_field(field, overrides):
    arguments = {"n_inputs": 8, "n_outputs": 2, "width": 4, **overrides}
    with pytest.raises(ConfigError, match=field) as error:
        build_mlp(**arguments)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("model.name", {"input_shape": (64,)}),
        ("input_shape", {"input_shape": (1, 0, 8)}),
        ("channels", {"channels": [4]}),
        ("kernel_size", {"kernel_size": 4}),
        ("kernel_size", {"kernel_size": 0}),
        ("head_width", {"head_width": -1}),
        ("width_rule", {"width_rule": "constnat"}),
    ],
)
def test_bad_cnn_argument_names_the_field(field, overrides):
    arguments = {"input_shape": (1, 8, 8), "n_outputs": 2, **overrides}
    with pytest.raises(ConfigError, match=field) as error:
        build_cnn(**arguments)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"name": "mlp", "dropout": 2.0}, "model.dropout"),
        ({"name": "cnn", "kernel_size": 2}, "model.kernel_size"),
        ({"depth": 2}, "model.name"),
        ({"name": 3}, "model.name"),
        ("my_missing_module:", "model.name"),
        ({"name": lambda shape: nn.Linear(1, 1)}, "model.name"),
    ],
)
def test_bad_model_spec_names_the_field(spec, field):
    with pytest.raises(ConfigError, match=field.split(".")[-1]) as error:
        build_model(spec, (1, 8, 8), 2)
    assert error.value.field == field


MODEL_SHAPES = [
    (build_mlp, {"n_inputs": 12}, {}),
    (build_mlp, {"n_inputs": 12}, {"depth": 3, "width": 20, "width_rule": "halving",
                                   "batch_norm": True, "residual": True, "activation": "prelu"}),
    (build_mlp, {"n_inputs": 12}, {"width": [7, 12], "residual": True}),
    (build_cnn, {"input_shape": (3, 8, 8)}, {}),
    (build_cnn, {"input_shape": (1, 2, 2)}, {"depth": 3, "channels": [4, 4, 6], "residual": True,
                                             "head_width": 5, "activation": "prelu",
                                             "kernel_size": 5}),
]


@pytest.mark.parametrize(("build", "inputs", "options"), MODEL_SHAPES)
def test_max_parameters_admits_exactly_the_parameters_the_network_has(build, inputs, options):
    built = sum(p.numel() for p in build(**inputs, n_outputs=3, **options).parameters())

    build(**inputs, n_outputs=3, **options, max_parameters=built)
    with pytest.raises(ConfigError) as caught:
        build(**inputs, n_outputs=3, **options, max_parameters=built - 1)

    assert f"make {built:,} parameters, more than max_parameters ({built - 1:,})" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("build", "arguments", "field", "words"),
    [
        (build_mlp, {"n_inputs": 64, "width": 10**11}, "width",
         ["width 100000000000, depth 2 on 64 inputs", "about 10**22 parameters",
          "the limit of 2,147,483,648", "choose a smaller width or depth", "max_parameters"]),
        (build_mlp, {"n_inputs": 64, "width": 8, "depth": 200, "width_rule": "doubling"},
         "width", ["width_rule 'doubling'", "smaller width, depth or width_rule"]),
        (build_cnn, {"input_shape": (1, 8, 8), "channels": 10**7}, "channels",
         ["channels 10000000", "smaller channels, depth, width_rule or kernel_size"]),
    ],
)
def test_a_network_too_large_is_refused_before_it_is_built(
    build, arguments, field, words, monkeypatch
):
    for layer in ("Linear", "Conv2d"):  # the layers that hold the weights
        monkeypatch.setattr(nn, layer, _never_called)

    with pytest.raises(ConfigError) as caught:
        build(n_outputs=10, **arguments)

    assert caught.value.field == field
    for word in words:
        assert word in str(caught.value)


def _never_called(*args, **kwargs):
    raise AssertionError("a layer with weights was built")
