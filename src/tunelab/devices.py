"""Devices given to worker processes: which names are devices, and how a worker learns its own.

A worker process is given its device through its environment, set before it starts, so that
libraries that allocate on the default GPU stay on the one it was given. The training engine
reads it back (recipe ``device: auto``); the timeline figure reads what each trial recorded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from tunelab.exceptions import ConfigError

DEVICE_VARIABLE = "TUNELAB_DEVICE"  # what recipe device "auto" means in a worker
_DEVICE_KINDS = ("cpu", "cuda", "mps")


def check_devices(devices: Sequence[str]) -> list[str]:
    """``devices`` as given, each checked to be ``cpu``, ``mps``, ``cuda`` or ``cuda:N``."""
    if isinstance(devices, str) or not devices:
        raise ConfigError(
            f"devices={devices!r} must be a non-empty list such as ['cuda:0', 'cuda:1'].",
            field="devices",
        )
    for device in devices:
        kind, _, index = str(device).partition(":")
        if kind not in _DEVICE_KINDS or (index and (kind != "cuda" or not index.isdigit())):
            raise ConfigError(
                f"devices: {device!r} is not a device; use cpu, mps, cuda or cuda:N.",
                field="devices",
            )
    return list(devices)


def device_environment(device: str | None) -> dict[str, str]:
    """Environment variables that give a worker process its device: ``cuda:N`` shows the
    process only GPU N (so that libraries allocating on the default GPU stay on it)."""
    if device is None:
        return {}
    kind, _, index = device.partition(":")
    if kind == "cuda" and index:
        return {"CUDA_VISIBLE_DEVICES": index, DEVICE_VARIABLE: "cuda"}
    return {DEVICE_VARIABLE: device}


def assigned_device() -> str | None:
    """The device this worker process was given, if any."""
    return os.environ.get(DEVICE_VARIABLE)
