"""A new domain from an image data set: turned by quarter turns, or with its contrast inverted.

Transfer learning is tried and measured on a domain shift: pre-train on the data as it is,
fine-tune on the same kind of data shifted (``rotate: 90``, ``invert: true``). The shift is a
fixed function of the pixels, the same for every image and every part of the split: it changes
the domain but tells nothing of the labels or of the validation part.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunelab.torch.data.base import Source, is_integer, option_error

DOMAIN_OPTIONS: dict[str, Any] = {"rotate": 0, "invert": False}
QUARTER_TURNS = (0, 90, 180, 270)


def check_domain_options(options: Mapping[str, Any]) -> None:
    rotate, invert = options["rotate"], options["invert"]
    if not is_integer(rotate) or rotate not in QUARTER_TURNS:
        raise option_error("rotate", f"must be one of {', '.join(map(str, QUARTER_TURNS))} "
                           f"(degrees, counter-clockwise), got {rotate!r}.")
    if not isinstance(invert, bool):
        raise option_error("invert", f"must be true or false, got {invert!r}.")


def shift_domain(source: Source, options: Mapping[str, Any]) -> Source:
    """The source's images turned by ``rotate`` degrees counter-clockwise, then, with
    ``invert``, each value ``v`` replaced by ``low + high - v`` (``low`` and ``high`` the
    smallest and largest value in the data: dark strokes on a light ground become light on
    dark, and the range stays the same)."""
    rotate, invert = options["rotate"], options["invert"]
    if not rotate and not invert:
        return source
    if source.x.ndim != 4:
        option = "rotate" if rotate else "invert"
        raise option_error(option, f"applies to images of shape (N, C, H, W), but this data's "
                           f"features have shape {source.x.shape}; use an image source such as "
                           f"digits_images or image_folder, or remove {option}.")
    x = np.rot90(source.x, k=rotate // 90, axes=(2, 3)) if rotate else source.x
    if invert:
        x = x.min() + x.max() - x
    return dataclasses.replace(source, x=np.ascontiguousarray(x, dtype=np.float32))
