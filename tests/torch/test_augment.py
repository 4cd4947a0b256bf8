from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from tunelab.exceptions import ConfigError
from tunelab.torch.augment import AUGMENTATIONS, IMAGE_ONLY, Augmenter

# A clearly visible, valid strength for each augmentation.
STRENGTHS: dict[str, float] = {
    "hflip": 1.0,
    "vflip": 1.0,
    "rotation": 30.0,
    "shift": 0.2,
    "scale": 0.3,
    "crop_padding": 3,
    "noise": 0.1,
    "erasing": 1.0,
}


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 8, channels: int = 3, size: int = 16) -> torch.Tensor:
    """A batch of random, asymmetric images: any flip or move changes them."""
    return torch.rand(n, channels, size, size, generator=seeded(123))


def test_names_cover_every_augmentation():
    assert set(STRENGTHS) == set(AUGMENTATIONS)
    assert set(IMAGE_ONLY) == set(AUGMENTATIONS) - {"noise"}


def test_default_augmenter_is_inactive_and_returns_an_equal_copy():
    augment = Augmenter()
    x = images()

    out = augment(x, seeded())

    assert not augment.active
    assert torch.equal(out, x)
    assert out.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_each_augmentation_changes_the_batch_but_not_its_input(name):
    augment = Augmenter(**{name: STRENGTHS[name]})
    x = images().double()
    original = x.clone()

    out = augment(x, seeded())

    assert augment.active
    assert out.shape == x.shape
    assert out.dtype == x.dtype
    assert not torch.equal(out, x)
    assert torch.equal(x, original)


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_zero_strength_is_identity(name):
    x = images()

    assert torch.equal(Augmenter(**{name: 0})(x, seeded()), x)


def test_same_seed_same_output_and_different_seed_different_output():
    augment = Augmenter(**STRENGTHS)
    x = images()
    original = x.clone()

    first = augment(x, seeded(1))

    assert torch.equal(augment(x, seeded(1)), first)
    assert not torch.equal(augment(x, seeded(2)), first)
    assert torch.equal(x, original)


@pytest.mark.parametrize(("name", "dim"), [("hflip", -1), ("vflip", -2)])
def test_flip_with_probability_one_flips_every_sample(name, dim):
    x = images()

    assert torch.equal(Augmenter(**{name: 1.0})(x, seeded()), x.flip(dim))


@pytest.mark.parametrize("name", ["hflip", "vflip"])
def test_flip_with_probability_half_flips_some_samples(name):
    x = images(n=64)
    dim = -1 if name == "hflip" else -2

    out = Augmenter(**{name: 0.5})(x, seeded())

    flipped = [torch.equal(o, s.flip(dim)) for o, s in zip(out, x)]
    assert all(f or torch.equal(o, s) for f, o, s in zip(flipped, out, x))
    assert 10 < sum(flipped) < 54


def test_noise_has_the_requested_standard_deviation_and_works_on_vectors():
    x = torch.zeros(1000, 200)

    out = Augmenter(noise=0.3)(x, seeded())

    assert out.std().item() == pytest.approx(0.3, rel=0.05)
    assert abs(out.mean().item()) < 0.01


def test_erasing_zeroes_one_rectangle_of_bounded_area_in_every_sample():
    x = torch.ones(64, 3, 32, 32)

    out = Augmenter(erasing=1.0)(x, seeded())

    for sample in out:
        zero = sample == 0
        assert torch.equal(zero, zero[:1].expand_as(zero)), "every channel is erased alike"
        rows = zero[0].any(dim=1).nonzero().flatten()
        cols = zero[0].any(dim=0).nonzero().flatten()
        box = torch.zeros_like(zero[0])
        box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
        assert torch.equal(zero[0], box), "the erased region is one rectangle"
        assert 0.02 <= zero[0].float().mean().item() <= 0.33


def test_crop_padding_gives_a_translated_window_of_the_padded_image():
    padding = 2
    x = torch.arange(1.0, 5 * 16 * 16 + 1).view(5, 1, 16, 16)  # unique, non-zero pixels

    out = Augmenter(crop_padding=padding)(x, seeded())

    offsets = range(2 * padding + 1)
    for sample, crop in zip(x, out):
        padded = F.pad(sample, (padding,) * 4)
        windows = [padded[:, i : i + 16, j : j + 16] for i in offsets for j in offsets]
        assert sum(torch.equal(crop, window) for window in windows) == 1


def test_rotation_changes_images():
    x = images()

    assert not torch.equal(Augmenter(rotation=90)(x, seeded()), x)


def test_rotation_of_non_square_images_keeps_distances_to_the_centre():
    x = torch.zeros(16, 1, 21, 41)
    x[:, :, 9:12, 25:28] = 1.0  # a blob 6 pixels right of the centre (10, 20)

    out = Augmenter(rotation=90)(x, seeded())

    rows = torch.arange(21.0).view(1, 21, 1) - 10
    cols = torch.arange(41.0).view(1, 1, 41) - 20
    mass = out[:, 0]
    weight = mass.sum(dim=(1, 2))
    centroid_row = (mass * rows).sum(dim=(1, 2)) / weight
    centroid_col = (mass * cols).sum(dim=(1, 2)) / weight
    distance = torch.hypot(centroid_row, centroid_col)
    assert torch.allclose(distance, torch.full_like(distance, 6.0), atol=0.25)
    assert centroid_row.abs().max() > 3, "some sample is rotated well away from the row"


def test_boundary_values_are_accepted():
    augment = Augmenter(
        hflip=1, vflip=0, rotation=180, shift=0.99, scale=0.99, crop_padding=4, noise=5, erasing=1
    )

    assert augment.active


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hflip", -0.1),
        ("hflip", 1.5),
        ("hflip", math.nan),
        ("hflip", True),
        ("hflip", "0.5"),
        ("vflip", 2),
        ("vflip", None),
        ("rotation", -1),
        ("rotation", 181),
        ("rotation", math.inf),
        ("shift", 1.0),
        ("shift", -0.1),
        ("scale", 1.0),
        ("scale", math.nan),
        ("noise", -0.1),
        ("noise", math.inf),
        ("noise", False),
        ("erasing", 1.01),
        ("erasing", "high"),
        ("crop_padding", -1),
        ("crop_padding", 2.0),
        ("crop_padding", True),
        ("crop_padding", "4"),
    ],
)
def test_bad_values_are_refused_naming_the_field(name, value):
    with pytest.raises(ConfigError) as error:
        Augmenter(**{name: value})

    assert error.value.field == f"augment.{name}"
    assert name in str(error.value)
    assert repr(value) in str(error.value)


@pytest.mark.parametrize("name", IMAGE_ONLY)
def test_image_only_augmentations_refuse_vector_input(name):
    augment = Augmenter(**{name: STRENGTHS[name]})

    with pytest.raises(ConfigError, match=name) as error:
        augment.check_input_shape((64,))
    assert error.value.field == f"augment.{name}"
    assert "(C, H, W)" in str(error.value)
    with pytest.raises(ConfigError, match=name):
        augment(torch.zeros(4, 64), seeded())


def test_input_shape_check_passes_noise_on_vectors_and_everything_on_images():
    Augmenter(noise=0.1, hflip=0).check_input_shape((64,))
    Augmenter(**STRENGTHS).check_input_shape((3, 16, 16))
