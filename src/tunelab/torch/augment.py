"""Random data augmentation applied to whole batches of in-memory tensors.

Training data live in memory as tensors (see :mod:`tunelab.torch.data`), so augmentation works
on a batch at once instead of per sample in a data loader. Every random number comes from the
generator the caller passes, so that a trial seeded the same way sees the same augmented
batches and two trials differ only by their hyperparameters. Strengths are validated when an
:class:`Augmenter` is built, so that a bad value in a study file fails before training starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import NamedTuple

from torch.nn import functional as F

import torch
from tunelab.exceptions import ConfigError

AUGMENTATIONS: tuple[str, ...] = (
    "hflip",
    "vflip",
    "rotation",
    "shift",
    "scale",
    "crop_padding",
    "noise",
    "erasing",
)
IMAGE_ONLY: tuple[str, ...] = tuple(name for name in AUGMENTATIONS if name != "noise")

# Random erasing draws the rectangle's share of the image area and its height/width ratio
# from these ranges, the usual ones for this augmentation.
_ERASING_AREA = (0.02, 0.33)
_ERASING_RATIO = (0.3, 3.3)


class _Bounds(NamedTuple):
    """The accepted range [0, high] (or [0, high)) of a strength, and how to explain it."""

    high: float
    high_included: bool
    meaning: str
    example: str


_STRENGTH_BOUNDS: dict[str, _Bounds] = {
    "hflip": _Bounds(1.0, True, "a probability in [0, 1]", "0.5"),
    "vflip": _Bounds(1.0, True, "a probability in [0, 1]", "0.5"),
    "rotation": _Bounds(180.0, True, "a maximum angle in degrees in [0, 180]", "15"),
    "shift": _Bounds(1.0, False, "a fraction of the image size in [0, 1)", "0.1"),
    "scale": _Bounds(1.0, False, "a relative zoom in [0, 1)", "0.1"),
    "noise": _Bounds(math.inf, False, "a finite standard deviation >= 0", "0.1"),
    "erasing": _Bounds(1.0, True, "a probability in [0, 1]", "0.25"),
}


@dataclass(frozen=True, kw_only=True)
class Augmenter:
    """Random augmentations of a batch, each off at its default strength of 0.

    ``hflip``, ``vflip`` and ``erasing`` are per-sample probabilities; ``rotation`` is the
    maximum angle in degrees, ``shift`` the maximum translation as a fraction of the image size
    and ``scale`` the maximum relative zoom; ``crop_padding`` is the padding in pixels of a
    random crop and ``noise`` the standard deviation of additive Gaussian noise. All but
    ``noise`` need image batches (N, C, H, W). They apply in the order flips, affine
    (rotation, shift and scale in one resampling), crop, erasing, noise. Frozen so that the
    strengths stay validated.
    """

    hflip: float = 0.0
    vflip: float = 0.0
    rotation: float = 0.0
    shift: float = 0.0
    scale: float = 0.0
    crop_padding: int = 0
    noise: float = 0.0
    erasing: float = 0.0

    def __post_init__(self) -> None:
        for name, bounds in _STRENGTH_BOUNDS.items():
            _check_strength(name, getattr(self, name), bounds)
        _check_crop_padding(self.crop_padding)

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return any(getattr(self, name) != 0 for name in AUGMENTATIONS)

    def check_input_shape(self, sample_shape: tuple[int, ...]) -> None:
        """Refuse image-only augmentations for samples that are not images (C, H, W).

        ``sample_shape`` excludes the batch dimension. Calling this once before training turns
        a shape error deep inside a training step into a message about the faulty option.
        """
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
        isinstance(value, Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
        and (value <= bounds.high if bounds.high_included else value < bounds.high)
    )
    if not valid:
        raise ConfigError(
            f"{name} must be {bounds.meaning}, got {value!r}; use e.g. {bounds.example}.",
            field=f"augment.{name}",
        )


def _check_crop_padding(value: object) -> None:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            f"crop_padding must be a whole number of pixels >= 0, got {value!r}; use e.g. 4.",
            field="augment.crop_padding",
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
    grid = F.affine_grid(theta, x.shape, align_corners=False)
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
