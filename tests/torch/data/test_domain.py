from __future__ import annotations

import numpy as np
import pytest
import torch

from tunelab.torch.data import load_data

from .helpers import config_error, image_folder

DIGITS = {"name": "digits_images", "seed": 3}


@pytest.fixture(scope="module")
def upright():
    return load_data(DIGITS)


def test_rotate_turns_every_image_and_keeps_the_split(upright):
    turned = load_data({**DIGITS, "rotate": 90})

    assert torch.equal(turned.y_train, upright.y_train) and torch.equal(turned.y_val, upright.y_val)
    assert torch.equal(turned.x_val, torch.rot90(upright.x_val, 1, dims=(2, 3)))
    assert torch.equal(load_data({**DIGITS, "rotate": 180}).x_train,
                       torch.rot90(upright.x_train, 2, dims=(2, 3)))


def test_invert_swaps_ink_and_background_within_the_same_range(upright):
    inverted = load_data({**DIGITS, "invert": True})

    assert torch.equal(inverted.x_train, 16 - upright.x_train)  # digits' pixels run from 0 to 16
    assert torch.equal(inverted.y_train, upright.y_train)


def test_a_quarter_turn_of_a_non_square_image_swaps_its_height_and_width(tmp_path):
    spec = {"name": "image_folder", "path": str(image_folder(tmp_path)), "size": [6, 4],
            "val_fraction": 0.34}
    _, height, width = load_data(spec).input_shape
    data = load_data({**spec, "rotate": 270, "invert": True})

    assert height != width
    assert data.input_shape == (1, width, height) and data.x_train.shape[1:] == (1, width, height)


@pytest.mark.parametrize(
    ("options", "field", "fragment"),
    [
        ({"rotate": 45}, "data.rotate", "one of 0, 90, 180, 270"),
        ({"rotate": "90"}, "data.rotate", "one of 0, 90, 180, 270"),
        ({"invert": "yes"}, "data.invert", "true or false"),
    ],
)
def test_bad_domain_options_are_refused(options, field, fragment):
    assert fragment in config_error({**DIGITS, **options}, field)


@pytest.mark.parametrize("option", [{"rotate": 90}, {"invert": True}])
def test_a_domain_shift_of_features_that_are_not_images_is_refused(option):
    message = config_error({"name": "digits", **option}, f"data.{next(iter(option))}")
    assert "(N, C, H, W)" in message and "(1797, 64)" in message and "digits_images" in message


def test_an_unshifted_source_is_left_as_it_is(upright):
    same = load_data({**DIGITS, "rotate": 0, "invert": False})
    assert np.array_equal(same.x_train.numpy(), upright.x_train.numpy())
