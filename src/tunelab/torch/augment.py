"""Random data augmentation applied to whole batches of in-memory tensors.

Training data live in memory as tensors (see :mod:`tunelab.torch.data`), so augmentation works
on a batch at once instead of per sample in a data loader. Every random number comes from the
generator the caller passes, so that a trial seeded the same way sees the same augmented
batches and two trials differ only by their hyperparameters. Strengths are validated when an
:class:`Augmenter` is built, so that a bad value in a study file fails before training starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from typing import Any, NamedTuple

import torch
from torch.nn import functional as F

from tunelab.exceptions import ConfigError

# Random erasing draws the rectangle's share of the image area and its height/width ratio
# from these ranges, the usual ones for this augmentation.
_ERASING_AREA = (0.02, 0.33)
_ERASING_RATIO = (0.3, 3.3)

# The key under which a strength field's metadata holds its bounds.
_BOUNDS = "bounds"
_PROBABILITY = "a probability in [0, 1]"


class _Bounds(NamedTuple):
    """The accepted range [0, high] (or [0, high)) of a strength, how to explain it, whether it
    is a whole number and whether it needs image input."""

    high: float
    high_included: bool
    meaning: str
    example: str
    integer: bool
    image_only: bool


def _strength(
    meaning: str,
    example: str,
    high: float = 1.0,
    *,
    high_included: bool = True,
    integer: bool = False,
    image_only: bool = True,
) -> Any:
    """A strength field, off by default, that carries the range its value is checked against."""
    bounds = _Bounds(high, high_included, meaning, example, integer, image_only)
    return field(default=0 if integer else 0.0, metadata={_BOUNDS: bounds})


@dataclass(frozen=True, kw_only=True)
class AugmentationStrengths:
    """How strongly each augmentation applies; 0, the default, switches it off.

    The one declaration of the augmentations: :class:`Augmenter` applies them and the training
    recipe offers each as a field of its own, so a new augmentation is declared here once.
    ``hflip``, ``vflip`` and ``erasing`` are per-sample probabilities; ``rotation`` is the
    maximum angle in degrees, ``shift`` the maximum translation as a fraction of the image size
    and ``scale`` the maximum relative zoom; ``crop_padding`` is the padding in pixels of a
    random crop and ``noise`` the standard deviation of additive Gaussian noise. All but
    ``noise`` need image batches (N, C, H, W).
    """

    hflip: float = _strength(_PROBABILITY, "0.5")
    vflip: float = _strength(_PROBABILITY, "0.5")
    rotation: float = _strength("a maximum angle in degrees in [0, 180]", "15", 180.0)
    shift: float = _strength("a fraction of the image size in [0, 1)", "0.1", high_included=False)
    scale: float = _strength("a relative zoom in [0, 1)", "0.1", high_included=False)
    crop_padding: int = _strength("a whole number of pixels >= 0", "4", math.inf, integer=True)
    noise: float = _strength("a finite standard deviation >= 0", "0.1", math.inf,
                             high_included=False, image_only=False)
    erasing: float = _strength(_PROBABILITY, "0.25")


AUGMENTATIONS: tuple[str, ...] = tuple(f.name for f in fields(AugmentationStrengths))
IMAGE_ONLY: tuple[str, ...] = tuple(
    f.name for f in fields(AugmentationStrengths) if f.metadata[_BOUNDS].image_only
)


def check_strengths(strengths: AugmentationStrengths) -> None:
    """Refuse a strength outside its range, naming the field ``augment.<name>`` and the fix."""
    for strength in fields(AugmentationStrengths):
        _check_strength(strength.name, getattr(strengths, strength.name),
                        strength.metadata[_BOUNDS])


@dataclass(frozen=True, kw_only=True)
class Augmenter(AugmentationStrengths):
    """Random augmentations of a batch, at the strengths of :class:`AugmentationStrengths`.

    They apply in the order flips, affine (rotation, shift and scale in one resampling), crop,
    erasing, noise. Frozen so that the strengths stay validated.
    """

    def __post_init__(self) -> None:
        check_strengths(self)

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return any(getattr(self, name) != 0 for name in AUGMENTATIONS)

    def check_input_shape(self, sample_shape: tuple[int, ...], token_ids: bool = False) -> None:
        """Refuse image-only augmentations for samples that are not images (C, H, W), and
        every augmentation for ``token_ids``, which are indices that no noise may move.

        ``sample_shape`` excludes the batch dimension. Calling this once before training turns
        a shape error deep inside a training step into a message about the faulty option.
        """
        if token_ids and self.active:
            name = next(name for name in AUGMENTATIONS if getattr(self, name) != 0)
            raise ConfigError(
                f"{name} changes the inputs' values, but the samples are token ids (text), "
                f"indices into a vocabulary; set {name} to 0.",
                field=f"augment.{name}",
            )
        if len(sample_shape) == 3:
            return
        for name in IMAGE_ONLY:
            if getattr(self, name) != 0:
                raise ConfigError(
                    f"{name} needs image input (C, H, W), but the samples have shape "
                    f"{tuple(sample_shape)}; set {name} to 0 for vector data.",
                    field=f"augment.{name}",
                )

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A randomly augmented copy of the floating-point batch ``x``; ``x`` is left as it is.

        Random numbers are drawn from the CPU ``generator`` and moved to ``x.device``, so the
        same seed gives the same batch whatever the device.
        """
        if not self.active:
            return x.clone()
        self.check_input_shape(tuple(x.shape[1:]))
        if self.hflip:
            x = _random_flip(x, self.hflip, -1, generator)
        if self.vflip:
            x = _random_flip(x, self.vflip, -2, generator)
        if self.rotation or self.shift or self.scale:
            x = _random_affine(x, self.rotation, self.shift, self.scale, generator)
        if self.crop_padding:
            x = _random_crop(x, self.crop_padding, generator)
        if self.erasing:
            x = _random_erase(x, self.erasing, generator)
        if self.noise:
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            x = x + self.noise * noise.to(x.device)
        return x


def _check_strength(name: str, value: object, bounds: _Bounds) -> None:
    # bool is a Real to Python, but True as a strength is surely a mistake.
    valid = (
        isinstance(value, Integral if bounds.integer else Real)
        and not isinstance(value, bool)
        and (bounds.integer or math.isfinite(value))
        # typeshed's numbers.Real declares < and <= only, not >=.
        and value >= 0  # type: ignore[operator]
        and (value <= bounds.high if bounds.high_included else value < bounds.high)
    )
    if not valid:
        raise ConfigError(
            f"{name} must be {bounds.meaning}, got {value!r}; use e.g. {bounds.example}.",
            field=f"augment.{name}",
        )


def _uniform(
    shape: tuple[int, ...], low: float, high: float, gen: torch.Generator
) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=gen)


def _random_flip(x: torch.Tensor, p: float, dim: int, gen: torch.Generator) -> torch.Tensor:
    flip = (torch.rand(len(x), generator=gen) < p).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(dim), x)


def _random_affine(
    x: torch.Tensor, rotation: float, shift: float, scale: float, gen: torch.Generator
) -> torch.Tensor:
    """Rotate, translate and zoom each image in one resampling, which blurs only once."""
    n, _, height, width = x.shape
    angle = torch.deg2rad(_uniform((n,), -rotation, rotation, gen))
    zoom = _uniform((n,), 1.0 - scale, 1.0 + scale, gen)
    offset = _uniform((n, 2), -shift, shift, gen)
    # theta maps output to input coordinates: sampling a region shrunk by the zoom enlarges
    # the content.
    cos, sin = angle.cos() / zoom, angle.sin() / zoom
    # Coordinates are normalized to [-1, 1] on each axis: a non-square image needs the aspect
    # ratio to rotate without shearing, and a shift by a fraction f of the size is 2f.
    aspect = height / width
    theta = torch.stack(
        [
            torch.stack([cos, -sin * aspect, 2 * offset[:, 0]], dim=1),
            torch.stack([sin / aspect, cos, 2 * offset[:, 1]], dim=1),
        ],
        dim=1,
    ).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _random_crop(x: torch.Tensor, padding: int, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad by ``padding`` on each side, then crop back to the original size at random."""
    n, _, height, width = x.shape
    top, left = torch.randint(0, 2 * padding + 1, (2, n, 1), generator=gen).to(x.device)
    rows = top + torch.arange(height, device=x.device)
    cols = left + torch.arange(width, device=x.device)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    padded = F.pad(x, (padding,) * 4)
    # Advanced indices split by a slice put their broadcast shape first: (N, H, W, C).
    window = padded[batch, :, rows[:, :, None], cols[:, None, :]]
    return window.permute(0, 3, 1, 2)


def _random_erase(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Zero a random rectangle, across all channels, in each sample chosen with probability p."""
    n, _, height, width = x.shape
    chosen = (torch.rand(n, generator=gen) < p).to(x.device)
    boxes = torch.stack(_random_boxes(n, height, width, gen)).to(x.device)
    top, left, box_height, box_width = boxes
    in_rows = _span(top, box_height, height)
    in_cols = _span(left, box_width, width)
    erase = in_rows[:, :, None] & in_cols[:, None, :] & chosen[:, None, None]
    return x.masked_fill(erase[:, None], 0)


def _random_boxes(
    n: int, height: int, width: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top, left, height and width of one rectangle per sample that fits inside the image."""
    pixels = height * width
    area = pixels * _uniform((n,), *_ERASING_AREA, gen)
    # A log-uniform ratio makes tall and wide rectangles equally likely.
    min_ratio, max_ratio = _ERASING_RATIO
    ratio = _uniform((n,), math.log(min_ratio), math.log(max_ratio), gen).exp()
    box_height = (area * ratio).sqrt().round().clamp(1, height)
    # Fitting the width to the rounded height keeps the pixel count inside the area range.
    min_width = (_ERASING_AREA[0] * pixels / box_height).ceil()
    max_width = (_ERASING_AREA[1] * pixels / box_height).floor().clamp(max=width)
    box_width = (area / box_height).round().clamp(min_width, max_width)
    top = (torch.rand(n, generator=gen) * (height - box_height + 1)).floor()
    left = (torch.rand(n, generator=gen) * (width - box_width + 1)).floor()
    return top, left, box_height, box_width


def _span(start: torch.Tensor, length: torch.Tensor, size: int) -> torch.Tensor:
    """(N, size) mask of the positions in [start, start + length) along one axis."""
    positions = torch.arange(size, device=start.device)
    return (positions >= start[:, None]) & (positions < (start + length)[:, None])
