"""The dashboard's writes: stop a study, prune a running trial, enqueue a configuration, note.

Each goes through :mod:`tunelab.study.steering`, the API that a running ``optimize`` in any
process reads back, so the dashboard writes nothing of its own to the storage; here the JSON a
page sends is checked for shape before it gets there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunelab.exceptions import ConfigError
from tunelab.study import Study, steering


def enqueue(study: Study, params: Any) -> int:
    if not isinstance(params, Mapping):
        raise ConfigError(
            "params: give the configuration as an object of parameter values.", field="params"
        )
    return steering.enqueue_checked(study, params)


def note(study: Study, text: Any, number: Any) -> None:
    if not isinstance(text, str):
        raise ConfigError("text: give the note as a string.", field="text")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        raise ConfigError("trial: give a trial's number, or null for the study.", field="trial")
    steering.set_note(study, text, number)
