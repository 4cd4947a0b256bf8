"""The dashboard's writes: stop a study, prune a running trial, enqueue a configuration, note.

Each goes through :mod:`tunelab.study.steering`, the API that a running ``optimize`` in any
process reads back, so the dashboard writes nothing of its own to the storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from tunelab.exceptions import ConfigError, TunelabError
from tunelab.study import Study


class SteeringUnavailableError(TunelabError):
    """This tunelab has no steering API: the dashboard can only watch."""


def _steering() -> ModuleType:
    try:
        import tunelab.study.steering as steering
    except ImportError:
        raise SteeringUnavailableError(
            "this version of tunelab cannot steer a running study (no tunelab.study.steering); "
            "the dashboard shows the study but cannot change it."
        ) from None
    return steering


def available() -> bool:
    try:
        _steering()
    except SteeringUnavailableError:
        return False
    return True


def notes(study: Study) -> Mapping[int | None, str]:
    """The notes on the study (key None) and on its trials; none without steering."""
    try:
        found: Mapping[int | None, str] = _steering().notes(study)
    except SteeringUnavailableError:
        return {}
    return found


def stop(study: Study) -> None:
    _steering().request_stop(study)


def prune(study: Study, number: int) -> None:
    _steering().request_prune(study, number)


def enqueue(study: Study, params: Any) -> int:
    if not isinstance(params, Mapping):
        raise ConfigError(
            "params: give the configuration as an object of parameter values.", field="params"
        )
    return int(_steering().enqueue_checked(study, params))


def note(study: Study, text: Any, number: Any) -> None:
    if not isinstance(text, str):
        raise ConfigError("text: give the note as a string.", field="text")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        raise ConfigError("trial: give a trial's number, or null for the study.", field="trial")
    _steering().set_note(study, text, number)
