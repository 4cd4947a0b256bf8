from __future__ import annotations

import pickle

import pytest

from tunelab.exceptions import ConfigError
from tunelab.torch.augment import AUGMENTATIONS, Augmenter
from tunelab.torch.recipe import Recipe, field_names


def test_defaults_are_valid_and_json_round_trips():
    recipe = Recipe()
    assert Recipe(**recipe.to_json()) == recipe


def test_recipe_is_immutable_and_replace_validates():
    recipe = Recipe()
    with pytest.raises(AttributeError):
        recipe.lr = 0.1  # type: ignore[misc]
    assert recipe.replace(lr=0.1).lr == 0.1
    with pytest.raises(ConfigError, match="'lr'"):
        recipe.replace(lr=-1.0)


def test_lists_from_a_study_file_become_tuples_and_read_only_mappings():
    recipe = Recipe(freeze=["blocks.0.*"], lr_multipliers={"head.*": 10.0})
    assert recipe.freeze == ("blocks.0.*",)
    with pytest.raises(TypeError):
        recipe.lr_multipliers["x"] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"optimizer": "adamm"}, "optimizer", ["did you mean 'adam'", "adamw"]),
        ({"lr": 0.0}, "lr", ["outside (0.0, inf)"]),
        ({"lr": "0.1"}, "lr", ["must be a number"]),
        ({"batch_size": 0}, "batch_size", ["outside [1, 2**63 - 1]"]),
        ({"batch_size": 10**23}, "batch_size", ["outside [1, 2**63 - 1]", "e.g. 64"]),
        ({"batch_size": 3.5}, "batch_size", ["must be an integer"]),
        ({"epochs": True}, "epochs", ["must be an integer"]),
        ({"momentum": 1.0}, "momentum", ["outside [0.0, 1.0)"]),
        ({"momentum": 0.9}, "momentum", ["sgd and rmsprop only", "beta1"]),
        ({"optimizer": "sgd", "nesterov": True}, "nesterov", ["momentum > 0"]),
        ({"schedule": "cosin"}, "schedule", ["did you mean 'cosine'"]),
        ({"gamma": 0.0}, "gamma", ["outside (0.0, 1.0]"]),
        ({"loss": "mse", "label_smoothing": 0.1}, "label_smoothing", ["cross_entropy only"]),
        ({"init": "he"}, "init", ["kaiming_normal"]),
        ({"init_scale": float("nan")}, "init_scale", ["must be a number"]),
        ({"normalization": "zscore"}, "normalization", ["standardize"]),
        ({"hflip": 1.5}, "hflip", ["hflip"]),
        ({"crop_padding": 1.5}, "crop_padding", ["crop_padding"]),
        ({"device": "gpu"}, "device", ["cuda"]),
        ({"mixed_precision": "yes"}, "mixed_precision", ["true or false"]),
        ({"precision": "bfloat16"}, "precision", ["fp32, bf16, fp16"]),
        ({"precision": "bf16", "mixed_precision": True}, "mixed_precision",
         ["already turns mixed precision on", "remove mixed_precision"]),
        ({"compile": 1}, "compile", ["true or false"]),
        ({"channels_last": "yes"}, "channels_last", ["true or false"]),
        ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps", ["outside [1,"]),
        ({"gradient_accumulation_steps": 2.0}, "gradient_accumulation_steps",
         ["must be an integer"]),
        ({"freeze": 3}, "freeze", ["name patterns"]),
        ({"lr_multipliers": {"head.*": 0}}, "lr_multipliers", ["positive factor"]),
        ({"unfreeze_after": 2}, "unfreeze_after", ["'freeze' is empty"]),
        ({"epochs": 2, "warmup_epochs": 2}, "warmup_epochs", ["no epochs after warm-up"]),
        ({"metric": "precision"}, "metric", ["accuracy"]),
    ],
)
def test_bad_values_name_the_field_and_the_fix(changes, field, words):
    with pytest.raises(ConfigError) as caught:
        Recipe(**changes)
    assert caught.value.field == field
    message = str(caught.value)
    assert f"'{field}'" in message
    for word in words:
        assert word in message


def test_every_augmentation_is_a_recipe_field_that_reaches_the_augmenter():
    strengths = {"hflip": 0.5, "crop_padding": 2, "noise": 0.1}

    recipe = Recipe(**strengths)

    assert set(AUGMENTATIONS) <= set(field_names())
    assert recipe.augmenter() == Augmenter(**strengths)
    assert Recipe().augmenter() == Augmenter()


def test_from_mapping_refuses_unknown_fields_with_a_close_match():
    with pytest.raises(ConfigError, match="did you mean 'weight_decay'") as caught:
        Recipe.from_mapping({"weight_decy": 0.1})
    assert caught.value.field == "weight_decy"
    assert Recipe.from_mapping({"lr": 0.01}).lr == 0.01


def test_a_recipe_pickles_for_worker_processes():
    recipe = Recipe(lr=0.1, freeze=["blocks.0.*"], lr_multipliers={"head.*": 2.0}, unfreeze_after=2)
    assert pickle.loads(pickle.dumps(recipe)) == recipe
